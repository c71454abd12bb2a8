/*
 * Unit tests for controller/taskrun_resolve: every upstream TaskRun example resolves (fixtures
 * converted from tektoncd/pipeline v1.15.0 examples/v1/taskruns, each citing its source), the
 * substituted results are right, and a corpus of invalid and hostile TaskRuns fails with the
 * right reason and a message naming the field.
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/taskrun_resolve.h"
#include "controller/tekton_config.h"
#include "lib/xalloc.h"

#define FIXTURES "tests/unit/fixtures/resolve/"

/* ---- helpers ---- */

static json_t *load_fixture(const char *name)
{
    char *path = xasprintf(FIXTURES "%s", name);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);

    if (!doc)
        fail_msg("cannot load fixture '%s': %s", path, jerr.text);
    free(path);
    return doc;
}

/* The first object of 'kind' in a fixture (and with 'name', if given); borrowed. */
static json_t *find_object(const json_t *doc, const char *kind, const char *name)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(doc, "objects"), i, o) {
        const char *k = json_string_value(json_object_get(o, "kind"));
        const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));

        if (k && strcmp(k, kind) == 0 && (!name || (n && strcmp(n, name) == 0)))
            return o;
    }
    return NULL;
}

static const json_t *task_for(const json_t *doc, const json_t *tr)
{
    const char *ref = json_string_value(
        json_object_get(json_object_get(json_object_get(tr, "spec"), "taskRef"), "name"));

    return ref ? find_object(doc, "Task", ref) : NULL;
}

/* The StepActions the TaskRun needs, looked up in the fixture as the reconciler would. */
static json_t *stepactions_for(const json_t *doc, const json_t *tr)
{
    json_t *names = taskrun_resolve_stepaction_names(tr, task_for(doc, tr));
    json_t *map = json_object();
    const json_t *name;
    size_t i;

    json_array_foreach(names, i, name) {
        json_t *sa = find_object(doc, "StepAction", json_string_value(name));

        if (sa)
            json_object_set(map, json_string_value(name), sa);
    }
    json_decref(names);
    return map;
}

static int resolve_doc(const json_t *doc, const json_t *tr, const struct tekton_config *cfg,
                       struct taskrun_resolved **res, struct taskrun_resolve_error *err)
{
    json_t *sas = stepactions_for(doc, tr);
    struct taskrun_resolve_input in = {
        .taskrun = tr, .task = task_for(doc, tr), .stepactions = sas, .cfg = cfg};
    int r = taskrun_resolve(&in, res, err);

    json_decref(sas);
    return r;
}

/* A string at a slash-separated path ("steps/0/args/1"); borrowed, NULL if absent. */
static const json_t *at(const json_t *v, const char *path)
{
    char *copy = xstrdup(path);
    char *save = NULL;

    for (char *seg = strtok_r(copy, "/", &save); seg && v; seg = strtok_r(NULL, "/", &save)) {
        if (json_is_array(v))
            v = json_array_get(v, strtoul(seg, NULL, 10));
        else
            v = json_object_get(v, seg);
    }
    free(copy);
    return v;
}

static const char *str_at(const json_t *v, const char *path)
{
    const char *s = json_string_value(at(v, path));

    return s ? s : "(absent)";
}

/* ---- upstream examples ---- */

static void test_taskrun_resolve_every_upstream_example(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    glob_t g;
    size_t resolved = 0;

    assert_int_equal(glob(FIXTURES "*.json", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 30);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *file = strrchr(g.gl_pathv[i], '/') + 1;
        json_t *doc = load_fixture(file);
        json_t *o;
        size_t j;

        json_array_foreach(json_object_get(doc, "objects"), j, o) {
            struct taskrun_resolved *res = NULL;
            struct taskrun_resolve_error err = {0};
            int r;

            if (strcmp(json_string_value(json_object_get(o, "kind")), "TaskRun") != 0)
                continue;
            r = resolve_doc(doc, o, cfg, &res, &err);
            if (r != 0) {
                fail_msg("%s: %s: %s", file, err.reason, err.message);
            } else {
                resolved++;
                assert_non_null(res->spec);
                assert_non_null(res->status_spec);
            }
            taskrun_resolve_error_done(&err);
            taskrun_resolved_free(res);
        }
        json_decref(doc);
    }
    assert_true(resolved >= 33);
    globfree(&g);
    tekton_config_free(cfg);
}

struct expect {
    const char *path; /* into res->spec unless it starts with '@' (then workspaces) */
    const char *want;
};

static void check_example(const char *file, const struct expect *ex, size_t n)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *doc = load_fixture(file);
    json_t *tr = find_object(doc, "TaskRun", NULL);
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    if (resolve_doc(doc, tr, cfg, &res, &err) != 0)
        fail_msg("%s: %s: %s", file, err.reason, err.message);
    for (size_t i = 0; i < n; i++) {
        const char *got = ex[i].path[0] == '@' ? str_at(res->workspaces, ex[i].path + 1)
                                               : str_at(res->spec, ex[i].path);

        if (strcmp(got, ex[i].want) != 0)
            fail_msg("%s: %s: got '%s', want '%s'", file, ex[i].path, got, ex[i].want);
    }
    taskrun_resolved_free(res);
    json_decref(doc);
    tekton_config_free(cfg);
}

#define CHECK_EXAMPLE(file, ...)                                                                   \
    do {                                                                                           \
        static const struct expect ex_[] = {__VA_ARGS__};                                          \
        check_example(file, ex_, sizeof(ex_) / sizeof(ex_[0]));                                    \
    } while (0)

static void test_taskrun_resolve_array_default_expands_in_args(void **state)
{
    CHECK_EXAMPLE("array-default.json", {"steps/0/args/0", "echo"}, {"steps/0/args/1", "foo"},
                  {"steps/0/args/2", "bar"}, {"steps/0/args/3", "foo-default"},
                  {"steps/0/args/4", "bar-default"}, {"steps/0/args/5", "baz"},
                  {"params/0/type", "array"}, {"params/2/type", "string"});
}

static void test_taskrun_resolve_object_params_merge_default_and_run_keys(void **state)
{
    CHECK_EXAMPLE("object-param-result.json", {"steps/0/args/0", "github.example.com"},
                  {"steps/0/args/1", "sha123"},
                  {"steps/1/script", "#!/usr/bin/env bash\necho -n "
                                     "\"{\\\"IMAGE_URL\\\":\\\"ar.com\\\", "
                                     "\\\"IMAGE_DIGEST\\\":\\\"sha234\\\"}\" > "
                                     "/tekton/results/object-results\n"},
                  {"results/0/type", "object"});
}

static void test_taskrun_resolve_context_variables(void **state)
{
    CHECK_EXAMPLE(
        "using_context_variables.json",
        {"steps/0/script", "echo \"TaskRunUID name: 11111111-2222-3333-4444-555555555555\"\n"},
        {"steps/1/script",
         "echo \"Task name: test-taskrun-abcde\"\necho \"TaskRun name: test-taskrun-abcde\"\n"});
}

