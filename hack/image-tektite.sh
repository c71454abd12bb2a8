#!/usr/bin/env bash
# image-tektite.sh: build tektite's entrypoint image from build/tektite-entrypoint and push it
# to the local registry; prints the pushed reference (by digest, so a rebuild is a new Pod spec).
# The entrypoint is static, so its image is a single layer holding just the binary, at the
# path Tekton's Pods use for it (/ko-app/entrypoint). No registry pulls, no Docker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
registry=${REGISTRY:-127.0.0.1:5000}
bin=${ENTRYPOINT_BIN:-$repo/build/tektite-entrypoint}

[ -x "$bin" ] || { echo "image-tektite: $bin missing: run make all first" >&2; exit 1; }
command -v skopeo >/dev/null || apt-get install -y -qq skopeo >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/ko-app"
install -m 0755 "$bin" "$tmp/root/ko-app/entrypoint"
digest=$("$here/mkoci.sh" "$tmp/oci" latest '{"Entrypoint":["/ko-app/entrypoint"],"User":"65532:65532"}' "$tmp/root")
skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci:latest" "docker://$registry/tektite/entrypoint:latest" >&2
echo "$registry/tektite/entrypoint@$digest"
