/*
 * The webhook's runtime: certificate lifecycle in a Secret, caBundle injection, and the HTTPS
 * routes. Each pass is a chain of API calls: GET the Secret, create or update it when the
 * certificate must be (re)made, serve it, then GET and patch each object whose caBundle lags.
 * The admission and conversion logic is in controller/webhook and controller/conversion.
 */
#include "controller/webhookserver.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "controller/certs.h"
#include "controller/conversion.h"
#include "controller/tekton_config.h"
#include "controller/webhook.h"
#include "lib/httpserver.h"
#include "lib/kube.h"
#include "lib/kubeconfig.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define LOG_MODULE "webhook"

#define DEFAULT_VALIDITY_S (365 * 24 * 3600)
#define DEFAULT_CHECK_MS   60000
#define RETRY_SOON_MS      2000
/* an AdmissionReview carries the whole object, old and new (etcd keeps up to 1.5 MiB each) */
#define WEBHOOK_MAX_BODY (8u << 20)
/* past the API server's default webhook timeout (timeoutSeconds: 10) */
#define WEBHOOK_TIMEOUT_MS 15000

static const char *const crd_names[] = {
    "tasks.tekton.dev",
    "taskruns.tekton.dev",
    "pipelines.tekton.dev",
    "pipelineruns.tekton.dev",
};
#define NCRDS (sizeof(crd_names) / sizeof(crd_names[0]))

struct webhookserver {
    uv_loop_t *loop;
    struct kube_client *kc;
    char *host, *service, *ns, *secret, *mutating, *validating;
    int port;
    int64_t validity_s;
    uint64_t check_ms;
    webhookserver_config_cb *config;
    webhookserver_serving_cb *on_serving;
    void *cb_ctx;
    struct tekton_config *builtin; /* used when 'config' gives none */
    struct httpserver *tls;
    struct certs_bundle served; /* what 'tls' serves; ca_cert is what the caBundles must say */
    char *ca_b64;               /* base64 of served.ca_cert */
    uv_timer_t timer;
    struct kube_watch *watch; /* of the Secret; NULL until a pass (re)starts it */
    char *secret_rv;          /* the Secret's last seen resourceVersion, to watch from */
    int inflight;             /* API calls whose callbacks have not run (not the watch) */
    bool pass_running;
    bool closing;
    bool timer_closed;
    bool tls_closed;
    webhookserver_closed_cb *closed_cb;
    void *closed_ctx;
};

/* One API call's context: which object the answer is about. */
struct call {
    struct webhookserver *ws;
    const char *what;         /* "mutating", "validating", a CRD name, or NULL for the Secret */
    struct certs_bundle made; /* a bundle being written to the Secret */
};

static void pass_done(struct webhookserver *ws, uint64_t next_ms);
static void maybe_free(struct webhookserver *ws);
static void on_timer(uv_timer_t *t);

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static char *b64(const char *text)
{
    size_t len = strlen(text);
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);

    (void)EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)len);
    return out;
}

static char *unb64(const char *text)
{
    struct kube_blob blob = {0};
    char *s;

    if (!text || kube_base64_decode(text, &blob) < 0)
        return NULL;
    s = xstrndup((const char *)blob.data, blob.len);
    free(blob.data);
    return s;
}

static const char *status_text(int rc, const struct kube_status *st)
{
    return st && st->message ? st->message : strerror(-rc);
}

static struct call *call_new(struct webhookserver *ws, const char *what)
{
    struct call *c = xcalloc(1, sizeof(*c));

    c->ws = ws;
    c->what = what;
    ws->inflight++;
    return c;
}

/* The call's callback ran: returns true when the server is closing and the pass must stop. */
static bool call_end(struct call *c)
{
    struct webhookserver *ws = c->ws;

    ws->inflight--;
    certs_bundle_done(&c->made);
    free(c);
    if (ws->closing) {
        maybe_free(ws);
        return true;
    }
    return false;
}

/* ---- HTTPS routes ---- */

static const struct tekton_config *current_config(struct webhookserver *ws)
{
    const struct tekton_config *cfg = ws->config ? ws->config(ws->cb_ctx) : NULL;

    return cfg ? cfg : ws->builtin;
}

