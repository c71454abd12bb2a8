#!/usr/bin/env bash
# image-tektite.sh [entrypoint|build|push]: tektite's two images, built on this machine from
# build/ and Debian packages with no registry pulls and no Docker (hack/mkoci.sh + skopeo).
#   entrypoint (default)  build the entrypoint image, push it, print its reference by digest
#                         (what tests/e2e/tektite.sh uses for a host-run controller)
#   build                 build both OCI layouts under build/images/; print "NAME DIGEST" lines
#   push                  build both and push them; print "controller=REF" and "entrypoint=REF",
#                         each REF by digest, so a rebuild is always a new Pod spec
# The entrypoint is static: its image is one layer holding the binary at /ko-app/entrypoint, the
# path Tekton's Pods use; its default command is "entrypoint nop", which exits 0, so the image
# also serves as Tekton's nop image (a sidecar still running when the steps end is restarted
# from it). The controller is dynamic against bookworm's libraries: its image is a
# base layer (the runtime libraries' shared-object closure taken from a debootstrap minbase root,
# plus CA certificates and a passwd with uid 65532; no shell, no package manager), cached under
# $LC_CACHE/layers keyed by the package list, and a thin layer with the binary. Both run as
# 65532:65532 and need nothing writable.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
LC_PROG=image-tektite
mode=${1:-entrypoint}
registry=${REGISTRY:-127.0.0.1:5000}
ep_bin=${ENTRYPOINT_BIN:-$repo/build/tektite-entrypoint}
ctl_bin=${CONTROLLER_BIN:-$repo/build/tektite-controller}
out=${IMAGES_OUT:-$repo/build/images}
# Bump when base_layer() changes: it is part of the cache key.
BASE_REV=1
BASE_PKGS=libuv1,libcurl4,libjansson4,libyaml-0-2,libwebsockets17,libssl3,ca-certificates
# The sonames whose closure the base keeps (the controller's NEEDED list is checked against it).
BASE_LIBS="libuv.so.1 libcurl.so.4 libjansson.so.4 libyaml-0.so.2 libwebsockets.so.17 libssl.so.3
libcrypto.so.3 libm.so.6 libc.so.6"
USER_ID=65532:65532

command -v skopeo > /dev/null || apt-get install -y -qq skopeo > /dev/null
mkdir -p "$out"

