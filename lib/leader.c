/*
 * Leader election over a Lease: one request at a time, a retry timer and a renew-deadline
 * timer. Expiry of another holder is judged by local time since its record last changed,
 * as client-go does. What to do on losing the lease (usually: exit) is the owner's call.
 */
#include "lib/leader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xalloc.h"

struct leader {
    uv_loop_t *loop;
    struct kube_client *kc;
    const struct leader_ops *ops;
    struct leader_options opts;
    char *ns;
    char *name;
    char *identity;
    char *collection_path;
    char *path;

    uv_timer_t retry;
    uv_timer_t deadline;
    json_t *lease;  /* the last Lease read or written, for its resourceVersion */
    char *observed; /* the last observed spec, serialised, to notice changes */
    char *holder;   /* the last observed holderIdentity */
    uint64_t observed_ms;
    bool leading;
    bool started;
    bool pending; /* a request is in flight */
    bool closing;
    bool releasing;
    int pending_closes;
    leader_closed_cb *closed;
    void *closed_ctx;
};

void leader_format_time(int64_t unix_us, char *out, size_t size)
{
    time_t secs = (time_t)(unix_us / 1000000);
    struct tm tm;
    char base[32];

    gmtime_r(&secs, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06ldZ", base, (long)(unix_us % 1000000));
}

static void now_string(char *out, size_t size)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    leader_format_time((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, out, size);
}

static const json_t *lease_spec(const json_t *lease)
{
    return json_object_get(lease, "spec");
}

static const char *spec_holder(const json_t *lease)
{
    const char *h = json_string_value(json_object_get(lease_spec(lease), "holderIdentity"));

    return h ? h : "";
}

/* ---- state changes ---- */

static void start_attempt(struct leader *l);
static void finish_close(struct leader *l);

static void on_retry(uv_timer_t *t)
{
    start_attempt(t->data);
}

static void schedule(struct leader *l, uint64_t delay_ms)
{
    if (!l->closing)
        uv_timer_start(&l->retry, on_retry, delay_ms, 0);
}

static void stop_leading(struct leader *l)
{
    if (!l->leading)
        return;
    l->leading = false;
    uv_timer_stop(&l->deadline);
    if (l->opts.on_stopped)
        l->opts.on_stopped(l->opts.ctx);
}

/* No renewal succeeded within the renew deadline: we may no longer hold the lease. */
static void on_deadline(uv_timer_t *t)
{
    stop_leading(t->data);
}

static void renewed(struct leader *l)
{
    uv_timer_start(&l->deadline, on_deadline, l->opts.renew_deadline_ms, 0);
    if (l->leading || l->closing)
        return;
    l->leading = true;
    if (l->opts.on_started)
        l->opts.on_started(l->opts.ctx);
}

/* Remember 'lease' (borrowed) and note when its record last changed, by our clock. */
static void observe(struct leader *l, const json_t *lease)
{
    char *record = json_dumps(lease_spec(lease), JSON_COMPACT | JSON_SORT_KEYS);
    const char *holder = spec_holder(lease);

    json_decref(l->lease);
    l->lease = json_deep_copy(lease);
    if (!record || !l->observed || strcmp(record, l->observed) != 0) {
        free(l->observed);
        l->observed = record;
        record = NULL;
        l->observed_ms = uv_now(l->loop);
    }
    free(record);
    if (!l->holder || strcmp(l->holder, holder) != 0) {
        free(l->holder);
        l->holder = xstrdup(holder);
        if (l->opts.on_new_holder && !l->closing)
            l->opts.on_new_holder(l->opts.ctx, holder);
    }
}

/* Has the observed holder's record gone unchanged for its lease duration? */
static bool observed_expired(const struct leader *l)
{
    json_int_t secs =
        json_integer_value(json_object_get(lease_spec(l->lease), "leaseDurationSeconds"));
    uint64_t duration = secs > 0 ? (uint64_t)secs * 1000 : l->opts.lease_duration_ms;

    return uv_now(l->loop) >= l->observed_ms + duration;
}

static void failed(struct leader *l, int rc, const struct kube_status *st)
{
    if (l->opts.on_error && !l->closing)
        l->opts.on_error(l->opts.ctx, rc, st);
    schedule(l, l->opts.retry_period_ms); /* the deadline timer decides when we lose */
}

/* ---- requests ---- */

enum record_kind {
    RECORD_CREATE,  /* a new lease: transitions 0 */
    RECORD_ACQUIRE, /* taking over: a new acquireTime, one more transition */
    RECORD_RENEW,   /* ours already: only renewTime moves */
    RECORD_RELEASE, /* giving up: no holder, 1 s duration */
};

/* A Lease to write: the last one read (metadata, resourceVersion) with our record. */
static json_t *build_lease(const struct leader *l, enum record_kind kind)
{
    json_t *lease = kind != RECORD_CREATE && l->lease ? json_deep_copy(l->lease) : NULL;
    uint64_t secs = (l->opts.lease_duration_ms + 999) / 1000;
    json_int_t transitions;
    json_t *spec;
    char now[48];

    if (!lease)
        lease = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "coordination.k8s.io/v1",
                          "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns);
    spec = json_object_get(lease, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(lease, "spec", spec);
    }
    transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
    now_string(now, sizeof(now));
    json_object_set_new(spec, "holderIdentity",
                        json_string(kind == RECORD_RELEASE ? "" : l->identity));
    json_object_set_new(spec, "leaseDurationSeconds",
                        json_integer(kind == RECORD_RELEASE ? 1 : (json_int_t)secs));
    json_object_set_new(spec, "renewTime", json_string(now));
    if (kind != RECORD_RENEW)
        json_object_set_new(spec, "acquireTime", json_string(now));
    if (kind == RECORD_CREATE)
        transitions = 0;
    else if (kind == RECORD_ACQUIRE)
        transitions++;
    json_object_set_new(spec, "leaseTransitions", json_integer(transitions));
    return lease;
}

static bool holds_lease(const struct leader *l)
{
    return l->lease && strcmp(spec_holder(l->lease), l->identity) == 0;
}

static void on_close(uv_handle_t *h)
{
    struct leader *l = h->data;

    if (--l->pending_closes)
        return;
    json_decref(l->lease);
    free(l->observed);
    free(l->holder);
    free(l->path);
    free(l->collection_path);
    free(l->identity);
    free(l->name);
    free(l->ns);
    if (l->closed)
        l->closed(l->closed_ctx);
    free(l);
}

static void finish_close(struct leader *l)
{
    stop_leading(l);
    l->pending_closes = 2;
    uv_close((uv_handle_t *)&l->retry, on_close);
    uv_close((uv_handle_t *)&l->deadline, on_close);
}

static void on_write(void *ctx, int rc, const json_t *obj, const struct kube_status *st);

/* Closing with nothing in flight: release the lease if we hold it, then close. */
static void release_or_finish(struct leader *l)
{
    json_t *body;
    int r;

    if (l->releasing || !holds_lease(l)) {
        finish_close(l);
        return;
    }
    body = build_lease(l, RECORD_RELEASE);
    r = l->ops->update(l->kc, l->path, body, on_write, l);
    json_decref(body);
    if (r < 0) {
        finish_close(l);
        return;
    }
    l->releasing = true;
    l->pending = true;
}

static void write_lease(struct leader *l, enum record_kind kind)
{
    json_t *body = build_lease(l, kind);
    int r;

    if (kind == RECORD_CREATE)
        r = l->ops->create(l->kc, l->collection_path, body, on_write, l);
    else
        r = l->ops->update(l->kc, l->path, body, on_write, l);
    json_decref(body);
    if (r < 0) {
        failed(l, r, NULL);
        return;
    }
    l->pending = true;
}

static void on_write(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct leader *l = ctx;

    l->pending = false;
    if (rc == 0 && !l->releasing)
        observe(l, obj);
    if (l->closing) {
        release_or_finish(l);
        return;
    }
    if (rc == 0) {
        renewed(l);
        schedule(l, l->opts.retry_period_ms);
    } else if (rc == -EAGAIN || rc == -EEXIST) {
        schedule(l, 0); /* someone else wrote first: re-read at once */
    } else {
        failed(l, rc, st);
    }
}

static void on_get(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct leader *l = ctx;
    const char *holder;

    l->pending = false;
    if (l->closing) {
        release_or_finish(l);
        return;
    }
    if (rc == -ENOENT) {
        write_lease(l, RECORD_CREATE);
        return;
    }
    if (rc < 0) {
        failed(l, rc, st);
        return;
    }
    observe(l, obj);
    holder = spec_holder(obj);
    if (strcmp(holder, l->identity) == 0) {
        write_lease(l, RECORD_RENEW);
    } else if (*holder == '\0' || observed_expired(l)) {
        write_lease(l, RECORD_ACQUIRE);
    } else {
        stop_leading(l); /* someone else holds a live lease */
        schedule(l, l->opts.retry_period_ms);
    }
}

static void start_attempt(struct leader *l)
{
    int r;

    if (l->closing || l->pending)
        return;
    r = l->ops->get(l->kc, l->path, on_get, l);
    if (r < 0) {
        failed(l, r, NULL);
        return;
    }
    l->pending = true;
}

/* ---- lifecycle ---- */

int leader_new(uv_loop_t *loop, struct kube_client *kc, const struct leader_ops *ops,
               const struct leader_options *opts, struct leader **ret_leader)
{
    struct leader_options o = *opts;
    struct leader *l;

    if (!o.ns || !*o.ns || !o.name || !*o.name || !o.identity || !*o.identity)
        return -EINVAL;
    if (!o.lease_duration_ms)
        o.lease_duration_ms = 15000;
    if (!o.renew_deadline_ms)
        o.renew_deadline_ms = 10000;
    if (!o.retry_period_ms)
        o.retry_period_ms = 2000;
    if (o.lease_duration_ms <= o.renew_deadline_ms ||
        (double)o.renew_deadline_ms <= 1.2 * (double)o.retry_period_ms)
        return -EINVAL;
    l = xcalloc(1, sizeof(*l));
    l->loop = loop;
    l->kc = kc;
    l->ops = ops;
    l->opts = o;
    l->ns = xstrdup(o.ns);
    l->name = xstrdup(o.name);
    l->identity = xstrdup(o.identity);
    l->opts.ns = l->ns;
    l->opts.name = l->name;
    l->opts.identity = l->identity;
    l->collection_path = xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
    l->path = xasprintf("%s/%s", l->collection_path, l->name);
    uv_timer_init(loop, &l->retry);
    l->retry.data = l;
    uv_timer_init(loop, &l->deadline);
    l->deadline.data = l;
    *ret_leader = l;
    return 0;
}

void leader_start(struct leader *l)
{
    if (l->started || l->closing)
        return;
    l->started = true;
    start_attempt(l);
}

bool leader_is_leader(const struct leader *l)
{
    return l->leading;
}

void leader_close(struct leader *l, leader_closed_cb *done, void *ctx)
{
    if (l->closing)
        return;
    l->closing = true;
    l->closed = done;
    l->closed_ctx = ctx;
    uv_timer_stop(&l->retry);
    if (!l->pending)
        release_or_finish(l);
}
