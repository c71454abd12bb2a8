/*
 * Unit tests for lib/httpserver's core without TLS (test_tlsserver covers the TLS layer): the
 * request-line parser and the response builder (pure), and the plain server on 127.0.0.1
 * spoken to by a raw client on the same loop: bodies by Content-Length, split across reads,
 * and the 400/413/431 refusals made before the handler runs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/httpserver.h"
#include "lib/xalloc.h"

static void test_httpserver_parse_request_line_table(void **state)
{
    static const struct {
        const char *name;
        const char *head;
        int want;
        const char *method, *path, *query;
    } cases[] = {
        {"get", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, "GET", "/metrics", ""},
        {"query", "POST /validate?timeout=10s HTTP/1.1\r\n\r\n", 0, "POST", "/validate",
         "timeout=10s"},
        {"HTTP/1.0, bare LF", "HEAD / HTTP/1.0\n\n", 0, "HEAD", "/", ""},
        {"no line end", "GET /x HTTP/1.1", 0, "GET", "/x", ""},
        {"no version", "GET /healthz\r\n\r\n", -EINVAL, NULL, NULL, NULL},
        {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\n", -EINVAL, NULL, NULL, NULL},
        {"version with trailing junk", "GET / HTTP/1.1x\r\n", -EINVAL, NULL, NULL, NULL},
        {"space in target", "GET /a b HTTP/1.1\r\n", -EINVAL, NULL, NULL, NULL},
        {"absolute target", "GET http://x/ HTTP/1.1\r\n", -EINVAL, NULL, NULL, NULL},
        {"long method", "AVERYLONGMETHODNAME / HTTP/1.1\r\n", -EINVAL, NULL, NULL, NULL},
        {"no method", " / HTTP/1.1\r\n", -EINVAL, NULL, NULL, NULL},
        {"TLS bytes", "\x16\x03\x01\x02\x00\r\n\r\n", -EINVAL, NULL, NULL, NULL},
        {"empty", "", -EINVAL, NULL, NULL, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct httpserver_request req = {0};
        char *storage = NULL;
        int r = httpserver_parse_request_line(cases[i].head, strlen(cases[i].head), &req, &storage);

        if (r != cases[i].want)
            fail_msg("case '%s': got %d, want %d", cases[i].name, r, cases[i].want);
        if (r == 0 &&
            (strcmp(req.method, cases[i].method) != 0 || strcmp(req.path, cases[i].path) != 0 ||
             strcmp(req.query, cases[i].query) != 0))
            fail_msg("case '%s': got '%s' '%s' '%s'", cases[i].name, req.method, req.path,
                     req.query);
        if (r < 0 && storage)
            fail_msg("case '%s': storage set on failure", cases[i].name);
        free(storage);
    }
}

static void test_httpserver_response_head_only_keeps_the_length(void **state)
{
    char *r = httpserver_response(200, "text/plain", NULL, "hello\n", true);

    assert_string_equal(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                           "Connection: close\r\n\r\n");
    free(r);
}

static void test_httpserver_response_allow_only_on_405(void **state)
{
    char *r405 = httpserver_response(405, NULL, "GET, HEAD", "no\n", false);
    char *r404 = httpserver_response(404, NULL, "GET, HEAD", NULL, false);

    assert_string_equal(r405, "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json"
                              "\r\nContent-Length: 3\r\nAllow: GET, HEAD\r\n"
                              "Connection: close\r\n\r\nno\n");
    assert_string_equal(r404, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n");
    free(r405);
    free(r404);
}

/* ---- a raw client on the same loop ---- */

struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write, write2;
    uv_timer_t later;
    const char *request;
    const char *rest; /* written 50 ms after 'request', so the server reads it apart; or NULL */
    struct buf got;
    int closes;
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

    c->closes++;
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = s->data;

    if (n > 0)
        assert_int_equal(buf_append(&c->got, b->base, (size_t)n), 0);
    if (n < 0)
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void write_str(uv_write_t *req, struct client *c, const char *s)
{
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)s, (unsigned int)strlen(s));

    assert_int_equal(uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, NULL), 0);
}

static void on_later(uv_timer_t *t)
{
    struct client *c = t->data;

    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        write_str(&c->write2, c, c->rest);
    uv_close((uv_handle_t *)t, on_client_closed);
}

static void on_client_connected(uv_connect_t *req, int status)
{
    struct client *c = req->data;

    assert_int_equal(status, 0);
    write_str(&c->write, c, c->request);
    if (c->rest)
        uv_timer_start(&c->later, on_later, 50, 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read), 0);
}

/* Send 'request' (then 'rest') to 'port' and run the loop until the server closes. */
static void fetch(uv_loop_t *loop, int port, const char *request, const char *rest,
                  struct client *c)
{
    struct sockaddr_in addr;

    memset(c, 0, sizeof(*c));
    buf_init(&c->got, 1 << 20);
    c->request = request;
    c->rest = rest;
    c->tcp.data = c->connect.data = c->later.data = c;
    assert_int_equal(uv_ip4_addr("127.0.0.1", port, &addr), 0);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->later);
    if (!rest)
        uv_close((uv_handle_t *)&c->later, on_client_closed);
    assert_int_equal(
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_client_connected),
        0);
    for (int i = 0; i < 10000 && c->closes < 2; i++)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(c->closes, 2);
}