# base_layer: print the path of the cached controller base layer, building it once.
base_layer() {
    local key layer r t mirror lib path
    key=$(echo "$BASE_REV $DEBIAN_SUITE $BASE_PKGS $BASE_LIBS" | sha256sum | cut -c1-12)
    layer=$LC_CACHE/layers/tektite-base-$key.tar.gz
    if [ -f "$layer" ]; then
        echo "$layer"
        return 0
    fi
    mkdir -p "$LC_CACHE/layers" "$LC_CACHE/debootstrap-debs"
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2> /dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    r=$(mktemp -d) t=$(mktemp -d)
    lc_say "debootstrap the controller base ($BASE_PKGS)"
    debootstrap --variant=minbase --include="$BASE_PKGS" --cache-dir="$LC_CACHE/debootstrap-debs" \
        "$DEBIAN_SUITE" "$r" "$mirror" > "$out/debootstrap.log" 2>&1 ||
        { tail -20 "$out/debootstrap.log" >&2; rm -rf "$r" "$t"; lc_die "debootstrap failed"; }
    # bookworm is merged-/usr: /lib and /lib64 are links into /usr
    mkdir -p "$t/usr/lib/x86_64-linux-gnu" "$t/usr/lib64" "$t/etc/ssl/certs" "$t/tmp"
    ln -s usr/lib "$t/lib"
    ln -s usr/lib64 "$t/lib64"
    cp -a "$r/usr/lib64/ld-linux-x86-64.so.2" "$t/usr/lib64/"
    cp -aL "$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$t/usr/lib/x86_64-linux-gnu/"
    # every shared object the runtime libraries pull in, resolved by the root's own loader
    for lib in $BASE_LIBS; do
        chroot "$r" /usr/bin/ldd "/usr/lib/x86_64-linux-gnu/$lib" |
            awk '$2 == "=>" && $3 ~ /^\// {print $3}'
        echo "/usr/lib/x86_64-linux-gnu/$lib"
    done | sort -u | while read -r path; do
        path=/usr/lib/x86_64-linux-gnu/${path##*/}
        cp -L "$r$path" "$t$path"
    done
    cp -L "$r/etc/ssl/certs/ca-certificates.crt" "$t/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$t/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$t/etc/group"
    printf 'hosts: files dns\n' > "$t/etc/nsswitch.conf"
    : > "$t/etc/resolv.conf"
    chmod 1777 "$t/tmp"
    tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$t" -cf - . | gzip -n -9 > "$layer.partial"
    mv "$layer.partial" "$layer"
    lc_say "base layer $(du -sh "$t" | cut -f1) unpacked, $(du -h "$layer" | cut -f1) compressed: $layer"
    rm -rf "$r" "$t"
    echo "$layer"
}

# check_needed LAYER BIN: every library BIN needs is in LAYER (a binary built against a newer
# -dev package than the base carries would otherwise fail only when the Pod starts).
check_needed() {
    local have so missing=
    have=$(tar -tzf "$1" | sed -n 's|^\./usr/lib/x86_64-linux-gnu/||p')
    for so in $(readelf -d "$2" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        grep -qxF "$so" <<< "$have" || missing="$missing $so"
    done
    [ -z "$missing" ] || lc_die "the base layer lacks$missing (add its package to BASE_PKGS/BASE_LIBS)"
}

build_entrypoint() {
    local root=$out/entrypoint-root
    [ -x "$ep_bin" ] || lc_die "$ep_bin missing: run make all first"
    rm -rf "$root"
    mkdir -p "$root/ko-app"
    install -m 0755 "$ep_bin" "$root/ko-app/entrypoint"
    "$here/mkoci.sh" "$out/entrypoint-oci" latest \
        "{\"Entrypoint\":[\"/ko-app/entrypoint\",\"nop\"],\"User\":\"$USER_ID\"}" "$root"
}

build_controller() {
    local root=$out/controller-root base
    [ -x "$ctl_bin" ] || lc_die "$ctl_bin missing: run make all first"
    base=$(base_layer)
    check_needed "$base" "$ctl_bin"
    rm -rf "$root"
    mkdir -p "$root/usr/local/bin"
    install -m 0755 "$ctl_bin" "$root/usr/local/bin/tektite-controller"
    strip --strip-unneeded "$root/usr/local/bin/tektite-controller"
    "$here/mkoci.sh" "$out/controller-oci" latest \
        "{\"Entrypoint\":[\"/usr/local/bin/tektite-controller\"],\"User\":\"$USER_ID\"}" "$base" "$root"
}

# push NAME DIGEST: copy build/images/NAME-oci to the registry; print NAME=REF by digest.
push() {
    skopeo copy -q --dest-tls-verify=false "oci:$out/$1-oci:latest" \
        "docker://$registry/tektite/$1:latest" >&2 || lc_die "cannot push tektite/$1 to $registry"
    echo "$1=$registry/tektite/$1@$2"
}

case $mode in
    entrypoint)
        d=$(build_entrypoint)
        push entrypoint "$d" | sed 's/^entrypoint=//' ;;
    build)
        echo "controller $(build_controller)"
        echo "entrypoint $(build_entrypoint)" ;;
    push)
        c=$(build_controller)
        e=$(build_entrypoint)
        push controller "$c"
        push entrypoint "$e" ;;
    *)
        echo "usage: image-tektite.sh [entrypoint|build|push]" >&2
        exit 2 ;;
esac
