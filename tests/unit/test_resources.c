/* Unit tests for controller/resources: quantities, TaskRun computeResources, LimitRanges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/resources.h"

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s at %d:%d in %s", err.text, err.line, err.column, text);
    return v;
}

static void assert_json_equal_msg(const json_t *got, const json_t *want, const char *what)
{
    if (!got && !want)
        return;
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_SORT_KEYS);

        print_error("%s\n--- got:  %s\n--- want: %s\n", what, g ? g : "(null)", w ? w : "(null)");
        free(g);
        free(w);
        fail_msg("%s differs", what);
    }
}

static void test_resources_quantity_parse_table(void **state)
{
    static const struct {
        const char *text;
        int want_r;
        int64_t want_milli;
        enum resources_format want_format;
    } cases[] = {
        {"100m", 0, 100, RESOURCES_DECIMAL_SI},
        {"1", 0, 1000, RESOURCES_DECIMAL_SI},
        {"0.5", 0, 500, RESOURCES_DECIMAL_SI},
        {".5", 0, 500, RESOURCES_DECIMAL_SI},
        {"1.5k", 0, 1500000, RESOURCES_DECIMAL_SI},
        {"1Gi", 0, 1073741824000LL, RESOURCES_BINARY_SI},
        {"0.5Gi", 0, 536870912000LL, RESOURCES_BINARY_SI},
        {"512Mi", 0, 536870912000LL, RESOURCES_BINARY_SI},
        {"1G", 0, 1000000000000LL, RESOURCES_DECIMAL_SI},
        {"2e3", 0, 2000000, RESOURCES_DECIMAL_EXPONENT},
        {"1P", 0, 1000000000000000000LL, RESOURCES_DECIMAL_SI},
        {"1E", -ERANGE, 0, RESOURCES_DECIMAL_SI}, /* 1e21 thousandths */
        {"1n", 0, 1, RESOURCES_DECIMAL_SI},       /* MilliValue rounds up */
        {"1500u", 0, 2, RESOURCES_DECIMAL_SI},    /* 1.5m -> 2m */
        {"0.0001", 0, 1, RESOURCES_DECIMAL_SI},   /* 0.1m -> 1m */
        {"007", 0, 7000, RESOURCES_DECIMAL_SI},   /* leading zeros */
        {"0", 0, 0, RESOURCES_DECIMAL_SI},
        {"10Ei", -ERANGE, 0, RESOURCES_DECIMAL_SI}, /* beyond int64 thousandths */
        {"", -EINVAL, 0, RESOURCES_DECIMAL_SI},
        {"m", -EINVAL, 0, RESOURCES_DECIMAL_SI},
        {"1 Gi", -EINVAL, 0, RESOURCES_DECIMAL_SI},
        {"1GB", -EINVAL, 0, RESOURCES_DECIMAL_SI},
        {"1.2.3", -EINVAL, 0, RESOURCES_DECIMAL_SI},
        {"1e", -EINVAL, 0, RESOURCES_DECIMAL_SI},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t milli = -1;
        enum resources_format f = RESOURCES_DECIMAL_SI;
        int r = resources_quantity_parse(cases[i].text, &milli, &f);

        if (r != cases[i].want_r)
            fail_msg("case '%s': r %d, want %d", cases[i].text, r, cases[i].want_r);
        if (r == 0 && (milli != cases[i].want_milli || f != cases[i].want_format))
            fail_msg("case '%s': %lld (format %d), want %lld (format %d)", cases[i].text,
                     (long long)milli, f, (long long)cases[i].want_milli, cases[i].want_format);
    }
}

static void test_resources_quantity_format_is_canonical(void **state)
{
    static const struct {
        int64_t milli;
        enum resources_format format;
        const char *want;
    } cases[] = {
        {500, RESOURCES_DECIMAL_SI, "500m"},
        {1500, RESOURCES_DECIMAL_SI, "1500m"},
        {2000, RESOURCES_DECIMAL_SI, "2"},
        {1500000, RESOURCES_DECIMAL_SI, "1500"},
        {2000000, RESOURCES_DECIMAL_SI, "2k"},
        {333333333000LL, RESOURCES_DECIMAL_SI, "333333333"},
        {536870912000LL, RESOURCES_BINARY_SI, "512Mi"},
        {1073741824000LL, RESOURCES_BINARY_SI, "1Gi"},
        {1500000, RESOURCES_BINARY_SI, "1500"}, /* not a multiple of 1024: decimal */
        {1000000, RESOURCES_BINARY_SI, "1k"},   /* below 1024: decimal */
        {500, RESOURCES_BINARY_SI, "500m"},     /* a fraction: decimal */
        {2000000, RESOURCES_DECIMAL_EXPONENT, "2e3"},
        {0, RESOURCES_BINARY_SI, "0"},
        {-250, RESOURCES_DECIMAL_SI, "-250m"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = resources_quantity_format(cases[i].milli, cases[i].format);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%lld (format %d): got '%s', want '%s'", (long long)cases[i].milli,
                     cases[i].format, got, cases[i].want);
        free(got);
    }
}

