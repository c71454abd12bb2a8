#!/usr/bin/env bash
# bench-report.sh TEKTON_ENV TEKTITE_ENV: the markdown table of hack/bench-compare.sh's figures,
# each with its ratio tektite/Tekton and the target of issue 9 it is held to. Pure text in, text
# out (tests/unit-free: tests/e2e/bench_report_test.sh feeds it fixed files).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench-report.sh TEKTON_ENV TEKTITE_ENV" >&2; exit 2; }

# get FILE KEY: the value of KEY= in FILE, "n/a" when absent or empty
get() { local v; v=$(sed -n "s/^$2=//p" "$1" | tail -1); echo "${v:-n/a}"; }
# ratio B A: B/A to two decimals, n/a unless both are positive numbers
ratio() { awk -v a="$2" -v b="$1" 'BEGIN { if (a + 0 > 0 && b ~ /^[0-9.]+$/ && a ~ /^[0-9.]+$/) printf "%.2f", b / a; else print "n/a" }'; }
kib_mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }'; }
per_k() { awk -v c="$1" -v n="$2" 'BEGIN { if (c ~ /^[0-9.]+$/ && n + 0 > 0) printf "%.2f", c * 1000 / n; else print "n/a" }'; }

t=$1 k=$2
row() { # label tekton-value tektite-value target [ratio override]
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "${5:-$(ratio "$3" "$2")}" "$4"
}
n=$(get "$k" concurrent) f=$(get "$k" fanout)
# sum ENV KEY...: the sum of KEYs' numeric values (absent ones count 0) plus the two fan tasks
sum() { local e=$1; shift; for key in "$@"; do get "$e" "$key"; done | awk '$1 ~ /^[0-9]+$/ {s += $1} END {print s + 2}'; }
# CPU is measured over the concurrent runs and the PipelineRun
runs_t=$(sum "$t" concurrent fanout)
runs_k=$(sum "$k" concurrent fanout)

echo "| figure | Tekton $(get "$t" version) | tektite $(get "$k" version) | ratio tektite/Tekton | target |"
echo "|---|---|---|---|---|"
row "one-step TaskRun, create -> Succeeded, median of $(get "$k" n_one) (min-max), ms" \
    "$(get "$t" one_median_ms) ($(get "$t" one_range_ms))" "$(get "$k" one_median_ms) ($(get "$k" one_range_ms))" "<= 0.35" \
    "$(ratio "$(get "$k" one_median_ms)" "$(get "$t" one_median_ms)")"
row "ten-step TaskRun, create -> Succeeded, median of $(get "$k" n_ten) (min-max), ms" \
    "$(get "$t" ten_median_ms) ($(get "$t" ten_range_ms))" "$(get "$k" ten_median_ms) ($(get "$k" ten_range_ms))" "<= 0.25" \
    "$(ratio "$(get "$k" ten_median_ms)" "$(get "$t" ten_median_ms)")"
row "step hand-off, median (p90), ms" \
    "$(awk -v m="$(get "$t" handoff_median_us)" -v p="$(get "$t" handoff_p90_us)" 'BEGIN {printf "%.1f (%.1f)", m / 1000, p / 1000}')" \
    "$(awk -v m="$(get "$k" handoff_median_us)" -v p="$(get "$k" handoff_p90_us)" 'BEGIN {printf "%.1f (%.1f)", m / 1000, p / 1000}')" \
    "< 10 ms median" "$(ratio "$(get "$k" handoff_median_us)" "$(get "$t" handoff_median_us)")"
row "$n TaskRuns at once: create -> Pod created, p50, ms" "$(get "$t" many_pod_p50_ms)" "$(get "$k" many_pod_p50_ms)" "-"
row "$n TaskRuns at once: create -> Pod created, p99, ms" "$(get "$t" many_pod_p99_ms)" "$(get "$k" many_pod_p99_ms)" "-"
row "$n TaskRuns at once: first create -> all finished, s ($(get "$t" many_failed)/$(get "$k" many_failed) failed)" \
    "$(get "$t" many_all_s)" "$(get "$k" many_all_s)" "-"
row "$f-task fan-out/fan-in PipelineRun, create -> done, ms" "$(get "$t" fan_wall_ms)" "$(get "$k" fan_wall_ms)" "-"
row "  of which controller overhead (level done -> next level's TaskRuns exist), ms" \
    "$(get "$t" fan_overhead_ms)" "$(get "$k" fan_overhead_ms)" "<= 0.2"
