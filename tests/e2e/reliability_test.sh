#!/usr/bin/env bash
# Reliability when the controller dies: runs are created in bulk while the controller is killed
# with SIGKILL at random moments and restarted each time; afterwards every run must still end
# Succeeded and no child may exist twice (a restarted controller re-plans from the API server,
# and child names are deterministic, so a re-create must find the old child, never add one).
#   1. 50 one-step TaskRuns, 4 kills at random intervals of 1-5 s: every TaskRun Succeeded,
#      exactly one Pod per TaskRun (label tekton.dev/taskRun), no Pod without its TaskRun.
#   2. 200 PipelineRuns of a two-task Pipeline (b takes a's result), 2 kills: exactly one TaskRun
#      per (PipelineRun, pipeline task) (labels tekton.dev/pipelineRun + tekton.dev/pipelineTask),
#      every PipelineRun Succeeded, still one Pod per TaskRun. 400 Pods: on this 2-core node that
#      is most of this file's time (about ten minutes); RELIABILITY_PIPELINERUNS scales it down
#      for a quick look.
# Throughout: the controller never exits by itself and its log shows no crash.
# e2e-timeout: 2100
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TEKTITE_LOG=${REPO}/build/e2e/reliability-controller.log
. "$here/lib.sh"
. "$here/tektite.sh"

N_TASKRUNS=50
N_PIPELINERUNS=${RELIABILITY_PIPELINERUNS:-200}
IMAGE=mirror.gcr.io/busybox

e2e_init
TEKTITE_WATCH_NAMESPACE=$NS
if ! tektite_start; then
    not_ok reliability/start "tektite did not start (log: $TEKTITE_LOG)"
    exit 1
fi
# tektite_start traps tektite_stop alone; keep the namespace cleanup too.
tmp=$(mktemp -d)
trap 'tektite_stop; e2e_cleanup; rm -rf "$tmp"' EXIT

# The controller's exact command line, to restart it the way tektite_start started it (with the
# log appended to, not truncated). $TEKTITE_PID is a forked shell until it has expanded the
# command's arguments and exec'd the binary: read the command line only once it has.
CTL_BIN=$REPO/build/tektite-controller
is_controller() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$CTL_BIN")" ]; }
CTL_CMD=()
if wait_until 30 is_controller "$TEKTITE_PID"; then
    mapfile -d '' CTL_CMD < "/proc/$TEKTITE_PID/cmdline"
fi
if [ "${CTL_CMD[0]:-}" != "$CTL_BIN" ]; then
    not_ok reliability/start "pid $TEKTITE_PID is not $CTL_BIN: ${CTL_CMD[*]:-no command line}"
    exit 1
fi
KILLS=0
DIED=""      # "kill N" for each time the controller was found already gone before a kill

# kill_storm COUNT: COUNT times, wait 1-5 s (random), SIGKILL the controller and restart it.
kill_storm() {
    local i
    for ((i = 0; i < $1; i++)); do
        sleep "$((1 + RANDOM % 4)).$((RANDOM % 10))"
        KILLS=$((KILLS + 1))
        if ! is_controller "$TEKTITE_PID"; then DIED="$DIED kill$KILLS"; fi
        echo "=== reliability_test: SIGKILL #$KILLS to pid $TEKTITE_PID at $(date -u +%T.%N)" >> "$TEKTITE_LOG"
        kill -KILL "$TEKTITE_PID" 2>/dev/null
        wait "$TEKTITE_PID" 2>/dev/null
        "${CTL_CMD[@]}" >> "$TEKTITE_LOG" 2>&1 &
        TEKTITE_PID=$!
    done
}

# done_count KIND: how many KIND objects have a final Succeeded condition (True or False).
done_count() {
    k get "$1" -o json | jq '[.items[] | select(any(.status.conditions[]?;
        .type == "Succeeded" and (.status == "True" or .status == "False")))] | length'
}

# wait_done KIND N SECONDS: until N KIND objects are done; 1 on timeout.
wait_done() {
    local i c
    for ((i = 0; i < $3; i += 2)); do
        c=$(done_count "$1" 2>/dev/null) || c=0
        [ "$c" -ge "$2" ] && return 0
        sleep 2
    done
    return 1
}

