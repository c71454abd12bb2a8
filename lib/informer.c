/*
 * Informer: list + watch + cache for one resource collection. The cache and its indexes
 * are jansson objects (key -> object, index value -> set of keys). The API calls go through
 * 'struct informer_ops'; what to do about failures beyond retrying is left to the caller's
 * on_error callback, and this file logs nothing above debug.
 */
#include "lib/informer.h"
#include "lib/jsonget.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

struct informer {
    uv_loop_t *loop;
    struct kube_client *kc;
    const struct informer_ops *ops;
    struct informer_options opts;
    char *path;

    json_t *cache;    /* key -> trimmed object (one reference each) */
    json_t *by_label; /* "k=v" -> {key: null} */
    json_t *by_owner; /* owner uid -> {key: null} */
    char *rv;
    bool synced;

    struct informer_handler *handlers;
    size_t nhandlers;

    uv_timer_t retry;
    uv_timer_t resync;
    struct backoff backoff;
    struct kube_watch *watch; /* non-NULL until its end callback ran */
    uint64_t watch_started_ms;
    bool watch_stopping; /* we asked the watch to stop; its end is expected */
    bool list_pending;
    bool running;
    bool closing;
    int pending_closes;
    informer_closed_cb *closed;
    void *closed_ctx;
};

/* ---- object helpers ---- */

char *informer_key(const json_t *obj)
{
    const char *name = jget_meta_str(obj, "name");
    const char *ns = jget_meta_str(obj, "namespace");

    if (!name || !*name)
        return NULL;
    if (!ns || !*ns)
        return xstrdup(name);
    return xasprintf("%s/%s", ns, name);
}

void informer_trim(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");

    json_object_del(meta, "managedFields");
    json_object_del(json_object_get(meta, "annotations"), LAST_APPLIED);
}

static bool parse_rv(const char *s, unsigned long long *ret)
{
    char *end;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *ret = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/*
 * Is 'rv' newer than 'have'? resourceVersions are opaque to clients, but every server we
 * know (etcd revisions) hands out increasing integers, so compare them as numbers when both
 * parse; otherwise anything different counts as newer.
 */
static bool rv_is_newer(const char *rv, const char *have)
{
    unsigned long long a, b;

    if (!have)
        return true;
    if (!rv)
        return false;
    if (parse_rv(rv, &a) && parse_rv(have, &b))
        return a > b;
    return strcmp(rv, have) != 0;
}

static void set_rv(struct informer *inf, const char *rv)
{
    if (!rv || (inf->rv && strcmp(inf->rv, rv) == 0))
        return;
    free(inf->rv);
    inf->rv = xstrdup(rv);
}

/* ---- indexes ---- */

static void index_set(json_t *index, const char *value, const char *key, bool add)
{
    json_t *set = json_object_get(index, value);

    if (add) {
        if (!set) {
            set = json_object();
            json_object_set_new(index, value, set);
        }
        json_object_set_new(set, key, json_null());
        return;
    }
    json_object_del(set, key);
    if (set && json_object_size(set) == 0)
        json_object_del(index, value);
}

/* Add 'obj' (a cached copy, hence not const) to the indexes under 'key', or remove it. */
static void index_object(struct informer *inf, const char *key, json_t *obj, bool add)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *labels = json_object_get(meta, "labels");
    const char *label;
    const json_t *value;
    const json_t *owner;
    size_t i;

    json_object_foreach(labels, label, value) {
        char *entry;

        if (!json_is_string(value))
            continue;
        entry = xasprintf("%s=%s", label, json_string_value(value));
        index_set(inf->by_label, entry, key, add);
        free(entry);
    }
    json_array_foreach(json_object_get(meta, "ownerReferences"), i, owner) {
        const char *uid = json_string_value(json_object_get(owner, "uid"));

        if (uid)
            index_set(inf->by_owner, uid, key, add);
    }
}

