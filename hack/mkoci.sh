#!/usr/bin/env bash
# mkoci.sh OUTDIR TAG CONFIG_JSON LAYER...: write a one-image OCI layout to OUTDIR (for
# `skopeo copy oci:OUTDIR:TAG ...`) and print the manifest digest. No Docker, no daemon.
#   CONFIG_JSON  the image config's "config" object, e.g. '{"Cmd":["sh"]}'; a default PATH is
#                added unless it sets Env itself
#   LAYER        a directory (packed as one layer) or a prebuilt .tar.gz layer (used as is)
# MKOCI_PLATFORM=os/arch[/variant] (default linux/amd64) is the platform the config names.
# Reproducible: names sorted, owners numeric, mtimes zeroed, gzip without a timestamp, and GNU
# tar format (PAX headers would carry atime/ctime), so the same tree gives the same digest.
set -euo pipefail
out=$1 tag=$2 cfg=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out/blobs/sha256"

# store FILE: move FILE into the blob store under its digest; print "DIGEST SIZE".
store() {
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$out/blobs/sha256/$d"
    echo "sha256:$d $s"
}

layers=() diffids=()
for l in "$@"; do
    if [ -f "$l" ]; then
        cp "$l" "$tmp/layer.tar.gz"
    else
        tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C "$l" -cf - . |
            gzip -n -6 > "$tmp/layer.tar.gz"
    fi
    diffids+=("sha256:$(zcat "$tmp/layer.tar.gz" | sha256sum | cut -d' ' -f1)")
    read -r d s < <(store "$tmp/layer.tar.gz")
    layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s}")
done

IFS=/ read -r p_os p_arch p_variant <<< "${MKOCI_PLATFORM:-linux/amd64}"
ids_json=$(printf '%s\n' "${diffids[@]}" | jq -R . | jq -cs .)
layers_json=$(printf '%s\n' "${layers[@]}" | jq -cs .)
jq -cn --argjson c "$cfg" --argjson ids "$ids_json" --arg os "$p_os" --arg arch "$p_arch" \
    --arg variant "$p_variant" '{
    architecture: $arch, os: $os, created: "1970-01-01T00:00:00Z",
    config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]} + $c),
    rootfs: {type: "layers", diff_ids: $ids}}
    + (if $variant == "" then {} else {variant: $variant} end)' > "$tmp/config.json"
read -r cd cs < <(store "$tmp/config.json")
jq -cn --arg cd "$cd" --argjson cs "$cs" --argjson ls "$layers_json" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: $ls}' > "$tmp/manifest.json"
read -r md ms < <(store "$tmp/manifest.json")
jq -cn --arg md "$md" --argjson ms "$ms" --arg t "$tag" '{
    schemaVersion: 2,
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
                 annotations: {"org.opencontainers.image.ref.name": $t}}]}' > "$out/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
echo "$md"
