/*
 * Pipeline DAG: nodes, dependency edges and the cycle check of Tekton's dag.Build, with its
 * error texts. Scheduling (which nodes may run now) belongs to pipelinerun_plan.
 */
#include "controller/pipeline_dag.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

#define MAX_DEPTH 64

struct node {
    const char *name; /* borrowed from 'names' */
    json_t *deps;     /* array of dependency names, sorted, unique */
    size_t *edges;    /* resolved node indices */
    size_t nedges;
};

struct pipeline_dag {
    json_t *names; /* owns the strings the nodes point to */
    struct node *nodes;
    size_t n;
};

static void scan_string(const char *s, json_t *names)
{
    const char *p = s;

    while ((p = strstr(p, "$(tasks.")) != NULL) {
        const char *name = p + strlen("$(tasks.");
        size_t len = strcspn(name, ".)");

        p = name;
        if (len == 0 || strncmp(name + len, ".results.", strlen(".results.")) != 0)
            continue;
        bool seen = false;
        const json_t *v;
        size_t i;

        json_array_foreach(names, i, v) {
            if (strlen(json_string_value(v)) == len &&
                strncmp(json_string_value(v), name, len) == 0)
                seen = true;
        }
        if (!seen)
            json_array_append_new(names, json_stringn(name, len));
    }
}

static void scan(const json_t *v, json_t *names, int depth)
{
    const char *key;
    const json_t *item;
    size_t i;

    if (depth > MAX_DEPTH)
        return;
    if (json_is_string(v)) {
        scan_string(json_string_value(v), names);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            scan(item, names, depth + 1);
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)(uintptr_t)v, key, item) {
            scan(item, names, depth + 1);
        }
    }
}

void pipeline_dag_result_refs(const json_t *v, json_t *names)
{
    scan(v, names, 0);
}

void pipeline_dag_free(struct pipeline_dag *dag)
{
    if (!dag)
        return;
    for (size_t i = 0; i < dag->n; i++) {
        json_decref(dag->nodes[i].deps);
        free(dag->nodes[i].edges);
    }
    free(dag->nodes);
    json_decref(dag->names);
    free(dag);
}

size_t pipeline_dag_size(const struct pipeline_dag *dag)
{
    return dag->n;
}

size_t pipeline_dag_find(const struct pipeline_dag *dag, const char *name)
{
    for (size_t i = 0; i < dag->n; i++) {
        if (strcmp(dag->nodes[i].name, name) == 0)
            return i;
    }
    return PIPELINE_DAG_NONE;
}

size_t pipeline_dag_dep_count(const struct pipeline_dag *dag, size_t i)
{
    return dag->nodes[i].nedges;
}

size_t pipeline_dag_dep(const struct pipeline_dag *dag, size_t i, size_t k)
{
    return dag->nodes[i].edges[k];
}

static int cmp_json_string(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Sort a JSON array of strings in place and drop duplicates. */
static void sort_unique(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **items = xcalloc(n ? n : 1, sizeof(*items));

    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof(*items), cmp_json_string);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(json_string_value(items[i]), json_string_value(items[i - 1])) == 0)
            json_decref(items[i]);
        else
            json_array_append_new(arr, items[i]);
    }
    free(items);
}

static json_t *task_deps(const json_t *task)
{
    json_t *deps = json_array();
    const json_t *ra = json_object_get(task, "runAfter");
    const json_t *v;
    size_t i;

    json_array_foreach(ra, i, v) {
        if (json_is_string(v))
            json_array_append(deps, (json_t *)(uintptr_t)v);
    }
    scan(json_object_get(task, "params"), deps, 0);
    scan(json_object_get(task, "matrix"), deps, 0);
    scan(json_object_get(task, "when"), deps, 0);
    scan(json_object_get(task, "taskSpec"), deps, 0);
    sort_unique(deps);
    return deps;
}

