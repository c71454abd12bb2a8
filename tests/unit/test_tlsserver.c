/*
 * Unit tests for lib/httpserver with TLS: the real server on 127.0.0.1, spoken to by libcurl from a
 * second thread (curl_easy_perform blocks, the server needs the loop), verifying the server
 * against the CA that controller/certs made for it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "controller/certs.h"
#include "lib/buf.h"
#include "lib/httpserver.h"
#include "lib/xalloc.h"

#define HOST "svc.ns.svc"

struct client {
    uv_thread_t thread;
    uv_async_t done;
    int port;
    const char *ca_pem; /* verify against this */
    const char *path;
    const char *body;   /* NULL: GET */
    const char *header; /* an extra request header line, or NULL */
    /* results */
    CURLcode rc;
    char err[CURL_ERROR_SIZE];
    long code;
    struct buf out;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct client *c = ctx;

    return buf_append(&c->out, p, size * n) < 0 ? 0 : size * n;
}

static void client_thread(void *arg)
{
    struct client *c = arg;
    CURL *curl = curl_easy_init();
    struct curl_slist *resolve = NULL, *headers = NULL;
    struct curl_blob ca = {.data = (void *)(uintptr_t)c->ca_pem, .len = strlen(c->ca_pem)};
    char *url = xasprintf("https://" HOST ":%d%s", c->port, c->path);
    char *map = xasprintf(HOST ":%d:127.0.0.1", c->port);

    resolve = curl_slist_append(resolve, map);
    if (c->header)
        headers = curl_slist_append(headers, c->header);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, c->err);
    if (c->body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
    c->rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->code);
    curl_slist_free_all(resolve);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(map);
    free(url);
    uv_async_send(&c->done);
}

static void on_done(uv_async_t *a)
{
    uv_close((uv_handle_t *)a, NULL);
}

/* Run one request against 'port' to completion, serving it on 'loop' meanwhile. */
static void request(uv_loop_t *loop, struct client *c)
{
    buf_init(&c->out, 1 << 20);
    uv_async_init(loop, &c->done, on_done);
    assert_int_equal(uv_thread_create(&c->thread, client_thread, c), 0);
    while (uv_is_active((uv_handle_t *)&c->done) || !uv_is_closing((uv_handle_t *)&c->done))
        uv_run(loop, UV_RUN_ONCE);
    uv_thread_join(&c->thread);
}

/* Echo the method, path, query and body. */
static int echo(void *ctx, const struct httpserver_request *req, char **ret_body,
                const char **ret_type)
{
    int *calls = ctx;

    (*calls)++;
    *ret_body = xasprintf("%s %s ?%s [%zu] %s", req->method, req->path, req->query, req->body_len,
                          req->body);
    *ret_type = "text/plain";
    return strcmp(req->path, "/missing") == 0 ? 404 : 200;
}

struct fixture {
    uv_loop_t loop;
    struct certs_bundle certs;
    struct httpserver *srv;
    int calls;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct httpserver_options o = {
        .host = "127.0.0.1", .max_body = 1 << 20, .handler = echo, .ctx = &f->calls};

    uv_loop_init(&f->loop);
    if (certs_generate("svc", "ns", (int64_t)time(NULL), 3600, &f->certs) < 0)
        return -1;
    o.cert_pem = f->certs.server_cert;
    o.key_pem = f->certs.server_key;
    if (httpserver_new(&f->loop, &o, &f->srv) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    httpserver_close(f->srv, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    certs_bundle_done(&f->certs);
    free(f);
    return 0;
}

static void test_tlsserver_post_verified_against_the_ca(void **state)
{
    struct fixture *f = *state;
    struct client c = {.port = httpserver_port(f->srv),
                       .ca_pem = f->certs.ca_cert,
                       .path = "/resource-validation?timeout=10s",
                       .body = "{\"kind\":\"AdmissionReview\"}"};

    request(&f->loop, &c);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.code, 200);
    assert_string_equal(
        buf_str(&c.out),
        "POST /resource-validation ?timeout=10s [26] {\"kind\":\"AdmissionReview\"}");
    assert_int_equal(f->calls, 1);
    buf_done(&c.out);
}

static void test_tlsserver_get_and_status_code(void **state)
{
    struct fixture *f = *state;
    struct client c = {
        .port = httpserver_port(f->srv), .ca_pem = f->certs.ca_cert, .path = "/missing"};

    request(&f->loop, &c);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.code, 404);
    assert_string_equal(buf_str(&c.out), "GET /missing ? [0] ");
    buf_done(&c.out);
}

