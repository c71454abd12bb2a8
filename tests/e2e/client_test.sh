#!/usr/bin/env bash
# e2e-timeout: 1500
# lib/'s Kubernetes client against the real API server (build/e2e/kubeclient, from
# tests/e2e/kubeclient.c), then tektite-controller's handling of bad kubeconfigs and its
# leader hand-over. Everything happens in this file's own namespace, except the custom
# resource the 410 checks use (kcobjects.kc.e2e.tektite.dev, deleted at exit) and one restart of
# the API server (section 5), done under the exclusive cluster lock (/tmp/tektite-cluster.lock)
# so that engineers sharing the cluster are not caught in the middle of it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DRIVER=$REPO/build/e2e/kubeclient
CONTROLLER=$REPO/build/tektite-controller
ETCD=${ETCD_URL:-http://127.0.0.1:2379}
BULK=2000
PAGE=100

work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
    "$KUBECTL" delete crd kcobjects.kc.e2e.tektite.dev --wait=false > /dev/null 2>&1 || true
    e2e_cleanup
}

e2e_init
trap cleanup EXIT

if [ ! -x "$DRIVER" ]; then
    not_ok client/driver "$DRIVER not built (make build/e2e/kubeclient)"
    exit 1
fi

# The driver prints its own ok / not ok lines; a crash or a hang is one failure more.
drive() {
    local what=$1 rc=0
    local bound=${bound:-120}
    shift
    [ "$what" != bulk ] || bound=330 # its own bound is 300s
    timeout --kill-after=5 "$bound" "$DRIVER" "$what" "$NS" "$@" || rc=$?
    [ "$rc" = 0 ] || not_ok "client/$what-exit" "kubeclient $what exited with status $rc"
}

# --- 1. CRUD: ConfigMap, Task, TaskRun status subresource, 409 conflicts -------------------
if ! "$KUBECTL" apply -f "$REPO/crds/" > /dev/null ||
    ! "$KUBECTL" wait --for=condition=Established --timeout=60s crd/tasks.tekton.dev \
        crd/taskruns.tekton.dev > /dev/null; then
    not_ok client/crds "cannot apply the Tekton CRDs"
fi
drive crud

# --- 2. pagination: 2,000 ConfigMaps listed 100 at a time --------------------------------
# created by the driver (32 requests in flight; kubectl's own client-side rate limit makes it
# take over a minute), counted by kubectl
drive bulk kc-bulk "$BULK"
have=$(k get configmaps -l kc-bulk -o name 2>/dev/null | wc -l)
if [ "$have" = "$BULK" ]; then
    drive list kc-bulk "$BULK" "$PAGE"
else
    not_ok client/list-pages "kubectl sees $have of $BULK ConfigMaps"
fi

# --- 3. watch: an informer sees a scripted sequence exactly once --------------------------
drive watch

# --- 4. 410 Gone and relist --------------------------------------------------------------
# On a resource whose watch cache starts after resourceVersion 1: a custom resource defined now
# (ConfigMaps' cache starts with the cluster, where resourceVersion 1 may still be inside it).
"$KUBECTL" apply -f - > /dev/null << 'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kcobjects.kc.e2e.tektite.dev
spec:
  group: kc.e2e.tektite.dev
  scope: Namespaced
  names: {plural: kcobjects, singular: kcobject, kind: KcObject}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
EOF
if "$KUBECTL" wait --for=condition=Established --timeout=60s crd/kcobjects.kc.e2e.tektite.dev \
    > /dev/null; then
    drive stale
else
    not_ok client/watch-410 "the KcObject CRD is not established after 60s"
fi

# --- 5. a watch across an API server restart ---------------------------------------------
# The driver runs this script while its informer watches, then writes while the informer
# reconnects. SIGTERM lets the API server shut down as it does in a rolling update;
# hack/cluster-up.sh starts it again (and only it: the rest still runs).
cat > "$work/restart-apiserver" << EOF
#!/usr/bin/env bash
set -euo pipefail
. "$REPO/hack/lib.sh"
exec 9> /tmp/tektite-cluster.lock
flock -x -w 900 9 || { echo "the exclusive cluster lock was not free within 900s" >&2; exit 1; }
pid=\$(pid_of kube-apiserver) || { echo "no kube-apiserver of the local cluster runs" >&2; exit 1; }
echo "# restarting kube-apiserver (pid \$pid)"
kill -TERM "\$pid"
# gone, or a zombie (init reaps late here): either way its port is free. A graceful shutdown
# waits for requests in flight (up to the 60 s request timeout); past 90 s it is killed.
for _ in \$(seq 90); do pid_alive kube-apiserver || break; sleep 1; done
if pid_alive kube-apiserver; then
    kill -KILL "\$pid"
    for _ in \$(seq 10); do pid_alive kube-apiserver || break; sleep 1; done
fi
# the API server it starts does not inherit the lock: cluster-up starts daemons through
# hack/lib.sh exec_detached, which closes every descriptor above 2
"$REPO/hack/cluster-up.sh" > "$work/cluster-up.log" 2>&1 ||
    { tail -n 5 "$work/cluster-up.log" >&2; exit 1; }
EOF
chmod +x "$work/restart-apiserver"
bound=1100 drive resume "$work/restart-apiserver"

