/*
 * Unit tests for controller/webhook: every upstream example is admitted, invalid objects are
 * refused with Tekton's wording, and defaulting patches carry Tekton's defaults.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/tekton_config.h"
#include "controller/webhook.h"
#include "lib/kubeconfig.h"
#include "lib/xalloc.h"

/* JSON with ' for " so the tables stay readable. */
static json_t *j(const char *text)
{
    char *t = xstrdup(text);
    json_t *v;
    json_error_t err;

    for (char *p = t; *p; p++)
        *p = *p == '\'' ? '"' : *p;
    v = json_loads(t, 0, &err);
    if (!v)
        fail_msg("bad test JSON '%s': %s", text, err.text);
    free(t);
    return v;
}

static json_t *review(const char *op, const json_t *obj, const json_t *old)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:O*}}", "apiVersion", "admission.k8s.io/v1",
                     "kind", "AdmissionReview", "request", "uid", "uid-1", "operation", op,
                     "object", obj, "oldObject", old);
}

static bool allowed(const json_t *answer)
{
    return json_is_true(json_object_get(json_object_get(answer, "response"), "allowed"));
}

static const char *denial(const json_t *answer)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(answer, "response"), "status"), "message"));
}

static size_t admit_dir(const char *dir, const struct tekton_config *cfg)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char *path;
        json_t *fixture;
        const json_t *obj;
        size_t i;

        if (!strstr(e->d_name, ".json"))
            continue;
        path = xasprintf("%s/%s", dir, e->d_name);
        fixture = json_load_file(path, 0, NULL);
        assert_non_null(fixture);
        json_array_foreach(json_object_get(fixture, "objects"), i, obj) {
            json_t *rv = review("CREATE", obj, NULL);
            json_t *a = webhook_validate(rv, cfg);

            if (!allowed(a))
                fail_msg("case '%s' object %zu: refused: %s", path, i, denial(a));
            n++;
            json_decref(a);
            json_decref(rv);
        }
        json_decref(fixture);
        free(path);
    }
    closedir(d);
    return n;
}

static void test_webhook_validate_admits_every_upstream_example(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    size_t n = admit_dir("tests/unit/fixtures/resolve", cfg) +
               admit_dir("tests/unit/fixtures/pipelinerun", cfg);

    assert_true(n >= 50);
    tekton_config_free(cfg);
}

static void test_webhook_validate_refusals_table(void **state)
{
    static const struct {
        const char *name;
        const char *obj;
        const char *message;
    } cases[] = {
        {"taskrun with both",
         "{'apiVersion':'tekton.dev/v1','kind':'TaskRun','metadata':{'name':"
         "'a'},'spec':{'taskRef':{'name':'t'},'taskSpec':{'steps':[{'image':'b'}]}}}",
         "validation failed: expected exactly one, got both: spec.taskRef, spec.taskSpec"},
        {"taskrun with neither",
         "{'apiVersion':'tekton.dev/v1beta1','kind':'TaskRun','metadata':"
         "{'name':'a'},'spec':{}}",
         "validation failed: expected exactly one, got neither: spec.taskRef, spec.taskSpec"},
        {"taskrun bad status",
         "{'apiVersion':'tekton.dev/v1','kind':'TaskRun','metadata':{'name':"
         "'a'},'spec':{'taskRef':{'name':'t'},'status':'Paused'}}",
         "validation failed: \"Paused\" is not one of TaskRunCancelled, TaskRunPending: "
         "spec.status"},
        {"taskrun inline spec without steps",
         "{'apiVersion':'tekton.dev/v1','kind':'TaskRun',"
         "'metadata':{'name':'a'},'spec':{'taskSpec':{'steps':[]}}}",
         "validation failed: at least one step is required: spec.taskSpec.steps"},
        {"task without steps",
         "{'apiVersion':'tekton.dev/v1','kind':'Task','metadata':{'name':"
         "'a'},'spec':{'params':[{'name':'p'}]}}",
         "validation failed: at least one step is required: spec.steps"},
        {"pipelinerun with both",
         "{'apiVersion':'tekton.dev/v1','kind':'PipelineRun','metadata':"
         "{'name':'a'},'spec':{'pipelineRef':{'name':'p'},'pipelineSpec':{'tasks':[]}}}",
         "validation failed: expected exactly one, got both: spec.pipelineRef, spec.pipelineSpec"},
        {"pipelinerun with neither",
         "{'apiVersion':'tekton.dev/v1','kind':'PipelineRun',"
         "'metadata':{'name':'a'},'spec':{}}",
         "validation failed: expected exactly one, got neither: spec.pipelineRef, "
         "spec.pipelineSpec"},
        {"pipeline task name",
         "{'apiVersion':'tekton.dev/v1','kind':'Pipeline','metadata':"
         "{'name':'a'},'spec':{'tasks':[{'name':'Bad_Name','taskRef':{'name':'t'}}]}}",
         "validation failed: invalid value \"Bad_Name\": spec.tasks[0].name\nPipeline Task name "
         "must be a valid DNS Label."},
    };
    struct tekton_config *cfg = tekton_config_new_default();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *obj = j(cases[i].obj);
        json_t *rv = review("CREATE", obj, NULL);
        json_t *a = webhook_validate(rv, cfg);
        const json_t *st = json_object_get(json_object_get(a, "response"), "status");

        if (allowed(a))
            fail_msg("case '%s': admitted", cases[i].name);
        if (!denial(a) || strcmp(denial(a), cases[i].message) != 0)
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, denial(a), cases[i].message);
        assert_int_equal(json_integer_value(json_object_get(st, "code")), 400);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(a, "response"), "uid")), "uid-1");
        json_decref(a);
        json_decref(rv);
        json_decref(obj);
    }
    tekton_config_free(cfg);
}

