#!/usr/bin/env bash
# e2e-timeout: 900
# install_test.sh: tektite installed in the cluster as Tekton is (make deploy): the controller
# Pod becomes Ready, reconciles a TaskRun to success, serves Tekton's metric names with that
# run's values, `tkn version` reports pipelines-info's version, and with two replicas and 20 runs
# in flight, deleting the leader's Pod still lets every run complete with exactly one Pod. At exit hack/undeploy.sh removes the Deployment, the webhook
# configurations and the CRDs' webhook conversion again (INSTALL_KEEP=1 keeps them), so later
# tests that run the controller on the host neither race an in-cluster one nor hit a webhook
# with no server behind it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

SYS=tekton-pipelines
DEPLOY=tekton-pipelines-controller
SEL=app.kubernetes.io/name=controller,app.kubernetes.io/component=controller
LOG=$REPO/build/e2e/install
mkdir -p "$LOG"

ks() { "$KUBECTL" -n "$SYS" "$@"; }

cleanup() {
    if [ "${INSTALL_KEEP:-}" != 1 ]; then
        ks logs -l "$SEL" --tail=-1 --prefix > "$LOG/controller.log" 2>&1 || true
        KUBECTL="$KUBECTL" KUBECONFIG="$KUBECONFIG" "$REPO/hack/undeploy.sh" > /dev/null 2>&1 ||
            ks delete deploy "$DEPLOY" --wait=true --timeout=60s > /dev/null 2>&1 || true
    fi
    e2e_cleanup
}

# deploy NAME [ENV=VALUE...]: run hack/deploy.sh through make; ok/not ok NAME. Returns its status.
deploy() {
    local name=$1
    shift
    if env "$@" DEPLOY_LOG_LEVEL=debug DEPLOY_TIMEOUT=180 KUBECONFIG="$KUBECONFIG" \
        KUBECTL="$KUBECTL" make -C "$REPO" -j2 deploy > "$LOG/$name.log" 2>&1; then
        ok "install/$name"
    else
        not_ok "install/$name" "make deploy failed: $(tail -n 4 "$LOG/$name.log")"
        return 1
    fi
}

# taskrun NAME: create a TaskRun NAME in $NS whose one step prints a line.
taskrun() {
    k create -f - > /dev/null << EOF
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: $1
spec:
  taskSpec:
    steps:
      - name: hello
        image: mirror.gcr.io/busybox
        script: |
          echo "hello from $1"
EOF
}

# expect_succeeded CHECK NAME SECONDS: the TaskRun's Succeeded condition turns True in time.
expect_succeeded() {
    local check=$1 tr=$2 t=$3 i st=
    for ((i = 0; i < t; i++)); do
        st=$(k get taskrun "$tr" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}' 2> /dev/null)
        [ "$st" = True ] || [ "$st" = False ] && break
        sleep 1
    done
    if [ "$st" = True ]; then
        ok "$check"
    else
        not_ok "$check" "taskrun $tr: Succeeded='$st' after ${i}s: $(k get taskrun "$tr" \
            -o jsonpath='{.status.conditions[0].reason}: {.status.conditions[0].message}' 2>&1)"
    fi
}

# settled N: exactly N controller Pods exist, none terminating, all Ready (a rollout's old Pods
# may still hold the Lease and act until they are gone).
settled() {
    local pods
    pods=$(ks get pods -l "$SEL" -o json 2> /dev/null) || return 1
    jq -e --argjson n "$1" '(.items | length) == $n and all(.items[];
        .metadata.deletionTimestamp == null
        and any(.status.conditions[]?; .type == "Ready" and .status == "True"))' <<< "$pods" > /dev/null
}

# leader: the Pod holding the controller's Lease (its identity is "<pod>_<random>").
leader() {
    ks get lease tektite-controller -o jsonpath='{.spec.holderIdentity}' 2> /dev/null | sed 's/_[0-9a-f]*$//'
}

e2e_init
trap cleanup EXIT

others=$(pgrep -af 'build/tektite-controller' || true)
[ -z "$others" ] || echo "# note: host-run controllers are running and may also reconcile: $others"

# ---- install and readiness ----
deploy deploy || exit 1
if wait_until 120 settled 1; then
    ok install/controller-ready
else
    not_ok install/controller-ready "not one Ready Pod after 120s: $(ks get pods -l "$SEL" 2>&1 | tail -n +2)"
fi
pod=$(ks get pods -l "$SEL" -o jsonpath='{.items[0].metadata.name}' 2> /dev/null)

# the Pod runs as Tekton's does: non-root, read-only root, no capabilities, by-digest image
spec=$(ks get pod "$pod" -o json 2> /dev/null)
if jq -e '.spec.securityContext.runAsNonRoot == true and .spec.securityContext.runAsUser == 65532
        and (.spec.containers[0] | .securityContext.readOnlyRootFilesystem == true
             and .securityContext.capabilities.drop == ["ALL"]
             and (.image | test("@sha256:[0-9a-f]{64}$")))
        and (.status.containerStatuses[0].restartCount == 0)' <<< "$spec" > /dev/null 2>&1; then
    ok install/pod-hardened
else
    not_ok install/pod-hardened "pod '$pod' spec or status differs: $(jq -c \
        '[.spec.securityContext, .spec.containers[0].securityContext, .spec.containers[0].image,
          .status.containerStatuses[0].restartCount]' <<< "$spec" 2>&1)"
fi

# ---- a TaskRun reconciled by the in-cluster controller ----
tr=hello-$RANDOM
if taskrun "$tr"; then
    expect_succeeded install/taskrun-succeeds "$tr" 180
else
    not_ok install/taskrun-succeeds "cannot create taskrun $tr"
