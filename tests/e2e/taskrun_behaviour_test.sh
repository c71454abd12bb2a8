#!/usr/bin/env bash
# TaskRun behaviour beyond the conformance examples, against a host controller watching this
# test's namespace only (run it under the shared lock: flock -s /tmp/tektite-cluster.lock):
#   sidecars  a TaskRun whose sidecars never end on their own (`sleep infinity`, a script loop)
#             ends Succeeded as soon as its step does; the sidecars are then restarted from
#             the nop image, the Pod ends, and status.sidecars shows them terminated.
#   resources a LimitRange's defaultRequest is shared among the steps (min as the floor), and
#             TaskRun spec.computeResources is divided among the steps, as Tekton does.
#   events    Started, Running, Succeeded (Normal) and Failed (Warning) Events on TaskRuns and
#             a PipelineRun, with the condition's message, as `kubectl get events` shows them.
# e2e-timeout: 600
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/tektite.sh"

e2e_init
export TEKTITE_WATCH_NAMESPACE=$NS
export TEKTITE_LOG=$REPO/build/e2e/taskrun-behaviour-controller.log
if ! tektite_start; then
    not_ok taskrun-behaviour/start "tektite did not start"
    e2e_cleanup
    exit 1
fi
trap 'tektite_stop; e2e_cleanup' EXIT
image=mirror.gcr.io/busybox

# tr_field TR JSONPATH: one field of a TaskRun ("" when absent).
tr_field() { k get taskrun "$1" -o jsonpath="$2" 2>/dev/null || true; }

# wait_tr_done TR SECONDS: 0 once the TaskRun's Succeeded condition is True or False.
wait_tr_done() {
    local i s
    for ((i = 0; i < $2; i++)); do
        s=$(tr_field "$1" '{.status.conditions[?(@.type=="Succeeded")].status}')
        [ "$s" = True ] || [ "$s" = False ] && return 0
        sleep 1
    done
    return 1
}

# ---- sidecars stopped once the steps are done ----
if ! out=$(k apply -f - 2>&1 << EOF
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: sidecars}
spec:
  taskSpec:
    steps:
      - name: work
        image: $image
        script: |
          #!/bin/sh
          echo step done
    sidecars:
      - name: forever
        image: $image
        command: [sleep, infinity]
      - name: looper
        image: $image
        script: |
          #!/bin/sh
          while true; do sleep 1; done
EOF
); then
    not_ok sidecars/apply "$out"
    exit 1
fi
start=$(date +%s)
if wait_tr_done sidecars 120; then
    took=$(($(date +%s) - start))
    reason=$(tr_field sidecars '{.status.conditions[0].reason}')
    if [ "$reason" = Succeeded ]; then
        ok "sidecars/taskrun-succeeded-in-${took}s"
    else
        not_ok sidecars/taskrun-succeeded "reason $reason: $(tr_field sidecars '{.status.conditions[0].message}')"
    fi
else
    not_ok sidecars/taskrun-succeeded "not done after 120s: $(pod_why sidecars-pod)"
fi

# the kubelet stops each sidecar (SIGTERM, then SIGKILL after the grace period: `sleep` as PID 1
# ignores SIGTERM) and restarts it from the nop image, which exits: the Pod then ends
phase=
for ((i = 0; i < 150; i++)); do
    phase=$(k get pod sidecars-pod -o jsonpath='{.status.phase}' 2>/dev/null || true)
    [ "$phase" = Succeeded ] || [ "$phase" = Failed ] && break
    sleep 1
done
if [ "$phase" = Succeeded ] || [ "$phase" = Failed ]; then
    ok "sidecars/pod-ended-$phase"
else
    not_ok sidecars/pod-ended "pod still '$phase' after 150s: $(pod_why sidecars-pod)"
fi

nop=$(k get pod sidecars-pod -o jsonpath='{range .spec.containers[*]}{.name}={.image}{"\n"}{end}' 2>&1)
if grep -q '^sidecar-forever=.*tektite/entrypoint' <<< "$nop" &&
    grep -q '^sidecar-looper=.*tektite/entrypoint' <<< "$nop" &&
    grep -q '^step-work=.*busybox' <<< "$nop"; then
    ok sidecars/nop-image-on-sidecars-only
else
    not_ok sidecars/nop-image-on-sidecars-only "containers: $(tr '\n' ' ' <<< "$nop")"
fi

# status.sidecars catches up with the stopped containers (a pass after the Pod's last change)
want="forever:Completed:Sidecar container successfully stopped by nop image looper:Completed:Sidecar container successfully stopped by nop image "
got=
for ((i = 0; i < 60; i++)); do
    got=$(tr_field sidecars '{range .status.sidecars[*]}{.name}:{.terminated.reason}:{.terminated.message} {end}')
    [ "$got" = "$want" ] && break
    sleep 1
done
if [ "$got" = "$want" ]; then
    ok sidecars/status-sidecars-terminated
else
    not_ok sidecars/status-sidecars-terminated "status.sidecars: '$got'"
fi
reason=$(tr_field sidecars '{.status.conditions[0].reason}')
if [ "$reason" = Succeeded ]; then
    ok sidecars/outcome-kept
