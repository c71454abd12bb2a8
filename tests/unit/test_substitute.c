/* Unit tests for controller/substitute: the single-pass replacer, whole-array references, the
 * field walker and its ceilings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/substitute.h"

static struct substitute_table *sample_table(void)
{
    struct substitute_table *t = substitute_table_new();
    json_t *arr = json_pack("[sss]", "a", "b", "c");
    json_t *empty = json_array();
    json_t *obj = json_pack("{s:s,s:s}", "url", "u", "commit", "sha");

    substitute_table_set_string(t, "params.x", "X");
    substitute_table_set_string(t, "params[\"x\"]", "X");
    substitute_table_set_string(t, "params['x']", "X");
    substitute_table_set_string(t, "params.ref", "$(params.x)");
    substitute_table_set_string(t, "params.empty", "");
    substitute_table_set_string(t, "params.uni", "h\xc3\xa9llo \xf0\x9f\x8c\x8d");
    substitute_table_set_array(t, "params.arr", arr);
    substitute_table_set_string(t, "params.arr[0]", "a");
    substitute_table_set_string(t, "params.arr[2]", "c");
    substitute_table_set_array(t, "params.none", empty);
    substitute_table_set_object(t, "params.obj", obj);
    substitute_table_set_string(t, "params.obj.url", "u");
    json_decref(arr);
    json_decref(empty);
    json_decref(obj);
    return t;
}

static void test_substitute_string_table(void **state)
{
    static const struct {
        const char *name;
        const char *in;
        const char *want;
    } cases[] = {
        {"plain text untouched", "echo hello", "echo hello"},
        {"dotted form", "v=$(params.x)", "v=X"},
        {"double-quoted bracket form", "v=$(params[\"x\"])", "v=X"},
        {"single-quoted bracket form", "v=$(params['x'])", "v=X"},
        {"several in one string", "$(params.x)-$(params.x)$(params.x)", "X-XX"},
        {"unknown reference left verbatim", "$(params.nope) $(foo.bar)",
         "$(params.nope) $(foo.bar)"},
        {"inserted value is not re-scanned", "$(params.ref)", "$(params.x)"},
        {"empty value", "[$(params.empty)]", "[]"},
        {"unterminated reference", "$(params.x", "$(params.x"},
        {"nested: inner reference replaced", "$($(params.x))", "$(X)"},
        {"dollar dollar is not an escape", "$$(params.x)", "$X"},
        {"array index", "$(params.arr[0])/$(params.arr[2])", "a/c"},
        {"out of range index stays", "$(params.arr[9])", "$(params.arr[9])"},
        {"whole array inside a string is not a string key", "x $(params.arr) y",
         "x $(params.arr) y"},
        {"object key", "$(params.obj.url)", "u"},
        {"unicode value", "$(params.uni)!", "h\xc3\xa9llo \xf0\x9f\x8c\x8d!"},
        {"unicode around", "\xe2\x9c\x93$(params.x)\xe2\x9c\x93", "\xe2\x9c\x93X\xe2\x9c\x93"},
        {"shell syntax untouched", "echo $(date) ${HOME} $((1+2))",
         "echo $(date) ${HOME} $((1+2))"},
        {"empty string", "", ""},
    };
    struct substitute_table *t = sample_table();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;

        if (substitute_string(t, cases[i].in, &out) != 0)
            fail_msg("case '%s': substitute_string failed", cases[i].name);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, out, cases[i].want);
        free(out);
    }
    substitute_table_free(t);
}

static void test_substitute_whole_ref_table(void **state)
{
    static const struct {
        const char *name;
        const char *in;
        const char *want; /* JSON of the whole value, or NULL */
    } cases[] = {
        {"bare array ref", "$(params.arr)", "[\"a\", \"b\", \"c\"]"},
        {"star array ref", "$(params.arr[*])", "[\"a\", \"b\", \"c\"]"},
        {"empty array", "$(params.none[*])", "[]"},
        {"star object ref", "$(params.obj[*])", "{\"url\": \"u\", \"commit\": \"sha\"}"},
        {"bare object ref is not whole", "$(params.obj)", NULL},
        {"string key is not whole", "$(params.x)", NULL},
        {"padded is not whole", " $(params.arr)", NULL},
        {"two refs are not whole", "$(params.arr)$(params.arr)", NULL},
        {"indexed is not whole", "$(params.arr[0])", NULL},
        {"too short", "$()", NULL},
    };
    struct substitute_table *t = sample_table();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const json_t *got = substitute_whole_ref(t, cases[i].in);
        json_t *want = cases[i].want ? json_loads(cases[i].want, 0, NULL) : NULL;

        if (!want && got)
            fail_msg("case '%s': expected no whole value", cases[i].name);
        if (want && !json_equal(got, want))
            fail_msg("case '%s': wrong whole value", cases[i].name);
        json_decref(want);
    }
    substitute_table_free(t);
}

