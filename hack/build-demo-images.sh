#!/usr/bin/env bash
# build-demo-images.sh: build the images the image-build walkthrough (docs/demo.md) pulls, and
# push them to the local registry (127.0.0.1:5000, which must be running) under the names the
# manifests in manifests/examples/ and manifests/catalog/ use:
#   gcr.io/kaniko-project/executor:$KANIKO_VERSION (and :latest)   kaniko, from its Go module
#   gcr.io/kaniko-project/warmer:$KANIKO_VERSION (and :latest)     the base-image cache warmer
#   gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:$GITINIT_VERSION
#                                      the catalog git-clone 0.9 Task's default gitInitImage
#   docker.io/library/maven:3.8-openjdk-17     Debian's maven + openjdk-17-jdk-headless
#   docker.io/library/eclipse-temurin:17-jre   Debian's openjdk-17-jre-headless (a stand-in:
#                                              same Java 17, not the Temurin build)
# The Go programs are built into $LC_CACHE/bin/<name>-<version>-<go version>/ and the layers into
# $LC_CACHE/demo-images-r$DEMO_IMAGES_REV/, both written to .partial and renamed on success, so a
# warm run builds nothing and pushes nothing. The git-init image reuses hack/images.sh's deb-git
# layer (git, ca-certificates, openssh-client), so run that first (cluster-up.sh does).
# Usage: build-demo-images.sh [all|bins]      (bins = only the Go programs, no registry needed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
LC_PROG=demo-images

KANIKO_VERSION=${KANIKO_VERSION:-v1.24.0}     # the last GoogleContainerTools release
GITINIT_VERSION=${GITINIT_VERSION:-v0.40.2}   # what catalog git-clone 0.9 names
# Bump when a recipe below changes: it is part of the layer cache key.
DEMO_IMAGES_REV=${DEMO_IMAGES_REV:-1}
KANIKO_BIN=$LC_BIN/kaniko-$KANIKO_VERSION-$GOV
GITINIT_BIN=$LC_BIN/git-init-$GITINIT_VERSION-$GOV
W=$LC_CACHE/demo-images-r$DEMO_IMAGES_REV
BASE_LAYERS=$LC_CACHE/images-r$IMAGES_REV/layers
MAVEN_IMAGE=docker.io/library/maven:3.8-openjdk-17
JRE_IMAGE=docker.io/library/eclipse-temurin:17-jre
GITINIT_IMAGE=gcr.io/tekton-releases/github.com/tektoncd/pipeline/cmd/git-init:$GITINIT_VERSION
mkdir -p "$W/layers" "$W/oci" "$LC_CACHE/debootstrap-debs" "$LC_LOG"

# timed WHAT CMD...: run CMD and say how long it took (the walkthrough reports cold timings).
timed() {
    local what=$1 t0=$SECONDS
    shift
    "$@"
    lc_say "$what: $((SECONDS - t0))s"
}

# ---- Go programs ---------------------------------------------------------------------------

# kaniko has no replace directives, but `go install pkg@version` still asks the proxy for the
# module's version list (deprecation check), which the proxy refuses here; a wrapper module that
# requires the exact version avoids that. Version stamped as kaniko's Makefile does.
build_kaniko() {
    local out=$KANIKO_BIN w=$LC_CACHE/src/kaniko-$KANIKO_VERSION
    [ -x "$out/executor" ] && [ -x "$out/warmer" ] && return 0
    mkdir -p "$w"
    (
        cd "$w"
        printf 'module local/kaniko-build\n\ngo 1.26.0\n\nrequire github.com/GoogleContainerTools/kaniko %s\n\ntool (\n\tgithub.com/GoogleContainerTools/kaniko/cmd/executor\n\tgithub.com/GoogleContainerTools/kaniko/cmd/warmer\n)\n' \
            "$KANIKO_VERSION" > go.mod
        go mod tidy
        rm -rf "$out.partial"; mkdir -p "$out.partial"
        go build -trimpath -buildvcs=false \
            -ldflags "-s -w -X github.com/GoogleContainerTools/kaniko/pkg/version.version=$KANIKO_VERSION" \
            -o "$out.partial/" github.com/GoogleContainerTools/kaniko/cmd/executor \
            github.com/GoogleContainerTools/kaniko/cmd/warmer
        mv "$out.partial" "$out"
    )
}