# --- 6. bad input: one clear error line, exit 1, no crash, within a bound ------------------
# expect_config_error NAME WANT_IN_LINE ARGS...: tektite-controller ARGS exits 1 within 30s
# with exactly one error log line, and that line contains WANT_IN_LINE.
expect_config_error() {
    local name=$1 want=$2 rc=0 out errors
    shift 2
    out=$(timeout --kill-after=5 30 "$CONTROLLER" --namespace "$NS" "$@" 2>&1) || rc=$?
    errors=$(grep -c '"level":"error"' <<< "$out" || true)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        not_ok "$name" "no exit within 30s"
    elif [ "$rc" -ge 128 ]; then
        not_ok "$name" "killed by signal $((rc - 128)): $(tail -n 2 <<< "$out")"
    elif [ "$rc" != 1 ]; then
        not_ok "$name" "exit status $rc, want 1: $(tail -n 2 <<< "$out")"
    elif [ "$errors" != 1 ]; then
        not_ok "$name" "$errors error lines, want 1: $(tail -n 3 <<< "$out")"
    elif ! grep '"level":"error"' <<< "$out" | grep -qF -- "$want"; then
        not_ok "$name" "the error line does not name '$want': $(grep '"level":"error"' <<< "$out")"
    else
        ok "$name"
    fi
}

printf 'apiVersion: v1\nkind: Config\nclusters: [\n  - name: x\n    cluster: {server: "https://x"\n' \
    > "$work/malformed.kubeconfig"
expect_config_error client/cli-malformed-kubeconfig "$work/malformed.kubeconfig" \
    --kubeconfig "$work/malformed.kubeconfig"
expect_config_error client/cli-missing-kubeconfig "$work/missing.kubeconfig" \
    --kubeconfig "$work/missing.kubeconfig"
sed -E 's#^( *server:).*#\1 https://127.0.0.1:1#' "$KUBECONFIG" > "$work/unreachable.kubeconfig"
expect_config_error client/cli-unreachable-server "https://127.0.0.1:1" \
    --kubeconfig "$work/unreachable.kubeconfig"
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=kc-wrong-ca -keyout "$work/wrong-ca.key" -out "$work/wrong-ca.crt" 2> /dev/null; then
    server=$(sed -nE 's#^ *server: *([^ ]+).*#\1#p' "$KUBECONFIG" | head -n 1)
    sed -E "s#^( *certificate-authority-data:).*#\1 $(base64 -w0 < "$work/wrong-ca.crt")#" \
        "$KUBECONFIG" > "$work/wrong-ca.kubeconfig"
    expect_config_error client/cli-wrong-ca "$server" --kubeconfig "$work/wrong-ca.kubeconfig"
else
    not_ok client/cli-wrong-ca "openssl could not make a CA"
fi

# --- 7. leader hand-over -----------------------------------------------------------------
lease_holder() {
    k get lease tektite-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
identity_of() { # LOG: the identity the process campaigns with
    sed -nE 's/.*"campaigning for the leader lease".*"identity":"([^"]+)".*/\1/p' "$1" | head -n 1
}
holder_is() { [ "$(lease_holder)" = "$1" ]; }
start_candidate() { # NAME
    POD_NAME=kc-$1 "$CONTROLLER" --kubeconfig "$KUBECONFIG" --namespace "$NS" --leader-elect \
        --lease-namespace "$NS" --lease-duration 3s --renew-deadline 2s --retry-period 500ms \
        > "$work/$1.log" 2>&1 &
    pids+=($!)
}

start_candidate a
pid_a=$!
start_candidate b
pid_b=$!
wait_until 30 bash -c "grep -q 'campaigning for the leader lease' '$work/a.log' &&
    grep -q 'campaigning for the leader lease' '$work/b.log'"
id_a=$(identity_of "$work/a.log")
id_b=$(identity_of "$work/b.log")
leader='' follower='' leader_pid='' follower_pid=''
for ((i = 0; i < 30; i++)); do
    h=$(lease_holder || true)
    if [ -n "$id_a" ] && [ "$h" = "$id_a" ]; then
        leader=$id_a follower=$id_b leader_pid=$pid_a follower_pid=$pid_b
        break
    elif [ -n "$id_b" ] && [ "$h" = "$id_b" ]; then
        leader=$id_b follower=$id_a leader_pid=$pid_b follower_pid=$pid_a
        break
    fi
    sleep 1
done
if [ -z "$leader" ]; then
    not_ok client/leader-handover "no candidate holds the Lease after 30s (holder '$(lease_holder)', \
identities '$id_a' '$id_b'): $(tail -n 2 "$work/a.log" "$work/b.log" | tr '\n' ' ')"
else
    echo "# leader $leader (pid $leader_pid), follower $follower"
    kill -KILL "$leader_pid"
    wait "$leader_pid" 2>/dev/null || true
    start=$SECONDS
    if wait_until 30 holder_is "$follower"; then
        echo "# Lease passed to $follower $((SECONDS - start))s after the leader was killed"
        if kill -0 "$follower_pid" 2>/dev/null; then
            ok client/leader-handover
        else
            not_ok client/leader-handover "the new leader exited: $(tail -n 2 "$work/"*.log)"
        fi
    else
        not_ok client/leader-handover "Lease holder still '$(lease_holder)' 30s after killing \
$leader, want $follower"
    fi
    # the new leader releases the Lease on SIGTERM and exits 0
    kill -TERM "$follower_pid" 2>/dev/null
    rc=0
    for ((i = 0; i < 100; i++)); do kill -0 "$follower_pid" 2>/dev/null || break; sleep 0.1; done
    wait "$follower_pid" || rc=$?
    if [ "$rc" = 0 ] && holder_is ""; then
        ok client/leader-release
    else
        not_ok client/leader-release "exit status $rc after SIGTERM, Lease holder '$(lease_holder)'"
    fi
fi
