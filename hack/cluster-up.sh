#!/usr/bin/env bash
# cluster-up.sh: bring up the single-node Kubernetes cluster the e2e tests run against.
#
# On a fresh machine it installs the Debian packages it needs, builds (or reuses) the pinned
# binaries in $LC_CACHE, then starts, in order: the local registry and the stand-in images,
# a dedicated containerd, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy and local-path-provisioner (the default StorageClass). Every wait is bounded; a
# failure names the component, its log and the log's last lines.
#
# Re-running it on a running cluster is harmless: live components are left alone and dead ones
# restarted. If etcd itself is gone the leftovers are torn down first, since a control plane
# cannot be glued onto an empty etcd. Everything it starts is recorded in /run/lc/*.pid, which is
# what cluster-down.sh stops. How it works and why: docs/cluster.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
LC_PROG=cluster-up

T0=$(date +%s)
mark() { lc_say "$(printf '%4ss' $(($(date +%s) - T0))) $*"; }

# fail COMPONENT WHAT: the one way a start fails, with the log that explains it.
fail() {
    lc_say "error: $1: $2 (log: $LC_LOG/$1.log)"
    show_log "$1" 40
    exit 1
}

[ "$(id -u)" = 0 ] || lc_die "must run as root (it configures addresses, iptables and mounts)"
[ "$GOV" != nogo ] || lc_die "no Go toolchain (expected at /usr/local/go/bin/go); it builds the pinned binaries"
lc_lock

# ---- 1. Debian packages -------------------------------------------------------------------
# Installed only when missing. policy-rc.d keeps postinst scripts from starting the packaged
# containerd and docker-registry services (the latter would listen on all interfaces).
DEB_PACKAGES=(containerd runc containernetworking-plugins iptables docker-registry skopeo
    busybox-static debootstrap conntrack jq curl openssl gcc libc6-dev iproute2 util-linux)
