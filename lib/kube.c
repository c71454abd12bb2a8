/*
 * The Kubernetes client: REST verbs, paginated lists and streamed watches on lib/http, with
 * credentials from lib/kubeauth and every refusal mapped to an errno once, in the table
 * below. Resume, relist and backoff policy are the informer's; this file reports what
 * happened and keeps the server's message.
 */
#include "lib/kube.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/http.h"
#include "lib/kubeauth.h"
#include "lib/kubeconfig.h"
#include "lib/watchlines.h"
#include "lib/xalloc.h"

#ifndef TEKTITE_VERSION
#define TEKTITE_VERSION "dev"
#endif

#define DEFAULT_TIMEOUT_MS   30000u
#define DEFAULT_OBJECT_BYTES (16u * 1024 * 1024)
#define DEFAULT_LIST_BYTES   (64u * 1024 * 1024)
#define DEFAULT_EVENT_BYTES  (16u * 1024 * 1024)
#define DEFAULT_PAGE_SIZE    500u
#define WATCH_SILENCE_S      60u

/* Kubernetes' answers, mapped once (style.md §5). A NULL reason matches any reason. */
static const struct {
    int code;
    const char *reason;
    int err;
} status_map[] = {
    {404, NULL, -ENOENT}, {409, "AlreadyExists", -EEXIST},
    {409, NULL, -EAGAIN}, /* Conflict: re-read, then retry */
    {410, NULL, -ESTALE}, /* Gone/Expired: relist */
    {401, NULL, -EACCES}, {403, NULL, -EACCES},
    {429, NULL, -EIO}, /* TooManyRequests: back off like an overloaded server */
};

int kube_errno_from_status(int http_code, const char *reason)
{
    for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++) {
        if (status_map[i].code != http_code)
            continue;
        if (!status_map[i].reason || (reason && strcmp(reason, status_map[i].reason) == 0))
            return status_map[i].err;
    }
    if (http_code >= 200 && http_code < 300)
        return 0;
    if (http_code >= 400 && http_code < 500)
        return -EINVAL;
    return -EIO;
}

enum req_kind { REQ_PLAIN, REQ_LIST, REQ_WATCH };

struct kube_request {
    struct kube_client *kc;
    struct kube_request *prev, *next; /* every live request of the client */
    struct kube_request *done_next;   /* completed, callback pending */
    enum req_kind kind;
    const char *method;
    char *path; /* without the list/watch query we add */
    char *body;
    size_t body_len;
    const char *content_type;
    size_t max_body;
    kube_done_cb *cb;
    void *ctx;
    struct http_request *http; /* while in flight */
    bool waiting_auth;
    bool auth_refreshed; /* the exec plugin ran for this request already */
    bool retried_401;
    bool stopping;
    bool completed;
    /* lists */
    unsigned page_size;
    char *cont;    /* continue token of the next page */
    json_t *items; /* accumulated */
    json_t *first; /* the first page, for kind/apiVersion/metadata */
    bool restarted;
    /* watches */
    char *rv;
    kube_watch_event_cb *event_cb;
    kube_watch_end_cb *end_cb;
    struct watchlines lines;
    int stream_rc; /* why the stream decoder stopped */
    /* the outcome */
    int rc;
    json_t *obj;
    int http_code;
    char *reason;
    char *message;
};

/* kube.h's opaque watch handle is the request itself. */
struct kube_watch {
    struct kube_request req;
};

struct kube_client {
    uv_loop_t *loop;
    struct http_client *http;
    struct kube_auth *auth;
    char *server;
    bool auth_refreshable; /* token file or exec: a 401 may be cured by re-reading */
    bool refreshing;
    struct kube_limits limits;
    uint64_t requests_sent; /* HTTP requests handed to the transport: retries and pages count */
    struct kube_request *live;
    struct kube_request *done_head, *done_tail;
    uv_timer_t defer;
    bool closing;
    bool tearing_down;
    unsigned open_parts; /* http client, auth, defer timer */
    kube_closed_cb *closed_cb;
    void *closed_ctx;
};

static void submit(struct kube_request *req);

/* ---- completion ---- */

static void schedule(struct kube_client *kc);

static void set_outcome(struct kube_request *req, int rc, json_t *obj, int code, const char *reason,
                        const char *message)
{
    req->rc = rc;
    json_decref(req->obj);
    req->obj = obj;
    req->http_code = code;
    free(req->reason);
    req->reason = reason ? xstrdup(reason) : NULL;
    free(req->message);
    req->message = rc < 0 ? xstrdup(message && *message ? message : strerror(-rc)) : NULL;
}

