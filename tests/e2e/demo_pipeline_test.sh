#!/usr/bin/env bash
# e2e-timeout: 3000
# The image-build walkthrough's Pipeline under tektite deployed in the cluster (hack/deploy.sh),
# run twice as a user runs it: the catalog git-clone Task and manifests/examples/ applied
# unchanged, image-build in its all-caches form (registry layer cache, base images from
# basecache-pvc filled by the kaniko warmer, Maven's repository on m2-pvc at /root/.m2), the
# first run started with `tkn pipeline start --showlog`, the second after a one-line change.
# Checked: both PipelineRuns succeed; IMAGE_DIGEST and IMAGE_URL are in the build-image TaskRun's
# and the PipelineRun's results; IMAGE_URL is the image tagged with the cloned commit and the
# registry holds it under IMAGE_DIGEST; the build Pod mounts the three PVCs; the first build
# finds no cached layer and the second reuses the dependency layer (kaniko: "Using caching
# version of cmd"); both read the base images from /cache; the PVCs hold data afterwards; the
# rebuilt image runs and prints the changed greeting.
#
# Deploying tektite is cluster-wide, so from the deploy to the undeploy this file holds
# /tmp/tektite-cluster.lock exclusively (waiting at most 1800 s for it; in CI, where the e2e files
# run one after another, nobody else holds it). Run it directly (make e2e E2E_FILTER=demo), not
# under an outer `flock -x` of the same file, which would deadlock; a caller that already holds
# the exclusive lock sets TEKTITE_CLUSTER_LOCK_HELD=1. At exit the cluster is left as found:
# hack/undeploy.sh, the namespace deleted, the sample repository reset.
# Warm (images built, Maven mirror filled) it takes about 5 minutes on 2 cores; cold, the images
# take about 20 more (hack/build-demo-images.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
. "$here/lib.sh"

T=demo-pipeline
REG=127.0.0.1:5000 NODE=10.240.0.1
LOCK=/tmp/tektite-cluster.lock
EX=$REPO/manifests/examples
LOG=$REPO/build/e2e/demo-pipeline
mkdir -p "$LOG"

if [ -z "$TKN" ] || [ ! -x "$TKN" ]; then
    not_ok $T/tkn "no tkn binary (TKN='$TKN'); hack/build-k8s.sh tkn builds it"
    exit 1
fi

# ---- what needs no cluster-wide change: images, node services (no lock) --------------------
if ! out=$("$REPO/hack/build-demo-images.sh" 2>&1); then
    not_ok $T/build-images "hack/build-demo-images.sh failed: $(tail -n 3 <<< "$out")"
    exit 1
fi
# before the lock is taken: the services it starts would inherit the lock's descriptor
if ! out=$("$REPO/hack/demo/serve.sh" start 2>&1); then
    not_ok $T/serve "hack/demo/serve.sh start failed: $(tail -n 3 <<< "$out")"
    exit 1
fi

