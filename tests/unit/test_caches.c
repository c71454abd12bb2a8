/* caches_trim_pod and caches_trim_run: what the Pod and run informers keep of each object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "controller/caches.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *obj = json_loads(text, 0, &err);

    if (!obj)
        fail_msg("fixture JSON: %s", err.text);
    return obj;
}

static void assert_trims_to(const char *in, const char *want)
{
    json_t *pod = parse(in);
    json_t *expected = parse(want);

    caches_trim_pod(pod);
    if (!json_equal(pod, expected)) {
        char *got = json_dumps(pod, JSON_SORT_KEYS | JSON_COMPACT);

        fail_msg("trimmed to %s, want %s", got, want);
    }
    json_decref(pod);
    json_decref(expected);
}

static void test_caches_trim_pod_keeps_container_names_and_images_in_order(void **state)
{
    (void)state;
    assert_trims_to(
        "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"tekton.dev/ready\":\"READY\"}},"
        "\"spec\":{\"nodeName\":\"n1\",\"serviceAccountName\":\"sa\","
        "\"volumes\":[{\"name\":\"tekton-internal-tools\",\"emptyDir\":{}}],"
        "\"initContainers\":[{\"name\":\"prepare\",\"image\":\"ep\",\"args\":[\"init\"],"
        "\"volumeMounts\":[{\"name\":\"tekton-internal-tools\",\"mountPath\":\"/tekton/bin\"}]}],"
        "\"containers\":[{\"name\":\"step-b\",\"image\":\"busybox\",\"command\":[\"/tekton/bin/"
        "ep\"],"
        "\"env\":[{\"name\":\"HOME\",\"value\":\"/tekton/home\"}],\"resources\":{}},"
        "{\"name\":\"step-a\",\"image\":\"alpine\",\"args\":[\"-post_file\"]},"
        "{\"name\":\"sidecar-s\",\"image\":\"redis\",\"ports\":[{\"containerPort\":6379}]}]},"
        "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"step-b\","
        "\"state\":{\"running\":{}}}]}}",
        "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"tekton.dev/ready\":\"READY\"}},"
        "\"spec\":{\"nodeName\":\"n1\",\"serviceAccountName\":\"sa\","
        "\"initContainers\":[{\"name\":\"prepare\",\"image\":\"ep\"}],"
        "\"containers\":[{\"name\":\"step-b\",\"image\":\"busybox\"},"
        "{\"name\":\"step-a\",\"image\":\"alpine\"},{\"name\":\"sidecar-s\",\"image\":\"redis\"}]},"
        "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"step-b\","
        "\"state\":{\"running\":{}}}]}}");
}

static void test_caches_trim_pod_leaves_odd_shapes_alone(void **state)
{
    static const char *const same[] = {
        "{}",
        "{\"metadata\":{\"name\":\"p\"}}",
        "{\"spec\":{}}",
        "{\"spec\":{\"containers\":{\"not\":\"an array\"}}}",
        "{\"spec\":{\"containers\":[\"not an object\",{\"name\":\"c\"}]}}",
        "{\"spec\":\"not an object\"}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        assert_trims_to(same[i], same[i]);
}

#define TASKSPEC "{\"steps\":[{\"name\":\"s\",\"image\":\"busybox\",\"command\":[\"true\"]}]}"

static void test_caches_trim_run_shares_an_equal_status_spec(void **state)
{
    static const char *const in[][2] = {
        {"{\"spec\":{\"taskSpec\":" TASKSPEC
         "},\"status\":{\"podName\":\"p\",\"taskSpec\":" TASKSPEC "}}",
         "taskSpec"},
        {"{\"spec\":{\"pipelineSpec\":{\"tasks\":[{\"name\":\"t\",\"taskSpec\":" TASKSPEC
         "}]}},\"status\":{\"pipelineSpec\":{\"tasks\":[{\"name\":\"t\",\"taskSpec\":" TASKSPEC
         "}]}}}",
         "pipelineSpec"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        json_t *run = parse(in[i][0]);
        json_t *before = json_deep_copy(run);
        const char *key = in[i][1];

        caches_trim_run(run, key);
        /* the same JSON as before, status's copy now the spec's own tree */
        assert_true(json_equal(run, before));
        assert_ptr_equal(json_object_get(json_object_get(run, "status"), key),
                         json_object_get(json_object_get(run, "spec"), key));
        json_decref(before);
        json_decref(run);
    }
}

static void test_caches_trim_run_leaves_different_or_missing_specs_alone(void **state)
{
    static const char *const same[] = {
        "{}",
        "{\"spec\":{\"taskSpec\":" TASKSPEC "}}", /* not started */
        "{\"spec\":{\"taskRef\":{\"name\":\"t\"}},\"status\":{\"taskSpec\":" TASKSPEC
        "}}", /* resolved */
        "{\"spec\":{\"taskSpec\":{\"steps\":[]}},\"status\":{\"taskSpec\":" TASKSPEC
        "}}",                                                              /* differ */
        "{\"spec\":{\"taskSpec\":\"x\"},\"status\":{\"taskSpec\":\"x\"}}", /* not objects */
        "{\"spec\":\"not an object\",\"status\":{\"taskSpec\":" TASKSPEC "}}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        json_t *run = parse(same[i]);
        json_t *before = json_deep_copy(run);
        const json_t *status_spec = json_object_get(json_object_get(run, "status"), "taskSpec");

        caches_trim_run(run, "taskSpec");
        assert_true(json_equal(run, before));
        /* untouched: still its own tree, not the spec's */
        assert_ptr_equal(json_object_get(json_object_get(run, "status"), "taskSpec"), status_spec);
        if (status_spec)
            assert_ptr_not_equal(status_spec,
                                 json_object_get(json_object_get(run, "spec"), "taskSpec"));
        json_decref(before);
        json_decref(run);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caches_trim_pod_keeps_container_names_and_images_in_order),
        cmocka_unit_test(test_caches_trim_pod_leaves_odd_shapes_alone),
        cmocka_unit_test(test_caches_trim_run_shares_an_equal_status_spec),
        cmocka_unit_test(test_caches_trim_run_leaves_different_or_missing_specs_alone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