static int on_request(void *ctx, const struct httpserver_request *req, char **ret_body,
                      const char **ret_type)
{
    struct webhookserver *ws = ctx;
    json_t *in, *out = NULL;

    if (strcmp(req->method, "POST") != 0) {
        *ret_body = xstrdup("{\"error\":\"only POST\"}");
        return 405;
    }
    in = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        *ret_body = xstrdup("{\"error\":\"the body is not a JSON object\"}");
        return 400;
    }
    if (strcmp(req->path, WEBHOOK_PATH_DEFAULTING) == 0)
        out = webhook_default(in, current_config(ws));
    else if (strcmp(req->path, WEBHOOK_PATH_VALIDATION) == 0)
        out = webhook_validate(in, current_config(ws));
    else if (strcmp(req->path, WEBHOOK_PATH_CONVERSION) == 0)
        out = conversion_review(in);
    json_decref(in);
    if (!out) {
        *ret_body = xstrdup("{\"error\":\"no such webhook\"}");
        return 404;
    }
    *ret_body = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return 200;
}

/* ---- caBundle injection ---- */

static void on_patched(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct call *c = ctx;
    struct webhookserver *ws = c->ws;

    if (rc < 0)
        log_warn("cannot inject the caBundle, retrying",
                 json_pack("{s:s, s:s, s:i}", "object", c->what, "error", status_text(rc, st),
                           "code", st ? st->http_code : 0));
    else
        log_info("caBundle injected", json_pack("{s:s}", "object", c->what));
    if (call_end(c))
        return;
    if (ws->inflight == 0)
        pass_done(ws, ws->check_ms);
}

/* JSONPatch ops setting every webhook's clientConfig.caBundle that differs. */
static json_t *webhook_config_ops(const json_t *cfg, const char *ca_b64)
{
    json_t *ops = json_array();
    const json_t *wh;
    size_t i;

    json_array_foreach(json_object_get(cfg, "webhooks"), i, wh) {
        const char *have =
            json_string_value(json_object_get(json_object_get(wh, "clientConfig"), "caBundle"));
        char *path;

        if (have && strcmp(have, ca_b64) == 0)
            continue;
        path = xasprintf("/webhooks/%zu/clientConfig/caBundle", i);
        (void)json_array_append_new(
            ops, json_pack("{s:s, s:s, s:s}", "op", "add", "path", path, "value", ca_b64));
        free(path);
    }
    return ops;
}

static json_t *crd_conversion(const struct webhookserver *ws)
{
    return json_pack("{s:s, s:{s:[s], s:{s:s, s:{s:s, s:s, s:s, s:i}}}}", "strategy", "Webhook",
                     "webhook", "conversionReviewVersions", "v1", "clientConfig", "caBundle",
                     ws->ca_b64, "service", "name", ws->service, "namespace", ws->ns, "path",
                     WEBHOOK_PATH_CONVERSION, "port", 443);
}

static char *object_path(const char *what, const struct webhookserver *ws)
{
    if (what == ws->mutating)
        return kube_path("/apis/admissionregistration.k8s.io/v1", NULL,
                         "mutatingwebhookconfigurations", what, NULL);
    if (what == ws->validating)
        return kube_path("/apis/admissionregistration.k8s.io/v1", NULL,
                         "validatingwebhookconfigurations", what, NULL);
    return kube_path("/apis/apiextensions.k8s.io/v1", NULL, "customresourcedefinitions", what,
                     NULL);
}

static void on_target(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct call *c = ctx;
    struct webhookserver *ws = c->ws;
    const char *what = c->what;
    json_t *patch = NULL;
    enum kube_patch_type type = KUBE_PATCH_JSON;
    char *path;

    if (rc < 0 && rc != -ENOENT)
        log_warn("cannot read a webhook target, retrying",
                 json_pack("{s:s, s:s}", "object", what, "error", status_text(rc, st)));
    if (rc == 0 && (what == ws->mutating || what == ws->validating)) {
        patch = webhook_config_ops(obj, ws->ca_b64);
    } else if (rc == 0) {
        json_t *want = crd_conversion(ws);

        type = KUBE_PATCH_MERGE;
        if (!json_equal(json_object_get(json_object_get(obj, "spec"), "conversion"), want))
            patch = json_pack("{s:{s:O}}", "spec", "conversion", want);
        json_decref(want);
    }
    if (patch && json_is_array(patch) && json_array_size(patch) == 0) {
        json_decref(patch);
        patch = NULL;
    }
    if (patch && !ws->closing) {
        struct call *next = call_new(ws, what);

        path = object_path(what, ws);
        if (kube_patch(ws->kc, path, type, patch, on_patched, next) < 0)
            call_end(next);
        free(path);
    }
    json_decref(patch);
    if (call_end(c))
        return;
    if (ws->inflight == 0)
        pass_done(ws, ws->check_ms);
}

