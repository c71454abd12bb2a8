#!/usr/bin/env bash
# registry-mirrors.sh [REGISTRY]: print the mirror table tektite's image lookups need, the
# same mapping hack/cluster-up.sh gives containerd (hosts.toml): every mirrored registry R is
# served by the local registry under the path R/, anything else from its root. REGISTRY is
# 127.0.0.1:5000 for a controller on the host, 10.240.0.1:5000 for one in a Pod.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
registry=${1:-$REGISTRY}
{
    for r in $MIRRORED_REGISTRIES; do
        jq -nc --arg r "$r" --arg u "http://$registry/v2/$r" '{($r): [{url: $u, override_path: true}]}'
    done
    jq -nc --arg u "http://$registry" '{"_default": [$u]}'
} | jq -sc 'add'
