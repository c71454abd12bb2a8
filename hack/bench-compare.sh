#!/usr/bin/env bash
# bench-compare.sh [all|tekton|tektite|report]: tektite and Tekton Pipelines side by side on the
# local cluster, same workloads, same run (make bench-compare). Figures only: nothing asserts a time.
#   all      (default) build Tekton (hack/tekton-build.sh) and tektite, then the two phases below
#            in one exclusive hold of the cluster lock (`phases`), then the report
#   tekton   install Tekton from its rendered release manifest, run the workloads, uninstall it
#            and put the cluster back (tektite's CRDs, tekton-pipelines as found, no webhooks)
#   tektite  hack/deploy.sh, the workloads, then the deployment removed again
#   report   build/bench/compare.md from build/bench/{tekton,tektite}.env
# Workloads (docs/benchmarks.md says what each figure means):
#   one    BENCH_N (10) one-step TaskRuns, one after the other: create -> Succeeded
#   ten    BENCH_TEN (3) ten-step TaskRuns: create -> Succeeded, and the hand-off between steps
#   many   BENCH_CONCURRENT (200) one-step TaskRuns created at once: create -> Pod created p50/p99,
#          first create -> last finished
#   fan    a PipelineRun start -> BENCH_FANOUT (100) parallel tasks -> end: the controller's share
#   plus   controller CPU and peak RSS over many+fan (/proc of its process), API requests per run
#          (kube-apiserver's apiserver_request_total), reconciles per run (the controller's /metrics)
#   done   BENCH_COMPLETED (10000) TaskRuns made final (status subresource) while the controller
#          is scaled to 0, then the controller started: its RSS once synced and idle, its VmHWM
#   kwok   BENCH_KWOK (2000) one-step TaskRuns at once on one simulated node (kwok, its own
#          taint and label; hack/kwok-build.sh, hack/kwok-stages.yaml): first create -> all
#          done, runs per second, create -> Pod p50/p99, controller CPU
# Each phase holds `flock -x /tmp/tektite-cluster.lock` for its whole duration (docs/cluster.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
. "$here/bench-lib.sh"
LC_PROG=bench-compare
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_ADMIN}
K=${KUBECTL:-$K8S_BIN/kubectl}
N_ONE=${BENCH_N:-10}
N_TEN=${BENCH_TEN:-3}
CONCURRENT=${BENCH_CONCURRENT:-200}
FANOUT=${BENCH_FANOUT:-100}
KWOK_N=${BENCH_KWOK:-2000}
COMPLETED=${BENCH_COMPLETED:-10000}
LOCK=/tmp/tektite-cluster.lock
out=$repo/build/bench
mkdir -p "$out"
export LC_ALL=C # sort and join must agree on order
sysns=tekton-pipelines
mode=${1:-all}

# Each phase re-runs itself under the exclusive lock (bounded wait, as docs/cluster.md asks).
if [[ $mode == tekton || $mode == tektite || $mode == phases ]] && [ -z "${BENCH_LOCK_HELD:-}" ]; then
    lc_say "waiting for the exclusive cluster lock ($LOCK)"
    exec flock -x -w 2400 "$LOCK" env BENCH_LOCK_HELD=1 "$0" "$@"
fi

# A phase killed by a signal still puts the cluster back: its EXIT trap runs on the way out.
trap 'exit 130' INT TERM HUP

# ---- cluster state: snapshot before an install, put back after ------------------------------

NS_KINDS=deploy,rs,svc,cm,secret,sa,role,rolebinding,lease,pdb,hpa
# the kinds whose content is put back as found (both installs write ConfigMaps of the same names)
NS_KEEP_KINDS=cm,sa,role,rolebinding,svc

snapshot() {
    "$K" get crd -o name | sort > "$out/state.crds"
    "$K" get ns "$sysns" -o json > "$out/state.ns.json"
    "$K" -n "$sysns" get "$NS_KINDS" -o name 2> /dev/null | sort > "$out/state.nsobjs"
    "$K" -n "$sysns" get "$NS_KEEP_KINDS" -o json > "$out/state.nsobjs.json"
    if [ -n "$("$K" -n "$sysns" get deploy -o name)" ]; then
        lc_die "$sysns already runs a Deployment ($("$K" -n "$sysns" get deploy -o name | tr '\n' ' ')); the cluster is not as docs/cluster.md says it is left"
    fi
    if pgrep -x tektite-control > /dev/null; then
        lc_die "a tektite-controller process runs on this host; it would reconcile the benchmark's runs"
    fi
}