static void inject(struct webhookserver *ws)
{
    const char *targets[2 + NCRDS] = {ws->mutating, ws->validating};

    for (size_t i = 0; i < NCRDS; i++)
        targets[2 + i] = crd_names[i];
    for (size_t i = 0; i < 2 + NCRDS; i++) {
        struct call *c = call_new(ws, targets[i]);
        char *path = object_path(targets[i], ws);

        if (kube_get(ws->kc, path, on_target, c) < 0)
            call_end(c);
        free(path);
    }
    if (ws->inflight == 0)
        pass_done(ws, RETRY_SOON_MS);
}

/* ---- the Secret ---- */

static bool same_bundle(const struct certs_bundle *a, const struct certs_bundle *b)
{
    return a->server_cert && b->server_cert && strcmp(a->server_cert, b->server_cert) == 0 &&
           strcmp(a->server_key, b->server_key) == 0 && strcmp(a->ca_cert, b->ca_cert) == 0;
}

/* Serve 'b' (copied) if it is not what is served already. Returns 0 or -errno. */
static int adopt(struct webhookserver *ws, const struct certs_bundle *b)
{
    struct httpserver_options o = {
        .host = ws->host,
        .port = ws->port,
        .cert_pem = b->server_cert,
        .key_pem = b->server_key,
        .max_body = WEBHOOK_MAX_BODY,
        .timeout_ms = WEBHOOK_TIMEOUT_MS,
        .handler = on_request,
        .ctx = ws,
    };
    bool first = !ws->tls;
    int r;

    if (same_bundle(&ws->served, b) && ws->tls)
        return 0;
    r = ws->tls ? httpserver_set_cert(ws->tls, b->server_cert, b->server_key)
                : httpserver_new(ws->loop, &o, &ws->tls);
    if (r < 0) {
        log_error("cannot serve the webhook",
                  json_pack("{s:s, s:i}", "error", strerror(-r), "port", ws->port));
        return r;
    }
    certs_bundle_done(&ws->served);
    ws->served.ca_cert = xstrdup(b->ca_cert);
    ws->served.server_cert = xstrdup(b->server_cert);
    ws->served.server_key = xstrdup(b->server_key);
    free(ws->ca_b64);
    ws->ca_b64 = b64(b->ca_cert);
    log_info("serving the webhook certificate",
             json_pack("{s:I, s:i}", "not_after", (json_int_t)certs_not_after(b->server_cert),
                       "port", httpserver_port(ws->tls)));
    if (first && ws->on_serving)
        ws->on_serving(ws->cb_ctx);
    return 0;
}

static json_t *secret_object(const struct webhookserver *ws, const struct certs_bundle *b,
                             const char *rv)
{
    char *ca = b64(b->ca_cert), *cert = b64(b->server_cert), *key = b64(b->server_key);
    json_t *s =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1",
                  "kind", "Secret", "metadata", "name", ws->secret, "namespace", ws->ns, "labels",
                  "app.kubernetes.io/part-of", "tekton-pipelines", "type", "Opaque", "data",
                  CERTS_KEY_CA_CERT, ca, CERTS_KEY_SERVER_CERT, cert, CERTS_KEY_SERVER_KEY, key);

    if (rv)
        (void)json_object_set_new(json_object_get(s, "metadata"), "resourceVersion",
                                  json_string(rv));
    free(ca);
    free(cert);
    free(key);
    return s;
}

static void on_secret_written(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct call *c = ctx;
    struct webhookserver *ws = c->ws;
    int r = rc;

    if (rc == 0) {
        log_info("webhook certificate generated",
                 json_pack("{s:s, s:s}", "ns", ws->ns, "secret", ws->secret));
        r = adopt(ws, &c->made);
    } else if (rc == -EEXIST || rc == -EAGAIN) {
        /* another replica wrote it first: read theirs on the next pass */
        log_info("webhook Secret changed under us, rereading", NULL);
    } else {
        log_warn("cannot write the webhook Secret, retrying",
                 json_pack("{s:s, s:s, s:i}", "secret", ws->secret, "error", status_text(rc, st),
                           "code", st ? st->http_code : 0));
    }
    if (call_end(c))
        return;
    if (r == 0)
        inject(ws);
    else
        pass_done(ws, RETRY_SOON_MS);
}