static void test_substitute_json_expands_isolated_array_elements(void **state)
{
    static const char *const paths[] = {"args[]*", "command[]*", NULL};
    struct substitute_table *t = sample_table();
    json_t *step = json_pack("{s:[ssssss], s:[ss]}", "args", "echo", "$(params.arr[*])",
                             "$(params.none)", "--x=$(params.arr)", "$(params.x)", "$(params.arr)",
                             "command", "$(params.none[*])", "sh");
    json_t *want = json_pack("{s:[ssssssssss], s:[s]}", "args", "echo", "a", "b", "c",
                             "--x=$(params.arr)", "X", "a", "b", "c", "UNUSED", "command", "sh");

    json_array_remove(json_object_get(want, "args"), 9);
    assert_int_equal(substitute_json(step, paths, t, NULL), 0);
    assert_true(json_equal(step, want));
    json_decref(step);
    json_decref(want);
    substitute_table_free(t);
}

static void test_substitute_json_when_input_array_becomes_json_text(void **state)
{
    static const char *const paths[] = {"when[].input~", "when[].values[]*", NULL};
    struct substitute_table *t = sample_table();
    json_t *step = json_pack("{s:[{s:s,s:[s]},{s:s}]}", "when", "input", "$(params.arr[*])",
                             "values", "$(params.arr)", "input", "x$(params.x)");
    json_t *want = json_pack("{s:[{s:s,s:[sss]},{s:s}]}", "when", "input", "[\"a\",\"b\",\"c\"]",
                             "values", "a", "b", "c", "input", "xX");

    assert_int_equal(substitute_json(step, paths, t, NULL), 0);
    assert_true(json_equal(step, want));
    json_decref(step);
    json_decref(want);
    substitute_table_free(t);
}

static void test_substitute_json_touches_only_listed_fields(void **state)
{
    static const char *const paths[] = {"image", "env[].value", "volumeMounts[].mountPath", NULL};
    struct substitute_table *t = sample_table();
    json_t *step = json_pack(
        "{s:s, s:s, s:[{s:s,s:s}], s:{s:s}, s:[{s:s}], s:i}", "image", "img:$(params.x)", "timeout",
        "$(params.x)", "env", "name", "$(params.x)", "value", "$(params.x)", "securityContext",
        "runAsUser", "$(params.x)", "volumeMounts", "mountPath", "/m/$(params.x)", "odd", 3);
    json_t *want =
        json_pack("{s:s, s:s, s:[{s:s,s:s}], s:{s:s}, s:[{s:s}], s:i}", "image", "img:X", "timeout",
                  "$(params.x)", "env", "name", "$(params.x)", "value", "X", "securityContext",
                  "runAsUser", "$(params.x)", "volumeMounts", "mountPath", "/m/X", "odd", 3);

    assert_int_equal(substitute_json(step, paths, t, NULL), 0);
    assert_true(json_equal(step, want));
    json_decref(step);
    json_decref(want);
    substitute_table_free(t);
}

