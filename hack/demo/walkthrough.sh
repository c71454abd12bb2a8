#!/usr/bin/env bash
# walkthrough.sh [RUNS]: the image-build walkthrough of docs/demo.md, against the running cluster
# and a running tektite (this script deploys neither: `make demo` brings both up first).
# In namespace $DEMO_NS (default tektite-demo, recreated so the cache PVCs start empty) it runs
# pipeline-clone-and-build in each cache mode, RUNS times per measured mode (default 3), a
# one-line change (change.sh) before every measured build, then prints `tkn taskrun list` and
# the median image-build TaskRun duration per mode with its ratio to the uncached rebuild.
#   first build          image-build-nocache, the repository as reset by serve.sh
#   uncached rebuild     image-build-nocache after a change
#   + layer cache        image-build-layer-cache (one unmeasured build fills the cache first)
#   + base-image cache   image-build-base-cache, basecache-pvc filled by warmer-pod.yaml
#   + dependency cache   image-build-dep-cache (one unmeasured build fills m2-pvc first)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
LC_PROG=demo
repo=$(cd "$here/../.." && pwd)
RUNS=${1:-3}
NS=${DEMO_NS:-tektite-demo}
KUBECTL=${KUBECTL:-$LC_STATE/bin/kubectl}
TKN=${TKN:-$LC_STATE/bin/tkn}
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_ADMIN}
IMAGE=$NODE_IP:5001/$NS/sample-app
# DEMO_EXAMPLES: another directory of the same manifests (e.g. edited copies to try a change)
ex=${DEMO_EXAMPLES:-$repo/manifests/examples}
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || lc_die "RUNS must be a number from 1 to 99, not '$RUNS'"
[ -x "$TKN" ] || lc_die "no tkn at $TKN (hack/build-k8s.sh tkn)"

k() { "$KUBECTL" -n "$NS" "$@"; }

"$repo/hack/build-demo-images.sh"
"$here/serve.sh" start
"$here/serve.sh" reset

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
lc_say "fresh namespace $NS"
"$KUBECTL" delete namespace "$NS" --ignore-not-found --wait=false > /dev/null
wait_for 180 "namespace $NS to go" sh -c "! '$KUBECTL' get namespace '$NS'" || exit 1
"$KUBECTL" create namespace "$NS" > /dev/null
wait_for 60 "default ServiceAccount in $NS" k get serviceaccount default || exit 1
k apply -f "$repo/manifests/catalog/git-clone-0.9.yaml" -f "$ex/pvcs.yaml" -f "$ex/pipeline.yaml" > /dev/null

declare -A secs # "MODE RUN" -> seconds

