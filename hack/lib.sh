# Shared settings for hack/ scripts: pinned versions and the build cache outside the repo.
# Sourced, never run.
LC_CACHE=${LC_CACHE:-/var/cache/lc-k8s}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
TKN_VERSION=${TKN_VERSION:-v0.46.0}
LPP_VERSION=${LPP_VERSION:-v0.0.37}
K8S_COMPONENTS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
export PATH=/usr/local/go/bin:$PATH
export GOMODCACHE=$LC_CACHE/go/mod GOCACHE=$LC_CACHE/go/build
export CGO_ENABLED=0 GOFLAGS=-mod=mod
GOV=$(go env GOVERSION)
LC_BIN=$LC_CACHE/bin
mkdir -p "$LC_BIN"
