/*
 * Unit tests for lib/http: the callback contract on the fake transport (never inside start,
 * exactly once, -ECANCELED on cancel and close, the Nth request failing), header redaction,
 * and the curl transport against a loopback server run by the test on the same loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/http.h"
#include "lib/xalloc.h"

struct result {
    int calls;
    int rc;
    int status;
    char *body;
    char *error;
    struct buf streamed;
    int stop_after_chunks; /* data callback returns -EPROTO after this many chunks */
    int chunks;
    struct http_request *cancel_in_data; /* cancel this from the data callback */
    struct http_client *start_in_data;   /* start 'nested' from the data callback */
    const struct http_request_spec *nested_spec;
    struct result *nested;
    int nested_rc;
};

static int on_data(void *ctx, const char *data, size_t len);

static void on_done(void *ctx, int rc, const struct http_response *resp)
{
    struct result *res = ctx;

    res->calls++;
    res->rc = rc;
    res->status = resp->status;
    free(res->body);
    res->body = xstrndup(resp->body, resp->body_len);
    free(res->error);
    res->error = resp->error ? xstrdup(resp->error) : NULL;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    struct result *res = ctx;

    res->chunks++;
    if (res->start_in_data && res->chunks == 1)
        res->nested_rc =
            http_request_start(res->start_in_data, res->nested_spec, on_done, res->nested, NULL);
    if (res->cancel_in_data)
        http_request_cancel(res->cancel_in_data);
    if (res->stop_after_chunks && res->chunks >= res->stop_after_chunks)
        return -EPROTO;
    return buf_append(&res->streamed, data, len);
}

static void result_init(struct result *res)
{
    memset(res, 0, sizeof(*res));
    buf_init(&res->streamed, 1 << 20);
}

static void result_done(struct result *res)
{
    free(res->body);
    free(res->error);
    buf_done(&res->streamed);
}

static void on_closed(void *ctx)
{
    (*(int *)ctx)++;
}

static void close_client(uv_loop_t *loop, struct http_client *hc)
{
    int closed = 0;

    http_client_close(hc, on_closed, &closed);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_http_fake_callback_runs_once_from_loop_not_inside_start(void **state)
{
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    struct http_request_spec spec = {.method = "POST",
                                     .url = "https://k/api",
                                     .headers = hdrs,
                                     .body = "{\"a\":1}",
                                     .body_len = 7};
    struct http_client *hc = NULL;
    struct result res;
    uv_loop_t loop;

    result_init(&res);
    uv_loop_init(&loop);
    assert_int_equal(http_client_new_fake(&loop, &hc), 0);
    http_fake_push(hc, 201, "{\"ok\":true}");
    assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
    assert_int_equal(res.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.status, 201);
    assert_string_equal(res.body, "{\"ok\":true}");
    assert_null(res.error);
    assert_int_equal(http_fake_count(hc), 1);
    assert_string_equal(http_fake_record(hc, 0)->method, "POST");
    assert_string_equal(http_fake_record(hc, 0)->url, "https://k/api");
    assert_string_equal(http_fake_record(hc, 0)->headers, "Accept: application/json");
    assert_string_equal(http_fake_record(hc, 0)->body, "{\"a\":1}");
    close_client(&loop, hc);
    result_done(&res);
}

static void test_http_fake_fail_nth_fails_only_that_request(void **state)
{
    struct http_request_spec spec = {.method = "GET", .url = "https://k/x"};
    struct http_client *hc = NULL;
    struct result res[3];
    uv_loop_t loop;

    uv_loop_init(&loop);
    assert_int_equal(http_client_new_fake(&loop, &hc), 0);
    http_fake_fail_nth(hc, 2, -ECONNRESET);
    http_fake_push(hc, 200, "one");
    http_fake_push(hc, 200, "three");
    for (int i = 0; i < 3; i++) {
        result_init(&res[i]);
        assert_int_equal(http_request_start(hc, &spec, on_done, &res[i], NULL), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res[0].rc, 0);
    assert_string_equal(res[0].body, "one");
    assert_int_equal(res[1].rc, -ECONNRESET);
    assert_string_equal(res[1].error, "fake: injected failure");
    assert_int_equal(res[1].status, 0);
    assert_int_equal(res[2].rc, 0);
    assert_string_equal(res[2].body, "three");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].calls, 1);
        result_done(&res[i]);
    }
    close_client(&loop, hc);
}

