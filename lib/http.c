/*
 * HTTP on the loop: curl's multi-socket interface driven by uv_poll_t and uv_timer_t, and a
 * fake transport with the same contract for tests. Knows nothing of Kubernetes: auth headers,
 * URLs and status meanings are the caller's. The only file that includes <curl/curl.h>.
 */
#include "lib/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define LOG_MODULE "http"

#define DEFAULT_MAX_BODY   (16u * 1024 * 1024)
#define CONNECT_TIMEOUT_MS 10000L
#define MAX_HEADERS        (64u * 1024)

struct fake_response {
    int status;
    char *headers; /* NULL: none */
    char **chunks; /* NULL-terminated, grows while the stream is open */
    size_t n_chunks;
    size_t next_chunk;
    bool open;  /* more chunks may come */
    int end_rc; /* once closed */
    struct fake_response *next;
};

struct sock {
    uv_poll_t poll;
    struct http_client *hc;
    curl_socket_t fd;
    struct sock *next;
};

struct http_request {
    struct http_client *hc;
    struct http_request *prev, *next; /* in flight */
    struct http_request *done_next;   /* finished, callback pending */
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char *body;
    struct buf resp;
    struct buf resp_headers;
    http_data_cb *data_cb;
    http_done_cb *cb;
    void *ctx;
    int status;
    int rc;
    int abort_rc; /* why our write callback stopped the transfer */
    char *error;
    bool in_data_cb;
    bool pending_add; /* curl transport: not yet handed to the multi handle */
    bool canceled;
    bool finished;
    struct fake_response *fake; /* fake transport: the response being delivered */
    char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
    uv_loop_t *loop;
    bool fake;
    bool closing;
    CURLM *multi;
    uv_timer_t curl_timer;
    uv_timer_t defer; /* runs fake deliveries and finished callbacks from the loop */
    struct sock *socks;
    struct http_request *in_flight;
    struct http_request *done_head, *done_tail;
    unsigned open_handles;
    http_closed_cb *closed_cb;
    void *closed_ctx;

    bool insecure;
    char *ca_file, *cert_file, *key_file, *proxy, *server_name;
    struct buf ca_pem, cert_pem, key_pem;

    struct fake_response *fake_queue;
    struct http_fake_record *records;
    size_t n_records;
    unsigned fail_nth;
    int fail_rc;
};

static void schedule(struct http_client *hc);

/* ---- request bookkeeping, shared by both transports ---- */

static void unlink_in_flight(struct http_request *req)
{
    struct http_client *hc = req->hc;

    if (req->prev)
        req->prev->next = req->next;
    else
        hc->in_flight = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
}

/* Take 'req' off the transport and queue its callback; 'error' is copied. */
static void finish(struct http_request *req, int rc, const char *error)
{
    struct http_client *hc = req->hc;

    if (req->finished)
        return;
    req->finished = true;
    req->rc = rc;
    if (rc < 0)
        req->error = xstrdup(error && *error ? error : strerror(-rc));
    unlink_in_flight(req);
    /* Inside our write callback curl still owns the transfer: make it abort instead; the
     * easy handle leaves the multi handle when it is cleaned up. */
    if (req->in_data_cb)
        req->canceled = true;
    else if (req->easy && hc->multi && !req->pending_add)
        curl_multi_remove_handle(hc->multi, req->easy);
    if (hc->done_tail)
        hc->done_tail->done_next = req;
    else
        hc->done_head = req;
    hc->done_tail = req;
    schedule(hc);
}

static void fake_response_free(struct fake_response *f);

static void request_free(struct http_request *req)
{
    fake_response_free(req->fake);
    if (req->easy)
        curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->headers);
    curl_slist_free_all(req->connect_to);
    free(req->body);
    free(req->error);
    buf_done(&req->resp);
    buf_done(&req->resp_headers);
    free(req);
}

static void run_callback(struct http_request *req)
{
    struct http_response resp = {
        .status = req->status,
        .body = buf_str(&req->resp),
        .body_len = buf_len(&req->resp),
        .error = req->rc < 0 ? req->error : NULL,
        .headers = buf_str(&req->resp_headers),
    };

    req->cb(req->ctx, req->rc, &resp);
    request_free(req);
}

