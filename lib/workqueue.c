/*
 * Work queue: a hash of per-key items, a FIFO of ready keys, a min-heap of delayed keys, an
 * idle handle that hands ready keys to the process callback and a timer for the heap's
 * earliest deadline. Knows nothing of Kubernetes; the caller decides what a key means.
 */
#include "lib/workqueue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/backoff.h"
#include "lib/xalloc.h"

#define NOT_DELAYED SIZE_MAX

struct item {
    char *key;
    struct item *hash_next;
    struct item *ready_next;
    bool queued;  /* in the ready FIFO */
    bool active;  /* handed to the process callback, no workqueue_done() yet */
    bool dirty;   /* added again while active */
    bool retired; /* on the retired list, to be freed from the loop if still idle */
    struct item *retired_next;
    size_t heap_index;
    uint64_t deadline;
    unsigned failures;
    /* a write token this key reserved in a pass that had to wait for one (see
     * workqueue_write_allowed), usable from 'write_token_due' on */
    bool has_write_token;
    uint64_t write_token_due;
};

struct workqueue {
    uv_loop_t *loop;
    uv_idle_t idle;
    uv_timer_t timer;
    workqueue_process_cb *process;
    void *ctx;
    struct workqueue_options opts;
    struct workqueue_bucket bucket;

    struct item **buckets;
    size_t nbuckets;
    size_t nitems;

    struct item *ready_head;
    struct item *ready_tail;
    size_t nready;

    struct item **heap;
    size_t nheap;
    size_t heap_cap;

    struct item *retired; /* idle items waiting for on_idle to free them */

    unsigned nactive;
    bool closing;
    int pending_closes;
    workqueue_closed_cb *closed;
    void *closed_ctx;
};

