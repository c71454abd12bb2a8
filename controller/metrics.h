#ifndef CONTROLLER_METRICS_H
#define CONTROLLER_METRICS_H

#include <stdbool.h>

/*
 * The controller's metrics, kept in memory and rendered in the Prometheus text format
 * (version 0.0.4) for controller/web's /metrics. Names follow Tekton v1.15.0 where tektite
 * has the data (tekton-pipelinerun.md §24):
 *   gauges:     tekton_pipelines_controller_running_taskruns,
 *               tekton_pipelines_controller_running_pipelineruns,
 *               kn_workqueue_depth {name}
 *   histograms: tekton_pipelines_controller_taskrun_duration_seconds {namespace,status,task},
 *               ..._pipelinerun_duration_seconds {namespace,pipeline,status},
 *               ..._pipelinerun_taskrun_duration_seconds {namespace,pipeline,status,task},
 *               ..._taskruns_pod_latency_milliseconds {namespace,task}
 *   counters:   ..._taskrun_total {status}, ..._pipelinerun_total {status},
 *               ..._reconcile_count {reconciler,success},
 *               tektite_metrics_series_dropped_total
 * ("..." is tekton_pipelines_controller.)
 * Label sets are bounded (METRICS_MAX_SERIES per metric): past the bound a new label set is
 * dropped and counted, never allocated, since label values come from users' objects.
 * Status label values are Tekton's: "success", "failed", "cancelled".
 * Single-threaded like the rest of the controller: call only from the loop thread.
 */

#define METRICS_MAX_SERIES 5000

struct metrics;

/* A new, empty registry (all gauges 0, no series). Never NULL (allocation aborts). */
struct metrics *metrics_new(void);

/* Free the registry; NULL is fine. */
void metrics_free(struct metrics *m);

/* Set the number of TaskRuns (PipelineRuns) whose Succeeded condition is Unknown or unset. */
void metrics_set_running_taskruns(struct metrics *m, unsigned long n);
void metrics_set_running_pipelineruns(struct metrics *m, unsigned long n);

/*
 * Record one finished standalone TaskRun: its duration in seconds (completionTime - startTime)
 * into the duration histogram, and one count into taskrun_total{status}. 'task' is the task
 * label per Tekton (taskRef.name, else a label, else "anonymous"); NULL means "anonymous".
 * Returns 0, -EINVAL for a NULL or empty 'ns'/'status' or a negative or non-finite duration
 * (nothing recorded), or -ENOSPC when the label set was dropped at the series bound (the
 * counter is still incremented).
 */
int metrics_observe_taskrun(struct metrics *m, const char *ns, const char *task, const char *status,
                            double seconds);

/* As metrics_observe_taskrun, for a finished PipelineRun ('pipeline' NULL: "anonymous"). */
int metrics_observe_pipelinerun(struct metrics *m, const char *ns, const char *pipeline,
                                const char *status, double seconds);

/*
 * As metrics_observe_taskrun, for a finished TaskRun of a PipelineRun (one with both the
 * tekton.dev/pipeline and tekton.dev/pipelineRun labels): the duration goes into
 * pipelinerun_taskrun_duration_seconds instead, the count into the same taskrun_total.
 * NULL 'pipeline' or 'task' means "anonymous".
 */
int metrics_observe_pipelinerun_taskrun(struct metrics *m, const char *ns, const char *pipeline,
                                        const char *task, const char *status, double seconds);

/*
 * Record a TaskRun Pod's scheduling latency in milliseconds: its PodScheduled condition's
 * lastTransitionTime minus its creationTimestamp, as Tekton measures it.
 * Same results as metrics_observe_taskrun.
 */
int metrics_observe_pod_latency(struct metrics *m, const char *ns, const char *task, double ms);

/* Set the depth of the work queue 'name' (e.g. "taskrun"). Returns 0, -EINVAL or -ENOSPC. */
int metrics_set_workqueue_depth(struct metrics *m, const char *name, unsigned long depth);

/* Count one reconcile pass of 'reconciler' that succeeded or failed. Returns as above. */
int metrics_count_reconcile(struct metrics *m, const char *reconciler, bool success);

/*
 * Count one reconcile pass of 'reconciler' under 'cause' (why its key was queued) when
 * 'cause' is set, else under 'outcome' (what it did). Returns as above.
 */
int metrics_count_pass(struct metrics *m, const char *reconciler, const char *cause,
                       const char *outcome);

/*
 * Render every metric in the Prometheus text format: "# HELP" and "# TYPE" lines, then the
 * samples, metrics in a fixed order and series in first-seen order. Returns a new string the
 * caller frees; never NULL.
 */
char *metrics_render(const struct metrics *m);

#endif
