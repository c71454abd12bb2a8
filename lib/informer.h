#ifndef LIB_INFORMER_H
#define LIB_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/backoff.h"
#include "lib/kube.h"

/*
 * An informer keeps a local cache of one resource collection, fed by a list and then a
 * watch from the list's resourceVersion, and tells handlers about adds, updates and
 * deletes. The cache is keyed by "namespace/name" ("name" for cluster-scoped objects),
 * indexed by label key=value and by owner UID, and holds trimmed copies (no
 * metadata.managedFields, no kubectl last-applied-configuration annotation).
 *
 * Events are de-duplicated by resourceVersion: an event whose resourceVersion is not newer
 * than the collection's last one or than the cached object's is dropped, so reconnects and
 * replays produce no duplicates. A relist (after 410 Gone) is diffed against the cache:
 * objects missing from the new list produce deletes, changed ones updates, unchanged ones
 * nothing. Watches that end normally restart from the last resourceVersion; failed lists and
 * watches are retried after a bounded exponential backoff with jitter.
 *
 * The cache half (informer_apply_list, informer_apply_watch_event and the getters) needs no loop
 * and no server; the driver half calls the API through 'struct informer_ops', which
 * production fills with kube_list, kube_watch_start and kube_watch_stop and tests with fakes.
 */

struct informer;

struct informer_ops {
    int (*list)(struct kube_client *kc, const char *collection_path, unsigned page_size,
                kube_done_cb *cb, void *ctx);
    int (*watch_start)(struct kube_client *kc, const char *collection_path, const char *rv,
                       kube_watch_event_cb *event_cb, kube_watch_end_cb *end_cb, void *ctx,
                       struct kube_watch **ret_watch);
    void (*watch_stop)(struct kube_watch *w);
};

/* Handler callbacks; objects are borrowed for the call (json_incref to keep one). */
typedef void informer_add_cb(void *ctx, const json_t *obj);
typedef void informer_update_cb(void *ctx, const json_t *old_obj, const json_t *new_obj);
typedef void informer_delete_cb(void *ctx, const json_t *obj);

/* Any member may be NULL. A resync delivers update(obj, obj) for every cached object. */
struct informer_handler {
    informer_add_cb *add;
    informer_update_cb *update;
    informer_delete_cb *del;
    void *ctx;
};

/* Extra trimming applied to each copy before it is cached (after the built-in trimming). */
typedef void informer_trim_cb(json_t *obj);

/*
 * A list or watch failed ('op' is "list" or "watch"); the informer retries by itself in
 * 'retry_ms'. 'st' may be NULL. The callee decides whether to log.
 */
typedef void informer_error_cb(void *ctx, const char *op, int rc, const struct kube_status *st,
                               uint64_t retry_ms);

/* The first list has been applied to the cache. */
typedef void informer_synced_cb(void *ctx);

struct informer_options {
    const char *path;         /* collection path, query allowed ("...?labelSelector=x") */
    uint64_t resync_ms;       /* 0: no periodic resync */
    uint64_t backoff_base_ms; /* 0 means 500 */
    uint64_t backoff_max_ms;  /* 0 means 30 s */
    uint64_t min_watch_ms;    /* a normal watch end sooner than this backs off; 0 means 1 s */
    informer_trim_cb *trim;   /* may be NULL */
    informer_error_cb *on_error;
    informer_synced_cb *on_synced;
    void *ctx;             /* for on_error and on_synced */
    backoff_rand_cb *rand; /* jitter source; NULL for the built-in one */
    void *rand_ctx;
};

/*
 * Create an idle informer for 'opts->path' (copied) on 'loop'. 'kc' is passed through to
 * 'ops' untouched (tests may pass NULL); 'ops' and 'kc' must outlive the informer.
 * Returns 0 and *ret_informer.
 */
int informer_new(uv_loop_t *loop, struct kube_client *kc, const struct informer_ops *ops,
                 const struct informer_options *opts, struct informer **ret_informer);

/* Register a handler (copied). Handlers run in registration order. */
void informer_add_handler(struct informer *inf, const struct informer_handler *handler);

/* Start listing and watching. Harmless when already started. Returns 0. */
int informer_start(struct informer *inf);

/* Stop the watch and the timers; the cache stays. Harmless when stopped. */
void informer_stop(struct informer *inf);

/*
 * Stop, then free the informer once its handles are closed and any list or watch in flight
 * has ended (the watch is stopped; a list ends at the latest when the client is closed);
 * then 'done' (may be NULL) runs.
 */
typedef void informer_closed_cb(void *ctx);
void informer_close(struct informer *inf, informer_closed_cb *done, void *ctx);

/*
 * Apply a List object (its "items" and metadata.resourceVersion) to the cache as a relist:
 * deletes for cached objects not in it, adds for new ones, updates for changed ones. Marks
 * the informer synced. Returns 0, or -EINVAL if 'list' has no "items" array (cache
 * untouched).
 */
int informer_apply_list(struct informer *inf, const json_t *list);

/*
 * Apply one watch event ("ADDED", "MODIFIED", "DELETED", "BOOKMARK") as the watch stream
 * delivers it: it also moves the resume point (informer_rv). Returns 1 if a handler event
 * was delivered, 0 if the event was a bookmark or was dropped (stale or duplicate
 * resourceVersion, delete of an unknown object), -EINVAL for an unknown type or an object
 * without metadata.name.
 */
int informer_apply_watch_event(struct informer *inf, const char *type, const json_t *obj);

/*
 * Apply an object learned outside the watch stream, typically the answer to our own write
 * ("MODIFIED"; "ADDED" after a create, "DELETED" after a delete), so the next reconcile
 * pass sees it before its watch event arrives. Same de-duplication and results as above,
 * but the resume point does not move (resuming from a write's resourceVersion would skip
 * other objects' events); the stream's echo of the write is then dropped as a duplicate.
 */
int informer_apply_event(struct informer *inf, const char *type, const json_t *obj);

/* Deliver update(obj, obj) for every cached object. */
void informer_resync(struct informer *inf);

/* The cached object, borrowed until the cache next changes, or NULL. 'ns' may be NULL. */
const json_t *informer_get(const struct informer *inf, const char *ns, const char *name);
const json_t *informer_get_key(const struct informer *inf, const char *key);

/* New arrays of the matching cached objects (possibly empty); the caller decrefs. */
json_t *informer_list(const struct informer *inf);
json_t *informer_by_label(const struct informer *inf, const char *key, const char *value);
json_t *informer_by_owner(const struct informer *inf, const char *uid);

size_t informer_count(const struct informer *inf);

/* True once the first list has been applied. */
bool informer_has_synced(const struct informer *inf);

/* The last resourceVersion seen (list, event or bookmark), borrowed; NULL before the list. */
const char *informer_rv(const struct informer *inf);

/*
 * The cache key of 'obj': "namespace/name", or "name" without a namespace. Returns a new
 * string, or NULL if metadata.name is missing.
 */
char *informer_key(const json_t *obj);

/* Remove metadata.managedFields and the kubectl last-applied-configuration annotation. */
void informer_trim(json_t *obj);

#endif