# ---- the exclusive part ----------------------------------------------------------------------
# digest_of NAME:TAG: the manifest digest the local registry holds for NAME:TAG, or nothing.
digest_of() {
    curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REG/v2/${1%:*}/manifests/${1##*:}" |
        tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}

# the namespace first: e2e_init sets its own EXIT trap, which cleanup replaces (and calls)
e2e_init
IMAGE=$NODE:5001/$NS/sample-app
locked=false deployed=false
cleanup() {
    if $deployed; then
        "$KUBECTL" -n tekton-pipelines logs deploy/tekton-pipelines-controller --tail=-1 \
            > "$LOG/controller.log" 2>&1 || true
        if KUBECTL=$KUBECTL "$REPO/hack/undeploy.sh" > "$LOG/undeploy.log" 2>&1; then
            ok $T/undeploy
        else
            not_ok $T/undeploy "hack/undeploy.sh failed: $(tail -n 2 "$LOG/undeploy.log")"
        fi
    fi
    if [ -n "${NS:-}" ]; then
        # the pushed image and its layer cache are this namespace's alone
        for repo in "$NS/sample-app" "$NS/sample-app/cache"; do
            curl -sf "http://$REG/v2/$repo/tags/list" | jq -r '.tags[]?' 2> /dev/null | while read -r tag; do
                d=$(digest_of "$repo:$tag")
                [ -z "$d" ] || curl -sf -X DELETE "http://$REG/v2/$repo/manifests/$d" > /dev/null || true
            done
        done
    fi
    # the sample repository is shared with make demo, which resets it under the lock too
    ! $locked || "$REPO/hack/demo/serve.sh" reset > /dev/null 2>&1 || true
    e2e_cleanup
}
trap cleanup EXIT
trap 'exit 143' TERM INT

if [ "${TEKTITE_CLUSTER_LOCK_HELD:-}" != 1 ]; then
    exec 9> "$LOCK"
    if ! flock -x -w 1800 9; then
        not_ok $T/lock "$LOCK still held by someone else after 1800s"
        exit 1
    fi
fi
locked=true

if ! out=$("$REPO/hack/demo/serve.sh" reset 2>&1); then
    not_ok $T/reset "hack/demo/serve.sh reset failed: $(tail -n 3 <<< "$out")"
    exit 1
fi
deployed=true
if KUBECTL=$KUBECTL DEPLOY_TIMEOUT=180 "$REPO/hack/deploy.sh" > "$LOG/deploy.log" 2>&1; then
    ok $T/deploy
else
    not_ok $T/deploy "hack/deploy.sh failed: $(tail -n 4 "$LOG/deploy.log")"
    exit 1
fi

if ! out=$(k apply -f "$REPO/manifests/catalog/git-clone-0.9.yaml" -f "$EX/pvcs.yaml" \
    -f "$EX/pipeline.yaml" -f "$EX/image-build-dep-cache.yaml" 2>&1); then
    not_ok $T/apply "kubectl apply failed: $out"
    exit 1
fi
ok $T/apply

k create -f "$EX/warmer-pod.yaml" > /dev/null
if wait_pod_done kaniko-warmer 300; then
    ok $T/warmer
else
    not_ok $T/warmer "$(pod_why kaniko-warmer); log: $(k logs kaniko-warmer 2>&1 | tail -n 2)"
    exit 1
fi

tkn() { "$TKN" -n "$NS" "$@" < /dev/null; }

# wait_pr PR SECONDS: until PR's Succeeded condition is True or False; prints that status.
wait_pr() {
    local i st=
    for ((i = 0; i < $2; i++)); do
        st=$(k get pipelinerun "$1" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}' 2> /dev/null)
        [ "$st" = True ] || [ "$st" = False ] && break
        sleep 1
    done
    echo "$st"
}

# check_run N PR COMMIT: the checks one finished run must pass; sets DIGEST and BUILD_POD.
check_run() {
    local n=$1 pr=$2 commit=$3 st tr url prd pru have
    st=$(wait_pr "$pr" 900)
    if [ "$st" != True ]; then
        not_ok "$T/run$n-succeeded" "PipelineRun $pr: Succeeded='$st': $(k get pipelinerun "$pr" \
            -o jsonpath='{.status.conditions[0].reason}: {.status.conditions[0].message}' 2>&1)"
        return 1
    fi
    ok "$T/run$n-succeeded"
    tr=$(k get taskrun -l "tekton.dev/pipelineRun=$pr,tekton.dev/pipelineTask=build-image" -o json)
    DIGEST=$(jq -r '.items[0].status.results[]? | select(.name == "IMAGE_DIGEST") | .value' <<< "$tr")
    url=$(jq -r '.items[0].status.results[]? | select(.name == "IMAGE_URL") | .value' <<< "$tr")
    BUILD_POD=$(jq -r '.items[0].status.podName // empty' <<< "$tr")
    prd=$(k get pipelinerun "$pr" -o jsonpath='{.status.results[?(@.name=="IMAGE_DIGEST")].value}')
    pru=$(k get pipelinerun "$pr" -o jsonpath='{.status.results[?(@.name=="IMAGE_URL")].value}')
    if [[ $DIGEST =~ ^sha256:[0-9a-f]{64}$ ]] && [ "$url" = "$IMAGE:$commit" ]; then
        ok "$T/run$n-taskrun-results"
    else
        not_ok "$T/run$n-taskrun-results" "IMAGE_DIGEST='$DIGEST' IMAGE_URL='$url', want a sha256 digest and '$IMAGE:$commit'"
    fi
    if [ "$prd" = "$DIGEST" ] && [ "$pru" = "$url" ]; then
        ok "$T/run$n-pipelinerun-results"
    else
        not_ok "$T/run$n-pipelinerun-results" "PipelineRun has IMAGE_DIGEST='$prd' IMAGE_URL='$pru', its TaskRun '$DIGEST' '$url'"
    fi
    have=$(digest_of "$NS/sample-app:$commit" || true)
    if [ -n "$have" ] && [ "$have" = "$DIGEST" ]; then
        ok "$T/run$n-image-in-registry"
    else
        not_ok "$T/run$n-image-in-registry" "$REG has '$have' for $NS/sample-app:$commit, IMAGE_DIGEST is '$DIGEST'"
    fi
    k logs "$BUILD_POD" -c step-build-and-push > "$LOG/run$n-kaniko.log" 2>&1 || true
    if [ "$(grep -c 'Found manifest at /cache/' "$LOG/run$n-kaniko.log")" -ge 2 ]; then
        ok "$T/run$n-base-images-from-basecache-pvc"
    else
        not_ok "$T/run$n-base-images-from-basecache-pvc" "kaniko read fewer than 2 base images from /cache: $(tail -n 2 "$LOG/run$n-kaniko.log")"
    fi
}

# ---- run 1: as the walkthrough's first build, with tkn --showlog ---------------------------
commit1=$(git ls-remote "git://$NODE:9418/sample-app.git" main | cut -f1)
timeout 900 "$TKN" -n "$NS" pipeline start pipeline-clone-and-build --use-param-defaults \
    -p "IMAGE=$IMAGE" --workspace name=source,claimName=source-pvc --showlog \
    < /dev/null > "$LOG/run1-showlog.txt" 2>&1
rc=$?
pr1=$(sed -n 's/^PipelineRun started: //p' "$LOG/run1-showlog.txt" | head -n 1)
if [ $rc = 0 ] && [ -n "$pr1" ] && grep -q '^\[fetch-source : clone\]' "$LOG/run1-showlog.txt" &&
    grep -q "^\[build-image : build-and-push\] .*Pushed $IMAGE" "$LOG/run1-showlog.txt"; then
    ok $T/run1-tkn-showlog
else
    not_ok $T/run1-tkn-showlog "tkn exited $rc; its output lacks the clone or the push: $(tail -n 3 "$LOG/run1-showlog.txt")"
fi
[ -n "$pr1" ] || exit 1
check_run 1 "$pr1" "$commit1" || exit 1
pod1=$BUILD_POD digest1=$DIGEST
if grep -q 'Using caching version of cmd' "$LOG/run1-kaniko.log"; then
    not_ok $T/run1-no-cached-layers "the first build of a fresh cache repository used a cached layer"
elif grep -q 'No cached layer found for cmd RUN mvn -B -s settings.xml dependency:go-offline' "$LOG/run1-kaniko.log"; then
    ok $T/run1-no-cached-layers
else
    not_ok $T/run1-no-cached-layers "kaniko did not look up the dependency layer: $(grep -i cach "$LOG/run1-kaniko.log" | tail -n 2)"
fi
vols=$(k get pod "$pod1" -o json | jq -r '[.spec.volumes[].persistentVolumeClaim.claimName // empty] | sort | join(" ")')
if [ "$vols" = "basecache-pvc m2-pvc source-pvc" ]; then
    ok $T/build-pod-mounts-pvcs
else
    not_ok $T/build-pod-mounts-pvcs "build Pod $pod1 claims '$vols', want basecache-pvc m2-pvc source-pvc"
fi
mounts=$(k get pod "$pod1" -o json | jq -r '.spec.containers[] | select(.name == "step-build-and-push") | [.volumeMounts[].mountPath] | join(" ")')
if [[ " $mounts " == *" /cache "* && " $mounts " == *" /root/.m2 "* ]]; then
    ok $T/build-step-mounts-caches
else
    not_ok $T/build-step-mounts-caches "step-build-and-push mounts '$mounts', want /cache and /root/.m2"
fi

# ---- run 2: after a one-line change ----------------------------------------------------------
greeting="hello from $NS"
if ! commit2=$("$REPO/hack/demo/change.sh" "$greeting" 2>&1); then
    not_ok $T/change "hack/demo/change.sh failed: $commit2"
    exit 1
fi
if ! pr2=$(tkn pipeline start pipeline-clone-and-build --use-param-defaults -p "IMAGE=$IMAGE" \
    --workspace name=source,claimName=source-pvc -o json | jq -re .metadata.name); then
    not_ok $T/run2-start "tkn pipeline start failed"
    exit 1
fi
check_run 2 "$pr2" "$commit2" || exit 1
if [ "$DIGEST" != "$digest1" ]; then
    ok $T/run2-new-digest
else
    not_ok $T/run2-new-digest "the changed source built the same image $DIGEST"
fi
hits=$(grep 'Using caching version of cmd' "$LOG/run2-kaniko.log")
if grep -q 'dependency:go-offline' <<< "$hits" && ! grep -q 'mvn -B -s settings.xml package' <<< "$hits"; then
    ok $T/run2-reuses-dependency-layer
else
    not_ok $T/run2-reuses-dependency-layer "want the go-offline layer from the cache and package rebuilt; kaniko: '$hits'"
fi

tkn taskrun list > "$LOG/taskrun-list.txt" 2>&1
if [ "$(grep -c 'Succeeded' "$LOG/taskrun-list.txt")" = 4 ]; then
    ok $T/tkn-taskrun-list
else
    not_ok $T/tkn-taskrun-list "want 4 Succeeded TaskRuns: $(cat "$LOG/taskrun-list.txt")"
fi

# ---- afterwards: the caches hold data, the new image carries the change ---------------------
# shellcheck disable=SC2016 # expanded in the pod
run_pod inspect mirror.gcr.io/busybox \
    'echo "m2 $(find /m2 -name "*.jar" | wc -l)"; echo "base $(ls /base | grep -c "^sha256:")"' \
    '{"_mounts": [{"name": "m2", "mountPath": "/m2"}, {"name": "base", "mountPath": "/base"}],
      "volumes": [{"name": "m2", "persistentVolumeClaim": {"claimName": "m2-pvc"}},
                  {"name": "base", "persistentVolumeClaim": {"claimName": "basecache-pvc"}}]}'
wait_pod_done inspect 180
counts=$(k logs inspect 2>&1)
m2=$(awk '$1 == "m2" {print $2}' <<< "$counts")
base=$(awk '$1 == "base" {print $2}' <<< "$counts")
if [ "${m2:-0}" -gt 10 ]; then ok "$T/m2-pvc-holds-jars ($m2)"; else not_ok $T/m2-pvc-holds-jars "m2-pvc: '$counts'"; fi
if [ "${base:-0}" -ge 2 ]; then ok "$T/basecache-pvc-holds-images ($base)"; else not_ok $T/basecache-pvc-holds-images "basecache-pvc: '$counts'"; fi

jq -n --arg i "$IMAGE:$commit2" '{apiVersion: "v1", kind: "Pod", metadata: {name: "app"},
    spec: {restartPolicy: "Never", containers: [{name: "app", image: $i, args: ["e2e"]}]}}' |
    k create -f - > /dev/null
expect_pod_output $T/rebuilt-image-runs-the-change app 180 "{\"greeting\":\"Hello from $NS\",\"builtBy\":\"e2e\"}"
