/*
 * Unit tests for controller/conversion: every Tekton object of the upstream v1 examples
 * (tests/unit/fixtures/resolve and pipelinerun) and the v1beta1 catalog Tasks
 * (manifests/catalog) survive a round trip through the other version, and the v1beta1 -> v1
 * renames land where v1 expects them.
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

#include "controller/conversion.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "lib/yamljson.h"

#define V1      "tekton.dev/v1"
#define V1BETA1 "tekton.dev/v1beta1"

static bool is_tekton_kind(const json_t *obj)
{
    static const char *const kinds[] = {"Task", "TaskRun", "Pipeline", "PipelineRun"};
    const char *k = json_string_value(json_object_get(obj, "kind"));

    for (size_t i = 0; k && i < 4; i++)
        if (strcmp(k, kinds[i]) == 0)
            return true;
    return false;
}

static json_t *convert(const json_t *obj, const char *to)
{
    json_t *out = NULL;
    char *err = NULL;

    if (conversion_convert(obj, to, &out, &err) < 0)
        fail_msg("cannot convert to %s: %s", to, err);
    return out;
}

/* Round-trip every Tekton object of every fixture in 'dir'; returns how many. */
static size_t round_trip_dir(const char *dir)
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
            json_t *down, *up;

            if (!is_tekton_kind(obj))
                continue;
            down = convert(obj, V1BETA1);
            up = convert(down, V1);
            if (!json_equal(up, obj)) {
                char *a = json_dumps(obj, JSON_SORT_KEYS), *b = json_dumps(up, JSON_SORT_KEYS);

                fail_msg("case '%s' object %zu: round trip changed it:\n%s\n%s", path, i, a, b);
            }
            json_decref(up);
            json_decref(down);
            n++;
        }
        json_decref(fixture);
        free(path);
    }
    closedir(d);
    return n;
}

static void test_conversion_v1_examples_round_trip(void **state)
{
    size_t n = round_trip_dir("tests/unit/fixtures/resolve") +
               round_trip_dir("tests/unit/fixtures/pipelinerun");

    /* the fixtures hold dozens of Tekton objects: a loader gone wrong would find none */
    assert_true(n >= 50);
}

static json_t *load_yaml(const char *path)
{
    struct buf b;
    json_t *obj = NULL;
    char *err = NULL;

    buf_init(&b, 1 << 20);
    assert_int_equal(buf_read_file(&b, path), 0);
    if (yamljson_parse(buf_str(&b), buf_len(&b), &obj, &err) < 0)
        fail_msg("cannot parse '%s': %s", path, err);
    buf_done(&b);
    return obj;
}

static void test_conversion_catalog_v1beta1_tasks_round_trip(void **state)
{
    static const char *const files[] = {"manifests/catalog/git-clone-0.9.yaml",
                                        "manifests/catalog/kaniko-0.6.yaml"};

    for (size_t i = 0; i < 2; i++) {
        json_t *obj = load_yaml(files[i]);
        json_t *up = convert(obj, V1);
        json_t *down = convert(up, V1BETA1);
        const json_t *step;
        size_t k;

        assert_string_equal(json_string_value(json_object_get(up, "apiVersion")), V1);
        json_array_foreach(json_object_get(json_object_get(up, "spec"), "steps"), k, step) {
            if (json_object_get(step, "resources"))
                fail_msg("case '%s': step %zu kept v1beta1 'resources'", files[i], k);
        }
        if (!json_equal(down, obj))
            fail_msg("case '%s': v1beta1 -> v1 -> v1beta1 changed the object", files[i]);
        json_decref(down);
        json_decref(up);
        json_decref(obj);
    }
}