/* Queue the callback with the outcome already recorded in 'req'. */
static void enqueue(struct kube_request *req)
{
    struct kube_client *kc = req->kc;

    if (req->completed)
        return;
    req->completed = true;
    if (kc->done_tail)
        kc->done_tail->done_next = req;
    else
        kc->done_head = req;
    kc->done_tail = req;
    schedule(kc);
}

/* Queue the callback with this outcome ('obj' stolen); later outcomes are ignored. */
static void complete(struct kube_request *req, int rc, json_t *obj, int code, const char *reason,
                     const char *message)
{
    if (req->completed) {
        json_decref(obj);
        return;
    }
    set_outcome(req, rc, obj, code, reason, message);
    enqueue(req);
}

static void request_free(struct kube_request *req)
{
    struct kube_client *kc = req->kc;

    if (req->prev)
        req->prev->next = req->next;
    else
        kc->live = req->next;
    if (req->next)
        req->next->prev = req->prev;
    free(req->path);
    free(req->body);
    free(req->cont);
    json_decref(req->items);
    json_decref(req->first);
    free(req->rv);
    if (req->kind == REQ_WATCH)
        watchlines_done(&req->lines);
    json_decref(req->obj);
    free(req->reason);
    free(req->message);
    free(req);
}

static void run_callback(struct kube_request *req)
{
    struct kube_status st = {
        .http_code = req->http_code, .reason = req->reason, .message = req->message};

    if (req->kind == REQ_WATCH)
        req->end_cb(req->ctx, req->rc, &st);
    else
        req->cb(req->ctx, req->rc, req->rc == 0 ? req->obj : NULL, &st);
    request_free(req);
}

static void on_part_closed(void *ctx);
static void on_defer_closed(uv_handle_t *h);

static void teardown(struct kube_client *kc)
{
    kc->tearing_down = true;
    http_client_close(kc->http, on_part_closed, kc);
    kube_auth_close(kc->auth, on_part_closed, kc);
    uv_close((uv_handle_t *)&kc->defer, on_defer_closed);
}

static void on_defer(uv_timer_t *t)
{
    struct kube_client *kc = t->data;
    struct kube_request *req = kc->done_head, *next;

    kc->done_head = kc->done_tail = NULL;
    for (; req; req = next) {
        next = req->done_next;
        run_callback(req);
    }
    if (kc->closing && !kc->live && !kc->done_head && !kc->tearing_down)
        teardown(kc);
}

static void schedule(struct kube_client *kc)
{
    if (!uv_is_closing((uv_handle_t *)&kc->defer))
        uv_timer_start(&kc->defer, on_defer, 0, 0);
}

/* ---- responses ---- */

/* One line of at most 200 bytes from a non-Status error body, for the message. */
static char *body_excerpt(const char *body, size_t len)
{
    size_t n = 0;
    char *out = xstrndup(body, len < 200 ? len : 200);

    for (; out[n]; n++)
        if ((unsigned char)out[n] < 0x20)
            out[n] = ' ';
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
    return out;
}

/* A refusal: decode the Status if there is one and map it. */
static void complete_refused(struct kube_request *req, const struct http_response *resp)
{
    json_t *st = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *message = json_string_value(json_object_get(st, "message"));
    int rc = kube_errno_from_status(resp->status, reason);
    char *fallback = NULL;

    if (rc == 0)
        rc = -EIO; /* a 1xx/3xx we do not follow */
    if (!message || !*message) {
        char *excerpt = body_excerpt(resp->body, resp->body_len);

        fallback = xasprintf("%s %s: HTTP %d%s%s", req->method, req->path, resp->status,
                             *excerpt ? ": " : "", excerpt);
        free(excerpt);
    }
    complete(req, rc, NULL, resp->status, reason, message && *message ? message : fallback);
    free(fallback);
    json_decref(st);
}

static void complete_transport(struct kube_request *req, int rc, const char *error)
{
    char *msg;

    if (rc == -E2BIG)
        msg = xasprintf("%s %s: response larger than the %zu-byte limit", req->method, req->path,
                        req->max_body);
    else
        msg = xasprintf("%s %s: %s", req->method, req->path, error ? error : strerror(-rc));
    complete(req, rc == -ECANCELED || rc == -ETIMEDOUT || rc == -E2BIG ? rc : -EIO, NULL, 0, NULL,
             msg);
    free(msg);
}

