#!/usr/bin/env bash
# cluster-down.sh: stop the local cluster and remove its state; the host is put back as
# cluster-up.sh found it (address on lo, iptables, sysctls, mount propagation).
# It stops only the processes recorded in /run/lc/*.pid (and the containerd shims of our own
# containerd socket), so it is safe after a half-finished start, twice in a row, or on a machine
# where no cluster ever ran. The caches in $LC_CACHE (binaries, images, PKI) are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
LC_PROG=cluster-down

[ "$(id -u)" = 0 ] || lc_die "must run as root"
lc_lock

# stop NAME [GRACE]: SIGTERM the recorded process, SIGKILL after GRACE seconds (default 15);
# forget its pid file.
stop() {
    local n=$1 grace=${2:-15} f=$LC_RUN/$1.pid pid
    [ -f "$f" ] || return 0
    if pid=$(pid_of "$n"); then
        lc_say "stopping $n ($pid) at ${SECONDS}s"
        kill "$pid" 2>/dev/null || true
        if ! pid_wait_gone "$n" "$grace"; then
            lc_say "$n did not stop in ${grace}s, killing it"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$f"
}

# Pods outlive kubelet. Remove them through our containerd while it still runs, so the CRI
# plugin tears down their network namespaces and mounts itself.
remove_containers() {
    local ctr=(ctr --address "$CTRD_SOCK" -n k8s.io) t c
    pid_alive containerd || return 0
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
        timeout 10 "${ctr[@]}" tasks kill -s SIGKILL "$t" > /dev/null 2>&1 || true
    done
    sleep 1
    for c in $("${ctr[@]}" containers ls -q 2>/dev/null); do
        timeout 10 "${ctr[@]}" tasks delete -f "$c" > /dev/null 2>&1 || true
        timeout 10 "${ctr[@]}" containers delete "$c" > /dev/null 2>&1 || true
    done
}

# Shims of our containerd carry its socket path in their arguments; after an abrupt stop they
# are the only processes of ours without a pid file. Killing a shim does not kill its
# container, so containers still known to our runc root are force-deleted first.
kill_our_shims() {
    local p c runc_root=$CTRD_STATE/runc/k8s.io
    if [ -d "$runc_root" ]; then
        for c in $(runc --root "$runc_root" list -q 2>/dev/null); do
            timeout 10 runc --root "$runc_root" delete -f "$c" > /dev/null 2>&1 || true
        done
    fi
    for p in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $CTRD_SOCK( |$)" || true); do
        kill -9 "$p" 2>/dev/null || true
    done
}

# Chains kubelet creates for itself (kube-proxy --cleanup leaves them): the jumps from the
# built-in chains first, then the chains. Only these fixed names, never other KUBE-* rules.
remove_kubelet_chains() {
    local ipt tbl c rule
    for ipt in iptables ip6tables; do
        for tbl in filter nat mangle; do
            for c in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
                "$ipt" -t "$tbl" -S 2>/dev/null |
                    { grep -E -- "^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j $c\$" || true; } |
                    while read -r rule; do
                        # shellcheck disable=SC2086 # the rule is re-split into its words on purpose
                        "$ipt" -t "$tbl" ${rule/-A/-D} 2>/dev/null || true
                    done
                "$ipt" -t "$tbl" -F "$c" 2>/dev/null || true
                "$ipt" -t "$tbl" -X "$c" 2>/dev/null || true
            done
        done
    done
}

unmount_under() {
    local d
    for d in "$@"; do
        awk -v d="$d" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
    done
}

restore_host() {
    local f=$LC_RUN/host.orig kind val
    iptables -D FORWARD -i cni0 ! -o cni0 -j REJECT 2>/dev/null || true
    iptables -D INPUT -i cni0 -j LC-POD-INPUT 2>/dev/null || true
    iptables -F LC-POD-INPUT 2>/dev/null || true
    iptables -X LC-POD-INPUT 2>/dev/null || true
    ip link del cni0 2>/dev/null || true
    ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
    [ -f "$f" ] || return 0
    while read -r kind val; do
        case $kind in
            sysctl) sysctl -qw "$val" 2>/dev/null || true ;;
            propagation) if [ "$val" = private ]; then mount --make-rprivate /; fi ;;
        esac
    done < "$f"
}

# Node-side helpers other scripts record in /run/lc by the same convention (hack/demo/serve.sh's
# demo-*), first: they depend on the cluster, and /run/lc is removed below.
for f in "$LC_RUN"/*.pid; do
    [ -f "$f" ] || continue
    n=$(basename "$f" .pid)
    case " kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd registry-node registry " in
        *" $n "*) ;;
        *) stop "$n" ;;
    esac
done
stop kube-proxy
stop kubelet
stop kube-scheduler
stop kube-controller-manager
# The apiserver drains long requests on SIGTERM for up to a minute; etcd's data is discarded
# anyway, so there is nothing to wait for.
stop kube-apiserver 3
stop etcd
remove_containers
stop containerd
kill_our_shims
stop registry-node
stop registry
lc_say "processes stopped at ${SECONDS}s; removing iptables rules, mounts and state"
# kube-proxy's iptables chains (KUBE-*); only if this cluster ever ran it
if [ -x "$K8S_BIN/kube-proxy" ] && iptables -t nat -S KUBE-SERVICES > /dev/null 2>&1; then
    "$K8S_BIN/kube-proxy" --cleanup > /dev/null 2>&1 || lc_say "kube-proxy --cleanup failed, ignoring"
fi
remove_kubelet_chains
unmount_under "$KUBELET_ROOT" "$CTRD_STATE" "$CTRD_ROOT"
# Network namespaces are normally removed by containerd above. After an abrupt stop, remove
# leftover cni-* ones, but only if no other containerd could own them.
if [ ! -S /run/containerd/containerd.sock ]; then
    ip netns list 2>/dev/null | awk '/^cni-/{print $1}' | xargs -r -n1 ip netns delete 2>/dev/null || true
fi
restore_host
# empty cgroup directories kubelet created; rmdir refuses non-empty ones
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
done
rm -rf "$LC_STATE" "$KUBELET_ROOT" "$CTRD_ROOT" "$CTRD_STATE" /var/lib/cni/networks/lc-pod-network \
    "$LC_ETC" "$LC_RUN"
lc_say "cluster stopped and its state removed in ${SECONDS}s (caches kept in $LC_CACHE)"
