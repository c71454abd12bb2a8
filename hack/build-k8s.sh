#!/usr/bin/env bash
# Build the pinned Kubernetes and etcd binaries from their Go modules into the cache.
# Keyed by version and Go version: a second run builds nothing. See docs: local-cluster.md §4.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build_k8s() {
    local out=$LC_BIN/k8s-$K8S_VERSION-$GOV
    [ -x "$out/kubectl" ] && return 0
    local staging=v0.${K8S_VERSION#v1.}
    local w=$LC_CACHE/src/k8s-$K8S_VERSION
    mkdir -p "$w"
    (
        cd "$w"
        local modfile
        modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
        {
            echo 'module local/k8s-build'; echo; echo 'go 1.26.0'
            grep -E '^godebug ' "$modfile" || true
            echo; echo "require k8s.io/kubernetes $K8S_VERSION"; echo; echo 'replace ('
            sed -nE 's#^[[:space:]]*(k8s\.io/[^[:space:]]+) => \./staging/.*#\t\1 => \1 '"$staging"'#p' "$modfile"
            echo ')'; echo; echo 'tool ('
            for c in $K8S_COMPONENTS; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$c"; done
            echo ')'
        } > go.mod
        go mod tidy
        local minor date ldf p pkgs=()
        minor=$(echo "$K8S_VERSION" | cut -d. -f2)
        date=$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%dT%H:%M:%SZ)
        ldf='-s -w'
        for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
            ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
            ldf="$ldf -X $p.gitTreeState=clean -X $p.gitCommit=module-$K8S_VERSION -X $p.buildDate=$date"
        done
        for c in $K8S_COMPONENTS; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
        rm -rf "$out.partial"; mkdir -p "$out.partial"
        go build -trimpath -buildvcs=false -ldflags "$ldf" -o "$out.partial/" "${pkgs[@]}"
        mv "$out.partial" "$out"
    )
}

build_etcd() {
    local out=$LC_BIN/etcd-$ETCD_VERSION-$GOV
    [ -x "$out/etcd" ] && return 0
    local w=$LC_CACHE/src/etcd-$ETCD_VERSION
    mkdir -p "$w"
    (
        cd "$w"
        printf 'module local/etcd-build\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n\ntool go.etcd.io/etcd/server/v3\n' "$ETCD_VERSION" > go.mod
        go mod tidy
        rm -rf "$out.partial"; mkdir -p "$out.partial"
        go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$out.partial/etcd" go.etcd.io/etcd/server/v3
        mv "$out.partial" "$out"
    )
}

case "${1:-all}" in
    k8s) build_k8s ;;
    etcd) build_etcd ;;
    all) build_etcd; build_k8s ;;
esac
