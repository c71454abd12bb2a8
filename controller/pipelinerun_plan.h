#ifndef CONTROLLER_PIPELINERUN_PLAN_H
#define CONTROLLER_PIPELINERUN_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "controller/pipelinerun_resolve.h"

/*
 * The PipelineRun planner (tekton-pipelinerun.md §4.3–§21) as a pure function: the
 * PipelineRun, its Pipeline, the Tasks its pipeline tasks reference, the child TaskRuns that
 * exist, the config and the clock in; the next status and the writes to make out. No I/O, no
 * logging. The reconciler compares old and new status, writes only on change, and carries out
 * the creates and patches the plan lists.
 */

struct tekton_config;

/* The statusMessage of a child cancelled by the planner (§16.4, §17.1). */
#define PIPELINERUN_CANCEL_MESSAGE                                                                 \
    "TaskRun cancelled as the PipelineRun it belongs to has been cancelled."
#define PIPELINERUN_TIMEOUT_MESSAGE                                                                \
    "TaskRun cancelled as the PipelineRun it belongs to has timed out."

struct pipelinerun_plan_input {
    const json_t *pipelinerun; /* required: the PipelineRun (v1 or v1beta1) with its status */
    /*
     * The Pipeline named by spec.pipelineRef.name, fetched by the caller; NULL for an inline
     * pipelineSpec, or once status.pipelineSpec is stored (then it is never consulted).
     */
    const json_t *pipeline;
    /* The caller could not GET the Pipeline: the API error text (fails CouldntGetPipeline). */
    const char *pipeline_error;
    /*
     * An object mapping Task names to what the caller fetched: the Task object (v1 or
     * v1beta1), or a string, the error of a failed GET (fails CouldntGetTask). Names the plan
     * needs that are absent are listed in 'missing_tasks'. May be NULL.
     */
    const json_t *tasks;
    /* Array of the child TaskRuns that exist (owned by this PipelineRun, from the cache). */
    const json_t *taskruns;
    const struct tekton_config *cfg; /* required */
    time_t now;
};

struct pipelinerun_plan {
    json_t *status; /* new reference: the complete new status */
    /* Labels the PipelineRun must carry (its own plus tekton.dev/pipeline, §5.4). */
    json_t *labels;
    /* The plan needs the Pipeline: fetch spec.pipelineRef.name and plan again. */
    bool need_pipeline;
    /* Array of Task names to fetch, then plan again; when non-empty nothing else is planned. */
    json_t *missing_tasks;
    json_t *create_taskruns; /* array of complete TaskRun objects to create now, in order */
    /* Array of {"name", "statusMessage"}: patch spec.status=TaskRunCancelled onto each. */
    json_t *cancel_taskruns;
    json_t *create_pvcs; /* array of PersistentVolumeClaim objects ("already exists" is fine) */
    bool done;           /* the Succeeded condition is final */
    int64_t requeue_after_ns; /* > 0: plan again after this long (a timeout falls due) */
};

/*
 * Plan the next pass. Returns 0 and fills '*ret_plan' (release with pipelinerun_plan_done),
 * or -EINVAL when 'in->pipelinerun' is not an object with metadata.name or 'in->cfg' is NULL.
 * Everything wrong with the run itself (invalid pipeline, missing Task, bad params) is reported
 * in the status with Tekton's reason, never as an error, and then nothing is created.
 */
int pipelinerun_plan(const struct pipelinerun_plan_input *in, struct pipelinerun_plan *ret_plan);

/* Release what a plan holds. Accepts a zeroed plan. */
void pipelinerun_plan_done(struct pipelinerun_plan *plan);

/*
 * Tekton's child name for pipeline task 'task' of run 'pipelinerun' (§13.1): kmeta.ChildName
 * of "-<task>", or for one of 'count' > 1 matrix children "-<task>-<index>". A new string.
 */
char *pipelinerun_plan_child_name(const char *pipelinerun, const char *task, size_t index,
                                  size_t count);

#endif