# without_crds_and_ns FILE: FILE's documents minus CustomResourceDefinitions and the
# tekton-pipelines Namespace (both are restored, not deleted: others' objects live in them).
without_crds_and_ns() {
    awk -v ns="$sysns" '
        function flush() { if (doc != "" && !(kind == "CustomResourceDefinition" || (kind == "Namespace" && name == ns))) printf "---\n%s", doc; doc = ""; kind = ""; name = ""; meta = 0 }
        /^---/ { flush(); next }
        { doc = doc $0 "\n" }
        /^kind:/ { kind = $2 }
        /^metadata:/ { meta = 1; next }
        meta && /^  name:/ && name == "" { name = $2 }
        /^[a-z]/ && !/^metadata:/ { meta = 0 }
        END { flush() }' "$1"
}

# restore: tektite's CRDs exactly as crds/ has them (a replace, so fields another install added
# go away, then an apply for the last-applied annotation), CRDs that were not there before
# deleted, the namespace's labels and annotations as found, its objects not in the snapshot
# deleted, and no webhook configuration of Tekton's left.
restore() {
    local f rv c obj
    set +e # every step is tried, whatever failed before it; each says what went wrong
    "$K" delete validatingwebhookconfiguration validation.webhook.pipeline.tekton.dev \
        config.webhook.pipeline.tekton.dev --ignore-not-found > /dev/null
    "$K" delete mutatingwebhookconfiguration webhook.pipeline.tekton.dev --ignore-not-found > /dev/null
    for f in "$repo"/crds/*.yaml; do
        c=$("$K" create --dry-run=client -o jsonpath='{.metadata.name}' -f "$f")
        rv=$("$K" get crd "$c" -o jsonpath='{.metadata.resourceVersion}' 2> /dev/null || true)
        if [ -n "$rv" ]; then
            "$K" create --dry-run=client -o json -f "$f" |
                jq --arg rv "$rv" '.metadata.resourceVersion = $rv' | "$K" replace -f - > /dev/null
        fi
    done
    # (a replace drops the last-applied annotation, hence the warning this apply prints; never
    # --save-config above: it would record the resourceVersion, and every later apply would fail)
    "$K" apply -f "$repo/crds/" 2>&1 > /dev/null | grep -v 'last-applied-configuration' >&2
    # only the install's own CRDs: others may create theirs meanwhile (e2e tests do)
    for c in $installed_crds; do
        grep -qxF "customresourcedefinition.apiextensions.k8s.io/$c" "$out/state.crds" && continue
        lc_say "deleting crd $c (the install's; not there before it)"
        "$K" delete crd "$c" --ignore-not-found --wait=false > /dev/null
    done
    for obj in $("$K" -n "$sysns" get "$NS_KINDS" -o name 2> /dev/null | sort | comm -13 "$out/state.nsobjs" -); do
        "$K" -n "$sysns" delete "$obj" --ignore-not-found --wait=false > /dev/null
    done
    jq -c '.items[] | select(.metadata.name != "kube-root-ca.crt")
        | del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp,
              .metadata.managedFields, .metadata.generation, .status)' "$out/state.nsobjs.json" |
        while IFS= read -r obj; do
            c=$(jq -r '"\(.kind)/\(.metadata.name)"' <<< "$obj")
            rv=$("$K" -n "$sysns" get "$c" -o jsonpath='{.metadata.resourceVersion}' 2> /dev/null)
            if [ -n "$rv" ]; then
                jq --arg rv "$rv" '.metadata.resourceVersion = $rv' <<< "$obj" | "$K" replace -f - > /dev/null
            else
                "$K" create -f - <<< "$obj" > /dev/null
            fi || lc_say "warning: could not put $sysns $c back as it was"
        done
    rv=$("$K" get ns "$sysns" -o jsonpath='{.metadata.resourceVersion}')
    jq --arg rv "$rv" '{apiVersion, kind, metadata: (.metadata | {name, labels, annotations} + {resourceVersion: $rv}), spec}' \
        "$out/state.ns.json" | "$K" replace -f - > /dev/null
    "$K" -n "$sysns" delete deploy --all > /dev/null
    for c in taskruns pipelineruns tasks pipelines; do
        [ "$("$K" get crd "$c.tekton.dev" -o jsonpath='{.spec.conversion.strategy}')" = None ] ||
            lc_say "warning: crd $c.tekton.dev's conversion is not None after the restore"
    done
    lc_say "cluster restored: tektite's CRDs, $sysns as found, no Tekton webhooks"
    set -e
}

# ---- the workloads ---------------------------------------------------------------------------

sys_version() {
    case $1 in
        tekton) echo "${TEKTON_VERSION:-v1.15.0}" ;;
        tektite) "$repo/build/tektite-controller" --version | awk '{print $2}' ;;
    esac
}
ctl_pid() {
    case $1 in
        tekton) pids_by_exe /ko-app/controller ;;
        tektite) pids_by_exe /usr/local/bin/tektite-controller ;;
    esac | head -1
}
ctl_metrics() {
    local ip
    ip=$("$K" -n "$sysns" get pod -l app.kubernetes.io/name=controller \
        -o jsonpath='{.items[0].status.podIP}')
    curl -sf --max-time 10 "http://$ip:9090/metrics" || true
}
api_metrics() { "$K" get --raw /metrics | grep '^apiserver_request_total{' || true; }

# wait_names WATCHFILE COUNT PREFIX BOUND: until COUNT objects named PREFIX* have finished.
wait_names() {
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        [ "$(first_done "$1" | awk -v p="$3" 'index($1, p) == 1' | wc -l)" -ge "$2" ] && return 0
        sleep 0.1
    done
    lc_say "timeout: fewer than $2 of $3* finished in $4 s"
    return 1
}

# run_workloads SYSTEM: everything above, against the installed SYSTEM; figures to $out/SYSTEM.env
run_workloads() {
    local sys=$1 env=$out/$1.env w wp w2 pid i c0 c1 wt0 wt1 trw prw podw ns
    ns=bench-cmp-$1-$RANDOM
    bench_ns=$ns
    printf 'version=%s\nn_one=%s\nn_ten=%s\nconcurrent=%s\nfanout=%s\nkwok=%s\ncompleted=%s\n' "$(sys_version "$sys")" \
        "$N_ONE" "$N_TEN" "$CONCURRENT" "$FANOUT" "$KWOK_N" "$COMPLETED" > "$env"
    "$K" create namespace "$ns" > /dev/null
    for _ in $(seq 60); do "$K" -n "$ns" get sa default > /dev/null 2>&1 && break; sleep 1; done
    trw=$out/$sys.taskruns.watch prw=$out/$sys.pipelineruns.watch podw=$out/$sys.pods.watch
    w=$(watch_stamp "$ns" taskruns "$trw")
    wp=$(watch_stamp "$ns" pods "$podw")
    sleep 2
    pid=$(ctl_pid "$sys")
    [ -n "$pid" ] || lc_die "no $sys controller process found on this host"
    echo "idle_rss_kb=$(rss_kb "$pid")" >> "$env"
    echo "runs_before=$("$K" get taskruns -A --no-headers 2> /dev/null | wc -l)" >> "$env"

    # one: sequential one-step runs
    lc_say "$sys: $N_ONE one-step TaskRuns"
    for i in $(seq "$N_ONE"); do
        one_step_yaml "one-$i" | "$K" -n "$ns" create -f - > /dev/null
        wait_names "$trw" "$i" one- 120 || break
    done
    durations_ms "$trw" one- | awk '{print $2}' > "$out/$sys.one.ms"
    echo "one_median_ms=$(median < "$out/$sys.one.ms")" >> "$env"
    echo "one_range_ms=$(minmax < "$out/$sys.one.ms")" >> "$env"

    # ten: each step stamps its start; hand-off = next start - previous start
    lc_say "$sys: $N_TEN ten-step TaskRuns"
    : > "$out/$sys.handoff.us"
    for i in $(seq "$N_TEN"); do
        ten_step_yaml "ten-$i" | "$K" -n "$ns" create -f - > /dev/null
        wait_names "$trw" "$i" ten- 180 || break
        { "$K" -n "$ns" logs "ten-$i-pod" -c step-s9 || true; } |
            awk 'NR > 1 {print int(($1 - prev) / 1000)} {prev = $1}' >> "$out/$sys.handoff.us"
    done
    durations_ms "$trw" ten- | awk '{print $2}' > "$out/$sys.ten.ms"
    echo "ten_median_ms=$(median < "$out/$sys.ten.ms")" >> "$env"
    echo "ten_range_ms=$(minmax < "$out/$sys.ten.ms")" >> "$env"
    echo "handoff_median_us=$(median < "$out/$sys.handoff.us")" >> "$env"
    echo "handoff_p90_us=$(percentile 90 < "$out/$sys.handoff.us")" >> "$env"
    # the one- and ten- Pods out of the way of the next figures' node (bounded)
    "$K" -n "$ns" delete taskruns --all --wait=true --timeout=120s > /dev/null || true

    # many: CONCURRENT at once; CPU, RSS, API requests and reconciles from here through fan
    lc_say "$sys: $CONCURRENT TaskRuns at once"
    for i in $(seq "$CONCURRENT"); do one_step_yaml "many-$i"; done > "$out/many.yaml"
    api_metrics > "$out/$sys.api.0"
    ctl_metrics > "$out/$sys.metrics.0"
    c0=$(cpu_ticks "$pid")
    wt0=$(webhook_ticks "$sys")
    "$K" -n "$ns" create -f "$out/many.yaml" > /dev/null
    wait_names "$trw" "$CONCURRENT" many- $((CONCURRENT * 3 + 120)) || true
    sleep 2
    api_metrics > "$out/$sys.api.1"
    ctl_metrics > "$out/$sys.metrics.1"
    c1=$(cpu_ticks "$pid")
    pod_latency_ms "$trw" "$podw" many- > "$out/$sys.many-pod.ms"
    echo "many_pod_p50_ms=$(percentile 50 < "$out/$sys.many-pod.ms")" >> "$env"
    echo "many_pod_p99_ms=$(percentile 99 < "$out/$sys.many-pod.ms")" >> "$env"
    echo "many_all_s=$(join <(first_added "$trw" | sort) <(first_done "$trw" | sort) |
        awk 'index($1, "many-") == 1 {if (lo == "" || $2 < lo) lo = $2; if ($3 > hi) hi = $3; n++}
             END {printf "%.1f", (hi - lo) / 1e6}')" >> "$env"
    echo "many_done=$(first_done "$trw" | awk 'index($1, "many-") == 1' | wc -l)" >> "$env"
    echo "many_failed=$(first_done "$trw" | awk 'index($1, "many-") == 1 && $3 == "False"' | wc -l)" >> "$env"
    echo "many_cpu_s=$(echo "scale=2; ($c1 - $c0) / $(getconf CLK_TCK)" | bc)" >> "$env"
    echo "many_api_per_run=$(echo "scale=2; $(api_requests "$out/$sys.api.0" "$out/$sys.api.1" "$CONCURRENT") / $CONCURRENT" | bc)" >> "$env"
    "$K" -n "$ns" delete taskruns --all --wait=true --timeout=300s > /dev/null || true
    for _ in $(seq 120); do
        [ -z "$("$K" -n "$ns" get pods -o name)" ] && break
        sleep 1
    done

    # fan: start -> FANOUT in parallel -> end
    lc_say "$sys: a PipelineRun fanning out to $FANOUT tasks"
    w2=$(watch_stamp "$ns" pipelineruns "$prw")
    sleep 1
    {
        echo 'apiVersion: tekton.dev/v1'
        echo 'kind: PipelineRun'
        echo 'metadata: {name: fan}'
        echo 'spec:'
        echo '  pipelineSpec:'
        echo '    tasks:'
        echo "    - {name: start, taskSpec: {steps: [$FAN_STEP]}}"
        for i in $(seq "$FANOUT"); do
            echo "    - {name: f$i, runAfter: [start], taskSpec: {steps: [$FAN_STEP]}}"
        done
        echo "    - name: end"
        echo "      runAfter: [$(seq -s, -f 'f%g' "$FANOUT")]"
        echo "      taskSpec: {steps: [$FAN_STEP]}"
    } > "$out/fan.yaml"
    api_metrics > "$out/$sys.api.2"
    ctl_metrics > "$out/$sys.metrics.2"
    "$K" -n "$ns" create -f "$out/fan.yaml" > /dev/null
    wait_names "$prw" 1 fan $((FANOUT * 3 + 180)) || true
    sleep 2
    api_metrics > "$out/$sys.api.3"
    ctl_metrics > "$out/$sys.metrics.3"
    c1=$(cpu_ticks "$pid")
    wt1=$(webhook_ticks "$sys")
    fan_figures "$trw" "$prw" >> "$env"
    echo "fan_api=$(api_requests "$out/$sys.api.2" "$out/$sys.api.3" 1)" >> "$env"
    echo "cpu_s=$(echo "scale=2; ($c1 - $c0) / $(getconf CLK_TCK)" | bc)" >> "$env"
    echo "webhook_cpu_s=$(echo "scale=2; ($wt1 - $wt0) / $(getconf CLK_TCK)" | bc)" >> "$env"
    echo "peak_rss_kb=$(hwm_kb "$pid")" >> "$env"
    echo "rss_kb=$(rss_kb "$pid")" >> "$env"
    echo "webhook_peak_rss_kb=$(webhook_hwm "$sys")" >> "$env"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$env"
    phase_reconciles "$sys" >> "$env"
    completed_rss "$sys" "$ns" >> "$env"
    kwok_runs "$sys" "$ns" "$trw" "$podw" >> "$env"
    watch_stop "$w"
    watch_stop "$wp"
    watch_stop "$w2"
    lc_say "$sys: figures in $env"
    cat "$env" >&2
}

# phase_reconciles SYSTEM: reconciles since the controller started (its start-up pass over the
# runs already in the cluster included, for both), per reconciler: Tekton's from its /metrics;
# tektite's /metrics has no reconcile counter fed yet (docs/install.md), so the controller is
# stopped (scaled to 0) and the totals its reconcilers log on the way out are read.
phase_reconciles() {
    local lf lp pod
    case $1 in
        tekton)
            ctl_metrics > "$out/tekton.metrics.end"
            : > "$out/empty"
            echo "tr_reconciles=$(reconciles "$out/empty" "$out/tekton.metrics.end" '[Tt]ask[Rr]un')"
            echo "pr_reconciles=$(reconciles "$out/empty" "$out/tekton.metrics.end" '[Pp]ipeline[Rr]un')" ;;
        tektite)
            pod=$("$K" -n "$sysns" get pod -l app.kubernetes.io/name=controller -o name | head -1)
            lf=$out/tektite.controller.log
            setsid "$K" -n "$sysns" logs -f "$pod" > "$lf" 2>&1 &
            lp=$!
            sleep 1
            "$K" -n "$sysns" scale deploy/tekton-pipelines-controller --replicas=0 > /dev/null
            for _ in $(seq 60); do
                [ "$(grep -c 'controller stopping"' "$lf")" -ge 2 ] && break
                sleep 0.5
            done
            kill -- "-$lp" 2> /dev/null || true
            wait "$lp" 2> /dev/null || true
            echo "tr_reconciles=$(grep '"taskrun controller stopping"' "$lf" | jq -r .reconciles | tail -1)"
            echo "pr_reconciles=$(grep '"pipelinerun controller stopping"' "$lf" | jq -r .reconciles | tail -1)" ;;
    esac
}

# ---- completed runs present: the controller's RSS with COMPLETED finished TaskRuns cached ----

# scale_ctl N: the controller Deployment to N replicas; at 0, until its process is gone (60 s)
scale_ctl() {
    "$K" -n "$sysns" scale deploy/tekton-pipelines-controller --replicas="$1" > /dev/null
    [ "$1" = 0 ] || return 0
    for _ in $(seq 120); do
        [ -z "$(ctl_pid "$sys_now")" ] && return 0
        sleep 0.5
    done
    lc_say "warning: the $sys_now controller's process still runs 60 s after scaling to 0"
}

# wait_idle PID BOUND: until the process used under 2% of a CPU over two 2-second windows in a
# row (it has listed its informers and worked through the start-up pass over what it found);
# at least 20 s (a start that waits on a leader lease must not pass for idle). Prints the
# seconds waited, or "n/a" after BOUND seconds.
wait_idle() {
    local t0 c0 c1 quiet=0 tck
    tck=$(getconf CLK_TCK)
    t0=$(date +%s)
    sleep 16
    c0=$(cpu_ticks "$1") || { echo n/a; return 0; }
    while [ $(($(date +%s) - t0)) -lt "$2" ]; do
        sleep 2
        c1=$(cpu_ticks "$1") || { echo n/a; return 0; }
        if [ $((c1 - c0)) -le $((tck * 4 / 100)) ]; then quiet=$((quiet + 1)); else quiet=0; fi
        c0=$c1
        [ "$quiet" -ge 2 ] && { echo $(($(date +%s) - t0)); return 0; }
    done
    echo n/a
}

# completed_rss SYSTEM NS: with the controller scaled to 0 (no reconcile can touch them),
# COMPLETED one-step TaskRuns created in NS (through Tekton's admission webhook too) and their
# status set to a final Succeeded by hack/bench-bulk.py; then the controller started again, and
# once idle its VmRSS and VmHWM read. The runs are deleted (one collection DELETE) after, with the
# controller running, so their deletion is processed as any would be. No Pods: every run finished
# before this controller started, as after a restart with an old history in the cluster.
completed_rss() {
    local pid t0 idle
    [ "$COMPLETED" -gt 0 ] || return 0
    sys_now=$1
    lc_say "$1: $COMPLETED completed TaskRuns present, the controller restarted"
    scale_ctl 0
    # tektite's controller process serves its admission webhook (failurePolicy Fail), so it must
    # run while the runs are created: it runs watching only $sysns, where no run is; Tekton's
    # webhook is its own Deployment and stays up. Both admit every create as they would any.
    if [ "$1" = tektite ]; then
        "$K" -n "$sysns" set env deploy/tekton-pipelines-controller TEKTITE_NAMESPACE="$sysns" > /dev/null
        scale_ctl 1
        "$K" -n "$sysns" rollout status deploy/tekton-pipelines-controller --timeout=120s > /dev/null
        webhook_wait
    fi
    t0=$(date +%s)
    one_step_yaml x | "$K" create --dry-run=client -o json -f - |
        jq -c '.metadata = {labels: {"tektite.dev/bench": "completed"}}' |
        python3 "$here/bench-bulk.py" "$2" "done" "$COMPLETED" completed 2> "$out/$1.completed.log" ||
        lc_say "warning: $(tail -1 "$out/$1.completed.log")"
    tail -1 "$out/$1.completed.log" >&2
    echo "completed_present=$("$K" -n "$2" get taskruns -l tektite.dev/bench=completed --no-headers 2> /dev/null | wc -l)"
    echo "completed_create_s=$(($(date +%s) - t0))"
    if [ "$1" = tektite ]; then
        scale_ctl 0
        "$K" -n "$sysns" set env deploy/tekton-pipelines-controller TEKTITE_NAMESPACE- > /dev/null
    fi
    t0=$(date +%s)
    scale_ctl 1
    pid=
    for _ in $(seq 240); do
        pid=$(ctl_pid "$1")
        [ -n "$pid" ] && break
        sleep 0.5
    done
    if [ -z "$pid" ]; then
        lc_say "warning: no $1 controller process 120 s after scaling it to 1"
        return 0
    fi
    idle=$(wait_idle "$pid" 600)
    echo "completed_idle_s=$([ "$idle" = n/a ] && echo n/a || echo $(($(date +%s) - t0)))"
    echo "completed_rss_kb=$(rss_kb "$pid")"
    echo "completed_hwm_kb=$(hwm_kb "$pid")"
    # whether the start-up pass over them was made (Tekton: every reconcile; tektite: the passes
    # its /metrics counts, which leave out those that end early, docs/install.md)
    ctl_metrics > "$out/$1.metrics.completed"
    : > "$out/empty"
    echo "completed_reconciles=$(reconciles "$out/empty" "$out/$1.metrics.completed" '[Tt]ask[Rr]un')"
    delete_runs "$2" "labelSelector=tektite.dev%2Fbench%3Dcompleted"
}

# delete_runs NS [QUERY]: NS's TaskRuns (those QUERY selects) by collection DELETEs, one request
# each instead of kubectl's one per object; repeated while some are left (the API server ends a
# request after 60 s, and a collection of 10,000 may take longer), 600 s at most.
delete_runs() {
    local t0 n
    t0=$(date +%s)
    while [ $(($(date +%s) - t0)) -lt 600 ]; do
        "$K" delete --raw "/apis/tekton.dev/v1/namespaces/$1/taskruns${2:+?$2}" > /dev/null 2>&1 || true
        n=$("$K" get --raw "/apis/tekton.dev/v1/namespaces/$1/taskruns?limit=1${2:+&$2}" |
            jq '.items | length')
        [ "$n" = 0 ] && return 0
        sleep 2
    done
    lc_say "warning: TaskRuns are left in $1 after 600 s of deleting"
}

# ---- simulated node: kwok --------------------------------------------------------------------

# One fake node, tainted and labelled for the benchmark's runs alone (their podTemplate has the
# nodeSelector and the toleration; no DaemonSet here tolerates every taint), managed by a kwok on
# this host with hack/kwok-stages.yaml and the admin kubeconfig. Removed at phase end (kwok_stop,
# from the phase's EXIT trap), with any Pod still bound to it.
KWOK_NODE=tektite-bench-kwok
KWOK_KEY=tektite.dev/bench-node
KWOK_POD_TEMPLATE="{nodeSelector: {$KWOK_KEY: kwok}, tolerations: [{key: $KWOK_KEY, operator: Equal, value: kwok, effect: NoSchedule}]}"
kwok_pid=
kwok_node=

kwok_start() {
    local bin
    bin=$("$here/kwok-build.sh")
    if "$K" get node "$KWOK_NODE" > /dev/null 2>&1; then
        lc_say "node $KWOK_NODE exists already (left by an earlier run?); not touching it"
        return 1
    fi
    kwok_node=$KWOK_NODE
    "$K" create -f - > /dev/null << YAML
apiVersion: v1
kind: Node
metadata:
  name: $KWOK_NODE
  labels: {$KWOK_KEY: kwok, type: kwok, kubernetes.io/hostname: $KWOK_NODE, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
  annotations: {kwok.x-k8s.io/node: fake}
spec:
  taints: [{key: $KWOK_KEY, value: kwok, effect: NoSchedule}]
status:
  allocatable: {cpu: "1000", memory: 1Ti, pods: "10000"}
  capacity: {cpu: "1000", memory: 1Ti, pods: "10000"}
YAML
    # 192.0.2.1 (TEST-NET-1) and 10.250/16: addresses nothing routes to, written into the status
    setsid "$bin" --kubeconfig "$KUBECONFIG" --manage-single-node "$KWOK_NODE" \
        -c "$here/kwok-stages.yaml" --cidr 10.250.0.0/16 --node-ip 192.0.2.1 > "$out/kwok.log" 2>&1 &
    kwok_pid=$!
    for _ in $(seq 60); do
        [ "$("$K" get node "$KWOK_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] && return 0
        sleep 1
    done
    lc_say "the kwok node did not become Ready in 60 s; see $out/kwok.log"
    return 1
}

kwok_stop() {
    local p
    if [ -n "$kwok_pid" ]; then
        kill -- "-$kwok_pid" 2> /dev/null || true
        wait "$kwok_pid" 2> /dev/null || true
        kwok_pid=
    fi
    [ -n "$kwok_node" ] || return 0
    "$K" delete node "$kwok_node" --ignore-not-found --wait=true --timeout=60s > /dev/null || true
    # Pods still bound to it (no kubelet will ever finish them): gone at once, per namespace
    "$K" get pods -A --field-selector "spec.nodeName=$kwok_node" --no-headers 2> /dev/null |
        awk '{print $1}' | sort -u | while read -r ns; do
            "$K" -n "$ns" delete pods --field-selector "spec.nodeName=$kwok_node" \
                --force --grace-period=0 > /dev/null 2>&1 || true
        done
    kwok_node=
    lc_say "kwok stopped, node $KWOK_NODE deleted"
}

# wait_progress WATCHFILE COUNT PREFIX STALL: until COUNT objects named PREFIX* have finished, or
# none more has for STALL seconds.
wait_progress() {
    local n last=-1 since
    since=$(date +%s)
    while :; do
        n=$(first_done "$1" | awk -v p="$3" 'index($1, p) == 1' | wc -l)
        [ "$n" -ge "$2" ] && return 0
        if [ "$n" != "$last" ]; then last=$n since=$(date +%s); fi
        if [ $(($(date +%s) - since)) -ge "$4" ]; then
            lc_say "no more of $3* finished in $4 s: $n of $2"
            return 1
        fi
        sleep 0.5
    done
}

# kwok_runs SYSTEM NS TASKRUN_WATCH POD_WATCH: KWOK_N one-step TaskRuns on the kwok node, created
# at once by hack/bench-bulk.py (8 connections: kubectl's one request at a time would set the
# pace), with the phase's watches running. Then deleted, the node and kwok with them.
kwok_runs() {
    local pid c0 c1 wt0 wt1 t0 lp
    [ "$KWOK_N" -gt 0 ] || return 0
    lc_say "$1: $KWOK_N TaskRuns at once on a kwok node"
    kwok_start || return 0
    pid=$(ctl_pid "$1")
    [ -n "$pid" ] || { lc_say "warning: no $1 controller process for the kwok runs"; return 0; }
    # the controller's log over the workload, kept for a run that does not finish
    setsid "$K" -n "$sysns" logs -f --tail=0 "$("$K" -n "$sysns" get pod -l app.kubernetes.io/name=controller \
        --field-selector status.phase=Running -o name | head -1)" > "$out/$1.kwok-controller.log" 2>&1 &
    lp=$!
    c0=$(cpu_ticks "$pid")
    wt0=$(webhook_ticks "$1")
    one_step_yaml x "$KWOK_POD_TEMPLATE" | "$K" create --dry-run=client -o json -f - |
        jq -c 'del(.metadata.name, .metadata.namespace)' |
        python3 "$here/bench-bulk.py" "$2" kw "$KWOK_N" create 2> "$out/$1.kwok-create.log" ||
        lc_say "warning: $(tail -1 "$out/$1.kwok-create.log")"
    wait_progress "$3" "$KWOK_N" kw- 120 || true
    sleep 2
    c1=$(cpu_ticks "$pid")
    wt1=$(webhook_ticks "$1")
    kill -- "-$lp" 2> /dev/null || true
    wait "$lp" 2> /dev/null || true
    kwok_figures "$3" "$4" kw-
    echo "kwok_cpu_s=$(echo "scale=2; ($c1 - $c0) / $(getconf CLK_TCK)" | bc)"
    echo "kwok_webhook_cpu_s=$(echo "scale=2; ($wt1 - $wt0) / $(getconf CLK_TCK)" | bc)"
    # what the controller did with runs whose Pod finished without termination messages
    "$K" -n "$2" get taskruns -o json |
        jq -r '[.items[] | select(.metadata.name | startswith("kw-")) | .status.conditions[0] // {} |
            "\(.status // "none")/\(.reason // "none")"] | group_by(.) | map("\(.[0])=\(length)") | join(",")' |
        sed 's/^/kwok_outcomes=/'
    delete_runs "$2"
    # their Pods go by the garbage collector, then kwok (pod-delete stage); bounded
    t0=$(date +%s)
    while [ $(($(date +%s) - t0)) -lt 300 ]; do
        [ -z "$("$K" get pods -A --field-selector "spec.nodeName=$KWOK_NODE" -o name)" ] && break
        sleep 2
    done
    echo "kwok_cleanup_s=$(($(date +%s) - t0))"
    kwok_stop
}

# Tekton's other processes in the request path of every run: its admission webhook (tektite has
# none). CPU ticks and peak RSS summed; 0 for tektite.
webhook_ticks() {
    local p s=0
    [ "$1" = tekton ] || { echo 0; return; }
    for p in $(pids_by_exe /ko-app/webhook); do s=$((s + $(cpu_ticks "$p"))); done
    echo "$s"
}
webhook_hwm() {
    local p s=0
    [ "$1" = tekton ] || { echo 0; return; }
    for p in $(pids_by_exe /ko-app/webhook); do s=$((s + $(hwm_kb "$p"))); done
    echo "$s"
}

# ---- the two systems ---------------------------------------------------------------------------

# The benchmark's namespace goes while the controller that owns its runs still runs (runs and
# Pods first, bounded, so no finalizer waits on a controller that is gone).
bench_ns=
sys_now=
cleanup_ns() {
    [ -n "$bench_ns" ] || return 0
    "$K" -n "$bench_ns" delete pipelineruns,taskruns --all --wait=true --timeout=300s > /dev/null 2>&1 || true
    "$K" delete namespace "$bench_ns" --wait=true --timeout=120s > /dev/null 2>&1 || true
    bench_ns=
}

# the CRDs an install brought (tekton_phase sets it from the release; deploy.sh's are crds/ itself)
installed_crds=

# webhook_wait: until a dry-run create passes admission (120 s). The webhook's endpoints answer
# before its certificate is in the webhook configurations; a dry-run create goes through
# admission and says when it is really serving.
webhook_wait() {
    for _ in $(seq 60); do
        one_step_yaml probe | "$K" -n default create --dry-run=server -f - > /dev/null 2>&1 && return 0
        sleep 2
    done
    lc_say "warning: creates still fail admission after 120 s"
}

tekton_phase() {
    local rel t0
    rel=$("$here/tekton-build.sh" render)
    installed_crds=$(awk '/^---/ {k = ""} /^kind: CustomResourceDefinition/ {k = 1} k && /^  name:/ {print $2; k = ""}' "$rel")
    t0=$(date +%s)
    snapshot
    lc_say "installing Tekton from $rel"
    # shellcheck disable=SC2064
    trap "tekton_uninstall '$rel'" EXIT
    "$K" apply -f "$rel" > "$out/tekton-apply.log" 2>&1 ||
        "$K" apply --server-side --force-conflicts -f "$rel" >> "$out/tekton-apply.log" 2>&1 ||
        { tail -20 "$out/tekton-apply.log" >&2; lc_die "kubectl apply of Tekton's release failed"; }
    "$K" -n "$sysns" rollout status deploy/tekton-pipelines-controller --timeout=240s >&2
    "$K" -n "$sysns" rollout status deploy/tekton-pipelines-webhook --timeout=240s >&2
    webhook_wait
    lc_say "Tekton up in $(($(date +%s) - t0)) s"
    run_workloads tekton
    lc_say "Tekton phase took $(($(date +%s) - t0)) s"
}

tekton_uninstall() {
    local rel=$1
    lc_say "uninstalling Tekton"
    cleanup_ns
    kwok_stop
    # admission first, so the deletions below meet no webhook of a controller going away
    "$K" delete validatingwebhookconfiguration validation.webhook.pipeline.tekton.dev \
        config.webhook.pipeline.tekton.dev --ignore-not-found > /dev/null || true
    "$K" delete mutatingwebhookconfiguration webhook.pipeline.tekton.dev --ignore-not-found > /dev/null || true
    without_crds_and_ns "$rel" > "$out/tekton-uninstall.yaml"
    "$K" delete -f "$out/tekton-uninstall.yaml" --ignore-not-found --wait=true --timeout=120s > /dev/null || true
    restore
}

tektite_phase() {
    local t0
    t0=$(date +%s)
    snapshot
    # shellcheck disable=SC2064
    trap "tektite_undeploy" EXIT
    "$here/deploy.sh" > "$out/tektite-deploy.log"
    lc_say "tektite up in $(($(date +%s) - t0)) s"
    run_workloads tektite
    lc_say "tektite phase took $(($(date +%s) - t0)) s"
}

tektite_undeploy() {
    lc_say "removing tektite's deployment"
    cleanup_ns
    kwok_stop
    # its cluster-wide RBAC stays, as after any make deploy; the namespace goes back as found
    restore
}

# ---- report ----------------------------------------------------------------------------------

report() {
    local f
    for f in tekton tektite; do
        [ -f "$out/$f.env" ] || lc_die "no $out/$f.env: run bench-compare.sh $f first"
    done
    "$here/bench-report.sh" "$out/tekton.env" "$out/tektite.env" > "$out/compare.md"
    cat "$out/compare.md"
}

case $mode in
    tekton) tekton_phase ;;
    tektite) tektite_phase ;;
    report) report ;;
    # both phases in one hold of the lock (about 15 minutes at the default sizes): the lock is
    # contended, and a second wait could put the two phases hours apart, under other loads
    phases)
        "$0" tekton || lc_say "the Tekton phase failed (the cluster was restored); tektite's runs anyway"
        "$0" tektite ;;
    all)
        "$here/tekton-build.sh" all > /dev/null
        make -C "$repo" --no-print-directory all > /dev/null
        "$0" phases
        report ;;
    *) lc_die "unknown mode '$mode' (want all, tekton, tektite or report)" ;;
esac
