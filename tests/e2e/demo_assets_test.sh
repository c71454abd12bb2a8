#!/usr/bin/env bash
# e2e-timeout: 2400
# The image-build walkthrough's assets, before any Pipeline: the images hack/build-demo-images.sh
# builds are in the registry under the names the manifests use, and a plain Pod clones the sample
# app from the node's git server (with the git-clone Task's git-init image) and builds it with the
# kaniko executor: Maven resolves through the node's Maven mirror, base images come from the node
# registry, the image and kaniko's layer cache are pushed to the node's writable registry. A second
# build of the same commit reuses the cached layers, and the built image runs.
# Cold (nothing built yet) the setup takes about 15 minutes on 2 cores; warm, seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REG=127.0.0.1:5000 NODE=10.240.0.1
KANIKO=gcr.io/kaniko-project/executor:v1.24.0
GITINIT=gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:v0.40.2

if ! out=$("$REPO/hack/build-demo-images.sh" 2>&1); then
    not_ok demo-assets/build-images "hack/build-demo-images.sh failed: $(tail -n 3 <<< "$out")"
    exit 1
fi
ok demo-assets/build-images
# reset: a walkthrough run before this one (make demo) leaves one-line changes in the repository
if ! out=$("$REPO/hack/demo/serve.sh" start 2>&1 && "$REPO/hack/demo/serve.sh" reset 2>&1); then
    not_ok demo-assets/serve "hack/demo/serve.sh start failed: $(tail -n 3 <<< "$out")"
    exit 1
fi
ok demo-assets/serve

# digest_of NAME:TAG: the manifest digest the local registry holds for NAME:TAG, or nothing.
digest_of() {
    curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REG/v2/${1%:*}/manifests/${1##*:}" |
        tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}

for img in "$KANIKO" gcr.io/kaniko-project/warmer:v1.24.0 "$GITINIT" \
    docker.io/library/maven:3.8-openjdk-17 docker.io/library/eclipse-temurin:17-jre \
    library/maven:3.8-openjdk-17 library/eclipse-temurin:17-jre docker.io/library/bash:latest; do
    if [ -n "$(digest_of "$img" || true)" ]; then ok "demo-assets/image $img"; else not_ok "demo-assets/image $img" "not in $REG"; fi
done

check demo-assets/git-server git ls-remote --exit-code "git://$NODE:9418/sample-app.git" main
check demo-assets/maven-mirror curl -sf -o /dev/null \
    "http://$NODE:8081/org/apache/commons/commons-lang3/3.14.0/commons-lang3-3.14.0.jar"

e2e_init
commit=$(git ls-remote "git://$NODE:9418/sample-app.git" main | cut -f1)
image=$NODE:5001/$NS/sample-app

# kaniko_pod NAME [basecache]: clone main with git-init into an emptyDir, then build and push it
# with kaniko and the layer cache; kaniko writes the pushed digest as the termination message.
# With `basecache`, base images come from the PVC basecache at /cache (kaniko --cache-dir).
kaniko_pod() {
    local bc=false
    [ "${2:-}" != basecache ] || bc=true
    jq -n --arg n "$1" --arg g "$GITINIT" --arg k "$KANIKO" --arg img "$image:$commit" \
        --arg cache "$image/cache" --arg node "$NODE" --argjson bc $bc '{
        apiVersion: "v1", kind: "Pod", metadata: {name: $n},
        spec: {restartPolicy: "Never", terminationGracePeriodSeconds: 1,
            volumes: [{name: "src", emptyDir: {}}, {name: "tekton", emptyDir: {}}],
            initContainers: [{name: "clone", image: $g,
                args: ["-url=git://\($node):9418/sample-app.git", "-revision=main",
                       "-path=/workspace/source"],
                env: [{name: "HOME", value: "/home/git"}],
                securityContext: {runAsUser: 65532},
                volumeMounts: [{name: "src", mountPath: "/workspace"},
                               {name: "tekton", mountPath: "/tekton"}]}],
            containers: [{name: "kaniko", image: $k,
                workingDir: "/workspace/source/sample-app",
                args: (["--dockerfile=Dockerfile", "--context=/workspace/source/sample-app/",
                       "--destination=\($img)", "--digest-file=/dev/termination-log",
                       "--insecure", "--insecure-pull", "--registry-mirror=\($node):5000",
                       "--cache=true", "--cache-repo=\($cache)"]
                      + (if $bc then ["--cache-dir=/cache"] else [] end)),
                securityContext: {runAsUser: 0},
                volumeMounts: ([{name: "src", mountPath: "/workspace"}]
                    + (if $bc then [{name: "basecache", mountPath: "/cache"}] else [] end))}]}}
        | if $bc then .spec.volumes += [{name: "basecache",
                persistentVolumeClaim: {claimName: "basecache"}}] else . end' |
        k create -f - > /dev/null
}

