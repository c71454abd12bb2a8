#ifndef CONTROLLER_TASKRUN_STATUS_H
#define CONTROLLER_TASKRUN_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/*
 * The status planner: (TaskRun, its Pod or NULL, now) -> the TaskRun's next status, as Tekton
 * v1.15.0's reconciler would write it (start, cancel, pending, timeout, fatal waiting reasons,
 * Pod state -> steps/sidecars/condition/results, retries). Pure: no I/O; the clock is an input.
 * The caller compares the old and new status and writes only on change, and carries out the
 * actions the plan asks for (create/delete the Pod, patch annotations, requeue).
 */

struct taskrun_status_options {
    int64_t default_timeout_minutes; /* config-defaults default-timeout-minutes (0 = none) */
    bool keep_pod_on_cancel;         /* feature-flags keep-pod-on-cancel */
};

struct taskrun_status_input {
    const json_t *taskrun; /* required: the TaskRun as cached, with its current status */
    /*
     * The resolved, substituted TaskSpec (what status.taskSpec stores); also gives result and
     * step-result types. NULL keeps status.taskSpec as it is and reads types from it.
     */
    const json_t *taskspec;
    const json_t *pod; /* the Pod of the current attempt, or NULL if it does not exist */
    time_t now;
    /*
     * A failure found outside this planner (resolution, validation, Pod creation): when
     * 'fail_reason' is set, the run fails with it through Tekton's fail routine, and retries
     * apply. 'fail_message' is the condition message as users should see it.
     */
    const char *fail_reason;
    const char *fail_message;
};

struct taskrun_status_plan {
    json_t *status;   /* new reference: the complete new status object */
    bool done;        /* the Succeeded condition is final: the run leaves the queue */
    bool create_pod;  /* no Pod and the run needs one; status.podName holds its name */
    bool delete_pod;  /* the fail routine ran on a run that has a Pod: delete it */
    bool cancel_pod;  /* keep-pod-on-cancel: patch tekton.dev/cancel: CANCEL instead of deleting */
    bool mark_ready;  /* sidecars are ready: patch tekton.dev/ready: READY onto the Pod */
    bool bad_message; /* a step's termination message did not parse (warn; results lost) */
    int64_t requeue_after_ns; /* > 0: reconcile again after this long (timeout deadline) */
};

/*
 * Plan the next status. Returns 0 and fills '*ret_plan' (release with
 * taskrun_status_plan_done), or -EINVAL when 'in->taskrun' is not an object with
 * metadata.name.
 */
int taskrun_status_plan(const struct taskrun_status_input *in,
                        const struct taskrun_status_options *opts,
                        struct taskrun_status_plan *ret_plan);

/* Release what a plan holds. Accepts a zeroed plan. */
void taskrun_status_plan_done(struct taskrun_status_plan *plan);

/* The status's Succeeded condition (borrowed), or NULL. */
const json_t *taskrun_status_condition(const json_t *status);

/* Whether the Succeeded condition exists and is True or False. */
bool taskrun_status_is_done(const json_t *status);

/* Whether 'new_status' differs from 'old_status' (either may be NULL = no status). */
bool taskrun_status_changed(const json_t *old_status, const json_t *new_status);

/*
 * Tekton's SidecarsReady: the Pod is Running and every container status whose name does not
 * start with "step-" is running and ready, or terminated.
 */
bool taskrun_status_sidecars_ready(const json_t *pod);

/*
 * Whether 'pod' holds its run's outcome: the Pod finished, or every step container has
 * terminated (or one was OOM-killed) while sidecars may still run, as Tekton decides it.
 */
bool taskrun_status_pod_complete(const json_t *pod);

/*
 * Whether an update of a run's Pod from 'a' to 'b' leaves everything the status planner,
 * sidecarstop and the reconcile pass read from it unchanged, so it needs no pass: the
 * status's phase, reason, message and (init) container statuses; its conditions only while
 * 'b' is Pending (they only feed the Pending messages); the annotations but the ready one
 * (which only tells the pass not to patch it again, and whose arrival is our own patch's
 * answer as a rule); deletionTimestamp; and the containers' images (sidecars stopped).
 */
bool taskrun_status_pod_inputs_equal(const json_t *a, const json_t *b);

/*
 * Whether 'pod' is Pending on its ordinary way to running: scheduled or being scheduled
 * without an Unschedulable condition, every container that waits doing so for
 * ContainerCreating or PodInitializing, no init container failed. Its progress makes only
 * passing Pending messages; an image pull error, a config error or an unschedulable Pod
 * does not count as routine.
 */
bool taskrun_status_pod_pending_routine(const json_t *pod);

/*
 * Format 't' as Kubernetes writes timestamps ("2025-01-02T03:04:05Z") into 'out' (21 bytes),
 * and parse RFC 3339 text (fractions and offsets accepted). Parse returns 0 or -EINVAL.
 */
void taskrun_status_format_time(time_t t, char out[21]);
int taskrun_status_parse_time(const char *text, time_t *ret_t);

#endif