# check_succeeded NAME KIND N: exactly N KIND objects, all Succeeded=True; the reason counts
# them by Succeeded status/reason.
check_succeeded() {
    local name=$1 kind=$2 n=$3 summary good total
    k get "$kind" -o json > "$tmp/runs.json"
    total=$(jq '.items | length' "$tmp/runs.json")
    good=$(jq '[.items[] | select(any(.status.conditions[]?;
        .type == "Succeeded" and .status == "True"))] | length' "$tmp/runs.json")
    if [ "$total" = "$n" ] && [ "$good" = "$n" ]; then
        ok "$name"
        return
    fi
    summary=$(jq -r '[.items[] | ((.status.conditions // []) | map(select(.type == "Succeeded"))[0]
        | "\(.status // "none")/\(.reason // "-")")] | group_by(.) | map("\(.[0])=\(length)")
        | join(" ")' "$tmp/runs.json")
    not_ok "$name" "$good of $n $kind Succeeded ($total exist): $summary; not succeeded:" \
        "$(jq -r '[.items[] | select(all(.status.conditions[]?; .type != "Succeeded" or
        .status != "True")) | "\(.metadata.name) (\((.status.conditions // [])
        | map(select(.type == "Succeeded"))[0].message // "no condition"))"] | .[:3] | join(", ")' \
        "$tmp/runs.json")"
}

