# shellcheck shell=bash
# bench-lib.sh: measurement helpers shared by hack/bench.sh (tektite alone) and
# hack/bench-compare.sh (tektite and Tekton side by side). Sourced, never run. Figures only.

# The benchmark's TaskRuns, one copy for both scripts. Every step says imagePullPolicy
# IfNotPresent: the images are in the node's store after the first run, and with the default
# (Always, for a :latest tag) the kubelet asks the registry for every Pod and its pull limit
# (5/s, burst 10) failed runs that were created at once (docs/benchmarks.md section 5).
# one_step_yaml NAME [POD_TEMPLATE]: a one-step `true` TaskRun as a YAML document; POD_TEMPLATE,
# a flow-style mapping, becomes its spec.podTemplate.
one_step_yaml() {
    printf -- '---\napiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: %s}\nspec:\n' "$1"
    [ -z "${2:-}" ] || printf '  podTemplate: %s\n' "$2"
    printf '  taskSpec:\n    steps:\n    - {name: s, image: mirror.gcr.io/busybox, imagePullPolicy: IfNotPresent, command: ["true"]}\n'
}
# ten_step_yaml NAME: ten script steps, each appending its start (coreutils date %N: the Debian
# image; busybox's date has no %N) to /workspace/stamps; the last prints them, so the hand-off
# between steps is the difference of consecutive lines of step-s9's log.
ten_step_yaml() {
    local i
    printf -- '---\napiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: %s}\nspec:\n  taskSpec:\n    steps:\n' "$1"
    for i in $(seq 0 9); do
        printf '    - name: s%d\n      image: mirror.gcr.io/ubuntu\n      imagePullPolicy: IfNotPresent\n' "$i"
        printf "      script: 'date +%%s%%N >> /workspace/stamps; [ %d != 9 ] || cat /workspace/stamps'\n" "$i"
    done
}
# fan_step: the one step of every task of the fan-out PipelineRun, flow style
# shellcheck disable=SC2034 # used by hack/bench-compare.sh
FAN_STEP='{name: s, image: mirror.gcr.io/busybox, imagePullPolicy: IfNotPresent, command: ["true"]}'

# /proc readings of one process: resident set now and its high-water mark (KiB), and CPU time
# (user + system) in clock ticks.
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Order statistics of the numbers on stdin, one a line. "n/a" when there are none.
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# percentile P: nearest-rank
percentile() { sort -n | awk -v p="$1" '{a[NR]=$1} END {if (NR == 0) {print "n/a"; exit} i = int((p * NR + 99) / 100); if (i < 1) i = 1; if (i > NR) i = NR; print a[i]}'; }
minmax() { sort -n | awk 'NR == 1 {lo=$1} {hi=$1} END {if (NR == 0) print "n/a"; else print lo "-" hi}'; }

# pids_by_exe PATH: the PIDs whose argv[0] is PATH (a controller in a container is a process on
# this host: single-node cluster).
pids_by_exe() {
    local p a
    for p in /proc/[0-9]*; do
        a=$(tr '\0' '\n' 2> /dev/null < "$p/cmdline" | head -1) || continue
        [ "$a" = "$1" ] && echo "${p#/proc/}"
    done
    return 0
}

# watch_stamp NS KIND OUT: stream KIND's watch events in NS into OUT, each line
# "<epoch µs> <event type> <name> <Succeeded condition's status> <tekton.dev/taskRun label>",
# stamped by the reading shell as it reads them (bash's $EPOCHREALTIME: no fork per line).
# kubectl ends a watch when the server closes it (and did under load 50 here), so it is restarted
# at once; the relist repeats ADDED events, and first_added/first_done keep each object's first.
# The condition is picked by type with a filter: an index ([0]) on an empty conditions list makes
# kubectl's jsonpath fail and the watch exit. Runs in its own session; prints its PID, which
# watch_stop takes (it ends the kubectl too). Its own stdout is /dev/null: a caller's
# $(watch_stamp ...) would otherwise wait for the watch to end.
watch_stamp() {
    : > "$3"
    setsid bash -c 'while :; do
            "$0" -n "$1" get "$2" --watch --output-watch-events \
                -o jsonpath="{.type} {.object.metadata.name} {.object.status.conditions[?(@.type==\"Succeeded\")].status} {.object.metadata.labels.tekton\.dev/taskRun}{\"\n\"}" |
                while IFS= read -r l; do printf "%s %s\n" "${EPOCHREALTIME/./}" "$l"; done >> "$3"
            echo "$(date -u +%T) watch of $2 ended, restarting" >> "$3.restarts"
            sleep 0.2
        done' "$K" "$1" "$2" "$3" > /dev/null 2> "$3.err" &
    echo $!
}
watch_stop() {
    kill -- "-$1" 2> /dev/null || true
    wait "$1" 2> /dev/null || true
}