install_packages() {
    local missing=() p added_policy=0
    for p in "${DEB_PACKAGES[@]}"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    mark "installing ${missing[*]}"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > "$LC_LOG/apt.log" 2>&1 ||
        { tail -20 "$LC_LOG/apt.log" >&2; lc_die "apt-get install failed (log: $LC_LOG/apt.log)"; }
    [ $added_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
}

# ---- 2. preflight -------------------------------------------------------------------------
# Refuse to start if the cluster's ranges collide with anything the host routes or resolves
# through: pods would then shadow real destinations. Our own routes (cni0, 10.240.0.1 on lo) are
# recognised and allowed, so a re-run passes.
preflight() {
    local net
    for net in 10.244.0.1 10.96.0.1 $NODE_IP; do
        if ip -4 route show to match "$net" | grep -v -E '^default|dev (cni0|lo)( |$)' > /dev/null; then
            lc_die "address range of $net overlaps a host route: $(ip -4 route show to match "$net" | grep -v '^default')"
        fi
    done
    if awk '/^nameserver/{print $2}' /etc/resolv.conf | grep -qE '^10\.(244|96|240)\.'; then
        lc_die "the host resolver is inside the cluster's address ranges"
    fi
    [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
        lc_die "no usable cgroup hierarchy under /sys/fs/cgroup"
}

# ---- 3. host preparation ------------------------------------------------------------------
SYSCTLS_SAVED="net.ipv4.ip_forward kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom fs.inotify.max_user_instances fs.inotify.max_user_watches"
prepare_host() {
    mkdir -p "$LC_RUN" "$LC_LOG" "$LC_ETC" "$PKI" "$LC_STATE/bin" "$LC_STATE/local-path" \
        "$KUBELET_ROOT" /var/log/pods
    # Record what we change once, before the first change, so cluster-down.sh can restore it.
    if [ ! -f "$LC_RUN/host.orig" ]; then
        {
            for s in $SYSCTLS_SAVED; do echo "sysctl $s=$(sysctl -n "$s")"; done
            echo "propagation $(findmnt -no PROPAGATION /)"
        } > "$LC_RUN/host.orig"
    fi
    # (no `| grep -q` on a live producer here: with pipefail its SIGPIPE reads as "absent")
    [ -n "$(ip -4 -o addr show dev lo to "$NODE_IP/32")" ] || ip addr add "$NODE_IP/32" dev lo
    sysctl -qw net.ipv4.ip_forward=1
    sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 2>/dev/null ||
        lc_say "warning: cannot set bridge-nf-call-iptables (br_netfilter missing?); service NAT on cni0 may fail"
    # kubelet and controllers watch many files; the default of 128 instances is too low
    sysctl -qw fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288
    # kubelet needs / shared for Bidirectional/HostToContainer mount propagation
    [ "$(findmnt -no PROPAGATION /)" = shared ] || mount --make-rshared /
    # Keep pod traffic inside the machine: anything routed from the pod bridge to another
    # interface is refused. Pod-to-pod, pod-to-node and Service traffic never take this path.
    iptables -C FORWARD -i cni0 ! -o cni0 -j REJECT 2>/dev/null ||
        iptables -I FORWARD 1 -i cni0 ! -o cni0 -j REJECT
    # And of the machine itself, pods may open connections only to the node-IP ports listed in
    # POD_HOST_TCP_PORTS (the API server: Service traffic arrives DNATed to 10.240.0.1:6443; the
    # read-only registry; the demo's services): whatever else listens on the host's addresses
    # (kubelet, the VM's own agents) stays out of their reach. Rebuilt only when the list changed.
    local ports want
    ports=$(echo "$POD_HOST_TCP_PORTS" | tr ' ' ',')
    want="-N LC-POD-INPUT
-A LC-POD-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A LC-POD-INPUT -d $NODE_IP/32 -p tcp -m multiport --dports $ports -j ACCEPT
-A LC-POD-INPUT -p icmp -j ACCEPT
-A LC-POD-INPUT -j REJECT --reject-with icmp-port-unreachable"
    if [ "$(iptables -S LC-POD-INPUT 2>/dev/null)" != "$want" ]; then
        iptables -N LC-POD-INPUT 2>/dev/null || iptables -F LC-POD-INPUT
        iptables -A LC-POD-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        iptables -A LC-POD-INPUT -d "$NODE_IP/32" -p tcp -m multiport --dports "$ports" -j ACCEPT
        iptables -A LC-POD-INPUT -p icmp -j ACCEPT
        iptables -A LC-POD-INPUT -j REJECT
    fi
    iptables -C INPUT -i cni0 -j LC-POD-INPUT 2>/dev/null || iptables -I INPUT 1 -i cni0 -j LC-POD-INPUT
}

# ---- 4. configuration files ---------------------------------------------------------------
# put FILE: write stdin to FILE only if it differs. kube-proxy exits when its config file
# changes, so a re-run must leave unchanged files untouched.
put() {
    local t
    t=$(mktemp "$1.XXXXXX")
    cat > "$t"
    if cmp -s "$t" "$1"; then rm -f "$t"; else chmod 644 "$t" && mv "$t" "$1"; fi
}

write_configs() {
    local r
    mkdir -p "$LC_ETC/cni/net.d" "$LC_ETC/containerd/certs.d/_default"

    # The local registry: loopback only, no auth, storage in the cache so pushes survive.
    # A second, read-only instance on the node IP serves the same storage to pods (a controller
    # reading image configs from inside the cluster); nothing outside the machine reaches it.
    put "$LC_ETC/registry-node.yml" <<EOF
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $LC_CACHE/registry}
  maintenance: {readonly: {enabled: true}}
  cache: {blobdescriptor: inmemory}
http:
  addr: $NODE_IP:5000
  headers: {X-Content-Type-Options: [nosniff]}
EOF
    put "$LC_ETC/registry.yml" <<EOF
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $LC_CACHE/registry}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
http:
  addr: $REGISTRY
  headers: {X-Content-Type-Options: [nosniff]}
EOF

    # A containerd of our own (socket, root, state, runc root): a host containerd, if any, is
    # never touched. restrict_oom_score_adj: root lacks CAP_SYS_RESOURCE here, so the negative
    # oom_score_adj containerd gives sandboxes would make runc fail.
    put "$LC_ETC/containerd.toml" <<EOF
version = 2
root = "$CTRD_ROOT"
state = "$CTRD_STATE"

[grpc]
  address = "$CTRD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD_ROOT/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CTRD_STATE/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$LC_ETC/cni/net.d"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$LC_ETC/containerd/certs.d"
EOF

    # Every upstream registry resolves to the local one under its own prefix. containerd 1.6
    # ignores a hosts.toml without a [host] table and would go to the internet instead.
    for r in $MIRRORED_REGISTRIES; do
        mkdir -p "$LC_ETC/containerd/certs.d/$r"
        put "$LC_ETC/containerd/certs.d/$r/hosts.toml" <<EOF
# $r/<repo> is served by the local registry as $r/<repo>
server = "http://$REGISTRY/v2/$r"
override_path = true

[host."http://$REGISTRY/v2/$r"]
  capabilities = ["pull", "resolve"]
  override_path = true
EOF
    done
    # Any other name (127.0.0.1:5000/..., unknown registries) also goes to the local registry,
    # where it is simply not found: never a network attempt.
    put "$LC_ETC/containerd/certs.d/_default/hosts.toml" <<EOF
server = "http://$REGISTRY"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF

    # The pod network: a bridge on the node's /24, no masquerade (nothing is NATed out).
    put "$LC_ETC/cni/net.d/10-lc-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "lc-pod-network",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "${NODE_POD_CIDR%.0/24}.1"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

    put "$LC_ETC/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $PKI/scheduler.kubeconfig
leaderElection:
  leaderElect: false
EOF

    # kubelet on this VM: cgroup v1 (failCgroupV1 false), containerd 1.6 cannot report its cgroup
    # driver (so cgroupfs is stated), no CAP_SYS_RESOURCE (oomScoreAdj 0), hard NOFILE 20000,
    # a small disk (near-zero eviction thresholds), image GC off (stand-ins are local builds).
    put "$LC_ETC/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
rotateCertificates: false
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: cgroupfs
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
maxOpenFiles: $(ulimit -Hn)
protectKernelDefaults: false
clusterDomain: cluster.local
resolvConf: ""
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "100Mi"
  nodefs.inodesFree: "1000"
  imagefs.available: "100Mi"
  imagefs.inodesFree: "1000"
evictionPressureTransitionPeriod: 30s
runtimeRequestTimeout: 10m
containerLogMaxSize: 10Mi
containerLogMaxFiles: 3
maxPods: 110
EOF

    # kube-proxy: iptables mode, NodePorts only on the node IP, conntrack sysctls left alone.
    put "$LC_ETC/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $PKI/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
nodePortAddresses: ["primary"]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# ---- 5. PKI ---------------------------------------------------------------------------------
# Cached per node name and IP (they are fixed), regenerated when missing or within a day of
# expiry; copied, not linked, so cluster-down can remove /etc/kubernetes without touching it.
setup_pki() {
    local c=$LC_CACHE/pki-$NODE_NAME-$NODE_IP
    if [ ! -f "$c/admin.kubeconfig" ] || ! openssl x509 -checkend 86400 -noout -in "$c/apiserver.crt" > /dev/null 2>&1; then
        mark "generating PKI"
        rm -rf "$c.partial"
        "$here/mkpki.sh" "$c.partial" > "$LC_LOG/pki.log" 2>&1 || { cat "$LC_LOG/pki.log" >&2; lc_die "mkpki.sh failed"; }
        rm -rf "$c"
        mv "$c.partial" "$c"
    fi
    # Copy only when different: kubelet and the apiserver reload certificate files they watch,
    # and a file being rewritten in place is briefly empty.
    if ! diff -rq "$c" "$PKI" > /dev/null 2>&1; then
        cp -a "$c/." "$PKI/"
    fi
    cmp -s "$PKI/admin.kubeconfig" "$KUBECONFIG_ADMIN" || install -m 600 "$PKI/admin.kubeconfig" "$KUBECONFIG_ADMIN"
}

# ---- 6. processes -------------------------------------------------------------------------
# start NAME CMD...: start CMD in its own session (so it outlives the caller's job), log to
# $LC_LOG/NAME.log, record its PID. A live NAME is left alone: that is what makes re-runs safe.
start() {
    local n=$1
    shift
    if pid_alive "$n"; then
        return 0
    fi
    mark "starting $n"
    (exec_detached "$@") > "$LC_LOG/$n.log" 2>&1 < /dev/null &
    pid_record "$n" $!
}

# ready NAME SECONDS CMD...: bounded wait for CMD; fails naming NAME if it does not come up or
# its process dies meanwhile.
ready() {
    local n=$1 t=$2 i
    shift 2
    for ((i = 0; i < t; i++)); do
        "$@" > /dev/null 2>&1 && return 0
        pid_alive "$n" || fail "$n" "exited during start-up"
        sleep 1
    done
    fail "$n" "not ready after ${t}s ($*)"
}

KUBECTL() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
api_ok() { [ "$(curl -sf --cacert "$PKI/ca.crt" "https://$NODE_IP:6443/readyz")" = ok ]; }
health_tls() { [ "$(curl -sfk "https://127.0.0.1:$1/healthz")" = ok ]; }
node_ready() {
    [ "$(KUBECTL get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
proxy_ready() {
    curl -sf http://127.0.0.1:10256/healthz > /dev/null && iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -F -- "$SVC_API_IP" > /dev/null
}

start_runtime() {
    start registry docker-registry serve "$LC_ETC/registry.yml"
    ready registry 20 curl -sf "http://$REGISTRY/v2/"
    start registry-node docker-registry serve "$LC_ETC/registry-node.yml"
    ready registry-node 20 curl -sf "http://$NODE_IP:5000/v2/"
    mark "images"
    "$here/images.sh" > "$LC_LOG/images.log" 2>&1 || fail images "building or pushing the stand-in images failed"
    start containerd containerd --config "$LC_ETC/containerd.toml"
    ready containerd 30 ctr --address "$CTRD_SOCK" version
}

start_control_plane() {
    # etcd keeps no state across bring-ups (a test cluster is rebuilt, not recovered), which is
    # also why fsync is off: it saves much time on a VM disk.
    if ! pid_alive etcd; then rm -rf "$LC_STATE/etcd"; fi
    start etcd "$ETCD_BIN/etcd" --name lc --data-dir "$LC_STATE/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster lc=http://127.0.0.1:2380 --initial-cluster-state new \
        --listen-metrics-urls http://127.0.0.1:2381 --watch-progress-notify-interval 5s \
        --quota-backend-bytes 2147483648 --snapshot-count 10000 --unsafe-no-fsync
    ready etcd 30 curl -sf http://127.0.0.1:2379/readyz

    start kube-apiserver "$K8S_BIN/kube-apiserver" \
        --advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port=6443 \
        --etcd-servers=http://127.0.0.1:2379 \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
        --allow-privileged=true --client-ca-file="$PKI/ca.crt" \
        --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
        --service-cluster-ip-range="$SVC_CIDR" --service-node-port-range=30000-32767 \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
        --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
        --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
        --proxy-client-key-file="$PKI/front-proxy-client.key" \
        --enable-aggregator-routing=true --profiling=false --v=2
    ready kube-apiserver 120 api_ok

    start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
        --kubeconfig="$PKI/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
        --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
        --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
        --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 \
        --service-cluster-ip-range="$SVC_CIDR" --configure-cloud-routes=false \
        --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --profiling=false --v=2
    start kube-scheduler "$K8S_BIN/kube-scheduler" --config="$LC_ETC/scheduler.yaml" \
        --authentication-kubeconfig="$PKI/scheduler.kubeconfig" \
        --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --profiling=false --v=2
    ready kube-controller-manager 60 health_tls 10257
    ready kube-scheduler 60 health_tls 10259
}

start_node() {
    start kubelet "$K8S_BIN/kubelet" --config="$LC_ETC/kubelet.yaml" \
        --kubeconfig="$PKI/kubelet-client.kubeconfig" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=2
    ready kubelet 60 curl -sf http://127.0.0.1:10248/healthz
    ready kubelet 120 node_ready
    start kube-proxy "$K8S_BIN/kube-proxy" --config="$LC_ETC/kube-proxy.yaml" --v=2
    ready kube-proxy 60 proxy_ready
    # kube-proxy prepends its own FORWARD jumps (one of them accepts established flows); put the
    # egress refusal back in first place so nothing from cni0 can leave, whatever they contain.
    local first
    first=$(iptables -S FORWARD | sed -n 2p)
    if [ "$first" != '-A FORWARD -i cni0 ! -o cni0 -j REJECT --reject-with icmp-port-unreachable' ]; then
        iptables -D FORWARD -i cni0 ! -o cni0 -j REJECT 2>/dev/null || true
        iptables -I FORWARD 1 -i cni0 ! -o cni0 -j REJECT
    fi
    # pods cannot be created in a namespace before its default ServiceAccount exists
    ready kube-controller-manager 60 KUBECTL -n default get serviceaccount default
}

# ---- 7. default StorageClass: local-path-provisioner --------------------------------------
# Its manifest comes from the module download (never committed), with the volume directory moved
# under $LC_STATE so cluster-down removes it. The image names in it are served by our registry.
start_storage() {
    local dir
    dir=$(go mod download -json "github.com/rancher/local-path-provisioner@$LPP_VERSION" | jq -r '.Dir // empty') ||
        lc_die "cannot locate the local-path-provisioner module"
    [ -f "$dir/deploy/local-path-storage.yaml" ] || lc_die "no deploy/local-path-storage.yaml in $dir"
    sed "s#/opt/local-path-provisioner#$LC_STATE/local-path#g" "$dir/deploy/local-path-storage.yaml" \
        > "$LC_ETC/local-path-storage.yaml"
    KUBECTL apply -f "$LC_ETC/local-path-storage.yaml" > "$LC_LOG/local-path-provisioner.log" 2>&1 ||
        fail local-path-provisioner "kubectl apply failed"
    KUBECTL annotate storageclass local-path storageclass.kubernetes.io/is-default-class=true \
        --overwrite > /dev/null
    if ! KUBECTL -n local-path-storage rollout status deploy/local-path-provisioner --timeout=120s \
        >> "$LC_LOG/local-path-provisioner.log" 2>&1; then
        KUBECTL -n local-path-storage describe pods >> "$LC_LOG/local-path-provisioner.log" 2>&1 || true
        KUBECTL -n local-path-storage logs deploy/local-path-provisioner --tail=30 \
            >> "$LC_LOG/local-path-provisioner.log" 2>&1 || true
        fail local-path-provisioner "deployment not ready after 120s"
    fi
}

# ---- 8. how to use it -----------------------------------------------------------------------
write_env() {
    ln -sfn "$K8S_BIN/kubectl" "$LC_STATE/bin/kubectl"
    [ -x "$TKN_BIN/tkn" ] && ln -sfn "$TKN_BIN/tkn" "$LC_STATE/bin/tkn"
    ln -sfn "$ETCD_BIN/etcd" "$LC_STATE/bin/etcd"
    put "$LC_ETC/env.sh" <<EOF
# source me: the local cluster's kubeconfig, and its kubectl ($K8S_VERSION) and tkn first in PATH
export KUBECONFIG=$KUBECONFIG_ADMIN
export PATH=$LC_STATE/bin:\$PATH
EOF
}

# A cluster whose etcd is gone cannot be resumed (a half-finished start, killed processes, a
# reboot that emptied /run but left /var/lib): clear what is left first. cluster-down.sh only
# stops what /run/lc records, so this is safe on a clean machine too.
if ! pid_alive etcd && { ls "$LC_RUN"/*.pid > /dev/null 2>&1 || [ -d "$LC_STATE" ] || [ -d "$CTRD_ROOT" ]; }; then
    mark "leftovers of an earlier cluster without a running etcd: tearing them down first"
    "$here/cluster-down.sh"
fi

mkdir -p "$LC_LOG" "$LC_RUN"
install_packages
preflight
mark "building or reusing the pinned binaries (log: $LC_LOG/go-build.log)"
"$here/build-k8s.sh" all >> "$LC_LOG/go-build.log" 2>&1 || { tail -30 "$LC_LOG/go-build.log" >&2; lc_die "Go build failed (log: $LC_LOG/go-build.log)"; }
mark "binaries ready"
prepare_host
write_configs
setup_pki
start_runtime
start_control_plane
start_node
start_storage
write_env
mark "cluster ready"
cat <<EOF

Cluster is up ($K8S_VERSION, node $NODE_NAME, $(($(date +%s) - T0))s). Use it with:
    . $LC_ETC/env.sh          # KUBECONFIG=$KUBECONFIG_ADMIN, kubectl/tkn first in PATH
    kubectl get nodes
    tkn version
Logs: $LC_LOG/<component>.log   Stop and clean up: hack/cluster-down.sh
EOF
