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

/*
 * Why a key was queued. A pass may have several causes (the queue merges adds of one key):
 * it is counted once under each.
 */
enum taskrun_cause {
    TASKRUN_CAUSE_TASKRUN, /* a TaskRun event (spec, labels, annotations, deletion) */
    TASKRUN_CAUSE_POD,     /* a Pod event that changed what the planners read */
    TASKRUN_CAUSE_CHILD,   /* a PVC event */
    TASKRUN_CAUSE_AGAIN,   /* the previous pass had more to write */
    TASKRUN_CAUSE_DELAYED, /* a deadline the controller set (Pod start grace, sync wait) */
    TASKRUN_CAUSE_BUCKET,  /* the write token bucket was empty */
    TASKRUN_CAUSE_RETRY,   /* a failed pass, after its backoff */
    TASKRUN_CAUSE_RESYNC,  /* a resync or relist (old == new) */
    TASKRUN_CAUSE_COUNT
};

/* What a pass did. */
enum taskrun_outcome {
    TASKRUN_OUTCOME_WROTE,   /* issued its one write (or a Pod create's reads and create) */
    TASKRUN_OUTCOME_NOTHING, /* planned, nothing differed */
    TASKRUN_OUTCOME_DONE,    /* the run was done: skipped without planning */
    TASKRUN_OUTCOME_BUCKET,  /* the token bucket was empty: re-queued */
    TASKRUN_OUTCOME_FAILED,  /* planning or the write failed: retried after a backoff */
    TASKRUN_OUTCOME_OTHER,   /* caches not synced, run gone */
    TASKRUN_OUTCOME_COUNT
};

/* "taskrun", "pod", ...: the names the exit log uses. */
const char *taskrun_cause_name(enum taskrun_cause cause);
const char *taskrun_outcome_name(enum taskrun_outcome outcome);

/* Counters a benchmark or a test may read. */
struct taskrun_controller_stats {
    uint64_t reconciles; /* passes run */
    uint64_t writes;     /* API writes issued */
    uint64_t events;     /* Kubernetes Events posted (side effects, not counted as writes) */
    uint64_t passes_by_cause[TASKRUN_CAUSE_COUNT];
    uint64_t passes_by_outcome[TASKRUN_OUTCOME_COUNT];
    /* events that would have queued a pass but were dropped: our own write's answer applied
     * to the cache, or a Pod update that changed nothing the planners read */
    uint64_t own_write_events;
    uint64_t pod_updates_ignored;
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
