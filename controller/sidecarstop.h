#ifndef CONTROLLER_SIDECARSTOP_H
#define CONTROLLER_SIDECARSTOP_H

#include <jansson.h>
#include <time.h>

/*
 * Stopping sidecars once a TaskRun is done (tekton-taskrun.md §3.10): the steps have ended,
 * but sidecars (and containers injected by others) still run and keep the Pod alive. Tekton
 * replaces each running non-step container's image with its nop image; the kubelet then
 * restarts the container from that image, which exits at once. Pure: no I/O.
 */

struct sidecarstop_plan {
    /*
     * New reference: a JSON patch (RFC 6902) for the Pod, one "replace
     * /spec/containers/<i>/image" per running non-step container whose image is not yet the
     * nop image; NULL when there is nothing to patch.
     */
    json_t *patch;
    /*
     * New reference: status.sidecars as Tekton rebuilds it after stopping (a container the nop
     * image restarted shows its last termination as "Completed"); NULL when the stored list
     * needs no change.
     */
    json_t *sidecars;
};

/*
 * Decide what stopping the sidecars of a TaskRun takes. 'status' is the TaskRun's status
 * (borrowed), 'pod' its Pod from the cache or NULL, 'nop_image' the image that replaces
 * running sidecars. Nothing is planned unless the run is done, has its Pod, and was not
 * cancelled or timed out (those delete their Pod); images are patched only while the Pod is
 * Running. Fills '*ret_plan' (release with sidecarstop_plan_done); never fails.
 */
void sidecarstop_plan(const json_t *status, const json_t *pod, const char *nop_image,
                      struct sidecarstop_plan *ret_plan);

/*
 * The status after the nop-image patch was refused for good ('why' is the condition message,
 * Tekton's `error stopping sidecars of TaskRun "<pod>": <API error>`): Tekton overwrites the
 * outcome with False / TaskRunStopSidecarFailed and completionTime = now. Returns a new status
 * object; 'status' is left as it is.
 */
json_t *sidecarstop_failed_status(const json_t *status, const char *why, time_t now);

/* Release what a plan holds. Accepts a zeroed plan. */
void sidecarstop_plan_done(struct sidecarstop_plan *plan);

#endif
