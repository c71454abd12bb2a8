#!/usr/bin/env bash
# Run each unit-test binary with leak detection on; print one tally line at the end.
set -u
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0 failed=0
for t in "$@"; do
    # a hung test must not hang CI: every binary gets a bound
    if timeout 600 "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