/* Feed response bytes: stream 2xx bodies to the data callback, buffer the rest. */
static int take_bytes(struct http_request *req, const char *data, size_t len)
{
    int r;

    if (req->data_cb && req->status >= 200 && req->status < 300) {
        req->in_data_cb = true;
        r = req->data_cb(req->ctx, data, len);
        req->in_data_cb = false;
        if (r < 0)
            return r;
        return req->canceled ? -ECANCELED : 0;
    }
    return buf_append(&req->resp, data, len);
}

/* ---- the curl transport ---- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_request *req = userdata;
    long code = 0;
    int r;

    if (req->canceled || req->finished) {
        req->abort_rc = -ECANCELED;
        return 0;
    }
    if (req->status == 0) {
        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
        req->status = (int)code;
    }
    r = take_bytes(req, data, size * nmemb);
    if (r < 0) {
        req->abort_rc = r;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    return size * nmemb;
}

/* Keep the header lines of the last response (a 100 Continue or proxy CONNECT comes first). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_request *req = userdata;
    size_t len = size * nmemb;

    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        buf_reset(&req->resp_headers);
        return len;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len == 0)
        return size * nmemb;
    if (buf_append(&req->resp_headers, data, len) < 0 ||
        buf_append(&req->resp_headers, "\n", 1) < 0)
        return 0; /* more header bytes than anyone sends: abort the transfer */
    return size * nmemb;
}

static int errno_from_curl(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return -E2BIG;
    default:
        return -EIO;
    }
}

static void check_multi_info(struct http_client *hc)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(hc->multi, &left))) {
        struct http_request *req = NULL;
        long code = 0;
        int rc;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        req->status = (int)code;
        rc = errno_from_curl(msg->data.result);
        if (req->abort_rc < 0)
            rc = req->abort_rc;
        else if (req->canceled)
            rc = -ECANCELED;
        finish(req, rc, rc == -E2BIG ? "response body larger than the limit" : req->errbuf);
    }
}

static void on_close_free(uv_handle_t *handle);

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct sock *sk = poll->data;
    struct http_client *hc = sk->hc;
    int flags = 0;
    int running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(hc->multi, sk->fd, flags, &running);
    check_multi_info(hc);
}

static void sock_close(struct http_client *hc, struct sock *sk)
{
    struct sock **p = &hc->socks;

    while (*p && *p != sk)
        p = &(*p)->next;
    if (*p)
        *p = sk->next;
    uv_close((uv_handle_t *)&sk->poll, on_close_free);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http_client *hc = userp;
    struct sock *sk = socketp;
    int events = 0;

    if (what == CURL_POLL_REMOVE) {
        if (sk)
            sock_close(hc, sk);
        return 0;
    }
    if (!sk) {
        sk = xcalloc(1, sizeof(*sk));
        if (uv_poll_init_socket(hc->loop, &sk->poll, fd) < 0) {
            free(sk);
            return -1;
        }
        sk->hc = hc;
        sk->fd = fd;
        sk->poll.data = sk;
        sk->next = hc->socks;
        hc->socks = sk;
        hc->open_handles++;
        curl_multi_assign(hc->multi, fd, sk);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&sk->poll, events, on_poll) < 0 ? -1 : 0;
}

