#!/usr/bin/env bash
# The node runs pods for real: the busybox and Debian stand-ins run to completion and their
# output reaches `kubectl logs`; an image that does not exist fails fast as ErrImagePull.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init

run_pod busybox mirror.gcr.io/busybox 'echo "hello from $(busybox | head -1 | cut -d" " -f1,2)"'
run_pod debian mirror.gcr.io/ubuntu 'echo "bash $(bash -c "echo \${BASH_VERSINFO[0]}")"; ls --version | head -1'
expect_pod_output pods/busybox-runs-and-logs busybox 120 "hello from BusyBox v1.35.0"
expect_pod_output pods/debian-has-coreutils debian 120 "ls (GNU coreutils) 9.1"
expect_pod_output pods/debian-has-bash debian 5 "bash 5"

# A name the local registry does not hold is "not found" at once (never a network attempt).
run_pod missing quay.io/e2e/does-not-exist:1 'true'
pull_failed() {
    k get pod missing -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}' |
        grep -qE '^(ErrImagePull|ImagePullBackOff)$'
}
if wait_until 60 pull_failed; then
    ok pods/missing-image-fails-fast
else
    not_ok pods/missing-image-fails-fast "no ErrImagePull within 60s: $(pod_why missing)"
fi
