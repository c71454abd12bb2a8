/*
 * Unit tests for controller/pipelinerun_resolve: run defaults, the pipeline label, where the
 * spec comes from, pipeline-level substitution and its errors.
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

#include "controller/pipeline_dag.h"
#include "controller/pipelinerun_resolve.h"
#include "controller/substitute.h"
#include "controller/tekton_config.h"
#include "lib/xalloc.h"

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s", err.text);
    return v;
}

static const char *get_str(const json_t *root, const char *path)
{
    const json_t *v = root;
    char *copy = xstrdup(path);
    char *save = copy;

    for (char *seg = copy; seg && v;) {
        char *dot = strchr(seg, '.');
        char *end;

        if (dot)
            *dot = '\0';
        unsigned long idx = strtoul(seg, &end, 10);

        v = (*end == '\0' && end != seg) ? json_array_get(v, idx) : json_object_get(v, seg);
        seg = dot ? dot + 1 : NULL;
    }
    free(save);
    return json_string_value(v);
}

static void test_resolve_defaults_v1beta1_and_config(void **state)
{
    struct tekton_config *cfg = tekton_config_new_default();
    json_t *pr = load("{\"apiVersion\":\"tekton.dev/v1beta1\",\"metadata\":{\"name\":\"r\"},"
                      "\"spec\":{\"serviceAccountName\":\"sa\",\"timeout\":\"5m\","
                      "\"taskRunSpecs\":[{\"pipelineTaskName\":\"a\","
                      "\"taskServiceAccountName\":\"x\"}]}}");
    json_t *bare = load("{\"metadata\":{\"name\":\"r\"}}");
    json_t *d = pipelinerun_resolve_defaults(pr, cfg);
    json_t *d2 = pipelinerun_resolve_defaults(bare, cfg);

    assert_string_equal(get_str(d, "spec.taskRunTemplate.serviceAccountName"), "sa");
    assert_string_equal(get_str(d, "spec.timeouts.pipeline"), "5m");
    assert_string_equal(get_str(d, "spec.taskRunSpecs.0.serviceAccountName"), "x");
    assert_string_equal(get_str(d2, "spec.timeouts.pipeline"), "1h0m0s");
    assert_string_equal(get_str(d2, "spec.taskRunTemplate.serviceAccountName"), "default");
    assert_null(json_object_get(bare, "spec")); /* the input is not modified */
    json_decref(d);
    json_decref(d2);
    json_decref(pr);
    json_decref(bare);
    tekton_config_free(cfg);
}