static void on_curl_timeout(uv_timer_t *timer)
{
    struct http_client *hc = timer->data;
    int running;

    curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(hc);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_client *hc = userp;

    if (timeout_ms < 0)
        uv_timer_stop(&hc->curl_timer);
    else
        uv_timer_start(&hc->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userp)
{
    char *text;

    if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
        return 0;
    text = http_redact_headers(data, size);
    log_debug("curl", json_pack("{s:s, s:s}", "kind",
                                type == CURLINFO_TEXT        ? "info"
                                : type == CURLINFO_HEADER_IN ? "header-in"
                                                             : "header-out",
                                "text", text));
    free(text);
    return 0;
}

static void set_blob(CURL *easy, CURLoption opt, const struct buf *pem)
{
    struct curl_blob blob = {.data = pem->data, .len = pem->len, .flags = CURL_BLOB_COPY};

    curl_easy_setopt(easy, opt, &blob);
}

static void setup_tls(struct http_client *hc, CURL *easy)
{
    if (hc->insecure) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (buf_len(&hc->ca_pem))
        set_blob(easy, CURLOPT_CAINFO_BLOB, &hc->ca_pem);
    else if (hc->ca_file)
        curl_easy_setopt(easy, CURLOPT_CAINFO, hc->ca_file);
    if (buf_len(&hc->cert_pem))
        set_blob(easy, CURLOPT_SSLCERT_BLOB, &hc->cert_pem);
    else if (hc->cert_file)
        curl_easy_setopt(easy, CURLOPT_SSLCERT, hc->cert_file);
    if (buf_len(&hc->key_pem))
        set_blob(easy, CURLOPT_SSLKEY_BLOB, &hc->key_pem);
    else if (hc->key_file)
        curl_easy_setopt(easy, CURLOPT_SSLKEY, hc->key_file);
    if (hc->proxy)
        curl_easy_setopt(easy, CURLOPT_PROXY, hc->proxy);
}

/*
 * tls-server-name: put the name in the URL (so curl verifies it and sends it as SNI) and
 * tell curl to connect to the URL's real host and port instead.
 */
static int set_server_name(struct http_request *req, const char *url, const char *name)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *renamed = NULL, *entry = NULL;
    int r = -EINVAL;

    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &renamed, 0) != CURLUE_OK)
        goto out;
    entry = xasprintf("%s:%s:%s:%s", name, port, host, port);
    req->connect_to = curl_slist_append(NULL, entry);
    curl_easy_setopt(req->easy, CURLOPT_URL, renamed);
    curl_easy_setopt(req->easy, CURLOPT_CONNECT_TO, req->connect_to);
    r = 0;
out:
    free(entry);
    curl_free(host);
    curl_free(port);
    curl_free(renamed);
    curl_url_cleanup(u);
    return r;
}

static int curl_start(struct http_request *req, const struct http_request_spec *spec)
{
    struct http_client *hc = req->hc;
    CURL *easy = curl_easy_init();

    if (!easy)
        return -EIO;
    req->easy = easy;
    curl_easy_setopt(easy, CURLOPT_URL, spec->url);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)req);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    if (strcmp(spec->method, "GET") != 0)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, spec->method);
    if (req->body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)spec->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
    }
    if (spec->timeout_ms)
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)spec->timeout_ms);
    if (spec->low_speed_time_s) {
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)spec->low_speed_time_s);
    }
    if (log_enabled(LOG_DEBUG)) {
        curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
    }
    setup_tls(hc, easy);
    if (hc->server_name && set_server_name(req, spec->url, hc->server_name) < 0)
        return -EINVAL;
    /* Added from the loop, not here: we may be inside one of curl's callbacks (a watch event
     * handler starting a request), where curl refuses recursive calls. */
    req->pending_add = true;
    schedule(hc);
    return 0;
}

static void add_pending(struct http_client *hc)
{
    struct http_request *req, *next;

    for (req = hc->in_flight; req; req = next) {
        next = req->next;
        if (!req->pending_add)
            continue;
        req->pending_add = false;
        if (curl_multi_add_handle(hc->multi, req->easy) != CURLM_OK)
            finish(req, -EIO, "cannot add the transfer to curl");
    }
}

/* ---- the fake transport ---- */

static void fake_record(struct http_client *hc, const struct http_request_spec *spec)
{
    struct http_fake_record *rec;
    struct buf h;

    hc->records = xrealloc(hc->records, (hc->n_records + 1) * sizeof(*hc->records));
    rec = &hc->records[hc->n_records++];
    buf_init(&h, SIZE_MAX);
    for (size_t i = 0; spec->headers && spec->headers[i]; i++)
        (void)buf_printf(&h, "%s%s", i ? "\n" : "", spec->headers[i]);
    rec->method = xstrdup(spec->method);
    rec->url = xstrdup(spec->url);
    rec->headers = buf_take(&h);
    rec->body = xstrndup(spec->body ? spec->body : "", spec->body ? spec->body_len : 0);
    rec->body_len = spec->body ? spec->body_len : 0;
}

static void fake_response_free(struct fake_response *f)
{
    for (size_t i = 0; f && i < f->n_chunks; i++)
        free(f->chunks[i]);
    if (f) {
        free(f->chunks);
        free(f->headers);
    }
    free(f);
}

