#!/usr/bin/env bash
# tekton-build.sh [build|images|render|all]: Tekton Pipelines $TEKTON_VERSION from its Go module,
# for hack/bench-compare.sh. Nothing of Tekton is committed: everything lands in the cache outside
# the repo, keyed by version and Go version, and a second run rebuilds nothing.
#   build   go build every cmd/ the release ships (controller, webhook, events, resolvers,
#           entrypoint, nop, workingdirinit, sidecarlogresults) into
#           $LC_CACHE/bin/tekton-$TEKTON_VERSION-$GOV/
#   images  one OCI image per command, the way ko lays them out (binary at /ko-app/NAME, kodata
#           at /var/run/ko, KO_DATA_PATH set, uid 65532), on a base of CA certificates, passwd and
#           tzdata-free /tmp; pushed to $REGISTRY/tekton/NAME; digests cached per version
#   render  Tekton's release manifest made the way tekton/publish.yaml makes it (`ko resolve -R -f
#           config/`, then "devel" -> the version tag), with each ko://.../cmd/NAME reference
#           replaced by 10.240.0.1:5000/tekton/NAME@sha256:... (what the node pulls)
#   all     (default) the three, printing the rendered manifest's path
# What differs from the published release.yaml, and why (docs/benchmarks.md "Tekton build"):
#   - base images: ko uses ghcr.io/tektoncd/plumbing/static-base (distroless static: CA certs,
#     passwd with nonroot, tzdata) and a "combined" base for entrypoint/nop/workingdirinit, and
#     tini-git for resolvers; none is reachable here, so every image is one layer of CA certs +
#     passwd + /tmp (the same contents minus tzdata; no Tekton command parses time zones) plus the
#     binary. The resolvers image has no git binary, so the git resolver's clone mode would fail;
#     no benchmark resolves anything.
#   - the kodata source tarball (vendor/ of the release tree) is not added: licence payload only.
#   - the controller's -shell-image (script mode's init container) is pinned by digest to
#     cgr.dev/chainguard/busybox@sha256:...; the local registry's stand-in for that name
#     (hack/images.sh) cannot have that digest, so it is referenced by tag instead.
#   - no other field of any manifest is changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
LC_PROG=tekton-build
TEKTON_VERSION=${TEKTON_VERSION:-v1.15.0}
TEKTON_MOD=github.com/tektoncd/pipeline
TEKTON_CMDS="controller webhook events resolvers entrypoint nop workingdirinit sidecarlogresults"
TEKTON_BIN=$LC_BIN/tekton-$TEKTON_VERSION-$GOV
registry=${REGISTRY:-127.0.0.1:5000}
node_registry=${NODE_IP:-10.240.0.1}:5000
# Bump when the image layout below changes: it is part of the digest cache's key.
TEKTON_IMAGES_REV=1
W=$LC_CACHE/tekton-$TEKTON_VERSION-$GOV-r$TEKTON_IMAGES_REV
mkdir -p "$W"

# The module's directory in the read-only module cache (downloaded once).
tekton_moddir() {
    go mod download -json "$TEKTON_MOD@$TEKTON_VERSION" | jq -r .Dir
}

# build: the module is the main module here (a writable copy, so its own go.mod, go.sum and
# replace directives apply exactly as in its release build); one `go build` for all commands so
# the shared packages compile once. ko builds with -trimpath and no ldflags for these.
tekton_build() {
    [ -x "$TEKTON_BIN/controller" ] && [ -x "$TEKTON_BIN/sidecarlogresults" ] && return 0
    local mod src=$LC_CACHE/src/tekton-$TEKTON_VERSION c pkgs=()
    mod=$(tekton_moddir)
    [ -d "$mod/cmd/controller" ] || lc_die "no $TEKTON_MOD@$TEKTON_VERSION in the module cache"
    if [ ! -f "$src/go.mod" ]; then
        rm -rf "$src.partial"
        cp -r "$mod" "$src.partial"
        chmod -R u+w "$src.partial"
        mv "$src.partial" "$src"
    fi
    for c in $TEKTON_CMDS; do pkgs+=("./cmd/$c"); done
    rm -rf "$TEKTON_BIN.partial"
    mkdir -p "$TEKTON_BIN.partial"
    lc_say "building Tekton $TEKTON_VERSION ($TEKTON_CMDS); minutes on a cold cache"
    (cd "$src" && GOFLAGS=-mod=mod nice -n 10 go build -trimpath -buildvcs=false \
        -o "$TEKTON_BIN.partial/" "${pkgs[@]}")
    mv "$TEKTON_BIN.partial" "$TEKTON_BIN"
}