row "  PipelineRun created -> first TaskRun, ms" "$(get "$t" fan_first_ms)" "$(get "$k" fan_first_ms)" "-"
row "  start done -> all $f fan-out TaskRuns exist, ms" "$(get "$t" fan_dispatch_ms)" "$(get "$k" fan_dispatch_ms)" "-"
row "  last fan-out done -> end TaskRun exists, ms" "$(get "$t" fan_join_ms)" "$(get "$k" fan_join_ms)" "-"
row "  end done -> PipelineRun done, ms" "$(get "$t" fan_finish_ms)" "$(get "$k" fan_finish_ms)" "-"
row "controller CPU over the $n runs + the PipelineRun, s" "$(get "$t" cpu_s)" "$(get "$k" cpu_s)" "-"
row "controller CPU per 1,000 TaskRuns, s" "$(per_k "$(get "$t" cpu_s)" "$runs_t")" "$(per_k "$(get "$k" cpu_s)" "$runs_k")" "<= 0.1"
row "controller peak RSS, MiB" "$(kib_mib "$(get "$t" peak_rss_kb)")" "$(kib_mib "$(get "$k" peak_rss_kb)")" "<= 0.1 and < 20 MiB"
row "controller RSS idle (before the workloads), MiB" "$(kib_mib "$(get "$t" idle_rss_kb)")" "$(kib_mib "$(get "$k" idle_rss_kb)")" "-"
row "admission webhook CPU over the same runs, s (tektite has none)" "$(get "$t" webhook_cpu_s)" "-" "-" "-"
row "admission webhook peak RSS, MiB" "$(kib_mib "$(get "$t" webhook_peak_rss_kb)")" "-" "-" "-"
row "API requests per TaskRun ($n at once)" "$(get "$t" many_api_per_run)" "$(get "$k" many_api_per_run)" "-"
row "API requests per $f-task PipelineRun (its TaskRuns included)" "$(get "$t" fan_api)" "$(get "$k" fan_api)" "-"
# reconciles: totals since the controller started, over every TaskRun the phase created
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
rt=$(per "$(get "$t" tr_reconciles)" "$(sum "$t" n_one n_ten concurrent fanout)")
rk=$(per "$(get "$k" tr_reconciles)" "$(sum "$k" n_one n_ten concurrent fanout)")
row "reconciles per TaskRun (whole phase; $(get "$t" runs_before)/$(get "$k" runs_before) runs already in the cluster)" "$rt" "$rk" "<= 4 (tektite)"
row "reconciles of the PipelineRun" "$(get "$t" pr_reconciles)" "$(get "$k" pr_reconciles)" "-"
# workload 5's last part: RSS with COMPLETED finished runs present (the controller restarted)
c=$(get "$k" completed)
row "controller RSS with $c completed TaskRuns present (restarted, synced, idle), MiB" \
    "$(kib_mib "$(get "$t" completed_rss_kb)")" "$(kib_mib "$(get "$k" completed_rss_kb)")" "<= 0.1 and < 20 MiB"
row "  its peak (VmHWM) until then, MiB" "$(kib_mib "$(get "$t" completed_hwm_kb)")" "$(kib_mib "$(get "$k" completed_hwm_kb)")" "-"
row "  controller start -> idle with them, s ($(get "$t" completed_present)/$(get "$k" completed_present) present)" \
    "$(get "$t" completed_idle_s)" "$(get "$k" completed_idle_s)" "-"
# workload 7: simulated node
w=$(get "$k" kwok)
row "$w TaskRuns at once on a kwok node: first create -> all finished, s ($(get "$t" kwok_done)/$(get "$k" kwok_done) finished, $(get "$t" kwok_failed)/$(get "$k" kwok_failed) failed)" \
    "$(get "$t" kwok_all_s)" "$(get "$k" kwok_all_s)" "-"
# throughput: the ratio stays tektite/Tekton, so here above 1 is better for tektite
row "  runs finished per second (higher is better)" "$(get "$t" kwok_rps)" "$(get "$k" kwok_rps)" "-"
row "  create -> Pod created, p50, ms" "$(get "$t" kwok_pod_p50_ms)" "$(get "$k" kwok_pod_p50_ms)" "-"
row "  create -> Pod created, p99, ms" "$(get "$t" kwok_pod_p99_ms)" "$(get "$k" kwok_pod_p99_ms)" "-"
row "  controller CPU, s" "$(get "$t" kwok_cpu_s)" "$(get "$k" kwok_cpu_s)" "-"
row "  controller CPU per 1,000 TaskRuns, s" "$(per_k "$(get "$t" kwok_cpu_s)" "$(get "$t" kwok_done)")" \
    "$(per_k "$(get "$k" kwok_cpu_s)" "$(get "$k" kwok_done)")" "<= 0.1"
row "  admission webhook CPU, s (tektite has none)" "$(get "$t" kwok_webhook_cpu_s)" "-" "-" "-"
echo
echo "Load average at the end of each phase: Tekton $(get "$t" load), tektite $(get "$k" load)."