static void test_substitute_json_wrong_types_are_skipped(void **state)
{
    static const char *const paths[] = {
        "image", "args[]*", "env[].value", "csi.volumeAttributes{}", "params[]=", NULL};
    struct substitute_table *t = sample_table();
    json_t *step =
        json_pack("{s:i, s:s, s:[i,n,{}], s:{s:[i]}, s:[i,{s:b}]}", "image", 7, "args",
                  "$(params.x)", "env", 1, "csi", "volumeAttributes", 2, "params", 3, "value", 1);
    json_t *copy = json_deep_copy(step);

    assert_int_equal(substitute_json(step, paths, t, NULL), 0);
    assert_true(json_equal(step, copy));
    json_decref(step);
    json_decref(copy);
    substitute_table_free(t);
}

static void test_substitute_json_param_values_become_arrays_and_objects(void **state)
{
    static const char *const paths[] = {"params[]=", NULL};
    struct substitute_table *t = sample_table();
    json_t *step =
        json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:[ss]},{s:s,s:{s:s}}]}", "params",
                  "name", "a", "value", "$(params.arr[*])", "name", "o", "value",
                  "$(params.obj[*])", "name", "s", "value", "v$(params.x)", "name", "l", "value",
                  "$(params.arr)", "$(params.x)", "name", "m", "value", "k", "$(params.x)");
    json_t *want =
        json_pack("{s:[{s:s,s:[sss]},{s:s,s:{s:s,s:s}},{s:s,s:s},{s:s,s:[ssss]},{s:s,s:{s:s}}]}",
                  "params", "name", "a", "value", "a", "b", "c", "name", "o", "value", "url", "u",
                  "commit", "sha", "name", "s", "value", "vX", "name", "l", "value", "a", "b", "c",
                  "X", "name", "m", "value", "k", "X");

    assert_int_equal(substitute_json(step, paths, t, NULL), 0);
    assert_true(json_equal(step, want));
    json_decref(step);
    json_decref(want);
    substitute_table_free(t);
}

static void test_substitute_taskspec_covers_steps_sidecars_volumes(void **state)
{
    struct substitute_table *t = sample_table();
    json_t *spec = json_loads(
        "{\"steps\":[{\"name\":\"s\",\"image\":\"$(params.x)\",\"script\":\"echo $(params.x)\","
        "\"workingDir\":\"/w/"
        "$(params.x)\",\"computeResources\":{\"limits\":{\"cpu\":\"$(params.x)\"}}}],"
        "\"stepTemplate\":{\"image\":\"t$(params.x)\",\"script\":\"$(params.x)\"},"
        "\"sidecars\":[{\"script\":\"$(params.x)\",\"readinessProbe\":{\"exec\":{\"command\":[\"$("
        "params.x)\"]}}}],"
        "\"volumes\":[{\"name\":\"v$(params.x)\",\"configMap\":{\"name\":\"$(params.x)\"}}],"
        "\"workspaces\":[{\"name\":\"w\",\"mountPath\":\"/$(params.x)\"}]}",
        0, NULL);
    json_t *want = json_loads(
        "{\"steps\":[{\"name\":\"s\",\"image\":\"X\",\"script\":\"echo X\","
        "\"workingDir\":\"/w/X\",\"computeResources\":{\"limits\":{\"cpu\":\"$(params.x)\"}}}],"
        "\"stepTemplate\":{\"image\":\"tX\",\"script\":\"$(params.x)\"},"
        "\"sidecars\":[{\"script\":\"X\",\"readinessProbe\":{\"exec\":{\"command\":[\"$(params.x)"
        "\"]}}}],"
        "\"volumes\":[{\"name\":\"vX\",\"configMap\":{\"name\":\"X\"}}],"
        "\"workspaces\":[{\"name\":\"w\",\"mountPath\":\"/X\"}]}",
        0, NULL);

    assert_non_null(spec);
    assert_int_equal(substitute_taskspec(spec, t, NULL), 0);
    assert_true(json_equal(spec, want));
    json_decref(spec);
    json_decref(want);
    substitute_table_free(t);
}

