/*
 * Unit tests for controller/pipelinerun_plan: multi-pass scenarios over upstream examples (plan,
 * pretend the children ran, plan again until done), naming, skipping, finally, timeouts,
 * cancellation and bad input with Tekton's reasons.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/pipelinerun_plan.h"
#include "controller/tekton_config.h"
#include "lib/xalloc.h"

#define FIXTURES "tests/unit/fixtures/pipelinerun/"
#define T0       1800000000

struct world {
    json_t *pr;
    json_t *pipeline;
    json_t *tasks;    /* name -> Task */
    json_t *taskruns; /* children */
    struct tekton_config *cfg;
    time_t now;
};

static void world_load(struct world *w, const char *file)
{
    char *path = xasprintf(FIXTURES "%s", file);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    const json_t *obj;
    size_t i;

    if (!root)
        fail_msg("cannot load '%s': %s", path, err.text);
    memset(w, 0, sizeof(*w));
    w->tasks = json_object();
    w->taskruns = json_array();
    w->cfg = tekton_config_new_default();
    w->now = T0;
    json_array_foreach(json_object_get(root, "objects"), i, obj) {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

        if (strcmp(kind, "Task") == 0)
            json_object_set(w->tasks, name, (json_t *)(uintptr_t)obj);
        else if (strcmp(kind, "Pipeline") == 0)
            w->pipeline = json_deep_copy(obj);
        else if (strcmp(kind, "PipelineRun") == 0 && !w->pr)
            w->pr = json_deep_copy(obj);
    }
    assert_non_null(w->pr);
    json_t *meta = json_object_get(w->pr, "metadata");

    if (!json_object_get(meta, "name"))
        json_object_set_new(meta, "name", json_string("run"));
    json_object_set_new(meta, "namespace", json_string("ns"));
    json_object_set_new(meta, "uid", json_string("uid-1"));
    json_decref(root);
    free(path);
}

static void world_done(struct world *w)
{
    json_decref(w->pr);
    json_decref(w->pipeline);
    json_decref(w->tasks);
    json_decref(w->taskruns);
    tekton_config_free(w->cfg);
}

static int world_plan(struct world *w, struct pipelinerun_plan *plan)
{
    struct pipelinerun_plan_input in = {
        .pipelinerun = w->pr,
        .pipeline = w->pipeline,
        .tasks = w->tasks,
        .taskruns = w->taskruns,
        .cfg = w->cfg,
        .now = w->now,
    };
    int r = pipelinerun_plan(&in, plan);

    if (r == 0)
        json_object_set(w->pr, "status", plan->status);
    return r;
}

/* A value of the declared result type, so consumers see something of the right shape. */
static json_t *fake_result(const json_t *decl)
{
    const char *type = json_string_value(json_object_get(decl, "type"));
    const json_t *props = json_object_get(decl, "properties");

    if (type && strcmp(type, "array") == 0)
        return json_pack("[s, s, s]", "x", "y", "z");
    if ((type && strcmp(type, "object") == 0) || props) {
        json_t *o = json_object();
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)(uintptr_t)props, k, v) {
            json_object_set_new(o, k, json_string("v"));
        }
        return o;
    }
    return json_string("1");
}

static const json_t *spec_of(const struct world *w, const json_t *tr)
{
    const json_t *spec = json_object_get(tr, "spec");
    const char *ref = json_string_value(json_object_get(json_object_get(spec, "taskRef"), "name"));

    if (ref)
        return json_object_get(json_object_get(w->tasks, ref), "spec");
    return json_object_get(spec, "taskSpec");
}

/* Mark a child finished with every declared result; 'status' "True" or "False". */
static void finish(struct world *w, json_t *tr, const char *status, const char *reason)
{
    const json_t *decl;
    json_t *results = json_array();
    size_t i;

    json_array_foreach(json_object_get(spec_of(w, tr), "results"), i, decl) {
        json_array_append_new(results,
                              json_pack("{s:O, s:o}", "name", json_object_get(decl, "name"),
                                        "value", fake_result(decl)));
    }
    json_object_set_new(tr, "status",
                        json_pack("{s:[{s:s, s:s, s:s}], s:o}", "conditions", "type", "Succeeded",
                                  "status", status, "reason", reason, "results", results));
}

/* Run passes, finishing every created child successfully, until done. Returns the pass count. */
static int run_to_completion(struct world *w, struct pipelinerun_plan *last)
{
    for (int pass = 1; pass <= 30; pass++) {
        struct pipelinerun_plan plan;
        json_t *tr;
        size_t i;

        assert_int_equal(world_plan(w, &plan), 0);
        assert_int_equal(json_array_size(plan.missing_tasks), 0);
        json_array_foreach(plan.create_taskruns, i, tr) {
            json_t *copy = json_deep_copy(tr);

            finish(w, copy, "True", "Succeeded");
            json_array_append_new(w->taskruns, copy);
        }
        w->now += 10;
        if (plan.done) {
            *last = plan;
            return pass;
        }
        pipelinerun_plan_done(&plan);
    }
    fail_msg("run did not finish in 30 passes");
    return -1;
}

static const char *cond_field(const json_t *status, const char *field)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(status, "conditions"), 0), field));
}

static const json_t *created(const struct pipelinerun_plan *plan, const char *name)
{
    const json_t *tr;
    size_t i;

    json_array_foreach(plan->create_taskruns, i, tr) {
        if (strcmp(json_string_value(json_object_get(json_object_get(tr, "metadata"), "name")),
                   name) == 0)
            return tr;
    }
    return NULL;
}

static const char *param_value(const json_t *tr, const char *name)
{
    const json_t *p;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(tr, "spec"), "params"), i, p) {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return json_string_value(json_object_get(p, "value"));
    }
    return NULL;
}

static const json_t *result_named(const json_t *status, const char *name)
{
    const json_t *r;
    size_t i;

    json_array_foreach(json_object_get(status, "results"), i, r) {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return json_object_get(r, "value");
    }
    return NULL;
}

/* ---- scenarios over upstream examples ---- */