/* Objects stored before the webhook existed keep accepting metadata-only updates and deletes. */
static void test_webhook_validate_spec_unchanged_update_and_delete_allowed(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *bad = j("{'apiVersion':'tekton.dev/v1','kind':'TaskRun','metadata':{'name':'a'},"
                    "'spec':{}}");
    json_t *relabelled = j("{'apiVersion':'tekton.dev/v1','kind':'TaskRun','metadata':{'name':"
                           "'a','labels':{'x':'y'}},'spec':{}}");
    json_t *rv = review("UPDATE", relabelled, bad);
    json_t *a = webhook_validate(rv, cfg);

    assert_true(allowed(a));
    json_decref(a);
    json_decref(rv);
    rv = review("DELETE", bad, NULL);
    a = webhook_validate(rv, cfg);
    assert_true(allowed(a));
    json_decref(a);
    json_decref(rv);
    json_decref(relabelled);
    json_decref(bad);
    tekton_config_free(cfg);
}

/* Admission may see an object created with generateName before its name is generated. */
static void test_webhook_validate_generate_name_without_name_admitted(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *tr = j("{'apiVersion':'tekton.dev/v1','kind':'TaskRun','metadata':{'generateName':"
                   "'run-'},'spec':{'taskRef':{'name':'t'}}}");
    json_t *rv = review("CREATE", tr, NULL);
    json_t *a = webhook_validate(rv, cfg);

    assert_true(allowed(a));
    json_decref(a);
    json_decref(rv);
    json_decref(tr);
    tekton_config_free(cfg);
}

static void test_webhook_review_without_uid_denied(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *rv = j("{'request':{'object':{}}}");
    json_t *a = webhook_validate(rv, cfg);
    json_t *d = webhook_default(rv, cfg);

    assert_false(allowed(a));
    assert_false(allowed(d));
    assert_non_null(strstr(denial(a), "uid"));
    json_decref(d);
    json_decref(a);
    json_decref(rv);
    tekton_config_free(cfg);
}

/* The decoded JSONPatch of a defaulting answer, or NULL when there is none. */
static json_t *patch_of(const json_t *answer)
{
    const json_t *resp = json_object_get(answer, "response");
    const char *b64 = json_string_value(json_object_get(resp, "patch"));
    struct kube_blob blob = {0};
    json_t *ops;

    assert_true(allowed(answer));
    if (!b64)
        return NULL;
    assert_string_equal(json_string_value(json_object_get(resp, "patchType")), "JSONPatch");
    assert_int_equal(kube_base64_decode(b64, &blob), 0);
    ops = json_loadb((const char *)blob.data, blob.len, 0, NULL);
    free(blob.data);
    assert_non_null(ops);
    return ops;
}

/* The value the patch gives 'path', or NULL. */
static const json_t *patched(const json_t *ops, const char *path)
{
    const json_t *op;
    size_t i;

    json_array_foreach(ops, i, op) {
        if (strcmp(json_string_value(json_object_get(op, "path")), path) == 0)
            return json_object_get(op, "value");
    }
    return NULL;
}

