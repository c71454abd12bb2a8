#!/usr/bin/env bash
# TaskRun behaviour beyond the conformance examples, against a host controller watching this
# test's namespace only (run it under the shared lock: flock -s /tmp/tektite-cluster.lock):
#   sidecars  a TaskRun whose sidecars never end on their own (`sleep infinity`, a script loop)
#             ends Succeeded as soon as its step does; the sidecars are then restarted from
#             the nop image, the Pod ends, and status.sidecars shows them terminated.
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