static int add_nodes(struct pipeline_dag *dag, const json_t *tasks, char **reterr_msg)
{
    const json_t *task;
    size_t i;

    json_array_foreach(tasks, i, task) {
        const char *name = json_string_value(json_object_get(task, "name"));

        if (!name) {
            *reterr_msg = xasprintf("task at index %zu has no string \"name\"", i);
            return -EINVAL;
        }
        if (pipeline_dag_find(dag, name) != PIPELINE_DAG_NONE) {
            *reterr_msg = xasprintf("task %s is already present in Graph, can't add it again: "
                                    "duplicate pipeline task",
                                    name);
            return -EINVAL;
        }
        json_array_append_new(dag->names, json_string(name));
        dag->nodes[i].name = json_string_value(json_array_get(dag->names, i));
        dag->nodes[i].deps = task_deps(task);
        dag->n = i + 1;
    }
    return 0;
}

static bool has_open_deps(const struct pipeline_dag *dag, const json_t *deps)
{
    return json_array_size(deps) > 0;
}

/* Kahn's reduction over the name map; unknown names count as leaves (reported later). */
static int check_cycles(const struct pipeline_dag *dag, char **reterr_msg)
{
    json_t **left = xcalloc(dag->n ? dag->n : 1, sizeof(*left));
    bool changed = true;
    int r = 0;

    for (size_t i = 0; i < dag->n; i++)
        left[i] = json_deep_copy(dag->nodes[i].deps);
    while (changed) {
        changed = false;
        for (size_t i = 0; i < dag->n; i++) {
            for (size_t k = json_array_size(left[i]); k-- > 0;) {
                size_t j = pipeline_dag_find(dag, json_string_value(json_array_get(left[i], k)));

                if (j == PIPELINE_DAG_NONE || !has_open_deps(dag, left[j])) {
                    json_array_remove(left[i], k);
                    changed = true;
                }
            }
        }
    }
    size_t worst = PIPELINE_DAG_NONE;

    for (size_t i = 0; i < dag->n; i++) {
        if (json_array_size(left[i]) > 0 &&
            (worst == PIPELINE_DAG_NONE || strcmp(dag->nodes[i].name, dag->nodes[worst].name) < 0))
            worst = i;
    }
    if (worst != PIPELINE_DAG_NONE) {
        struct buf b;
        const json_t *v;
        size_t k;

        buf_init(&b, 1024 * 1024);
        buf_printf(&b, "cycle detected; task \"%s\" depends on ", dag->nodes[worst].name);
        json_array_foreach(left[worst], k, v) {
            buf_printf(&b, "%s\"%s\"", k ? ", " : "", json_string_value(v));
        }
        *reterr_msg = buf_take(&b);
        buf_done(&b);
        r = -EINVAL;
    }
    for (size_t i = 0; i < dag->n; i++)
        json_decref(left[i]);
    free(left);
    return r;
}

static int add_edges(struct pipeline_dag *dag, char **reterr_msg)
{
    for (size_t i = 0; i < dag->n; i++) {
        struct node *nd = &dag->nodes[i];
        const json_t *v;
        size_t k;

        nd->edges = xcalloc(json_array_size(nd->deps) + 1, sizeof(*nd->edges));
        json_array_foreach(nd->deps, k, v) {
            size_t j = pipeline_dag_find(dag, json_string_value(v));

            if (j == PIPELINE_DAG_NONE) {
                *reterr_msg = xasprintf("couldn't add link between %s and %s: task %s depends on "
                                        "%s but %s wasn't present in Pipeline",
                                        nd->name, json_string_value(v), nd->name,
                                        json_string_value(v), json_string_value(v));
                return -EINVAL;
            }
            nd->edges[nd->nedges++] = j;
        }
    }
    return 0;
}

int pipeline_dag_build(const json_t *tasks, struct pipeline_dag **ret_dag, char **reterr_msg)
{
    struct pipeline_dag *dag = xcalloc(1, sizeof(*dag));
    size_t n = json_array_size(tasks);
    int r;

    dag->names = json_array();
    dag->nodes = xcalloc(n ? n : 1, sizeof(*dag->nodes));
    if (tasks && !json_is_array(tasks)) {
        *reterr_msg = xasprintf("tasks is not a list");
        r = -EINVAL;
        goto out;
    }
    r = add_nodes(dag, tasks, reterr_msg);
    if (r < 0)
        goto out;
    r = check_cycles(dag, reterr_msg);
    if (r < 0)
        goto out;
    r = add_edges(dag, reterr_msg);
    if (r < 0)
        goto out;
    *ret_dag = dag;
    return 0;
out:
    pipeline_dag_free(dag);
    return r;
}