static void test_http_fake_streams_2xx_and_buffers_errors(void **state)
{
    static const char *const ok_chunks[] = {"ab", "c", "def", NULL};
    static const char *const err_chunks[] = {"{\"kind\":", "\"Status\"}", NULL};
    struct http_request_spec spec = {.method = "GET", .url = "https://k/w", .data_cb = on_data};
    struct http_client *hc = NULL;
    struct result ok, err;
    uv_loop_t loop;

    result_init(&ok);
    result_init(&err);
    uv_loop_init(&loop);
    assert_int_equal(http_client_new_fake(&loop, &hc), 0);
    http_fake_push_chunks(hc, 200, ok_chunks);
    http_fake_push_chunks(hc, 410, err_chunks);
    assert_int_equal(http_request_start(hc, &spec, on_done, &ok, NULL), 0);
    assert_int_equal(http_request_start(hc, &spec, on_done, &err, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(ok.rc, 0);
    assert_int_equal(ok.chunks, 3);
    assert_string_equal(buf_str(&ok.streamed), "abcdef");
    assert_string_equal(ok.body, "");
    assert_int_equal(err.rc, 0);
    assert_int_equal(err.status, 410);
    assert_int_equal(err.chunks, 0);
    assert_string_equal(err.body, "{\"kind\":\"Status\"}");
    close_client(&loop, hc);
    result_done(&ok);
    result_done(&err);
}

static void test_http_fake_body_past_ceiling_is_e2big(void **state)
{
    struct http_request_spec spec = {.method = "GET", .url = "https://k/l", .max_body = 4};
    struct http_client *hc = NULL;
    struct result res;
    uv_loop_t loop;

    result_init(&res);
    uv_loop_init(&loop);
    assert_int_equal(http_client_new_fake(&loop, &hc), 0);
    http_fake_push(hc, 200, "12345");
    assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.rc, -E2BIG);
    assert_string_equal(res.error, "response body larger than the limit");
    close_client(&loop, hc);
    result_done(&res);
}

static void test_http_fake_cancel_and_close_give_ecanceled_once(void **state)
{
    static const char *const chunks[] = {"x", NULL};
    struct http_request_spec spec = {.method = "GET", .url = "https://k/w", .data_cb = on_data};
    struct http_client *hc = NULL;
    struct http_request *req = NULL;
    struct result a, b, c;
    int closed = 0;
    uv_loop_t loop;

    result_init(&a);
    result_init(&b);
    result_init(&c);
    uv_loop_init(&loop);
    assert_int_equal(http_client_new_fake(&loop, &hc), 0);
    http_fake_push_open(hc, 200, chunks);
    http_fake_push_open(hc, 200, chunks);
    http_fake_push_open(hc, 200, chunks);
    assert_int_equal(http_request_start(hc, &spec, on_done, &a, &req), 0);
    http_request_cancel(req);
    http_request_cancel(req);
    assert_int_equal(a.calls, 0);
    assert_int_equal(http_request_start(hc, &spec, on_done, &b, &req), 0);
    b.cancel_in_data = req;
    assert_int_equal(http_request_start(hc, &spec, on_done, &c, NULL), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, -ECANCELED);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.rc, -ECANCELED);
    assert_int_equal(b.chunks, 1);
    assert_int_equal(c.calls, 0); /* still open */
    http_client_close(hc, on_closed, &closed);
    assert_int_equal(http_request_start(hc, &spec, on_done, &a, NULL), -ESHUTDOWN);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.rc, -ECANCELED);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    result_done(&a);
    result_done(&b);
    result_done(&c);
}

static void test_http_fake_data_callback_error_ends_request(void **state)
{
    static const char *const chunks[] = {"a", "b", "c", NULL};
    struct http_request_spec spec = {.method = "GET", .url = "https://k/w", .data_cb = on_data};
    struct http_client *hc = NULL;
    struct result res;
    uv_loop_t loop;

    result_init(&res);
    res.stop_after_chunks = 2;
    uv_loop_init(&loop);
    assert_int_equal(http_client_new_fake(&loop, &hc), 0);
    http_fake_push_chunks(hc, 200, chunks);
    assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(res.rc, -EPROTO);
    assert_int_equal(res.chunks, 2);
    close_client(&loop, hc);
    result_done(&res);
}

