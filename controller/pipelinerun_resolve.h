#ifndef CONTROLLER_PIPELINERUN_RESOLVE_H
#define CONTROLLER_PIPELINERUN_RESOLVE_H

#include <jansson.h>
#include <stdbool.h>

/*
 * The first half of a PipelineRun pass (tekton-pipelinerun.md §2, §3, §4.3 steps 1-16, §5):
 * the run's defaults, its pipeline spec, the DAG, validation against the run, and pipeline-level
 * substitution of params, context and $(workspaces.<w>.bound). Pure: no I/O, no logging.
 * Scheduling and children are pipelinerun_plan's.
 */

struct pipeline_dag;
struct substitute_table;
struct tekton_config;

/* Succeeded-condition reasons of PipelineRuns (exact Tekton strings, §21.2). */
#define PIPELINERUN_REASON_STARTED           "Started"
#define PIPELINERUN_REASON_RUNNING           "Running"
#define PIPELINERUN_REASON_SUCCEEDED         "Succeeded"
#define PIPELINERUN_REASON_COMPLETED         "Completed"
#define PIPELINERUN_REASON_FAILED            "Failed"
#define PIPELINERUN_REASON_CANCELLED         "Cancelled"
#define PIPELINERUN_REASON_PENDING           "PipelineRunPending"
#define PIPELINERUN_REASON_TIMEOUT           "PipelineRunTimeout"
#define PIPELINERUN_REASON_STOPPING          "PipelineRunStopping"
#define PIPELINERUN_REASON_CANCELLED_FINALLY "CancelledRunningFinally"
#define PIPELINERUN_REASON_STOPPED_FINALLY   "StoppedRunningFinally"
#define PIPELINERUN_REASON_TIMEOUT_FINALLY   "PipelineRunTimeoutRunningFinally"
#define PIPELINERUN_REASON_GET_PIPELINE      "CouldntGetPipeline"
#define PIPELINERUN_REASON_GET_TASK          "CouldntGetTask"
#define PIPELINERUN_REASON_INVALID_GRAPH     "PipelineInvalidGraph"
#define PIPELINERUN_REASON_VALIDATION        "PipelineValidationFailed"
#define PIPELINERUN_REASON_PARAM_MISSING     "ParameterMissing"
#define PIPELINERUN_REASON_PARAM_TYPE        "ParameterTypeMismatch"
#define PIPELINERUN_REASON_OBJECT_KEYS       "ObjectParameterMissKeys"
#define PIPELINERUN_REASON_ARRAY_INDEX       "ParamArrayIndexingInvalid"
#define PIPELINERUN_REASON_WORKSPACES        "InvalidWorkspaceBindings"
#define PIPELINERUN_REASON_TASKRUN_SPECS     "InvalidTaskRunSpecs"
#define PIPELINERUN_REASON_TASK_RESULT_REF   "InvalidTaskResultReference"
#define PIPELINERUN_REASON_PIPE_RESULT_REF   "InvalidPipelineResultReference"
#define PIPELINERUN_REASON_OPTIONAL_WS       "RequiredWorkspaceMarkedOptional"
#define PIPELINERUN_REASON_CREATE_RUN        "CreateRunFailed"
#define PIPELINERUN_REASON_PIPELINE_RESULT   "CouldntGetPipelineResult"
#define PIPELINERUN_REASON_MATRIX_TYPES      "InvalidMatrixParameterTypes"

/* Filled on failure: 'reason' is one of the constants above, 'message' a new string. */
struct pipelinerun_resolve_error {
    const char *reason;
    char *message;
    /* The failure as Tekton's admission webhook words it (no run prefix), or NULL. */
    char *admission;
};

/* Free the message; the struct may be reused. Accepts a zeroed struct. */
void pipelinerun_resolve_error_done(struct pipelinerun_resolve_error *err);

/*
 * The run as v1 with Tekton's in-memory defaults (§2.1): v1beta1 serviceAccountName,
 * podTemplate, timeout and taskRunSpecs names moved to their v1 places, timeouts.pipeline from
 * default-timeout-minutes, taskRunTemplate.serviceAccountName from default-service-account, an
 * empty spec object when there is none. Returns a new deep copy; 'pipelinerun' is untouched.
 */
json_t *pipelinerun_resolve_defaults(const json_t *pipelinerun, const struct tekton_config *cfg);

/* The value of the run's tekton.dev/pipeline label (§5.4). Returns a new string. */
char *pipelinerun_resolve_pipeline_label(const json_t *pipelinerun);

struct pipelinerun_resolve_input {
    const json_t *pipelinerun;  /* required: as pipelinerun_resolve_defaults() returns it */
    const json_t *pipeline;     /* the Pipeline of spec.pipelineRef.name, or NULL */
    const char *pipeline_error; /* the GET of that Pipeline failed: the API error text */
};

/* Everything the resolve decided; owned by the struct. */
struct pipelinerun_resolved {
    /*
     * The pipeline spec with PR params (recursive defaults), context variables and
     * $(workspaces.<w>.bound) substituted (what status.pipelineSpec stores): status.pipelineSpec
     * when already stored, else the Pipeline's or the inline spec.
     */
    json_t *spec;
    char *pipeline_name;             /* for messages and $(context.pipeline.name) */
    struct pipeline_dag *dag;        /* of spec.tasks */
    struct substitute_table *params; /* pipeline-level keys: params, context, workspaces */
    struct substitute_table *given;  /* only the params the run gives (§14.1, Q11) */
};

void pipelinerun_resolved_free(struct pipelinerun_resolved *res);

/*
 * Resolve and validate. Returns 0 and '*ret_resolved' (free with pipelinerun_resolved_free);
 * 1 when the Pipeline is needed and 'in->pipeline' is NULL (fetch it, then call again); or
 * -EINVAL with 'reterr' filled with Tekton's reason and a message naming the task and field.
 * Never crashes on hostile JSON of any shape.
 */
int pipelinerun_resolve(const struct pipelinerun_resolve_input *in,
                        struct pipelinerun_resolved **ret_resolved,
                        struct pipelinerun_resolve_error *reterr);

/*
 * Admission-time validation of a pipeline spec (a Pipeline's, or a PipelineRun's inline
 * spec.pipelineSpec): the task list shapes, the DAG, names, params, results, finally, and for a
 * stand-alone Pipeline ('standalone') the workspaces its tasks bind. Returns 0, or -EINVAL with
 * 'reterr' filled ('admission' set).
 */
int pipelinerun_resolve_validate_pipeline(const json_t *spec, bool standalone,
                                          struct pipelinerun_resolve_error *reterr);

/* ParamSpec type inference of §2.2: "string", "array" or "object" (or the explicit type). */
const char *pipelinerun_resolve_param_type(const json_t *param_spec);

/*
 * Add 'value' under 'key' to 't': a string; an array with "key[<i>]" element keys; an object
 * with "key.<k>" member keys. Other JSON types are ignored.
 */
void pipelinerun_resolve_table_add(struct substitute_table *t, const char *key,
                                   const json_t *value);

#endif
