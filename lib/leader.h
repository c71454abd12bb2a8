#ifndef LIB_LEADER_H
#define LIB_LEADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/kube.h"

/*
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics:
 *   - a candidate takes the lease when it is missing, empty (holderIdentity ""), or held by
 *     someone whose record has not changed for leaseDurationSeconds of *local* time since we
 *     first observed it (clocks are never compared across machines);
 *   - the leader renews every retry period and stops leading when no renewal has succeeded
 *     for the renew deadline, or when it sees another holder in the lease;
 *   - writes carry the resourceVersion read, so a 409 Conflict (-EAGAIN) means someone else
 *     wrote first: re-read at once;
 *   - on close the leader releases the lease (holderIdentity "", leaseDurationSeconds 1)
 *     so a successor need not wait out the lease.
 * The API goes through 'struct leader_ops' (kube_get/kube_create/kube_update in production,
 * fakes in tests). This file logs nothing; callbacks tell the owner what happened.
 */

struct leader;

struct leader_ops {
    int (*get)(struct kube_client *kc, const char *path, kube_done_cb *cb, void *ctx);
    int (*create)(struct kube_client *kc, const char *collection_path, const json_t *body,
                  kube_done_cb *cb, void *ctx);
    int (*update)(struct kube_client *kc, const char *path, const json_t *body, kube_done_cb *cb,
                  void *ctx);
};

/* We became the leader, or stopped being it (lost, or released at close). */
typedef void leader_cb(void *ctx);

/* The lease names a different holder than before ("" when released). */
typedef void leader_holder_cb(void *ctx, const char *identity);

/* A lease request failed (rc < 0, 'st' may be NULL); the elector retries by itself. */
typedef void leader_error_cb(void *ctx, int rc, const struct kube_status *st);

struct leader_options {
    const char *ns;             /* the Lease's namespace */
    const char *name;           /* the Lease's name */
    const char *identity;       /* our holderIdentity, unique per process */
    uint64_t lease_duration_ms; /* 0 means 15 s */
    uint64_t renew_deadline_ms; /* 0 means 10 s */
    uint64_t retry_period_ms;   /* 0 means 2 s */
    leader_cb *on_started;
    leader_cb *on_stopped;
    leader_holder_cb *on_new_holder; /* may be NULL */
    leader_error_cb *on_error;       /* may be NULL */
    void *ctx;
};

/*
 * Check the timings as client-go does (lease duration > renew deadline > 1.2 * retry
 * period > 0) and create an idle elector; the strings are copied.
 * Returns 0 and *ret_leader, or -EINVAL for bad options.
 */
int leader_new(uv_loop_t *loop, struct kube_client *kc, const struct leader_ops *ops,
               const struct leader_options *opts, struct leader **ret_leader);

/* Start campaigning: the first attempt is issued from this call. Harmless when started. */
void leader_start(struct leader *l);

/* True while we hold the lease (between on_started and on_stopped). */
bool leader_is_leader(const struct leader *l);

/*
 * Stop campaigning; if leading, release the lease and then call on_stopped. Frees the
 * elector once the request in flight (if any) has ended and the timers are closed; then
 * 'done' (may be NULL) runs.
 */
typedef void leader_closed_cb(void *ctx);
void leader_close(struct leader *l, leader_closed_cb *done, void *ctx);

/* Format 'unix_us' (microseconds since the epoch) as a Kubernetes MicroTime, UTC. */
void leader_format_time(int64_t unix_us, char *out, size_t size);

#endif
