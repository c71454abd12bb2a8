#!/usr/bin/env bash
# images.sh: build the stand-in images from Debian packages and push them to the local registry
# (127.0.0.1:5000, which must be running) under the upstream names tests use.
# containerd resolves docker.io/..., mirror.gcr.io/..., ghcr.io/... etc. to <registry>/<name> in
# the local registry (see cluster-up.sh), so pods pull them for real, by their upstream names.
#
# Layers are cached in $LC_CACHE/images-r$IMAGES_REV/ and the registry's storage lives in
# $LC_CACHE/registry, so a warm run only compares digests and pushes nothing. Stand-ins are not
# the upstream images: a digest-pinned reference (name@sha256:...) can never match; drop the pin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
LC_PROG=images

W=$LC_CACHE/images-r$IMAGES_REV
mkdir -p "$W/layers" "$W/oci" "$LC_CACHE/debootstrap-debs"

# ---- layers -------------------------------------------------------------------------------

# busybox: busybox-static plus one symlink per applet. Stands in for busybox, alpine and the
# chainguard busybox (no apk: tests that install packages cannot pass).
layer_busybox() {
    local out=$W/layers/busybox.tar.gz r a
    [ -f "$out" ] && return 0
    r=$(mktemp -d)
    mkdir -p "$r/bin" "$r/etc" "$r/root" "$r/home/nonroot" "$r/tmp" "$r/var/tmp" "$r/proc" \
        "$r/sys" "$r/dev" "$r/usr" "$r/var/run"
    cp /bin/busybox "$r/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
    done
    # alpine keeps tools in /usr/bin and /sbin too; scripts with absolute paths expect them
    ln -s bin "$r/sbin"
    ln -s ../bin "$r/usr/bin"
    ln -s ../bin "$r/usr/sbin"
    chmod 1777 "$r/tmp" "$r/var/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n' > "$r/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$r/etc/group"
    chown 65532:65532 "$r/home/nonroot"
    : > "$r/etc/resolv.conf"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$r" -cf - . | gzip -n -6 > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$r"
}

# pause: our own static sandbox process (hack/pause.c).
layer_pause() {
    local out=$W/layers/pause.tar.gz r
    [ -f "$out" ] && return 0
    r=$(mktemp -d)
    gcc -Os -static -s -o "$r/pause" "$here/pause.c"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$r" -cf - pause | gzip -n -6 > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$r"
}

# layer_debian NAME PACKAGES: a debootstrap minbase rootfs (bash, coreutils, dpkg, perl-base) plus
# PACKAGES, trimmed, from the Debian mirror apt already uses. Stands in for ubuntu/bash/debian and,
# with extra packages, for python, node, perl and alpine/git.
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
    # pods get their resolv.conf from kubelet; never bake the build machine's resolver in
    : > "$r/etc/resolv.conf"
    case $name in
        deb-node)
            # node:*-alpine scripts run `#!/usr/bin/env sh` with `[ a == b ]`, which dash rejects
            ln -sf bash "$r/bin/sh" ;;
        deb-git)
            # alpine/git scripts use `#!/usr/bin/env ash`; sshd needs its privilege-separation
            # dir; alpine-git-nonroot runs as uid 1000 "nonroot" in /home/nonroot
            ln -sf /bin/busybox "$r/usr/local/bin/ash"
            mkdir -p "$r/run/sshd"
            chroot "$r" useradd -u 1000 -m -d /home/nonroot -s /bin/sh nonroot ;;
    esac
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$r" -cf - . | gzip -n -6 > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$r"
}

# nop: Tekton's nop image stand-in, an image whose entrypoint just succeeds.
layer_nop() {
    local out=$W/layers/nop.tar.gz r
    [ -f "$out" ] && return 0
    r=$(mktemp -d)
    mkdir -p "$r/ko-app"
    printf '#!/bin/sh\necho "Build successful"\n' > "$r/ko-app/nop"
    chmod 755 "$r/ko-app/nop"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$r" -cf - . | gzip -n -6 > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$r"
}

# local-path-provisioner: the binary built by build-k8s.sh, on top of the busybox layer (its
# helper pods and its own image only need sh).
layer_lpp() {
    local out=$W/layers/lpp-$LPP_VERSION.tar.gz r
    [ -f "$out" ] && return 0
    [ -x "$LPP_BIN/local-path-provisioner" ] || lc_die "missing $LPP_BIN/local-path-provisioner (hack/build-k8s.sh lpp)"
    r=$(mktemp -d)
    mkdir -p "$r/usr/local/bin"
    cp "$LPP_BIN/local-path-provisioner" "$r/usr/local/bin/"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$r" -cf - . | gzip -n -6 > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$r"
}

# ---- images -------------------------------------------------------------------------------