static int decode_body(struct kube_request *req, const struct http_response *resp, json_t **ret_obj)
{
    json_error_t jerr;
    json_t *obj = json_loadb(resp->body, resp->body_len, 0, &jerr);
    char *msg;

    if (json_is_object(obj)) {
        *ret_obj = obj;
        return 0;
    }
    msg = obj ? xasprintf("%s %s: response is not a JSON object", req->method, req->path)
              : xasprintf("%s %s: malformed JSON response: %s at byte %d", req->method, req->path,
                          jerr.text, jerr.position);
    json_decref(obj);
    complete(req, -EBADMSG, NULL, resp->status, NULL, msg);
    free(msg);
    return -EBADMSG;
}

static void list_page(struct kube_request *req, json_t *page)
{
    const json_t *meta = json_object_get(page, "metadata");
    const char *cont = json_string_value(json_object_get(meta, "continue"));
    json_t *items = json_object_get(page, "items");
    json_t *out_meta;

    if (json_is_array(items)) {
        json_t *item;
        size_t i;

        /*
         * Every page is held until the last one arrives: without its managedFields (the
         * server's field-ownership bookkeeping, often the largest part of an object, which no
         * lister reads) a list of thousands of runs peaked at a fraction of the memory.
         */
        json_array_foreach(items, i, item) {
            json_object_del(json_object_get(item, "metadata"), "managedFields");
        }
        json_array_extend(req->items, items);
    }
    if (!req->first)
        req->first = json_incref(page);
    free(req->cont);
    req->cont = cont && *cont ? xstrdup(cont) : NULL;
    if (req->cont) {
        json_decref(page);
        submit(req);
        return;
    }
    /* the last page: the first page's shape with every item, and this page's rv */
    out_meta = json_deep_copy(meta);
    if (!json_is_object(out_meta)) {
        json_decref(out_meta);
        out_meta = json_object();
    }
    json_object_del(out_meta, "continue");
    json_object_del(out_meta, "remainingItemCount");
    json_object_set_new(req->first, "metadata", out_meta);
    json_object_set(req->first, "items", req->items);
    complete(req, 0, json_incref(req->first), 200, NULL, NULL);
    json_decref(page);
}

static void on_http_done(void *ctx, int rc, const struct http_response *resp);

static bool retry_after_401(struct kube_request *req, const struct http_response *resp)
{
    if (resp->status != 401 || req->retried_401 || !req->kc->auth_refreshable || req->stopping ||
        req->kc->closing)
        return false;
    req->retried_401 = true; /* a rotated token file or an expired exec token; once */
    kube_auth_invalidate(req->kc->auth);
    submit(req);
    return true;
}

static void list_restart_or_fail(struct kube_request *req, const struct http_response *resp)
{
    /* 410 on a continue token: the snapshot expired; start over once */
    if (resp->status == 410 && req->cont && !req->restarted && !req->stopping) {
        req->restarted = true;
        free(req->cont);
        req->cont = NULL;
        json_array_clear(req->items);
        json_decref(req->first);
        req->first = NULL;
        submit(req);
        return;
    }
    complete_refused(req, resp);
}

static void on_http_done(void *ctx, int rc, const struct http_response *resp)
{
    struct kube_request *req = ctx;
    json_t *obj = NULL;

    req->http = NULL;
    if (req->kind == REQ_WATCH && req->stream_rc < 0 && rc < 0)
        rc = req->stream_rc; /* our decoder ended it: report why */
    /* stopped while the answer was already on its way: the caller asked for -ECANCELED */
    if (req->stopping)
        rc = -ECANCELED;
    if (rc < 0) {
        if (rc != -ECANCELED && req->rc == rc && req->message)
            enqueue(req); /* the stream decoder recorded the outcome (ERROR event, limit) */
        else
            complete_transport(req, rc, resp->error);
        return;
    }
    if (resp->status < 200 || resp->status >= 300) {
        if (retry_after_401(req, resp))
            return;
        if (req->kind == REQ_LIST)
            list_restart_or_fail(req, resp);
        else
            complete_refused(req, resp);
        return;
    }
    if (req->kind == REQ_WATCH) {
        /* the server ended the watch (its timeout); a cut-off event is an error */
        rc = watchlines_finish(&req->lines);
        complete(req, rc, NULL, resp->status, NULL,
                 rc < 0 ? "watch stream ended inside an event" : NULL);
        return;
    }
    if (decode_body(req, resp, &obj) < 0)
        return;
    if (req->kind == REQ_LIST)
        list_page(req, obj);
    else
        complete(req, 0, obj, resp->status, NULL, NULL);
}