static void test_taskrun_resolve_optional_workspaces_bound_and_unbound(void **state)
{
    CHECK_EXAMPLE(
        "optional-workspaces.json",
        {"steps/0/script",
         "if [ \"true\" == \"true\" ]; then\n  printf \"Source code workspace was provided at "
         "%s!\\n\" \"/workspace/source-code\"\nfi\nif [ \"false\" == \"true\" ]; then\n  printf "
         "\"Unexpected extra configuration mounted at %s\\n\" \"\"\n  exit 1\nfi\n"},
        {"@0/volume", "ws-9e635"});
}

static void test_taskrun_resolve_workspace_volume_in_sidecar_mounts(void **state)
{
    CHECK_EXAMPLE("workspace-in-sidecar.json", {"sidecars/0/volumeMounts/0/name", "ws-c3c68"},
                  {"sidecars/0/volumeMounts/0/mountPath", "/workspace/signals"},
                  {"@0/volume", "ws-c3c68"});
}

static void test_taskrun_resolve_array_indexing(void **state)
{
    CHECK_EXAMPLE("beta-param_array_indexing.json", {"steps/0/args/1", "foo"},
                  {"steps/1/script",
                   "#!/bin/bash\nVALUE=bar\nEXPECTED=\"bar\"\ndiff=$(diff <(printf \"%s\\n\" "
                   "\"${VALUE[@]}\") <(printf \"%s\\n\" \"${EXPECTED[@]}\"))\nif [[ -z \"$diff\" "
                   "]]; then\n    echo \"Get expected: ${VALUE}\"\n    exit 0\nelse\n    echo "
                   "\"Want: ${EXPECTED} Got: ${VALUE}\"\n    exit 1\nfi\n"});
}

static void test_taskrun_resolve_propagated_params_and_workspaces(void **state)
{
    CHECK_EXAMPLE("propagating_params_implicit.json", {"steps/0/script", "echo hello world!\n"});
    CHECK_EXAMPLE("propagating_workspaces.json", {"workspaces/0/name", "tr-workspace"},
                  {"steps/0/args/0", "/workspace/tr-workspace"});
}

static void test_taskrun_resolve_stepaction_param_precedence(void **state)
{
    /* TaskRun value > Task default > StepAction default, key by key for objects */
    CHECK_EXAMPLE("stepaction-params.json", {"steps/0/env/0/value", "taskrun"},
                  {"steps/0/env/2/value", "param"}, {"steps/0/env/3/value", "taskrun stringparam"},
                  {"steps/0/env/4/value", "taskspec default key1"},
                  {"steps/0/env/5/value", "taskrun key2"},
                  {"steps/0/env/6/value", "step-action default key3"},
                  {"steps/0/env/7/value", "enum1"}, {"steps/0/name", "action-runner"});
}

static void test_taskrun_resolve_stepaction_params_from_step_results(void **state)
{
    CHECK_EXAMPLE("stepaction-passing-results.json",
                  {"steps/1/args/0", "$(steps.inline-step.results.result1[*])"},
                  {"steps/1/args/1", "$(steps.inline-step.results.result1[0])"},
                  {"steps/1/args/2", "$(steps.inline-step.results.result3.IMAGE_URL)"},
                  {"steps/1/env/0/value", "$(steps.inline-step.results.result2)"},
                  {"steps/0/script",
                   "echo -n \"[\\\"image1\\\", \\\"image2\\\", \\\"image3\\\"]\" | tee "
                   "/tekton/steps/step-inline-step/results/result1\necho -n \"foo\" | tee "
                   "/tekton/steps/step-inline-step/results/result2\necho -n "
                   "\"{\\\"IMAGE_URL\\\":\\\"ar.com\\\", \\\"IMAGE_DIGEST\\\":\\\"sha234\\\"}\" | "
                   "tee /tekton/steps/step-inline-step/results/result3\ncat /tekton/scripts/*\n"});
}

/* Later reconciles reuse status.taskSpec: resolving again gives the same spec, Task edits or
 * not (the Task passed here has a different image and must be ignored). */
