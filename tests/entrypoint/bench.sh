#!/usr/bin/env bash
# Step hand-off latency of tektite-entrypoint, no cluster needed: N steps run as N
# concurrent entrypoint processes in a temp dir standing in for /tekton (every path comes
# from flags). Each step's command is a tiny static program that records its start time;
# hand-off i = start(step i+1) - start(step i), i.e. command i exits, its entrypoint reaps
# it and writes the post file, entrypoint i+1 wakes on inotify and execs its command.
# Usage: tests/entrypoint/bench.sh [entrypoint binary] [N] [rounds]
set -euo pipefail
EP=${1:-build/tektite-entrypoint}
N=${2:-10}
ROUNDS=${3:-5}
EP=$(cd "$(dirname "$EP")" && pwd)/$(basename "$EP")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cc -O2 -static -o "$tmp/stamp" "$here/stamp.c" 2>/dev/null || cc -O2 -o "$tmp/stamp" "$here/stamp.c"

all=()
for round in $(seq 1 "$ROUNDS"); do
    d="$tmp/r$round"
    mkdir -p "$d"
    for i in $(seq 0 $((N - 1))); do mkdir -p "$d/run/$i"; done
    pids=()
    # start the last step first: the chain must order them, not the launch order
    for i in $(seq $((N - 1)) -1 0); do
        # step 0 waits for a "go" file, like the downward ready file in a Pod
        wait_args=(-wait_file "$d/go")
        [ "$i" -gt 0 ] && wait_args=(-wait_file "$d/run/$((i - 1))/out")
        "$EP" "${wait_args[@]}" -post_file "$d/run/$i/out" -termination_path "$d/term-$i" \
            -step_metadata_dir "$d/run/$i/status" -entrypoint "$tmp/stamp" -- "$d/log" "$i" &
        pids+=($!)
    done
    # as in a Pod, every step is already blocked in its wait when the first one starts
    sleep 0.5
    : > "$d/go"
    for p in "${pids[@]}"; do wait "$p"; done
    mapfile -t lines < <(sort -n -k1,1 "$d/log")
    for i in $(seq 1 $((N - 1))); do
        prev=${lines[$((i - 1))]#* }
        cur=${lines[$i]#* }
        all+=($(( (cur - prev) / 1000 )))
    done
done
sorted=($(printf '%s\n' "${all[@]}" | sort -n))
count=${#sorted[@]}
median=${sorted[$((count / 2))]}
echo "hand-offs: $count ($ROUNDS rounds x $((N - 1)))"
echo "min ${sorted[0]}us  median ${median}us  p90 ${sorted[$((count * 9 / 10))]}us  max ${sorted[$((count - 1))]}us"