/* ---- watch streams ---- */

static int watch_error_event(struct kube_request *req, const json_t *obj)
{
    int code = (int)json_integer_value(json_object_get(obj, "code"));
    const char *reason = json_string_value(json_object_get(obj, "reason"));
    const char *message = json_string_value(json_object_get(obj, "message"));
    int rc = code ? kube_errno_from_status(code, reason) : -EIO;

    /* 410 in the stream: our resourceVersion is too old; the informer relists */
    if (code == 410 || (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0)))
        rc = -ESTALE;
    if (rc == 0)
        rc = -EIO;
    set_outcome(req, rc, NULL, code, reason, message ? message : "watch ERROR event");
    return rc;
}

static bool is_event_type(const char *type)
{
    static const char *const known[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(type, known[i]) == 0)
            return true;
    return false;
}

static int on_watch_line(void *ctx, const char *line, size_t len)
{
    struct kube_request *req = ctx;
    json_t *ev = NULL;
    const char *type;
    const json_t *obj;
    char *err = NULL;
    int r;

    if (req->stopping)
        return -ECANCELED;
    r = watchlines_parse_event(line, len, &ev, &type, &obj, &err);
    if (r < 0) {
        set_outcome(req, r, NULL, 200, NULL, err);
        free(err);
        return r;
    }
    if (strcmp(type, "ERROR") == 0)
        r = watch_error_event(req, obj);
    else if (is_event_type(type))
        req->event_cb(req->ctx, type, json_object_get(ev, "object")); /* 'obj', not const */
    json_decref(ev);
    return r < 0 ? r : req->stopping ? -ECANCELED : 0;
}

static int on_watch_data(void *ctx, const char *data, size_t len)
{
    struct kube_request *req = ctx;
    int r = watchlines_feed(&req->lines, data, len, on_watch_line, req);

    if (r == -E2BIG)
        set_outcome(req, -E2BIG, NULL, 200, NULL, "watch event larger than the limit");
    if (r < 0)
        req->stream_rc = r;
    return r;
}

/* ---- starting requests ---- */

static void on_auth_refreshed(void *ctx, int rc, const char *error)
{
    struct kube_client *kc = ctx;
    struct kube_request *req, *next;

    kc->refreshing = false;
    for (req = kc->live; req; req = next) {
        next = req->next;
        if (!req->waiting_auth)
            continue;
        req->waiting_auth = false;
        req->auth_refreshed = true;
        if (rc < 0)
            complete(req, -EACCES, NULL, 0, NULL, error);
        else
            submit(req);
    }
}

static char *url_escape(const char *s)
{
    struct buf b;

    buf_init(&b, SIZE_MAX);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            (void)buf_append(&b, s, 1);
        else
            (void)buf_printf(&b, "%%%02X", c);
    }
    return buf_take(&b);
}

static unsigned watch_timeout(const struct kube_client *kc)
{
    if (kc->limits.watch_timeout_s)
        return kc->limits.watch_timeout_s;
    /* spread reconnects the way client-go does: [5, 10) minutes */
    return 300 + (unsigned)(uv_hrtime() % 300);
}

static char *request_url(const struct kube_request *req, unsigned *ret_watch_timeout)
{
    const struct kube_client *kc = req->kc;
    const char *sep = strchr(req->path, '?') ? "&" : "?";
    char *url, *tmp;

    if (req->kind == REQ_LIST) {
        tmp = req->cont ? url_escape(req->cont) : NULL;
        url = xasprintf("%s%s%slimit=%u%s%s", kc->server, req->path, sep, req->page_size,
                        tmp ? "&continue=" : "", tmp ? tmp : "");
        free(tmp);
        return url;
    }
    if (req->kind == REQ_WATCH) {
        *ret_watch_timeout = watch_timeout(kc);
        tmp = req->rv && *req->rv ? url_escape(req->rv) : NULL;
        url = xasprintf("%s%s%swatch=1&allowWatchBookmarks=true%s%s&timeoutSeconds=%u", kc->server,
                        req->path, sep, tmp ? "&resourceVersion=" : "", tmp ? tmp : "",
                        *ret_watch_timeout);
        free(tmp);
        return url;
    }
    return xasprintf("%s%s", kc->server, req->path);
}