static void test_plan_results_example_runs_in_dependency_order(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *tr;

    world_load(&w, "pipelinerun-results.json");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_false(plan.done);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    tr = created(&plan, "sum-three-pipeline-run-first-add");
    assert_non_null(tr);
    assert_string_equal(param_value(tr, "first"), "2");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(tr, "metadata"), "labels"), "tekton.dev/pipeline")),
        "sum-three-pipeline");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(tr, "metadata"), "labels"), "tekton.dev/memberOf")),
        "tasks");
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(json_object_get(tr, "metadata"), "ownerReferences"), 0),
        "controller")));
    assert_string_equal(cond_field(plan.status, "reason"), "Running");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 0 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0");
    assert_true(plan.requeue_after_ns > 0);
    json_t *copy = json_deep_copy(tr);

    finish(&w, copy, "True", "Succeeded");
    json_array_append_new(w.taskruns, copy);
    pipelinerun_plan_done(&plan);

    assert_int_equal(world_plan(&w, &plan), 0);
    tr = created(&plan, "sum-three-pipeline-run-second-add");
    assert_non_null(tr);
    assert_string_equal(param_value(tr, "first"), "1");
    assert_string_equal(param_value(tr, "second"), "10");
    pipelinerun_plan_done(&plan);

    assert_int_equal(run_to_completion(&w, &plan), 2);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "Succeeded");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0");
    assert_string_equal(json_string_value(result_named(plan.status, "all-sum")), "1-1");
    assert_non_null(json_object_get(plan.status, "completionTime"));
    assert_int_equal(json_array_size(json_object_get(plan.status, "childReferences")), 2);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_upstream_examples_finish(void **state)
{
    static const struct {
        const char *file;
        const char *reason;
    } cases[] = {
        {"6139-regression.json", NULL},
        {"7392-regression.json", NULL},
        {"ignore-step-error.json", NULL},
        {"ignore-task-error.json", NULL},
        {"optional-workspaces.json", NULL},
        {"pipeline-emitting-results.json", NULL},
        {"pipeline-object-param-and-result.json", NULL},
        {"pipeline-object-results.json", NULL},
        {"pipeline-with-displayname.json", NULL},
        {"pipeline-with-when-expressions-using-array-results.json", NULL},
        {"pipelinerun-array-results-substitution.json", NULL},
        {"pipelinerun-param-array-indexing.json", NULL},
        {"pipelinerun-results-with-params.json", NULL},
        {"pipelinerun-results.json", NULL},
        {"pipelinerun-task-execution-status.json", NULL},
        {"pipelinerun-using-different-subpaths-of-workspace.json", NULL},
        {"pipelinerun-using-parameterized-subpath-of-workspace.json", NULL},
        {"pipelinerun-with-extra-params.json", NULL},
        {"pipelinerun-with-matrix-and-taskrunspecs-param-substitution.json", NULL},
        {"pipelinerun-with-matrix-array-references.json", NULL},
        {"pipelinerun-with-matrix-context-variables.json", NULL},
        {"pipelinerun-with-matrix-emitting-results.json", NULL},
        {"pipelinerun-with-matrix-include-explicit.json", NULL},
        {"pipelinerun-with-matrix-include.json", NULL},
        {"pipelinerun-with-parallel-tasks-using-pvc.json", NULL},
        {"pipelinerun-with-params.json", NULL},
        {"pipelinerun-with-pipelinespec-and-taskspec.json", NULL},
        {"pipelinerun-with-task-timeout-override.json", NULL},
        {"propagating_params_in_pipeline.json", NULL},
        {"propagating_params_with_scope_precedence.json", NULL},
        {"propagating_params_with_scope_precedence_default_only.json", NULL},
        {"propagating_workspaces_with_referenced_resources.json", NULL},
        {"task_results_example.json", NULL},
        {"using-optional-workspaces-in-when-expressions.json", NULL},
        {"using-retries-and-retry-count-variables.json", NULL},
        {"workspace-from-volumeclaimtemplate.json", NULL},
        {"workspaces-projected.json", NULL},
        {"workspaces.json", NULL},
    };

    int failures = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct world w;
        struct pipelinerun_plan plan;
        const char *reason;

        world_load(&w, cases[i].file);
        run_to_completion(&w, &plan);
        reason = cond_field(plan.status, "reason");
        if (cases[i].reason
                ? strcmp(reason, cases[i].reason) != 0
                : strcmp(reason, "Succeeded") != 0 && strcmp(reason, "Completed") != 0) {
            print_error("case '%s': reason %s: %s\n", cases[i].file, reason,
                        cond_field(plan.status, "message"));
            failures++;
        }
        pipelinerun_plan_done(&plan);
        world_done(&w);
    }
    assert_int_equal(failures, 0);
}

/* ---- naming ---- */

static void test_plan_child_name_table(void **state)
{
    static const struct {
        const char *pr, *task;
        size_t index, count;
        const char *want;
    } cases[] = {
        {"pipeline-run", "task1", 0, 1, "pipeline-run-task1"},
        {"pipeline-run", "task2-0123456789-0123456789-0123456789-0123456789-0123456789", 0, 1,
         "pipeline-runee4a397d6eab67777d4e6f9991cd19e6-task2-0123456789-0"},
        {"pipeline-run-0123456789-0123456789-0123456789-0123456789", "task3", 0, 1,
         "pipeline-run-0123456789-0123456789-0123456789-0123456789-task3"},
        {"pipeline-run-0123456789-0123456789-0123456789-0123456789",
         "task2-0123456789-0123456789-0123456789-0123456789-0123456789", 0, 1,
         "pipeline-run-0123456789-012345607ad8c7aac5873cdfabe472a68996b5c"},
        {"pipeline-run", "task4", 3, 4, "pipeline-run-task4-3"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got =
            pipelinerun_plan_child_name(cases[i].pr, cases[i].task, cases[i].index, cases[i].count);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(got);
    }
}

/* ---- inline scenarios ---- */

static void world_inline(struct world *w, const char *spec_json)
{
    json_error_t err;
    json_t *spec = json_loads(spec_json, 0, &err);

    if (!spec)
        fail_msg("bad test JSON: %s", err.text);
    memset(w, 0, sizeof(*w));
    w->tasks = json_object();
    w->taskruns = json_array();
    w->cfg = tekton_config_new_default();
    w->now = T0;
    w->pr = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "apiVersion", "tekton.dev/v1", "kind",
                      "PipelineRun", "metadata", "name", "pr", "namespace", "ns", "uid", "u1",
                      "spec", spec);
}

#define ECHO_TASK "\"taskSpec\":{\"steps\":[{\"image\":\"alpine\",\"script\":\"true\"}]"

static json_t *child(struct world *w, const char *name)
{
    const json_t *tr;
    size_t i;

    json_array_foreach(w->taskruns, i, tr) {
        if (strcmp(json_string_value(json_object_get(json_object_get(tr, "metadata"), "name")),
                   name) == 0)
            return (json_t *)(uintptr_t)tr;
    }
    return NULL;
}

static void adopt(struct world *w, const struct pipelinerun_plan *plan)
{
    const json_t *tr;
    size_t i;

    json_array_foreach(plan->create_taskruns, i, tr) {
        json_array_append_new(w->taskruns, json_deep_copy(tr));
    }
}

