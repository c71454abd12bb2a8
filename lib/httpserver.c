/*
 * HTTP/1.1 on uv_tcp_t, plain or TLS. With TLS, bytes from the socket go into an OpenSSL memory
 * BIO, SSL_read() drives the handshake and decrypts, and whatever OpenSSL queues in the outgoing
 * BIO is written back with uv_write(); without it the socket's bytes are the request. One
 * request per connection, answered by the handler, then (TLS) close_notify and a half-close.
 * It leaves routing and content to the handler, and has no keep-alive, chunked bodies or
 * client certificates.
 */
#include "lib/httpserver.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    struct httpserver *srv;
    struct conn *prev, *next;
    SSL *ssl;     /* NULL on a plain server */
    BIO *net_in;  /* socket -> OpenSSL, owned by 'ssl' */
    BIO *net_out; /* OpenSSL -> socket, owned by 'ssl' */
    struct buf in;
    int open_handles;   /* tcp and timer until their close callbacks ran */
    int writes_pending; /* uv_write()s not yet completed */
    bool closing;
    bool answered; /* no more reading: finish the writes, then half-close */
    bool shut;     /* uv_shutdown() queued */
};

struct write_req {
    uv_write_t req;
    struct conn *c;
    char data[]; /* the bytes being written (ciphertext with TLS) */
};

struct httpserver {
    uv_loop_t *loop;
    uv_tcp_t listener;
    SSL_CTX *ssl_ctx; /* for new connections, NULL: plain; open ones hold their own reference */
    size_t max_body;
    unsigned int timeout_ms;
    const char *allow;
    httpserver_handler_cb *handler;
    void *handler_ctx;
    struct conn *conns;
    size_t nconns;
    bool closing;
    bool listener_closed;
    httpserver_closed_cb *closed_cb;
    void *closed_ctx;
};

/* ---- certificates ---- */

/* A server context serving 'cert_pem' (leaf first, then any chain) with 'key_pem'. */
static int make_ssl_ctx(const char *cert_pem, const char *key_pem, SSL_CTX **ret)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    BIO *cb = BIO_new_mem_buf(cert_pem, -1);
    BIO *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int r = -EINVAL;

    if (!ctx || !cb || !kb)
        goto out;
    (void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    if (!cert || SSL_CTX_use_certificate(ctx, cert) != 1)
        goto out;
    for (X509 *extra = PEM_read_bio_X509(cb, NULL, NULL, NULL); extra;
         extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) {
        if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) { /* takes 'extra' on success */
            X509_free(extra);
            goto out;
        }
    }
    key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto out;
    *ret = ctx;
    ctx = NULL;
    r = 0;
out:
    ERR_clear_error(); /* the end of the PEM chain leaves an error on the queue */
    EVP_PKEY_free(key);
    X509_free(cert);
    BIO_free(kb);
    BIO_free(cb);
    SSL_CTX_free(ctx);
    return r;
}

int httpserver_set_cert(struct httpserver *s, const char *cert_pem, const char *key_pem)
{
    SSL_CTX *ctx;
    int r;

    if (!s->ssl_ctx || !cert_pem || !key_pem)
        return -EINVAL;
    r = make_ssl_ctx(cert_pem, key_pem, &ctx);
    if (r < 0)
        return r;
    SSL_CTX_free(s->ssl_ctx);
    s->ssl_ctx = ctx;
    return 0;
}

/* ---- connection teardown ---- */