else
    not_ok sidecars/outcome-kept "reason became $reason"
fi

# ---- LimitRange and TaskRun computeResources reach the step containers ----
# Without tektite's share, the API server's LimitRanger would give every step the whole
# defaultRequest (200m, 256Mi); Tekton divides it among the steps, with min as the floor.
if ! out=$(k apply -f - 2>&1 << EOF2
apiVersion: v1
kind: LimitRange
metadata: {name: steps}
spec:
  limits:
    - type: Container
      defaultRequest: {cpu: 200m, memory: 256Mi}
      min: {memory: 64Mi}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: limited}
spec:
  taskSpec:
    steps:
      - {name: one, image: $image, script: "true"}
      - {name: two, image: $image, script: "true"}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: shared}
spec:
  computeResources:
    requests: {cpu: 300m}
    limits: {memory: 512Mi}
  taskSpec:
    steps:
      - {name: one, image: $image, script: "true", computeResources: {requests: {cpu: "1"}}}
      - {name: two, image: $image, script: "true"}
EOF2
); then
    not_ok resources/apply "$out"
    exit 1
fi
# step_resources POD: "name cpu memory memlimit" per step container
step_resources() {
    k get pod "$1" -o jsonpath='{range .spec.containers[*]}{.name} {.resources.requests.cpu} {.resources.requests.memory} {.resources.limits.memory}{"\n"}{end}' 2>&1
}
for tr in limited shared; do
    if wait_tr_done "$tr" 120 && [ "$(tr_field "$tr" '{.status.conditions[0].reason}')" = Succeeded ]; then
        ok "resources/$tr-succeeded"
    else
        not_ok "resources/$tr-succeeded" "$(tr_field "$tr" '{.status.conditions[0].reason}: {.status.conditions[0].message}') $(pod_why "$tr-pod")"
    fi
done
got=$(step_resources limited-pod)
want=$'step-one 100m 128Mi \nstep-two 100m 128Mi '
if [ "$got" = "$want" ]; then
    ok resources/limitrange-default-request-shared
else
    not_ok resources/limitrange-default-request-shared "got: $(tr '\n' '|' <<< "$got") want: $(tr '\n' '|' <<< "$want")"
fi
got=$(step_resources shared-pod)
want=$'step-one 150m 128Mi 512Mi\nstep-two 150m 128Mi 512Mi'
if [ "$got" = "$want" ]; then
    ok resources/taskrun-compute-resources-shared
else
    not_ok resources/taskrun-compute-resources-shared "got: $(tr '\n' '|' <<< "$got") want: $(tr '\n' '|' <<< "$want")"
fi

# ---- Kubernetes Events on state changes, as Tekton emits them ----
if ! out=$(k apply -f - 2>&1 << EOF2
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: fails}
spec:
  taskSpec:
    steps:
      - {name: boom, image: $image, script: "exit 3"}
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: one}
spec:
  tasks:
    - name: only
      taskSpec:
        steps:
          - {name: hi, image: $image, script: "true"}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: one-run}
spec:
  pipelineRef: {name: one}
EOF2
); then
    not_ok events/apply "$out"
    exit 1
fi
wait_tr_done fails 120 || true
for ((i = 0; i < 120; i++)); do
    s=$(k get pipelinerun one-run -o jsonpath='{.status.conditions[0].status}' 2>/dev/null || true)
    [ "$s" = True ] || [ "$s" = False ] && break
    sleep 1
done
# events_of KIND NAME: "type reason" lines, oldest first
events_of() {
    k get events --field-selector "involvedObject.kind=$1,involvedObject.name=$2" \
        --sort-by=.firstTimestamp -o jsonpath='{range .items[*]}{.type} {.reason} {.source.component}{"\n"}{end}' 2>&1
}
# has_events KIND NAME LINE...: every LINE is among NAME's events
has_events() {
    local kind=$1 name=$2 got line
    shift 2
    got=$(events_of "$kind" "$name")
    for line in "$@"; do
        grep -qxF -- "$line" <<< "$got" || { echo "missing '$line' in: $(tr '\n' '|' <<< "$got")"; return 1; }
    done
}
check events/taskrun-started-running-succeeded has_events TaskRun limited \
    "Normal Started TaskRun" "Normal Running TaskRun" "Normal Succeeded TaskRun"
check events/taskrun-failed-is-a-warning has_events TaskRun fails \
    "Normal Started TaskRun" "Warning Failed TaskRun"
check events/pipelinerun-started-succeeded has_events PipelineRun one-run \
    "Normal Started PipelineRun" "Normal Succeeded PipelineRun"
msg=$(k get events --field-selector involvedObject.kind=TaskRun,involvedObject.name=fails,reason=Failed \
    -o jsonpath='{.items[0].message}' 2>&1)
if [ "$msg" = "$(tr_field fails '{.status.conditions[0].message}')" ] && [ -n "$msg" ]; then
    ok events/failed-message-is-the-condition-message
else
    not_ok events/failed-message-is-the-condition-message "event '$msg', condition '$(tr_field fails '{.status.conditions[0].message}')'"
fi