static int fake_start(struct http_request *req, const struct http_request_spec *spec)
{
    struct http_client *hc = req->hc;

    fake_record(hc, spec);
    if (hc->fail_nth && --hc->fail_nth == 0) {
        finish(req, hc->fail_rc, "fake: injected failure");
        return 0;
    }
    if (!hc->fake_queue) {
        finish(req, -EIO, "fake: no response queued");
        return 0;
    }
    req->fake = hc->fake_queue;
    hc->fake_queue = req->fake->next;
    req->fake->next = NULL;
    req->status = req->fake->status;
    if (req->fake->headers)
        (void)buf_append_str(&req->resp_headers, req->fake->headers);
    schedule(hc);
    return 0;
}

/* Deliver what a fake response has ready; finish it once it is closed and drained. */
static void fake_deliver(struct http_request *req)
{
    struct fake_response *f = req->fake;

    while (!req->finished && f->next_chunk < f->n_chunks) {
        const char *c = f->chunks[f->next_chunk++];
        int r = take_bytes(req, c, strlen(c));

        if (r < 0)
            finish(req, r, r == -E2BIG ? "response body larger than the limit" : NULL);
    }
    if (!req->finished && !f->open)
        finish(req, f->end_rc, "fake: stream ended with an error");
}

static struct http_request *oldest_open(struct http_client *hc)
{
    struct http_request *found = NULL;

    for (struct http_request *r = hc->in_flight; r; r = r->next)
        if (r->fake && r->fake->open)
            found = r; /* the list is newest first */
    return found;
}

static void fake_push(struct http_client *hc, int status, const char *const *chunks, bool open)
{
    struct fake_response *f = xcalloc(1, sizeof(*f));
    struct fake_response **tail = &hc->fake_queue;

    f->status = status;
    f->open = open;
    while (chunks && chunks[f->n_chunks])
        f->n_chunks++;
    f->chunks = xcalloc(f->n_chunks + 1, sizeof(*f->chunks));
    for (size_t i = 0; i < f->n_chunks; i++)
        f->chunks[i] = xstrdup(chunks[i]);
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
}

void http_fake_push_chunks(struct http_client *hc, int status, const char *const *chunks)
{
    fake_push(hc, status, chunks, false);
}

void http_fake_push(struct http_client *hc, int status, const char *body)
{
    const char *chunks[] = {body, NULL};

    fake_push(hc, status, chunks, false);
}

void http_fake_push_headers(struct http_client *hc, int status, const char *headers,
                            const char *body)
{
    const char *chunks[] = {body, NULL};
    struct fake_response *f;

    fake_push(hc, status, chunks, false);
    for (f = hc->fake_queue; f->next; f = f->next)
        ;
    f->headers = headers ? xstrdup(headers) : NULL;
}

void http_fake_push_open(struct http_client *hc, int status, const char *const *chunks)
{
    fake_push(hc, status, chunks, true);
}

void http_fake_stream_feed(struct http_client *hc, const char *chunk)
{
    struct http_request *req = oldest_open(hc);
    struct fake_response *f;

    if (!req)
        return;
    f = req->fake;
    f->chunks = xrealloc(f->chunks, (f->n_chunks + 2) * sizeof(*f->chunks));
    f->chunks[f->n_chunks++] = xstrdup(chunk);
    f->chunks[f->n_chunks] = NULL;
    schedule(hc);
}

void http_fake_stream_end(struct http_client *hc, int rc)
{
    struct http_request *req = oldest_open(hc);

    if (!req)
        return;
    req->fake->open = false;
    req->fake->end_rc = rc;
    schedule(hc);
}

void http_fake_fail_nth(struct http_client *hc, unsigned nth, int rc)
{
    hc->fail_nth = nth;
    hc->fail_rc = rc;
}

size_t http_fake_count(const struct http_client *hc)
{
    return hc->n_records;
}

const struct http_fake_record *http_fake_record(const struct http_client *hc, size_t i)
{
    return i < hc->n_records ? &hc->records[i] : NULL;
}

/* ---- the deferred step: fake deliveries, callbacks, teardown ---- */

static void on_close_free(uv_handle_t *handle);
static void teardown(struct http_client *hc);

