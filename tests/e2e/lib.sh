# shellcheck shell=bash
# Helpers for tests/e2e/*_test.sh. Sourced, never run.
#
# A test file calls e2e_init once; it gets a throwaway namespace $NS (e2e-<test>-<random>),
# deleted when the file exits, and reports each check with ok / not_ok, one line each:
#     ok <name>
#     not ok <name>: <reason>
# run.sh counts those lines. Every wait here has a bound (seconds), so a test never hangs.
# Environment from run.sh: KUBECONFIG, KUBECTL (path), TKN (path), REPO (repository root).

KUBECTL=${KUBECTL:-kubectl}
TKN=${TKN:-tkn}
E2E_TEST=$(basename "${0%_test.sh}")
E2E_TEST=${E2E_TEST//_/-}

ok() { echo "ok $1"; }

# not_ok NAME REASON...: the reason is folded onto one line, so run.sh sees one result per check.
not_ok() {
    local name=$1
    shift
    echo "not ok $name: $(echo "$*" | tr '\n' ' ' | cut -c1-400)"
}

# check NAME CMD...: ok if CMD succeeds, else not ok with the last line CMD printed.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$(echo "$out" | tail -n 3)"; fi
}

# k ARGS...: kubectl in the test namespace.
k() { "$KUBECTL" -n "$NS" "$@"; }

e2e_cleanup() {
    [ -n "${NS:-}" ] && "$KUBECTL" delete namespace "$NS" --wait=false > /dev/null 2>&1
    return 0
}

# e2e_init: create the test's namespace and wait (bounded) for its default ServiceAccount,
# without which no pod can be created. Exits the test file if the cluster does not answer.
e2e_init() {
    NS=e2e-$E2E_TEST-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    trap e2e_cleanup EXIT
    if ! "$KUBECTL" create namespace "$NS" > /dev/null; then
        not_ok "$E2E_TEST/namespace" "cannot create namespace $NS"
        exit 1
    fi
    if ! wait_until 60 k get serviceaccount default; then
        not_ok "$E2E_TEST/namespace" "no default ServiceAccount in $NS after 60s"
        exit 1
    fi
}

# wait_until SECONDS CMD...: run CMD every second until it succeeds; 1 on timeout.
wait_until() {
    local t=$1 i
    shift
    for ((i = 0; i < t; i++)); do
        "$@" > /dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

# wait_pod_done POD SECONDS: wait until POD is Succeeded (0) or Failed (1) or SECONDS pass (2).
wait_pod_done() {
    local pod=$1 t=$2 i phase
    for ((i = 0; i < t; i++)); do
        phase=$(k get pod "$pod" -o jsonpath='{.status.phase}' 2>/dev/null || true)
        case $phase in
            Succeeded) return 0 ;;
            Failed) return 1 ;;
        esac
        sleep 1
    done
    return 2
}

# pod_why POD: one line on why POD is not done: phase plus each container's waiting/terminated
# reason and message, then the namespace's last warning event.
pod_why() {
    local s
    s=$(k get pod "$1" -o jsonpath='phase={.status.phase} {range .status.initContainerStatuses[*]}{.name}:{.state.waiting.reason}{.state.waiting.message}{.state.terminated.reason}/{.state.terminated.exitCode} {end}{range .status.containerStatuses[*]}{.name}:{.state.waiting.reason}{.state.waiting.message}{.state.terminated.reason}/{.state.terminated.exitCode} {end}' 2>&1)
    s="$s; last warning: $(k get events --field-selector type=Warning --sort-by=.lastTimestamp \
        -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}' 2>/dev/null | tail -n 1)"
    echo "$s"
}

# run_pod NAME IMAGE SCRIPT [EXTRA_SPEC_JSON]: create a pod that runs `sh -c SCRIPT` once
# (restartPolicy Never). EXTRA_SPEC_JSON is merged into .spec (volumes, serviceAccountName...);
# the container's volumeMounts may be given as EXTRA_SPEC_JSON's "_mounts".
run_pod() {
    local name=$1 image=$2 script=$3 extra=${4:-'{}'}
    jq -n --arg n "$name" --arg i "$image" --arg s "$script" --argjson x "$extra" '{
        apiVersion: "v1", kind: "Pod", metadata: {name: $n},
        spec: ({restartPolicy: "Never", terminationGracePeriodSeconds: 1,
                containers: [{name: "main", image: $i, command: ["sh", "-c", $s],
                              volumeMounts: ($x._mounts // [])}]}
               + ($x | del(._mounts)))}' | k create -f - > /dev/null
}

# expect_pod_output CHECK POD SECONDS WANT: the pod completes within SECONDS and its log contains
# the line WANT; prints ok/not ok for CHECK.
expect_pod_output() {
    local name=$1 pod=$2 t=$3 want=$4 r=0 logs
    wait_pod_done "$pod" "$t" || r=$?
    logs=$(k logs "$pod" 2>&1 || true)
    if [ $r = 0 ] && grep -qxF -- "$want" <<< "$logs"; then
        ok "$name"
    elif [ $r = 0 ]; then
        not_ok "$name" "pod $pod succeeded but its log lacks '$want': $(tail -n 3 <<< "$logs")"
    elif [ $r = 1 ]; then
        not_ok "$name" "pod $pod failed: $(pod_why "$pod"); log: $(tail -n 3 <<< "$logs")"
    else
        not_ok "$name" "pod $pod not done after ${t}s: $(pod_why "$pod")"
    fi
}
