#ifndef CONTROLLER_RUNMETRICS_H
#define CONTROLLER_RUNMETRICS_H

#include <uv.h>

/*
 * Feeds Tekton's run metrics from the shared caches: a run whose Succeeded condition turns
 * final is observed once (duration, count by status), a Pod's scheduling latency once, and the
 * running gauges are recounted every few seconds. It watches; it never writes.
 */

struct caches;
struct metrics;
struct runmetrics;

/* Register on 'caches' and feed 'm' (both borrowed; they must outlive it). Returns 0. */
int runmetrics_new(uv_loop_t *loop, struct caches *caches, struct metrics *m,
                   struct runmetrics **ret_runmetrics);

/* Stop the timer and free from the loop; then 'done' (may be NULL) runs. */
typedef void runmetrics_closed_cb(void *ctx);
void runmetrics_close(struct runmetrics *rm, runmetrics_closed_cb *done, void *ctx);

#endif
