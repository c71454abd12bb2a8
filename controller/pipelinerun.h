#ifndef CONTROLLER_PIPELINERUN_H
#define CONTROLLER_PIPELINERUN_H

#include <stdint.h>
#include <uv.h>

/*
 * The PipelineRun reconciler: a work queue fed by the shared caches (PipelineRuns and their
 * child TaskRuns), and the pass that asks the pure planner (pipelinerun_plan) what to do and
 * does it: child TaskRuns and PVCs created, children cancelled, labels and status written.
 */

struct caches;
struct kube_client;
struct pipelinerun_controller;

struct metrics;

struct pipelinerun_controller_options {
    unsigned workers; /* passes in flight at once; 0 means 4 */
    double write_qps; /* API writes per second; 0 means 50 */
    /* borrowed; counts each pass (reconcile_count) and the queue depth; NULL: no metrics */
    struct metrics *metrics;
};

struct pipelinerun_controller_stats {
    uint64_t reconciles; /* passes run */
    uint64_t writes;     /* API writes issued */
    uint64_t events;     /* Kubernetes Events posted (side effects, not counted as writes) */
};

/*
 * Create a controller on 'loop' that reads 'caches' and writes through 'kc' (both borrowed;
 * they must outlive it) and registers its handlers on 'caches'. Returns 0 and
 * *ret_controller, or < 0.
 */
int pipelinerun_controller_new(uv_loop_t *loop, struct kube_client *kc, struct caches *caches,
                               const struct pipelinerun_controller_options *opts,
                               struct pipelinerun_controller **ret_controller);

void pipelinerun_controller_stats(const struct pipelinerun_controller *c,
                                  struct pipelinerun_controller_stats *ret_stats);

/* Stop and free once passes in flight have ended; then 'done' (may be NULL) runs. */
typedef void pipelinerun_controller_closed_cb(void *ctx);
void pipelinerun_controller_close(struct pipelinerun_controller *c,
                                  pipelinerun_controller_closed_cb *done, void *ctx);

#endif
