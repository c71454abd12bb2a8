#!/usr/bin/env bash
# The benchmark scripts' parsing, on fixed inputs (no cluster, no timing): hack/bench-lib.sh's
# watch-file, apiserver-metrics and /metrics arithmetic and hack/bench-report.sh's table. The
# figures themselves are never asserted anywhere; this checks only that a known input gives the
# known numbers, so a wrong field index cannot silently skew docs/benchmarks.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$REPO/hack/bench-lib.sh"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

# check NAME GOT WANT
check() { if [ "$2" = "$3" ]; then ok "bench-scripts/$1"; else not_ok "bench-scripts/$1" "got '$2', want '$3'"; fi; }

check median "$(printf '5\n1\n3\n' | median)" 3
check median-even "$(printf '4\n1\n3\n2\n' | median)" 2.5
check p99-nearest-rank "$(seq 1 200 | percentile 99)" 198
check p50 "$(seq 1 10 | percentile 50)" 5
check minmax "$(printf '7\n2\n9\n' | minmax)" 2-9

# a TaskRun watch: one-1 added at 1.000000 s, Unknown, then True at 1.250000 s; one-2 fails
cat > "$d/tr" <<'W'
1000000 ADDED one-1  
1100000 MODIFIED one-1 Unknown 
1250000 MODIFIED one-1 True 
1300000 MODIFIED one-1 True 
2000000 ADDED one-2  
2500000 MODIFIED one-2 False 
W
check durations "$(durations_ms "$d/tr" one- | tr '\n' ';')" "one-1 250;one-2 500;"
check first-done "$(first_done "$d/tr" | tr '\n' ';')" "one-1 1250000 True;one-2 2500000 False;"