static void maybe_finish(struct httpserver *s)
{
    httpserver_closed_cb *cb = s->closed_cb;
    void *ctx = s->closed_ctx;

    if (!s->closing || !s->listener_closed || s->nconns > 0)
        return;
    SSL_CTX_free(s->ssl_ctx);
    free(s);
    if (cb)
        cb(ctx);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct httpserver *s = c->srv;

    if (--c->open_handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    buf_done(&c->in);
    SSL_free(c->ssl); /* frees both BIOs; NULL on a plain server */
    free(c);
    maybe_finish(s);
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

/* Once answered and everything is on the wire, half-close so the client reads to the end. */
static void maybe_shutdown(struct conn *c)
{
    if (!c->answered || c->writes_pending > 0 || c->shut || c->closing)
        return;
    c->shut = true;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct conn *c = w->c;

    free(w);
    c->writes_pending--;
    if (status < 0) {
        conn_close(c);
        return;
    }
    maybe_shutdown(c);
}

/* Write the first 'len' bytes of 'w->data' to the socket; takes 'w'. Returns 0 or -EIO. */
static int write_out(struct conn *c, struct write_req *w, size_t len)
{
    uv_buf_t b;

    w->c = c;
    b = uv_buf_init(w->data, (unsigned int)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w);
        return -EIO;
    }
    c->writes_pending++;
    return 0;
}

/* Write out whatever OpenSSL has queued for the peer. */
static void flush(struct conn *c)
{
    size_t pending;

    while (!c->closing && (pending = BIO_ctrl_pending(c->net_out)) > 0) {
        struct write_req *w = xmalloc(sizeof(*w) + pending);
        int n = BIO_read(c->net_out, w->data, (int)pending);

        if (n <= 0) {
            free(w);
            conn_close(c);
            return;
        }
        if (write_out(c, w, (size_t)n) < 0) {
            conn_close(c);
            return;
        }
    }
    maybe_shutdown(c);
}

/* ---- responses ---- */

static const char *status_text(int code)
{
    static const struct {
        int code;
        const char *text;
    } texts[] = {
        {200, "OK"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {413, "Payload Too Large"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].code == code)
            return texts[i].text;
    return "Unknown";
}

char *httpserver_response(int code, const char *type, const char *allow, const char *body,
                          bool head_only)
{
    bool with_allow = allow && code == 405;

    return xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%s%s%sConnection: close\r\n\r\n%s",
                     code, status_text(code), type ? type : "application/json",
                     body ? strlen(body) : 0, with_allow ? "Allow: " : "", with_allow ? allow : "",
                     with_allow ? "\r\n" : "", body && !head_only ? body : "");
}

static void conn_answer(struct conn *c, int code, const char *type, const char *body,
                        bool head_only)
{
    char *out = httpserver_response(code, type, c->srv->allow, body, head_only);
    size_t len = strlen(out);
    struct write_req *w;

    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->ssl) {
        /* memory BIOs take every byte at once, so no partial writes to resume */
        int n = SSL_write(c->ssl, out, (int)len);

        free(out);
        if (n <= 0) {
            conn_close(c);
            return;
        }
        (void)SSL_shutdown(c->ssl); /* close_notify: the body ends here */
        flush(c);
        return;
    }
    w = xmalloc(sizeof(*w) + len);
    memcpy(w->data, out, len);
    free(out);
    if (write_out(c, w, len) < 0) {
        conn_close(c);
        return;
    }
    maybe_shutdown(c);
}

/* ---- requests ---- */