static void on_defer(uv_timer_t *timer)
{
    struct http_client *hc = timer->data;
    struct http_request *req, *next;

    if (hc->fake) {
        for (req = hc->in_flight; req; req = next) {
            next = req->next;
            if (req->fake)
                fake_deliver(req);
        }
    } else if (hc->multi) {
        add_pending(hc);
    }
    /* Callbacks may start or cancel requests; those land on the queue for the next round. */
    req = hc->done_head;
    hc->done_head = hc->done_tail = NULL;
    for (; req; req = next) {
        next = req->done_next;
        run_callback(req);
    }
    if (hc->closing && !hc->in_flight && !hc->done_head)
        teardown(hc);
}

static void schedule(struct http_client *hc)
{
    if (!uv_is_closing((uv_handle_t *)&hc->defer))
        uv_timer_start(&hc->defer, on_defer, 0, 0);
}

/* ---- client lifetime ---- */

static void client_free(struct http_client *hc)
{
    http_closed_cb *cb = hc->closed_cb;
    void *ctx = hc->closed_ctx;

    for (size_t i = 0; i < hc->n_records; i++) {
        free(hc->records[i].method);
        free(hc->records[i].url);
        free(hc->records[i].headers);
        free(hc->records[i].body);
    }
    free(hc->records);
    while (hc->fake_queue) {
        struct fake_response *f = hc->fake_queue;

        hc->fake_queue = f->next;
        fake_response_free(f);
    }
    free(hc->ca_file);
    free(hc->cert_file);
    free(hc->key_file);
    free(hc->proxy);
    free(hc->server_name);
    buf_done(&hc->ca_pem);
    buf_done(&hc->cert_pem);
    buf_done(&hc->key_pem);
    if (!hc->fake)
        curl_global_cleanup();
    free(hc);
    if (cb)
        cb(ctx);
}

static void on_close_free(uv_handle_t *handle)
{
    struct http_client *hc;

    if (handle->type == UV_POLL) {
        struct sock *sk = handle->data;

        hc = sk->hc;
        free(sk);
    } else {
        hc = handle->data;
    }
    if (--hc->open_handles == 0)
        client_free(hc);
}

static void teardown(struct http_client *hc)
{
    if (hc->multi) {
        /* may report CURL_POLL_REMOVE for cached connections, closing their polls */
        curl_multi_cleanup(hc->multi);
        hc->multi = NULL;
    }
    while (hc->socks)
        sock_close(hc, hc->socks);
    uv_close((uv_handle_t *)&hc->curl_timer, on_close_free);
    uv_close((uv_handle_t *)&hc->defer, on_close_free);
}

static struct http_client *client_alloc(uv_loop_t *loop, bool fake)
{
    struct http_client *hc = xcalloc(1, sizeof(*hc));

    hc->loop = loop;
    hc->fake = fake;
    uv_timer_init(loop, &hc->curl_timer);
    uv_timer_init(loop, &hc->defer);
    hc->curl_timer.data = hc;
    hc->defer.data = hc;
    hc->open_handles = 2;
    buf_init(&hc->ca_pem, SIZE_MAX);
    buf_init(&hc->cert_pem, SIZE_MAX);
    buf_init(&hc->key_pem, SIZE_MAX);
    return hc;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static void copy_tls(struct http_client *hc, const struct http_tls *tls)
{
    if (!tls)
        return;
    hc->insecure = tls->insecure_skip_verify;
    hc->ca_file = dup_or_null(tls->ca_file);
    hc->cert_file = dup_or_null(tls->cert_file);
    hc->key_file = dup_or_null(tls->key_file);
    hc->proxy = dup_or_null(tls->proxy);
    hc->server_name = dup_or_null(tls->server_name);
    if (tls->ca_pem)
        (void)buf_append(&hc->ca_pem, tls->ca_pem, tls->ca_pem_len);
    if (tls->cert_pem)
        (void)buf_append(&hc->cert_pem, tls->cert_pem, tls->cert_pem_len);
    if (tls->key_pem)
        (void)buf_append(&hc->key_pem, tls->key_pem, tls->key_pem_len);
}

static void *curl_calloc_hook(size_t count, size_t size)
{
    return xcalloc(count, size);
}

int http_client_new(uv_loop_t *loop, const struct http_tls *tls, struct http_client **ret_client)
{
    struct http_client *hc;

    /* reference-counted by curl; the matching cleanup is in client_free() */
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, xmalloc, free, xrealloc, xstrdup,
                             curl_calloc_hook) != CURLE_OK)
        return -EIO;
    hc = client_alloc(loop, false);
    hc->multi = curl_multi_init();
    if (!hc->multi) {
        hc->closing = true;
        teardown(hc);
        return -EIO;
    }
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
    copy_tls(hc, tls);
    *ret_client = hc;
    return 0;
}

