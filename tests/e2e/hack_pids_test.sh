#!/usr/bin/env bash
# hack/lib.sh's pid helpers on processes this test makes itself (no cluster; cluster-down.sh is
# never run): a daemon that exited but is not yet reaped, the case this machine's late-reaping
# init produces, counts as gone, and pid_wait_gone (cluster-down.sh's stop) returns at once
# instead of waiting out its grace on `kill -0`; a daemon that ignores SIGTERM is still waited
# for, and pid_wait_gone fails for it when the time is up.
set -euo pipefail
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/lib.sh"
. "$REPO/hack/lib.sh" 2>/dev/null
LC_RUN=$(mktemp -d)
parents=()
cleanup() {
    local p
    for p in "${parents[@]}"; do
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$LC_RUN"
}
trap cleanup EXIT

# orphan_daemon NAME CMD: run CMD as the child of a parent that never reaps it (a `sleep` that
# bash exec'd into), record the child as NAME.
orphan_daemon() {
    local n=$1 i
    shift
    bash -c '"$@" & echo $! > "$0"; exec sleep 120' "$LC_RUN/$n.child" "$@" &
    parents+=($!)
    for ((i = 0; i < 50; i++)); do
        [ -s "$LC_RUN/$n.child" ] && break
        sleep 0.1
    done
    pid_record "$n" "$(cat "$LC_RUN/$n.child")"
}

orphan_daemon zombie sleep 120
pid=$(pid_of zombie) || true
if [ -n "$pid" ]; then ok "hack-pids/alive-before-kill"; else not_ok "hack-pids/alive-before-kill" "pid_of found no process"; fi
kill -TERM "$pid"
start=$SECONDS
if pid_wait_gone zombie 15; then waited=$((SECONDS - start)); else waited=fail; fi
# the premise: the process is a zombie, which `kill -0` still reports as there
state=$(proc_state "$pid")
if [ "$state" = Z ] && kill -0 "$pid" 2>/dev/null; then
    ok "hack-pids/zombie-made"
else
    not_ok "hack-pids/zombie-made" "state '$state' (want Z, still signalable)"
fi
if [ "$waited" != fail ] && [ "$waited" -le 2 ]; then
    ok "hack-pids/zombie-counts-as-gone"
else
    not_ok "hack-pids/zombie-counts-as-gone" "pid_wait_gone: $waited (want success within 2 s of a 15 s grace)"
fi

orphan_daemon stubborn bash -c 'trap "" TERM; while :; do sleep 0.2; done'
kill -TERM "$(pid_of stubborn)"
if pid_wait_gone stubborn 1; then
    not_ok "hack-pids/live-process-is-waited-for" "pid_wait_gone succeeded for a process that ignores SIGTERM"
else
    ok "hack-pids/live-process-is-waited-for"
fi
kill -KILL "$(pid_of stubborn)"
if pid_wait_gone stubborn 5; then ok "hack-pids/killed-process-gone"; else not_ok "hack-pids/killed-process-gone" "still running after SIGKILL"; fi
