#!/usr/bin/env bash
# Run the upstream Tekton examples in ../shared/conformance by the criterion in its README:
# create every object of a file in a fresh namespace, then wait until every TaskRun and
# PipelineRun it created has Succeeded=True. Prints `ok <file>` / `not ok <file>: <why>`.
#
#   conformance.sh taskruns|pipelineruns
#
# Allowed rewrites, and only these: `namespace: default` -> the test namespace, and image
# digest pins dropped (stand-in images are served under the same names by the local registry).
# Files that cannot pass here for a reason outside the controller are listed in
# conformance-exclusions.txt with that reason, printed as `skip`, and never counted as passed.
# Files that fail because tektite lacks a feature yet are listed in conformance-pending.txt:
# they still run; a failure prints `skip <file>: pending: <feature>` (never counted as passed),
# and a pass prints `not ok` until the entry is removed, so the list cannot go stale.
set -euo pipefail

kind=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fixtures=${CONFORMANCE_DIR:-$repo/../shared/conformance/tekton-examples}/$kind
kubectl=${KUBECTL:-kubectl}
parallel=${CONFORMANCE_PARALLEL:-4}
# CONFORMANCE_ONLY=<regex> runs only the matching files (for a quick look at a few)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -d "$fixtures" ] || { echo "not ok conformance-$kind: no fixtures at $fixtures"; exit 1; }

# listed_reason FILE KEY: the reason given for KEY in FILE, or nothing.
listed_reason() {
    awk -v f="$2" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' "$1"
}

# Longest a run may take before we call it stuck: the run's own timeout (default 1h) is far
# beyond what these examples need, so we use a fixed bound that fits CI.
run_bound=${CONFORMANCE_RUN_TIMEOUT:-300}

run_one() {
    local rel=$1 ns out
    ns="conf-$(echo "$rel" | tr 'A-Z_/.' 'a-z---' | cut -c1-40 | sed 's/-*$//')-$RANDOM"
    out=$work/$(echo "$rel" | tr '/' '_').result
    {
        if ! "$kubectl" create namespace "$ns" >/dev/null 2>&1; then
            echo "not ok $kind/$rel: cannot create namespace $ns"
            return
        fi
        sed -E -e "s/namespace: default\$/namespace: $ns/" \
            -e 's#(image: *"?[^ "@]+)@sha256:[0-9a-f]{64}#\1#' \
            "$fixtures/$rel" > "$work/$ns.yaml"
        local err created
        if ! created=$("$kubectl" create -n "$ns" -f "$work/$ns.yaml" -o name 2>"$work/$ns.err"); then
            err=$(tail -1 "$work/$ns.err")
            echo "not ok $kind/$rel: kubectl create failed: $err"
        else
            # only the runs the file created count; a PipelineRun's children are its business
            wait_runs "$ns" "$rel" "$(grep -E '^(taskrun|pipelinerun)\.tekton\.dev/' <<<"$created" | tr '\n' ' ')"
        fi
        "$kubectl" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
    } > "$out" 2>&1
}

# Wait until every run the file created is done; report the first that did not succeed.
wait_runs() {
    local ns=$1 rel=$2 runs=$3 deadline=$((SECONDS + run_bound)) states
    if [ -z "$runs" ]; then
        echo "not ok $kind/$rel: the file created no TaskRun or PipelineRun"
        return
    fi
    while :; do
        # shellcheck disable=SC2086 # one argument per run
        states=$("$kubectl" get $runs -n "$ns" -o json | jq '{items: (if .items then .items else [.] end)}' |
            jq -r '.items[] | [.kind, .metadata.name,
                (.status.conditions // [] | map(select(.type == "Succeeded")) | .[0] |
                 if . == null then "Unknown" else .status end),
                (.status.conditions // [] | map(select(.type == "Succeeded")) | .[0].reason // "-"),
                (.status.conditions // [] | map(select(.type == "Succeeded")) | .[0].message // "-")] | @tsv')
        if [ -n "$states" ] && ! grep -qP '\tUnknown\t' <<<"$states"; then
            local bad
            bad=$(awk -F'\t' '$3 != "True"' <<<"$states" | head -1)
            if [ -z "$bad" ]; then
                echo "ok $kind/$rel"
            else
                echo "not ok $kind/$rel: $(cut -f1,2,4,5 <<<"$bad" | tr '\t' ' ' | cut -c1-300)"
            fi
            return
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "not ok $kind/$rel: still running after ${run_bound}s: $(tr '\t\n' ' ;' <<<"$states" | cut -c1-300)"
            return
        fi
        sleep 2
    done
}

files=$(cd "$fixtures" && find . -name '*.yaml' | sed 's#^\./##' | sort)
running=0
for rel in $files; do
    if [ -n "${CONFORMANCE_ONLY:-}" ] && ! [[ $rel =~ $CONFORMANCE_ONLY ]]; then continue; fi
    reason=$(listed_reason "$here/conformance-exclusions.txt" "$kind/$rel")
    if [ -n "$reason" ]; then
        echo "skip $kind/$rel: $reason"
        continue
    fi
    run_one "$rel" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
# Apply the pending list to the results.
for result in "$work"/*.result; do
    [ -f "$result" ] || continue
    line=$(cat "$result")
    rel=$(sed -E 's/^(not ok|ok) ([^:]+).*/\2/' <<<"$line")
    pending=$(listed_reason "$here/conformance-pending.txt" "$rel")
    if [ -z "$pending" ]; then
        echo "$line"
    elif [[ $line == ok* ]]; then
        echo "not ok $rel: passes now: remove it from conformance-pending.txt"
    else
        echo "skip $rel: pending: $pending (${line#*: })"
    fi
done | sort
