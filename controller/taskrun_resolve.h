#ifndef CONTROLLER_TASKRUN_RESOLVE_H
#define CONTROLLER_TASKRUN_RESOLVE_H

#include <jansson.h>
#include <stdint.h>

/*
 * TaskRun "prepare" (tekton-taskrun.md §3.3, §4, §9.1) as a pure function: the TaskRun, the
 * Task it references (already fetched by the caller) and the config in; the validated,
 * defaulted and substituted TaskSpec out, with everything else the reconciler and the Pod
 * builder need to know. No I/O, no logging.
 */

struct tekton_config;

/* Succeeded-condition reasons this module produces (exact Tekton strings, §8.6). */
#define TASKRUN_REASON_VALIDATION_FAILED      "TaskRunValidationFailed"
#define TASKRUN_REASON_RESOLUTION_FAILED      "TaskRunResolutionFailed"
#define TASKRUN_REASON_TASK_VALIDATION_FAILED "TaskValidationFailed"
#define TASKRUN_REASON_INVALID_PARAM_VALUE    "InvalidParamValue"

/* Filled on failure: 'reason' is one of the constants above, 'message' a new string. */
struct taskrun_resolve_error {
    const char *reason;
    char *message; /* the condition message, e.g. "[User error] declared workspace ..." */
    /*
     * The same failure as Tekton's admission webhook words a field error, "<cause>: <field
     * path>" ("expected exactly one, got both: spec.taskRef, spec.taskSpec"), or NULL when the
     * failure is not about one field (then use 'message').
     */
    char *admission;
};

/* Free the message; the struct may be reused. Accepts a never-filled, zeroed struct. */
void taskrun_resolve_error_done(struct taskrun_resolve_error *err);

struct taskrun_resolve_input {
    const json_t *taskrun; /* the TaskRun object (v1 or v1beta1), required */
    /*
     * The Task object (v1 or v1beta1) named by spec.taskRef.name, fetched by the caller; NULL
     * when the TaskRun has spec.taskSpec, or when status.taskSpec is already set (then the
     * stored spec is reused and the Task is not consulted, as upstream does).
     */
    const json_t *task;
    /*
     * The StepActions the spec's steps refer to, as an object mapping each name of
     * taskrun_resolve_stepaction_names() to its StepAction object (v1alpha1 or v1beta1), fetched
     * by the caller; a missing one fails with TaskRunResolutionFailed. NULL when none are needed.
     */
    const json_t *stepactions;
    const struct tekton_config *cfg; /* required */
};

/* Everything taskrun_resolve() decides; every member is a new reference owned by the struct. */
struct taskrun_resolved {
    /*
     * The TaskSpec for the Pod builder: v1 field names, defaults applied (param, property and
     * result types), StepAction refs inlined, every substitution phase of §4.2 done including
     * $(credentials.path), propagated workspace declarations appended. stepTemplate is not
     * merged into the steps.
     */
    json_t *spec;
    /* The same before $(credentials.path): what goes into status.taskSpec. */
    json_t *status_spec;
    /*
     * The effective workspace bindings, in TaskRun order: params substituted into them, the
     * default-task-run-workspace-binding added for unbound required workspaces, and each
     * given a "volume" member, the generated Pod volume name ("ws-1bcf2"; bindings of the same
     * PVC claim share one). Unbound optional workspaces do not appear.
     */
    json_t *workspaces;
    /*
     * The effective podTemplate: the TaskRun's merged over default-pod-template (§5.10) with
     * string params substituted; an empty object when neither is set.
     */
    json_t *pod_template;
    /* The labels and annotations the TaskRun must carry: its own, plus the Task's (TaskRun
     * keys win, the last-applied annotation excluded), plus "tekton.dev/task" with taskRef. */
    json_t *labels;
    json_t *annotations;
    char *task_name; /* $(context.task.name): the Task's name, or the TaskRun's for taskSpec */
};

void taskrun_resolved_free(struct taskrun_resolved *res);

/*
 * Resolve, validate and substitute. Returns 0 and '*ret_resolved' (free with
 * taskrun_resolved_free), or -EINVAL with 'reterr' filled: the reason and a message that
 * names the offending field, as Tekton words it where the spec gives the wording. A TaskRun
 * with taskRef and no 'task' fails with TaskRunResolutionFailed (the caller normally reports
 * a failed GET itself, with the API error). StepAction refs are inlined (§3.3 step 4); remote
 * resolvers (taskRef.resolver, step ref.resolver) are refused with TaskRunResolutionFailed.
 * Never crashes on hostile JSON of any shape.
 */
int taskrun_resolve(const struct taskrun_resolve_input *in, struct taskrun_resolved **ret_resolved,
                    struct taskrun_resolve_error *reterr);

/*
 * Admission-time validation, what Tekton's webhook checks before a TaskRun is stored: the
 * TaskRun's own fields and, for an inline spec.taskSpec, the TaskSpec's shape (steps, params,
 * results, workspaces). References are not followed and params are not matched against the
 * spec: Tekton leaves those to the reconciler, which reports them in the run's condition.
 * Returns 0, or -EINVAL with 'reterr' filled ('admission' set for field errors).
 */
int taskrun_resolve_validate(const json_t *taskrun, const struct tekton_config *cfg,
                             struct taskrun_resolve_error *reterr);

/*
 * The same for a Task (v1 or v1beta1) and its spec, with field paths under "spec". Returns 0,
 * or -EINVAL with 'reterr' filled.
 */
int taskrun_resolve_validate_task(const json_t *task, struct taskrun_resolve_error *reterr);

/*
 * The distinct StepAction names (steps[].ref.name) of the spec taskrun_resolve() would use:
 * status.taskSpec, else spec.taskSpec, else the spec of 'task' (may be NULL). Returns a new
 * JSON array of strings, empty when no step has a ref, so the caller knows what to fetch.
 */
json_t *taskrun_resolve_stepaction_names(const json_t *taskrun, const json_t *task);

/*
 * TaskRun defaults applied in memory (§1.2): spec.timeout from default-timeout-minutes
 * ("1h0m0s"), an empty or missing spec.serviceAccountName from default-service-account,
 * taskRef.kind "Task", taskRef.resolver from default-resolver-type when the ref has neither
 * name nor resolver, and the app.kubernetes.io/managed-by label. Returns a new deep copy;
 * 'taskrun' is not modified. Non-object parts are left as they are.
 */
json_t *taskrun_resolve_defaults(const json_t *taskrun, const struct tekton_config *cfg);

/*
 * The effective timeout in nanoseconds (0 = none): spec.timeout, else default-timeout-minutes.
 * Returns 0, or -EINVAL with 'reterr' filled (TaskRunValidationFailed) when spec.timeout is
 * not a valid non-negative Go duration.
 */
int taskrun_resolve_timeout(const json_t *taskrun, const struct tekton_config *cfg, int64_t *ret_ns,
                            struct taskrun_resolve_error *reterr);

/*
 * The Pod volume name Tekton gives a workspace binding: "ws-" and the first five hex digits of
 * FNV-1a-32('name') (childname_fnv). Returns a new string.
 */
char *taskrun_resolve_workspace_volume_name(const char *name);

#endif
