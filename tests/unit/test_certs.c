/* Unit tests for controller/certs: generation and the rotation decision. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/certs.h"
#include "lib/xalloc.h"

#define T0  INT64_C(1800000000) /* 2027-01-15 */
#define DAY INT64_C(86400)

static void test_certs_generate_is_usable_for_its_service(void **state)
{
    struct certs_bundle b = {0};

    assert_int_equal(
        certs_generate("tekton-pipelines-webhook", "tekton-pipelines", T0, 30 * DAY, &b), 0);
    assert_non_null(strstr(b.ca_cert, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(b.server_cert, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(b.server_key, "PRIVATE KEY-----"));
    assert_true(certs_is_usable(&b, "tekton-pipelines-webhook", "tekton-pipelines", T0));
    assert_int_equal(certs_not_after(b.server_cert), T0 + 30 * DAY);
    certs_bundle_done(&b);
    assert_null(b.ca_cert);
}

/* The rotation point: usable while more than a third of the lifetime is left. */
static void test_certs_is_usable_table(void **state)
{
    static const struct {
        const char *name;
        const char *service;
        const char *ns;
        int64_t now;
        bool want;
    } cases[] = {
        {"fresh", "svc", "ns", T0, true},
        {"within the backdated minute", "svc", "ns", T0 - 30, true},
        {"before notBefore", "svc", "ns", T0 - 2 * 60, false},
        {"half the lifetime gone", "svc", "ns", T0 + 15 * DAY, true},
        {"just before the two-thirds point", "svc", "ns", T0 + 19 * DAY, true},
        {"past the two-thirds point", "svc", "ns", T0 + 21 * DAY, false},
        {"expired", "svc", "ns", T0 + 31 * DAY, false},
        {"another service", "other", "ns", T0, false},
        {"another namespace", "svc", "other", T0, false},
    };
    struct certs_bundle b = {0};

    assert_int_equal(certs_generate("svc", "ns", T0, 30 * DAY, &b), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = certs_is_usable(&b, cases[i].service, cases[i].ns, cases[i].now);

        if (got != cases[i].want)
            fail_msg("case '%s': got %d, want %d", cases[i].name, got, cases[i].want);
    }
    certs_bundle_done(&b);
}

static void test_certs_is_usable_mismatched_or_broken_parts_false(void **state)
{
    struct certs_bundle a = {0}, b = {0}, mix;
    char garbage[] = "not a pem";

    assert_int_equal(certs_generate("svc", "ns", T0, 30 * DAY, &a), 0);
    assert_int_equal(certs_generate("svc", "ns", T0, 30 * DAY, &b), 0);
    /* another pair's key */
    mix = (struct certs_bundle){a.ca_cert, a.server_cert, b.server_key};
    assert_false(certs_is_usable(&mix, "svc", "ns", T0));
    /* another CA: the leaf does not verify */
    mix = (struct certs_bundle){b.ca_cert, a.server_cert, a.server_key};
    assert_false(certs_is_usable(&mix, "svc", "ns", T0));
    /* garbage and missing parts */
    mix = (struct certs_bundle){a.ca_cert, garbage, a.server_key};
    assert_false(certs_is_usable(&mix, "svc", "ns", T0));
    mix = (struct certs_bundle){NULL, a.server_cert, a.server_key};
    assert_false(certs_is_usable(&mix, "svc", "ns", T0));
    assert_int_equal(certs_not_after("garbage"), -1);
    certs_bundle_done(&a);
    certs_bundle_done(&b);
}

static void test_certs_generate_refuses_bad_input(void **state)
{
    struct certs_bundle b = {0};

    assert_int_equal(certs_generate("", "ns", T0, DAY, &b), -EINVAL);
    assert_int_equal(certs_generate("svc", NULL, T0, DAY, &b), -EINVAL);
    assert_int_equal(certs_generate("svc", "ns", T0, 60, &b), -EINVAL);
    assert_null(b.ca_cert);
}

static void test_certs_generate_makes_a_new_ca_each_time(void **state)
{
    struct certs_bundle a = {0}, b = {0};

    assert_int_equal(certs_generate("svc", "ns", T0, DAY, &a), 0);
    assert_int_equal(certs_generate("svc", "ns", T0, DAY, &b), 0);
    assert_string_not_equal(a.ca_cert, b.ca_cert);
    certs_bundle_done(&a);
    certs_bundle_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certs_generate_is_usable_for_its_service),
        cmocka_unit_test(test_certs_is_usable_table),
        cmocka_unit_test(test_certs_is_usable_mismatched_or_broken_parts_false),
        cmocka_unit_test(test_certs_generate_refuses_bad_input),
        cmocka_unit_test(test_certs_generate_makes_a_new_ca_each_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
