/* Unit tests for controller/metrics: names, labels, histograms, bounds and the text format. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/metrics.h"

/* Fail unless 'text' holds 'line' as a whole line. */
static void assert_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("line '%s' not in:\n%s", line, text);
}

static void assert_lacks(const char *text, const char *needle)
{
    if (strstr(text, needle))
        fail_msg("'%s' unexpectedly in:\n%s", needle, text);
}

static void test_metrics_render_new_registry_reports_zero_running(void **state)
{
    struct metrics *m = metrics_new();
    char *t = metrics_render(m);

    assert_has_line(t, "# TYPE tekton_pipelines_controller_running_taskruns gauge");
    assert_has_line(t, "tekton_pipelines_controller_running_taskruns 0");
    assert_has_line(t, "tekton_pipelines_controller_running_pipelineruns 0");
    assert_has_line(t, "# TYPE tekton_pipelines_controller_taskrun_duration_seconds histogram");
    assert_has_line(t, "# TYPE tekton_pipelines_controller_taskruns_pod_latency_milliseconds "
                       "histogram");
    assert_has_line(t, "# TYPE kn_workqueue_depth gauge");
    assert_lacks(t, "_bucket");
    free(t);
    metrics_free(m);
}

static void test_metrics_set_running_overwrites(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    metrics_set_running_taskruns(m, 7);
    metrics_set_running_taskruns(m, 3);
    metrics_set_running_pipelineruns(m, 2);
    t = metrics_render(m);
    assert_has_line(t, "tekton_pipelines_controller_running_taskruns 3");
    assert_has_line(t, "tekton_pipelines_controller_running_pipelineruns 2");
    assert_lacks(t, "running_taskruns 7");
    free(t);
    metrics_free(m);
}

static void test_metrics_observe_taskrun_fills_cumulative_buckets(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    assert_int_equal(metrics_observe_taskrun(m, "ci", "build", "success", 5), 0);
    assert_int_equal(metrics_observe_taskrun(m, "ci", "build", "success", 45.5), 0);
    assert_int_equal(metrics_observe_taskrun(m, "ci", "build", "success", 100000), 0);
    t = metrics_render(m);
#define TR "tekton_pipelines_controller_taskrun_duration_seconds"
    assert_has_line(t,
                    TR "_bucket{namespace=\"ci\",status=\"success\",task=\"build\",le=\"10\"} 1");
    assert_has_line(t,
                    TR "_bucket{namespace=\"ci\",status=\"success\",task=\"build\",le=\"30\"} 1");
    assert_has_line(t,
                    TR "_bucket{namespace=\"ci\",status=\"success\",task=\"build\",le=\"60\"} 2");
    assert_has_line(t, TR
                    "_bucket{namespace=\"ci\",status=\"success\",task=\"build\",le=\"86400\"} 2");
    assert_has_line(t,
                    TR "_bucket{namespace=\"ci\",status=\"success\",task=\"build\",le=\"+Inf\"} 3");
    assert_has_line(t, TR "_sum{namespace=\"ci\",status=\"success\",task=\"build\"} 100050.5");
    assert_has_line(t, TR "_count{namespace=\"ci\",status=\"success\",task=\"build\"} 3");
    assert_has_line(t, "tekton_pipelines_controller_taskrun_total{status=\"success\"} 3");
#undef TR
    free(t);
    metrics_free(m);
}

static void test_metrics_observe_pipelinerun_orders_labels_by_name(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    assert_int_equal(metrics_observe_pipelinerun(m, "ci", NULL, "failed", 12), 0);
    t = metrics_render(m);
    assert_has_line(t, "tekton_pipelines_controller_pipelinerun_duration_seconds_count{"
                       "namespace=\"ci\",pipeline=\"anonymous\",status=\"failed\"} 1");
    assert_has_line(t, "tekton_pipelines_controller_pipelinerun_total{status=\"failed\"} 1");
    free(t);
    metrics_free(m);
}

