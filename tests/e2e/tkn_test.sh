#!/usr/bin/env bash
# tkn v0.46.0 drives tektite the way a user would: `tkn pipeline start --showlog` runs a Pipeline
# (a param and a PVC-backed workspace) and streams its step logs; `tkn pipelinerun list/describe/
# logs` and `tkn taskrun list` show the finished runs; `tkn pipelinerun cancel` stops a
# long-running PipelineRun, its TaskRun and its Pod.
# e2e-timeout: 1200
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/tektite.sh"

if [ -z "$TKN" ] || [ ! -x "$TKN" ]; then
    not_ok tkn/present "no tkn binary (TKN='$TKN'); hack/build-k8s.sh tkn builds it"
    exit 1
fi
e2e_init
export TEKTITE_WATCH_NAMESPACE=$NS
export TEKTITE_LOG=$REPO/build/e2e/tkn-controller.log
if ! tektite_start; then
    not_ok tkn/start "tektite did not start"
    e2e_cleanup
    exit 1
fi
# tektite_start traps tektite_stop alone; the namespace must go too
trap 'tektite_stop; e2e_cleanup' EXIT

tkn() { "$TKN" "$@" < /dev/null; }
image=mirror.gcr.io/busybox

# kv: `write` stores param k in the workspace, `read` (after it) prints it back from there, so the
# value reaching the second step proves the PVC was shared between the two TaskRuns' pods.
if ! applied=$(k apply -f - 2>&1 << EOF
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: write}
spec:
  params: [{name: k, type: string}]
  workspaces: [{name: source}]
  steps:
    - name: write
      image: $image
      script: |
        #!/bin/sh
        echo "write k=\$(params.k)"
        echo "\$(params.k)" > "\$(workspaces.source.path)/k"
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: read}
spec:
  workspaces: [{name: source}]
  steps:
    - name: read
      image: $image
      script: |
        #!/bin/sh
        echo "read k=\$(cat "\$(workspaces.source.path)/k")"
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: kv}
spec:
  params: [{name: k, type: string}]
  workspaces: [{name: source}]
  tasks:
    - name: write
      taskRef: {name: write}
      params: [{name: k, value: \$(params.k)}]
      workspaces: [{name: source, workspace: source}]
    - name: read
      runAfter: [write]
      taskRef: {name: read}
      workspaces: [{name: source, workspace: source}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: sleeper}
spec:
  tasks:
    - name: nap
      taskSpec:
        steps:
          - name: nap
            image: $image
            script: |
              #!/bin/sh
              echo napping
              sleep 300
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: source-pvc}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
EOF
); then
    not_ok tkn/apply "kubectl apply: $applied"
    exit 1
fi

# prname OUTPUT: the run name in tkn start's "PipelineRun started: <name>" line
prname() { sed -nE 's/^PipelineRun started: ([a-z0-9.-]+).*/\1/p' <<< "$1" | head -n 1; }
# cond KIND NAME: the Succeeded condition as status/reason
cond() {
    k get "$1" "$2" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}/{.status.conditions[?(@.type=="Succeeded")].reason}' 2>/dev/null
}

# --- start --showlog ------------------------------------------------------------------------
out=$(timeout 300 "$TKN" pipeline start kv -n "$NS" --workspace name=source,claimName=source-pvc \
    -p k=v --showlog < /dev/null 2>&1)
rc=$?
pr=$(prname "$out")
if [ -z "$pr" ]; then
    not_ok tkn/start-showlog "rc=$rc, no run name in: $(tail -n 5 <<< "$out")"
    exit 1
fi
if [ $rc = 0 ] && grep -qE '^\[write : write\] write k=v$' <<< "$out" &&
    grep -qE '^\[read : read\] read k=v$' <<< "$out"; then
    ok tkn/start-showlog
else
    [ $rc = 124 ] && why="tkn still streaming after 300s" || why="rc=$rc, step lines missing"
    not_ok tkn/start-showlog "$why: $(tail -n 5 <<< "$out")"
fi
pr_done() { [ "$(k get pipelinerun "$pr" -o jsonpath='{.status.completionTime}')" ]; }
wait_until 240 pr_done
c=$(cond pipelinerun "$pr")
if [ "$c" = True/Succeeded ]; then ok tkn/run-succeeded; else not_ok tkn/run-succeeded "$pr: $c"; fi

