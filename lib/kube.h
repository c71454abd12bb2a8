#ifndef LIB_KUBE_H
#define LIB_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/*
 * A Kubernetes API client on one libuv loop: REST verbs and streamed watches. Knows
 * Kubernetes (paths, Status objects, resourceVersions), nothing of Tekton.
 *
 * Paths are API paths relative to the server, e.g. "/api/v1/namespaces/ns/configmaps/x"
 * or "/apis/tekton.dev/v1/taskruns" (all namespaces). Query strings may be appended by
 * the caller ("?labelSelector=..."); kube_path() builds them.
 *
 * Errors (style.md §5), mapped once from the HTTP status and the Status reason:
 *   404 -ENOENT, 409 AlreadyExists -EEXIST, 409 Conflict -EAGAIN, 410 -ESTALE,
 *   401/403 -EACCES, other 4xx -EINVAL, 5xx or transport failure -EIO, -ETIMEDOUT for a
 *   request timeout, -ECANCELED at shutdown.
 * Added with the implementation: 429 TooManyRequests is -EIO (retry after a backoff, like
 * 5xx); -E2BIG for a response past its size limit and -EBADMSG for a malformed one (both
 * with a message in 'st'); credentials that cannot be obtained (token file, exec plugin)
 * fail the request with -EACCES and the reason in 'st'.
 */

struct http_client;
struct kube_client;
struct kube_config;
struct kube_request;
struct kube_watch;

/* What the server said when it refused a request: the decoded metav1.Status, if any. */
struct kube_status {
    int http_code;       /* 0 for a transport failure */
    const char *reason;  /* e.g. "AlreadyExists"; may be NULL */
    const char *message; /* the server's or the transport's message; never NULL on error */
};

/* Map an HTTP status code and Status reason to the negative errno above (0 for 2xx). */
int kube_errno_from_status(int http_code, const char *reason);

/*
 * Create a client for 'config' (see lib/kubeconfig.h) on 'loop'. The client copies what it
 * needs from 'config'. Returns 0 and *ret_client, or < 0 (-EINVAL for an unusable config,
 * with a message in *reterr_msg that the caller frees).
 */
int kube_client_new(uv_loop_t *loop, const struct kube_config *config,
                    struct kube_client **ret_client, char **reterr_msg);

/*
 * The same on an HTTP client the caller made, which the kube client takes over (closes and
 * frees): the transport seam, e.g. http_client_new_fake() in tests. On failure 'http' is
 * closed too.
 */
int kube_client_new_with_http(uv_loop_t *loop, const struct kube_config *config,
                              struct http_client *http, struct kube_client **ret_client,
                              char **reterr_msg);

/* Ceilings and timeouts; a 0 field keeps the default shown. */
struct kube_limits {
    unsigned request_timeout_ms; /* 30000: every request but watches */
    size_t max_object_bytes;     /* 16 MiB: a single object's response */
    size_t max_list_bytes;       /* 64 MiB: one page of a list */
    size_t max_event_bytes;      /* 16 MiB: one watch event */
    unsigned watch_timeout_s;    /* 0: random in [300, 600), as client-go; the server ends the
                                    watch then, and a connection silent 60 s longer is dead */
};
void kube_client_set_limits(struct kube_client *kc, const struct kube_limits *limits);

/* HTTP requests sent so far (every page of a list, every watch start, every retry). */
uint64_t kube_client_requests_sent(const struct kube_client *kc);

/*
 * Cancel every in-flight request and watch (their callbacks run with -ECANCELED from the
 * loop) and free the client once they have; 'done' (may be NULL) runs after that.
 */
typedef void kube_closed_cb(void *ctx);
void kube_client_close(struct kube_client *kc, kube_closed_cb *done, void *ctx);

/*
 * Result of one REST call. On success rc is 0 and 'obj' is the decoded response body,
 * borrowed for the duration of the callback (json_incref it to keep it). On failure rc < 0,
 * 'obj' is NULL and 'st' describes the refusal (borrowed for the callback).
 */
typedef void kube_done_cb(void *ctx, int rc, const json_t *obj, const struct kube_status *st);

