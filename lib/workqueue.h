#ifndef LIB_WORKQUEUE_H
#define LIB_WORKQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/*
 * A work queue of string keys ("namespace/name") on one libuv loop, as reconcilers need it:
 *   - de-duplicated: a key added several times before it runs runs once; a key added while
 *     it is being processed runs once more after its pass ends;
 *   - per-key exponential backoff when a pass fails, forgotten when a pass succeeds;
 *   - delayed adds (timeouts), keeping the earliest deadline per key;
 *   - a token bucket that reconcilers ask before each write to the API server.
 * Keys are handed out from an idle handle, never from inside a workqueue call, with at most
 * 'max_active' passes running at once. No threads.
 */

struct workqueue;

/*
 * Process one key. 'key' is borrowed until workqueue_done() for it, and stays readable after
 * that until control returns to the loop (so "done, then workqueue_add_after(q, key, ...)"
 * is fine). The pass may finish in this call or later from another callback; either way it
 * ends with exactly one workqueue_done(q, key, rc).
 */
typedef void workqueue_process_cb(void *ctx, struct workqueue *q, const char *key);

typedef void workqueue_closed_cb(void *ctx);

struct workqueue_options {
    unsigned max_active;      /* passes running at once; 0 means 1 */
    uint64_t backoff_base_ms; /* first retry delay after a failed pass; 0 means 100 */
    uint64_t backoff_max_ms;  /* ceiling of the retry delay; 0 means 5 minutes */
    double write_qps;         /* writes per second the bucket refills; 0 means unlimited */
    unsigned write_burst;     /* bucket size; 0 means max(1, write_qps) */
};

/* A token bucket: 'rate' tokens per second, at most 'burst' stored; starts full. */
struct workqueue_bucket {
    double tokens;
    double per_ms;
    double burst;
    uint64_t last_ms;
};

void workqueue_bucket_init(struct workqueue_bucket *b, double rate, unsigned burst,
                           uint64_t now_ms);

/*
 * Reserve one token at time 'now_ms'. Returns 0 if it is available now, or the number of ms
 * until the reserved one is due: an empty bucket goes into debt, so the callers that wait are
 * served one per refill in the order they asked. A bucket with rate 0 is unlimited.
 */
uint64_t workqueue_bucket_reserve(struct workqueue_bucket *b, uint64_t now_ms);

/*
 * Create a queue on 'loop' ('opts' may be NULL for the defaults). Returns 0 and
 * *ret_queue; the handles are initialised but idle until a key is added.
 */
int workqueue_new(uv_loop_t *loop, const struct workqueue_options *opts,
                  workqueue_process_cb *process, void *ctx, struct workqueue **ret_queue);

/* Queue 'key' (copied) to run as soon as a slot is free. Ignored once closing. */
void workqueue_add(struct workqueue *q, const char *key);

/*
 * Queue 'key' to run 'delay_ms' from now (0 = workqueue_add). A key already waiting keeps
 * the earlier of its deadline and the new one. Ignored once closing.
 */
void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms);

/*
 * End the pass of 'key': rc 0 forgets its failures; rc < 0 requeues it after its backoff
 * (base * 2^failures, capped). A key re-added during the pass is queued again. Returns 0,
 * or -ENOENT if 'key' was not being processed (a caller bug, ignored).
 */
int workqueue_done(struct workqueue *q, const char *key, int rc);

/*
 * Drop the deadline of 'key' set by workqueue_add_after() or a failure's backoff, if any;
 * its other queued state stays. A reconciler whose pass plans from the current caches and
 * sets again whatever future deadline it still needs calls this as the pass starts, so
 * deadlines that only gathered events the pass has now seen cost no further pass.
 */
void workqueue_cancel_after(struct workqueue *q, const char *key);

/* Forget the failures of 'key' without touching its queued state. */
void workqueue_forget(struct workqueue *q, const char *key);

/* Failed passes of 'key' since its last success (0 for an unknown key). */
unsigned workqueue_failures(const struct workqueue *q, const char *key);

/* Keys ready to run now (not counting delayed or active ones). */
size_t workqueue_len(const struct workqueue *q);

/* Keys waiting for a deadline. */
size_t workqueue_delayed(const struct workqueue *q);

/*
 * Ask the write bucket for permission to write on behalf of 'key'. Returns true with a
 * token taken; false when the bucket is empty, and then 'key' holds a token reserved for
 * later and has been re-added for the moment it is due, so the pass should end without
 * writing (workqueue_done(q, key, 0)). A pass of that key that comes earlier (another event)
 * is refused again until then and takes no second token.
 */
bool workqueue_write_allowed(struct workqueue *q, const char *key);

/*
 * Stop handing out keys, drop the queued ones, close the handles and free the queue once
 * they are closed and every running pass has called workqueue_done(); then 'done' (may be
 * NULL) runs. 'q' must not be used afterwards except for workqueue_done() of running passes.
 */
void workqueue_close(struct workqueue *q, workqueue_closed_cb *done, void *ctx);

#endif
