#ifndef CONTROLLER_TASKRUN_H
#define CONTROLLER_TASKRUN_H

#include <stdint.h>
#include <uv.h>

/*
 * The TaskRun reconciler: informers for TaskRuns, their Pods and PVCs, Tasks and the
 * tekton-pipelines ConfigMaps, a work queue, and the reconcile pass that joins the pure
 * planners (taskrun_resolve, podspec, taskrun_status) to at most one API write per pass.
 */

struct kube_client;
struct taskrun_controller;

struct taskrun_controller_options {
    const char *ns;               /* the one namespace to watch, or NULL for all */
    const char *system_namespace; /* where config-defaults and feature-flags live */
    const char *entrypoint_image; /* image of the "prepare" init container (required) */
    const char *release;          /* pipeline.tekton.dev/release on Pods */
    unsigned workers;             /* passes in flight at once; 0 means 4 */
    double write_qps;             /* API writes per second; 0 means 50 */
};

/* Counters a benchmark or a test may read. */
struct taskrun_controller_stats {
    uint64_t reconciles; /* passes run */
    uint64_t writes;     /* API writes issued */
};

/*
 * Create an idle controller on 'loop' using 'kc' (borrowed; must outlive the controller).
 * The option strings are copied. Returns 0 and *ret_controller.
 */
int taskrun_controller_new(uv_loop_t *loop, struct kube_client *kc,
                           const struct taskrun_controller_options *opts,
                           struct taskrun_controller **ret_controller);

/* Start the informers; reconciling begins once each has listed. Harmless when started. */
int taskrun_controller_start(struct taskrun_controller *c);

/* Copy the counters into *ret_stats. */
void taskrun_controller_stats(const struct taskrun_controller *c,
                              struct taskrun_controller_stats *ret_stats);

/*
 * Stop everything and free the controller once its informers and queue are closed; then
 * 'done' (may be NULL) runs from the loop. Requests in flight end with -ECANCELED when the
 * kube client is closed.
 */
typedef void taskrun_controller_closed_cb(void *ctx);
void taskrun_controller_close(struct taskrun_controller *c, taskrun_controller_closed_cb *done,
                              void *ctx);

#endif
