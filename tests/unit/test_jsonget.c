/* Unit tests for lib/jsonget: missing and wrongly typed input reads as NULL, never crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/jsonget.h"

static void test_jget_str_and_meta_str_tolerate_missing_and_wrong_types(void **state)
{
    json_t *obj =
        json_loads("{\"a\":\"x\",\"n\":1,\"metadata\":{\"name\":\"t\",\"uid\":7}}", 0, NULL);

    assert_non_null(obj);
    assert_string_equal(jget_str(obj, "a"), "x");
    assert_null(jget_str(obj, "n"));
    assert_null(jget_str(obj, "missing"));
    assert_null(jget_str(NULL, "a"));
    assert_string_equal(jget_meta_str(obj, "name"), "t");
    assert_null(jget_meta_str(obj, "uid"));
    assert_null(jget_meta_str(json_object_get(obj, "a"), "name"));
    assert_string_equal(jget_or(NULL, "d"), "d");
    assert_string_equal(jget_or("s", "d"), "s");
    json_decref(obj);
}

static void test_jget_named_finds_first_match_and_skips_malformed_items(void **state)
{
    json_t *list = json_loads(
        "[1, {\"name\":2}, {\"name\":\"b\",\"v\":1}, {\"name\":\"b\",\"v\":2}]", 0, NULL);

    assert_non_null(list);
    assert_int_equal(json_integer_value(json_object_get(jget_named(list, "name", "b"), "v")), 1);
    assert_null(jget_named(list, "name", "c"));
    assert_null(jget_named(list, "name", NULL));
    assert_null(jget_named(NULL, "name", "b"));
    json_decref(list);
}

static void test_jget_child_object_makes_or_replaces_non_objects(void **state)
{
    json_t *obj = json_loads("{\"keep\":{\"k\":1},\"bad\":\"s\"}", 0, NULL);
    json_t *keep, *bad, *fresh;

    assert_non_null(obj);
    keep = jget_child_object(obj, "keep");
    assert_int_equal(json_integer_value(json_object_get(keep, "k")), 1);
    bad = jget_child_object(obj, "bad");
    assert_true(json_is_object(bad) && json_object_size(bad) == 0);
    fresh = jget_child_object(obj, "fresh");
    assert_ptr_equal(fresh, json_object_get(obj, "fresh"));
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jget_str_and_meta_str_tolerate_missing_and_wrong_types),
        cmocka_unit_test(test_jget_named_finds_first_match_and_skips_malformed_items),
        cmocka_unit_test(test_jget_child_object_makes_or_replaces_non_objects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
