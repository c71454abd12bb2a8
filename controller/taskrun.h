#ifndef CONTROLLER_TASKRUN_H
#define CONTROLLER_TASKRUN_H

#include <stdint.h>
#include <uv.h>

/*
 * The TaskRun reconciler: a work queue fed by the shared caches (TaskRuns, their Pods and
 * PVCs), and the reconcile pass that joins the pure planners (taskrun_resolve, podspec,
 * taskrun_status) to at most one API write per pass.
 */

struct caches;
struct kube_client;
struct registry;
struct taskrun_controller;

struct metrics;

struct taskrun_controller_options {
    const char *entrypoint_image; /* image of the "prepare" init container (required) */
    /* replaces sidecars still running when the steps are done; NULL: the entrypoint image */
    const char *nop_image;
    const char *release; /* pipeline.tekton.dev/release on Pods */
    /* looks up the ENTRYPOINT of images whose steps give no command; NULL: such steps fail */
    struct registry *registry;
    const char *platform; /* the nodes' "os/arch", for multi-platform images */
    unsigned workers;     /* passes in flight at once; 0 means 4 */
    double write_qps;     /* API writes per second; 0 means 50 */
    /* borrowed; counts each pass (reconcile_count) and the queue depth; NULL: no metrics */
    struct metrics *metrics;
};

/* Counters a benchmark or a test may read. */
struct taskrun_controller_stats {
    uint64_t reconciles; /* passes run */
    uint64_t writes;     /* API writes issued */
    uint64_t events;     /* Kubernetes Events posted (side effects, not counted as writes) */
};

/*
 * Create a controller on 'loop' that reads 'caches' and writes through 'kc' (both borrowed;
 * they must outlive the controller) and registers its handlers on 'caches'; it reconciles
 * once the caches are started and synced. The option strings are copied. Returns 0 and
 * *ret_controller, or < 0.
 */
int taskrun_controller_new(uv_loop_t *loop, struct kube_client *kc, struct caches *caches,
                           const struct taskrun_controller_options *opts,
                           struct taskrun_controller **ret_controller);

/* Copy the counters into *ret_stats. */
void taskrun_controller_stats(const struct taskrun_controller *c,
                              struct taskrun_controller_stats *ret_stats);

/*
 * Stop the queue and free the controller once passes in flight have ended; then 'done' (may
 * be NULL) runs from the loop. Requests in flight end with -ECANCELED when the kube client is
 * closed. Close the controllers before the caches they read.
 */
typedef void taskrun_controller_closed_cb(void *ctx);
void taskrun_controller_close(struct taskrun_controller *c, taskrun_controller_closed_cb *done,
                              void *ctx);

#endif
