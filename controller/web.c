/*
 * The controller's metrics and health endpoint: routing and content for lib/httpserver, which
 * does the listening, connections and HTTP framing (plain, no TLS here). The metrics text is
 * controller/metrics'; this file carries no websocket support.
 */
#include "controller/web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/metrics.h"
#include "lib/httpserver.h"
#include "lib/xalloc.h"

struct web {
    struct httpserver *http;
    struct metrics *metrics;
    bool ready;
    bool closing;
    web_closed_cb *closed_cb;
    void *closed_ctx;
};

#define TEXT  "text/plain; charset=utf-8"
#define PROM  "text/plain; version=0.0.4; charset=utf-8"
#define ALLOW "GET, HEAD"

/* Route one parsed request: the status, with '*ret_body' new and '*ret_type' static. */
static int route(const struct httpserver_request *req, const struct metrics *metrics, bool ready,
                 char **ret_body, const char **ret_type)
{
    *ret_type = TEXT;
    if (strcmp(req->method, "HEAD") != 0 && strcmp(req->method, "GET") != 0) {
        *ret_body = xstrdup("method not allowed\n");
        return 405;
    }
    if (strcmp(req->path, "/healthz") == 0 || (strcmp(req->path, "/readyz") == 0 && ready)) {
        *ret_body = xstrdup("ok\n");
        return 200;
    }
    if (strcmp(req->path, "/readyz") == 0) {
        *ret_body = xstrdup("not ready\n");
        return 503;
    }
    if (strcmp(req->path, "/metrics") != 0) {
        *ret_body = xstrdup("not found\n");
        return 404;
    }
    *ret_type = PROM;
    *ret_body = metrics ? metrics_render(metrics) : xstrdup("");
    return 200;
}

char *web_reply(const char *head, size_t len, const struct metrics *metrics, bool ready)
{
    struct httpserver_request req = {0};
    char *line = NULL, *body = NULL, *r;
    const char *type;
    int code;

    if (httpserver_parse_request_line(head, len, &req, &line) < 0)
        return httpserver_response(400, TEXT, ALLOW, "bad request\n", false);
    code = route(&req, metrics, ready, &body, &type);
    r = httpserver_response(code, type, ALLOW, body, strcmp(req.method, "HEAD") == 0);
    free(body);
    free(line);
    return r;
}

static int on_request(void *ctx, const struct httpserver_request *req, char **ret_body,
                      const char **ret_type)
{
    const struct web *w = ctx;

    return route(req, w->metrics, w->ready, ret_body, ret_type);
}

int web_new(uv_loop_t *loop, const struct web_options *o, struct web **ret_web)
{
    struct web *w = xcalloc(1, sizeof(*w));
    struct httpserver_options ho = {
        .host = o->host,
        .port = o->port,
        .timeout_ms = WEB_TIMEOUT_MS,
        .allow = ALLOW,
        .handler = on_request,
        .ctx = w,
    };
    int r;

    w->metrics = o->metrics;
    w->ready = true;
    r = httpserver_new(loop, &ho, &w->http);
    if (r < 0) {
        free(w); /* the server's half-made listener frees itself */
        return r;
    }
    *ret_web = w;
    return 0;
}

int web_port(const struct web *w)
{
    return httpserver_port(w->http);
}

void web_set_ready(struct web *w, bool ready)
{
    w->ready = ready;
}

static void on_http_closed(void *ctx)
{
    struct web *w = ctx;
    web_closed_cb *cb = w->closed_cb;
    void *cb_ctx = w->closed_ctx;

    free(w);
    if (cb)
        cb(cb_ctx);
}

void web_close(struct web *w, web_closed_cb *cb, void *ctx)
{
    if (!w || w->closing)
        return;
    w->closing = true;
    w->closed_cb = cb;
    w->closed_ctx = ctx;
    httpserver_close(w->http, on_http_closed, w);
}
