#!/usr/bin/env bash
# demo.sh (make demo): the image-build walkthrough, end to end, as a Tekton user runs it.
#
#   1. the local cluster, with tektite deployed in it (hack/deploy.sh)
#   2. the walkthrough's images and node services (kaniko, git-init, Maven; git server, Maven
#      mirror, a writable registry for pods: hack/build-demo-images.sh, hack/demo/serve.sh)
#   3. the catalog git-clone Task (unchanged), our image-build Task and Pipeline, the PVCs
#   4. `tkn pipeline start pipeline-clone-and-build --workspace name=source,claimName=source-pvc
#      --showlog`: a first build, then after a one-line change a rebuild in each cache mode:
#      none, registry layer cache, + base images on a PVC, + dependencies on a PVC
#   5. `tkn taskrun list` and a table of image-build durations, each as a ratio of the uncached
#      rebuild
#
# DEMO_ROUNDS=N repeats each measured rebuild N times and reports the median (default 1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=${DEMO_ROUNDS:-1}
ns=${DEMO_NAMESPACE:-demo}

say() { printf '\n== %s\n' "$*"; }

say "dependencies and the local cluster"
"$here/install-deps.sh"
"$here/cluster-up.sh"
# shellcheck source=/dev/null
. /etc/kubernetes/env.sh
make -C "$repo" -s all

say "tektite, deployed like Tekton"
"$here/deploy.sh"

say "the walkthrough's images and node services"
"$here/build-demo-images.sh"
"$here/demo/serve.sh" start
"$here/demo/serve.sh" reset

say "Tasks, Pipeline and PVCs in namespace $ns"
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$ns" apply -f "$repo/manifests/catalog/git-clone-0.9.yaml"
kubectl -n "$ns" apply -f "$repo/manifests/examples/pvcs.yaml"
kubectl -n "$ns" apply -f "$repo/manifests/examples/pipeline.yaml"

# build LABEL: one `tkn pipeline start`, logs streamed; records the image-build TaskRun's
# duration (status startTime to completionTime) in $durations under LABEL.
durations=$(mktemp)
trap 'rm -f "$durations"' EXIT
build() {
    local label=$1 pr tr secs
    say "build: $label"
    tkn pipeline start pipeline-clone-and-build -n "$ns" \
        --workspace name=source,claimName=source-pvc --use-param-defaults --showlog
    pr=$(kubectl -n "$ns" get pipelineruns -o json |
        jq -r '.items | sort_by(.metadata.creationTimestamp) | last | .metadata.name')
    status=$(kubectl -n "$ns" get pipelinerun "$pr" -o jsonpath='{.status.conditions[0].status}')
    [ "$status" = True ] || { echo "demo: $pr did not succeed" >&2; exit 1; }
    tr=$(kubectl -n "$ns" get taskruns -l "tekton.dev/pipelineRun=$pr,tekton.dev/pipelineTask=build-image" \
        -o jsonpath='{.items[0].metadata.name}')
    secs=$(kubectl -n "$ns" get taskrun "$tr" -o json |
        jq -r '(.status.completionTime | fromdate) - (.status.startTime | fromdate)')
    echo "$label	$secs" >> "$durations"
}

# measured LABEL TASKFILE: switch the image-build Task, warm its cache with one build, then
# rebuild after a one-line change, $rounds times.
measured() {
    local label=$1 file=$2 i
    kubectl -n "$ns" apply -f "$repo/manifests/examples/$file"
    [ "$label" = "uncached" ] || build "$label (filling the cache)"
    for i in $(seq "$rounds"); do
        "$here/demo/change.sh" >/dev/null
        build "$label"
    done
}

kubectl -n "$ns" apply -f "$repo/manifests/examples/image-build-nocache.yaml"
build "first build"
measured "uncached" image-build-nocache.yaml
measured "registry layer cache" image-build-layer-cache.yaml
say "filling basecache-pvc with the kaniko warmer"
kubectl -n "$ns" delete pod kaniko-warmer --ignore-not-found >/dev/null
kubectl -n "$ns" apply -f "$repo/manifests/examples/warmer-pod.yaml"
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/kaniko-warmer --timeout=600s
measured "+ base images on a PVC" image-build-base-cache.yaml
measured "+ dependencies on a PVC" image-build-dep-cache.yaml

say "tkn taskrun list"
tkn taskrun list -n "$ns"

say "image-build TaskRun durations (median of $rounds; ratio to the uncached rebuild)"
awk -F'\t' '
    { n[$1]++; v[$1, n[$1]] = $2; if (!($1 in seen)) { order[++k] = $1; seen[$1] = 1 } }
    END {
        for (i = 1; i <= k; i++) {
            l = order[i]; m = n[l]
            for (a = 1; a <= m; a++) s[a] = v[l, a]
            for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
            med[l] = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
        }
        base = med["uncached"]
        printf "%-28s %10s %8s\n", "build", "seconds", "ratio"
        for (i = 1; i <= k; i++) {
            l = order[i]
            printf "%-28s %10.0f %8s\n", l, med[l], base ? sprintf("%.2f", med[l] / base) : "-"
        }
    }' "$durations"
