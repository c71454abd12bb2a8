#!/usr/bin/env bash
# tkn, built from its pinned module, runs against the cluster.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -z "$TKN" ] || [ ! -x "$TKN" ]; then
    not_ok tkn/present "no tkn binary (TKN='$TKN'); hack/build-k8s.sh tkn builds it"
    exit 0
fi
check tkn/client-version sh -c "'$TKN' version | grep -qx 'Client version: 0.46.0'"
# `tkn version` also asks the cluster for the Pipelines version; it must get an answer from the
# API server (found or not) rather than a connection error.
out=$("$TKN" version 2>&1 || true)
if grep -qiE 'connection refused|no such host|unable to connect|i/o timeout' <<< "$out"; then
    not_ok tkn/reaches-cluster "$out"
else
    ok tkn/reaches-cluster
fi