static json_t *lookup_set(const struct informer *inf, json_t *set)
{
    json_t *out = json_array();
    const char *key;
    const json_t *unused;

    json_object_foreach(set, key, unused) {
        json_array_append(out, json_object_get(inf->cache, key));
    }
    return out;
}

/* ---- the cache ---- */

static void emit_add(struct informer *inf, const json_t *obj)
{
    for (size_t i = 0; i < inf->nhandlers; i++)
        if (inf->handlers[i].add)
            inf->handlers[i].add(inf->handlers[i].ctx, obj);
}

static void emit_update(struct informer *inf, const json_t *old_obj, const json_t *new_obj)
{
    for (size_t i = 0; i < inf->nhandlers; i++)
        if (inf->handlers[i].update)
            inf->handlers[i].update(inf->handlers[i].ctx, old_obj, new_obj);
}

static void emit_delete(struct informer *inf, const json_t *obj)
{
    for (size_t i = 0; i < inf->nhandlers; i++)
        if (inf->handlers[i].del)
            inf->handlers[i].del(inf->handlers[i].ctx, obj);
}

/*
 * The object to cache for 'obj', trimmed: new reference. 'owned' itself when not NULL (a watch
 * event's object, 'obj' again, which nobody else reads: copying every event cost more CPU than
 * decoding it), else a deep copy of 'obj'.
 */
static json_t *object_to_cache(const struct informer *inf, const json_t *obj, json_t *owned)
{
    json_t *copy = owned ? json_incref(owned) : json_deep_copy(obj);

    informer_trim(copy);
    if (inf->opts.trim)
        inf->opts.trim(copy);
    return copy;
}

/* Cache 'obj' (stolen) under 'key'; returns the object it replaced (new reference) or NULL. */
static json_t *cache_put(struct informer *inf, const char *key, json_t *obj)
{
    json_t *old = json_incref(json_object_get(inf->cache, key));

    if (old)
        index_object(inf, key, old, false);
    json_object_set_new(inf->cache, key, obj);
    index_object(inf, key, obj, true);
    return old;
}

/* Remove 'key'; returns the object it held (new reference) or NULL. */
static json_t *cache_remove(struct informer *inf, const char *key)
{
    json_t *old = json_incref(json_object_get(inf->cache, key));

    if (!old)
        return NULL;
    index_object(inf, key, old, false);
    json_object_del(inf->cache, key);
    return old;
}

/* Put 'copy' (stolen) in the cache and tell the handlers whether it was new or changed. */
static void upsert(struct informer *inf, const char *key, json_t *copy)
{
    json_t *old;

    json_incref(copy); /* held across the handlers, whatever they do to the cache */
    old = cache_put(inf, key, copy);
    if (old)
        emit_update(inf, old, copy);
    else
        emit_add(inf, copy);
    json_decref(old);
    json_decref(copy);
}

static void remove_and_emit(struct informer *inf, const char *key, json_t *final_state)
{
    json_t *old = cache_remove(inf, key);

    emit_delete(inf, final_state ? final_state : old);
    json_decref(old);
}

static void mark_synced(struct informer *inf)
{
    if (inf->synced)
        return;
    inf->synced = true;
    if (inf->opts.on_synced)
        inf->opts.on_synced(inf->opts.ctx);
}

/*
 * informer_apply_list; with 'take_items' the items are cached themselves, trimmed in place,
 * instead of copies: for a list only its owner's reference holds, which drops it right after.
 */
