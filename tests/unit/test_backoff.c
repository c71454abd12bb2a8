/* Unit tests for lib/backoff: the delay table, the ceiling, jitter bounds, reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/backoff.h"

/* A scripted random source: returns the values in order, then repeats the last one. */
struct script {
    const uint32_t *values;
    size_t n;
    size_t i;
};

static uint32_t scripted(void *ctx)
{
    struct script *s = ctx;
    uint32_t v = s->values[s->i < s->n ? s->i : s->n - 1];

    s->i++;
    return v;
}

static void test_backoff_delay_table(void **state)
{
    static const struct {
        const char *name;
        uint64_t base, max;
        unsigned attempt;
        uint64_t want;
    } cases[] = {
        {"first attempt is base", 100, 10000, 0, 100},
        {"second doubles", 100, 10000, 1, 200},
        {"fifth is base*16", 100, 10000, 4, 1600},
        {"capped at max", 100, 10000, 7, 10000},
        {"huge attempt saturates at max", 100, 10000, 4000, 10000},
        {"max below doubling point", 1000, 1500, 1, 1500},
        {"base above max gives max", 5000, 1000, 0, 1000},
        {"near overflow saturates", UINT64_MAX / 2 + 1, UINT64_MAX, 3, UINT64_MAX},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = backoff_delay(cases[i].base, cases[i].max, cases[i].attempt);

        if (got != cases[i].want)
            fail_msg("case '%s': got %llu, want %llu", cases[i].name, (unsigned long long)got,
                     (unsigned long long)cases[i].want);
    }
}

static void test_backoff_next_without_jitter_doubles_to_max(void **state)
{
    static const uint32_t r[] = {0xffffffffu};
    struct script s = {r, 1, 0};
    static const uint64_t want[] = {500, 1000, 2000, 4000, 8000, 10000, 10000};
    struct backoff b;

    backoff_init(&b, 500, 10000, 0.0, scripted, &s);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(backoff_next(&b), want[i]);
}

static void test_backoff_next_jitter_shortens_by_at_most_fraction(void **state)
{
    /* 0 -> no reduction, 2^31 -> half of jitter, max -> almost all of jitter */
    static const uint32_t r[] = {0, 0x80000000u, 0xffffffffu, 0x80000000u};
    struct script s = {r, 4, 0};
    struct backoff b;

    backoff_init(&b, 1000, 4000, 0.5, scripted, &s);
    assert_int_equal(backoff_next(&b), 1000); /* 1000 - 1000*0.5*0 */
    assert_int_equal(backoff_next(&b), 1500); /* 2000 - 2000*0.5*0.5 */
    assert_int_equal(backoff_next(&b), 2001); /* 4000 - just under 4000*0.5 */
    assert_int_equal(backoff_next(&b), 3000); /* capped 4000 - 4000*0.5*0.5 */
}

static void test_backoff_reset_starts_from_base(void **state)
{
    static const uint32_t r[] = {0};
    struct script s = {r, 1, 0};
    struct backoff b;

    backoff_init(&b, 10, 1000, 0.2, scripted, &s);
    backoff_next(&b);
    backoff_next(&b);
    assert_int_equal(backoff_next(&b), 40);
    backoff_reset(&b);
    assert_int_equal(backoff_next(&b), 10);
}

static void test_backoff_builtin_random_stays_in_bounds(void **state)
{
    struct backoff b;

    backoff_init(&b, 100, 800, 1.0, NULL, NULL);
    for (int i = 0; i < 200; i++) {
        uint64_t full = backoff_delay(100, 800, (unsigned)i);
        uint64_t got = backoff_next(&b);

        assert_true(got <= full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_delay_table),
        cmocka_unit_test(test_backoff_next_without_jitter_doubles_to_max),
        cmocka_unit_test(test_backoff_next_jitter_shortens_by_at_most_fraction),
        cmocka_unit_test(test_backoff_reset_starts_from_base),
        cmocka_unit_test(test_backoff_builtin_random_stays_in_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
