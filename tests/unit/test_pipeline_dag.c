/* Unit tests for controller/pipeline_dag: edges from runAfter and result refs, Tekton's errors. */
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
#include "lib/xalloc.h"

static void test_pipeline_dag_build_table(void **state)
{
    static const struct {
        const char *name;
        const char *tasks;
        const char *want_err; /* NULL: builds */
    } cases[] = {
        {"empty", "[]", NULL},
        {"diamond",
         "[{\"name\":\"a\"},{\"name\":\"b\",\"runAfter\":[\"a\"]},"
         "{\"name\":\"c\",\"params\":[{\"name\":\"x\",\"value\":\"$(tasks.a.results.r)\"}]},"
         "{\"name\":\"d\",\"runAfter\":[\"b\",\"c\"]}]",
         NULL},
        {"self cycle", "[{\"name\":\"a\",\"runAfter\":[\"a\"]}]",
         "cycle detected; task \"a\" depends on \"a\""},
        {"two-node cycle through a result",
         "[{\"name\":\"b\",\"runAfter\":[\"a\"]},{\"name\":\"a\",\"when\":[{\"input\":"
         "\"$(tasks.b.results.r)\",\"operator\":\"in\",\"values\":[\"x\"]}]}]",
         "cycle detected; task \"a\" depends on \"b\""},
        {"unknown dependency", "[{\"name\":\"a\",\"runAfter\":[\"x\"]}]",
         "couldn't add link between a and x: task a depends on x but x wasn't present in "
         "Pipeline"},
        {"duplicate", "[{\"name\":\"a\"},{\"name\":\"a\"}]",
         "task a is already present in Graph, can't add it again: duplicate pipeline task"},
        {"nameless", "[{\"name\":\"a\"},7]", "task at index 1 has no string \"name\""},
        {"not a list", "{}", "tasks is not a list"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *tasks = json_loads(cases[i].tasks, 0, NULL);
        struct pipeline_dag *dag = NULL;
        char *err = NULL;
        int r = pipeline_dag_build(tasks, &dag, &err);

        if (cases[i].want_err == NULL && r != 0)
            fail_msg("case '%s': unexpected error '%s'", cases[i].name, err);
        if (cases[i].want_err && (r != -EINVAL || !err || strcmp(err, cases[i].want_err) != 0))
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, err ? err : "(none)",
                     cases[i].want_err);
        pipeline_dag_free(dag);
        free(err);
        json_decref(tasks);
    }
}

static void test_pipeline_dag_diamond_edges(void **state)
{
    json_t *tasks = json_loads(
        "[{\"name\":\"a\"},{\"name\":\"b\",\"runAfter\":[\"a\"]},"
        "{\"name\":\"c\",\"taskSpec\":{\"steps\":[{\"script\":\"echo $(tasks.a.results.r)\"}]}},"
        "{\"name\":\"d\",\"runAfter\":[\"c\",\"b\",\"b\"]}]",
        0, NULL);
    struct pipeline_dag *dag = NULL;
    char *err = NULL;

    assert_int_equal(pipeline_dag_build(tasks, &dag, &err), 0);
    assert_int_equal(pipeline_dag_size(dag), 4);
    assert_int_equal(pipeline_dag_dep_count(dag, 0), 0);
    assert_int_equal(pipeline_dag_dep_count(dag, 2), 1);
    assert_int_equal(pipeline_dag_dep(dag, 2, 0), 0);
    assert_int_equal(pipeline_dag_dep_count(dag, 3), 2);
    assert_int_equal(pipeline_dag_dep(dag, 3, 0), 1);
    assert_int_equal(pipeline_dag_dep(dag, 3, 1), 2);
    assert_int_equal(pipeline_dag_find(dag, "zz"), PIPELINE_DAG_NONE);
    pipeline_dag_free(dag);
    json_decref(tasks);
}

static void test_pipeline_dag_hundred_task_fan_out_fan_in(void **state)
{
    json_t *tasks = json_array();
    json_t *last = json_pack("{s:s, s:[]}", "name", "join", "runAfter");
    struct pipeline_dag *dag = NULL;
    char *err = NULL;

    json_array_append_new(tasks, json_pack("{s:s}", "name", "root"));
    for (int i = 0; i < 100; i++) {
        char *n = xasprintf("t%d", i);

        json_array_append_new(tasks, json_pack("{s:s, s:[s]}", "name", n, "runAfter", "root"));
        json_array_append_new(json_object_get(last, "runAfter"), json_string(n));
        free(n);
    }
    json_array_append_new(tasks, last);
    assert_int_equal(pipeline_dag_build(tasks, &dag, &err), 0);
    assert_int_equal(pipeline_dag_size(dag), 102);
    assert_int_equal(pipeline_dag_dep_count(dag, 101), 100);
    assert_int_equal(pipeline_dag_dep_count(dag, 50), 1);
    pipeline_dag_free(dag);
    json_decref(tasks);
}

static void test_pipeline_dag_cycle_reports_smallest_task_with_sorted_deps(void **state)
{
    json_t *tasks = json_loads("[{\"name\":\"z\",\"runAfter\":[\"y\"]},"
                               "{\"name\":\"y\",\"runAfter\":[\"z\",\"x\"]},{\"name\":\"x\"}]",
                               0, NULL);
    struct pipeline_dag *dag = NULL;
    char *err = NULL;

    assert_int_equal(pipeline_dag_build(tasks, &dag, &err), -EINVAL);
    assert_string_equal(err, "cycle detected; task \"y\" depends on \"z\"");
    free(err);
    json_decref(tasks);
}

static void test_pipeline_dag_result_refs_ignore_non_result_refs(void **state)
{
    json_t *v = json_loads("{\"a\":[\"$(tasks.x.results.r) $(tasks.y.status)\","
                           "{\"b\":\"$(tasks.x.results.q) $(tasks.w.results.r[*])\"}]}",
                           0, NULL);
    json_t *names = json_array();

    pipeline_dag_result_refs(v, names);
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "x");
    assert_string_equal(json_string_value(json_array_get(names, 1)), "w");
    json_decref(names);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_dag_build_table),
        cmocka_unit_test(test_pipeline_dag_diamond_edges),
        cmocka_unit_test(test_pipeline_dag_hundred_task_fan_out_fan_in),
        cmocka_unit_test(test_pipeline_dag_cycle_reports_smallest_task_with_sorted_deps),
        cmocka_unit_test(test_pipeline_dag_result_refs_ignore_non_result_refs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