# apiserver_request_total before/after: 10 taskrun creates (5 ours), 20 status updates, pods:
# 10 creates counted, 30 status patches and 10 bindings not, LIST/WATCH not
cat > "$d/a0" <<'M'
apiserver_request_total{code="201",component="apiserver",dry_run="",group="tekton.dev",resource="taskruns",scope="resource",subresource="",verb="POST",version="v1"} 100
apiserver_request_total{code="200",component="apiserver",dry_run="",group="tekton.dev",resource="taskruns",scope="resource",subresource="status",verb="PUT",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 1
M
cat > "$d/a1" <<'M'
apiserver_request_total{code="201",component="apiserver",dry_run="",group="tekton.dev",resource="taskruns",scope="resource",subresource="",verb="POST",version="v1"} 110
apiserver_request_total{code="200",component="apiserver",dry_run="",group="tekton.dev",resource="taskruns",scope="resource",subresource="status",verb="PUT",version="v1"} 27
apiserver_request_total{code="200",component="apiserver",dry_run="",group="tekton.dev",resource="taskruns",scope="namespace",subresource="",verb="LIST",version="v1"} 9
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 31
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 10
M
check api-requests "$(api_requests "$d/a0" "$d/a1" 5)" 35

# /metrics: reconciles of the TaskRun reconciler counted, other reconcilers and metrics not
cat > "$d/m0" <<'M'
tekton_pipelines_controller_reconcile_count{reconciler="taskrun",success="true"} 4
tekton_pipelines_controller_reconcile_count{reconciler="other",success="true"} 4
M
cat > "$d/m1" <<'M'
tekton_pipelines_controller_reconcile_count{reconciler="taskrun",success="true"} 14
tekton_pipelines_controller_reconcile_count{reconciler="taskrun",success="false"} 2
tekton_pipelines_controller_reconcile_count{reconciler="other",success="true"} 40
tekton_pipelines_controller_running_taskruns 3
M
check reconciles "$(reconciles "$d/m0" "$d/m1")" 12
# from an empty baseline (totals since the controller started), one reconciler at a time
: > "$d/empty"
check reconciles-from-empty "$(reconciles "$d/empty" "$d/m1" '[Tt]ask[Rr]un')" 16
check reconciles-other-pattern "$(reconciles "$d/empty" "$d/m1" '[Pp]ipeline[Rr]un')" 0

# a fan-out of two: PR added at 0, start added 10 ms later and done at 1 s, f1/f2 added at
# 1.02/1.03 s and done at 2/2.5 s, end added at 2.6 s and done at 3.5 s, PR done at 3.6 s
cat > "$d/ftr" <<'W'
10000 ADDED fan-start  
1000000 MODIFIED fan-start True 
1020000 ADDED fan-f1  
1030000 ADDED fan-f2  
2000000 MODIFIED fan-f1 True 
2500000 MODIFIED fan-f2 True 
2600000 ADDED fan-end  
3500000 MODIFIED fan-end True 
W
printf '0 ADDED fan  \n3600000 MODIFIED fan True \n' > "$d/fpr"
fan_figures "$d/ftr" "$d/fpr" > "$d/fan"
check fan-wall "$(sed -n 's/^fan_wall_ms=//p' "$d/fan")" 3600
check fan-overhead "$(sed -n 's/^fan_overhead_ms=//p' "$d/fan")" 240
check fan-taskruns "$(sed -n 's/^fan_taskruns=//p' "$d/fan")" 2
# the PipelineRun failed before its end task existed: those gaps and the overhead are n/a
grep -v fan-end "$d/ftr" > "$d/ftr-noend"
printf '0 ADDED fan  \n3600000 MODIFIED fan False \n' > "$d/fpr-fail"
fan_figures "$d/ftr-noend" "$d/fpr-fail" > "$d/fan2"
check fan-missing-level "$(sed -n 's/^fan_\(overhead\|join\|dispatch\)_ms=//p' "$d/fan2" | tr '\n' ' ')" "n/a 30 n/a "

# the simulated-node workload: kw-1 and kw-2 created at 1.0/1.5 s, their Pods at 1.1/1.8 s, done
# at 2.0 (True) and 3.0 s (False); kw-3 created at 2.0 s, Pod at 2.05 s, never finished; a
# relisted ADDED and another prefix's run do not count
cat > "$d/ktr" <<'W'
1000000 ADDED kw-1  
1500000 ADDED kw-2  
2000000 MODIFIED kw-1 True 
2000000 ADDED kw-3  
2500000 ADDED kw-1 True 
3000000 MODIFIED kw-2 False 
3500000 ADDED other-1  
9000000 MODIFIED other-1 True 
W
cat > "$d/kpod" <<'W'
1100000 ADDED kw-1-pod  kw-1
1800000 ADDED kw-2-pod  kw-2
1900000 MODIFIED kw-1-pod  kw-1
2050000 ADDED kw-3-pod  kw-3
W
check pod-latency "$(pod_latency_ms "$d/ktr" "$d/kpod" kw- | tr '\n' ' ')" "100 300 50 "
kwok_figures "$d/ktr" "$d/kpod" kw- > "$d/kwok"
check kwok-figures "$(tr '\n' ' ' < "$d/kwok")" \
    "kwok_pod_p50_ms=100 kwok_pod_p99_ms=300 kwok_done=2 kwok_failed=1 kwok_create_s=1.0 kwok_all_s=2.0 kwok_rps=1.0 "
printf '1000000 ADDED kw-1  \n' > "$d/ktr-none"
kwok_figures "$d/ktr-none" "$d/kpod" kw- > "$d/kwok2"
check kwok-none-finished "$(grep -E '^kwok_(done|all_s|rps)=' "$d/kwok2" | tr '\n' ' ')" "kwok_done=0 kwok_all_s=n/a kwok_rps=n/a "

# the report: ratio tektite/Tekton from two env files
printf 'version=v1.15.0\nn_one=3\nconcurrent=10\nfanout=2\none_median_ms=2000\npeak_rss_kb=102400\ncpu_s=10\n' > "$d/t.env"
printf 'version=v0.1\nn_one=3\nconcurrent=10\nfanout=2\none_median_ms=500\npeak_rss_kb=5120\ncpu_s=1\n' > "$d/k.env"
"$REPO/hack/bench-report.sh" "$d/t.env" "$d/k.env" > "$d/report"
check report-one-step "$(grep '^| one-step' "$d/report" | cut -d'|' -f5 | tr -d ' ')" 0.25
check report-rss "$(grep '^| controller peak RSS' "$d/report" | cut -d'|' -f3-5 | tr -d ' ')" "100.0|5.0|0.05"
check report-cpu-per-1000 "$(grep '^| controller CPU per 1,000' "$d/report" | cut -d'|' -f3-4 | tr -d ' ')" "714.29|71.43"
check report-missing-is-na "$(grep '^| ten-step' "$d/report" | cut -d'|' -f5 | tr -d ' ')" n/a
# the new rows: RSS with completed runs, and the kwok throughput with its CPU per 1,000 runs
printf 'completed=300\ncompleted_rss_kb=204800\nkwok=100\nkwok_rps=10.0\nkwok_done=100\nkwok_cpu_s=5\n' >> "$d/t.env"
printf 'completed=300\ncompleted_rss_kb=10240\nkwok=100\nkwok_rps=25.0\nkwok_done=80\nkwok_cpu_s=.4\n' >> "$d/k.env"
"$REPO/hack/bench-report.sh" "$d/t.env" "$d/k.env" > "$d/report2"
check report-completed-rss "$(grep '^| controller RSS with 300 completed' "$d/report2" | cut -d'|' -f3-5 | tr -d ' ')" "200.0|10.0|0.05"
check report-kwok-rps "$(grep 'runs finished per second' "$d/report2" | cut -d'|' -f3-5 | tr -d ' ')" "10.0|25.0|2.50"
check report-kwok-cpu-per-1000 "$(grep '^|   controller CPU per 1,000' "$d/report2" | cut -d'|' -f3-5 | tr -d ' ')" "50.00|5.00|0.10"