static void test_http_redact_headers_hides_credentials_only(void **state)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"Authorization: Bearer abc.def\r\nAccept: */*\r\n",
         "Authorization: <redacted>\r\nAccept: */*\r\n"},
        {"authorization: Basic Zm9v\n", "authorization: <redacted>\n"},
        {"Proxy-Authorization: x", "Proxy-Authorization: <redacted>"},
        {"X-Authorization-Hint: keep\n", "X-Authorization-Hint: keep\n"},
        {"GET /api HTTP/1.1\r\n", "GET /api HTTP/1.1\r\n"},
        {"h2h3 [authorization: Bearer abc]\n", "h2h3 [authorization: <redacted>]\n"},
        {"h2h3 [:path: /api]\nh2h3 [Authorization: Basic x]",
         "h2h3 [:path: /api]\nh2h3 [Authorization: <redacted>]"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = http_redact_headers(cases[i].in, strlen(cases[i].in));

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(got);
    }
}

/* ---- a loopback HTTP/1.1 server on the test's loop, for the curl transport ---- */

struct server {
    uv_tcp_t listener;
    int port;
    const char *response; /* written once the request head has arrived; NULL: never answer */
    int accepted;
    char head[2048]; /* the last request head received */
};

struct conn {
    uv_tcp_t tcp;
    struct server *srv;
    struct buf in;
    uv_write_t wr;
};

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    buf_done(&c->in);
    free(c);
}

static void on_written(uv_write_t *wr, int status)
{
    struct conn *c = wr->data;

    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    b->base = xmalloc(size);
    b->len = size;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;

    if (n > 0)
        (void)buf_append(&c->in, b->base, (size_t)n);
    free(b->base);
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    if (strstr(buf_str(&c->in), "\r\n\r\n"))
        snprintf(c->srv->head, sizeof(c->srv->head), "%s", buf_str(&c->in));
    if (c->srv->response && strstr(buf_str(&c->in), "\r\n\r\n")) {
        uv_buf_t out =
            uv_buf_init((char *)(uintptr_t)c->srv->response, (unsigned)strlen(c->srv->response));

        uv_read_stop(s);
        c->wr.data = c;
        uv_write(&c->wr, s, &out, 1, on_written);
    }
}

static void on_connection(uv_stream_t *l, int status)
{
    struct server *srv = l->data;
    struct conn *c = xcalloc(1, sizeof(*c));

    c->srv = srv;
    buf_init(&c->in, 1 << 16);
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    srv->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void server_start(uv_loop_t *loop, struct server *srv)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 16, on_connection), 0);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h->data != arg ? on_conn_closed : NULL);
}

static void server_stop(uv_loop_t *loop, struct server *srv)
{
    uv_walk(loop, close_walk, srv);
}