/* ---- the plain server ---- */

/* Echo the method, path, query and body; count the calls. */
static int echo(void *ctx, const struct httpserver_request *req, char **ret_body,
                const char **ret_type)
{
    int *calls = ctx;

    (*calls)++;
    *ret_body = xasprintf("%s %s ?%s [%zu] %s", req->method, req->path, req->query, req->body_len,
                          req->body);
    *ret_type = "text/plain";
    return 200;
}

struct fixture {
    uv_loop_t loop;
    struct httpserver *srv;
    int calls;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct httpserver_options o = {
        .host = "127.0.0.1", .max_body = 64, .handler = echo, .ctx = &f->calls};

    uv_loop_init(&f->loop);
    if (httpserver_new(&f->loop, &o, &f->srv) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    httpserver_close(f->srv, NULL, NULL);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* The body (after the blank line) of what the client got. */
static const char *body_of(const struct client *c)
{
    const char *b = strstr(buf_str(&c->got), "\r\n\r\n");

    return b ? b + 4 : "(no head)";
}

static void test_httpserver_plain_post_body_split_across_reads(void **state)
{
    struct fixture *f = *state;
    struct client c;

    fetch(&f->loop, httpserver_port(f->srv),
          "POST /convert?x=1 HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello", " world", &c);
    assert_non_null(strstr(buf_str(&c.got), "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body_of(&c), "POST /convert ?x=1 [11] hello world");
    assert_int_equal(f->calls, 1);
    buf_done(&c.got);
}

static void test_httpserver_plain_head_has_length_but_no_body(void **state)
{
    struct fixture *f = *state;
    struct client c;

    fetch(&f->loop, httpserver_port(f->srv), "HEAD /x HTTP/1.1\n\n", NULL, &c);
    /* the echo would be "HEAD /x ? [0] ", 14 bytes */
    assert_non_null(strstr(buf_str(&c.got), "Content-Length: 14\r\n"));
    assert_string_equal(body_of(&c), "");
    buf_done(&c.got);
}

static void test_httpserver_plain_refusals_never_reach_the_handler(void **state)
{
    static const struct {
        const char *name;
        const char *request;
        const char *status_line;
    } cases[] = {
        {"body over max_body", "POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", "HTTP/1.1 413 "},
        {"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400 "},
        {"junk length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "HTTP/1.1 400 "},
        {"bad request line", "GET /\r\n\r\n", "HTTP/1.1 400 "},
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct client c;

        fetch(&f->loop, httpserver_port(f->srv), cases[i].request, NULL, &c);
        if (strncmp(buf_str(&c.got), cases[i].status_line, strlen(cases[i].status_line)) != 0)
            fail_msg("case '%s': got '%.40s', want '%s'", cases[i].name, buf_str(&c.got),
                     cases[i].status_line);
        buf_done(&c.got);
    }
    assert_int_equal(f->calls, 0);
}

static void test_httpserver_plain_oversized_head_gets_431(void **state)
{
    struct fixture *f = *state;
    char *big = xmalloc(HTTPSERVER_MAX_HEAD + 64);
    struct client c;

    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'a', HTTPSERVER_MAX_HEAD + 64 - 20);
    big[HTTPSERVER_MAX_HEAD + 63] = '\0';
    fetch(&f->loop, httpserver_port(f->srv), big, NULL, &c);
    assert_non_null(strstr(buf_str(&c.got), "HTTP/1.1 431 "));
    assert_int_equal(f->calls, 0);
    buf_done(&c.got);
    free(big);
}

static void test_httpserver_new_and_set_cert_refuse_half_tls(void **state)
{
    uv_loop_t loop;
    struct httpserver *s = NULL;
    struct httpserver_options o = {.host = "127.0.0.1", .key_pem = "k", .handler = echo};

    uv_loop_init(&loop);
    assert_int_equal(httpserver_new(&loop, &o, &s), -EINVAL);
    o.key_pem = NULL;
    o.handler = NULL;
    assert_int_equal(httpserver_new(&loop, &o, &s), -EINVAL);
    assert_null(s);
    o.handler = echo;
    assert_int_equal(httpserver_new(&loop, &o, &s), 0);
    /* a plain server stays plain */
    assert_int_equal(httpserver_set_cert(s, "c", "k"), -EINVAL);
    httpserver_close(s, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpserver_parse_request_line_table),
        cmocka_unit_test(test_httpserver_response_head_only_keeps_the_length),
        cmocka_unit_test(test_httpserver_response_allow_only_on_405),
        cmocka_unit_test_setup_teardown(test_httpserver_plain_post_body_split_across_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_httpserver_plain_head_has_length_but_no_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_httpserver_plain_refusals_never_reach_the_handler,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_httpserver_plain_oversized_head_gets_431, setup,
                                        teardown),
        cmocka_unit_test(test_httpserver_new_and_set_cert_refuse_half_tls),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
