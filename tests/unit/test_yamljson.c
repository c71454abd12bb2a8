/* Unit tests for lib/yamljson: scalar resolution, limits, and error positions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/xalloc.h"
#include "lib/yamljson.h"

static void test_yamljson_parse_table(void **state)
{
    static const struct {
        const char *name;
        const char *yaml;
        const char *want; /* compact JSON, keys sorted */
    } cases[] = {
        {"empty stream is null", "", "null"},
        {"comment only is null", "# nothing\n", "null"},
        {"plain mapping", "a: b\nc: d\n", "{\"a\": \"b\", \"c\": \"d\"}"},
        {"nested sequence of maps", "l:\n- n: 1\n- n: 2\n", "{\"l\": [{\"n\": 1}, {\"n\": 2}]}"},
        {"flow style", "{a: [1, 2.5, x]}", "{\"a\": [1, 2.5, \"x\"]}"},
        {"booleans as kubectl reads them", "[true, False, yes, off, Y]",
         "[true, false, true, false, true]"},
        {"nulls", "[~, null, NULL, ]", "[null, null, null]"},
        {"quoted scalars stay strings", "['true', \"1\", '']", "[\"true\", \"1\", \"\"]"},
        {"str tag stays string", "!!str 123", "\"123\""},
        {"hex and octal", "[0x1f, 0o17, 017, -5, +3]", "[31, 15, 15, -5, 3]"},
        {"exponent float", "1e3", "1000.0"},
        {"huge integer becomes real", "123456789012345678901234", "1.2345678901234569e23"},
        {"version-like text stays string", "1.2.3", "\"1.2.3\""},
        {"block literal", "k: |\n  line1\n  line2\n", "{\"k\": \"line1\\nline2\\n\"}"},
        {"only first document", "a: 1\n---\nb: 2\n", "{\"a\": 1}"},
        {"anchor without alias is fine", "a: &x 1\n", "{\"a\": 1}"},
        {"numeric key becomes string", "1: one\n", "{\"1\": \"one\"}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *got = NULL;
        char *err = NULL;
        char *text;
        int r = yamljson_parse(cases[i].yaml, strlen(cases[i].yaml), &got, &err);

        if (r != 0)
            fail_msg("case '%s': rc %d (%s)", cases[i].name, r, err);
        text = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS);
        if (strcmp(text, cases[i].want) != 0)
            fail_msg("case '%s': got %s, want %s", cases[i].name, text, cases[i].want);
        free(text);
        json_decref(got);
    }
}

static void test_yamljson_parse_errors_table(void **state)
{
    static const struct {
        const char *name;
        const char *yaml;
        const char *want_prefix;
    } cases[] = {
        {"alias refused", "a: &x [1]\nb: *x\n", "line 2, column 4: aliases are not supported"},
        {"billion laughs refused", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
         "line 2, column 8: aliases are not supported"},
        {"unclosed flow", "a: [1, 2\n", "line 2, column 1: "},
        {"bad indentation", "a:\n  b: 1\n c: 2\n", "line 3, column 2: "},
        {"complex key", "? [a]\n: 1\n", "line 1, column 3: mapping key is not a scalar"},
        {"trailing garbage after root", "a: 1\n]\n", "line 2, column 1: "},
        {"tab indentation", "a:\n\tb: 1\n", "line 2, column 1: "},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *got = NULL;
        char *err = NULL;
        int r = yamljson_parse(cases[i].yaml, strlen(cases[i].yaml), &got, &err);

        if (r != -EINVAL)
            fail_msg("case '%s': rc %d, want -EINVAL", cases[i].name, r);
        assert_null(got);
        if (strncmp(err, cases[i].want_prefix, strlen(cases[i].want_prefix)) != 0)
            fail_msg("case '%s': got '%s', want prefix '%s'", cases[i].name, err,
                     cases[i].want_prefix);
        free(err);
    }
}

static void test_yamljson_parse_deep_nesting_is_refused(void **state)
{
    size_t n = YAMLJSON_MAX_DEPTH + 10;
    char *yaml = xmalloc(2 * n + 1);
    json_t *got = NULL;
    char *err = NULL;

    memset(yaml, '[', n);
    memset(yaml + n, ']', n);
    yaml[2 * n] = '\0';
    assert_int_equal(yamljson_parse(yaml, 2 * n, &got, &err), -EINVAL);
    assert_non_null(strstr(err, "nesting deeper than the limit"));
    free(err);
    free(yaml);
}

static void test_yamljson_parse_oversized_input_is_e2big(void **state)
{
    size_t len = YAMLJSON_MAX_SIZE + 1;
    char *yaml = xmalloc(len);
    json_t *got = NULL;
    char *err = NULL;

    memset(yaml, ' ', len);
    assert_int_equal(yamljson_parse(yaml, len, &got, &err), -E2BIG);
    assert_non_null(strstr(err, "limit"));
    free(err);
    free(yaml);
}

static void test_yamljson_parse_invalid_utf8_is_einval(void **state)
{
    static const char yaml[] = "a: \"\\xff\\xfe\"\nb: c\n";
    json_t *got = NULL;
    char *err = NULL;

    /* libyaml escapes to U+00FF so this is valid; raw invalid bytes are refused by libyaml */
    assert_int_equal(yamljson_parse(yaml, strlen(yaml), &got, &err), 0);
    json_decref(got);
    assert_int_equal(yamljson_parse("a: \xff\xfe\n", 6, &got, &err), -EINVAL);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamljson_parse_table),
        cmocka_unit_test(test_yamljson_parse_errors_table),
        cmocka_unit_test(test_yamljson_parse_deep_nesting_is_refused),
        cmocka_unit_test(test_yamljson_parse_oversized_input_is_e2big),
        cmocka_unit_test(test_yamljson_parse_invalid_utf8_is_einval),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
