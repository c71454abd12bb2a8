#!/usr/bin/env bash
# In-cluster API access: a pod reaches the API server through the `kubernetes` Service's
# ClusterIP (kube-proxy's NAT to 10.240.0.1:6443), verifies its certificate with the projected
# CA and authenticates with its ServiceAccount token. Also checks the isolation the cluster
# promises: no masquerade for pods, and pod traffic to anywhere outside the machine refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init

svc_ip=$("$KUBECTL" -n default get service kubernetes -o jsonpath='{.spec.clusterIP}')
# The Python stand-in has a TLS client that verifies certificates; it asks the API server who
# it is (SelfSubjectReview), which any authenticated identity may do.
script='
import json, os, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
host = os.environ["KUBERNETES_SERVICE_HOST"]; port = os.environ["KUBERNETES_SERVICE_PORT"]
ctx = ssl.create_default_context(cafile=sa + "/ca.crt")
req = urllib.request.Request("https://%s:%s/apis/authentication.k8s.io/v1/selfsubjectreviews" % (host, port),
    data=b"{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}", method="POST",
    headers={"Authorization": "Bearer " + open(sa + "/token").read().strip(), "Content-Type": "application/json"})
print("host " + host)
print("user " + json.load(urllib.request.urlopen(req, context=ctx, timeout=20))["status"]["userInfo"]["username"])
'
jq -n --arg s "$script" '{apiVersion:"v1",kind:"Pod",metadata:{name:"api"},
    spec:{restartPolicy:"Never",containers:[{name:"main",image:"mirror.gcr.io/python",command:["python3","-c",$s]}]}}' |
    k create -f - > /dev/null
expect_pod_output api/reaches-service-clusterip api 120 "host $svc_ip"
expect_pod_output api/serviceaccount-token-accepted api 5 "user system:serviceaccount:$NS:default"

# Of the host, pods reach only the API server and the read-only registry: kubelet listens on
# 10.240.0.1:10250 too, and a pod's connection there is refused.
run_pod host-ports mirror.gcr.io/busybox \
    'if nc -w 5 10.240.0.1 10250 < /dev/null; then echo kubelet-open; else echo kubelet-refused; fi
     if wget -qO /dev/null http://10.240.0.1:5000/v2/; then echo registry-open; fi'
expect_pod_output api/pod-cannot-reach-kubelet host-ports 120 kubelet-refused
expect_pod_output api/pod-reaches-node-registry host-ports 5 registry-open

# Isolation, checked on the host (run.sh runs as root on the cluster's machine): the bridge
# does not masquerade, and the first FORWARD rule refuses anything from cni0 to elsewhere.
if [ "$(id -u)" = 0 ] && [ -f /etc/kubernetes/cni/net.d/10-lc-bridge.conflist ]; then
    check api/no-pod-masquerade sh -c "jq -e '.plugins[0].ipMasq == false' /etc/kubernetes/cni/net.d/10-lc-bridge.conflist"
    check api/egress-refused-first sh -c "iptables -S FORWARD | grep -v '^-P' | head -1 | grep -qx -- '-A FORWARD -i cni0 ! -o cni0 -j REJECT --reject-with icmp-port-unreachable'"
fi