static void test_plan_failed_task_stops_dag_and_runs_finally_with_status_vars(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *fin;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"a\"," ECHO_TASK "}},"
                     "{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}],"
                     "\"finally\":[{\"name\":\"f\",\"params\":["
                     "{\"name\":\"s\",\"value\":\"$(tasks.a.status)/$(tasks.status)\"},"
                     "{\"name\":\"r\",\"value\":\"$(tasks.a.reason)\"}]," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-a"), "False", "Failed");

    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    fin = created(&plan, "pr-f");
    assert_non_null(fin);
    assert_string_equal(param_value(fin, "s"), "Failed/Failed");
    assert_string_equal(param_value(fin, "r"), "Failed");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(plan.status, "skippedTasks"), 0), "reason")),
        "PipelineRun was stopping");
    assert_non_null(json_object_get(plan.status, "finallyStartTime"));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-f"), "True", "Succeeded");

    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "status"), "False");
    assert_string_equal(cond_field(plan.status, "reason"), "Failed");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_when_false_skips_only_its_task(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"params\":[{\"name\":\"go\",\"value\":\"no\"}],"
                     "\"pipelineSpec\":{\"params\":[{\"name\":\"go\"}],\"tasks\":["
                     "{\"name\":\"a\",\"when\":[{\"input\":\"$(params.go)\",\"operator\":\"in\","
                     "\"values\":[\"yes\"]}]," ECHO_TASK "}},"
                     "{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    assert_non_null(created(&plan, "pr-b"));
    const json_t *skipped = json_array_get(json_object_get(plan.status, "skippedTasks"), 0);

    assert_string_equal(json_string_value(json_object_get(skipped, "reason")),
                        "When Expressions evaluated to false");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(skipped, "whenExpressions"), 0), "input")),
        "no");
    pipelinerun_plan_done(&plan);
    assert_int_equal(run_to_completion(&w, &plan), 2);
    assert_string_equal(cond_field(plan.status, "reason"), "Completed");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Skipped: 1");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_missing_result_of_successful_task_fails_validation(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"a\",\"taskSpec\":{\"results\":[{\"name\":\"r\"}],"
                     "\"steps\":[{\"image\":\"alpine\",\"script\":\"true\"}]}},"
                     "{\"name\":\"b\",\"params\":[{\"name\":\"p\",\"value\":"
                     "\"$(tasks.a.results.r)\"}]," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    json_t *a = child(&w, "pr-a");

    json_object_set_new(a, "status",
                        json_pack("{s:[{s:s, s:s, s:s}]}", "conditions", "type", "Succeeded",
                                  "status", "True", "reason", "Succeeded"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "PipelineValidationFailed");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Skipped: 0, Failed "
                        "Validation: 1 (task \"a\" completed successfully but did not emit the "
                        "result \"r\", which is referenced by task \"b\")");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_hard_cancel_patches_running_children(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    json_object_set_new(json_object_get(w.pr, "spec"), "status", json_string("Cancelled"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "Cancelled");
    assert_string_equal(cond_field(plan.status, "message"), "PipelineRun \"pr\" was cancelled");
    assert_int_equal(json_array_size(plan.cancel_taskruns), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(plan.cancel_taskruns, 0),
                                                          "statusMessage")),
                        PIPELINERUN_CANCEL_MESSAGE);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_pipeline_timeout_cancels_and_fails(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"timeouts\":{\"pipeline\":\"1m\"},\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"a\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(plan.requeue_after_ns, 60 * INT64_C(1000000000));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    w.now += 61;
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "PipelineRunTimeout");
    assert_string_equal(cond_field(plan.status, "message"),
                        "PipelineRun \"pr\" failed to finish within \"1m0s\"");
    assert_int_equal(json_array_size(plan.cancel_taskruns), 1);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_pending_does_not_start(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"status\":\"PipelineRunPending\",\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"a\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_false(plan.done);
    assert_null(json_object_get(plan.status, "startTime"));
    assert_string_equal(cond_field(plan.status, "reason"), "PipelineRunPending");
    assert_string_equal(cond_field(plan.status, "message"), "PipelineRun \"pr\" is pending");
    assert_int_equal(json_array_size(plan.create_taskruns), 0);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_lists_missing_tasks_then_fails_on_get_error(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"taskRef\":{\"name\":"
                     "\"build\"}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_false(plan.done);
    assert_int_equal(json_array_size(plan.missing_tasks), 1);
    assert_string_equal(json_string_value(json_array_get(plan.missing_tasks, 0)), "build");
    assert_int_equal(json_array_size(plan.create_taskruns), 0);
    pipelinerun_plan_done(&plan);
    json_object_set_new(w.tasks, "build", json_string("tasks.tekton.dev \"build\" not found"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "CouldntGetTask");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Pipeline ns/pr can't be Run; it contains Tasks that don't exist: "
                        "Couldn't retrieve Task \"build\": tasks.tekton.dev \"build\" not found");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_needs_pipeline_before_anything(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineRef\":{\"name\":\"p\"}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.need_pipeline);
    assert_false(plan.done);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

/* ---- bad input: reason and a message naming the task and field ---- */

#define STEP "\"steps\":[{\"image\":\"alpine\",\"script\":\"true\"}]"

static void test_plan_bad_input_table(void **state)
{
    static const struct {
        const char *name;
        const char *spec; /* PipelineRun spec */
        const char *reason;
        const char *message; /* substring */
    } cases[] = {
        {"cycle",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"runAfter\":[\"b\"]," ECHO_TASK
         "}},{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}]}}",
         "PipelineInvalidGraph",
         "[User error] PipelineRun ns/pr's Pipeline DAG is invalid: cycle detected; task \"a\" "
         "depends on \"b\""},
        {"unknown runAfter",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"runAfter\":[\"x\"]," ECHO_TASK "}}]}}",
         "PipelineInvalidGraph", "task a depends on x but x wasn't present in Pipeline"},
        {"duplicate task",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}},{\"name\":\"a\"," ECHO_TASK
         "}}]}}",
         "PipelineInvalidGraph", "task a is already present in Graph"},
        {"result ref to unknown task",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"params\":[{\"name\":\"p\",\"value\":"
         "\"$(tasks.nope.results.r)\"}]," ECHO_TASK "}}]}}",
         "PipelineInvalidGraph", "task a depends on nope but nope wasn't present"},
        {"unknown result name",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}},{\"name\":\"b\","
         "\"params\":[{\"name\":\"p\",\"value\":\"$(tasks.a.results.r)\"}]," ECHO_TASK "}}]}}",
         "InvalidTaskResultReference",
         "invalid result reference in pipeline task \"b\": \"r\" is not a named result returned "
         "by pipeline task \"a\""},
        {"missing param",
         "{\"pipelineSpec\":{\"params\":[{\"name\":\"url\"}],\"tasks\":[{\"name\":\"a\"," ECHO_TASK
         "}}]}}",
         "ParameterMissing", "pipelineRun missing parameters: [url]"},
        {"param type mismatch",
         "{\"params\":[{\"name\":\"list\",\"value\":\"one\"}],\"pipelineSpec\":{\"params\":["
         "{\"name\":\"list\",\"type\":\"array\"}],\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}]}}",
         "ParameterTypeMismatch", "parameters have inconsistent types : [list]"},
        {"default of wrong type",
         "{\"pipelineSpec\":{\"params\":[{\"name\":\"l\",\"type\":\"array\",\"default\":\"x\"}],"
         "\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "\"array\" type does not match default value's type"},
        {"unbound workspace",
         "{\"pipelineSpec\":{\"workspaces\":[{\"name\":\"src\"}],\"tasks\":[{\"name\":"
         "\"a\"," ECHO_TASK "}}]}}",
         "InvalidWorkspaceBindings",
         "pipeline requires workspace with name \"src\" be provided by pipelinerun"},
        {"taskRunSpecs for unknown task",
         "{\"taskRunSpecs\":[{\"pipelineTaskName\":\"zz\"}],\"pipelineSpec\":{\"tasks\":["
         "{\"name\":\"a\"," ECHO_TASK "}}]}}",
         "InvalidTaskRunSpecs", "wrong taskName: \"zz\", does not exist in Pipeline"},
        {"task param wrongly typed",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"params\":[{\"name\":\"l\",\"value\":"
         "\"x\"}],\"taskSpec\":{\"params\":[{\"name\":\"l\",\"type\":\"array\"}]," STEP "}}]}}",
         "PipelineValidationFailed",
         "invalid input params for task a: param types don't match the user-specified type: [l]"},
        {"task param missing",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"taskSpec\":{\"params\":[{\"name\":"
         "\"need\"}]," STEP "}}]}}",
         "PipelineValidationFailed",
         "invalid input params for task a: missing values for these params which have no "
         "default values: [need]"},
        {"task name not a DNS label",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"Bad_Name\"," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "spec.tasks[0].name"},
        {"both taskRef and taskSpec",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"taskRef\":{\"name\":\"t\"}," ECHO_TASK
         "}}]}}",
         "PipelineValidationFailed", "expected exactly one, got both: spec.tasks[0].taskRef"},
        {"neither taskRef nor taskSpec", "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"}]}}",
         "PipelineValidationFailed", "expected exactly one, got neither: spec.tasks[0].taskRef"},
        {"bad when operator",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"when\":[{\"input\":\"x\","
         "\"operator\":\"is\",\"values\":[\"x\"]}]," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "operator \"is\" is not recognized"},
        {"when without values",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"when\":[{\"input\":\"x\","
         "\"operator\":\"in\",\"values\":[]}]," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "spec.tasks[0].when[0]"},
        {"finally with runAfter",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}],\"finally\":[{\"name\":"
         "\"f\",\"runAfter\":[\"a\"]," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "final task f has runAfter specified: spec.finally[0]"},
        {"execution status in a DAG task",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}},{\"name\":\"b\","
         "\"params\":[{\"name\":\"s\",\"value\":\"$(tasks.a.status)\"}]," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "can not refer to execution status"},
        {"pipeline result to unknown task",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}],\"results\":[{\"name\":"
         "\"r\",\"value\":\"$(tasks.zz.results.x)\"}]}}",
         "PipelineValidationFailed", "referencing a nonexistent task zz: spec.results[0].value"},
        {"finally only", "{\"pipelineSpec\":{\"finally\":[{\"name\":\"f\"," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "spec.tasks is empty but spec.finally has 1 tasks"},
        {"tasks not a list", "{\"pipelineSpec\":{\"tasks\":{\"name\":\"a\"}}}",
         "PipelineValidationFailed", "expected a list: spec.tasks"},
        {"task not an object", "{\"pipelineSpec\":{\"tasks\":[\"a\"]}}", "PipelineValidationFailed",
         "expected an object: spec.tasks[0]"},
        {"params not a list",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"params\":{\"x\":1}," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "expected a list: spec.tasks[0].params"},
        {"duplicate PT param",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"params\":[{\"name\":\"x\",\"value\":"
         "\"1\"},{\"name\":\"x\",\"value\":\"2\"}]," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "spec.tasks[0].params[1].name"},
        {"final refers to final result",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}],\"finally\":["
         "{\"name\":\"f\"," ECHO_TASK "}},{\"name\":\"g\",\"params\":[{\"name\":\"p\","
         "\"value\":\"$(tasks.f.results.r)\"}]," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "final task has task result reference from a final task f"},
        {"array index out of bounds",
         "{\"params\":[{\"name\":\"l\",\"value\":[\"a\"]}],\"pipelineSpec\":{\"params\":["
         "{\"name\":\"l\",\"type\":\"array\"}],\"tasks\":[{\"name\":\"a\",\"params\":["
         "{\"name\":\"p\",\"value\":\"$(params.l[3])\"}]," ECHO_TASK "}}]}}",
         "ParamArrayIndexingInvalid", "non-existent param references:[$(params.l[3])]"},
        {"object param missing keys",
         "{\"params\":[{\"name\":\"o\",\"value\":{\"a\":\"1\"}}],\"pipelineSpec\":{"
         "\"params\":[{\"name\":\"o\",\"properties\":{\"a\":{},\"b\":{}}}],\"tasks\":["
         "{\"name\":\"a\"," ECHO_TASK "}}]}}",
         "ObjectParameterMissKeys", "missing object keys for parameters: map[o:[b]]"},
        {"optional pipeline workspace bound to a required task workspace",
         "{\"pipelineSpec\":{\"workspaces\":[{\"name\":\"w\",\"optional\":true}],\"tasks\":["
         "{\"name\":\"a\",\"workspaces\":[{\"name\":\"w\"}],\"taskSpec\":{\"workspaces\":["
         "{\"name\":\"w\"}]," STEP "}}]}}",
         "RequiredWorkspaceMarkedOptional",
         "pipeline workspace \"w\" is marked optional but pipeline task \"a\" requires it be "
         "provided"},
        {"matrix over the combination limit",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"m\",\"matrix\":{\"params\":["
         "{\"name\":\"a\",\"value\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
         "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]},"
         "{\"name\":\"b\",\"value\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
         "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\"]}]}," ECHO_TASK "}}]}}",
         "PipelineValidationFailed", "expected 0 <= 272 <= 256: spec.tasks[0].matrix"},
        {"no pipeline at all", "{}", "CouldntGetPipeline", "pipelinerun ns/pr"},
        {"custom task",
         "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"taskRef\":{\"name\":"
         "\"w\",\"apiVersion\":\"example.dev/v1\",\"kind\":\"Wait\"}}]}}",
         "PipelineValidationFailed", "custom tasks are not supported: spec.tasks[0]"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct world w;
        struct pipelinerun_plan plan;
        const char *reason, *message;

        world_inline(&w, cases[i].spec);
        assert_int_equal(world_plan(&w, &plan), 0);
        reason = cond_field(plan.status, "reason");
        message = cond_field(plan.status, "message");
        if (!plan.done || !reason || strcmp(reason, cases[i].reason) != 0 || !message ||
            !strstr(message, cases[i].message))
            fail_msg("case '%s': got %s: %s; want %s: ...%s...", cases[i].name,
                     reason ? reason : "(none)", message ? message : "(none)", cases[i].reason,
                     cases[i].message);
        if (json_array_size(plan.create_taskruns) != 0)
            fail_msg("case '%s': created children for an invalid run", cases[i].name);
        assert_string_equal(cond_field(plan.status, "status"), "False");
        pipelinerun_plan_done(&plan);
        world_done(&w);
    }
}

