/* Unit tests for controller/web: request routing (pure) and the server on a loopback socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "controller/metrics.h"
#include "controller/web.h"
#include "lib/buf.h"

static void test_web_reply_table(void **state)
{
    static const struct {
        const char *name;
        const char *request;
        bool ready;
        const char *status_line;
        const char *body_has; /* NULL: the body must be empty (HEAD) */
    } cases[] = {
        {"metrics", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", true, "HTTP/1.1 200 OK",
         "tekton_pipelines_controller_running_taskruns 0"},
        {"metrics with a query", "GET /metrics?x=1 HTTP/1.0\r\n\r\n", true, "HTTP/1.1 200 OK",
         "# TYPE kn_workqueue_depth gauge"},
        {"healthz", "GET /healthz HTTP/1.1\r\n\r\n", false, "HTTP/1.1 200 OK", "ok"},
        {"readyz ready", "GET /readyz HTTP/1.1\r\n\r\n", true, "HTTP/1.1 200 OK", "ok"},
        {"readyz not ready", "GET /readyz HTTP/1.1\r\n\r\n", false,
         "HTTP/1.1 503 Service Unavailable", "not ready"},
        {"HEAD has no body", "HEAD /healthz HTTP/1.1\r\n\r\n", true, "HTTP/1.1 200 OK", NULL},
        {"unknown path", "GET /debug HTTP/1.1\r\n\r\n", true, "HTTP/1.1 404 Not Found",
         "not found"},
        {"POST", "POST /metrics HTTP/1.1\r\n\r\n", true, "HTTP/1.1 405 Method Not Allowed",
         "method not allowed"},
        {"bare LF line ends", "GET /healthz HTTP/1.1\n\n", true, "HTTP/1.1 200 OK", "ok"},
        {"no version", "GET /healthz\r\n\r\n", true, "HTTP/1.1 400 Bad Request", "bad request"},
        {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\n", true, "HTTP/1.1 400 Bad Request",
         "bad request"},
        {"not HTTP", "\x16\x03\x01\x02\x00\r\n\r\n", true, "HTTP/1.1 400 Bad Request",
         "bad request"},
        {"empty", "", true, "HTTP/1.1 400 Bad Request", "bad request"},
        {"long method", "AVERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", true, "HTTP/1.1 400 Bad Request",
         "bad request"},
    };
    struct metrics *m = metrics_new();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = web_reply(cases[i].request, strlen(cases[i].request), m, cases[i].ready);
        const char *body = strstr(r, "\r\n\r\n");

        if (strncmp(r, cases[i].status_line, strlen(cases[i].status_line)) != 0)
            fail_msg("case '%s': got '%.40s', want '%s'", cases[i].name, r, cases[i].status_line);
        if (!body || !strstr(r, "Connection: close\r\n"))
            fail_msg("case '%s': malformed response '%s'", cases[i].name, r);
        body += 4;
        if (cases[i].body_has ? !strstr(body, cases[i].body_has) : *body != '\0')
            fail_msg("case '%s': body '%s'", cases[i].name, body);
        free(r);
    }
    metrics_free(m);
}

static void test_web_reply_content_length_matches_body(void **state)
{
    struct metrics *m = metrics_new();
    const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
    char *r;
    const char *body, *cl;

    metrics_set_running_taskruns(m, 12);
    r = web_reply(req, strlen(req), m, true);
    body = strstr(r, "\r\n\r\n") + 4;
    cl = strstr(r, "Content-Length: ");
    assert_non_null(cl);
    assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body));
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
    free(r);
    metrics_free(m);
}

static void test_web_reply_405_says_allow(void **state)
{
    const char *req = "DELETE /metrics HTTP/1.1\r\n\r\n";
    char *r = web_reply(req, strlen(req), NULL, true);

    assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
    free(r);
}

/* ---- a client on the same loop ---- */

struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    const char *request;
    struct buf got;
    bool done;
};

static void on_client_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char space[65536];

    b->base = space;
    b->len = sizeof(space);
}

static void on_client_closed(uv_handle_t *h)
{
    struct client *c = h->data;

    c->done = true;
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = s->data;

    if (n > 0)
        assert_int_equal(buf_append(&c->got, b->base, (size_t)n), 0);
    if (n < 0)
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void on_client_connected(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)c->request, (unsigned int)strlen(c->request));

    assert_int_equal(status, 0);
    assert_int_equal(uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, NULL), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read), 0);
}