/* The v1beta1 -> v1 renames, each checked at its v1 place. */
static void test_conversion_up_renames_table(void **state)
{
    static const struct {
        const char *name;
        const char *beta;
        const char *v1;
    } cases[] = {
        {"step resources",
         "{'kind':'Task','spec':{'steps':[{'name':'a','resources':{'limits':{'cpu':'1'}}}]}}",
         "{'kind':'Task','spec':{'steps':[{'name':'a','computeResources':{'limits':{'cpu':'1'}}}]}"
         "}"},
        {"sidecar and stepTemplate resources",
         "{'kind':'Task','spec':{'sidecars':[{'resources':{}}],'stepTemplate':{'resources':{}}}}",
         "{'kind':'Task','spec':{'sidecars':[{'computeResources':{}}],"
         "'stepTemplate':{'computeResources':{}}}}"},
        {"taskrun overrides and results",
         "{'kind':'TaskRun','spec':{'stepOverrides':[{'name':'a','resources':{}}],"
         "'sidecarOverrides':[{'name':'s'}]},'status':{'taskResults':[{'name':'r'}]}}",
         "{'kind':'TaskRun','spec':{'stepSpecs':[{'name':'a','computeResources':{}}],"
         "'sidecarSpecs':[{'name':'s'}]},'status':{'results':[{'name':'r'}]}}"},
        {"taskRef bundle", "{'kind':'TaskRun','spec':{'taskRef':{'name':'t','bundle':'reg/b:1'}}}",
         "{'kind':'TaskRun','spec':{'taskRef':{'resolver':'bundles','params':["
         "{'name':'bundle','value':'reg/b:1'},{'name':'name','value':'t'},"
         "{'name':'kind','value':'Task'}]}}}"},
        {"pipelinerun service account, pod template, timeout, results",
         "{'kind':'PipelineRun','spec':{'pipelineRef':{'name':'p'},'serviceAccountName':'sa',"
         "'podTemplate':{'nodeSelector':{'a':'b'}},'timeout':'1h0m0s'},"
         "'status':{'pipelineResults':[{'name':'r','value':'v'}]}}",
         "{'kind':'PipelineRun','spec':{'pipelineRef':{'name':'p'},'taskRunTemplate':{"
         "'serviceAccountName':'sa','podTemplate':{'nodeSelector':{'a':'b'}}},"
         "'timeouts':{'pipeline':'1h0m0s'}},'status':{'results':[{'name':'r','value':'v'}]}}"},
        {"taskRunSpecs",
         "{'kind':'PipelineRun','spec':{'taskRunSpecs':[{'pipelineTaskName':'a',"
         "'taskServiceAccountName':'sa','taskPodTemplate':{},'stepOverrides':[{'name':'s',"
         "'resources':{}}]}]}}",
         "{'kind':'PipelineRun','spec':{'taskRunSpecs':[{'pipelineTaskName':'a',"
         "'serviceAccountName':'sa','podTemplate':{},'stepSpecs':[{'name':'s',"
         "'computeResources':{}}]}]}}"},
        {"pipeline task bundle and embedded spec",
         "{'kind':'Pipeline','spec':{'tasks':[{'name':'a','taskRef':{'name':'t','bundle':'b'}},"
         "{'name':'c','taskSpec':{'steps':[{'resources':{}}]}}]}}",
         "{'kind':'Pipeline','spec':{'tasks':[{'name':'a','taskRef':{'resolver':'bundles',"
         "'params':[{'name':'bundle','value':'b'},{'name':'name','value':'t'},"
         "{'name':'kind','value':'Task'}]}},{'name':'c','taskSpec':{'steps':"
         "[{'computeResources':{}}]}}]}}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *beta_text = xstrdup(cases[i].beta), *v1_text = xstrdup(cases[i].v1);
        json_t *beta, *want, *got;

        for (char *p = beta_text; *p; p++)
            *p = *p == '\'' ? '"' : *p;
        for (char *p = v1_text; *p; p++)
            *p = *p == '\'' ? '"' : *p;
        beta = json_loads(beta_text, 0, NULL);
        want = json_loads(v1_text, 0, NULL);
        if (!beta || !want)
            fail_msg("case '%s': bad test JSON", cases[i].name);
        json_object_set_new(beta, "apiVersion", json_string(V1BETA1));
        json_object_set_new(want, "apiVersion", json_string(V1));
        got = convert(beta, V1);
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, JSON_SORT_KEYS);

            fail_msg("case '%s': got %s", cases[i].name, g);
        }
        json_decref(got);
        json_decref(want);
        json_decref(beta);
        free(beta_text);
        free(v1_text);
    }
}