int http_client_new_fake(uv_loop_t *loop, struct http_client **ret_client)
{
    *ret_client = client_alloc(loop, true);
    return 0;
}

void http_client_close(struct http_client *hc, http_closed_cb *done, void *ctx)
{
    if (!hc || hc->closing)
        return;
    hc->closing = true;
    hc->closed_cb = done;
    hc->closed_ctx = ctx;
    while (hc->in_flight)
        finish(hc->in_flight, -ECANCELED, "client closed");
    schedule(hc);
}

static struct curl_slist *build_headers(const struct http_request_spec *spec)
{
    struct curl_slist *list = NULL;

    for (size_t i = 0; spec->headers && spec->headers[i]; i++)
        list = curl_slist_append(list, spec->headers[i]);
    /* no "Expect: 100-continue" round trip before bodies */
    return curl_slist_append(list, "Expect:");
}

int http_request_start(struct http_client *hc, const struct http_request_spec *spec,
                       http_done_cb *cb, void *ctx, struct http_request **ret_request)
{
    struct http_request *req;
    int r;

    if (hc->closing)
        return -ESHUTDOWN;
    if (!spec->method || !spec->url || !cb)
        return -EINVAL;
    req = xcalloc(1, sizeof(*req));
    req->hc = hc;
    req->cb = cb;
    req->ctx = ctx;
    req->data_cb = spec->data_cb;
    buf_init(&req->resp, spec->max_body ? spec->max_body : DEFAULT_MAX_BODY);
    buf_init(&req->resp_headers, MAX_HEADERS);
    if (spec->body)
        req->body = xstrndup(spec->body, spec->body_len);
    req->next = hc->in_flight;
    if (hc->in_flight)
        hc->in_flight->prev = req;
    hc->in_flight = req;
    if (hc->fake) {
        r = fake_start(req, spec);
    } else {
        req->headers = build_headers(spec);
        r = curl_start(req, spec);
    }
    if (r < 0) {
        unlink_in_flight(req);
        request_free(req);
        return r;
    }
    if (ret_request)
        *ret_request = req;
    return 0;
}

void http_request_cancel(struct http_request *req)
{
    if (!req || req->finished || req->canceled)
        return;
    req->canceled = true;
    /* Inside the data callback curl (or the fake) still holds the request: let it unwind. */
    if (req->in_data_cb)
        return;
    finish(req, -ECANCELED, "request canceled");
}

/* The first "authorization:" (any case) in p[0..len), or NULL. */
static const char *find_authorization(const char *p, size_t len)
{
    static const char key[] = "authorization:";
    size_t n = sizeof(key) - 1;

    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(p + i, key, n) == 0)
            return p + i;
    return NULL;
}

char *http_redact_headers(const char *text, size_t len)
{
    struct buf out;
    const char *p = text, *end = text + len;

    buf_init(&out, SIZE_MAX);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        /* header lines, and curl's HTTP/2 info lines: "h2h3 [authorization: Bearer x]" */
        const char *hit = find_authorization(p, line);

        if (!hit) {
            (void)buf_append(&out, p, line);
            p += line;
            continue;
        }
        (void)buf_append(&out, p, (size_t)(hit - p) + strlen("authorization:"));
        (void)buf_append_str(&out, " <redacted>");
        if (memchr(p, '[', (size_t)(hit - p)))
            (void)buf_append_str(&out, "]");
        if (nl)
            (void)buf_append_str(&out, line >= 2 && p[line - 2] == '\r' ? "\r\n" : "\n");
        p += line;
    }
    return buf_take(&out);
}

char *http_header_value(const char *headers, const char *name)
{
    size_t n = strlen(name);
    const char *p = headers;

    while (p && *p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);

        if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
            return xstrndup(v, (size_t)(end - v));
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}
