#!/usr/bin/env bash
# kwok-build.sh: kwok (Kubernetes WithOut Kubelet) $KWOK_VERSION from its Go module, for
# hack/bench-compare.sh's simulated-node workload. Nothing of kwok is committed: the binary
# lands in $LC_CACHE/bin/kwok-$KWOK_VERSION-$GOV/kwok, and a second run builds nothing.
# Prints the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
LC_PROG=kwok-build
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
KWOK_MOD=sigs.k8s.io/kwok
KWOK_BIN=$LC_BIN/kwok-$KWOK_VERSION-$GOV

if [ ! -x "$KWOK_BIN/kwok" ]; then
    mod=$(go mod download -json "$KWOK_MOD@$KWOK_VERSION" | jq -r .Dir)
    [ -d "$mod/cmd/kwok" ] || lc_die "no $KWOK_MOD@$KWOK_VERSION/cmd/kwok in the module cache"
    # the module as the main module (a writable copy: its own go.mod, go.sum and replaces apply)
    src=$LC_CACHE/src/kwok-$KWOK_VERSION
    if [ ! -f "$src/go.mod" ]; then
        rm -rf "$src.partial"
        cp -r "$mod" "$src.partial"
        chmod -R u+w "$src.partial"
        mv "$src.partial" "$src"
    fi
    rm -rf "$KWOK_BIN.partial"
    mkdir -p "$KWOK_BIN.partial"
    lc_say "building kwok $KWOK_VERSION; a minute or more on a cold cache"
    (cd "$src" && GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go build -trimpath -buildvcs=false \
        -o "$KWOK_BIN.partial/kwok" ./cmd/kwok)
    mv "$KWOK_BIN.partial" "$KWOK_BIN"
fi
echo "$KWOK_BIN/kwok"