/*
 * The Authorization header for 'req' in *ret_header (NULL: none). Returns 0; 1 when 'req' is
 * parked until the exec plugin has run; < 0 when 'req' has been completed with the error.
 */
static int credentials(struct kube_request *req, const char **ret_header)
{
    struct kube_client *kc = req->kc;
    char *err = NULL;
    int r = kube_auth_header(kc->auth, ret_header, &err);

    if (r == -EAGAIN && req->auth_refreshed) {
        complete(req, -EACCES, NULL, 0, NULL, "exec plugin returned an expired token");
        return -EACCES;
    }
    if (r == -EAGAIN) {
        req->waiting_auth = true;
        if (kc->refreshing)
            return 1;
        r = kube_auth_refresh(kc->auth, &err);
        if (r == 0) {
            kc->refreshing = true;
            return 1;
        }
        req->waiting_auth = false;
    }
    if (r < 0) {
        complete(req, -EACCES, NULL, 0, NULL, err);
        free(err);
        return -EACCES;
    }
    return 0;
}

static void send_request(struct kube_request *req, const char *auth)
{
    struct kube_client *kc = req->kc;
    const char *headers[5] = {"Accept: application/json", "User-Agent: tektite/" TEKTITE_VERSION};
    char *content_type =
        req->content_type ? xasprintf("Content-Type: %s", req->content_type) : NULL;
    size_t n = 2;
    unsigned watch_s = 0;
    char *url = request_url(req, &watch_s);
    struct http_request_spec spec = {
        .method = req->method,
        .url = url,
        .headers = headers,
        .body = req->body,
        .body_len = req->body_len,
        .max_body = req->max_body,
        .timeout_ms = req->kind == REQ_WATCH ? 0 : kc->limits.request_timeout_ms,
        .low_speed_time_s = req->kind == REQ_WATCH ? watch_s + WATCH_SILENCE_S : 0,
        .data_cb = req->kind == REQ_WATCH ? on_watch_data : NULL,
    };
    int r;

    if (content_type)
        headers[n++] = content_type;
    if (auth)
        headers[n++] = auth;
    headers[n] = NULL;
    kc->requests_sent++;
    r = http_request_start(kc->http, &spec, on_http_done, req, &req->http);
    if (r < 0)
        complete_transport(req, r, NULL);
    free(url);
    free(content_type);
}

/* Hand 'req' to the transport, or park it until the exec plugin has a token. */
static void submit(struct kube_request *req)
{
    const char *auth = NULL;

    if (req->stopping || req->kc->closing) {
        complete(req, -ECANCELED, NULL, 0, NULL, "request canceled");
        return;
    }
    if (credentials(req, &auth) != 0)
        return;
    send_request(req, auth);
}

static struct kube_request *request_new(struct kube_client *kc, enum req_kind kind,
                                        const char *method, const char *path, void *ctx)
{
    struct kube_request *req = xcalloc(1, sizeof(struct kube_watch));

    req->kc = kc;
    req->kind = kind;
    req->method = method;
    req->path = xstrdup(path);
    req->ctx = ctx;
    req->max_body = kind == REQ_LIST ? kc->limits.max_list_bytes : kc->limits.max_object_bytes;
    req->next = kc->live;
    if (kc->live)
        kc->live->prev = req;
    kc->live = req;
    return req;
}

static int start_plain(struct kube_client *kc, const char *method, const char *path,
                       const json_t *body, const char *content_type, kube_done_cb *cb, void *ctx)
{
    struct kube_request *req;
    char *text = NULL;

    if (!kc || !path || path[0] != '/' || !cb)
        return -EINVAL;
    if (kc->closing)
        return -ESHUTDOWN;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return -EINVAL;
    }
    req = request_new(kc, REQ_PLAIN, method, path, ctx);
    req->cb = cb;
    req->body = text;
    req->body_len = text ? strlen(text) : 0;
    req->content_type = content_type;
    submit(req);
    return 0;
}

int kube_get(struct kube_client *kc, const char *path, kube_done_cb *cb, void *ctx)
{
    return start_plain(kc, "GET", path, NULL, NULL, cb, ctx);
}