fi
if ks logs "$pod" --tail=-1 2> /dev/null | grep -F "\"key\":\"$NS/$tr\"" | grep -q '"op":"create pod"'; then
    ok install/in-cluster-controller-created-the-pod
else
    not_ok install/in-cluster-controller-created-the-pod \
        "no 'create pod' for $NS/$tr in $pod's log: $(ks logs "$pod" --tail=3 2>&1)"
fi

# ---- metrics through the Service (API server proxy), probes on the same port ----
metrics=$("$KUBECTL" get --raw \
    "/api/v1/namespaces/$SYS/services/http:$DEPLOY:http-metrics/proxy/metrics" 2>&1)
missing=
for m in tekton_pipelines_controller_running_taskruns tekton_pipelines_controller_running_pipelineruns \
    tekton_pipelines_controller_taskrun_duration_seconds \
    tekton_pipelines_controller_taskruns_pod_latency_milliseconds kn_workqueue_depth \
    tekton_pipelines_controller_reconcile_count; do
    grep -q "^# TYPE $m " <<< "$metrics" || missing="$missing $m"
done
if [ -z "$missing" ]; then
    ok install/metrics-scrape
else
    not_ok install/metrics-scrape "missing:$missing; got: $(head -c 200 <<< "$metrics")"
fi
# values after the run above, in this test's namespace: its duration observed once, its Pod's
# latency once (running_taskruns is cluster-wide: other files' runs may still be in it)
sample() { # NAME: the value of NAME's sample labelled with this test's namespace (0 if none)
    awk -v n="$1" -v ns="namespace=\"$NS\"" '$1 ~ "^" n "[{]" && index($1, ns) { v += $2 }
        END { print v + 0 }' <<< "$metrics"
}
got="duration_count=$(sample tekton_pipelines_controller_taskrun_duration_seconds_count)"
got="$got latency_count=$(sample tekton_pipelines_controller_taskruns_pod_latency_milliseconds_count)"
passes=$(awk '$1 == "tekton_pipelines_controller_reconcile_count{reconciler=\"taskrun\",success=\"true\"}" { print $2 }' <<< "$metrics")
if [ "$got" = "duration_count=1 latency_count=1" ] && [ "${passes:-0}" -ge 1 ]; then
    ok install/metrics-values
else
    not_ok install/metrics-values "want duration_count=1 latency_count=1 and taskrun passes >= 1, got $got passes=${passes:-none}"
fi
health=$("$KUBECTL" get --raw "/api/v1/namespaces/$SYS/pods/http:$pod:9090/proxy/healthz" 2>&1)
check install/healthz test "$health" = ok

# ---- tkn version reads pipelines-info ----
want=$("$REPO/build/tektite-controller" --version | awk '{print $2}')
if ! [ -x "$(command -v "${TKN:-tkn}")" ]; then
    # run.sh finds tkn through the cluster's bin/ links; fall back to the build cache
    for t in /var/cache/lc-k8s/bin/tkn-*/tkn; do [ -x "$t" ] && TKN=$t; done
fi
if [ -z "${TKN:-}" ] || ! [ -x "$(command -v "$TKN")" ]; then
    not_ok install/tkn-version "no tkn (TKN='${TKN:-}')"
elif got=$("$TKN" version 2>&1) && grep -qxF "Pipeline version: $want" <<< "$got"; then
    ok install/tkn-version
else
    not_ok install/tkn-version "want 'Pipeline version: $want', got: $got"
fi

# ---- failover: two replicas, 20 runs in flight, delete the leader: all complete, none twice ----
deploy deploy-2-replicas DEPLOY_REPLICAS=2 || exit 1
wait_until 120 settled 2 || not_ok install/failover "not two Ready Pods after 120s"
old=
wait_until 60 test -n "$(leader)" && old=$(leader)
if [ -z "$old" ]; then
    not_ok install/failover "no Lease holder after 60s"
    exit 0
fi
# 20 runs in flight when the leader goes: every one completes, with exactly one Pod each
for i in $(seq 20); do
    taskrun "inflight-$i" || not_ok install/failover "cannot create taskrun inflight-$i"
done
sleep 2
ks delete pod "$old" --wait=false > /dev/null
tr2=after-failover-$RANDOM
taskrun "$tr2" || not_ok install/failover "cannot create taskrun $tr2"
expect_succeeded install/failover-run-succeeds "$tr2" 240
inflight_done() {
    [ "$(k get taskruns -o json | jq '[.items[] | select(.metadata.name | startswith("inflight-"))
        | select(any(.status.conditions[]?; .type == "Succeeded" and .status != "Unknown"))] | length')" = 20 ]
}
if wait_until 300 inflight_done; then
    runs=$(k get taskruns -o json | jq -r '[.items[] | select(.metadata.name | startswith("inflight-"))
        | select(any(.status.conditions[]?; .type == "Succeeded" and .status == "True"))] | length')
    pods=$(k get pods -l tekton.dev/taskRun -o json | jq -r '[.items[].metadata.labels["tekton.dev/taskRun"]
        | select(startswith("inflight-"))] | "\(length) \(unique | length)"')
    if [ "$runs $pods" = "20 20 20" ]; then
        ok install/failover-inflight-runs
    else
        not_ok install/failover-inflight-runs "$runs of 20 Succeeded; Pods and distinct runs: $pods"
    fi
else
    not_ok install/failover-inflight-runs "not all 20 runs in flight ended within 300s after the failover"
fi
new=$(leader)
if [ -n "$new" ] && [ "$new" != "$old" ]; then
    ok install/failover-new-leader
else
    not_ok install/failover-new-leader "lease holder '$new' (was '$old')"
fi