# check_pods NAME: every TaskRun in $NS has exactly one Pod labelled tekton.dev/taskRun=<it>, and
# every Pod's tekton.dev/taskRun names an existing TaskRun.
check_pods() {
    local name=$1 bad orphans
    k get taskruns -o json > "$tmp/trs.json"
    k get pods -o json > "$tmp/pods.json"
    bad=$(jq -r --slurpfile p "$tmp/pods.json" '
        ($p[0].items | map(.metadata.labels["tekton.dev/taskRun"] // "") | group_by(.)
            | map({key: .[0], value: length}) | from_entries) as $count
        | [.items[].metadata.name | select(($count[.] // 0) != 1) | "\(.):\($count[.] // 0)"]
        | "\(length) \(.[:8] | join(" "))"' "$tmp/trs.json")
    orphans=$(jq -r --slurpfile t "$tmp/trs.json" '
        ($t[0].items | map({key: .metadata.name, value: true}) | from_entries) as $trs
        | [.items[] | select($trs[.metadata.labels["tekton.dev/taskRun"] // ""] | not)
            | "\(.metadata.name)(taskRun=\(.metadata.labels["tekton.dev/taskRun"] // "none"))"]
        | "\(length) \(.[:8] | join(" "))"' "$tmp/pods.json")
    if [ "${bad%% *}" = 0 ] && [ "${orphans%% *}" = 0 ]; then
        ok "$name"
    else
        not_ok "$name" "$(jq '.items | length' "$tmp/trs.json") TaskRuns," \
            "$(jq '.items | length' "$tmp/pods.json") Pods; ${bad%% *} TaskRuns without exactly one" \
            "Pod (name:pods): ${bad#* }; ${orphans%% *} Pods without their TaskRun: ${orphans#* }"
    fi
}

# check_controller NAME: the controller is running, never exited between kills, and its log has
# no crash report.
check_controller() {
    local name=$1 crash
    crash=$(grep -E 'AddressSanitizer|Segmentation|core dumped' "$TEKTITE_LOG" | head -n 2)
    if [ -n "$DIED" ]; then
        not_ok "$name" "controller had exited by itself before:$DIED (log: $TEKTITE_LOG)"
    elif ! is_controller "$TEKTITE_PID"; then
        not_ok "$name" "controller (pid $TEKTITE_PID) is not running: $(tail -n 2 "$TEKTITE_LOG")"
    elif [ -n "$crash" ]; then
        not_ok "$name" "crash in $TEKTITE_LOG: $crash"
    else
        ok "$name"
    fi
}

# The steps' image is pulled once here and then used IfNotPresent: 130 Pods each pulling
# busybox:latest would trip the kubelet's image pull QPS limit (ErrImagePull: pull QPS exceeded).
run_pod warm-up "$IMAGE" true
if ! wait_pod_done warm-up 180; then
    not_ok reliability/image "cannot run $IMAGE: $(pod_why warm-up)"
    exit 1
fi
k delete pod warm-up --wait=true --timeout=60s > /dev/null 2>&1

# --- 1. TaskRuns --------------------------------------------------------------------------------
start=$SECONDS
jq -n --arg img "$IMAGE" --argjson n "$N_TASKRUNS" '{apiVersion: "v1", kind: "List",
    items: [range(1; $n + 1) | {apiVersion: "tekton.dev/v1", kind: "TaskRun",
        metadata: {name: "tr-\(.)"},
        spec: {taskSpec: {steps: [{name: "echo", image: $img, imagePullPolicy: "IfNotPresent",
            command: ["echo"], args: ["tr-\(.)"]}]}}}]}' > "$tmp/taskruns.json"
if ! k create -f "$tmp/taskruns.json" > /dev/null; then
    not_ok reliability/taskruns-created "kubectl create of $N_TASKRUNS TaskRuns failed"
    exit 1
fi
kill_storm 4
wait_done taskruns "$N_TASKRUNS" 300
check_succeeded reliability/taskruns-succeeded taskruns "$N_TASKRUNS"
check_pods reliability/taskruns-one-pod-each
check_controller reliability/taskruns-controller-no-crash
echo "# reliability: $N_TASKRUNS TaskRuns, $KILLS kills, $((SECONDS - start))s"

# --- 2. PipelineRuns ----------------------------------------------------------------------------
start=$SECONDS
kills_before=$KILLS
jq -n --arg img "$IMAGE" '{apiVersion: "tekton.dev/v1", kind: "Pipeline", metadata: {name: "ab"},
    spec: {tasks: [
        {name: "a", taskSpec: {results: [{name: "word"}],
            steps: [{name: "say", image: $img, imagePullPolicy: "IfNotPresent",
                script: "printf hello > $(results.word.path)"}]}},
        {name: "b", params: [{name: "word", value: "$(tasks.a.results.word)"}],
            taskSpec: {params: [{name: "word"}],
                steps: [{name: "hear", image: $img, imagePullPolicy: "IfNotPresent",
                    script: "[ \"$(params.word)\" = hello ]"}]}}]}}' > "$tmp/pipeline.json"
jq -n --argjson n "$N_PIPELINERUNS" '{apiVersion: "v1", kind: "List",
    items: [range(1; $n + 1) | {apiVersion: "tekton.dev/v1", kind: "PipelineRun",
        metadata: {name: "pr-\(.)"}, spec: {pipelineRef: {name: "ab"}}}]}' > "$tmp/pipelineruns.json"
if ! k create -f "$tmp/pipeline.json" > /dev/null || ! k create -f "$tmp/pipelineruns.json" > /dev/null; then
    not_ok reliability/pipelineruns-created "kubectl create of the Pipeline or $N_PIPELINERUNS PipelineRuns failed"
    exit 1
fi
kill_storm 2
wait_done pipelineruns "$N_PIPELINERUNS" 1500
check_succeeded reliability/pipelineruns-succeeded pipelineruns "$N_PIPELINERUNS"

# Exactly one TaskRun per (PipelineRun, pipeline task): pr-i/a and pr-i/b, nothing else.
k get taskruns -l tekton.dev/pipelineRun -o json > "$tmp/children.json"
children=$(jq -r --argjson n "$N_PIPELINERUNS" '
    (.items | map("\(.metadata.labels["tekton.dev/pipelineRun"])/\(.metadata.labels["tekton.dev/pipelineTask"] // "none")")
        | group_by(.) | map({key: .[0], value: length}) | from_entries) as $count
    | ([range(1; $n + 1) | "pr-\(.)/a", "pr-\(.)/b"]) as $want
    | ([$want[] | select(($count[.] // 0) != 1) | "\(.):\($count[.] // 0)"]
       + [$count | keys[] | select(. as $k | $want | index($k) | not) | "\(.):\($count[.])"])
    | "\(length) \(.[:8] | join(" "))"' "$tmp/children.json")
if [ "${children%% *}" = 0 ]; then
    ok reliability/pipelineruns-one-taskrun-per-task
else
    not_ok reliability/pipelineruns-one-taskrun-per-task "$(jq '.items | length' "$tmp/children.json")" \
        "child TaskRuns for $((2 * N_PIPELINERUNS)) pipeline tasks; ${children%% *} (run/task:count)" \
        "not exactly one: ${children#* }"
fi
check_pods reliability/pipelineruns-one-pod-each
check_controller reliability/pipelineruns-controller-no-crash
echo "# reliability: $N_PIPELINERUNS PipelineRuns, $((KILLS - kills_before)) kills, $((SECONDS - start))s"