static void test_http_curl_get_buffers_body_and_status(void **state)
{
    struct server srv = {.response = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 16\r\nConnection: close\r\n\r\n"
                                     "{\"code\":404}\r\n\r\n"};
    struct http_client *hc = NULL;
    struct result res;
    uv_loop_t loop;
    char *url;

    result_init(&res);
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    url = xasprintf("http://127.0.0.1:%d/api/v1/x", srv.port);
    assert_int_equal(http_client_new(&loop, NULL, &hc), 0);
    {
        struct http_request_spec spec = {.method = "GET", .url = url, .timeout_ms = 5000};

        assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
    }
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.status, 404);
    assert_string_equal(res.body, "{\"code\":404}\r\n\r\n");
    http_client_close(hc, NULL, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    server_stop(&loop, &srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(url);
    result_done(&res);
}

static void test_http_curl_streams_chunked_body(void **state)
{
    struct server srv = {.response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                     "Connection: close\r\n\r\n"
                                     "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"};
    struct http_client *hc = NULL;
    struct result res;
    uv_loop_t loop;
    char *url;

    result_init(&res);
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    url = xasprintf("http://127.0.0.1:%d/w", srv.port);
    assert_int_equal(http_client_new(&loop, NULL, &hc), 0);
    {
        struct http_request_spec spec = {
            .method = "GET", .url = url, .data_cb = on_data, .low_speed_time_s = 5};

        assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
    }
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(buf_str(&res.streamed), "abcde");
    http_client_close(hc, NULL, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    server_stop(&loop, &srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(url);
    result_done(&res);
}

static void test_http_curl_request_started_inside_data_callback_runs(void **state)
{
    struct server srv = {.response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                     "Connection: close\r\n\r\n"
                                     "3\r\nabc\r\n0\r\n\r\n"};
    struct http_client *hc = NULL;
    struct result outer, inner;
    uv_loop_t loop;
    char *url;

    result_init(&outer);
    result_init(&inner);
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    url = xasprintf("http://127.0.0.1:%d/w", srv.port);
    assert_int_equal(http_client_new(&loop, NULL, &hc), 0);
    {
        struct http_request_spec spec = {.method = "GET", .url = url, .data_cb = on_data};
        struct http_request_spec plain = {.method = "GET", .url = url, .timeout_ms = 5000};

        outer.start_in_data = hc;
        outer.nested_spec = &plain;
        outer.nested = &inner;
        assert_int_equal(http_request_start(hc, &spec, on_done, &outer, NULL), 0);
        while (outer.calls == 0 || inner.calls == 0)
            uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(outer.nested_rc, 0);
    assert_int_equal(outer.rc, 0);
    assert_int_equal(inner.rc, 0);
    assert_int_equal(inner.status, 200);
    assert_string_equal(inner.body, "abc");
    http_client_close(hc, NULL, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    server_stop(&loop, &srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(url);
    result_done(&outer);
    result_done(&inner);
}

static void test_http_curl_silent_server_times_out_then_close_is_clean(void **state)
{
    struct server srv = {.response = NULL};
    struct http_client *hc = NULL;
    struct result res, pending;
    int closed = 0;
    uv_loop_t loop;
    char *url;

    result_init(&res);
    result_init(&pending);
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    url = xasprintf("http://127.0.0.1:%d/slow", srv.port);
    assert_int_equal(http_client_new(&loop, NULL, &hc), 0);
    {
        struct http_request_spec spec = {.method = "GET", .url = url, .timeout_ms = 200};
        struct http_request_spec forever = {.method = "GET", .url = url};

        assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
        assert_int_equal(http_request_start(hc, &forever, on_done, &pending, NULL), 0);
    }
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.rc, -ETIMEDOUT);
    assert_non_null(res.error);
    assert_int_equal(pending.calls, 0);
    http_client_close(hc, on_closed, &closed);
    while (closed == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(pending.calls, 1);
    assert_int_equal(pending.rc, -ECANCELED);
    server_stop(&loop, &srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(url);
    result_done(&res);
    result_done(&pending);
}

static void test_http_curl_server_name_connects_to_url_host(void **state)
{
    struct server srv = {.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                     "Connection: close\r\n\r\n{}"};
    const struct http_tls tls = {.server_name = "kubernetes.default.svc"};
    static const char *const hdrs[] = {"Authorization: Bearer zzz", NULL};
    struct http_client *hc = NULL;
    struct result res;
    uv_loop_t loop;
    char *url, *want_host;

    result_init(&res);
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    url = xasprintf("http://127.0.0.1:%d/version", srv.port);
    want_host = xasprintf("Host: kubernetes.default.svc:%d\r\n", srv.port);
    assert_int_equal(http_client_new(&loop, &tls, &hc), 0);
    {
        struct http_request_spec spec = {
            .method = "GET", .url = url, .headers = hdrs, .timeout_ms = 5000};

        assert_int_equal(http_request_start(hc, &spec, on_done, &res, NULL), 0);
    }
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(srv.head, "GET /version HTTP/1.1\r\n"));
    if (!strstr(srv.head, want_host))
        fail_msg("request head lacks '%s': %s", want_host, srv.head);
    assert_non_null(strstr(srv.head, "Authorization: Bearer zzz\r\n"));
    http_client_close(hc, NULL, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    server_stop(&loop, &srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(url);
    free(want_host);
    result_done(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_fake_callback_runs_once_from_loop_not_inside_start),
        cmocka_unit_test(test_http_fake_fail_nth_fails_only_that_request),
        cmocka_unit_test(test_http_fake_streams_2xx_and_buffers_errors),
        cmocka_unit_test(test_http_fake_body_past_ceiling_is_e2big),
        cmocka_unit_test(test_http_fake_cancel_and_close_give_ecanceled_once),
        cmocka_unit_test(test_http_fake_data_callback_error_ends_request),
        cmocka_unit_test(test_http_redact_headers_hides_credentials_only),
        cmocka_unit_test(test_http_curl_get_buffers_body_and_status),
        cmocka_unit_test(test_http_curl_streams_chunked_body),
        cmocka_unit_test(test_http_curl_request_started_inside_data_callback_runs),
        cmocka_unit_test(test_http_curl_silent_server_times_out_then_close_is_clean),
        cmocka_unit_test(test_http_curl_server_name_connects_to_url_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