static void test_substitute_string_past_ceiling_is_e2big(void **state)
{
    struct substitute_table *t = substitute_table_new();
    size_t n = SUBSTITUTE_MAX_STRING / 2 + 1;
    char *big = malloc(n + 1);
    char *out = NULL;

    memset(big, 'x', n);
    big[n] = '\0';
    substitute_table_set_string(t, "params.big", big);
    assert_int_equal(substitute_string(t, "$(params.big)", &out), 0);
    free(out);
    out = NULL;
    assert_int_equal(substitute_string(t, "$(params.big)$(params.big)", &out), -E2BIG);
    assert_null(out);
    free(big);
    substitute_table_free(t);
}

static void test_substitute_json_growth_ceiling_names_the_field(void **state)
{
    static const char *const paths[] = {"env[].value", NULL};
    struct substitute_table *t = substitute_table_new();
    size_t n = 1024 * 1024;
    char *big = malloc(n + 1);
    json_t *step = json_pack("{s:[]}", "env");
    char *path = NULL;

    memset(big, 'y', n);
    big[n] = '\0';
    substitute_table_set_string(t, "params.big", big);
    for (int i = 0; i < 20; i++)
        json_array_append_new(json_object_get(step, "env"),
                              json_pack("{s:s}", "value", "$(params.big)"));
    assert_int_equal(substitute_json(step, paths, t, &path), -E2BIG);
    assert_non_null(path);
    assert_string_equal(path, "env[16].value");
    free(path);
    free(big);
    json_decref(step);
    substitute_table_free(t);
}

static void test_substitute_string_many_openers_is_linear(void **state)
{
    /* "$($($(...)" must not rescan the tail for every opener */
    size_t n = 2 * 1024 * 1024;
    char *s = malloc(n + 2);
    struct substitute_table *t = sample_table();
    char *out = NULL;

    for (size_t i = 0; i < n; i += 2) {
        s[i] = '$';
        s[i + 1] = '(';
    }
    s[n] = ')';
    s[n + 1] = '\0';
    assert_int_equal(substitute_string(t, s, &out), 0);
    assert_string_equal(out, s);
    free(out);
    free(s);
    substitute_table_free(t);
}

static void test_substitute_find_ref_locates_prefix(void **state)
{
    size_t start = 0;
    size_t len = 0;

    assert_true(substitute_find_ref("a $(foo) $(params.x) b", "params.", &start, &len));
    assert_int_equal(start, 9);
    assert_int_equal(len, 11);
    assert_false(substitute_find_ref("$(params.x", "params.", &start, &len));
    assert_false(substitute_find_ref("nothing", "params.", &start, &len));
}

static void test_substitute_table_merge_later_wins(void **state)
{
    struct substitute_table *a = substitute_table_new();
    struct substitute_table *b = substitute_table_new();

    substitute_table_set_string(a, "k", "1");
    substitute_table_set_string(a, "only-a", "a");
    substitute_table_set_string(b, "k", "2");
    substitute_table_merge(a, b);
    assert_string_equal(substitute_table_get_string(a, "k"), "2");
    assert_string_equal(substitute_table_get_string(a, "only-a"), "a");
    assert_int_equal(substitute_table_size(a), 2);
    assert_null(substitute_table_get_string(a, "missing"));
    substitute_table_free(a);
    substitute_table_free(b);
    substitute_table_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_substitute_string_table),
        cmocka_unit_test(test_substitute_whole_ref_table),
        cmocka_unit_test(test_substitute_json_expands_isolated_array_elements),
        cmocka_unit_test(test_substitute_json_when_input_array_becomes_json_text),
        cmocka_unit_test(test_substitute_json_touches_only_listed_fields),
        cmocka_unit_test(test_substitute_json_wrong_types_are_skipped),
        cmocka_unit_test(test_substitute_json_param_values_become_arrays_and_objects),
        cmocka_unit_test(test_substitute_taskspec_covers_steps_sidecars_volumes),
        cmocka_unit_test(test_substitute_string_past_ceiling_is_e2big),
        cmocka_unit_test(test_substitute_json_growth_ceiling_names_the_field),
        cmocka_unit_test(test_substitute_string_many_openers_is_linear),
        cmocka_unit_test(test_substitute_find_ref_locates_prefix),
        cmocka_unit_test(test_substitute_table_merge_later_wins),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