static void test_webhook_default_taskrun(void **state)
{
    struct tekton_config *cfg = NULL;
    json_t *cd = j("{'data':{'default-timeout-minutes':'20','default-service-account':'builder'}}");
    char *err = NULL;
    json_t *obj = j("{'apiVersion':'tekton.dev/v1','kind':'TaskRun','metadata':{'name':'a'},"
                    "'spec':{'taskRef':{'name':'t'}}}");
    json_t *rv = review("CREATE", obj, NULL);
    json_t *a, *ops;
    const json_t *spec, *labels;

    assert_int_equal(tekton_config_parse(cd, NULL, &cfg, &err), 0);
    a = webhook_default(rv, cfg);
    ops = patch_of(a);
    assert_non_null(ops);
    spec = patched(ops, "/spec");
    labels = patched(ops, "/metadata/labels");
    assert_string_equal(json_string_value(json_object_get(spec, "timeout")), "20m0s");
    assert_string_equal(json_string_value(json_object_get(spec, "serviceAccountName")), "builder");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(spec, "taskRef"), "kind")), "Task");
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")),
                        "tekton-pipelines");
    json_decref(ops);
    json_decref(a);
    json_decref(rv);
    json_decref(obj);
    json_decref(cd);
    tekton_config_free(cfg);
}

static void test_webhook_default_pipelinerun_per_version(void **state)
{
    static const struct {
        const char *name;
        const char *obj;
        const char *sa_holder; /* where the service account lands */
    } cases[] = {
        {"v1",
         "{'apiVersion':'tekton.dev/v1','kind':'PipelineRun','metadata':{'name':'a'},"
         "'spec':{'pipelineRef':{'name':'p'}}}",
         "taskRunTemplate"},
        {"v1beta1",
         "{'apiVersion':'tekton.dev/v1beta1','kind':'PipelineRun','metadata':{'name':"
         "'a'},'spec':{'pipelineRef':{'name':'p'}}}",
         NULL},
    };
    struct tekton_config *cfg = tekton_config_new_default();

    for (size_t i = 0; i < 2; i++) {
        json_t *obj = j(cases[i].obj);
        json_t *rv = review("CREATE", obj, NULL);
        json_t *a = webhook_default(rv, cfg);
        json_t *ops = patch_of(a);
        const json_t *spec = patched(ops, "/spec");
        const json_t *holder =
            cases[i].sa_holder ? json_object_get(spec, cases[i].sa_holder) : spec;

        const char *timeout =
            json_string_value(json_object_get(json_object_get(spec, "timeouts"), "pipeline"));

        if (!timeout || strcmp(timeout, "1h0m0s") != 0)
            fail_msg("case '%s': timeouts.pipeline not defaulted", cases[i].name);
        if (!json_string_value(json_object_get(holder, "serviceAccountName")) ||
            strcmp(json_string_value(json_object_get(holder, "serviceAccountName")), "default"))
            fail_msg("case '%s': serviceAccountName not defaulted", cases[i].name);
        json_decref(ops);
        json_decref(a);
        json_decref(rv);
        json_decref(obj);
    }
    tekton_config_free(cfg);
}

static void test_webhook_default_param_types_and_no_patch_when_complete(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *task = j("{'apiVersion':'tekton.dev/v1','kind':'Task','metadata':{'name':'a'},"
                     "'spec':{'params':[{'name':'s'},{'name':'arr','default':['x']},"
                     "{'name':'o','properties':{'k':{}}}],'steps':[{'image':'b'}]}}");
    json_t *rv = review("CREATE", task, NULL);
    json_t *a = webhook_default(rv, cfg);
    json_t *ops = patch_of(a);
    const json_t *params = json_object_get(patched(ops, "/spec"), "params");
    static const char *const want[] = {"string", "array", "object"};
    json_t *again, *rv2, *a2;

    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(params, i), "type")),
                            want[i]);
    /* applying the patch and defaulting again changes nothing */
    again = json_deep_copy(task);
    json_object_set_new(again, "spec", json_deep_copy(patched(ops, "/spec")));
    rv2 = review("CREATE", again, NULL);
    a2 = webhook_default(rv2, cfg);
    assert_true(allowed(a2));
    assert_null(json_object_get(json_object_get(a2, "response"), "patch"));
    json_decref(a2);
    json_decref(rv2);
    json_decref(again);
    json_decref(ops);
    json_decref(a);
    json_decref(rv);
    json_decref(task);
    tekton_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_validate_admits_every_upstream_example),
        cmocka_unit_test(test_webhook_validate_refusals_table),
        cmocka_unit_test(test_webhook_validate_spec_unchanged_update_and_delete_allowed),
        cmocka_unit_test(test_webhook_validate_generate_name_without_name_admitted),
        cmocka_unit_test(test_webhook_review_without_uid_denied),
        cmocka_unit_test(test_webhook_default_taskrun),
        cmocka_unit_test(test_webhook_default_pipelinerun_per_version),
        cmocka_unit_test(test_webhook_default_param_types_and_no_patch_when_complete),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