# tektoncd/pipeline's go.mod replaces one module (a docs generator) with a fork; a wrapper module
# repeats the module => module replacements so the graph resolves, as build-k8s.sh does for tkn.
build_gitinit() {
    local out=$GITINIT_BIN w=$LC_CACHE/src/git-init-$GITINIT_VERSION
    [ -x "$out/git-init" ] && return 0
    mkdir -p "$w"
    (
        cd "$w"
        local modfile
        modfile=$(go mod download -json "github.com/tektoncd/pipeline@$GITINIT_VERSION" | jq -r .GoMod)
        {
            echo 'module local/git-init-build'; echo; echo 'go 1.26.0'
            echo; echo "require github.com/tektoncd/pipeline $GITINIT_VERSION"; echo
            awk '/^replace \(/{b=1; next} b&&/^\)/{b=0; next}
                 b{print "replace " $0; next} /^replace /{print}' "$modfile" |
                sed 's#//.*##' | grep -E '=> [^ .][^ ]* v[0-9]' || true
            echo; echo 'tool github.com/tektoncd/pipeline/cmd/git-init'
        } > go.mod
        go mod tidy
        rm -rf "$out.partial"; mkdir -p "$out.partial"
        go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$out.partial/git-init" \
            github.com/tektoncd/pipeline/cmd/git-init
        mv "$out.partial" "$out"
    )
}

# ---- layers --------------------------------------------------------------------------------

pack() { # pack DIR OUT: a reproducible gzip layer, as hack/mkoci.sh makes them
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$1" -cf - . | gzip -n -6 > "$2.partial"
    mv "$2.partial" "$2"
}

# kaniko's upstream image layout: everything under /kaniko (kaniko unpacks the base image over
# /, so its own files must stay out of the way), CA bundle, an empty docker config.
layer_kaniko() {
    local out=$W/layers/kaniko-$KANIKO_VERSION.tar.gz r
    [ -f "$out" ] && return 0
    r=$(mktemp -d)
    mkdir -p "$r/kaniko/ssl/certs" "$r/kaniko/.docker" "$r/workspace"
    cp "$KANIKO_BIN/executor" "$KANIKO_BIN/warmer" "$r/kaniko/"
    cp /etc/ssl/certs/ca-certificates.crt "$r/kaniko/ssl/certs/"
    echo '{}' > "$r/kaniko/.docker/config.json"
    pack "$r" "$out"
    rm -rf "$r"
}

# git-init on top of the deb-git layer: the binary where ko puts it (/ko-app, which the catalog
# Task's script calls by path) and the nonroot user 65532 with the home the Task defaults to.
layer_gitinit() {
    local out=$W/layers/git-init-$GITINIT_VERSION.tar.gz r
    [ -f "$out" ] && return 0
    [ -f "$BASE_LAYERS/deb-git.tar.gz" ] || lc_die "missing $BASE_LAYERS/deb-git.tar.gz (run hack/images.sh)"
    r=$(mktemp -d)
    mkdir -p "$r/ko-app" "$r/etc" "$r/home/git"
    cp "$GITINIT_BIN/git-init" "$r/ko-app/git-init"
    tar -xzf "$BASE_LAYERS/deb-git.tar.gz" -C "$r" ./etc/passwd ./etc/group
    echo 'git:x:65532:65532:git:/home/git:/bin/sh' >> "$r/etc/passwd"
    echo 'git:x:65532:' >> "$r/etc/group"
    chown 65532:65532 "$r/home/git"
    pack "$r" "$out"
    rm -rf "$r"
}

