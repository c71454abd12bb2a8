/*
 * A minimal HTTP/1.1 server written on uv_tcp_t for metrics and health probes. It reads one
 * request head per connection, answers it from web_reply() and closes. It leaves content to
 * controller/metrics and carries no websocket or TLS support.
 */
#include "controller/web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/metrics.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    struct web *web;
    struct conn *prev, *next;
    struct buf in;
    char *out;
    int open_handles; /* tcp and timer until their close callbacks ran */
    bool closing;
    bool answered;
};

struct web {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct metrics *metrics;
    struct conn *conns;
    size_t nconns;
    bool ready;
    bool closing;
    bool listener_closed;
    web_closed_cb *closed_cb;
    void *closed_ctx;
};

/* ---- responses ---- */

static char *response(int code, const char *reason, const char *type, const char *body,
                      bool head_only)
{
    return xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n%s",
                     code, reason, type, strlen(body), code == 405 ? "Allow: GET, HEAD\r\n" : "",
                     head_only ? "" : body);
}

#define TEXT "text/plain; charset=utf-8"
#define PROM "text/plain; version=0.0.4; charset=utf-8"

/* Split "METHOD SP TARGET SP HTTP/1.x" into its parts; false for anything else. */
static bool parse_request_line(const char *line, size_t len, char *method, size_t mlen, char *path,
                               size_t plen)
{
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2;
    const char *end = line + len;
    size_t tlen;

    if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= mlen)
        return false;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
        return false;
    if ((size_t)(end - sp2 - 1) != strlen("HTTP/1.1") || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return false;
    tlen = (size_t)(sp2 - sp1 - 1);
    memcpy(method, line, (size_t)(sp1 - line));
    method[sp1 - line] = '\0';
    /* the query string plays no part in routing */
    for (size_t i = 0; i < tlen; i++)
        if (sp1[1 + i] == '?')
            tlen = i;
    if (tlen >= plen)
        tlen = plen - 1; /* too long to match any route: still a well-formed 404 */
    memcpy(path, sp1 + 1, tlen);
    path[tlen] = '\0';
    return true;
}

char *web_reply(const char *head, size_t len, const struct metrics *metrics, bool ready)
{
    const char *eol = memchr(head, '\n', len);
    char method[16], path[256];
    bool head_only;
    char *body, *r;

    if (!eol)
        eol = head + len;
    if (eol > head && eol[-1] == '\r')
        eol--;
    if (!parse_request_line(head, (size_t)(eol - head), method, sizeof(method), path, sizeof(path)))
        return response(400, "Bad Request", TEXT, "bad request\n", false);
    head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0)
        return response(405, "Method Not Allowed", TEXT, "method not allowed\n", false);
    if (strcmp(path, "/healthz") == 0)
        return response(200, "OK", TEXT, "ok\n", head_only);
    if (strcmp(path, "/readyz") == 0)
        return ready ? response(200, "OK", TEXT, "ok\n", head_only)
                     : response(503, "Service Unavailable", TEXT, "not ready\n", head_only);
    if (strcmp(path, "/metrics") != 0)
        return response(404, "Not Found", TEXT, "not found\n", head_only);
    body = metrics ? metrics_render(metrics) : xstrdup("");
    r = response(200, "OK", PROM, body, head_only);
    free(body);
    return r;
}

/* ---- connections ---- */

static void maybe_finish(struct web *w)
{
    web_closed_cb *cb = w->closed_cb;
    void *ctx = w->closed_ctx;

    if (!w->closing || !w->listener_closed || w->nconns > 0)
        return;
    free(w);
    if (cb)
        cb(ctx);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct web *w = c->web;

    if (--c->open_handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    buf_done(&c->in);
    free(c->out);
    free(c);
    maybe_finish(w);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_close(req->data);
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;

    /* a half-close lets the client read the whole answer before the socket goes */
    if (status < 0 || c->closing ||
        uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

static void conn_answer(struct conn *c, char *out)
{
    uv_buf_t b;

    c->answered = true;
    c->out = out;
    b = uv_buf_init(out, (unsigned int)strlen(out));
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0)
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    b->base = xmalloc(4096);
    b->len = 4096;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    const char *data;

    if (nread < 0 || c->answered) {
        free(b->base);
        if (nread < 0)
            conn_close(c);
        return;
    }
    if (buf_append(&c->in, b->base, (size_t)nread) < 0) {
        free(b->base);
        conn_answer(c,
                    response(431, "Request Header Fields Too Large", TEXT, "too large\n", false));
        return;
    }
    free(b->base);
    data = buf_str(&c->in);
    if (strstr(data, "\r\n\r\n") || strstr(data, "\n\n"))
        conn_answer(c, web_reply(data, buf_len(&c->in), c->web->metrics, c->web->ready));
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct web *w = server->data;
    struct conn *c;

    if (status < 0 || w->closing)
        return;
    c = xcalloc(1, sizeof(*c));
    c->web = w;
    buf_init(&c->in, WEB_MAX_HEAD);
    uv_tcp_init(w->loop, &c->tcp);
    uv_timer_init(w->loop, &c->timer);
    c->tcp.data = c->timer.data = c->write_req.data = c->shutdown_req.data = c;
    c->open_handles = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || w->nconns > WEB_MAX_CONNS ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, WEB_TIMEOUT_MS, 0);
}

/* ---- server ---- */

static void on_listener_closed(uv_handle_t *h)
{
    struct web *w = h->data;

    w->listener_closed = true;
    maybe_finish(w);
}

static void on_listener_failed(uv_handle_t *h)
{
    free(h->data);
}

int web_new(uv_loop_t *loop, const struct web_options *o, struct web **ret_web)
{
    struct sockaddr_storage addr;
    struct web *w;
    int r;

    if (!o->host || o->port < 0 || o->port > 65535)
        return -EINVAL;
    r = uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&addr);
    if (r < 0)
        r = uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&addr);
    if (r < 0)
        return -EINVAL;
    w = xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->metrics = o->metrics;
    w->ready = true;
    uv_tcp_init(loop, &w->listener);
    w->listener.data = w;
    r = uv_tcp_bind(&w->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&w->listener, 128, on_connection);
    if (r < 0) {
        /* libuv reports most bind errors at listen time; either way nothing was served */
        uv_close((uv_handle_t *)&w->listener, on_listener_failed);
        return r;
    }
    *ret_web = w;
    return 0;
}

int web_port(const struct web *w)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);

    if (uv_tcp_getsockname(&w->listener, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

void web_set_ready(struct web *w, bool ready)
{
    w->ready = ready;
}

void web_close(struct web *w, web_closed_cb *cb, void *ctx)
{
    if (!w || w->closing)
        return;
    w->closing = true;
    w->closed_cb = cb;
    w->closed_ctx = ctx;
    uv_close((uv_handle_t *)&w->listener, on_listener_closed);
    for (struct conn *c = w->conns; c; c = c->next)
        conn_close(c);
}