# build MODE RUN: start the Pipeline, wait for it (at most 15 minutes), record the duration of its
# build-image TaskRun. Logs are shown for the first build only (Maven is verbose).
build() {
    local mode=$1 run=$2 pr status i d tr log layers bases
    if [ "$mode" = first ] && [ "$run" = 1 ]; then
        # bounded: --showlog waits for the PipelineRun's status, forever if no controller writes it
        timeout --foreground 900 "$TKN" -n "$NS" pipeline start pipeline-clone-and-build \
            --use-param-defaults -p "IMAGE=$IMAGE" --workspace name=source,claimName=source-pvc \
            --showlog || lc_die "tkn pipeline start --showlog failed or ran past 900s (is tektite running?)"
        pr=$(k get pipelinerun --sort-by=.metadata.creationTimestamp -o name | tail -n 1)
        pr=${pr#*/}
    else
        pr=$("$TKN" -n "$NS" pipeline start pipeline-clone-and-build --use-param-defaults \
            -p "IMAGE=$IMAGE" --workspace name=source,claimName=source-pvc -o json |
            jq -r .metadata.name) || lc_die "tkn pipeline start failed"
    fi
    for ((i = 0; i < 900; i++)); do
        status=$(k get pipelinerun "$pr" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}' 2>/dev/null || true)
        [ "$status" = True ] || [ "$status" = False ] && break
        sleep 1
    done
    [ "$status" = True ] ||
        lc_die "PipelineRun $pr: ${status:-no status after 900s (is tektite running?)}: $(k get pipelinerun "$pr" -o jsonpath='{.status.conditions[0].message}' 2>&1)"
    tr=$(k get taskrun -l "tekton.dev/pipelineRun=$pr,tekton.dev/pipelineTask=build-image" -o json)
    d=$(jq -r '.items[0].status | ((.completionTime | sub("\\.[0-9]+";"") | fromdateiso8601) - (.startTime | sub("\\.[0-9]+";"") | fromdateiso8601))' <<< "$tr")
    secs["$mode $run"]=$d
    # what kaniko says it took from a cache: RUN layers from the registry, base images from /cache
    log=$(k logs "$(jq -r '.items[0].status.podName' <<< "$tr")" -c step-build-and-push 2>&1 || true)
    layers=$(grep -c 'Using caching version of cmd' <<< "$log" || true)
    bases=$(grep -c 'Found manifest at /cache/' <<< "$log" || true)
    lc_say "$mode, run $run: $pr, image-build ${d}s, cached: $layers RUN layer(s), $bases base image(s);" \
        "$(k get pipelinerun "$pr" -o jsonpath='{.status.results[?(@.name=="IMAGE_URL")].value}')"
}

# measure MODE: RUNS times, a one-line change then a build.
measure() {
    local r
    for ((r = 1; r <= RUNS; r++)); do
        "$here/change.sh" > /dev/null
        build "$1" "$r"
    done
}

k apply -f "$ex/image-build-nocache.yaml" > /dev/null
for ((r = 1; r <= RUNS; r++)); do build first "$r"; done
measure uncached

k apply -f "$ex/image-build-layer-cache.yaml" > /dev/null
build layer-fill 1
measure layer

k delete pod kaniko-warmer --ignore-not-found > /dev/null
k create -f "$ex/warmer-pod.yaml" > /dev/null
wait_for 300 "the kaniko warmer" sh -c "[ \"\$('$KUBECTL' -n '$NS' get pod kaniko-warmer -o jsonpath='{.status.phase}')\" = Succeeded ]" ||
    lc_die "warmer: $(k logs kaniko-warmer 2>&1 | tail -n 3)"
k apply -f "$ex/image-build-base-cache.yaml" > /dev/null
measure base

k apply -f "$ex/image-build-dep-cache.yaml" > /dev/null
"$here/change.sh" > /dev/null
build dep-fill 1
measure dep

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
"$TKN" -n "$NS" taskrun list

median() { # median MODE
    local r
    for ((r = 1; r <= RUNS; r++)); do echo "${secs["$1 $r"]}"; done | sort -n |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
base=$(median uncached)
runs_line=
for m in first uncached layer base dep; do
    runs_line+="$m $(for ((r = 1; r <= RUNS; r++)); do echo -n "${secs["$m $r"]}s "; done | sed 's/ $//'), "
done
runs_line=${runs_line%, }
echo
printf '%-34s %10s %8s\n' "image-build TaskRun (median of $RUNS)" seconds ratio
for m in "first:first build" "uncached:rebuild after a change, uncached" "layer:+ registry layer cache" \
    "base:+ base-image PVC cache" "dep:+ dependency PVC cache"; do
    med=$(median "${m%%:*}")
    printf '%-34s %10s %8s\n' "${m#*:}" "$med" "$(awk -v a="$med" -v b="$base" 'BEGIN {printf (b > 0) ? "%.2f" : "-", a / b}')"
done
echo "(ratio: against the uncached rebuild; each mode's runs: $runs_line)"
echo "($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $load_start at the start, $load_end at the end)"
echo
echo "tektite stays deployed and namespace $NS keeps the runs and the caches (kubectl -n $NS get pvc)."
echo "To remove them: hack/undeploy.sh; kubectl delete namespace $NS"
