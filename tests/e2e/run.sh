#!/usr/bin/env bash
# run.sh: the e2e suite (make e2e). Runs every executable tests/e2e/*_test.sh, in name order,
# against a real cluster and tallies their `ok <name>` / `not ok <name>: <reason>` lines.
#
# With KUBECONFIG unset it brings up the local cluster first (hack/cluster-up.sh; a harmless
# no-op when it already runs) and puts that cluster's kubectl and tkn first in PATH. A cluster
# that cannot be brought up or reached is a failure, never a skip.
#
# Each test file gets KUBECONFIG, KUBECTL, TKN and REPO in its environment and a time bound:
# E2E_TEST_TIMEOUT (default 900s), or the file's own `# e2e-timeout: <seconds>` line if it has
# one (a long suite says so itself). E2E_FILTER=<regex> runs only the files whose name matches.
# A file that exits non-zero without reporting any failure, or reports nothing at all, counts as
# one failure. The last line is always `e2e: N passed, N failed`; the exit status is non-zero if
# anything failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
export REPO
passed=0 failed=0 skipped=0

finish() {
    [ "$skipped" = 0 ] || echo "e2e: $skipped skipped (see 'skip' lines above)"
    echo "e2e: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
}

# Bring up (or reuse) the local cluster unless the caller points at one.
if [ -z "${KUBECONFIG:-}" ]; then
    echo "e2e: KUBECONFIG unset: bringing up the local cluster (hack/cluster-up.sh)"
    if ! "$REPO/hack/cluster-up.sh"; then
        echo "not ok cluster-up: hack/cluster-up.sh failed (logs in /var/log/lc)"
        failed=1
        finish
    fi
    # shellcheck source=/dev/null
    . /etc/kubernetes/env.sh
fi
export KUBECONFIG
# The cluster's own kubectl (same minor as the server) beats the machine's older one.
lc_bin=/var/lib/lc-k8s/bin
if [ -z "${KUBECTL:-}" ] && [ -x "$lc_bin/kubectl" ]; then KUBECTL=$lc_bin/kubectl; fi
if [ -z "${TKN:-}" ] && [ -x "$lc_bin/tkn" ]; then TKN=$lc_bin/tkn; fi
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
TKN=${TKN:-$(command -v tkn || true)}
export KUBECTL TKN
echo "e2e: KUBECONFIG=$KUBECONFIG KUBECTL=$KUBECTL TKN=${TKN:-none}"
if [ -z "$KUBECTL" ] || ! "$KUBECTL" get --raw /readyz > /dev/null 2>&1; then
    echo "not ok cluster-reachable: the API server behind $KUBECONFIG does not answer /readyz"
    failed=1
    finish
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$here"/*_test.sh; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if [ -n "${E2E_FILTER:-}" ] && ! [[ $name =~ $E2E_FILTER ]]; then continue; fi
    echo "# $name"
    start=$SECONDS
    rc=0
    bound=$(sed -nE 's/^# e2e-timeout: *([0-9]+).*/\1/p' "$t" | head -n 1)
    bound=${bound:-${E2E_TEST_TIMEOUT:-900}}
    timeout --kill-after=10 "$bound" "$t" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
    p=$(grep -c '^ok ' "$out" || true)
    f=$(grep -c '^not ok ' "$out" || true)
    s=$(grep -c '^skip ' "$out" || true)
    if [ "$rc" = 124 ]; then
        echo "not ok $name: timed out after ${bound}s"
        f=$((f + 1))
    elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "not ok $name: exited with status $rc without reporting a failure"
        f=$((f + 1))
    elif [ $((p + f + s)) = 0 ]; then
        echo "not ok $name: reported no results"
        f=$((f + 1))
    fi
    echo "# $name: $p passed, $f failed ($((SECONDS - start))s)"
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
done
finish
