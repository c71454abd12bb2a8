#!/usr/bin/env bash
# bench-reconciles.sh [N]: reconcile passes and API writes per one-step TaskRun, from the
# controller's own counters ("taskrun controller stopping" log line), with a host controller
# that watches one throwaway namespace only, so it is safe on the shared cluster. Run it under
# the shared lock:  flock -s /tmp/tektite-cluster.lock hack/bench-reconciles.sh 20
# Prints one line: runs, reconciles/run, writes/run, events/run, seconds until all were done.
# CONTROLLER_BIN runs another build (an older commit, to compare). A figure, never a test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
N=${1:-20}
export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.kubeconfig}
K=${KUBECTL:-$(command -v kubectl)}
ns=bench-rec-$RANDOM
log=$repo/build/bench/reconciles-controller.log
mkdir -p "$(dirname "$log")"
image=$("$here/image-tektite.sh")
"$K" create namespace "$ns" > /dev/null
pid=
cleanup() {
    [ -z "$pid" ] || kill -TERM "$pid" 2> /dev/null || true
    "$K" delete namespace "$ns" --wait=false > /dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 60); do "$K" -n "$ns" get serviceaccount default > /dev/null 2>&1 && break; sleep 1; done
"${CONTROLLER_BIN:-$repo/build/tektite-controller}" --kubeconfig "$KUBECONFIG" --entrypoint-image "$image" \
    --namespace "$ns" --log-level "${LOG_LEVEL:-info}" > "$log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q '"caches synced"' "$log" && break; sleep 0.1; done
for i in $(seq "$N"); do
    printf -- '---\napiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: one-%d}\nspec:\n  taskSpec:\n    steps:\n    - {name: s, image: mirror.gcr.io/busybox, command: ["true"]}\n' "$i"
done | "$K" -n "$ns" create -f - > /dev/null
t0=$(date +%s)
for _ in $(seq 600); do
    n=$("$K" -n "$ns" get taskruns -o json |
        jq '[.items[] | select(.status.conditions[0].status == "True" or .status.conditions[0].status == "False")] | length')
    [ "$n" -ge "$N" ] && break
    sleep 1
done
took=$(($(date +%s) - t0))
sleep 5 # the Pods' last changes after the runs are done count too
kill -TERM "$pid"
wait "$pid" 2> /dev/null || true
pid=
read -r reconciles writes < <(grep '"taskrun controller stopping"' "$log" | jq -r '"\(.reconciles) \(.writes)"')
events=$("$K" -n "$ns" get events --field-selector involvedObject.kind=TaskRun -o name | wc -l)
echo "runs=$N reconciles/run=$(echo "scale=2; $reconciles / $N" | bc)" \
    "writes/run=$(echo "scale=2; $writes / $N" | bc) events/run=$(echo "scale=2; $events / $N" | bc)" \
    "done_in=${took}s"