# From a watch_stamp file: "<name> <µs>" for each object's first ADDED event, and for each
# object's first event whose condition is True or False (finished).
first_added() { awk '$2 == "ADDED" && !($3 in s) {s[$3] = $1; print $3, $1}' "$1"; }
first_done() { awk '($4 == "True" || $4 == "False") && !($3 in s) {s[$3] = $1; print $3, $1, $4}' "$1"; }

# durations_ms WATCHFILE PREFIX: "<name> <ms>" from first ADDED to first finished event.
durations_ms() {
    join <(first_added "$1" | sort) <(first_done "$1" | sort) |
        awk -v p="$2" 'index($1, p) == 1 {printf "%s %d\n", $1, ($3 - $2) / 1000}'
}

# pod_latency_ms TASKRUN_WATCH POD_WATCH PREFIX: for each run named PREFIX*, ms from its first
# ADDED to its Pod's (RUN-pod, the name both controllers give it; the watch line's label field
# can be empty) first ADDED, one a line.
pod_latency_ms() {
    join <(first_added "$1" | sort) <(awk '$2 == "ADDED" && $3 ~ /-pod$/ {r = $3; sub(/-pod$/, "", r); if (!(r in s)) {s[r] = $1; print r, $1}}' "$2" | sort) |
        awk -v p="$3" 'index($1, p) == 1 {printf "%d\n", ($3 - $2) / 1000}'
}

# kwok_figures TASKRUN_WATCH POD_WATCH PREFIX: the simulated-node workload's figures as KEY=VALUE
# lines: runs finished and failed, first create -> last create and -> last finished (s), runs
# finished per second over that, create -> Pod created p50/p99 (ms).
kwok_figures() {
    local p=$3
    pod_latency_ms "$1" "$2" "$p" > "$1.$p.pod-ms"
    echo "kwok_pod_p50_ms=$(percentile 50 < "$1.$p.pod-ms")"
    echo "kwok_pod_p99_ms=$(percentile 99 < "$1.$p.pod-ms")"
    awk -v p="$p" '
        FILENAME == ARGV[1] { if (index($1, p) == 1) { if (lo == "" || $2 < lo) lo = $2; if ($2 > hc) hc = $2 } next }
        index($1, p) == 1 { n++; if ($3 == "False") f++; if ($2 > hi) hi = $2 }
        END {
            printf "kwok_done=%d\nkwok_failed=%d\n", n, f
            if (lo == "") { print "kwok_create_s=n/a"; print "kwok_all_s=n/a"; print "kwok_rps=n/a"; exit }
            printf "kwok_create_s=%.1f\n", (hc - lo) / 1e6
            if (n == 0) { print "kwok_all_s=n/a"; print "kwok_rps=n/a"; exit }
            printf "kwok_all_s=%.1f\nkwok_rps=%.1f\n", (hi - lo) / 1e6, n / ((hi - lo) / 1e6)
        }' <(first_added "$1") <(first_done "$1")
}