static void test_plan_rejects_non_object_run(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *bad = json_pack("[]");
    struct pipelinerun_plan_input in = {.pipelinerun = bad, .cfg = cfg};
    struct pipelinerun_plan plan;

    assert_int_equal(pipelinerun_plan(&in, &plan), -EINVAL);
    json_decref(bad);
    tekton_config_free(cfg);
}

/* ---- features of the created TaskRuns ---- */

static const json_t *spec_field(const json_t *tr, const char *key)
{
    return json_object_get(json_object_get(tr, "spec"), key);
}

static void test_plan_matrix_fans_out_and_aggregates_results(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *tr;

    world_inline(&w,
                 "{\"pipelineSpec\":{\"tasks\":["
                 "{\"name\":\"m\",\"matrix\":{\"params\":[{\"name\":\"os\",\"value\":[\"linux\","
                 "\"mac\"]},{\"name\":\"arch\",\"value\":[\"amd\",\"arm\"]}]},"
                 "\"taskSpec\":{\"params\":[{\"name\":\"os\"},{\"name\":\"arch\"}],"
                 "\"results\":[{\"name\":\"out\"}]," STEP "}},"
                 "{\"name\":\"use\",\"params\":[{\"name\":\"all\",\"value\":"
                 "\"$(tasks.m.results.out[*])\"},{\"name\":\"n\",\"value\":"
                 "\"$(tasks.m.matrix.length)\"}],\"taskSpec\":{\"params\":[{\"name\":\"all\","
                 "\"type\":\"array\"},{\"name\":\"n\"}]," STEP "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 4);
    tr = created(&plan, "pr-m-1");
    assert_non_null(tr);
    assert_string_equal(param_value(tr, "os"), "mac");
    assert_string_equal(param_value(tr, "arch"), "amd");
    tr = created(&plan, "pr-m-2");
    assert_string_equal(param_value(tr, "os"), "linux");
    assert_string_equal(param_value(tr, "arch"), "arm");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(spec_field(tr, "params"), 0), "name")),
        "arch");
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    for (int i = 0; i < 4; i++) {
        char *n = xasprintf("pr-m-%d", i);
        json_t *c = child(&w, n);
        char *v = xasprintf("r%d", i);

        json_object_set_new(c, "status",
                            json_pack("{s:[{s:s, s:s}], s:[{s:s, s:s}]}", "conditions", "type",
                                      "Succeeded", "status", "True", "results", "name", "out",
                                      "value", v));
        free(v);
        free(n);
    }
    assert_int_equal(world_plan(&w, &plan), 0);
    tr = created(&plan, "pr-use");
    assert_non_null(tr);
    const json_t *all = json_object_get(json_array_get(spec_field(tr, "params"), 0), "value");

    assert_int_equal(json_array_size(all), 4);
    assert_string_equal(json_string_value(json_array_get(all, 3)), "r3");
    assert_string_equal(param_value(tr, "n"), "4");
    assert_int_equal(json_array_size(json_object_get(plan.status, "childReferences")), 5);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_matrix_include_adds_params_and_combinations(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"m\",\"matrix\":{\"params\":["
                     "{\"name\":\"os\",\"value\":[\"linux\",\"mac\"]}],\"include\":["
                     "{\"name\":\"x\",\"params\":[{\"name\":\"os\",\"value\":\"mac\"},"
                     "{\"name\":\"extra\",\"value\":\"1\"}]},"
                     "{\"name\":\"y\",\"params\":[{\"name\":\"os\",\"value\":\"bsd\"}]}]},"
                     "\"displayName\":\"on $(params.os)\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 3);
    assert_null(param_value(created(&plan, "pr-m-0"), "extra"));
    {
        const json_t *refs = json_object_get(plan.status, "childReferences");

        assert_string_equal(
            json_string_value(json_object_get(json_array_get(refs, 0), "displayName")), "on linux");
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(refs, 1), "displayName")), "x");
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(refs, 2), "displayName")), "y");
    }
    assert_string_equal(param_value(created(&plan, "pr-m-1"), "extra"), "1");
    assert_string_equal(param_value(created(&plan, "pr-m-2"), "os"), "bsd");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_volume_claim_template_becomes_one_pvc(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *ws;

    world_inline(&w, "{\"workspaces\":[{\"name\":\"src\",\"subPath\":\"base\","
                     "\"volumeClaimTemplate\":{\"spec\":{\"accessModes\":[\"ReadWriteOnce\"]}}}],"
                     "\"pipelineSpec\":{\"workspaces\":[{\"name\":\"src\"}],\"tasks\":["
                     "{\"name\":\"a\",\"workspaces\":[{\"name\":\"out\",\"workspace\":\"src\","
                     "\"subPath\":\"$(context.pipelineRun.name)/../x/./y\"}],\"taskSpec\":{"
                     "\"workspaces\":[{\"name\":\"out\"}]," STEP "}},"
                     "{\"name\":\"b\",\"workspaces\":[{\"name\":\"src\"}],\"taskSpec\":{"
                     "\"workspaces\":[{\"name\":\"src\"}]," STEP "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_pvcs), 1);
    const char *pvc = json_string_value(
        json_object_get(json_object_get(json_array_get(plan.create_pvcs, 0), "metadata"), "name"));

    assert_non_null(pvc);
    assert_int_equal(strncmp(pvc, "pvc-", 4), 0);
    assert_int_equal(strlen(pvc), 14);
    ws = json_array_get(spec_field(created(&plan, "pr-a"), "workspaces"), 0);
    assert_string_equal(json_string_value(json_object_get(ws, "name")), "out");
    assert_string_equal(json_string_value(json_object_get(ws, "subPath")), "base/x/y");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(ws, "persistentVolumeClaim"), "claimName")),
                        pvc);
    ws = json_array_get(spec_field(created(&plan, "pr-b"), "workspaces"), 0);
    assert_string_equal(json_string_value(json_object_get(ws, "subPath")), "base");
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_pvcs), 0);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_task_run_specs_and_template_shape_children(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *tr;
    const json_t *pod;

    world_inline(&w,
                 "{\"taskRunTemplate\":{\"serviceAccountName\":\"builder\",\"podTemplate\":"
                 "{\"nodeSelector\":{\"a\":\"1\"},\"env\":[{\"name\":\"X\",\"value\":\"low\"},"
                 "{\"name\":\"Y\",\"value\":\"low\"}]}},"
                 "\"timeouts\":{\"pipeline\":\"3h\",\"tasks\":\"2h\"},"
                 "\"taskRunSpecs\":[{\"pipelineTaskName\":\"a\",\"serviceAccountName\":\"special\","
                 "\"podTemplate\":{\"env\":[{\"name\":\"X\",\"value\":\"high\"}]},"
                 "\"metadata\":{\"labels\":{\"tekton.dev/pipelineTask\":\"override\"}}}],"
                 "\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"retries\":2,\"onError\":"
                 "\"stopAndFail\"," ECHO_TASK "}},{\"name\":\"b\",\"timeout\":\"5m\"," ECHO_TASK
                 "}}],\"finally\":[{\"name\":\"f\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    tr = created(&plan, "pr-a");
    assert_string_equal(json_string_value(spec_field(tr, "serviceAccountName")), "special");
    assert_int_equal(json_integer_value(spec_field(tr, "retries")), 2);
    assert_string_equal(json_string_value(spec_field(tr, "timeout")), "2h0m0s");
    pod = spec_field(tr, "podTemplate");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(pod, "nodeSelector"), "a")), "1");
    assert_int_equal(json_array_size(json_object_get(pod, "env")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(pod, "env"), 0), "value")),
        "high");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(tr, "metadata"), "labels"), "tekton.dev/pipelineTask")),
        "override");
    tr = created(&plan, "pr-b");
    assert_string_equal(json_string_value(spec_field(tr, "serviceAccountName")), "builder");
    assert_string_equal(json_string_value(spec_field(tr, "timeout")), "5m");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_only_pipeline_timeout_leaves_child_timeout_unset(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"timeouts\":{\"pipeline\":\"2h\"},\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"a\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_null(spec_field(created(&plan, "pr-a"), "timeout"));
    assert_string_equal(json_string_value(spec_field(created(&plan, "pr-a"), "serviceAccountName")),
                        "default");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_ignored_failure_still_succeeds(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w,
                 "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"onError\":\"continue\"," ECHO_TASK
                 "}},{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(created(&plan, "pr-a"), "metadata"), "annotations"),
            "pipeline.tekton.dev/pipeline-task-on-error")),
        "continue");
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-a"), "False", "FailureIgnored");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_non_null(created(&plan, "pr-b"));
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 1, Skipped: 0");
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-b"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_string_equal(cond_field(plan.status, "reason"), "Succeeded");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 2 (Failed: 1 (Ignored: 1), Cancelled 0), Skipped: 0");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_graceful_cancel_cancels_skips_and_runs_finally(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}},"
                     "{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}],"
                     "\"finally\":[{\"name\":\"f\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    json_object_set_new(json_object_get(w.pr, "spec"), "status",
                        json_string("CancelledRunFinally"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.cancel_taskruns), 1);
    assert_string_equal(cond_field(plan.status, "reason"), "CancelledRunningFinally");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(plan.status, "skippedTasks"), 0), "reason")),
        "PipelineRun was gracefully cancelled");
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-a"), "False", "TaskRunCancelled");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_non_null(created(&plan, "pr-f"));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-f"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "Cancelled");
    assert_string_equal(cond_field(plan.status, "message"), "PipelineRun \"pr\" was cancelled");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_graceful_stop_cancels_nothing(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}},"
                     "{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    json_object_set_new(json_object_get(w.pr, "spec"), "status", json_string("StoppedRunFinally"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.cancel_taskruns), 0);
    assert_string_equal(cond_field(plan.status, "reason"), "StoppedRunningFinally");
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-a"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 0);
    assert_string_equal(cond_field(plan.status, "reason"), "Cancelled");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_tasks_timeout_runs_finally_then_times_out(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    json_t *a;

    world_inline(&w, "{\"timeouts\":{\"pipeline\":\"1h\",\"tasks\":\"10m\"},\"pipelineSpec\":{"
                     "\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}],"
                     "\"finally\":[{\"name\":\"f\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(plan.requeue_after_ns, 600 * INT64_C(1000000000));
    /* 10m is not above default-timeout-minutes: the child keeps the webhook default (§16.3) */
    assert_null(spec_field(created(&plan, "pr-a"), "timeout"));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    w.now += 601;
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.cancel_taskruns), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(plan.cancel_taskruns, 0),
                                                          "statusMessage")),
                        PIPELINERUN_TIMEOUT_MESSAGE);
    assert_string_equal(cond_field(plan.status, "reason"), "PipelineRunTimeoutRunningFinally");
    pipelinerun_plan_done(&plan);
    a = child(&w, "pr-a");
    json_object_set_new(json_object_get(a, "spec"), "statusMessage",
                        json_string(PIPELINERUN_TIMEOUT_MESSAGE));
    finish(&w, a, "False", "TaskRunCancelled");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_non_null(created(&plan, "pr-f"));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-f"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "PipelineRunTimeout");
    assert_string_equal(cond_field(plan.status, "message"),
                        "PipelineRun \"pr\" failed due to tasks failed to finish within \"10m0s\"");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_v1beta1_run_fields_reach_children(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"serviceAccountName\":\"old-sa\",\"timeout\":\"30m\",\"pipelineSpec\":{"
                     "\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}]}}");
    json_object_set_new(w.pr, "apiVersion", json_string("tekton.dev/v1beta1"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_string_equal(json_string_value(spec_field(created(&plan, "pr-a"), "serviceAccountName")),
                        "old-sa");
    assert_int_equal(plan.requeue_after_ns, 1800 * INT64_C(1000000000));
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_stored_spec_wins_and_deleted_child_is_recreated(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_load(&w, "pipelinerun-results.json");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_non_null(json_object_get(plan.status, "pipelineSpec"));
    pipelinerun_plan_done(&plan);
    json_decref(w.pipeline);
    w.pipeline = NULL;
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_false(plan.need_pipeline);
    /* the first child was never adopted into the cache: it is planned again, same name */
    assert_non_null(created(&plan, "sum-three-pipeline-run-first-add"));
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_params_defaults_chain_and_propagate(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *tr;
    char *script;

    world_inline(&w, "{\"params\":[{\"name\":\"who\",\"value\":\"run\"},{\"name\":\"l\","
                     "\"value\":[\"x\",\"y\"]},{\"name\":\"extra\",\"value\":\"E\"}],"
                     "\"pipelineSpec\":{\"params\":[{\"name\":\"who\"},{\"name\":\"greet\","
                     "\"default\":\"hi $(params.who)\"},{\"name\":\"l\",\"type\":\"array\"}],"
                     "\"tasks\":[{\"name\":\"a\",\"params\":[{\"name\":\"g\",\"value\":"
                     "\"$(params.greet) $(params.l[1]) $(context.pipelineRun.name)\"},"
                     "{\"name\":\"all\",\"value\":\"$(params.l[*])\"}],\"taskSpec\":{"
                     "\"params\":[{\"name\":\"g\"},{\"name\":\"all\",\"type\":\"array\"}],"
                     "\"steps\":[{\"image\":\"alpine\",\"script\":\"echo $(params.extra) "
                     "$(params.g)\"}]}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    tr = created(&plan, "pr-a");
    assert_string_equal(param_value(tr, "g"), "hi run y pr");
    assert_int_equal(
        json_array_size(json_object_get(json_array_get(spec_field(tr, "params"), 1), "value")), 2);
    script = json_dumps(spec_field(tr, "taskSpec"), JSON_COMPACT);
    assert_non_null(strstr(script, "echo E hi run y pr"));
    free(script);
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_failed_validation_still_runs_finally(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"a\",\"taskSpec\":{\"results\":[{\"name\":\"r\"}]," STEP "}},"
                     "{\"name\":\"b\",\"params\":[{\"name\":\"p\",\"value\":"
                     "\"$(tasks.a.results.r)\"}]," ECHO_TASK "}}],"
                     "\"finally\":[{\"name\":\"f\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    json_object_set_new(child(&w, "pr-a"), "status",
                        json_pack("{s:[{s:s, s:s, s:s}]}", "conditions", "type", "Succeeded",
                                  "status", "True", "reason", "Succeeded"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_false(plan.done);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    assert_non_null(created(&plan, "pr-f"));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-f"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "PipelineValidationFailed");
    assert_non_null(strstr(cond_field(plan.status, "message"),
                           "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0, Failed "
                           "Validation: 1 (task \"a\""));
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

/* Replace the node at every position below 'node' with each hostile value and plan. */
static size_t mutate_walk(struct world *w, json_t *node, int depth)
{
    static const char *const hostile[] = {"7", "\"x\"", "[]", "{}", "null", "[7,{}]", "\"$(\""};
    size_t runs = 0;
    const char *k;
    json_t *v;
    size_t i;

    if (depth > 8)
        return 0;
    if (json_is_object(node)) {
        void *tmp;

        json_object_foreach_safe(node, tmp, k, v)
        {
            json_t *saved = json_incref(v);
            char *key = xstrdup(k);

            for (size_t h = 0; h < sizeof(hostile) / sizeof(hostile[0]); h++) {
                struct pipelinerun_plan plan;
                json_t *save_status = json_incref(json_object_get(w->pr, "status"));

                json_object_set_new(node, key, json_loads(hostile[h], JSON_DECODE_ANY, NULL));
                if (world_plan(w, &plan) == 0)
                    pipelinerun_plan_done(&plan);
                if (save_status)
                    json_object_set_new(w->pr, "status", save_status);
                else
                    json_object_del(w->pr, "status");
                runs++;
            }
            json_object_set_new(node, key, saved);
            runs += mutate_walk(w, saved, depth + 1);
            free(key);
        }
    } else if (json_is_array(node)) {
        json_array_foreach(node, i, v) {
            runs += mutate_walk(w, v, depth + 1);
        }
    }
    return runs;
}

static void test_plan_survives_hostile_shapes_everywhere(void **state)
{
    static const char *const files[] = {
        "pipelinerun-results.json",
        "pipelinerun-with-matrix-include.json",
        "workspace-from-volumeclaimtemplate.json",
        "pipelinerun-task-execution-status.json",
    };

    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        struct world w;
        struct pipelinerun_plan plan;
        json_t *spec;
        size_t runs;

        world_load(&w, files[f]);
        /* one real pass first, so the run has a status and children to mangle too */
        assert_int_equal(world_plan(&w, &plan), 0);
        adopt(&w, &plan);
        pipelinerun_plan_done(&plan);
        spec = json_object_get(w.pr, "spec");
        runs = mutate_walk(&w, spec, 0);
        runs += mutate_walk(&w, json_object_get(w.pr, "status"), 0);
        if (w.pipeline)
            runs += mutate_walk(&w, w.pipeline, 0);
        runs += mutate_walk(&w, w.taskruns, 0);
        runs += mutate_walk(&w, w.tasks, 0);
        assert_true(runs > 50);
        world_done(&w);
    }
}

static void test_plan_adopts_children_missing_from_child_references(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    /* a child named by an older rule, and a status write that was lost */
    json_object_set_new(json_object_get(child(&w, "pr-a"), "metadata"), "name",
                        json_string("pr-a-legacy"));
    json_object_del(json_object_get(w.pr, "status"), "childReferences");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(plan.status, "childReferences"), 0), "name")),
        "pr-a-legacy");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_cancelled_child_cancels_the_run(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}},"
                     "{\"name\":\"b\",\"runAfter\":[\"a\"]," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-a"), "False", "TaskRunCancelled");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "status"), "False");
    assert_string_equal(cond_field(plan.status, "reason"), "Cancelled");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 1 (Failed: 0, Cancelled 1), Skipped: 1");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_finally_timeout_skips_unstarted_finals_and_fails(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"timeouts\":{\"pipeline\":\"1h\",\"tasks\":\"50m\",\"finally\":\"10m\"},"
                     "\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}],"
                     "\"finally\":[{\"name\":\"f\"," ECHO_TASK "}},{\"name\":\"g\",\"when\":[{"
                     "\"input\":\"$(tasks.a.status)\",\"operator\":\"in\",\"values\":"
                     "[\"Succeeded\"]}]," ECHO_TASK "}}]}}");
    assert_int_equal(run_to_completion(&w, &plan), 3);
    assert_string_equal(cond_field(plan.status, "reason"), "Succeeded");
    pipelinerun_plan_done(&plan);
    world_done(&w);

    world_inline(&w, "{\"timeouts\":{\"pipeline\":\"1h\",\"tasks\":\"50m\",\"finally\":\"10m\"},"
                     "\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\"," ECHO_TASK "}}],"
                     "\"finally\":[{\"name\":\"f\"," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-a"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_non_null(created(&plan, "pr-f"));
    assert_int_equal(plan.requeue_after_ns, 600 * INT64_C(1000000000));
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    w.now += 601;
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.cancel_taskruns), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(plan.cancel_taskruns, 0), "name")),
        "pr-f");
    pipelinerun_plan_done(&plan);
    json_t *f = child(&w, "pr-f");

    json_object_set_new(json_object_get(f, "spec"), "statusMessage",
                        json_string(PIPELINERUN_TIMEOUT_MESSAGE));
    finish(&w, f, "False", "TaskRunCancelled");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "Failed");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 0");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_pipeline_results_are_typed_and_missing_ones_fail(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    const json_t *v;

    world_inline(&w,
                 "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"taskSpec\":{\"results\":["
                 "{\"name\":\"arr\",\"type\":\"array\"},{\"name\":\"obj\",\"type\":\"object\","
                 "\"properties\":{\"k\":{}}},{\"name\":\"s\"}]," STEP "}}],"
                 "\"results\":[{\"name\":\"whole\",\"value\":\"$(tasks.a.results.arr[*])\"},"
                 "{\"name\":\"one\",\"value\":\"$(tasks.a.results.arr[1])\"},"
                 "{\"name\":\"o\",\"value\":\"$(tasks.a.results.obj[*])\"},"
                 "{\"name\":\"key\",\"value\":\"$(tasks.a.results.obj.k)-$(tasks.a.results.s)\"},"
                 "{\"name\":\"list\",\"value\":[\"$(tasks.a.results.s)\",\"lit\"]}]}}");
    run_to_completion(&w, &plan);
    assert_string_equal(cond_field(plan.status, "reason"), "Succeeded");
    v = result_named(plan.status, "whole");
    assert_int_equal(json_array_size(v), 3);
    assert_string_equal(json_string_value(result_named(plan.status, "one")), "y");
    assert_string_equal(json_string_value(json_object_get(result_named(plan.status, "o"), "k")),
                        "v");
    assert_string_equal(json_string_value(result_named(plan.status, "key")), "v-1");
    assert_string_equal(json_string_value(json_array_get(result_named(plan.status, "list"), 1)),
                        "lit");
    pipelinerun_plan_done(&plan);
    world_done(&w);

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"a\",\"taskSpec\":{\"results\":["
                     "{\"name\":\"r\"}]," STEP "}}],\"results\":[{\"name\":\"gone\",\"value\":"
                     "\"$(tasks.a.results.r)\"}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    json_object_set_new(child(&w, "pr-a"), "status",
                        json_pack("{s:[{s:s, s:s, s:s}]}", "conditions", "type", "Succeeded",
                                  "status", "True", "reason", "Succeeded"));
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_string_equal(cond_field(plan.status, "reason"), "CouldntGetPipelineResult");
    assert_string_equal(cond_field(plan.status, "message"),
                        "Failed to get PipelineResult from TaskRun Results for PipelineRun pr: "
                        "invalid pipelineresults [gone], the referenced results don't exist");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_hundred_ready_tasks_start_in_one_pass(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;
    char *text;
    json_t *tasks = json_array();
    json_t *join = json_pack("{s:s, s:[], s:{s:[{s:s, s:s}]}}", "name", "join", "runAfter",
                             "taskSpec", "steps", "image", "alpine", "script", "true");

    json_array_append_new(tasks, json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "name", "root", "taskSpec",
                                           "steps", "image", "alpine", "script", "true"));
    for (int i = 0; i < 100; i++) {
        char *n = xasprintf("t%d", i);

        json_array_append_new(tasks, json_pack("{s:s, s:[s], s:{s:[{s:s, s:s}]}}", "name", n,
                                               "runAfter", "root", "taskSpec", "steps", "image",
                                               "alpine", "script", "true"));
        json_array_append_new(json_object_get(join, "runAfter"), json_string(n));
        free(n);
    }
    json_array_append_new(tasks, join);
    json_t *ps = json_pack("{s:{s:o}}", "pipelineSpec", "tasks", tasks);

    text = json_dumps(ps, JSON_COMPACT);
    world_inline(&w, text);
    free(text);
    json_decref(ps);
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-root"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 100);
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 101, Skipped: 0");
    pipelinerun_plan_done(&plan);
    /* the hundred children are created again (never adopted above), then the join */
    assert_int_equal(run_to_completion(&w, &plan), 3);
    assert_string_equal(cond_field(plan.status, "message"),
                        "Tasks Completed: 102 (Failed: 0, Cancelled 0), Skipped: 0");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_matrix_from_results_of_a_later_listed_task(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":["
                     "{\"name\":\"fan\",\"matrix\":{\"params\":[{\"name\":\"x\",\"value\":"
                     "\"$(tasks.gen.results.list[*])\"}]},\"taskSpec\":{\"params\":[{\"name\":"
                     "\"x\"}]," STEP "}},"
                     "{\"name\":\"gen\",\"taskSpec\":{\"results\":[{\"name\":\"list\",\"type\":"
                     "\"array\"}]," STEP "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 1);
    adopt(&w, &plan);
    pipelinerun_plan_done(&plan);
    finish(&w, child(&w, "pr-gen"), "True", "Succeeded");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_int_equal(json_array_size(plan.create_taskruns), 3);
    assert_string_equal(param_value(created(&plan, "pr-fan-2"), "x"), "z");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

static void test_plan_matrix_param_not_an_array_fails_with_tekton_message(void **state)
{
    struct world w;
    struct pipelinerun_plan plan;

    world_inline(&w, "{\"pipelineSpec\":{\"tasks\":[{\"name\":\"m\",\"matrix\":{\"params\":["
                     "{\"name\":\"x\",\"value\":\"abc\"}]}," ECHO_TASK "}}]}}");
    assert_int_equal(world_plan(&w, &plan), 0);
    assert_true(plan.done);
    assert_int_equal(json_array_size(plan.create_taskruns), 0);
    assert_string_equal(cond_field(plan.status, "reason"), "InvalidMatrixParameterTypes");
    assert_string_equal(cond_field(plan.status, "message"),
                        "[User error] Failed to validate matrix \"parameters of type array only "
                        "are allowed, but param \\\"x\\\" has type \\\"string\\\" in pipelineTask "
                        "\\\"m\\\"\" with error %!v(MISSING)");
    pipelinerun_plan_done(&plan);
    world_done(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_results_example_runs_in_dependency_order),
        cmocka_unit_test(test_plan_upstream_examples_finish),
        cmocka_unit_test(test_plan_child_name_table),
        cmocka_unit_test(test_plan_failed_task_stops_dag_and_runs_finally_with_status_vars),
        cmocka_unit_test(test_plan_when_false_skips_only_its_task),
        cmocka_unit_test(test_plan_missing_result_of_successful_task_fails_validation),
        cmocka_unit_test(test_plan_hard_cancel_patches_running_children),
        cmocka_unit_test(test_plan_pipeline_timeout_cancels_and_fails),
        cmocka_unit_test(test_plan_pending_does_not_start),
        cmocka_unit_test(test_plan_lists_missing_tasks_then_fails_on_get_error),
        cmocka_unit_test(test_plan_needs_pipeline_before_anything),
        cmocka_unit_test(test_plan_bad_input_table),
        cmocka_unit_test(test_plan_matrix_fans_out_and_aggregates_results),
        cmocka_unit_test(test_plan_matrix_include_adds_params_and_combinations),
        cmocka_unit_test(test_plan_volume_claim_template_becomes_one_pvc),
        cmocka_unit_test(test_plan_task_run_specs_and_template_shape_children),
        cmocka_unit_test(test_plan_only_pipeline_timeout_leaves_child_timeout_unset),
        cmocka_unit_test(test_plan_ignored_failure_still_succeeds),
        cmocka_unit_test(test_plan_graceful_cancel_cancels_skips_and_runs_finally),
        cmocka_unit_test(test_plan_graceful_stop_cancels_nothing),
        cmocka_unit_test(test_plan_tasks_timeout_runs_finally_then_times_out),
        cmocka_unit_test(test_plan_v1beta1_run_fields_reach_children),
        cmocka_unit_test(test_plan_stored_spec_wins_and_deleted_child_is_recreated),
        cmocka_unit_test(test_plan_params_defaults_chain_and_propagate),
        cmocka_unit_test(test_plan_failed_validation_still_runs_finally),
        cmocka_unit_test(test_plan_survives_hostile_shapes_everywhere),
        cmocka_unit_test(test_plan_adopts_children_missing_from_child_references),
        cmocka_unit_test(test_plan_cancelled_child_cancels_the_run),
        cmocka_unit_test(test_plan_finally_timeout_skips_unstarted_finals_and_fails),
        cmocka_unit_test(test_plan_pipeline_results_are_typed_and_missing_ones_fail),
        cmocka_unit_test(test_plan_hundred_ready_tasks_start_in_one_pass),
        cmocka_unit_test(test_plan_matrix_from_results_of_a_later_listed_task),
        cmocka_unit_test(test_plan_matrix_param_not_an_array_fails_with_tekton_message),
        cmocka_unit_test(test_plan_rejects_non_object_run),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
