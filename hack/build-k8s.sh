#!/usr/bin/env bash
# Build the pinned third-party programs from their Go modules into the cache outside the repo:
# etcd, the six Kubernetes binaries, local-path-provisioner and tkn.
# Each lands in $LC_CACHE/bin/<name>-<version>-<go version>/, written to .partial and renamed only
# on success, so a second run builds nothing and an interrupted build is never taken as done.
# See /work/shared/docs/local-cluster.md §4 for why wrapper modules are needed.
# Usage: build-k8s.sh [all|cluster|etcd|k8s|lpp|tkn]   (cluster = what cluster-up needs)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
LC_PROG=build
# One build at a time: two would write the same .partial directories. A second caller waits.
exec 9> "$LC_CACHE/.build.lock"
flock 9

# Kubernetes: k8s.io/kubernetes replaces every staging module with ./staging/..., which the module
# zip lacks, so a wrapper module repeats each replacement with the published v0.<minor>.<patch> tag.
# The list is generated from the exact .mod file the proxy serves.
build_k8s() {
    local out=$K8S_BIN
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
        # Stamp the version: unstamped binaries report v0.0.0-master, which breaks clients that
        # check the server version (Tekton's minimum-version check, kubectl skew warnings).
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
        # One go build for all six compiles the shared packages once.
        go build -trimpath -buildvcs=false -ldflags "$ldf" -o "$out.partial/" "${pkgs[@]}"
        mv "$out.partial" "$out"
    )
}

# etcd's server module replaces its siblings with ../api etc., so `go install @version` refuses
# it; every sibling is published at the same tag, so a plain require in a wrapper is enough.
build_etcd() {
    local out=$ETCD_BIN
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

# local-path-provisioner has no replace directives and its main package is the module root.
build_lpp() {
    local out=$LPP_BIN
    [ -x "$out/local-path-provisioner" ] && return 0
    rm -rf "$out.partial"; mkdir -p "$out.partial"
    # (GONOSUMDB in lib.sh: the sumdb mirror has no record of this module)
    GOBIN=$out.partial go install -trimpath -buildvcs=false -ldflags '-s -w' \
        "github.com/rancher/local-path-provisioner@$LPP_VERSION"
    mv "$out.partial" "$out"
}

# tkn's go.mod carries replace directives (so `go install @version` refuses it). A wrapper module
# repeats those that point at published modules; the list comes from the .mod the proxy serves,
# so a new pin needs no edit here. The version is stamped the way tkn's own Makefile does.
build_tkn() {
    local out=$TKN_BIN
    [ -x "$out/tkn" ] && return 0
    local w=$LC_CACHE/src/tkn-$TKN_VERSION
    mkdir -p "$w"
    (
        cd "$w"
        local modfile
        modfile=$(go mod download -json "github.com/tektoncd/cli@$TKN_VERSION" | jq -r .GoMod)
        {
            echo 'module local/tkn-build'; echo; echo 'go 1.26.0'
            echo; echo "require github.com/tektoncd/cli $TKN_VERSION"; echo
            # single-line and block replace forms; only module => module version, never paths
            awk '/^replace \(/{b=1; next} b&&/^\)/{b=0; next}
                 b{print "replace " $0; next} /^replace /{print}' "$modfile" |
                grep -E '=> [^ .][^ ]* v[0-9]' || true
            echo; echo 'tool github.com/tektoncd/cli/cmd/tkn'
        } > go.mod
        go mod tidy
        rm -rf "$out.partial"; mkdir -p "$out.partial"
        go build -trimpath -buildvcs=false \
            -ldflags "-s -w -X github.com/tektoncd/cli/pkg/cmd/version.clientVersion=${TKN_VERSION#v}" \
            -o "$out.partial/tkn" github.com/tektoncd/cli/cmd/tkn
        mv "$out.partial" "$out"
    )
}

case "${1:-all}" in
    k8s) build_k8s ;;
    etcd) build_etcd ;;
    lpp) build_lpp ;;
    tkn) build_tkn ;;
    cluster) build_etcd; build_k8s; build_lpp ;;
    all) build_etcd; build_k8s; build_lpp; build_tkn ;;
    *) lc_die "unknown target '$1' (want all, cluster, etcd, k8s, lpp or tkn)" ;;
esac