int httpserver_parse_request_line(const char *head, size_t len, struct httpserver_request *req,
                                  char **ret_storage)
{
    const char *eol = memchr(head, '\n', len);
    size_t n = eol ? (size_t)(eol - head) : len;
    char *line, *sp1, *sp2, *q;

    if (n > 0 && head[n - 1] == '\r')
        n--;
    line = xstrndup(head, n);
    sp1 = strchr(line, ' ');
    sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    /* HTTP/2's preface ("PRI * HTTP/2.0") and a TLS ClientHello fail here too */
    if (!sp2 || sp1 == line || sp1 - line >= 16 || sp1[1] != '/' || strlen(sp2 + 1) != 8 ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        free(line);
        return -EINVAL;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    q = strchr(sp1 + 1, '?');
    if (q)
        *q++ = '\0';
    req->method = line;
    req->path = sp1 + 1;
    req->query = q ? q : "";
    *ret_storage = line;
    return 0;
}

/* The value of header 'name' in the head [head, end), or NULL. */
static const char *find_header(const char *head, const char *end, const char *name, size_t *len)
{
    size_t nlen = strlen(name);

    for (const char *p = memchr(head, '\n', (size_t)(end - head)); p && p < end;
         p = memchr(p, '\n', (size_t)(end - p))) {
        const char *eol;

        p++;
        if ((size_t)(end - p) <= nlen || strncasecmp(p, name, nlen) != 0 || p[nlen] != ':')
            continue;
        p += nlen + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        *len = (size_t)(eol - p);
        while (*len > 0 && (p[*len - 1] == '\r' || p[*len - 1] == ' '))
            (*len)--;
        return p;
    }
    return NULL;
}

/*
 * The length of the head in 'data' with its blank line (CRLF or bare LF line ends), or 0 while
 * it is incomplete; '*ret_end' then points just past the last header line.
 */
static size_t head_length(const char *data, const char **ret_end)
{
    const char *crlf = strstr(data, "\r\n\r\n");
    const char *lf = strstr(data, "\n\n");

    if (lf && (!crlf || lf < crlf)) {
        *ret_end = lf + 1;
        return (size_t)(lf - data) + 2;
    }
    if (!crlf)
        return 0;
    *ret_end = crlf + 2;
    return (size_t)(crlf - data) + 4;
}

/* The Content-Length in [head, end): 0 and '*ret' (0 when absent), -EINVAL, or -E2BIG. */
static int content_length(const char *head, const char *end, size_t max, size_t *ret)
{
    size_t len;
    const char *cl = find_header(head, end, "Content-Length", &len);
    char num[24], *stop;
    unsigned long long v;

    *ret = 0;
    if (!cl)
        return 0;
    if (len == 0 || len >= sizeof(num))
        return -EINVAL;
    memcpy(num, cl, len);
    num[len] = '\0';
    v = strtoull(num, &stop, 10);
    if (*stop || num[0] == '-')
        return -EINVAL;
    if (v > max)
        return -E2BIG;
    *ret = (size_t)v;
    return 0;
}

static void dispatch(struct conn *c, const char *head, const char *head_end, const char *body,
                     size_t body_len)
{
    struct httpserver_request req = {0};
    char *line = NULL, *out = NULL;
    const char *type = NULL;
    int code;

    if (httpserver_parse_request_line(head, (size_t)(head_end - head), &req, &line) < 0) {
        conn_answer(c, 400, "text/plain", "bad request\n", false);
        return;
    }
    req.body = body;
    req.body_len = body_len;
    code = c->srv->handler(c->srv->handler_ctx, &req, &out, &type);
    conn_answer(c, code, type, out, strcmp(req.method, "HEAD") == 0);
    free(out);
    free(line);
}

/* Answer once the head and Content-Length bytes of body have arrived. */
static void try_request(struct conn *c)
{
    const char *data = buf_str(&c->in);
    const char *end = NULL;
    size_t head_len = head_length(data, &end), body_len;
    int r;

    /* a head that arrived whole in one read is held to the same limit */
    if ((head_len == 0 && buf_len(&c->in) > HTTPSERVER_MAX_HEAD) ||
        head_len > HTTPSERVER_MAX_HEAD) {
        conn_answer(c, 431, "text/plain", "request head too large\n", false);
        return;
    }
    if (head_len == 0)
        return;
    r = content_length(data, end, c->srv->max_body, &body_len);
    if (r < 0) {
        conn_answer(c, r == -E2BIG ? 413 : 400, "text/plain",
                    r == -E2BIG ? "request body too large\n" : "bad Content-Length\n", false);
        return;
    }
    if (buf_len(&c->in) < head_len + body_len)
        return;
    /* the body is followed by whatever the buffer holds, so copy it to terminate it */
    {
        char *body = xstrndup(data + head_len, body_len);

        dispatch(c, data, end, body, body_len);
        free(body);
    }
}

/* Take request bytes in (plaintext), answering when the request is whole. */
static void received(struct conn *c, const char *data, size_t len)
{
    const char *end;

    if (buf_append(&c->in, data, len) < 0) {
        if (head_length(buf_str(&c->in), &end) > 0)
            conn_answer(c, 413, "text/plain", "request too large\n", false);
        else
            conn_answer(c, 431, "text/plain", "request head too large\n", false);
        return;
    }
    try_request(c);
}

/* Decrypt what arrived; TLS alerts and handshake records go out through flush(). */
static void pump(struct conn *c)
{
    char tmp[16384];

    while (!c->answered && !c->closing) {
        int n = SSL_read(c->ssl, tmp, sizeof(tmp));

        if (n > 0) {
            received(c, tmp, (size_t)n);
            continue;
        }
        switch (SSL_get_error(c->ssl, n)) {
        case SSL_ERROR_WANT_READ:
            flush(c); /* handshake records for the peer */
            return;
        default:
            /* a failed handshake or a peer that went away: send any alert, then close */
            ERR_clear_error();
            c->answered = true;
            flush(c);
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    b->base = xmalloc(16384);
    b->len = 16384;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = stream->data;

    if (nread < 0) {
        free(b->base);
        conn_close(c);
        return;
    }
    if (nread == 0 || c->answered) {
        free(b->base);
        return;
    }
    if (!c->ssl) {
        received(c, b->base, (size_t)nread);
        free(b->base);
        return;
    }
    if (BIO_write(c->net_in, b->base, (int)nread) != (int)nread) {
        free(b->base);
        conn_close(c);
        return;
    }
    free(b->base);
    pump(c);
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static int conn_setup_tls(struct conn *c)
{
    c->ssl = SSL_new(c->srv->ssl_ctx);
    c->net_in = BIO_new(BIO_s_mem());
    c->net_out = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->net_in || !c->net_out) {
        BIO_free(c->net_in);
        BIO_free(c->net_out);
        c->net_in = c->net_out = NULL;
        return -ENOMEM;
    }
    SSL_set_bio(c->ssl, c->net_in, c->net_out); /* 'ssl' owns both from here */
    SSL_set_accept_state(c->ssl);
    return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct httpserver *s = server->data;
    struct conn *c;

    if (status < 0 || s->closing)
        return;
    c = xcalloc(1, sizeof(*c));
    c->srv = s;
    buf_init(&c->in, HTTPSERVER_MAX_HEAD + s->max_body);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c->shutdown_req.data = c;
    c->open_handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || s->nconns > HTTPSERVER_MAX_CONNS ||
        (s->ssl_ctx && conn_setup_tls(c) < 0) ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, s->timeout_ms, 0);
}

/* ---- server ---- */

static void on_listener_closed(uv_handle_t *h)
{
    struct httpserver *s = h->data;

    s->listener_closed = true;
    maybe_finish(s);
}

static void on_listener_failed(uv_handle_t *h)
{
    struct httpserver *s = h->data;

    SSL_CTX_free(s->ssl_ctx);
    free(s);
}

int httpserver_new(uv_loop_t *loop, const struct httpserver_options *o, struct httpserver **ret)
{
    struct sockaddr_storage addr;
    struct httpserver *s;
    SSL_CTX *ctx = NULL;
    int r;

    if (!o->host || o->port < 0 || o->port > 65535 || !o->handler || !o->cert_pem != !o->key_pem)
        return -EINVAL;
    r = uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&addr);
    if (r < 0)
        r = uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&addr);
    if (r < 0)
        return -EINVAL;
    if (o->cert_pem) {
        r = make_ssl_ctx(o->cert_pem, o->key_pem, &ctx);
        if (r < 0)
            return r;
    }
    s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->ssl_ctx = ctx;
    s->max_body = o->max_body;
    s->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
    s->allow = o->allow;
    s->handler = o->handler;
    s->handler_ctx = o->ctx;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
    if (r < 0) {
        /* libuv reports most bind errors at listen time; either way nothing was served */
        uv_close((uv_handle_t *)&s->listener, on_listener_failed);
        return r;
    }
    *ret = s;
    return 0;
}

int httpserver_port(const struct httpserver *s)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);

    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

void httpserver_close(struct httpserver *s, httpserver_closed_cb *cb, void *ctx)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->closed_cb = cb;
    s->closed_ctx = ctx;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    for (struct conn *c = s->conns; c; c = c->next)
        conn_close(c);
}