static void test_resolve_pipeline_label_table(void **state)
{
    static const struct {
        const char *pr;
        const char *want;
    } cases[] = {
        {"{\"metadata\":{\"name\":\"r\",\"labels\":{\"tekton.dev/pipeline\":\"kept\"}},"
         "\"spec\":{\"pipelineRef\":{\"name\":\"p\"}}}",
         "kept"},
        {"{\"metadata\":{\"name\":\"r\"},\"spec\":{\"pipelineRef\":{\"name\":\"p\"}}}", "p"},
        {"{\"metadata\":{\"name\":\"pr-echo-x1\",\"generateName\":\"pr-echo-\"},"
         "\"spec\":{\"pipelineSpec\":{}}}",
         "pr-echo"},
        {"{\"metadata\":{\"name\":\"r\"},\"spec\":{\"pipelineSpec\":{}}}", "r"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *pr = load(cases[i].pr);
        char *got = pipelinerun_resolve_pipeline_label(pr);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(got);
        json_decref(pr);
    }
}

static void test_resolve_param_type_inference(void **state)
{
    static const struct {
        const char *spec;
        const char *want;
    } cases[] = {
        {"{\"name\":\"a\",\"type\":\"array\"}", "array"},
        {"{\"name\":\"a\",\"properties\":{\"k\":{}}}", "object"},
        {"{\"name\":\"a\",\"default\":[\"x\"]}", "array"},
        {"{\"name\":\"a\",\"default\":{\"k\":\"v\"}}", "object"},
        {"{\"name\":\"a\",\"default\":\"x\"}", "string"},
        {"{\"name\":\"a\"}", "string"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ps = load(cases[i].spec);

        if (strcmp(pipelinerun_resolve_param_type(ps), cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, pipelinerun_resolve_param_type(ps),
                     cases[i].want);
        json_decref(ps);
    }
}

struct resolve_case {
    json_t *pr;
    json_t *pipeline;
    struct tekton_config *cfg;
    struct pipelinerun_resolved *res;
    struct pipelinerun_resolve_error err;
};

static int run_resolve(struct resolve_case *rc, const char *pr, const char *pipeline,
                       const char *pipeline_error)
{
    json_t *raw = load(pr);
    struct pipelinerun_resolve_input in = {0};

    memset(rc, 0, sizeof(*rc));
    rc->cfg = tekton_config_new_default();
    rc->pr = pipelinerun_resolve_defaults(raw, rc->cfg);
    rc->pipeline = pipeline ? load(pipeline) : NULL;
    json_decref(raw);
    in.pipelinerun = rc->pr;
    in.pipeline = rc->pipeline;
    in.pipeline_error = pipeline_error;
    return pipelinerun_resolve(&in, &rc->res, &rc->err);
}

static void resolve_case_done(struct resolve_case *rc)
{
    pipelinerun_resolved_free(rc->res);
    pipelinerun_resolve_error_done(&rc->err);
    json_decref(rc->pr);
    json_decref(rc->pipeline);
    tekton_config_free(rc->cfg);
}

#define RUN_META "\"metadata\":{\"name\":\"r\",\"namespace\":\"ns\",\"uid\":\"u\"}"

static void test_resolve_needs_then_reports_pipeline(void **state)
{
    struct resolve_case rc;

    assert_int_equal(
        run_resolve(&rc, "{" RUN_META ",\"spec\":{\"pipelineRef\":{\"name\":\"p\"}}}", NULL, NULL),
        1);
    resolve_case_done(&rc);
    assert_int_equal(run_resolve(&rc, "{" RUN_META ",\"spec\":{\"pipelineRef\":{\"name\":\"p\"}}}",
                                 NULL, "pipelines.tekton.dev \"p\" not found"),
                     -EINVAL);
    assert_string_equal(rc.err.reason, PIPELINERUN_REASON_GET_PIPELINE);
    assert_string_equal(rc.err.message,
                        "Error retrieving pipeline for pipelinerun ns/r: tekton client cannot get "
                        "pipeline p from local cluster: pipelines.tekton.dev \"p\" not found");
    resolve_case_done(&rc);
}

static void test_resolve_stored_spec_wins_over_pipeline(void **state)
{
    struct resolve_case rc;

    assert_int_equal(run_resolve(&rc,
                                 "{" RUN_META ",\"spec\":{\"pipelineRef\":{\"name\":\"p\"}},"
                                 "\"status\":{\"pipelineSpec\":{\"tasks\":[{\"name\":\"stored\","
                                 "\"taskRef\":{\"name\":\"t\"}}]}}}",
                                 "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"tasks\":[{\"name\":"
                                 "\"fresh\",\"taskRef\":{\"name\":\"t\"}}]}}",
                                 NULL),
                     0);
    assert_string_equal(get_str(rc.res->spec, "tasks.0.name"), "stored");
    assert_string_equal(rc.res->pipeline_name, "p");
    assert_int_equal(pipeline_dag_size(rc.res->dag), 1);
    resolve_case_done(&rc);
}

static void test_resolve_substitutes_params_context_and_bound(void **state)
{
    struct resolve_case rc;
    const json_t *arr;

    assert_int_equal(
        run_resolve(&rc,
                    "{" RUN_META ",\"spec\":{\"params\":[{\"name\":\"url\",\"value\":\"git://x\"},"
                    "{\"name\":\"list\",\"value\":[\"a\",\"b\"]},{\"name\":\"o\",\"value\":"
                    "{\"k\":\"v\"}}],\"workspaces\":[{\"name\":\"src\",\"emptyDir\":{}}],"
                    "\"pipelineSpec\":{\"params\":[{\"name\":\"url\"},{\"name\":\"list\","
                    "\"type\":\"array\"},{\"name\":\"o\",\"properties\":{\"k\":{}}},"
                    "{\"name\":\"msg\",\"default\":\"from $(params.url)\"}],"
                    "\"workspaces\":[{\"name\":\"src\"},{\"name\":\"cache\",\"optional\":true}],"
                    "\"tasks\":[{\"name\":\"a\",\"params\":[{\"name\":\"m\",\"value\":"
                    "\"$(params.msg) $(params.list[1]) $(params.o.k) $(context.pipelineRun.name) "
                    "$(context.pipeline.name) $(workspaces.src.bound)/$(workspaces.cache.bound)"
                    "\"},{\"name\":\"all\",\"value\":\"$(params.list[*])\"}],"
                    "\"taskSpec\":{\"params\":[{\"name\":\"m\"}],\"steps\":[{\"image\":\"i\","
                    "\"script\":\"echo $(params.m) $(params.url)\"}]}}]}}}",
                    NULL, NULL),
        0);
    assert_string_equal(get_str(rc.res->spec, "tasks.0.params.0.value"),
                        "from git://x b v r r true/false");
    arr = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(rc.res->spec, "tasks"), 0), "params"),
            1),
        "value");
    assert_int_equal(json_array_size(arr), 2);
    /* the embedded spec sees the task's own param value, and the pipeline's undeclared ones */
    assert_string_equal(get_str(rc.res->spec, "tasks.0.taskSpec.steps.0.script"),
                        "echo from git://x b v r r true/false git://x");
    assert_string_equal(substitute_table_get_string(rc.res->given, "params.url"), "git://x");
    assert_null(substitute_table_get_string(rc.res->given, "params.msg"));
    resolve_case_done(&rc);
}

static void test_resolve_table_add_keys(void **state)
{
    struct substitute_table *t = substitute_table_new();
    json_t *arr = load("[\"x\",\"y\"]");
    json_t *obj = load("{\"k\":\"v\"}");
    json_t *num = json_integer(3);

    pipelinerun_resolve_table_add(t, "tasks.a.results.arr", arr);
    pipelinerun_resolve_table_add(t, "tasks.a.results.o", obj);
    pipelinerun_resolve_table_add(t, "tasks.a.results.n", num);
    assert_string_equal(substitute_table_get_string(t, "tasks.a.results.arr[1]"), "y");
    assert_string_equal(substitute_table_get_string(t, "tasks.a.results.o.k"), "v");
    assert_null(substitute_table_get_string(t, "tasks.a.results.n"));
    assert_non_null(substitute_whole_ref(t, "$(tasks.a.results.arr[*])"));
    json_decref(arr);
    json_decref(obj);
    json_decref(num);
    substitute_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_defaults_v1beta1_and_config),
        cmocka_unit_test(test_resolve_pipeline_label_table),
        cmocka_unit_test(test_resolve_param_type_inference),
        cmocka_unit_test(test_resolve_needs_then_reports_pipeline),
        cmocka_unit_test(test_resolve_stored_spec_wins_over_pipeline),
        cmocka_unit_test(test_resolve_substitutes_params_context_and_bound),
        cmocka_unit_test(test_resolve_table_add_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
