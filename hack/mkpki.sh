#!/usr/bin/env bash
# mkpki.sh DIR: the single-node cluster's PKI and kubeconfigs, written into DIR.
# Two CAs (cluster, front-proxy), one ECDSA P-256 cert per identity, an RSA service-account key.
# The node name and IP are fixed (lib.sh), so cluster-up.sh caches DIR and reuses it while the
# certificates stay valid. Kubeconfigs are written directly rather than with kubectl, so this
# step needs nothing but openssl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
dir=$1
days=3650
api=https://$NODE_IP:6443

mkdir -p "$dir"
cd "$dir"
umask 077

newkey() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"; }

# mkca NAME CN: a self-signed CA that may only sign certificates.
mkca() {
    newkey "$1"
    openssl req -x509 -new -sha256 -key "$1.key" -subj "/CN=$2" -days "$days" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$1.crt"
}

# mkcert NAME CA SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]: a leaf signed by CA.
# The O= of SUBJECT is the Kubernetes group, the CN the user name.
mkcert() {
    local name=$1 ca=$2 subj=$3 eku=$4 san=${5:-}
    newkey "$name"
    openssl req -new -sha256 -key "$name.key" -subj "$subj" -out "$name.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$eku"
        if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
    } > "$name.ext"
    openssl x509 -req -sha256 -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
        -days "$days" -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

# mkkubeconfig WHO: a kubeconfig with everything embedded, so it can be copied anywhere.
mkkubeconfig() {
    local who=$1
    cat > "$who.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: lc
  cluster:
    server: $api
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $who
  user:
    client-certificate-data: $(base64 -w0 "$who.crt")
    client-key-data: $(base64 -w0 "$who.key")
contexts:
- name: lc
  context: {cluster: lc, user: $who}
current-context: lc
KC
}

mkca ca kubernetes-ca
mkca front-proxy-ca front-proxy-ca
# The apiserver is reached as 10.240.0.1 from the host, as 10.96.0.1 (the kubernetes Service)
# and by the kubernetes.default.svc names from pods.
mkcert apiserver ca "/CN=kube-apiserver" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$SVC_API_IP,IP:$NODE_IP"
mkcert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
mkcert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
mkcert admin ca "/O=system:masters/CN=kubernetes-admin" clientAuth
mkcert controller-manager ca "/CN=system:kube-controller-manager" clientAuth
mkcert scheduler ca "/CN=system:kube-scheduler" clientAuth
mkcert kube-proxy ca "/CN=system:kube-proxy" clientAuth
# kubelet's client identity is what the Node authorizer keys on: system:node:<name> in system:nodes
mkcert kubelet-client ca "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
mkcert kubelet-serving ca "/O=system:nodes/CN=system:node:$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$NODE_IP"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
for who in admin controller-manager scheduler kube-proxy kubelet-client; do
    mkkubeconfig "$who"
done
rm -f ./*.srl
