#ifndef CONTROLLER_PIPELINE_DAG_H
#define CONTROLLER_PIPELINE_DAG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The dependency graph of a Pipeline's `tasks` (tekton-pipelinerun.md §3.9, §6.1): one node per
 * PipelineTask, an edge X -> Y when Y lists X in runAfter or refers to a result of X in its
 * params, matrix, when expressions or embedded taskSpec. Pure; knows nothing of runs.
 */

#define PIPELINE_DAG_NONE SIZE_MAX

struct pipeline_dag;

/*
 * Build the graph of 'tasks' (a JSON array of PipelineTasks, borrowed; only its names are kept).
 * Returns 0 and a new graph, or -EINVAL and a new message in '*reterr_msg' worded as Tekton's:
 * "task a is already present in Graph, can't add it again: duplicate pipeline task",
 * `cycle detected; task "b" depends on "a"`, or "couldn't add link between b and x: task b
 * depends on x but x wasn't present in Pipeline". Elements that are not objects with a string
 * "name" fail with a message naming the index.
 */
int pipeline_dag_build(const json_t *tasks, struct pipeline_dag **ret_dag, char **reterr_msg);

void pipeline_dag_free(struct pipeline_dag *dag);

/* Number of nodes; node i is tasks[i]. */
size_t pipeline_dag_size(const struct pipeline_dag *dag);

/* The node of the task called 'name', or PIPELINE_DAG_NONE. */
size_t pipeline_dag_find(const struct pipeline_dag *dag, const char *name);

/* Number of direct predecessors of node 'i', and the k-th of them (node indices, sorted). */
size_t pipeline_dag_dep_count(const struct pipeline_dag *dag, size_t i);
size_t pipeline_dag_dep(const struct pipeline_dag *dag, size_t i, size_t k);

/*
 * Add to 'names' (a JSON array) every task name X of a `$(tasks.X.results...)` reference in
 * any string anywhere below 'v', once each, in order of appearance. Non-string leaves and
 * depth beyond 64 are ignored.
 */
void pipeline_dag_result_refs(const json_t *v, json_t *names);

#endif
