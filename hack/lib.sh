# shellcheck shell=bash
# Shared settings for hack/ scripts: pinned versions, the build cache outside the repo, the
# cluster's fixed names and paths, and small helpers. Sourced, never run.
# Why each version is pinned where it is: docs/cluster.md "Pinned versions".

LC_CACHE=${LC_CACHE:-/var/cache/lc-k8s}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
TKN_VERSION=${TKN_VERSION:-v0.46.0}
LPP_VERSION=${LPP_VERSION:-v0.0.37}
K8S_COMPONENTS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
# Bump when the image recipes in hack/images.sh change: it is part of every image cache key,
# so an old layer is never mistaken for a new one.
IMAGES_REV=${IMAGES_REV:-1}
DEBIAN_SUITE=bookworm

export PATH=/usr/local/go/bin:$PATH
export GOMODCACHE=$LC_CACHE/go/mod GOCACHE=$LC_CACHE/go/build
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# The proxy serves local-path-provisioner, but its checksum-database mirror answers 404 for
# local-path-provisioner@v0.0.37 (seen 2026-11-27), so that one module is exempted from the sumdb
# check; everything else, its dependencies included, is still verified.
export GONOSUMDB=github.com/rancher/local-path-provisioner
GOV=$(go env GOVERSION 2>/dev/null || echo nogo)
LC_BIN=$LC_CACHE/bin
K8S_BIN=$LC_BIN/k8s-$K8S_VERSION-$GOV
ETCD_BIN=$LC_BIN/etcd-$ETCD_VERSION-$GOV
TKN_BIN=$LC_BIN/tkn-$TKN_VERSION-$GOV
LPP_BIN=$LC_BIN/local-path-provisioner-$LPP_VERSION-$GOV

# The cluster's fixed identity. A fixed node name and IP let the PKI be cached across runs;
# 10.240.0.1 lives on lo, so it is reachable from pods (via cni0) and from nothing outside.
NODE_NAME=lc-node
NODE_IP=10.240.0.1
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
SVC_CIDR=10.96.0.0/16
SVC_API_IP=10.96.0.1
REGISTRY=127.0.0.1:5000

# Where the running cluster keeps things. Everything here is created by cluster-up.sh and removed
# by cluster-down.sh; nothing is shared with a host containerd or a system kubelet config.
LC_ETC=/etc/kubernetes                 # configs, pki/, kubeconfigs
PKI=$LC_ETC/pki
KUBECONFIG_ADMIN=$LC_ETC/admin.kubeconfig
LC_STATE=/var/lib/lc-k8s               # etcd data, local-path volumes, bin/ symlinks
LC_RUN=/run/lc                         # pid files: the only processes cluster-down.sh stops
LC_LOG=/var/log/lc
CTRD_ROOT=/var/lib/containerd-k8s
CTRD_STATE=/run/containerd-k8s
CTRD_SOCK=$CTRD_STATE/containerd.sock
KUBELET_ROOT=/var/lib/kubelet

# The host TCP ports on the node IP that pods may connect to (hack/cluster-up.sh's LC-POD-INPUT
# chain refuses every other): the API server (what the `kubernetes` Service DNATs to) and the
# read-only registry; and for the image-build walkthrough (hack/demo/serve.sh) its writable
# registry, Maven mirror and git daemon. Add a port here when a node-side service needs one.
POD_HOST_TCP_PORTS="6443 5000 5001 8081 9418"

# Upstream registries whose names containerd resolves to the local registry, each under its own
# path prefix (docker.io/library/alpine is stored as docker.io/library/alpine).
MIRRORED_REGISTRIES="docker.io registry.k8s.io mirror.gcr.io gcr.io ghcr.io quay.io cgr.dev mcr.microsoft.com public.ecr.aws"

lc_say() { echo "${LC_PROG:-lc}: $*" >&2; }
lc_die() { lc_say "error: $*"; exit 1; }

# wait_for SECONDS WHAT CMD...: run CMD once a second until it succeeds, at most SECONDS times.
wait_for() {
    local t=$1 what=$2 i
    shift 2
    for ((i = 0; i < t; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    lc_say "timeout after ${t}s waiting for $what"
    return 1
}

# Print the last lines of a component's log, named, so a failed start says where to look.
show_log() {
    local n=$1 lines=${2:-40}
    echo "---- last $lines lines of $LC_LOG/$n.log ----" >&2
    tail -n "$lines" "$LC_LOG/$n.log" >&2 2>/dev/null || echo "(no log)" >&2
    echo "---- end of $LC_LOG/$n.log ----" >&2
}

# A pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat), so a recycled PID after a
# crash or reboot is never mistaken for our process.
proc_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# pid_record NAME PID: remember PID as the process behind NAME.
pid_record() { echo "$2 $(proc_start "$2")" > "$LC_RUN/$1.pid"; }

# proc_state PID: its state letter (field 3 of /proc/PID/stat); Z for a zombie.
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

# pid_of NAME: print the PID recorded for NAME if that very process still runs; else fail. A
# zombie does not run: this machine's init reaps orphans late, so a daemon that exited can stay
# one for a minute, and must not count as running then.
pid_of() {
    local f=$LC_RUN/$1.pid pid start
    [ -f "$f" ] || return 1
    read -r pid start < "$f" || return 1
    [ -n "$pid" ] && [ -n "$start" ] && [ "$(proc_start "$pid")" = "$start" ] || return 1
    [ "$(proc_state "$pid")" != Z ] || return 1
    echo "$pid"
}

pid_alive() { pid_of "$1" > /dev/null; }

# pid_wait_gone NAME SECONDS: wait, polling every 0.2 s, until NAME's process no longer runs
# (a zombie counts as gone, see pid_of; `kill -0` would wait on it for up to a minute). Fails if
# it still runs after SECONDS.
pid_wait_gone() {
    local n=$1 t=$2 i
    for ((i = 0; i < t * 5; i++)); do
        pid_alive "$n" || return 0
        sleep 0.2
    done
    ! pid_alive "$n"
}

# exec_detached CMD...: become CMD in a session of its own with every descriptor above 2 closed.
# For daemons, which outlive their caller: one that inherited, say, the descriptor of
# `flock /tmp/tektite-cluster.lock make test` (or lc_lock's fd 8) would hold that lock for as
# long as it runs. Run it in a subshell: ( exec_detached cmd ... ) > log 2>&1 < /dev/null &
# (No redirection on the loop: bash would park the caller's stderr on a high descriptor for its
# duration, the loop would close that one too, and the daemon's stderr would end up /dev/null.)
exec_detached() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec setsid "$@"
}

# lc_lock: one cluster-up/cluster-down at a time (two engineers' `make e2e` may race). The lock
# is on fd 8, which start() closes (exec_detached) for the daemons so they never hold it; nested calls
# (cluster-up running cluster-down) see LC_LOCK_HELD and skip it. Bounded: a cold bring-up
# holding it takes about half an hour.
lc_lock() {
    [ -z "${LC_LOCK_HELD:-}" ] || return 0
    exec 8> /run/lc-k8s.lock
    flock -w 3600 8 || lc_die "another cluster-up/cluster-down still holds /run/lc-k8s.lock after 1h"
    export LC_LOCK_HELD=1
}

mkdir -p "$LC_BIN"