static void test_metrics_observe_pipelinerun_taskrun_has_its_own_histogram(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    assert_int_equal(metrics_observe_pipelinerun_taskrun(m, "ci", "release", NULL, "success", 31),
                     0);
    assert_int_equal(metrics_observe_pipelinerun_taskrun(m, "ci", "release", NULL, "", 1), -EINVAL);
    t = metrics_render(m);
    assert_has_line(t, "tekton_pipelines_controller_pipelinerun_taskrun_duration_seconds_bucket{"
                       "namespace=\"ci\",pipeline=\"release\",status=\"success\","
                       "task=\"anonymous\",le=\"30\"} 0");
    assert_has_line(t, "tekton_pipelines_controller_pipelinerun_taskrun_duration_seconds_bucket{"
                       "namespace=\"ci\",pipeline=\"release\",status=\"success\","
                       "task=\"anonymous\",le=\"60\"} 1");
    /* standalone and pipeline TaskRuns share the counter, not the histogram */
    assert_has_line(t, "tekton_pipelines_controller_taskrun_total{status=\"success\"} 1");
    assert_lacks(t, "tekton_pipelines_controller_taskrun_duration_seconds_count");
    free(t);
    metrics_free(m);
}

static void test_metrics_series_are_distinct_per_label_set(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    assert_int_equal(metrics_observe_taskrun(m, "a", "t", "success", 1), 0);
    assert_int_equal(metrics_observe_taskrun(m, "b", "t", "success", 1), 0);
    assert_int_equal(metrics_observe_taskrun(m, "a", "t", "failed", 1), 0);
    assert_int_equal(metrics_observe_taskrun(m, "a", "t", "success", 1), 0);
    t = metrics_render(m);
    assert_has_line(t, "tekton_pipelines_controller_taskrun_duration_seconds_count{"
                       "namespace=\"a\",status=\"success\",task=\"t\"} 2");
    assert_has_line(t, "tekton_pipelines_controller_taskrun_duration_seconds_count{"
                       "namespace=\"b\",status=\"success\",task=\"t\"} 1");
    assert_has_line(t, "tekton_pipelines_controller_taskrun_duration_seconds_count{"
                       "namespace=\"a\",status=\"failed\",task=\"t\"} 1");
    assert_has_line(t, "tekton_pipelines_controller_taskrun_total{status=\"success\"} 3");
    assert_has_line(t, "tekton_pipelines_controller_taskrun_total{status=\"failed\"} 1");
    free(t);
    metrics_free(m);
}

static void test_metrics_label_values_are_escaped(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    assert_int_equal(metrics_observe_pod_latency(m, "ns", "a\"b\\c\nd", 7), 0);
    t = metrics_render(m);
    assert_has_line(t, "tekton_pipelines_controller_taskruns_pod_latency_milliseconds_count{"
                       "namespace=\"ns\",task=\"a\\\"b\\\\c\\nd\"} 1");
    assert_has_line(t, "tekton_pipelines_controller_taskruns_pod_latency_milliseconds_bucket{"
                       "namespace=\"ns\",task=\"a\\\"b\\\\c\\nd\",le=\"5\"} 0");
    assert_has_line(t, "tekton_pipelines_controller_taskruns_pod_latency_milliseconds_bucket{"
                       "namespace=\"ns\",task=\"a\\\"b\\\\c\\nd\",le=\"10\"} 1");
    free(t);
    metrics_free(m);
}

static void test_metrics_bad_input_is_einval_and_records_nothing(void **state)
{
    static const struct {
        const char *name;
        const char *ns;
        const char *status;
        double v;
    } cases[] = {
        {"no namespace", NULL, "success", 1},   {"empty namespace", "", "success", 1},
        {"no status", "ns", NULL, 1},           {"negative duration", "ns", "success", -1},
        {"NaN duration", "ns", "success", NAN}, {"infinite duration", "ns", "success", INFINITY},
    };
    struct metrics *m = metrics_new();
    char *t;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = metrics_observe_taskrun(m, cases[i].ns, "t", cases[i].status, cases[i].v);

        if (r != -EINVAL)
            fail_msg("case '%s': got %d, want -EINVAL", cases[i].name, r);
    }
    assert_int_equal(metrics_observe_pod_latency(m, "ns", "t", -3), -EINVAL);
    assert_int_equal(metrics_set_workqueue_depth(m, "", 1), -EINVAL);
    assert_int_equal(metrics_count_reconcile(m, NULL, true), -EINVAL);
    t = metrics_render(m);
    assert_lacks(t, "_seconds_count{");
    assert_lacks(t, "_milliseconds_count{");
    assert_lacks(t, "taskrun_total{");
    assert_lacks(t, "kn_workqueue_depth{");
    free(t);
    metrics_free(m);
}