int kube_create(struct kube_client *kc, const char *collection_path, const json_t *body,
                kube_done_cb *cb, void *ctx)
{
    if (!body)
        return -EINVAL;
    return start_plain(kc, "POST", collection_path, body, "application/json", cb, ctx);
}

int kube_update(struct kube_client *kc, const char *path, const json_t *body, kube_done_cb *cb,
                void *ctx)
{
    if (!body)
        return -EINVAL;
    return start_plain(kc, "PUT", path, body, "application/json", cb, ctx);
}

int kube_update_status(struct kube_client *kc, const char *path, const json_t *body,
                       kube_done_cb *cb, void *ctx)
{
    char *status_path;
    int r;

    if (!path || !body)
        return -EINVAL;
    status_path = xasprintf("%s/status", path);
    r = start_plain(kc, "PUT", status_path, body, "application/json", cb, ctx);
    free(status_path);
    return r;
}

int kube_patch(struct kube_client *kc, const char *path, enum kube_patch_type type,
               const json_t *patch, kube_done_cb *cb, void *ctx)
{
    const char *ct;

    switch (type) {
    case KUBE_PATCH_MERGE:
        ct = "application/merge-patch+json";
        break;
    case KUBE_PATCH_JSON:
        ct = "application/json-patch+json";
        break;
    default:
        return -EINVAL;
    }
    if (!patch)
        return -EINVAL;
    return start_plain(kc, "PATCH", path, patch, ct, cb, ctx);
}

int kube_delete(struct kube_client *kc, const char *path, enum kube_propagation propagation,
                kube_done_cb *cb, void *ctx)
{
    static const char *const policies[] = {
        [KUBE_PROPAGATION_BACKGROUND] = "Background",
        [KUBE_PROPAGATION_FOREGROUND] = "Foreground",
        [KUBE_PROPAGATION_ORPHAN] = "Orphan",
    };
    json_t *opts;
    int r;

    if (propagation == KUBE_PROPAGATION_DEFAULT)
        return start_plain(kc, "DELETE", path, NULL, NULL, cb, ctx);
    if ((unsigned)propagation >= sizeof(policies) / sizeof(policies[0]))
        return -EINVAL;
    opts = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
                     "propagationPolicy", policies[propagation]);
    r = start_plain(kc, "DELETE", path, opts, "application/json", cb, ctx);
    json_decref(opts);
    return r;
}

int kube_list(struct kube_client *kc, const char *collection_path, unsigned page_size,
              kube_done_cb *cb, void *ctx)
{
    struct kube_request *req;

    if (!kc || !collection_path || collection_path[0] != '/' || !cb)
        return -EINVAL;
    if (kc->closing)
        return -ESHUTDOWN;
    req = request_new(kc, REQ_LIST, "GET", collection_path, ctx);
    req->cb = cb;
    req->page_size = page_size ? page_size : DEFAULT_PAGE_SIZE;
    req->items = json_array();
    submit(req);
    return 0;
}

int kube_watch_start(struct kube_client *kc, const char *collection_path, const char *rv,
                     kube_watch_event_cb *event_cb, kube_watch_end_cb *end_cb, void *ctx,
                     struct kube_watch **ret_watch)
{
    struct kube_request *req;

    if (!kc || !collection_path || collection_path[0] != '/' || !event_cb || !end_cb)
        return -EINVAL;
    if (kc->closing)
        return -ESHUTDOWN;
    req = request_new(kc, REQ_WATCH, "GET", collection_path, ctx);
    req->event_cb = event_cb;
    req->end_cb = end_cb;
    req->rv = rv ? xstrdup(rv) : NULL;
    watchlines_init(&req->lines, kc->limits.max_event_bytes);
    submit(req);
    if (ret_watch)
        *ret_watch = (struct kube_watch *)req;
    return 0;
}

static void stop_request(struct kube_request *req)
{
    if (req->completed || req->stopping)
        return;
    req->stopping = true;
    if (req->http) {
        http_request_cancel(req->http); /* on_http_done follows with -ECANCELED */
        return;
    }
    req->waiting_auth = false;
    complete(req, -ECANCELED, NULL, 0, NULL, "request canceled");
}

void kube_watch_stop(struct kube_watch *w)
{
    if (w)
        stop_request(&w->req);
}

/* ---- client lifetime ---- */