/*
 * Each verb starts one request. Returns 0 once queued; 'cb' then runs exactly once, later,
 * from the loop, never from inside this call. Returns < 0 if nothing was queued, and then
 * 'cb' never runs. 'body' is borrowed (serialised before return).
 */
int kube_get(struct kube_client *kc, const char *path, kube_done_cb *cb, void *ctx);
int kube_create(struct kube_client *kc, const char *collection_path, const json_t *body,
                kube_done_cb *cb, void *ctx);
int kube_update(struct kube_client *kc, const char *path, const json_t *body, kube_done_cb *cb,
                void *ctx);
/* PUT to the status subresource: 'path' is the object's path; "/status" is appended. */
int kube_update_status(struct kube_client *kc, const char *path, const json_t *body,
                       kube_done_cb *cb, void *ctx);

enum kube_patch_type {
    KUBE_PATCH_MERGE, /* application/merge-patch+json */
    KUBE_PATCH_JSON,  /* application/json-patch+json */
};
int kube_patch(struct kube_client *kc, const char *path, enum kube_patch_type type,
               const json_t *patch, kube_done_cb *cb, void *ctx);

enum kube_propagation {
    KUBE_PROPAGATION_DEFAULT,
    KUBE_PROPAGATION_BACKGROUND,
    KUBE_PROPAGATION_FOREGROUND,
    KUBE_PROPAGATION_ORPHAN,
};
int kube_delete(struct kube_client *kc, const char *path, enum kube_propagation propagation,
                kube_done_cb *cb, void *ctx);

/*
 * List a collection page by page (limit/continue) and deliver the whole list once: 'obj' in
 * the callback is a List object whose "items" hold every page's items and whose
 * metadata.resourceVersion is the list's; the items come without metadata.managedFields, which
 * would otherwise pile up over the pages. 'page_size' 0 means 500. A 410 on a continue token
 * restarts the list from the beginning once before failing with -ESTALE.
 */
int kube_list(struct kube_client *kc, const char *collection_path, unsigned page_size,
              kube_done_cb *cb, void *ctx);

/*
 * Watch events: 'type' is "ADDED", "MODIFIED", "DELETED" or "BOOKMARK"; 'obj' is borrowed
 * for the callback. It was decoded for this call alone and the client never reads it
 * afterwards, so the callee may json_incref() it and keep it, even change it (an informer
 * caches it as it is instead of copying it).
 */
typedef void kube_watch_event_cb(void *ctx, const char *type, json_t *obj);

/*
 * The watch ended and will not deliver more events: rc -ESTALE means the resourceVersion is
 * too old (410 Gone, in the response or as an ERROR event in the stream: relist), -ECANCELED
 * means kube_watch_stop() or client close, other < 0 a failure that the caller may retry
 * after a backoff. rc 0 means the server closed the stream normally (timeout): restart it
 * from the last resourceVersion seen.
 */
typedef void kube_watch_end_cb(void *ctx, int rc, const struct kube_status *st);

/*
 * Start a streamed watch of 'collection_path' from resourceVersion 'rv' with bookmarks
 * (allowWatchBookmarks=true), decoding lines however the server chunks them. Events arrive
 * in order through 'event_cb'; then 'end_cb' runs exactly once. Returns 0 and *ret_watch
 * (owned by the client until 'end_cb' has run; do not free it), or < 0 with no callbacks.
 */
int kube_watch_start(struct kube_client *kc, const char *collection_path, const char *rv,
                     kube_watch_event_cb *event_cb, kube_watch_end_cb *end_cb, void *ctx,
                     struct kube_watch **ret_watch);

/* Ask a watch to stop; its 'end_cb' then runs with -ECANCELED from the loop. Idempotent. */
void kube_watch_stop(struct kube_watch *w);

/*
 * Build "<prefix>/namespaces/<ns>/<resource>[/<name>]" ('ns' NULL or "" for cluster-wide
 * collections and cluster-scoped objects), with 'query' (may be NULL, "k=v&k2=v2",
 * already escaped) appended after '?'. 'prefix' is "/api/v1" or "/apis/<group>/<version>".
 * The caller frees the result.
 */
char *kube_path(const char *prefix, const char *ns, const char *resource, const char *name,
                const char *query);

#endif