void workqueue_bucket_init(struct workqueue_bucket *b, double rate, unsigned burst, uint64_t now_ms)
{
    b->per_ms = rate > 0 ? rate / 1000.0 : 0;
    b->burst = burst ? burst : (rate > 1 ? rate : 1);
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

uint64_t workqueue_bucket_reserve(struct workqueue_bucket *b, uint64_t now_ms)
{
    double wait;

    if (b->per_ms <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    /* A debt rather than a refusal: every caller gets its own token, in the order they asked,
     * so N waiting writers wake once each instead of all of them at every refill. */
    b->tokens -= 1.0;
    if (b->tokens >= 0.0)
        return 0;
    wait = -b->tokens / b->per_ms;
    return (double)(uint64_t)wait < wait ? (uint64_t)wait + 1 : (uint64_t)wait;
}

/* ---- the key -> item hash ---- */

static size_t hash_key(const char *s)
{
    size_t h = 14695981039346656037ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct item *item_find(const struct workqueue *q, const char *key)
{
    struct item *it = q->buckets[hash_key(key) & (q->nbuckets - 1)];

    while (it && strcmp(it->key, key) != 0)
        it = it->hash_next;
    return it;
}

static void hash_grow(struct workqueue *q)
{
    size_t n = q->nbuckets * 2;
    struct item **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < q->nbuckets; i++) {
        struct item *it = q->buckets[i];

        while (it) {
            struct item *next = it->hash_next;
            size_t h = hash_key(it->key) & (n - 1);

            it->hash_next = b[h];
            b[h] = it;
            it = next;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
}

static struct item *item_get(struct workqueue *q, const char *key)
{
    struct item *it = item_find(q, key);
    size_t h;

    if (it)
        return it;
    if (q->nitems >= q->nbuckets)
        hash_grow(q);
    it = xcalloc(1, sizeof(*it));
    it->key = xstrdup(key);
    it->heap_index = NOT_DELAYED;
    h = hash_key(key) & (q->nbuckets - 1);
    it->hash_next = q->buckets[h];
    q->buckets[h] = it;
    q->nitems++;
    return it;
}

static bool item_is_idle(const struct item *it)
{
    return !it->queued && !it->active && !it->dirty && it->heap_index == NOT_DELAYED &&
           !it->failures;
}

static void item_free(struct workqueue *q, struct item *it)
{
    struct item **p = &q->buckets[hash_key(it->key) & (q->nbuckets - 1)];

    while (*p != it)
        p = &(*p)->hash_next;
    *p = it->hash_next;
    q->nitems--;
    free(it->key);
    free(it);
}

static void on_idle(uv_idle_t *idle);

/*
 * Schedule 'it' to be freed from the loop when nothing refers to it any more. Never freed
 * at once: the caller may still hold the key string (workqueue_done, then add_after).
 */
static void item_retire_if_idle(struct workqueue *q, struct item *it)
{
    if (it->retired || !item_is_idle(it) || q->closing)
        return;
    it->retired = true;
    it->retired_next = q->retired;
    q->retired = it;
    uv_idle_start(&q->idle, on_idle);
}

/* Free the retired items that are still idle (a retired key may have been re-added). */
static void sweep_retired(struct workqueue *q)
{
    while (q->retired) {
        struct item *it = q->retired;

        q->retired = it->retired_next;
        it->retired = false;
        if (item_is_idle(it))
            item_free(q, it);
    }
}

/* ---- the delayed min-heap ---- */

static void heap_swap(struct workqueue *q, size_t a, size_t b)
{
    struct item *t = q->heap[a];

    q->heap[a] = q->heap[b];
    q->heap[b] = t;
    q->heap[a]->heap_index = a;
    q->heap[b]->heap_index = b;
}

static void heap_up(struct workqueue *q, size_t i)
{
    while (i > 0 && q->heap[(i - 1) / 2]->deadline > q->heap[i]->deadline) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct workqueue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1;
        size_t small = i;

        if (l < q->nheap && q->heap[l]->deadline < q->heap[small]->deadline)
            small = l;
        if (l + 1 < q->nheap && q->heap[l + 1]->deadline < q->heap[small]->deadline)
            small = l + 1;
        if (small == i)
            return;
        heap_swap(q, i, small);
        i = small;
    }
}

static void heap_push(struct workqueue *q, struct item *it)
{
    if (q->nheap == q->heap_cap) {
        q->heap_cap = q->heap_cap ? 2 * q->heap_cap : 16;
        q->heap = xrealloc(q->heap, q->heap_cap * sizeof(*q->heap));
    }
    it->heap_index = q->nheap;
    q->heap[q->nheap++] = it;
    heap_up(q, it->heap_index);
}

static struct item *heap_pop(struct workqueue *q)
{
    struct item *top = q->heap[0];

    heap_swap(q, 0, q->nheap - 1);
    q->nheap--;
    top->heap_index = NOT_DELAYED;
    if (q->nheap)
        heap_down(q, 0);
    return top;
}

/* ---- scheduling ---- */

static void on_timer(uv_timer_t *t);

static void arm_timer(struct workqueue *q)
{
    uint64_t now = uv_now(q->loop);
    uint64_t due;

    if (q->closing)
        return;
    if (q->nheap == 0) {
        uv_timer_stop(&q->timer);
        return;
    }
    due = q->heap[0]->deadline;
    uv_timer_start(&q->timer, on_timer, due > now ? due - now : 0, 0);
}

static void kick(struct workqueue *q)
{
    if (!q->closing && q->nready && q->nactive < q->opts.max_active)
        uv_idle_start(&q->idle, on_idle);
}

static void push_ready(struct workqueue *q, struct item *it)
{
    it->queued = true;
    it->ready_next = NULL;
    if (q->ready_tail)
        q->ready_tail->ready_next = it;
    else
        q->ready_head = it;
    q->ready_tail = it;
    q->nready++;
    kick(q);
}

static void add_item(struct workqueue *q, struct item *it)
{
    if (it->active) {
        it->dirty = true; /* runs again once the current pass ends */
        return;
    }
    if (!it->queued)
        push_ready(q, it);
}

void workqueue_add(struct workqueue *q, const char *key)
{
    if (q->closing)
        return;
    add_item(q, item_get(q, key));
}

void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms)
{
    struct item *it;
    uint64_t deadline;

    if (q->closing)
        return;
    if (delay_ms == 0) {
        workqueue_add(q, key);
        return;
    }
    it = item_get(q, key);
    deadline = uv_now(q->loop) + delay_ms;
    if (it->heap_index != NOT_DELAYED) {
        if (it->deadline <= deadline)
            return; /* the earlier deadline wins */
        it->deadline = deadline;
        heap_up(q, it->heap_index);
    } else {
        it->deadline = deadline;
        heap_push(q, it);
    }
    arm_timer(q);
}

static void on_timer(uv_timer_t *t)
{
    struct workqueue *q = t->data;
    uint64_t now = uv_now(q->loop);

    while (q->nheap && q->heap[0]->deadline <= now)
        add_item(q, heap_pop(q));
    arm_timer(q);
}

static struct item *pop_ready(struct workqueue *q)
{
    struct item *it = q->ready_head;

    q->ready_head = it->ready_next;
    if (!q->ready_head)
        q->ready_tail = NULL;
    q->nready--;
    it->queued = false;
    it->ready_next = NULL;
    return it;
}

static void on_idle(uv_idle_t *idle)
{
    struct workqueue *q = idle->data;
    size_t budget = q->nready; /* keys re-added during this tick wait for the next one */

    sweep_retired(q);
    while (budget-- && q->nready && q->nactive < q->opts.max_active && !q->closing) {
        struct item *it = pop_ready(q);

        it->active = true;
        q->nactive++;
        q->process(q->ctx, q, it->key);
    }
    if (q->retired)
        return; /* a pass retired items: sweep them next tick */
    if (q->closing || q->nready == 0 || q->nactive >= q->opts.max_active)
        uv_idle_stop(&q->idle);
}

/* ---- lifecycle ---- */

int workqueue_new(uv_loop_t *loop, const struct workqueue_options *opts,
                  workqueue_process_cb *process, void *ctx, struct workqueue **ret_queue)
{
    struct workqueue *q = xcalloc(1, sizeof(*q));

    q->loop = loop;
    q->process = process;
    q->ctx = ctx;
    if (opts)
        q->opts = *opts;
    if (q->opts.max_active == 0)
        q->opts.max_active = 1;
    if (q->opts.backoff_base_ms == 0)
        q->opts.backoff_base_ms = 100;
    if (q->opts.backoff_max_ms == 0)
        q->opts.backoff_max_ms = 5 * 60 * 1000;
    workqueue_bucket_init(&q->bucket, q->opts.write_qps, q->opts.write_burst, uv_now(loop));
    q->nbuckets = 64;
    q->buckets = xcalloc(q->nbuckets, sizeof(*q->buckets));
    uv_idle_init(loop, &q->idle);
    q->idle.data = q;
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
    *ret_queue = q;
    return 0;
}

/* Free the queue once both handles are closed and no pass is running. */
static void finish_close(struct workqueue *q)
{
    workqueue_closed_cb *done = q->closed;
    void *done_ctx = q->closed_ctx;

    if (q->pending_closes || q->nactive)
        return;
    for (size_t i = 0; i < q->nbuckets; i++) {
        while (q->buckets[i])
            item_free(q, q->buckets[i]);
    }
    free(q->heap);
    free(q->buckets);
    free(q);
    if (done)
        done(done_ctx);
}

int workqueue_done(struct workqueue *q, const char *key, int rc)
{
    struct item *it = item_find(q, key);

    if (!it || !it->active)
        return -ENOENT;
    it->active = false;
    q->nactive--;
    if (q->closing) {
        finish_close(q); /* frees 'it' with the rest once the last pass is done */
        return 0;
    }
    if (rc < 0) {
        uint64_t delay =
            backoff_delay(q->opts.backoff_base_ms, q->opts.backoff_max_ms, it->failures);

        if (it->failures < UINT32_MAX)
            it->failures++;
        workqueue_add_after(q, key, delay);
    } else {
        it->failures = 0;
    }
    if (it->dirty) {
        it->dirty = false;
        push_ready(q, it);
    }
    kick(q);
    item_retire_if_idle(q, it);
    return 0;
}

void workqueue_cancel_after(struct workqueue *q, const char *key)
{
    struct item *it = item_find(q, key);
    size_t i;

    if (!it || it->heap_index == NOT_DELAYED)
        return;
    i = it->heap_index;
    heap_swap(q, i, q->nheap - 1);
    q->nheap--;
    it->heap_index = NOT_DELAYED;
    if (i < q->nheap) {
        struct item *moved = q->heap[i]; /* the former last one, now at i */

        heap_up(q, i);
        heap_down(q, moved->heap_index);
    }
    arm_timer(q);
    item_retire_if_idle(q, it);
}

void workqueue_forget(struct workqueue *q, const char *key)
{
    struct item *it = item_find(q, key);

    if (!it)
        return;
    it->failures = 0;
    item_retire_if_idle(q, it);
}

unsigned workqueue_failures(const struct workqueue *q, const char *key)
{
    const struct item *it = item_find(q, key);

    return it ? it->failures : 0;
}

size_t workqueue_len(const struct workqueue *q)
{
    return q->nready;
}

size_t workqueue_delayed(const struct workqueue *q)
{
    return q->nheap;
}

bool workqueue_write_allowed(struct workqueue *q, const char *key)
{
    uint64_t now = uv_now(q->loop);
    struct item *it = item_find(q, key);
    uint64_t wait;

    if (it && it->has_write_token) {
        if (now >= it->write_token_due) {
            it->has_write_token = false;
            return true;
        }
        wait = it->write_token_due - now; /* woken early by some event: the token is not due */
    } else {
        wait = workqueue_bucket_reserve(&q->bucket, now);
        if (wait == 0)
            return true;
        it = item_get(q, key);
        it->has_write_token = true;
        it->write_token_due = now + wait;
    }
    workqueue_add_after(q, key, wait);
    return false;
}

static void on_close(uv_handle_t *h)
{
    struct workqueue *q = h->data;

    q->pending_closes--;
    finish_close(q);
}

void workqueue_close(struct workqueue *q, workqueue_closed_cb *done, void *ctx)
{
    if (q->closing)
        return;
    q->closing = true;
    q->closed = done;
    q->closed_ctx = ctx;
    uv_idle_stop(&q->idle);
    uv_timer_stop(&q->timer);
    /* Nothing runs any more; the items are freed with the queue, after the last pass. */
    while (q->nready)
        pop_ready(q);
    while (q->nheap)
        heap_pop(q);
    q->retired = NULL;
    q->pending_closes = 2;
    uv_close((uv_handle_t *)&q->idle, on_close);
    uv_close((uv_handle_t *)&q->timer, on_close);
}