/* Send 'request' to the server on 'port' and run the loop until the server closes. */
static void fetch(uv_loop_t *loop, int port, const char *request, struct client *c)
{
    struct sockaddr_in addr;

    memset(c, 0, sizeof(*c));
    buf_init(&c->got, 1 << 20);
    c->request = request;
    c->tcp.data = c->connect.data = c;
    assert_int_equal(uv_ip4_addr("127.0.0.1", port, &addr), 0);
    uv_tcp_init(loop, &c->tcp);
    assert_int_equal(
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_client_connected),
        0);
    for (int i = 0; i < 10000 && !c->done; i++)
        uv_run(loop, UV_RUN_ONCE);
    assert_true(c->done);
}

static void on_web_closed(void *ctx)
{
    *(bool *)ctx = true;
}

static void test_web_serves_metrics_and_probes_over_tcp(void **state)
{
    struct web_options o = {.host = "127.0.0.1", .port = 0};
    struct web *w = NULL;
    struct client c;
    bool closed = false;
    uv_loop_t loop;

    o.metrics = metrics_new();
    uv_loop_init(&loop);
    assert_int_equal(web_new(&loop, &o, &w), 0);
    assert_true(web_port(w) > 0);
    metrics_set_running_pipelineruns(o.metrics, 5);

    fetch(&loop, web_port(w), "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", &c);
    assert_non_null(strstr(buf_str(&c.got), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(
        strstr(buf_str(&c.got), "\ntekton_pipelines_controller_running_pipelineruns 5\n"));
    buf_done(&c.got);

    web_set_ready(w, false);
    fetch(&loop, web_port(w), "GET /readyz HTTP/1.1\r\n\r\n", &c);
    assert_non_null(strstr(buf_str(&c.got), "HTTP/1.1 503"));
    buf_done(&c.got);

    web_close(w, on_web_closed, &closed);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
    metrics_free(o.metrics);
}

static void test_web_oversized_head_gets_431(void **state)
{
    struct web_options o = {.host = "127.0.0.1", .port = 0};
    struct web *w = NULL;
    struct client c;
    char *big = malloc(WEB_MAX_HEAD + 100);
    uv_loop_t loop;

    memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
    memset(big + 26, 'a', WEB_MAX_HEAD + 100 - 27);
    big[WEB_MAX_HEAD + 99] = '\0';
    uv_loop_init(&loop);
    assert_int_equal(web_new(&loop, &o, &w), 0);
    fetch(&loop, web_port(w), big, &c);
    assert_non_null(strstr(buf_str(&c.got), "HTTP/1.1 431"));
    buf_done(&c.got);
    web_close(w, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(big);
}

static void test_web_close_drops_idle_connections(void **state)
{
    struct web_options o = {.host = "127.0.0.1", .port = 0};
    struct web *w = NULL;
    struct client c;
    bool closed = false;
    uv_loop_t loop;

    uv_loop_init(&loop);
    assert_int_equal(web_new(&loop, &o, &w), 0);
    /* a client that never finishes its request head */
    memset(&c, 0, sizeof(c));
    buf_init(&c.got, 1024);
    c.request = "GET /metr";
    c.tcp.data = c.connect.data = &c;
    {
        struct sockaddr_in addr;

        assert_int_equal(uv_ip4_addr("127.0.0.1", web_port(w), &addr), 0);
        uv_tcp_init(&loop, &c.tcp);
        assert_int_equal(
            uv_tcp_connect(&c.connect, &c.tcp, (const struct sockaddr *)&addr, on_client_connected),
            0);
    }
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    web_close(w, on_web_closed, &closed);
    for (int i = 0; i < 10000 && !c.done; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(c.done);
    assert_int_equal(buf_len(&c.got), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_done(&c.got);
}

static void test_web_new_port_in_use_fails_cleanly(void **state)
{
    struct web_options o = {.host = "127.0.0.1", .port = 0};
    struct web *w = NULL, *w2 = NULL;
    uv_loop_t loop;

    uv_loop_init(&loop);
    assert_int_equal(web_new(&loop, &o, &w), 0);
    o.port = web_port(w);
    assert_int_equal(web_new(&loop, &o, &w2), -EADDRINUSE);
    assert_null(w2);
    o.host = "not an address";
    assert_int_equal(web_new(&loop, &o, &w2), -EINVAL);
    o.host = "127.0.0.1";
    o.port = 70000;
    assert_int_equal(web_new(&loop, &o, &w2), -EINVAL);
    web_close(w, NULL, NULL);
    web_close(NULL, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_reply_table),
        cmocka_unit_test(test_web_reply_content_length_matches_body),
        cmocka_unit_test(test_web_reply_405_says_allow),
        cmocka_unit_test(test_web_serves_metrics_and_probes_over_tcp),
        cmocka_unit_test(test_web_oversized_head_gets_431),
        cmocka_unit_test(test_web_close_drops_idle_connections),
        cmocka_unit_test(test_web_new_port_in_use_fails_cleanly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