/* Make a new bundle and create the Secret ('rv' NULL) or replace it. */
static void regenerate(struct webhookserver *ws, const char *rv)
{
    struct call *c = call_new(ws, NULL);
    char *path = kube_path("/api/v1", ws->ns, "secrets", rv ? ws->secret : NULL, NULL);
    json_t *body = NULL;
    int r;

    r = certs_generate(ws->service, ws->ns, wall_now(), ws->validity_s, &c->made);
    if (r == 0) {
        body = secret_object(ws, &c->made, rv);
        r = rv ? kube_update(ws->kc, path, body, on_secret_written, c)
               : kube_create(ws->kc, path, body, on_secret_written, c);
    }
    if (r < 0) {
        log_error("cannot generate the webhook certificate",
                  json_pack("{s:s}", "error", strerror(-r)));
        call_end(c);
        pass_done(ws, RETRY_SOON_MS);
    }
    json_decref(body);
    free(path);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static void bundle_from_secret(const json_t *secret, struct certs_bundle *b)
{
    const json_t *data = json_object_get(secret, "data");

    b->ca_cert = unb64(json_string_value(json_object_get(data, CERTS_KEY_CA_CERT)));
    b->server_cert = unb64(json_string_value(json_object_get(data, CERTS_KEY_SERVER_CERT)));
    b->server_key = unb64(json_string_value(json_object_get(data, CERTS_KEY_SERVER_KEY)));
}

static void on_secret(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct call *c = ctx;
    struct webhookserver *ws = c->ws;
    struct certs_bundle b = {0};
    char *rv = NULL;
    bool usable;

    if (call_end(c))
        return;
    if (rc == -ENOENT) {
        log_info("no webhook Secret, generating one", json_pack("{s:s}", "secret", ws->secret));
        regenerate(ws, NULL);
        return;
    }
    if (rc < 0) {
        log_warn("cannot read the webhook Secret, retrying",
                 json_pack("{s:s, s:s}", "secret", ws->secret, "error", status_text(rc, st)));
        pass_done(ws, RETRY_SOON_MS);
        return;
    }
    free(ws->secret_rv);
    ws->secret_rv = xstrdup(str_or_empty(
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"))));
    bundle_from_secret(obj, &b);
    usable = b.ca_cert && b.server_cert && b.server_key &&
             certs_is_usable(&b, ws->service, ws->ns, wall_now());
    if (!usable) {
        rv = xstrdup(json_string_value(
            json_object_get(json_object_get(obj, "metadata"), "resourceVersion")));
        log_info("webhook certificate missing, invalid or near expiry, rotating",
                 json_pack("{s:s}", "secret", ws->secret));
        regenerate(ws, rv);
    } else if (adopt(ws, &b) == 0) {
        inject(ws);
    } else {
        pass_done(ws, RETRY_SOON_MS);
    }
    free(rv);
    certs_bundle_done(&b);
}

/* ---- watching the Secret: a deleted or edited one is looked at at once ---- */

static void on_secret_event(void *ctx, const char *type, json_t *obj)
{
    struct webhookserver *ws = ctx;
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

    if (strcmp(type, "BOOKMARK") != 0 && !ws->pass_running && !ws->closing)
        uv_timer_start(&ws->timer, on_timer, 0, 0);
    if (rv) {
        free(ws->secret_rv);
        ws->secret_rv = xstrdup(rv);
    }
}

static void on_secret_watch_end(void *ctx, int rc, const struct kube_status *st)
{
    struct webhookserver *ws = ctx;

    ws->watch = NULL;
    if (ws->closing) {
        maybe_free(ws);
        return;
    }
    if (rc == -ESTALE) {
        free(ws->secret_rv); /* compacted away: the next watch starts from now */
        ws->secret_rv = NULL;
    }
    /* the next pass restarts it; until then the periodic check covers */
}

static void start_watch(struct webhookserver *ws)
{
    char *sel = xasprintf("fieldSelector=metadata.name%%3D%s", ws->secret);
    char *path = kube_path("/api/v1", ws->ns, "secrets", NULL, sel);

    if (kube_watch_start(ws->kc, path, ws->secret_rv, on_secret_event, on_secret_watch_end, ws,
                         &ws->watch) < 0)
        ws->watch = NULL;
    free(path);
    free(sel);
}

/* ---- passes ---- */

static void start_pass(struct webhookserver *ws)
{
    struct call *c;
    char *path;

    if (ws->pass_running || ws->closing)
        return;
    ws->pass_running = true;
    c = call_new(ws, NULL);
    path = kube_path("/api/v1", ws->ns, "secrets", ws->secret, NULL);
    if (kube_get(ws->kc, path, on_secret, c) < 0) {
        call_end(c);
        pass_done(ws, RETRY_SOON_MS);
    }
    free(path);
}

static void on_timer(uv_timer_t *t)
{
    start_pass(t->data);
}

static void pass_done(struct webhookserver *ws, uint64_t next_ms)
{
    ws->pass_running = false;
    if (ws->closing)
        return;
    uv_timer_start(&ws->timer, on_timer, next_ms, 0);
    if (!ws->watch)
        start_watch(ws);
}

/* ---- life cycle ---- */

static void maybe_free(struct webhookserver *ws)
{
    webhookserver_closed_cb *cb = ws->closed_cb;
    void *ctx = ws->closed_ctx;

    if (!ws->closing || !ws->timer_closed || !ws->tls_closed || ws->inflight > 0 || ws->watch)
        return;
    certs_bundle_done(&ws->served);
    tekton_config_free(ws->builtin);
    free(ws->ca_b64);
    free(ws->secret_rv);
    free(ws->host);
    free(ws->service);
    free(ws->ns);
    free(ws->secret);
    free(ws->mutating);
    free(ws->validating);
    free(ws);
    if (cb)
        cb(ctx);
}

int webhookserver_new(uv_loop_t *loop, struct kube_client *kc,
                      const struct webhookserver_options *o, struct webhookserver **ret)
{
    struct webhookserver *ws;

    if (!o->host || !o->service || !o->ns || !o->secret || !o->mutating || !o->validating ||
        o->port < 0 || o->port > 65535)
        return -EINVAL;
    ws = xcalloc(1, sizeof(*ws));
    ws->loop = loop;
    ws->kc = kc;
    ws->host = xstrdup(o->host);
    ws->port = o->port;
    ws->service = xstrdup(o->service);
    ws->ns = xstrdup(o->ns);
    ws->secret = xstrdup(o->secret);
    ws->mutating = xstrdup(o->mutating);
    ws->validating = xstrdup(o->validating);
    ws->validity_s = o->validity_s > 0 ? o->validity_s : DEFAULT_VALIDITY_S;
    ws->check_ms = o->check_ms > 0 ? o->check_ms : DEFAULT_CHECK_MS;
    ws->config = o->config;
    ws->on_serving = o->on_serving;
    ws->cb_ctx = o->ctx;
    ws->builtin = tekton_config_new_default();
    uv_timer_init(loop, &ws->timer);
    ws->timer.data = ws;
    uv_timer_start(&ws->timer, on_timer, 0, 0);
    *ret = ws;
    return 0;
}

int webhookserver_port(const struct webhookserver *ws)
{
    return ws->tls ? httpserver_port(ws->tls) : -1;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct webhookserver *ws = h->data;

    ws->timer_closed = true;
    maybe_free(ws);
}

static void on_tls_closed(void *ctx)
{
    struct webhookserver *ws = ctx;

    ws->tls_closed = true;
    maybe_free(ws);
}

void webhookserver_close(struct webhookserver *ws, webhookserver_closed_cb *cb, void *ctx)
{
    if (!ws || ws->closing)
        return;
    ws->closing = true;
    ws->closed_cb = cb;
    ws->closed_ctx = ctx;
    uv_close((uv_handle_t *)&ws->timer, on_timer_closed);
    kube_watch_stop(ws->watch); /* its end callback frees us if it comes last */
    if (ws->tls) {
        httpserver_close(ws->tls, on_tls_closed, ws);
        ws->tls = NULL;
    } else {
        ws->tls_closed = true;
    }
    maybe_free(ws);
}