# layer_debian NAME PACKAGES: a debootstrap minbase rootfs plus PACKAGES, trimmed (the recipe of
# hack/images.sh, kept here so the demo images can change without rebuilding the test images).
layer_debian() {
    local name=$1 pkgs=$2 out=$W/layers/$1.tar.gz r mirror
    [ -f "$out" ] && return 0
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    r=$W/rootfs-$name
    rm -rf "$r"
    lc_say "debootstrap $name ($pkgs)"
    debootstrap --variant=minbase --include="$pkgs" --cache-dir="$LC_CACHE/debootstrap-debs" \
        "$DEBIAN_SUITE" "$r" "$mirror" > "$LC_LOG/debootstrap-$name.log" 2>&1 ||
        { tail -20 "$LC_LOG/debootstrap-$name.log" >&2; lc_die "debootstrap $name failed"; }
    rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/usr/share/doc/* \
        "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/var/log/*.log
    : > "$r/etc/resolv.conf"
    pack "$r" "$out"
    rm -rf "$r"
}

# ---- images --------------------------------------------------------------------------------

# image [--v2s2] KEY CONFIG LAYER_PATHS... -- NAME:TAG...: make the OCI layout once, then push
# it to every NAME:TAG whose registry digest differs from the last push of that layout.
# --v2s2 pushes it as a Docker schema 2 manifest instead of OCI: kaniko's base-image cache
# (--cache-dir, filled by the warmer) rebuilds a cached image with Docker media types but keeps
# its stored manifest, so an OCI base image yields a manifest whose mediaType contradicts the
# Content-Type kaniko pushes it with, and the registry refuses it (MANIFEST_INVALID).
image() {
    local fmt=oci
    if [ "$1" = --v2s2 ]; then fmt=v2s2; shift; fi
    local key=$1 cfg=$2 oci=$W/oci/$1 layers=() want ref have args=()
    shift 2
    while [ "$1" != -- ]; do
        layers+=("$1")
        shift
    done
    shift
    if [ ! -f "$oci/digest" ]; then
        "$here/mkoci.sh" "$oci.partial" latest "$cfg" "${layers[@]}" > "$W/oci/$key.digest.tmp"
        mv "$W/oci/$key.digest.tmp" "$oci.partial/digest"
        rm -rf "$oci"
        mv "$oci.partial" "$oci"
    fi
    [ $fmt = oci ] || args=(--format v2s2)
    # the digest this layout gets in this format, known once it has been pushed
    want=$(cat "$oci/digest-$fmt" 2>/dev/null || true)
    [ $fmt = v2s2 ] || want=$(cat "$oci/digest")
    for ref in "$@"; do
        have=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
            -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
            "http://$REGISTRY/v2/${ref%:*}/manifests/${ref##*:}" |
            tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}' || true)
        [ -n "$want" ] && [ "$have" = "$want" ] && continue
        skopeo copy -q "${args[@]}" --digestfile "$oci/digest-$fmt.tmp" --dest-tls-verify=false \
            "oci:$oci:latest" "docker://$REGISTRY/$ref" || lc_die "cannot push $ref to $REGISTRY"
        mv "$oci/digest-$fmt.tmp" "$oci/digest-$fmt"
        want=$(cat "$oci/digest-$fmt")
        pushed=$((pushed + 1))
    done
}

KANIKO_ENV='"Env":["PATH=/usr/local/bin:/kaniko","HOME=/root","USER=root","SSL_CERT_DIR=/kaniko/ssl/certs","DOCKER_CONFIG=/kaniko/.docker/"],"WorkingDir":"/workspace"'
JAVA_ENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64","LANG=C.UTF-8"]'

timed "kaniko $KANIKO_VERSION (go build)" build_kaniko
timed "git-init $GITINIT_VERSION (go build)" build_gitinit
[ "${1:-all}" = bins ] && exit 0
[ "${1:-all}" = all ] || lc_die "unknown target '$1' (want all or bins)"

pushed=0
curl -sf "http://$REGISTRY/v2/" > /dev/null || lc_die "the registry at $REGISTRY is not answering"
layer_kaniko
layer_gitinit
timed "maven layer (debootstrap)" layer_debian deb-maven ca-certificates,openjdk-17-jdk-headless,maven
timed "jre layer (debootstrap)" layer_debian deb-jre ca-certificates,openjdk-17-jre-headless

image "executor-$KANIKO_VERSION" "{\"Entrypoint\":[\"/kaniko/executor\"],$KANIKO_ENV}" \
    "$W/layers/kaniko-$KANIKO_VERSION.tar.gz" -- \
    "gcr.io/kaniko-project/executor:$KANIKO_VERSION" gcr.io/kaniko-project/executor:latest
image "warmer-$KANIKO_VERSION" "{\"Entrypoint\":[\"/kaniko/warmer\"],$KANIKO_ENV}" \
    "$W/layers/kaniko-$KANIKO_VERSION.tar.gz" -- \
    "gcr.io/kaniko-project/warmer:$KANIKO_VERSION" gcr.io/kaniko-project/warmer:latest
image "git-init-$GITINIT_VERSION" '{"Entrypoint":["/ko-app/git-init"],"User":"65532"}' \
    "$BASE_LAYERS/deb-git.tar.gz" "$W/layers/git-init-$GITINIT_VERSION.tar.gz" -- "$GITINIT_IMAGE"
# Each base image twice: by its docker.io name (what containerd pulls through its mirror config)
# and at the registry root (what kaniko and the warmer pull with --registry-mirror=<node
# registry>: kaniko treats a mirror as a pull-through cache of Docker Hub, names unprefixed).
image --v2s2 maven "{\"Cmd\":[\"mvn\"],$JAVA_ENV}" "$W/layers/deb-maven.tar.gz" -- \
    "$MAVEN_IMAGE" "${MAVEN_IMAGE#docker.io/}"
image --v2s2 jre "{\"Cmd\":[\"java\",\"-version\"],$JAVA_ENV}" "$W/layers/deb-jre.tar.gz" -- \
    "$JRE_IMAGE" "${JRE_IMAGE#docker.io/}"
lc_say "demo images ready ($pushed pushed)"