/* Fields v1 has no place for ride in the annotation and come back on the way down. */
static void test_conversion_v1beta1_only_fields_survive_in_the_annotation(void **state)
{
    json_t *beta = json_loads(
        "{\"apiVersion\":\"tekton.dev/v1beta1\",\"kind\":\"TaskRun\",\"metadata\":{\"name\":\"x\"},"
        "\"spec\":{\"resources\":{\"inputs\":[{\"name\":\"src\"}]},\"taskSpec\":{\"steps\":["
        "{\"name\":\"s\",\"image\":\"busybox\",\"livenessProbe\":{}}]}},"
        "\"status\":{\"cloudEvents\":[{\"target\":\"http://x\"}]}}",
        0, NULL);
    json_t *up, *down;
    const char *ann;

    assert_non_null(beta);
    up = convert(beta, V1);
    assert_null(json_object_get(json_object_get(up, "spec"), "resources"));
    assert_null(json_object_get(json_object_get(up, "status"), "cloudEvents"));
    ann = json_string_value(json_object_get(
        json_object_get(json_object_get(up, "metadata"), "annotations"), CONVERSION_ANNOTATION));
    assert_non_null(ann);
    assert_non_null(strstr(ann, "/spec/taskSpec/steps/0/livenessProbe"));
    down = convert(up, V1BETA1);
    assert_true(json_equal(down, beta));
    json_decref(down);
    json_decref(up);
    json_decref(beta);
}

static void test_conversion_review_answers_every_object(void **state)
{
    json_t *review = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}]}}", "apiVersion",
        "apiextensions.k8s.io/v1", "kind", "ConversionReview", "request", "uid", "u-1",
        "desiredAPIVersion", V1, "objects", "apiVersion", V1BETA1, "kind", "Task", "metadata",
        "name", "a", "apiVersion", V1, "kind", "Pipeline", "metadata", "name", "b");
    json_t *out = conversion_review(review);
    const json_t *resp = json_object_get(out, "response");
    const json_t *objs = json_object_get(resp, "convertedObjects");

    assert_string_equal(json_string_value(json_object_get(resp, "uid")), "u-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(resp, "result"), "status")), "Success");
    assert_int_equal(json_array_size(objs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(objs, 0), "apiVersion")),
                        V1);
    json_decref(out);
    /* an unknown target version fails the whole review */
    json_object_set_new(json_object_get(review, "request"), "desiredAPIVersion",
                        json_string("tekton.dev/v2"));
    out = conversion_review(review);
    resp = json_object_get(out, "response");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(resp, "result"), "status")), "Failure");
    assert_int_equal(json_array_size(json_object_get(resp, "convertedObjects")), 0);
    json_decref(out);
    json_decref(review);
}

static void test_conversion_convert_refuses_unknown_kinds_and_versions(void **state)
{
    json_t *cm = json_pack("{s:s, s:s}", "apiVersion", V1BETA1, "kind", "ConfigMap");
    json_t *odd = json_pack("{s:s, s:s}", "apiVersion", "tekton.dev/v1alpha1", "kind", "Task");
    json_t *out = NULL;
    char *err = NULL;

    assert_int_equal(conversion_convert(cm, V1, &out, &err), -EINVAL);
    assert_non_null(strstr(err, "ConfigMap"));
    free(err);
    err = NULL;
    assert_int_equal(conversion_convert(odd, V1, &out, &err), -EINVAL);
    assert_non_null(strstr(err, "unknown version"));
    free(err);
    err = NULL;
    assert_int_equal(conversion_convert(json_null(), V1, &out, &err), -EINVAL);
    free(err);
    assert_null(out);
    json_decref(odd);
    json_decref(cm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversion_v1_examples_round_trip),
        cmocka_unit_test(test_conversion_catalog_v1beta1_tasks_round_trip),
        cmocka_unit_test(test_conversion_up_renames_table),
        cmocka_unit_test(test_conversion_v1beta1_only_fields_survive_in_the_annotation),
        cmocka_unit_test(test_conversion_review_answers_every_object),
        cmocka_unit_test(test_conversion_convert_refuses_unknown_kinds_and_versions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