static int apply_list(struct informer *inf, const json_t *list, bool take_items)
{
    const json_t *items = json_object_get(list, "items");
    json_t *fresh; /* key -> trimmed copy of the listed object */
    json_t *gone;  /* keys cached but no longer listed */
    const json_t *item;
    const char *key;
    json_t *value;
    size_t i;

    if (!json_is_array(items))
        return -EINVAL;
    fresh = json_object();
    json_array_foreach(items, i, item) {
        char *k = informer_key(item);

        if (k)
            json_object_set_new(
                fresh, k,
                object_to_cache(inf, item, take_items ? (json_t *)(uintptr_t)item : NULL));
        free(k);
    }
    gone = json_array();
    json_object_foreach(inf->cache, key, value) {
        if (!json_object_get(fresh, key))
            json_array_append_new(gone, json_string(key));
    }
    json_array_foreach(gone, i, item) {
        remove_and_emit(inf, json_string_value(item), NULL);
    }
    json_object_foreach(fresh, key, value) {
        const json_t *cached = json_object_get(inf->cache, key);
        const char *have = jget_meta_str(cached, "resourceVersion");
        const char *rv = jget_meta_str(value, "resourceVersion");

        if (cached && have && rv && strcmp(have, rv) == 0)
            continue; /* unchanged across the relist: no event */
        upsert(inf, key, json_incref(value));
    }
    set_rv(inf, jget_meta_str(list, "resourceVersion"));
    json_decref(gone);
    json_decref(fresh);
    mark_synced(inf);
    return 0;
}

int informer_apply_list(struct informer *inf, const json_t *list)
{
    return apply_list(inf, list, false);
}

/* Is the event for 'obj' older than or equal to what the cache has seen? */
static bool is_stale(const struct informer *inf, const char *rv, const json_t *cached)
{
    if (!rv)
        return false;
    if (inf->rv && !rv_is_newer(rv, inf->rv))
        return true;
    return cached && !rv_is_newer(rv, jget_meta_str(cached, "resourceVersion"));
}

/*
 * Apply one event. Only the watch stream ('from_stream') moves the resume point: an object
 * we learned about elsewhere (our own write's answer) is newer than the stream position, and
 * resuming from it would skip the events in between. 'owned' is NULL or 'obj' when the caller
 * gives it away: it is then cached (trimmed in place) instead of a copy.
 */
static int apply_event(struct informer *inf, const char *type, const json_t *obj, bool from_stream,
                       json_t *owned)
{
    const char *rv = jget_meta_str(obj, "resourceVersion");
    bool is_delete = strcmp(type, "DELETED") == 0;
    const json_t *cached;
    bool stale;
    char *key;
    int r = 0;

    if (strcmp(type, "BOOKMARK") == 0) {
        if (from_stream && rv && rv_is_newer(rv, inf->rv))
            set_rv(inf, rv);
        return 0;
    }
    if (!is_delete && strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0)
        return -EINVAL;
    key = informer_key(obj);
    if (!key)
        return -EINVAL;
    cached = json_object_get(inf->cache, key);
    stale = is_stale(inf, rv, cached);
    if (from_stream && rv && rv_is_newer(rv, inf->rv))
        set_rv(inf, rv); /* even for an echo of a write we already applied */
    if (stale)
        goto out; /* a replay or an out-of-order event: we already have this or newer */
    if (is_delete) {
        json_t *final_state;

        if (!cached)
            goto out; /* never seen: no phantom delete */
        final_state = object_to_cache(inf, obj, owned);
        remove_and_emit(inf, key, final_state);
        json_decref(final_state);
    } else {
        upsert(inf, key, object_to_cache(inf, obj, owned));
    }
    r = 1;
out:
    free(key);
    return r;
}

int informer_apply_watch_event(struct informer *inf, const char *type, const json_t *obj)
{
    return apply_event(inf, type, obj, true, NULL);
}

int informer_apply_event(struct informer *inf, const char *type, const json_t *obj)
{
    return apply_event(inf, type, obj, false, NULL);
}

void informer_resync(struct informer *inf)
{
    json_t *all = informer_list(inf); /* a snapshot: handlers may change the cache */
    const json_t *obj;
    size_t i;

    json_array_foreach(all, i, obj) {
        emit_update(inf, obj, obj);
    }
    json_decref(all);
}

const json_t *informer_get_key(const struct informer *inf, const char *key)
{
    return json_object_get(inf->cache, key);
}

const json_t *informer_get(const struct informer *inf, const char *ns, const char *name)
{
    char *key = ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
    const json_t *obj = json_object_get(inf->cache, key);

    free(key);
    return obj;
}