# --- list / describe / logs -----------------------------------------------------------------
# list_ok KIND NAME...: the header has a DURATION column and each NAME's row says Succeeded
list_ok() {
    local kind=$1 out n
    shift
    out=$(tkn "$kind" list -n "$NS" 2>&1) || { echo "$out"; return 1; }
    head -n 1 <<< "$out" | grep -qw DURATION || { echo "no DURATION column: $(head -n 1 <<< "$out")"; return 1; }
    for n in "$@"; do
        grep -E "^$n " <<< "$out" | grep -qw Succeeded || { echo "no Succeeded row for $n: $out"; return 1; }
    done
}
check tkn/pipelinerun-list list_ok pipelinerun "$pr"
trs=$(k get taskruns -l "tekton.dev/pipelineRun=$pr" -o jsonpath='{.items[*].metadata.name}')
if [ "$(wc -w <<< "$trs")" = 2 ]; then
    # shellcheck disable=SC2086
    check tkn/taskrun-list list_ok taskrun $trs
else
    not_ok tkn/taskrun-list "want 2 TaskRuns labelled tekton.dev/pipelineRun=$pr, got '$trs'"
fi

describe_ok() {
    local out
    out=$(tkn pipelinerun describe "$pr" -n "$NS" 2>&1) || { echo "$out"; return 1; }
    grep -qE '^Status' <<< "$out" || { echo "no Status section: $out"; return 1; }
    grep -qw Succeeded <<< "$out" || { echo "no Succeeded: $out"; return 1; }
    for t in write read; do
        grep -qE "^ *[^ ]+ +$t +.*Succeeded" <<< "$out" || { echo "no Succeeded TaskRun row for task $t: $out"; return 1; }
    done
}
check tkn/pipelinerun-describe describe_ok

logs_ok() {
    local out
    out=$(timeout 120 "$TKN" pipelinerun logs "$pr" -n "$NS" < /dev/null 2>&1) || { echo "$out"; return 1; }
    if ! grep -qE '^\[write : write\] write k=v$' <<< "$out" || ! grep -qE '^\[read : read\] read k=v$' <<< "$out"; then
        echo "step lines missing: $out"
        return 1
    fi
}
check tkn/pipelinerun-logs logs_ok

# --- cancel ---------------------------------------------------------------------------------
out=$(tkn pipeline start sleeper -n "$NS" 2>&1)
spr=$(prname "$out")
if [ -z "$spr" ]; then
    not_ok tkn/cancel "tkn pipeline start sleeper: $(tail -n 3 <<< "$out")"
    exit 1
fi
# cancel mid-step: wait (bounded) until the nap step runs
running() {
    local tr
    tr=$(k get taskruns -l "tekton.dev/pipelineRun=$spr" -o jsonpath='{.items[0].metadata.name}')
    [ -n "$tr" ] && [ "$(k get taskrun "$tr" -o jsonpath='{.status.steps[0].running.startedAt}')" ]
}
if ! wait_until 180 running; then
    not_ok tkn/cancel "the nap step of $spr did not start within 180s: $(cond pipelinerun "$spr")"
    exit 1
fi
str=$(k get taskruns -l "tekton.dev/pipelineRun=$spr" -o jsonpath='{.items[0].metadata.name}')
pod=$(k get taskrun "$str" -o jsonpath='{.status.podName}')
out=$(tkn pipelinerun cancel "$spr" -n "$NS" 2>&1)
if ! grep -q "PipelineRun cancelled: $spr" <<< "$out"; then
    not_ok tkn/cancel "tkn pipelinerun cancel: $out"
    exit 1
fi
pr_cancelled() { [ "$(cond pipelinerun "$spr")" = False/Cancelled ]; }
if wait_until 90 pr_cancelled; then ok tkn/cancel-pipelinerun; else
    not_ok tkn/cancel-pipelinerun "$spr after 90s: $(cond pipelinerun "$spr")"
fi
tr_cancelled() { [ "$(cond taskrun "$str")" = False/TaskRunCancelled ]; }
if wait_until 90 tr_cancelled; then ok tkn/cancel-taskrun; else
    not_ok tkn/cancel-taskrun "$str after 90s: $(cond taskrun "$str")"
fi
# the pod is deleted or all its containers have stopped
pod_stopped() {
    local s
    s=$(k get pod "$pod" -o json 2>&1) || { grep -q NotFound <<< "$s"; return; }
    jq -e '.status.phase == "Failed" or .status.phase == "Succeeded" or
        ((.status.containerStatuses // []) as $c | ($c | length) > 0 and ([$c[].state | has("terminated")] | all))' \
        <<< "$s" > /dev/null
}
if wait_until 90 pod_stopped; then ok tkn/cancel-pod-stopped; else
    not_ok tkn/cancel-pod-stopped "pod $pod after 90s: $(pod_why "$pod")"
fi