# api_requests BEFORE AFTER OWN: the requests a controller issues, from two apiserver_request_total
# scrapes: every TaskRun and PipelineRun request but LIST and WATCH (the benchmark's own watches;
# Tasks are left out: someone's 10,000 Task creates landed in one window here), and every
# create/update/patch of a Pod itself (not pods/status: the kubelet's; not pods/binding: the
# scheduler's), minus OWN (the objects the benchmark itself created). Pod DELETEs are left out:
# neither controller deletes the Pod of a successful run, and the metric is cluster-wide, so
# others' deletions (2,000 in one 200-run window here) would land on the benchmark.
api_requests() {
    awk -v own="$3" '
        function key(l) { sub(/ [0-9.e+]+$/, "", l); return l }
        function val(l) { return l ~ / [0-9.e+]+$/ ? substr(l, match(l, / [0-9.e+]+$/) + 1) + 0 : 0 }
        function counted(l) {
            if (l ~ /group="tekton.dev",resource="(taskruns|pipelineruns)"/ && l !~ /verb="(LIST|WATCH)"/) return 1
            if (l ~ /group="",resource="pods"/ && l ~ /subresource=""/ && l ~ /verb="(POST|PUT|PATCH)"/) return 1
            return 0 }
        FILENAME == ARGV[1] { if (counted($0)) b[key($0)] = val($0); next }
        counted($0) { s += val($0) - b[key($0)] }
        END { print s - own }' "$1" "$2"
}

# reconciles BEFORE AFTER [PATTERN]: the difference in reconcile counts on the controller's own /metrics:
# tekton_pipelines_controller_reconcile_count (tektite) or the count of knative's work-queue
# processing histogram, one observation per reconcile (Tekton), summed over the TaskRun and
# PipelineRun reconcilers' series.
RECONCILE_RE=${BENCH_RECONCILE_RE:-'^(tekton_pipelines_controller_reconcile_count|kn_workqueue_process_duration[a-z_]*_count)[{ ]'}
# PATTERN (default: either reconciler) picks the series by their labels.
reconciles() {
    awk -v re="$RECONCILE_RE" -v pat="${3:-([Tt]ask[Rr]un|[Pp]ipeline[Rr]un)}" '
        function key(l) { sub(/ [0-9.e+]+$/, "", l); return l }
        function val(l) { return substr(l, match(l, / [0-9.e+]+$/) + 1) + 0 }
        $0 !~ re || $0 !~ pat { next }
        FILENAME == ARGV[1] { b[key($0)] = val($0); next }
        { s += val($0) - b[key($0)] }
        END { print s + 0 }' "$1" "$2"
}

# fan_figures TASKRUN_WATCH PIPELINERUN_WATCH: wall time and the controller's share of it: the
# gaps between one level finishing and the next level's TaskRuns existing, plus PipelineRun
# created -> first TaskRun and last TaskRun done -> PipelineRun done.
fan_figures() {
    local a d
    a=$(first_added "$1" | awk 'index($1, "fan-") == 1')
    d=$(first_done "$1" | awk 'index($1, "fan-") == 1')
    awk -v A="$a" -v D="$d" '
        BEGIN {
            n = split(A, la, "\n"); for (i = 1; i <= n; i++) { split(la[i], f, " "); add[f[1]] = f[2] }
            n = split(D, ld, "\n"); for (i = 1; i <= n; i++) { split(ld[i], f, " "); dn[f[1]] = f[2] }
            for (k in add) if (k != "fan-start" && k != "fan-end") { if (add[k] > fa) fa = add[k]; nf++ }
            for (k in dn) if (k != "fan-start" && k != "fan-end") if (dn[k] > fd) fd = dn[k]
        }
        $2 == "ADDED" && p0 == "" { p0 = $1 }
        ($4 == "True" || $4 == "False") && pd == "" { pd = $1; ps = $4 }
        # gap A B: B - A in ms, "n/a" unless both stamps exist (a level that never started)
        function gap(a, b) { if (a == "" || b == "") { bad = 1; return "n/a" } return sprintf("%d", (b - a) / 1e3) }
        END {
            first = gap(p0, add["fan-start"]); disp = gap(dn["fan-start"], fa)
            join = gap(fd, add["fan-end"]); fin = gap(dn["fan-end"], pd); wall = gap(p0, pd)
            over = bad ? "n/a" : first + disp + join + fin
            printf "fan_wall_ms=%s\nfan_overhead_ms=%s\nfan_first_ms=%s\nfan_dispatch_ms=%s\nfan_join_ms=%s\nfan_finish_ms=%s\nfan_status=%s\nfan_taskruns=%d\n",
                wall, over, first, disp, join, fin, ps, nf
        }' "$2"
}