# build NAME [basecache]: run kaniko_pod NAME to completion and set SECS to the time it took;
# on failure report it (not ok) and return 1.
build() {
    local r=0 t0=$SECONDS
    if ! kaniko_pod "$1" "${2:-}"; then
        not_ok "demo-assets/$1" "cannot create pod $1"
        return 1
    fi
    wait_pod_done "$1" 900 || r=$?
    if [ $r != 0 ]; then
        not_ok "demo-assets/$1" "pod $1: $(pod_why "$1"); log: $(k logs "$1" -c kaniko 2>&1 | tail -n 3)"
        return 1
    fi
    SECS=$((SECONDS - t0))
}

if build kaniko-first; then
    ok "demo-assets/kaniko-first (${SECS}s)"
    got=$(k get pod kaniko-first -o jsonpath='{.status.containerStatuses[0].state.terminated.message}')
    have=$(digest_of "$NS/sample-app:$commit" || true)
    if [ -n "$got" ] && [ "$got" = "$have" ]; then
        ok demo-assets/pushed-digest-matches-registry
    else
        not_ok demo-assets/pushed-digest-matches-registry "kaniko said '$got', $REG has '$have'"
    fi
    tags=$(curl -sf "http://$REG/v2/$NS/sample-app/cache/tags/list" | jq -r '.tags | length' 2>/dev/null || echo 0)
    if [ "${tags:-0}" -gt 0 ]; then ok demo-assets/layer-cache-pushed; else not_ok demo-assets/layer-cache-pushed "no tags under $NS/sample-app/cache"; fi

    if build kaniko-second; then
        ok "demo-assets/kaniko-second (${SECS}s)"
        hits=$(k logs kaniko-second -c kaniko 2>&1 | grep -c 'Using caching version of cmd' || true)
        if [ "$hits" -ge 2 ]; then
            ok "demo-assets/second-build-hits-layer-cache ($hits RUN layers)"
        else
            not_ok demo-assets/second-build-hits-layer-cache "$hits cached RUN layers in kaniko-second's log, want 2"
        fi
    fi

    # Base-image cache: the warmer (as manifests/examples/warmer-pod.yaml runs it) fills a PVC,
    # and a build with --cache-dir takes both base images from it.
    k create -f - > /dev/null <<EOC
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: basecache}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
EOC
    sed 's/claimName: basecache-pvc/claimName: basecache/' "$REPO/manifests/examples/warmer-pod.yaml" |
        k create -f - > /dev/null
    if wait_pod_done kaniko-warmer 300; then
        ok demo-assets/warmer-fills-basecache
    else
        not_ok demo-assets/warmer-fills-basecache "$(pod_why kaniko-warmer); log: $(k logs kaniko-warmer 2>&1 | tail -n 2)"
    fi
    if build kaniko-basecache basecache; then
        ok "demo-assets/kaniko-basecache (${SECS}s)"
        hits=$(k logs kaniko-basecache -c kaniko 2>&1 | grep -c 'Found manifest at /cache/' || true)
        if [ "$hits" -ge 2 ]; then
            ok "demo-assets/base-images-from-pvc ($hits)"
        else
            not_ok demo-assets/base-images-from-pvc "$hits base images read from /cache, want 2"
        fi
    fi

    # The image runs: containerd pulls the pushed name from the shared registry storage.
    jq -n --arg i "$image:$commit" '{apiVersion: "v1", kind: "Pod", metadata: {name: "app"},
        spec: {restartPolicy: "Never", containers: [{name: "app", image: $i, args: ["e2e"]}]}}' |
        k create -f - > /dev/null
    expect_pod_output demo-assets/built-image-runs app 180 '{"greeting":"Hello from tektite","builtBy":"e2e"}'
fi

# Leave no test images behind in the shared registry.
for ref in "$NS/sample-app:$commit"; do
    d=$(digest_of "$ref" || true)
    [ -z "$d" ] || curl -sf -X DELETE "http://$REG/v2/${ref%:*}/manifests/$d" > /dev/null || true
done