/* Two steps under spec.computeResources: §11.1 step 3, one row per situation. */
static void test_resources_apply_taskrun_table(void **state)
{
    static const struct {
        const char *name;
        const char *compute;
        const char *step0; /* resources of step 0 before; step 1 has none */
        const char *want0;
        const char *want1;
    } cases[] = {
        {"requests divided, limits copied",
         "{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},\"limits\":{\"memory\":\"2Gi\"}}", NULL,
         "{\"requests\":{\"cpu\":\"500m\",\"memory\":\"512Mi\"},\"limits\":{\"memory\":\"2Gi\"}}",
         "{\"requests\":{\"cpu\":\"500m\",\"memory\":\"512Mi\"},\"limits\":{\"memory\":\"2Gi\"}}"},
        {"limits only: their share becomes the request", "{\"limits\":{\"cpu\":\"3\"}}", NULL,
         "{\"requests\":{\"cpu\":\"1500m\"},\"limits\":{\"cpu\":\"3\"}}",
         "{\"requests\":{\"cpu\":\"1500m\"},\"limits\":{\"cpu\":\"3\"}}"},
        {"limits only, a step with requests: its requests are dropped",
         "{\"limits\":{\"cpu\":\"3\"}}",
         "{\"requests\":{\"cpu\":\"100m\"},\"limits\":{\"cpu\":\"9\"}}",
         "{\"limits\":{\"cpu\":\"3\"}}",
         "{\"requests\":{\"cpu\":\"1500m\"},\"limits\":{\"cpu\":\"3\"}}"},
        {"requests only: the steps' limits go", "{\"requests\":{\"memory\":\"1G\"}}",
         "{\"limits\":{\"memory\":\"4G\"}}", "{\"requests\":{\"memory\":\"500M\"}}",
         "{\"requests\":{\"memory\":\"500M\"}}"},
        {"whole bytes, rounded down", "{\"requests\":{\"memory\":\"3\",\"cpu\":\"1m\"}}", NULL,
         "{\"requests\":{\"memory\":\"1\",\"cpu\":\"0\"}}",
         "{\"requests\":{\"memory\":\"1\",\"cpu\":\"0\"}}"},
        {"empty computeResources: nothing changes", "{}", "{\"limits\":{\"cpu\":\"9\"}}",
         "{\"limits\":{\"cpu\":\"9\"}}", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *steps = J("[{\"name\":\"step-a\"},{\"name\":\"step-b\"}]");
        json_t *compute = J(cases[i].compute);
        json_t *want0 = cases[i].want0 ? J(cases[i].want0) : NULL;
        json_t *want1 = cases[i].want1 ? J(cases[i].want1) : NULL;

        if (cases[i].step0)
            json_object_set_new(json_array_get(steps, 0), "resources", J(cases[i].step0));
        resources_apply_taskrun(steps, compute);
        assert_json_equal_msg(json_object_get(json_array_get(steps, 0), "resources"), want0,
                              cases[i].name);
        assert_json_equal_msg(json_object_get(json_array_get(steps, 1), "resources"), want1,
                              cases[i].name);
        json_decref(want0);
        json_decref(want1);
        json_decref(compute);
        json_decref(steps);
    }
}

#define LR(limits) "{\"kind\":\"LimitRange\",\"spec\":{\"limits\":[" limits "]}}"

/* A Pod of two steps (step-a asks for 300m cpu), a sidecar and an init container. */
#define POD                                                                                        \
    "{\"spec\":{\"initContainers\":[{\"name\":\"prepare\"}],\"containers\":["                      \
    "{\"name\":\"step-a\",\"resources\":{\"requests\":{\"cpu\":\"300m\"}}},"                       \
    "{\"name\":\"step-b\"},{\"name\":\"sidecar-db\"}]}}"

static void test_resources_apply_limitranges_table(void **state)
{
    static const struct {
        const char *name;
        const char *limitranges;
        const char *want_a; /* requests of step-a, step-b */
        const char *want_b;
    } cases[] = {
        {"no LimitRange", "[]", "{\"cpu\":\"300m\"}", NULL},
        {"defaultRequest shared among the steps; own request kept",
         "[" LR("{\"type\":\"Container\",\"defaultRequest\":{\"cpu\":\"500m\",\"memory\":"
                "\"256Mi\"}}") "]",
         "{\"cpu\":\"300m\",\"memory\":\"128Mi\"}", "{\"cpu\":\"250m\",\"memory\":\"128Mi\"}"},
        {"min wins over a smaller share",
         "[" LR("{\"type\":\"Container\",\"defaultRequest\":{\"memory\":\"100Mi\"},\"min\":"
                "{\"memory\":\"64Mi\"}}") "]",
         "{\"cpu\":\"300m\",\"memory\":\"64Mi\"}", "{\"memory\":\"64Mi\"}"},
        {"min alone", "[" LR("{\"type\":\"Container\",\"min\":{\"cpu\":\"10m\"}}") "]",
         "{\"cpu\":\"300m\"}", "{\"cpu\":\"10m\"}"},
        {"Pod-type items are ignored", "[" LR("{\"type\":\"Pod\",\"min\":{\"cpu\":\"1\"}}") "]",
         "{\"cpu\":\"300m\"}", NULL},
        {"two items of one range: the larger default",
         "[" LR("{\"type\":\"Container\",\"defaultRequest\":{\"cpu\":\"200m\"}},"
                "{\"type\":\"Container\",\"defaultRequest\":{\"cpu\":\"800m\"}}") "]",
         "{\"cpu\":\"300m\"}", "{\"cpu\":\"400m\"}"},
        {"two ranges: largest min, smallest defaultRequest",
         "[" LR("{\"type\":\"Container\",\"defaultRequest\":{\"cpu\":\"800m\"},\"min\":{\"cpu\":"
                "\"50m\"}}") "," LR("{\"type\":\"Container\",\"defaultRequest\":{\"cpu\":\"400m\"},"
                                    "\"min\":{\"cpu\":\"100m\"}}") "]",
         "{\"cpu\":\"300m\"}", "{\"cpu\":\"200m\"}"},
        {"two ranges, the later without defaultRequest: upstream resets it (min still applies)",
         "[" LR("{\"type\":\"Container\",\"defaultRequest\":{\"cpu\":\"800m\"}}") "," LR(
             "{\"type\":\"Container\",\"min\":{\"cpu\":\"20m\"}}") "]",
         "{\"cpu\":\"300m\"}", "{\"cpu\":\"20m\"}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *pod = J(POD);
        json_t *lrs = J(cases[i].limitranges);
        json_t *want_a = cases[i].want_a ? J(cases[i].want_a) : NULL;
        json_t *want_b = cases[i].want_b ? J(cases[i].want_b) : NULL;
        const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
        const json_t *res_b;

        resources_apply_limitranges(pod, lrs);
        assert_json_equal_msg(
            json_object_get(json_object_get(json_array_get(containers, 0), "resources"),
                            "requests"),
            want_a, cases[i].name);
        res_b = json_object_get(json_array_get(containers, 1), "resources");
        assert_json_equal_msg(json_object_get(res_b, "requests"), want_b, cases[i].name);
        /* sidecars, init containers and limits are the API server's LimitRanger's */
        if (json_object_get(json_array_get(containers, 2), "resources"))
            fail_msg("case '%s': the sidecar got resources", cases[i].name);
        if (json_object_get(
                json_array_get(json_object_get(json_object_get(pod, "spec"), "initContainers"), 0),
                "resources"))
            fail_msg("case '%s': the init container got resources", cases[i].name);
        if (json_object_get(res_b, "limits"))
            fail_msg("case '%s': limits were set", cases[i].name);
        json_decref(want_a);
        json_decref(want_b);
        json_decref(lrs);
        json_decref(pod);
    }
}

static void test_resources_limitranges_in_filters_by_namespace_and_sorts_by_name(void **state)
{
    json_t *all = J("[{\"metadata\": {\"namespace\": \"a\", \"name\": \"zz\"}},"
                    " {\"metadata\": {\"namespace\": \"b\", \"name\": \"mm\"}},"
                    " {\"metadata\": {\"namespace\": \"a\", \"name\": \"aa\"}},"
                    " {\"metadata\": {\"name\": \"no-namespace\"}}]");
    json_t *in_a = resources_limitranges_in(all, "a");
    json_t *in_c = resources_limitranges_in(all, "c");

    assert_int_equal(json_array_size(in_a), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(in_a, 0), "metadata"), "name")),
                        "aa");
    /* the same objects, not copies: the cache's */
    assert_ptr_equal(json_array_get(in_a, 1), json_array_get(all, 0));
    assert_int_equal(json_array_size(in_c), 0);
    json_decref(in_a);
    json_decref(in_c);
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resources_quantity_parse_table),
        cmocka_unit_test(test_resources_quantity_format_is_canonical),
        cmocka_unit_test(test_resources_apply_taskrun_table),
        cmocka_unit_test(test_resources_apply_limitranges_table),
        cmocka_unit_test(test_resources_limitranges_in_filters_by_namespace_and_sorts_by_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