json_t *informer_list(const struct informer *inf)
{
    json_t *out = json_array();
    const char *key;
    json_t *obj;

    json_object_foreach(inf->cache, key, obj) {
        json_array_append(out, obj);
    }
    return out;
}

json_t *informer_by_label(const struct informer *inf, const char *key, const char *value)
{
    char *entry = xasprintf("%s=%s", key, value);
    json_t *out = lookup_set(inf, json_object_get(inf->by_label, entry));

    free(entry);
    return out;
}

json_t *informer_by_owner(const struct informer *inf, const char *uid)
{
    return lookup_set(inf, json_object_get(inf->by_owner, uid));
}

size_t informer_count(const struct informer *inf)
{
    return json_object_size(inf->cache);
}

bool informer_has_synced(const struct informer *inf)
{
    return inf->synced;
}

const char *informer_rv(const struct informer *inf)
{
    return inf->rv;
}

/* ---- the list/watch driver ---- */

static void start_list(struct informer *inf);
static void start_watch(struct informer *inf);

static void finish_close(struct informer *inf)
{
    informer_closed_cb *done = inf->closed;
    void *done_ctx = inf->closed_ctx;

    if (inf->pending_closes || inf->list_pending || inf->watch)
        return;
    json_decref(inf->cache);
    json_decref(inf->by_label);
    json_decref(inf->by_owner);
    free(inf->handlers);
    free(inf->rv);
    free(inf->path);
    free(inf);
    if (done)
        done(done_ctx);
}

static void on_retry(uv_timer_t *t)
{
    struct informer *inf = t->data;

    /* With a resourceVersion to resume from, only the watch needs restarting. */
    if (inf->synced && inf->rv)
        start_watch(inf);
    else
        start_list(inf);
}

static void retry_later(struct informer *inf, const char *op, int rc, const struct kube_status *st)
{
    uint64_t delay = backoff_next(&inf->backoff);

    if (inf->opts.on_error)
        inf->opts.on_error(inf->opts.ctx, op, rc, st, delay);
    uv_timer_start(&inf->retry, on_retry, delay, 0);
}

static void on_resync(uv_timer_t *t)
{
    informer_resync(t->data);
}

static void on_list(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct informer *inf = ctx;

    inf->list_pending = false;
    if (inf->closing) {
        finish_close(inf);
        return;
    }
    if (!inf->running || rc == -ECANCELED)
        return;
    /*
     * The list is the request's, freed after this callback, and nothing else holds its items:
     * caching them rather than copies keeps a list of thousands of objects from being in memory
     * twice at the end of the sync.
     */
    if (rc == 0 && apply_list(inf, obj, true) < 0)
        rc = -EINVAL;
    if (rc < 0) {
        retry_later(inf, "list", rc, st);
        return;
    }
    backoff_reset(&inf->backoff);
    if (inf->opts.resync_ms && !uv_is_active((uv_handle_t *)&inf->resync))
        uv_timer_start(&inf->resync, on_resync, inf->opts.resync_ms, inf->opts.resync_ms);
    start_watch(inf);
}

static void start_list(struct informer *inf)
{
    int r;

    if (!inf->running || inf->list_pending || inf->watch)
        return;
    r = inf->ops->list(inf->kc, inf->path, 0, on_list, inf);
    if (r < 0) {
        retry_later(inf, "list", r, NULL);
        return;
    }
    inf->list_pending = true;
}

static void on_watch_event(void *ctx, const char *type, json_t *obj)
{
    struct informer *inf = ctx;

    if (!inf->running)
        return; /* stopping: the cache stays as it was */
    /* drops stale and malformed events; the object is ours to keep (kube_watch_event_cb) */
    (void)apply_event(inf, type, obj, true, obj);
}