# base: CA certificates, a passwd/group with root and nonroot (65532), an empty resolv.conf and
# a world-writable /tmp: what distroless static carries that these binaries use.
base_layer() {
    local layer=$W/base.tar.gz t
    [ -f "$layer" ] && { echo "$layer"; return 0; }
    t=$(mktemp -d)
    mkdir -p "$t/etc/ssl/certs" "$t/tmp" "$t/home/nonroot"
    cp -L /etc/ssl/certs/ca-certificates.crt "$t/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$t/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$t/etc/group"
    printf 'hosts: files dns\n' > "$t/etc/nsswitch.conf"
    chmod 1777 "$t/tmp"
    chown 65532:65532 "$t/home/nonroot"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$t" -cf - . | gzip -n -6 > "$layer.partial"
    mv "$layer.partial" "$layer"
    rm -rf "$t"
    echo "$layer"
}

# images: NAME=DIGEST lines in $W/digests, each image pushed; a warm run pushes nothing.
tekton_images() {
    [ -f "$W/digests" ] && return 0
    local base mod c root d
    command -v skopeo > /dev/null || apt-get install -y -qq skopeo > /dev/null
    base=$(base_layer)
    mod=$(tekton_moddir)
    : > "$W/digests.partial"
    for c in $TEKTON_CMDS; do
        root=$W/root-$c
        rm -rf "$root"
        mkdir -p "$root/ko-app" "$root/var/run/ko"
        install -m 0755 "$TEKTON_BIN/$c" "$root/ko-app/$c"
        [ ! -d "$mod/cmd/$c/kodata" ] || cp -rL "$mod/cmd/$c/kodata/." "$root/var/run/ko/"
        chmod -R u+w "$root"
        d=$("$here/mkoci.sh" "$W/oci-$c" latest \
            "{\"Entrypoint\":[\"/ko-app/$c\"],\"User\":\"65532\",\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/ko-app\",\"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\",\"KO_DATA_PATH=/var/run/ko\"]}" \
            "$base" "$root")
        skopeo copy -q --dest-tls-verify=false "oci:$W/oci-$c:latest" \
            "docker://$registry/tekton/$c:$TEKTON_VERSION" >&2 || lc_die "cannot push tekton/$c"
        echo "$c=$d" >> "$W/digests.partial"
        rm -rf "$root"
    done
    mv "$W/digests.partial" "$W/digests"
}

# render: config/ as `ko resolve -R -f config/` reads it (every .yaml under it, in path order,
# as separate documents), ko:// references replaced, "devel" rewritten as publish.yaml does.
tekton_render() {
    local mod out=$W/release.yaml f c d sedargs=()
    mod=$(tekton_moddir)
    while IFS='=' read -r c d; do
        sedargs+=(-e "s|ko://$TEKTON_MOD/cmd/$c\\b|$node_registry/tekton/$c@$d|g")
    done < "$W/digests"
    find "$mod/config" -name '*.yaml' | LC_ALL=C sort | while read -r f; do
        echo "---"
        cat "$f"
    done | sed "${sedargs[@]}" \
        -e 's/\(pipeline.tekton.dev\/release\): "devel"/\1: "'"$TEKTON_VERSION"'"/g' \
        -e 's/\(app.kubernetes.io\/version\): "devel"/\1: "'"$TEKTON_VERSION"'"/g' \
        -e 's/\(version\): "devel"/\1: "'"$TEKTON_VERSION"'"/g' \
        -e 's|"cgr.dev/chainguard/busybox@sha256:[0-9a-f]*"|"cgr.dev/chainguard/busybox:latest"|' \
        > "$out.partial"
    grep -q '"-shell-image", "cgr.dev/chainguard/busybox:latest"' "$out.partial" ||
        lc_die "controller.yaml's -shell-image argument changed shape; see the shell-image note above"
    ! grep -n 'ko://' "$out.partial" >&2 || lc_die "unresolved ko:// references left in $out.partial"
    mv "$out.partial" "$out"
    echo "$out"
}

case "${1:-all}" in
    build) tekton_build ;;
    images) tekton_build; tekton_images; cat "$W/digests" ;;
    render) tekton_render ;;
    all) tekton_build; tekton_images; tekton_render ;;
    *) lc_die "unknown mode '$1' (want build, images, render or all)" ;;
esac