static void test_taskrun_resolve_status_spec_is_stable_on_reuse(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *doc = load_fixture("object-param-result.json");
    json_t *tr = json_deep_copy(find_object(doc, "TaskRun", NULL));
    json_t *edited = json_loads("{\"kind\":\"Task\",\"metadata\":{\"name\":\"x\"},\"spec\":{"
                                "\"steps\":[{\"image\":\"changed\"}]}}",
                                0, NULL);
    struct taskrun_resolve_input in = {.taskrun = tr, .task = edited, .cfg = cfg};
    struct taskrun_resolved *first = NULL;
    struct taskrun_resolved *again = NULL;
    struct taskrun_resolve_error err = {0};

    assert_int_equal(taskrun_resolve(&in, &first, &err), 0);
    json_object_set_new(tr, "status", json_pack("{s:O}", "taskSpec", first->status_spec));
    assert_int_equal(taskrun_resolve(&in, &again, &err), 0);
    assert_true(json_equal(first->spec, again->spec));
    assert_true(json_equal(first->status_spec, again->status_spec));
    taskrun_resolved_free(first);
    taskrun_resolved_free(again);
    json_decref(edited);
    json_decref(tr);
    json_decref(doc);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_taskref_copies_task_labels(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *task = json_loads(
        "{\"apiVersion\":\"tekton.dev/v1beta1\",\"kind\":\"Task\",\"metadata\":{\"name\":\"build\","
        "\"labels\":{\"app.kubernetes.io/version\":\"0.6\",\"shared\":\"task\"},\"annotations\":{"
        "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\",\"tekton.dev/pipelines."
        "minVersion\":\"0.12.1\"}},\"spec\":{\"params\":[{\"name\":\"IMAGE\"},{\"name\":\"EXTRA\","
        "\"type\":\"array\",\"default\":[]}],\"results\":[{\"name\":\"IMAGE_DIGEST\"}],"
        "\"workspaces\":[{\"name\":\"source\"},{\"name\":\"dockerconfig\",\"optional\":true,"
        "\"mountPath\":\"/kaniko/.docker\"}],\"steps\":[{\"name\":\"build-and-push\",\"image\":"
        "\"$(params.IMAGE)\",\"resources\":{\"limits\":{\"cpu\":\"1\"}},\"workingDir\":"
        "\"$(workspaces.source.path)\",\"args\":[\"$(params.EXTRA)\",\"--digest-file=$(results."
        "IMAGE_DIGEST.path)\",\"--context=$(workspaces.source.path)/x\",\"$(workspaces."
        "dockerconfig.bound)\"]}]}}",
        0, NULL);
    json_t *tr = json_loads(
        "{\"apiVersion\":\"tekton.dev/v1\",\"kind\":\"TaskRun\",\"metadata\":{\"name\":\"tr\","
        "\"namespace\":\"ci\",\"uid\":\"u\",\"labels\":{\"shared\":\"run\"}},\"spec\":{\"taskRef\":"
        "{\"name\":\"build\"},\"params\":[{\"name\":\"IMAGE\",\"value\":\"img\"},{\"name\":"
        "\"unused\",\"value\":3}],\"workspaces\":[{\"name\":\"source\",\"persistentVolumeClaim\":"
        "{\"claimName\":\"pvc\"}}]}}",
        0, NULL);
    struct taskrun_resolve_input in = {.taskrun = tr, .task = task, .cfg = cfg};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    assert_non_null(task);
    assert_non_null(tr);
    if (taskrun_resolve(&in, &res, &err) != 0)
        fail_msg("%s: %s", err.reason, err.message);
    assert_string_equal(res->task_name, "build");
    assert_string_equal(json_string_value(json_object_get(res->labels, "tekton.dev/task")),
                        "build");
    assert_string_equal(json_string_value(json_object_get(res->labels, "shared")), "run");
    assert_string_equal(
        json_string_value(json_object_get(res->labels, "app.kubernetes.io/version")), "0.6");
    assert_null(
        json_object_get(res->annotations, "kubectl.kubernetes.io/last-applied-configuration"));
    assert_non_null(json_object_get(res->annotations, "tekton.dev/pipelines.minVersion"));
    assert_string_equal(str_at(res->spec, "steps/0/image"), "img");
    assert_non_null(at(res->spec, "steps/0/computeResources/limits"));
    assert_null(at(res->spec, "steps/0/resources"));
    assert_string_equal(str_at(res->spec, "steps/0/workingDir"), "/workspace/source");
    assert_int_equal(json_array_size(at(res->spec, "steps/0/args")), 3);
    assert_string_equal(str_at(res->spec, "steps/0/args/0"),
                        "--digest-file=/tekton/results/IMAGE_DIGEST");
    assert_string_equal(str_at(res->spec, "steps/0/args/1"), "--context=/workspace/source/x");
    assert_string_equal(str_at(res->spec, "steps/0/args/2"), "false");
    assert_string_equal(str_at(res->spec, "results/0/type"), "string");
    assert_string_equal(str_at(res->workspaces, "0/volume"), "ws-1bcf2");
    taskrun_resolved_free(res);
    json_decref(task);
    json_decref(tr);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_status_spec_keeps_credentials_path(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *tr = json_loads(
        "{\"metadata\":{\"name\":\"t\"},\"spec\":{\"taskSpec\":{\"steps\":[{\"image\":\"i\","
        "\"script\":\"ls $(credentials.path) $(steps.step-unnamed-0.exitCode.path)\"}]}}}",
        0, NULL);
    struct taskrun_resolve_input in = {.taskrun = tr, .cfg = cfg};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    assert_int_equal(taskrun_resolve(&in, &res, &err), 0);
    assert_string_equal(str_at(res->spec, "steps/0/script"),
                        "ls /tekton/creds /tekton/steps/step-unnamed-0/exitCode");
    assert_string_equal(str_at(res->status_spec, "steps/0/script"),
                        "ls $(credentials.path) /tekton/steps/step-unnamed-0/exitCode");
    assert_null(json_object_get(res->labels, "tekton.dev/task"));
    assert_string_equal(res->task_name, "t");
    taskrun_resolved_free(res);
    json_decref(tr);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_pod_template_merges_default_and_substitutes(void **state)
{
    json_t *d = json_pack("{s:{s:s}}", "data", "default-pod-template",
                          "{\"nodeSelector\":{\"disk\":\"ssd\"},\"schedulerName\":\"def\","
                          "\"env\":[{\"name\":\"A\",\"value\":\"default\"},{\"name\":\"B\","
                          "\"value\":\"b\"}]}");
    struct tekton_config *cfg = NULL;
    char *msg = NULL;
    json_t *tr = json_loads(
        "{\"metadata\":{\"name\":\"t\"},\"spec\":{\"params\":[{\"name\":\"sched\",\"value\":"
        "\"mine\"}],\"podTemplate\":{\"schedulerName\":\"$(params.sched)\",\"env\":[{\"name\":"
        "\"A\",\"value\":\"run\"}]},\"taskSpec\":{\"params\":[{\"name\":\"sched\"}],\"steps\":[{"
        "\"image\":\"i\"}]}}}",
        0, NULL);
    struct taskrun_resolve_input in = {.taskrun = tr};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    assert_int_equal(tekton_config_parse(d, NULL, &cfg, &msg), 0);
    in.cfg = cfg;
    assert_int_equal(taskrun_resolve(&in, &res, &err), 0);
    assert_string_equal(str_at(res->pod_template, "schedulerName"), "mine");
    assert_string_equal(str_at(res->pod_template, "nodeSelector/disk"), "ssd");
    assert_string_equal(str_at(res->pod_template, "env/0/value"), "run");
    assert_string_equal(str_at(res->pod_template, "env/1/name"), "B");
    assert_int_equal(json_array_size(at(res->pod_template, "env")), 2);
    taskrun_resolved_free(res);
    json_decref(tr);
    json_decref(d);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_default_workspace_binding_fills_required(void **state)
{
    json_t *d =
        json_pack("{s:{s:s}}", "data", "default-task-run-workspace-binding", "emptyDir: {}");
    struct tekton_config *cfg = NULL;
    char *msg = NULL;
    json_t *tr = json_loads(
        "{\"metadata\":{\"name\":\"t\"},\"spec\":{\"taskSpec\":{\"workspaces\":[{\"name\":"
        "\"source\"},{\"name\":\"opt\",\"optional\":true}],\"steps\":[{\"image\":\"i\",\"script\":"
        "\"$(workspaces.source.path) $(workspaces.opt.bound)\"}]}}}",
        0, NULL);
    struct taskrun_resolve_input in = {.taskrun = tr};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    assert_int_equal(tekton_config_parse(d, NULL, &cfg, &msg), 0);
    in.cfg = cfg;
    assert_int_equal(taskrun_resolve(&in, &res, &err), 0);
    assert_int_equal(json_array_size(res->workspaces), 1);
    assert_string_equal(str_at(res->workspaces, "0/name"), "source");
    assert_true(json_is_object(at(res->workspaces, "0/emptyDir")));
    assert_string_equal(str_at(res->spec, "steps/0/script"), "/workspace/source false");
    taskrun_resolved_free(res);
    json_decref(tr);
    json_decref(d);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_claim_of_volume_claim_template(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *tr = json_loads(
        "{\"metadata\":{\"name\":\"t\",\"uid\":\"u\"},\"spec\":{\"workspaces\":[{\"name\":"
        "\"data\",\"volumeClaimTemplate\":{\"metadata\":{\"name\":\"pvc\"},\"spec\":{}}}],"
        "\"taskSpec\":{\"workspaces\":[{\"name\":\"data\"}],\"steps\":[{\"image\":\"i\","
        "\"args\":[\"$(workspaces.data.claim)\",\"$(workspaces.data.volume)\"]}]}}}",
        0, NULL);
    struct taskrun_resolve_input in = {.taskrun = tr, .cfg = cfg};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    assert_int_equal(taskrun_resolve(&in, &res, &err), 0);
    assert_string_equal(str_at(res->spec, "steps/0/args/0"), "pvc-03e204b466");
    assert_string_equal(str_at(res->spec, "steps/0/args/1"), str_at(res->workspaces, "0/volume"));
    taskrun_resolved_free(res);
    json_decref(tr);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_defaults_fill_timeout_sa_kind_label(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *tr = json_loads("{\"metadata\":{\"name\":\"t\"},\"spec\":{\"serviceAccountName\":\"\","
                            "\"taskRef\":{\"name\":\"x\"}}}",
                            0, NULL);
    json_t *d = taskrun_resolve_defaults(tr, cfg);
    int64_t ns = 0;
    struct taskrun_resolve_error err = {0};

    assert_string_equal(str_at(d, "spec/timeout"), "1h0m0s");
    assert_string_equal(str_at(d, "spec/serviceAccountName"), "default");
    assert_string_equal(str_at(d, "spec/taskRef/kind"), "Task");
    assert_string_equal(json_string_value(json_object_get(at(d, "metadata/labels"),
                                                          "app.kubernetes.io/managed-by")),
                        "tekton-pipelines");
    assert_null(json_object_get(json_object_get(tr, "metadata"), "labels"));
    assert_int_equal(taskrun_resolve_timeout(d, cfg, &ns, &err), 0);
    assert_int_equal(ns, INT64_C(3600000000000));
    json_decref(d);
    json_decref(tr);
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_stepaction_names_are_distinct_and_follow_spec_choice(void **state)
{
    json_t *tr = json_loads("{\"spec\":{\"taskSpec\":{\"steps\":[{\"ref\":{\"name\":\"a\"}},"
                            "{\"image\":\"i\"},{\"ref\":{\"name\":\"b\"}},{\"ref\":{\"name\":"
                            "\"a\"}},{\"ref\":{\"name\":7}}]}}}",
                            0, NULL);
    json_t *ref = json_loads("{\"spec\":{\"taskRef\":{\"name\":\"t\"}}}", 0, NULL);
    json_t *task = json_loads("{\"spec\":{\"steps\":[{\"ref\":{\"name\":\"c\"}}]}}", 0, NULL);
    json_t *names = taskrun_resolve_stepaction_names(tr, NULL);
    json_t *want = json_pack("[ss]", "a", "b");

    assert_true(json_equal(names, want));
    json_decref(names);
    json_decref(want);
    names = taskrun_resolve_stepaction_names(ref, task);
    want = json_pack("[s]", "c");
    assert_true(json_equal(names, want));
    json_decref(names);
    json_decref(want);
    names = taskrun_resolve_stepaction_names(ref, NULL);
    assert_int_equal(json_array_size(names), 0);
    json_decref(names);
    json_decref(tr);
    json_decref(ref);
    json_decref(task);
}

static void test_taskrun_resolve_timeout_table(void **state)
{
    static const struct {
        const char *timeout; /* JSON, or NULL for absent */
        int r;
        int64_t ns;
    } cases[] = {
        {NULL, 0, INT64_C(3600000000000)},
        {"\"0\"", 0, 0},
        {"\"0s\"", 0, 0},
        {"\"1m30s\"", 0, INT64_C(90000000000)},
        {"\"-5m\"", -EINVAL, 0},
        {"\"1x\"", -EINVAL, 0},
        {"{}", -EINVAL, 0},
    };
    struct tekton_config *cfg = tekton_config_new_default();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *tr = json_pack("{s:{}}", "spec");
        struct taskrun_resolve_error err = {0};
        int64_t ns = -1;
        int r;

        if (cases[i].timeout)
            json_object_set_new(json_object_get(tr, "spec"), "timeout",
                                json_loads(cases[i].timeout, JSON_DECODE_ANY, NULL));
        r = taskrun_resolve_timeout(tr, cfg, &ns, &err);
        if (r != cases[i].r || (r == 0 && ns != cases[i].ns))
            fail_msg("case %s: got %d/%lld", cases[i].timeout ? cases[i].timeout : "(absent)", r,
                     (long long)ns);
        if (r < 0 && !strstr(err.message, "\"spec.timeout\""))
            fail_msg("case %s: message '%s' lacks the field", cases[i].timeout, err.message);
        taskrun_resolve_error_done(&err);
        json_decref(tr);
    }
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_workspace_volume_name_matches_tekton(void **state)
{
    static const struct {
        const char *name;
        const char *want;
    } cases[] = {
        {"source", "ws-1bcf2"},
        {"output", "ws-79a94"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = taskrun_resolve_workspace_volume_name(cases[i].name);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, got, cases[i].want);
        free(got);
    }
}

/* ---- the hostile corpus ---- */

#define TR_HEAD                                                                                    \
    "{\"apiVersion\":\"tekton.dev/v1\",\"kind\":\"TaskRun\",\"metadata\":{\"name\":\"tr\"},"
#define TS(spec)           TR_HEAD "\"spec\":{\"taskSpec\":" spec "}}"
#define TS_P(params, spec) TR_HEAD "\"spec\":{\"params\":" params ",\"taskSpec\":" spec "}}"
#define TS_W(ws, spec)     TR_HEAD "\"spec\":{\"workspaces\":" ws ",\"taskSpec\":" spec "}}"
#define REF(extra)         TR_HEAD "\"spec\":{\"taskRef\":{\"name\":\"t\"}" extra "}}"
#define TASK(spec)         "{\"kind\":\"Task\",\"metadata\":{\"name\":\"t\"},\"spec\":" spec "}"
#define STEP               "{\"image\":\"i\"}"
#define STEPS              "\"steps\":[" STEP "]"

#define VF TASKRUN_REASON_VALIDATION_FAILED
#define RF TASKRUN_REASON_RESOLUTION_FAILED
#define TV TASKRUN_REASON_TASK_VALIDATION_FAILED
#define IP TASKRUN_REASON_INVALID_PARAM_VALUE

struct bad_case {
    const char *name;
    const char *taskrun; /* JSON text */
    const char *task;    /* JSON text or NULL */
    const char *reason;
    const char *want; /* substring of the message */
};

static const struct bad_case bad_cases[] = {
    /* TaskRun shape */
    {"spec missing", TR_HEAD "\"x\":1}", NULL, VF, "\"spec\": expected an object"},
    {"spec is a string", TR_HEAD "\"spec\":\"x\"}", NULL, VF, "\"spec\""},
    {"name missing", "{\"spec\":{}}", NULL, VF, "\"metadata.name\""},
    {"neither taskRef nor taskSpec", TR_HEAD "\"spec\":{}}", NULL, VF, "got neither"},
    {"both taskRef and taskSpec",
     TR_HEAD "\"spec\":{\"taskRef\":{\"name\":\"t\"},\"taskSpec\":{" STEPS "}}}", NULL, VF,
     "got both"},
    {"taskRef not an object", TR_HEAD "\"spec\":{\"taskRef\":\"t\"}}", NULL, VF,
     "\"spec.taskRef\""},
    {"taskSpec a list", TR_HEAD "\"spec\":{\"taskSpec\":[]}}", NULL, VF, "\"spec.taskSpec\""},
    {"timeout garbage", TR_HEAD "\"spec\":{\"timeout\":\"soon\",\"taskSpec\":{" STEPS "}}}", NULL,
     VF, "\"spec.timeout\": \"soon\""},
    {"timeout negative", TR_HEAD "\"spec\":{\"timeout\":\"-1s\",\"taskSpec\":{" STEPS "}}}", NULL,
     VF, "\"spec.timeout\""},
    {"timeout a number", TR_HEAD "\"spec\":{\"timeout\":60,\"taskSpec\":{" STEPS "}}}", NULL, VF,
     "\"spec.timeout\": expected a duration string, got number"},
    {"retries negative", TR_HEAD "\"spec\":{\"retries\":-1,\"taskSpec\":{" STEPS "}}}", NULL, VF,
     "\"spec.retries\""},
    {"status unknown", TR_HEAD "\"spec\":{\"status\":\"Paused\",\"taskSpec\":{" STEPS "}}}", NULL,
     VF, "\"spec.status\": \"Paused\""},
    {"params not a list", TS_P("{}", "{" STEPS "}"), NULL, VF, "\"spec.params\""},
    {"param without name", TS_P("[{\"value\":\"x\"}]", "{" STEPS "}"), NULL, VF,
     "\"spec.params\": entry 0 has no name"},
    {"duplicate params case-insensitive",
     TS_P("[{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"A\",\"value\":\"2\"}]", "{" STEPS "}"),
     NULL, VF, "duplicate name \"A\""},
    {"duplicate workspace bindings",
     TS_W("[{\"name\":\"w\",\"emptyDir\":{}},{\"name\":\"w\",\"emptyDir\":{}}]", "{" STEPS "}"),
     NULL, VF, "\"spec.workspaces\": duplicate name \"w\""},
    /* resolution */
    {"task not fetched", REF(""), NULL, RF,
     "error when listing tasks for taskRun tr: tasks.tekton.dev \"t\" not found"},
    {"remote resolver", TR_HEAD "\"spec\":{\"taskRef\":{\"resolver\":\"git\"}}}", NULL, RF,
     "remote resolution is not supported"},
    {"step action not fetched", TS("{\"steps\":[{\"ref\":{\"name\":\"sa\"}}]}"), NULL, RF,
     "error when listing stepactions for taskRun tr: stepactions.tekton.dev \"sa\" not found"},
    {"step action remote", TS("{\"steps\":[{\"ref\":{\"resolver\":\"git\"}}]}"), NULL, RF,
     "\"spec.taskSpec.steps[0].ref\": remote resolution is not supported"},
    {"step action ref without name", TS("{\"steps\":[{\"ref\":{}}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].ref.name\": expected a non-empty string"},
    {"step action ref with image", TS("{\"steps\":[{\"image\":\"i\",\"ref\":{\"name\":\"sa\"}}]}"),
     NULL, VF, "\"spec.taskSpec.steps[0].image\": cannot be used with ref"},
    {"step params without ref",
     TS("{\"steps\":[{\"image\":\"i\",\"params\":[{\"name\":\"a\",\"value\":\"b\"}]}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0]\": params can only be used with ref"},
    {"step action extra params",
     TS("{\"steps\":[{\"ref\":{\"name\":\"sa\"},\"params\":[{\"name\":\"zz\",\"value\":\"1\"}]}]}"),
     NULL, RF, "extra params passed by Step to StepAction: [zz]"},
    {"step action missing params", TS("{\"steps\":[{\"ref\":{\"name\":\"sa\"}}]}"), NULL, RF,
     "non-existent params in Step: [need]"},
    {"task without spec", REF(""), "{\"kind\":\"Task\",\"metadata\":{\"name\":\"t\"}}", TV,
     "\"spec\" in Task \"t\""},
    /* TaskSpec shape */
    {"no steps", TS("{}"), NULL, VF, "\"spec.taskSpec.steps\": at least one step"},
    {"empty steps", TS("{\"steps\":[]}"), NULL, VF, "spec.taskSpec.steps"},
    {"steps an object", TS("{\"steps\":{}}"), NULL, VF, "\"spec.taskSpec.steps\": expected a list"},
    {"step a string", TS("{\"steps\":[\"echo\"]}"), NULL, VF, "\"spec.taskSpec.steps[0]\""},
    {"step image missing", TS("{\"steps\":[{\"name\":\"a\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].image\": missing field(s): image"},
    {"step image a number", TS("{\"steps\":[{\"image\":5}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].image\": expected a string, got number"},
    {"step name not dns", TS("{\"steps\":[{\"image\":\"i\",\"name\":\"Bad_Name\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].name\": \"Bad_Name\" is not a DNS-1123 label"},
    {"step name too long",
     TS("{\"steps\":[{\"image\":\"i\",\"name\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}"),
     NULL, VF, "steps[0].name"},
    {"step names duplicate",
     TS("{\"steps\":[{\"image\":\"i\",\"name\":\"a\"},{\"image\":\"i\",\"name\":\"a\"}]}"), NULL,
     VF, "\"spec.taskSpec.steps[1].name\": step name \"a\" is not unique"},
    {"step name unicode", TS("{\"steps\":[{\"image\":\"i\",\"name\":\"\xc3\xa9tape\"}]}"), NULL, VF,
     "steps[0].name"},
    {"args not a list", TS("{\"steps\":[{\"image\":\"i\",\"args\":\"echo\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].args\": expected a list"},
    {"args element a number", TS("{\"steps\":[{\"image\":\"i\",\"args\":[\"a\",1]}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].args[1]\": expected a string, got number"},
    {"env element a string", TS("{\"steps\":[{\"image\":\"i\",\"env\":[\"A=1\"]}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].env[0]\": expected an object"},
    {"script with command",
     TS("{\"steps\":[{\"image\":\"i\",\"script\":\"ls\",\"command\":[\"sh\"]}]}"), NULL, VF,
     "steps[0].script\": script cannot be used with command"},
    {"onError invalid", TS("{\"steps\":[{\"image\":\"i\",\"onError\":\"ignore\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].onError\": \"ignore\""},
    {"stepTemplate a list", TS("{\"stepTemplate\":[]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.stepTemplate\""},
    {"sidecar script a list", TS("{" STEPS ",\"sidecars\":[{\"image\":\"i\",\"script\":[]}]}"),
     NULL, VF, "\"spec.taskSpec.sidecars[0].script\""},
    {"volumes an object", TS("{" STEPS ",\"volumes\":{}}"), NULL, VF, "\"spec.taskSpec.volumes\""},
    /* param specs */
    {"param spec without name", TS("{\"params\":[{\"type\":\"string\"}]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.params[0].name\""},
    {"param spec bad type", TS("{\"params\":[{\"name\":\"p\",\"type\":\"number\"}]," STEPS "}"),
     NULL, VF, "\"spec.taskSpec.params[0].type\": \"number\" is not string, array or object"},
    {"param spec type a bool", TS("{\"params\":[{\"name\":\"p\",\"type\":true}]," STEPS "}"), NULL,
     VF, "params[0].type\": expected a string"},
    {"param name invalid", TS("{\"params\":[{\"name\":\"1p\",\"default\":\"x\"}]," STEPS "}"), NULL,
     VF, "\"spec.taskSpec.params[0].name\": \"1p\" is not a valid string param name"},
    {"object param name with dot",
     TS("{\"params\":[{\"name\":\"a.b\",\"type\":\"object\",\"properties\":{}}]," STEPS "}"), NULL,
     VF, "is not a valid object param name"},
    {"param default of wrong type",
     TS("{\"params\":[{\"name\":\"p\",\"type\":\"array\",\"default\":\"x\"}]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.params[0].default\": \"array\" param \"p\" has a default of type string"},
    {"param property type not string",
     TS("{\"params\":[{\"name\":\"o\",\"properties\":{\"k\":{\"type\":\"array\"}}}]," STEPS "}"),
     NULL, VF, "property \"k\" has type \"array\""},
    {"duplicate param specs", TS("{\"params\":[{\"name\":\"p\"},{\"name\":\"P\"}]," STEPS "}"),
     NULL, VF, "\"spec.taskSpec.params[1].name\": parameter appears more than once"},
    {"result name invalid", TS("{\"results\":[{\"name\":\"-bad\"}]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.results[0].name\": \"-bad\" is not a valid result name"},
    {"result type invalid", TS("{\"results\":[{\"name\":\"r\",\"type\":\"int\"}]," STEPS "}"), NULL,
     VF, "\"spec.taskSpec.results[0].type\""},
    {"step result name invalid",
     TS("{\"steps\":[{\"image\":\"i\",\"results\":[{\"name\":\"a b\"}]}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].results[0].name\""},
    {"param name in Greek", TS("{\"params\":[{\"name\":\"\u03c0\",\"default\":\"3\"}]," STEPS "}"),
     NULL, VF, "\"spec.taskSpec.params[0].name\": \"\xcf\x80\" is not a valid string param name"},
    {"result name with emoji", TS("{\"results\":[{\"name\":\"r\U0001F600\"}]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.results[0].name\""},
    /* param values */
    {"required param missing", TS("{\"params\":[{\"name\":\"a\"},{\"name\":\"b\"}]," STEPS "}"),
     NULL, VF,
     "[User error] invalid input params for task tr: missing values for these params which have "
     "no default values: [a b]"},
    {"array param given a string",
     TS_P("[{\"name\":\"a\",\"value\":\"x\"}]",
          "{\"params\":[{\"name\":\"a\",\"type\":\"array\"}]," STEPS "}"),
     NULL, VF, "param types don't match the user-specified type: [a]"},
    {"string param given an object",
     TS_P("[{\"name\":\"s\",\"value\":{\"k\":\"v\"}}]",
          "{\"params\":[{\"name\":\"s\"}]," STEPS "}"),
     NULL, VF, "param types don't match the user-specified type: [s]"},
    {"object param missing keys",
     TS_P("[{\"name\":\"o\",\"value\":{\"a\":\"1\"}}]",
          "{\"params\":[{\"name\":\"o\",\"properties\":{\"a\":{},\"b\":{}}}]," STEPS "}"),
     NULL, VF,
     "missing keys for these params which are required in ParamSpec's properties "
     "map[o:[b]]"},
    {"array index out of range",
     TS_P("[{\"name\":\"a\",\"value\":[\"x\"]}]",
          "{\"params\":[{\"name\":\"a\",\"type\":\"array\"}],\"steps\":[{\"image\":\"i\",\"args\":["
          "\"$(params.a[5])\"]}]}"),
     NULL, VF, "[User error] non-existent param references:[$(params.a[5])]"},
    {"undeclared param reference",
     TS("{\"steps\":[{\"image\":\"i\",\"script\":\"echo $(params.nope)\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].script\": non-existent variable in \"$(params.nope)\""},
    {"undeclared param reference in a Task", REF(""),
     TASK("{\"steps\":[{\"image\":\"$(params.img)\"}]}"), TV,
     "\"spec.steps[0].image\" in Task \"t\": non-existent variable in \"$(params.img)\""},
    {"array param embedded in an arg",
     TS_P("[{\"name\":\"a\",\"value\":[\"x\"]}]",
          "{\"params\":[{\"name\":\"a\",\"type\":\"array\"}],\"steps\":[{\"image\":\"i\",\"args\":["
          "\"--flag=$(params.a)\"]}]}"),
     NULL, VF,
     "\"spec.taskSpec.steps[0].args[0]\": variable is not properly isolated in "
     "\"--flag=$(params.a)\""},
    {"array param in a script",
     TS_P("[{\"name\":\"a\",\"value\":[\"x\"]}]",
          "{\"params\":[{\"name\":\"a\",\"type\":\"array\"}],\"steps\":[{\"image\":\"i\","
          "\"script\":\"echo $(params.a[*])\"}]}"),
     NULL, VF, "\"spec.taskSpec.steps[0].script\": variable type invalid"},
    {"whole object in args",
     TS_P("[{\"name\":\"o\",\"value\":{\"k\":\"v\"}}]",
          "{\"steps\":[{\"image\":\"i\",\"args\":[\"$(params.o[*])\"]}]}"),
     NULL, VF, "\"spec.taskSpec.steps[0].args[0]\": variable type invalid"},
    {"unknown object key",
     TS_P(
         "[{\"name\":\"o\",\"value\":{\"k\":\"v\"}}]",
         "{\"steps\":[{\"image\":\"i\",\"env\":[{\"name\":\"E\",\"value\":\"$(params.o.zz)\"}]}]}"),
     NULL, VF,
     "\"spec.taskSpec.steps[0].env[0].value\": non-existent variable in "
     "\"$(params.o.zz)\""},
    {"unknown context variable",
     TS("{\"steps\":[{\"image\":\"i\",\"script\":\"echo $(context.taskRun.labels)\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].script\": non-existent variable in \"$(context.taskRun.labels)\""},
    {"unknown task context variable",
     TS("{\"steps\":[{\"image\":\"i\",\"workingDir\":\"/$(context.task.uid)\"}]}"), NULL, VF,
     "\"spec.taskSpec.steps[0].workingDir\": non-existent variable in \"$(context.task.uid)\""},
    {"malformed bracket ref",
     TS_P("[{\"name\":\"x\",\"value\":\"v\"}]",
          "{\"steps\":[{\"image\":\"i\",\"script\":\"$(params[\\\"x)\"}]}"),
     NULL, VF, "non-existent variable"},
    {"enum violated",
     TR_HEAD "\"spec\":{\"params\":[{\"name\":\"e\",\"value\":\"c\"}],\"taskSpec\":{\"params\":[{"
             "\"name\":\"e\",\"enum\":[\"a\",\"b\"]}]," STEPS "}}}",
     NULL, IP, "[User error] param `e` value: c is not in the enum list"},
    /* workspaces */
    {"required workspace unbound", TS("{\"workspaces\":[{\"name\":\"src\"}]," STEPS "}"), NULL, VF,
     "[User error] declared workspace \"src\" is required but has not been bound"},
    {"binding undeclared with taskRef", REF(",\"workspaces\":[{\"name\":\"w\",\"emptyDir\":{}}]"),
     TASK("{" STEPS "}"), VF,
     "[User error] workspace binding \"w\" does not match any declared workspace"},
    {"binding without source", TS_W("[{\"name\":\"w\"}]", "{" STEPS "}"), NULL, VF,
     "[User error] binding \"w\" is invalid: expected exactly one, got neither"},
    {"binding with two sources",
     TS_W("[{\"name\":\"w\",\"emptyDir\":{},\"secret\":{\"secretName\":\"s\"}}]", "{" STEPS "}"),
     NULL, VF, "binding \"w\" is invalid: expected exactly one, got both"},
    {"binding pvc without claim",
     TS_W("[{\"name\":\"w\",\"persistentVolumeClaim\":{}}]", "{" STEPS "}"), NULL, VF,
     "binding \"w\" is invalid: missing field(s) in persistentVolumeClaim"},
    {"binding source a string", TS_W("[{\"name\":\"w\",\"emptyDir\":\"yes\"}]", "{" STEPS "}"),
     NULL, VF, "binding \"w\" is invalid: emptyDir must be an object"},
    {"two distinct pvcs",
     TS_W("[{\"name\":\"a\",\"persistentVolumeClaim\":{\"claimName\":\"x\"}},{\"name\":\"b\","
          "\"persistentVolumeClaim\":{\"claimName\":\"y\"}}]",
          "{" STEPS "}"),
     NULL, VF, "[User error] more than one PersistentVolumeClaim is bound"},
    {"workspace declaration without name", TS("{\"workspaces\":[{}]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.workspaces[0].name\""},
    {"workspace declarations duplicate",
     TS("{\"workspaces\":[{\"name\":\"w\"},{\"name\":\"w\"}]," STEPS "}"), NULL, VF,
     "\"spec.taskSpec.workspaces[1].name\": workspace name \"w\" must be unique"},
    /* resources */
    {"request above step limit",
     TS("{\"steps\":[{\"image\":\"i\",\"computeResources\":{\"requests\":{\"memory\":\"2Gi\"},"
        "\"limits\":{\"memory\":\"1Gi\"}}}]}"),
     NULL, VF,
     "[User error] invalid request resource value: 2Gi must be less or equal to limit 1Gi"},
    {"request above stepTemplate limit",
     TS("{\"stepTemplate\":{\"computeResources\":{\"limits\":{\"cpu\":\"500m\"}}},\"steps\":[{"
        "\"image\":\"i\",\"computeResources\":{\"requests\":{\"cpu\":1}}}]}"),
     NULL, VF, "invalid request resource value: 1 must be less or equal to limit 500m"},
    {"undeclared run param used by a Task", REF(",\"params\":[{\"name\":\"x\",\"value\":\"v\"}]"),
     TASK("{\"steps\":[{\"image\":\"i\",\"script\":\"$(params.x)\"}]}"), TV,
     "\"spec.steps[0].script\" in Task \"t\": non-existent variable in \"$(params.x)\""},
    /* overrides */
    {"stepSpecs names an unknown step",
     TR_HEAD "\"spec\":{\"stepSpecs\":[{\"name\":\"ghost\"}],\"taskSpec\":{" STEPS "}}}", NULL, VF,
     "[User error] invalid StepOverride: No Step named ghost"},
    {"sidecarSpecs names an unknown sidecar",
     TR_HEAD "\"spec\":{\"sidecarSpecs\":[{\"name\":\"ghost\"}],\"taskSpec\":{" STEPS "}}}", NULL,
     VF, "[User error] invalid SidecarOverride: No Sidecar named ghost"},
    {"podTemplate a list", TR_HEAD "\"spec\":{\"podTemplate\":[],\"taskSpec\":{" STEPS "}}}", NULL,
     VF, "\"spec.podTemplate\""},
    /* from a Task */
    {"task step names clash", REF(""),
     TASK("{\"steps\":[{\"image\":\"i\",\"name\":\"x\"},{\"image\":\"i\",\"name\":\"x\"}]}"), TV,
     "\"spec.steps[1].name\" in Task \"t\""},
    {"task params missing in run", REF(""), TASK("{\"params\":[{\"name\":\"url\"}]," STEPS "}"), VF,
     "invalid input params for task t: missing values for these params which have no default "
     "values: [url]"},
    {"disabled inline spec", TS("{" STEPS "}"), NULL, VF, "disable-inline-spec"},
};

static const struct bad_case *find_case(const char *name)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        if (strcmp(bad_cases[i].name, name) == 0)
            return &bad_cases[i];
    }
    return NULL;
}

static void run_bad_case(const struct bad_case *bc, const struct tekton_config *cfg)
{
    json_error_t jerr;
    json_t *tr = json_loads(bc->taskrun, 0, &jerr);
    json_t *task = bc->task ? json_loads(bc->task, 0, &jerr) : NULL;
    /* one StepAction "sa" with a required param, for the cases that name it */
    json_t *sas = strstr(bc->name, "step action") && !strstr(bc->name, "not fetched")
                      ? json_loads("{\"sa\":{\"kind\":\"StepAction\",\"spec\":{\"image\":\"i\","
                                   "\"params\":[{\"name\":\"need\"}]}}}",
                                   0, NULL)
                      : NULL;
    struct taskrun_resolve_input in = {.taskrun = tr, .task = task, .stepactions = sas, .cfg = cfg};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};
    int r;

    if (!tr || (bc->task && !task))
        fail_msg("case '%s': fixture is not JSON: %s", bc->name, jerr.text);
    r = taskrun_resolve(&in, &res, &err);
    if (r != -EINVAL || res)
        fail_msg("case '%s': got %d, want -EINVAL", bc->name, r);
    if (strcmp(err.reason, bc->reason) != 0)
        fail_msg("case '%s': reason %s, want %s (%s)", bc->name, err.reason, bc->reason,
                 err.message);
    if (!strstr(err.message, bc->want))
        fail_msg("case '%s': message '%s' lacks '%s'", bc->name, err.message, bc->want);
    taskrun_resolve_error_done(&err);
    json_decref(sas);
    json_decref(tr);
    json_decref(task);
}

static void test_taskrun_resolve_bad_input_table(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    struct tekton_config *flags = tekton_config_new_default();
    size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]);

    flags->enable_param_enum = true;
    flags->disable_inline_spec_taskrun = true;
    assert_true(n >= 50);
    for (size_t i = 0; i < n; i++) {
        const char *name = bad_cases[i].name;

        if (strcmp(name, "enum violated") == 0 || strcmp(name, "disabled inline spec") == 0)
            continue;
        run_bad_case(&bad_cases[i], cfg);
    }
    flags->disable_inline_spec_taskrun = false;
    run_bad_case(find_case("enum violated"), flags);
    flags->enable_param_enum = false;
    flags->disable_inline_spec_taskrun = true;
    run_bad_case(find_case("disabled inline spec"), flags);
    tekton_config_free(flags);
    tekton_config_free(cfg);
}

/* Hostile shapes: no crash, no leak, a clean answer either way. */
static void test_taskrun_resolve_hostile_shapes_never_crash(void **state)
{
    static const char *const docs[] = {
        "null",
        "[]",
        "\"taskrun\"",
        "{}",
        "{\"metadata\":{\"name\":5}}",
        "{\"metadata\":{\"name\":\"t\"},\"spec\":{\"taskSpec\":{\"steps\":[{\"image\":\"i\","
        "\"env\":[{\"value\":{\"a\":[1,2,{\"b\":null}]}}],\"volumeMounts\":[{\"mountPath\":7}],"
        "\"when\":[{\"input\":[],\"values\":\"x\"}],\"workspaces\":[{\"name\":{}}]}],\"params\":"
        "[{\"name\":\"p\",\"default\":[1,2]}],\"volumes\":[{\"name\":[],\"configMap\":\"x\"}],"
        "\"sidecars\":[{\"volumeMounts\":\"x\"}]}}}",
        "{\"metadata\":{\"name\":\"t\"},\"spec\":{\"params\":[{\"name\":\"p\",\"value\":null},"
        "{\"name\":\"q\",\"value\":[1,\"a\"]},{\"name\":\"r\",\"value\":true}],\"taskSpec\":{"
        "\"params\":[{\"name\":\"p\"},{\"name\":\"q\"},{\"name\":\"r\"}],\"steps\":[{\"image\":"
        "\"$(params.p)$(params.q)$(params.r)\"}]}}}",
        "{\"metadata\":{\"name\":\"t\"},\"status\":{\"taskSpec\":{\"steps\":[{\"image\":\"i\"}]},"
        "\"retriesStatus\":{}},\"spec\":{\"taskRef\":{\"name\":\"x\"}}}",
    };
    struct tekton_config *cfg = tekton_config_new_default();

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *tr = json_loads(docs[i], JSON_DECODE_ANY, NULL);
        struct taskrun_resolve_input in = {.taskrun = tr, .cfg = cfg};
        struct taskrun_resolved *res = NULL;
        struct taskrun_resolve_error err = {0};
        int r;

        assert_non_null(tr);
        r = taskrun_resolve(&in, &res, &err);
        if (r < 0 && (!err.reason || !err.message))
            fail_msg("doc %zu: failure without reason or message", i);
        if (r == 0 && !res->spec)
            fail_msg("doc %zu: success without a spec", i);
        taskrun_resolve_error_done(&err);
        taskrun_resolved_free(res);
        json_decref(tr);
    }
    tekton_config_free(cfg);
}

static void test_taskrun_resolve_huge_and_deep_inputs_are_bounded(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    size_t n = 1024 * 1024;
    char *big = malloc(n + 1);
    json_t *tr;
    json_t *deep = json_string("$(params.nope)");
    struct taskrun_resolve_input in = {.cfg = cfg};
    struct taskrun_resolved *res = NULL;
    struct taskrun_resolve_error err = {0};

    /* a 1 MiB param used 40 times in one script: refused, naming the field */
    memset(big, 'x', n);
    big[n] = '\0';
    tr = json_pack("{s:{s:s}, s:{s:[{s:s,s:s}], s:{s:[{s:s,s:s}]}}}", "metadata", "name", "t",
                   "spec", "params", "name", "big", "value", big, "taskSpec", "steps", "image", "i",
                   "script", "");
    {
        char *script = malloc(40 * 14 + 1);

        script[0] = '\0';
        for (int i = 0; i < 40; i++)
            memcpy(script + i * 14, "$(params.big) ", 15);
        json_object_set_new(
            json_array_get(
                json_object_get(json_object_get(json_object_get(tr, "spec"), "taskSpec"), "steps"),
                0),
            "script", json_string(script));
        free(script);
    }
    in.taskrun = tr;
    assert_int_equal(taskrun_resolve(&in, &res, &err), -EINVAL);
    assert_string_equal(err.reason, TASKRUN_REASON_VALIDATION_FAILED);
    assert_non_null(strstr(err.message, "\"spec.taskSpec.steps[0].script\""));
    taskrun_resolve_error_done(&err);
    json_decref(tr);

    /* a 2 MiB script of "$(" openers and one ')' at the end: validated in linear time */
    {
        size_t m = 2 * 1024 * 1024;
        char *openers = malloc(m + 2);

        for (size_t i = 0; i < m; i += 2)
            memcpy(openers + i, "$(", 2);
        memcpy(openers + m, ")", 2);
        tr = json_pack("{s:{s:s}, s:{s:{s:[{s:s,s:s}]}}}", "metadata", "name", "t", "spec",
                       "taskSpec", "steps", "image", "i", "script", openers);
        in.taskrun = tr;
        assert_int_equal(taskrun_resolve(&in, &res, &err), 0);
        assert_int_equal(json_string_length(json_object_get(
                             json_array_get(json_object_get(res->spec, "steps"), 0), "script")),
                         m + 1);
        taskrun_resolved_free(res);
        res = NULL;
        json_decref(tr);
        free(openers);
    }

    /* nesting 200 deep inside a step: refused with the field, not a stack overflow */
    for (int i = 0; i < 200; i++)
        deep = json_pack("{s:o}", "k", deep);
    tr = json_pack("{s:{s:s}, s:{s:{s:[{s:s,s:o}]}}}", "metadata", "name", "t", "spec", "taskSpec",
                   "steps", "image", "i", "securityContext", deep);
    in.taskrun = tr;
    assert_int_equal(taskrun_resolve(&in, &res, &err), -EINVAL);
    assert_non_null(strstr(err.message, "spec.taskSpec.steps[0].securityContext.k.k"));
    taskrun_resolve_error_done(&err);
    json_decref(tr);
    free(big);
    tekton_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taskrun_resolve_every_upstream_example),
        cmocka_unit_test(test_taskrun_resolve_array_default_expands_in_args),
        cmocka_unit_test(test_taskrun_resolve_object_params_merge_default_and_run_keys),
        cmocka_unit_test(test_taskrun_resolve_context_variables),
        cmocka_unit_test(test_taskrun_resolve_optional_workspaces_bound_and_unbound),
        cmocka_unit_test(test_taskrun_resolve_workspace_volume_in_sidecar_mounts),
        cmocka_unit_test(test_taskrun_resolve_array_indexing),
        cmocka_unit_test(test_taskrun_resolve_propagated_params_and_workspaces),
        cmocka_unit_test(test_taskrun_resolve_stepaction_param_precedence),
        cmocka_unit_test(test_taskrun_resolve_stepaction_params_from_step_results),
        cmocka_unit_test(test_taskrun_resolve_status_spec_is_stable_on_reuse),
        cmocka_unit_test(test_taskrun_resolve_taskref_copies_task_labels),
        cmocka_unit_test(test_taskrun_resolve_status_spec_keeps_credentials_path),
        cmocka_unit_test(test_taskrun_resolve_pod_template_merges_default_and_substitutes),
        cmocka_unit_test(test_taskrun_resolve_default_workspace_binding_fills_required),
        cmocka_unit_test(test_taskrun_resolve_claim_of_volume_claim_template),
        cmocka_unit_test(test_taskrun_resolve_defaults_fill_timeout_sa_kind_label),
        cmocka_unit_test(test_taskrun_resolve_stepaction_names_are_distinct_and_follow_spec_choice),
        cmocka_unit_test(test_taskrun_resolve_timeout_table),
        cmocka_unit_test(test_taskrun_resolve_workspace_volume_name_matches_tekton),
        cmocka_unit_test(test_taskrun_resolve_bad_input_table),
        cmocka_unit_test(test_taskrun_resolve_hostile_shapes_never_crash),
        cmocka_unit_test(test_taskrun_resolve_huge_and_deep_inputs_are_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