# image KEY CONFIG LAYER_NAMES... -- NAME:TAG...: make the OCI layout once, then push it to every
# NAME:TAG whose registry digest differs (a warm run pushes nothing).
image() {
    local key=$1 cfg=$2 oci=$W/oci/$1 layers=() digest ref have
    shift 2
    while [ "$1" != -- ]; do
        layers+=("$W/layers/$1.tar.gz")
        shift
    done
    shift
    if [ ! -f "$oci/digest" ]; then
        "$here/mkoci.sh" "$oci.partial" latest "$cfg" "${layers[@]}" > "$W/oci/$key.digest.tmp"
        mv "$W/oci/$key.digest.tmp" "$oci.partial/digest"
        rm -rf "$oci"
        mv "$oci.partial" "$oci"
    fi
    digest=$(cat "$oci/digest")
    for ref in "$@"; do
        have=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
            "http://$REGISTRY/v2/${ref%:*}/manifests/${ref##*:}" |
            tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}' || true)
        [ "$have" = "$digest" ] && continue
        skopeo copy -q --dest-tls-verify=false "oci:$oci:latest" "docker://$REGISTRY/$ref" ||
            lc_die "cannot push $ref to $REGISTRY"
        pushed=$((pushed + 1))
    done
}

# bash-entrypoint: the official bash image runs its arguments through a docker-entrypoint.sh
# (a command runs as given; none, or options only, start bash). Steps that give only args, as
# upstream examples do, depend on that ENTRYPOINT.
layer_bash_entrypoint() {
    local out=$W/layers/bash-entrypoint.tar.gz r
    [ -f "$out" ] && return 0
    r=$(mktemp -d)
    mkdir -p "$r/usr/local/bin"
    cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/usr/bin/env bash
set -Eeuo pipefail
# no arguments, or options first: they are bash's
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- bash "$@"
fi
exec "$@"
SH
    chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$r" -cf - . | gzip -n -6 > "$out.partial"
    mv "$out.partial" "$out"
    rm -rf "$r"
}

pushed=0
curl -sf "http://$REGISTRY/v2/" > /dev/null || lc_die "the registry at $REGISTRY is not answering"
layer_busybox
layer_pause
layer_bash_entrypoint
layer_nop
layer_debian deb ca-certificates
layer_debian deb-python ca-certificates,python3,python-is-python3
layer_debian deb-node ca-certificates,nodejs
layer_debian deb-git ca-certificates,git,openssh-client,openssh-server,busybox
[ "${IMAGES_SKIP_LPP:-}" = 1 ] || layer_lpp

image pause '{"Entrypoint":["/pause"],"User":"65535:65535"}' pause -- \
    registry.k8s.io/pause:3.10 registry.k8s.io/pause:3.10.1 registry.k8s.io/pause:latest
image busybox '{"Cmd":["sh"]}' busybox -- \
    mirror.gcr.io/busybox:latest mirror.gcr.io/library/busybox:latest \
    mirror.gcr.io/alpine:latest mirror.gcr.io/library/alpine:latest \
    docker.io/library/busybox:latest docker.io/library/busybox:1.36 docker.io/library/busybox:stable \
    docker.io/library/alpine:latest docker.io/library/alpine:3 \
    mirror.gcr.io/busybox:1.36 mirror.gcr.io/alpine:3 \
    cgr.dev/chainguard/busybox:latest gcr.io/google-containers/busybox:latest \
    quay.io/prometheus/busybox:latest
image debian '{"Cmd":["/bin/bash"]}' deb -- \
    mirror.gcr.io/ubuntu:latest mirror.gcr.io/library/ubuntu:latest \
    mirror.gcr.io/debian:latest mirror.gcr.io/perl:latest mirror.gcr.io/library/perl:latest \
    docker.io/library/ubuntu:latest docker.io/library/debian:latest docker.io/library/perl:latest
image bash '{"Entrypoint":["docker-entrypoint.sh"],"Cmd":["bash"]}' deb bash-entrypoint -- \
    mirror.gcr.io/bash:latest mirror.gcr.io/library/bash:latest docker.io/library/bash:latest
image python '{"Cmd":["python3"]}' deb-python -- \
    mirror.gcr.io/python:latest mirror.gcr.io/library/python:latest docker.io/library/python:latest
image node '{"Cmd":["node"]}' deb-node -- \
    mirror.gcr.io/node:latest mirror.gcr.io/node:lts-alpine3.20 mirror.gcr.io/library/node:latest \
    docker.io/library/node:latest
image git '{"Cmd":["/bin/bash"]}' deb-git -- \
    mirror.gcr.io/alpine/git:latest mirror.gcr.io/alpine/git:v2.26.2 docker.io/alpine/git:latest \
    ghcr.io/tektoncd/plumbing/alpine-git-nonroot:latest
image nop '{"Entrypoint":["/ko-app/nop"]}' busybox nop -- \
    ghcr.io/tektoncd/pipeline/nop-8eac7c133edad5df719dc37b36b62482:latest
if [ "${IMAGES_SKIP_LPP:-}" != 1 ]; then
    image "lpp-$LPP_VERSION" '{"Entrypoint":["local-path-provisioner"]}' busybox "lpp-$LPP_VERSION" -- \
        "docker.io/rancher/local-path-provisioner:$LPP_VERSION"
fi
lc_say "images ready ($pushed pushed)"
