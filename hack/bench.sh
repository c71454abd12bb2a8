#!/usr/bin/env bash
# bench.sh: tektite's own figures on the local cluster (make bench). Figures only: nothing here
# asserts a time. Prints a table and writes it to build/bench/results.md.
#
#   TaskRun   one-step create -> Succeeded (median of N), ten-step hand-off (median), reconciles
#             and API writes per TaskRun, controller CPU and peak RSS over 200 concurrent runs
#   client    controller RSS idle and with 10,000 objects in its informers, time to list+sync them
#             and the API requests sent until the caches were synced
#
# Needs the cluster (hack/cluster-up.sh) and `make all`. BENCH_N (10), BENCH_CONCURRENT (200) and
# BENCH_OBJECTS (10000) scale it down for a quick look.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
. "$here/bench-lib.sh"
N=${BENCH_N:-10}
CONCURRENT=${BENCH_CONCURRENT:-200}
OBJECTS=${BENCH_OBJECTS:-10000}
export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.kubeconfig}
K=${KUBECTL:-$LC_BIN/k8s-$K8S_VERSION-$GOV/kubectl}
out=$repo/build/bench
mkdir -p "$out"
log=$out/controller.log
ns=bench-$RANDOM

ctl_pid=
start_controller() {
    "$repo/build/tektite-controller" --kubeconfig "$KUBECONFIG" --entrypoint-image "$image" \
        >"$log" 2>&1 &
    ctl_pid=$!
    for _ in $(seq 600); do grep -q '"caches synced"' "$log" && return 0; sleep 0.1; done
    echo "bench: the controller did not sync in 60s; see $log" >&2
    return 1
}
stop_controller() {
    [ -n "$ctl_pid" ] || return 0
    kill -TERM "$ctl_pid" 2>/dev/null || true
    wait "$ctl_pid" 2>/dev/null || true
    ctl_pid=
}
cleanup() {
    stop_controller
    "$K" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT


# seconds between creationTimestamp and the Succeeded transition, ms resolution from the
# controller's view is not available in the API, so use our own clock around kubectl.
wait_succeeded() {
    local name=$1 bound=$2
    for _ in $(seq $((bound * 20))); do
        s=$("$K" -n "$ns" get taskrun "$name" -o jsonpath='{.status.conditions[0].status}' 2>/dev/null || true)
        [ "$s" = True ] && return 0
        [ "$s" = False ] && return 1
        sleep 0.05
    done
    return 1
}

pkill -f "$repo/build/tektite-controller" 2>/dev/null || true
"$K" apply -f "$repo/crds/" >/dev/null
"$K" create namespace tekton-pipelines --dry-run=client -o yaml | "$K" apply -f - >/dev/null
image=$("$here/image-tektite.sh")
"$K" create namespace "$ns" >/dev/null
for _ in $(seq 60); do "$K" -n "$ns" get sa default >/dev/null 2>&1 && break; sleep 1; done

start_controller
pid=$ctl_pid
sleep 2
idle_rss=$(rss_kb "$pid")

# 1. one-step TaskRun, create -> Succeeded
for i in $(seq "$N"); do
    t0=$(date +%s%N)
    one_step_yaml "one-$i" | "$K" -n "$ns" create -f - >/dev/null
    wait_succeeded "one-$i" 120 || echo "bench: one-$i did not succeed" >&2
    echo $((($(date +%s%N) - t0) / 1000000))
done > "$out/one-step.ms"
one_step=$(median < "$out/one-step.ms")

# 2. ten-step TaskRun: each step stamps its start; hand-off = next start - previous start
ten_step_yaml ten | "$K" -n "$ns" create -f - >/dev/null
wait_succeeded ten 120 || echo "bench: ten did not succeed" >&2
"$K" -n "$ns" logs ten-pod -c step-s9 | awk 'NR > 1 {print int(($1 - prev) / 1000)} {prev = $1}' > "$out/handoff.us"
handoff=$(median < "$out/handoff.us")

# 3. reconciles and writes per TaskRun, CPU and peak RSS over $CONCURRENT concurrent runs
stop_controller
start_controller
pid=$ctl_pid
cpu0=$(cpu_ticks "$pid")
for i in $(seq "$CONCURRENT"); do one_step_yaml "many-$i"; done > "$out/many.yaml"
t0=$(date +%s)
"$K" -n "$ns" create -f "$out/many.yaml" >/dev/null
for _ in $(seq 1800); do
    done_count=$("$K" -n "$ns" get taskruns -o json | jq '[.items[] | select(.metadata.name | startswith("many-")) | select(.status.conditions[0].status == "True" or .status.conditions[0].status == "False")] | length')
    [ "$done_count" -ge "$CONCURRENT" ] && break
    sleep 1
done
many_s=$(($(date +%s) - t0))
cpu_s=$(echo "($(cpu_ticks "$pid") - $cpu0) / $(getconf CLK_TCK)" | bc -l)
peak_rss=$(hwm_kb "$pid")
stop_controller
read -r reconciles writes < <(grep '"taskrun controller stopping"' "$log" | jq -r '"\(.reconciles) \(.writes)"')

# 4. informer RSS and sync time with $OBJECTS extra objects (Tasks: cached, never reconciled)
for i in $(seq "$OBJECTS"); do
    printf -- '---\napiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t-%d}\nspec:\n  steps:\n  - {name: s, image: busybox, script: "echo %d"}\n' "$i" "$i"
done > "$out/tasks.yaml"
"$K" -n "$ns" create -f "$out/tasks.yaml" >/dev/null
start_controller
pid=$ctl_pid
sync_ms=$(grep '"caches synced"' "$log" | jq -r .ms)
sync_objects=$(grep '"caches synced"' "$log" | jq -r .objects)
sync_requests=$(grep '"caches synced"' "$log" | jq -r .api_requests)
sleep 2
full_rss=$(rss_kb "$pid")
stop_controller

{
    echo "| figure | value |"
    echo "|---|---|"
    echo "| one-step TaskRun create -> Succeeded, median of $N | $one_step ms |"
    echo "| step hand-off, median over a 10-step TaskRun | $handoff us |"
    echo "| $CONCURRENT concurrent one-step TaskRuns, all done | $many_s s |"
    echo "| reconciles per TaskRun ($CONCURRENT runs) | $(echo "scale=2; $reconciles / $CONCURRENT" | bc) |"
    echo "| API writes per TaskRun ($CONCURRENT runs) | $(echo "scale=2; $writes / $CONCURRENT" | bc) |"
    echo "| controller CPU over the $CONCURRENT runs | $(printf '%.2f' "$cpu_s") s |"
    echo "| controller peak RSS over the $CONCURRENT runs | $((peak_rss / 1024)) MiB |"
    echo "| controller RSS idle | $((idle_rss / 1024)) MiB |"
    echo "| controller RSS with $sync_objects objects cached | $((full_rss / 1024)) MiB |"
    echo "| list + sync of $sync_objects objects at start | $sync_ms ms |"
    echo "| API requests sent until then (list pages, watches, leases) | $sync_requests |"
} | tee "$out/results.md"