static void test_metrics_series_bound_drops_and_counts(void **state)
{
    struct metrics *m = metrics_new();
    char ns[32];
    char *t;

    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        (void)snprintf(ns, sizeof(ns), "ns-%d", i);
        assert_int_equal(metrics_observe_pod_latency(m, ns, "t", 1), 0);
    }
    assert_int_equal(metrics_observe_pod_latency(m, "one-too-many", "t", 1), -ENOSPC);
    assert_int_equal(metrics_observe_pod_latency(m, "another", "t", 1), -ENOSPC);
    /* an existing series still records */
    assert_int_equal(metrics_observe_pod_latency(m, "ns-0", "t", 1), 0);
    t = metrics_render(m);
    assert_has_line(t, "tektite_metrics_series_dropped_total 2");
    assert_lacks(t, "one-too-many");
    assert_has_line(t, "tekton_pipelines_controller_taskruns_pod_latency_milliseconds_count{"
                       "namespace=\"ns-0\",task=\"t\"} 2");
    free(t);
    metrics_free(m);
}

static void test_metrics_workqueue_and_reconcile_counts(void **state)
{
    struct metrics *m = metrics_new();
    char *t;

    assert_int_equal(metrics_set_workqueue_depth(m, "taskrun", 4), 0);
    assert_int_equal(metrics_set_workqueue_depth(m, "taskrun", 1), 0);
    assert_int_equal(metrics_count_reconcile(m, "taskrun", true), 0);
    assert_int_equal(metrics_count_reconcile(m, "taskrun", true), 0);
    assert_int_equal(metrics_count_reconcile(m, "taskrun", false), 0);
    t = metrics_render(m);
    assert_has_line(t, "kn_workqueue_depth{name=\"taskrun\"} 1");
    assert_has_line(
        t,
        "tekton_pipelines_controller_reconcile_count{reconciler=\"taskrun\",success=\"true\"} 2");
    assert_has_line(
        t,
        "tekton_pipelines_controller_reconcile_count{reconciler=\"taskrun\",success=\"false\"} 1");
    free(t);
    assert_int_equal(metrics_count_pass(m, "taskrun", "pod", NULL), 0);
    assert_int_equal(metrics_count_pass(m, "taskrun", "pod", NULL), 0);
    assert_int_equal(metrics_count_pass(m, "taskrun", NULL, "wrote"), 0);
    assert_int_equal(metrics_count_pass(m, "taskrun", NULL, NULL), -EINVAL);
    assert_int_equal(metrics_count_pass(m, NULL, "pod", NULL), -EINVAL);
    t = metrics_render(m);
    assert_has_line(t,
                    "tektite_reconcile_pass_causes_total{cause=\"pod\",reconciler=\"taskrun\"} 2");
    assert_has_line(
        t, "tektite_reconcile_pass_outcomes_total{outcome=\"wrote\",reconciler=\"taskrun\"} 1");
    free(t);
    metrics_free(m);
}

static void test_metrics_render_every_sample_line_is_well_formed(void **state)
{
    struct metrics *m = metrics_new();
    char *t, *line, *save = NULL;

    metrics_set_running_taskruns(m, 1);
    assert_int_equal(metrics_observe_taskrun(m, "ns", NULL, "cancelled", 0.25), 0);
    assert_int_equal(metrics_observe_pod_latency(m, "ns", NULL, 12.5), 0);
    t = metrics_render(m);
    assert_true(t[strlen(t) - 1] == '\n');
    for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *sp = strrchr(line, ' ');
        char *end;

        if (line[0] == '#') {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
            continue;
        }
        assert_non_null(sp);
        (void)strtod(sp + 1, &end);
        if (*end != '\0' || end == sp + 1)
            fail_msg("sample value not a number: '%s'", line);
    }
    free(t);
    metrics_free(m);
}

static void test_metrics_free_null_is_noop(void **state)
{
    metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render_new_registry_reports_zero_running),
        cmocka_unit_test(test_metrics_set_running_overwrites),
        cmocka_unit_test(test_metrics_observe_taskrun_fills_cumulative_buckets),
        cmocka_unit_test(test_metrics_observe_pipelinerun_orders_labels_by_name),
        cmocka_unit_test(test_metrics_observe_pipelinerun_taskrun_has_its_own_histogram),
        cmocka_unit_test(test_metrics_series_are_distinct_per_label_set),
        cmocka_unit_test(test_metrics_label_values_are_escaped),
        cmocka_unit_test(test_metrics_bad_input_is_einval_and_records_nothing),
        cmocka_unit_test(test_metrics_series_bound_drops_and_counts),
        cmocka_unit_test(test_metrics_workqueue_and_reconcile_counts),
        cmocka_unit_test(test_metrics_render_every_sample_line_is_well_formed),
        cmocka_unit_test(test_metrics_free_null_is_noop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