static void on_watch_end(void *ctx, int rc, const struct kube_status *st)
{
    struct informer *inf = ctx;
    uint64_t lasted = uv_now(inf->loop) - inf->watch_started_ms;
    bool stopped_by_us = inf->watch_stopping;

    inf->watch = NULL;
    inf->watch_stopping = false;
    if (inf->closing) {
        finish_close(inf);
        return;
    }
    if (!inf->running)
        return;
    if (stopped_by_us) {
        start_watch(inf); /* restarted before the old watch had ended */
        return;
    }
    if (rc == -ECANCELED)
        return; /* the client is closing */
    if (rc == -ESTALE) {
        start_list(inf); /* 410 Gone: our resourceVersion was compacted away; relist */
        return;
    }
    if (rc == 0 && lasted >= inf->opts.min_watch_ms) {
        backoff_reset(&inf->backoff);
        start_watch(inf); /* the server's watch timeout: resume from the last rv */
        return;
    }
    retry_later(inf, "watch", rc, st);
}

static void start_watch(struct informer *inf)
{
    int r;

    if (!inf->running || inf->list_pending || inf->watch)
        return;
    r = inf->ops->watch_start(inf->kc, inf->path, inf->rv, on_watch_event, on_watch_end, inf,
                              &inf->watch);
    if (r < 0) {
        inf->watch = NULL;
        retry_later(inf, "watch", r, NULL);
        return;
    }
    inf->watch_started_ms = uv_now(inf->loop);
}

int informer_new(uv_loop_t *loop, struct kube_client *kc, const struct informer_ops *ops,
                 const struct informer_options *opts, struct informer **ret_informer)
{
    struct informer *inf = xcalloc(1, sizeof(*inf));

    inf->loop = loop;
    inf->kc = kc;
    inf->ops = ops;
    inf->opts = *opts;
    inf->path = xstrdup(opts->path);
    inf->opts.path = inf->path;
    if (!inf->opts.backoff_base_ms)
        inf->opts.backoff_base_ms = 500;
    if (!inf->opts.backoff_max_ms)
        inf->opts.backoff_max_ms = 30 * 1000;
    if (!inf->opts.min_watch_ms)
        inf->opts.min_watch_ms = 1000; /* a watch that ends sooner is retried with backoff */
    backoff_init(&inf->backoff, inf->opts.backoff_base_ms, inf->opts.backoff_max_ms, 0.5,
                 opts->rand, opts->rand_ctx);
    inf->cache = json_object();
    inf->by_label = json_object();
    inf->by_owner = json_object();
    uv_timer_init(loop, &inf->retry);
    inf->retry.data = inf;
    uv_timer_init(loop, &inf->resync);
    inf->resync.data = inf;
    *ret_informer = inf;
    return 0;
}

void informer_add_handler(struct informer *inf, const struct informer_handler *handler)
{
    inf->handlers = xrealloc(inf->handlers, (inf->nhandlers + 1) * sizeof(*inf->handlers));
    inf->handlers[inf->nhandlers++] = *handler;
}

int informer_start(struct informer *inf)
{
    if (inf->running || inf->closing)
        return 0;
    inf->running = true;
    if (inf->synced && inf->rv)
        start_watch(inf);
    else
        start_list(inf);
    return 0;
}

void informer_stop(struct informer *inf)
{
    if (!inf->running)
        return;
    inf->running = false;
    uv_timer_stop(&inf->retry);
    uv_timer_stop(&inf->resync);
    if (inf->watch && !inf->watch_stopping) {
        inf->watch_stopping = true;
        inf->ops->watch_stop(inf->watch); /* its end callback follows with -ECANCELED */
    }
}

static void on_close(uv_handle_t *h)
{
    struct informer *inf = h->data;

    inf->pending_closes--;
    finish_close(inf);
}

void informer_close(struct informer *inf, informer_closed_cb *done, void *ctx)
{
    if (inf->closing)
        return;
    informer_stop(inf);
    inf->closing = true;
    inf->closed = done;
    inf->closed_ctx = ctx;
    inf->pending_closes = 2;
    uv_close((uv_handle_t *)&inf->retry, on_close);
    uv_close((uv_handle_t *)&inf->resync, on_close);
}