static void test_tlsserver_oversized_head_gets_431(void **state)
{
    struct fixture *f = *state;
    char *big = xmalloc(HTTPSERVER_MAX_HEAD + 64);
    struct client c = {.port = httpserver_port(f->srv), .ca_pem = f->certs.ca_cert, .path = "/x"};

    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', HTTPSERVER_MAX_HEAD);
    big[HTTPSERVER_MAX_HEAD + 7] = '\0';
    c.header = big;
    request(&f->loop, &c);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.code, 431);
    assert_int_equal(f->calls, 0);
    buf_done(&c.out);
    free(big);
}

static void test_tlsserver_other_ca_fails_verification(void **state)
{
    struct fixture *f = *state;
    struct certs_bundle other = {0};
    struct client c = {.port = httpserver_port(f->srv), .path = "/x"};

    assert_int_equal(certs_generate("svc", "ns", (int64_t)time(NULL), 3600, &other), 0);
    c.ca_pem = other.ca_cert;
    request(&f->loop, &c);
    if (c.rc != CURLE_PEER_FAILED_VERIFICATION)
        fail_msg("got %d (%s)", c.rc, c.err);
    assert_int_equal(f->calls, 0);
    buf_done(&c.out);
    certs_bundle_done(&other);
}

static void test_tlsserver_set_cert_rotates_for_new_connections(void **state)
{
    struct fixture *f = *state;
    struct certs_bundle next = {0};
    struct client old = {.port = httpserver_port(f->srv), .path = "/a"};
    struct client c = {.port = httpserver_port(f->srv), .path = "/b"};

    assert_int_equal(certs_generate("svc", "ns", (int64_t)time(NULL), 3600, &next), 0);
    assert_int_equal(httpserver_set_cert(f->srv, next.server_cert, next.server_key), 0);
    c.ca_pem = next.ca_cert;
    request(&f->loop, &c);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.code, 200);
    old.ca_pem = f->certs.ca_cert;
    request(&f->loop, &old);
    assert_int_equal(old.rc, CURLE_PEER_FAILED_VERIFICATION);
    /* a key that does not match the certificate is refused and changes nothing */
    assert_int_equal(httpserver_set_cert(f->srv, next.server_cert, f->certs.server_key), -EINVAL);
    buf_done(&c.out);
    buf_done(&old.out);
    certs_bundle_done(&next);
}

static void test_tlsserver_new_refuses_bad_certificates(void **state)
{
    uv_loop_t loop;
    struct certs_bundle a = {0}, b = {0};
    struct httpserver *s = NULL;
    struct httpserver_options o = {.host = "127.0.0.1", .handler = echo};

    uv_loop_init(&loop);
    assert_int_equal(certs_generate("svc", "ns", (int64_t)time(NULL), 3600, &a), 0);
    assert_int_equal(certs_generate("svc", "ns", (int64_t)time(NULL), 3600, &b), 0);
    o.cert_pem = a.server_cert;
    o.key_pem = b.server_key;
    assert_int_equal(httpserver_new(&loop, &o, &s), -EINVAL);
    o.cert_pem = "junk";
    o.key_pem = a.server_key;
    assert_int_equal(httpserver_new(&loop, &o, &s), -EINVAL);
    o.cert_pem = a.server_cert;
    o.host = "not-an-address";
    assert_int_equal(httpserver_new(&loop, &o, &s), -EINVAL);
    assert_null(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    certs_bundle_done(&a);
    certs_bundle_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tlsserver_post_verified_against_the_ca, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tlsserver_get_and_status_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlsserver_oversized_head_gets_431, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlsserver_other_ca_fails_verification, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tlsserver_set_cert_rotates_for_new_connections, setup,
                                        teardown),
        cmocka_unit_test(test_tlsserver_new_refuses_bad_certificates),
    };
    int r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