static void client_free(struct kube_client *kc)
{
    kube_closed_cb *cb = kc->closed_cb;
    void *ctx = kc->closed_ctx;

    free(kc->server);
    free(kc);
    if (cb)
        cb(ctx);
}

static void on_part_closed(void *ctx)
{
    struct kube_client *kc = ctx;

    if (--kc->open_parts == 0)
        client_free(kc);
}

static void on_defer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

void kube_client_close(struct kube_client *kc, kube_closed_cb *done, void *ctx)
{
    struct kube_request *req;

    if (!kc || kc->closing)
        return;
    kc->closing = true;
    kc->closed_cb = done;
    kc->closed_ctx = ctx;
    for (req = kc->live; req; req = req->next)
        stop_request(req);
    schedule(kc);
}

uint64_t kube_client_requests_sent(const struct kube_client *kc)
{
    return kc->requests_sent;
}

void kube_client_set_limits(struct kube_client *kc, const struct kube_limits *limits)
{
    kc->limits.request_timeout_ms =
        limits->request_timeout_ms ? limits->request_timeout_ms : DEFAULT_TIMEOUT_MS;
    kc->limits.max_object_bytes =
        limits->max_object_bytes ? limits->max_object_bytes : DEFAULT_OBJECT_BYTES;
    kc->limits.max_list_bytes =
        limits->max_list_bytes ? limits->max_list_bytes : DEFAULT_LIST_BYTES;
    kc->limits.max_event_bytes =
        limits->max_event_bytes ? limits->max_event_bytes : DEFAULT_EVENT_BYTES;
    kc->limits.watch_timeout_s = limits->watch_timeout_s;
}

static int check_server(const struct kube_config *config, char **reterr_msg)
{
    const char *s = config->server;

    if (s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) &&
        !strpbrk(s, " \t\r\n?#"))
        return 0;
    *reterr_msg = xasprintf("server '%s' from '%s' is not an http(s) URL", s ? s : "",
                            config->source ? config->source : "config");
    return -EINVAL;
}

int kube_client_new_with_http(uv_loop_t *loop, const struct kube_config *config,
                              struct http_client *http, struct kube_client **ret_client,
                              char **reterr_msg)
{
    struct kube_client *kc;
    const struct kube_limits defaults = {0};
    int r = check_server(config, reterr_msg);

    if (r < 0) {
        http_client_close(http, NULL, NULL);
        return r;
    }
    kc = xcalloc(1, sizeof(*kc));
    kc->loop = loop;
    kc->http = http;
    kc->server = xstrdup(config->server);
    kc->auth_refreshable = config->token_file || config->exec;
    kube_client_set_limits(kc, &defaults);
    kube_auth_new(loop, config, on_auth_refreshed, kc, &kc->auth);
    uv_timer_init(loop, &kc->defer);
    kc->defer.data = kc;
    kc->open_parts = 3;
    *ret_client = kc;
    return 0;
}

int kube_client_new(uv_loop_t *loop, const struct kube_config *config,
                    struct kube_client **ret_client, char **reterr_msg)
{
    struct http_tls tls = {
        .insecure_skip_verify = config->insecure_skip_tls_verify,
        .ca_file = config->ca_file,
        .ca_pem = config->ca_data.data,
        .ca_pem_len = config->ca_data.len,
        .cert_file = config->client_cert_file,
        .cert_pem = config->client_cert_data.data,
        .cert_pem_len = config->client_cert_data.len,
        .key_file = config->client_key_file,
        .key_pem = config->client_key_data.data,
        .key_pem_len = config->client_key_data.len,
        .proxy = config->proxy_url,
        .server_name = config->tls_server_name,
    };
    struct http_client *http = NULL;
    int r = check_server(config, reterr_msg);

    if (r < 0)
        return r;
    r = http_client_new(loop, &tls, &http);
    if (r < 0) {
        *reterr_msg = xstrdup("cannot initialise libcurl");
        return r;
    }
    return kube_client_new_with_http(loop, config, http, ret_client, reterr_msg);
}

char *kube_path(const char *prefix, const char *ns, const char *resource, const char *name,
                const char *query)
{
    bool has_ns = ns && *ns, has_name = name && *name, has_query = query && *query;

    return xasprintf("%s%s%s/%s%s%s%s%s", prefix, has_ns ? "/namespaces/" : "", has_ns ? ns : "",
                     resource, has_name ? "/" : "", has_name ? name : "", has_query ? "?" : "",
                     has_query ? query : "");
}
