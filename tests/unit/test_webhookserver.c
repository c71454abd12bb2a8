/*
 * Unit tests for controller/webhookserver against the fake HTTP transport: the certificate
 * Secret is created when missing, kept when usable, replaced when foreign, and the CA is
 * patched into exactly the objects whose caBundle differs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <uv.h>

#include "controller/certs.h"
#include "controller/webhookserver.h"
#include "lib/http.h"
#include "lib/kube.h"
#include "lib/kubeconfig.h"
#include "lib/xalloc.h"

#define NS  "tekton-pipelines"
#define SVC "tekton-pipelines-webhook"

#define API            "https://k8s.test:6443"
#define SECRET_URL     API "/api/v1/namespaces/" NS "/secrets/webhook-certs"
#define SECRETS_URL    API "/api/v1/namespaces/" NS "/secrets"
#define MUTATING_URL   API "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/m"
#define VALIDATING_URL API "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/v"
#define CRD_URL(n)     API "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" n

#define WATCH_URL                                                                                  \
    SECRETS_URL "?fieldSelector=metadata.name%3Dwebhook-certs&watch=1&allowWatchBookmarks=true"

#define NOT_FOUND                                                                                  \
    "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}"

struct fixture {
    uv_loop_t loop;
    struct http_client *http;
    struct kube_client *kc;
    struct webhookserver *ws;
    int serving;
};

static void on_serving(void *ctx)
{
    struct fixture *f = ctx;

    f->serving++;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct kube_config c = {0};
    char server[] = API;
    char *err = NULL;

    c.server = server;
    uv_loop_init(&f->loop);
    assert_int_equal(http_client_new_fake(&f->loop, &f->http), 0);
    assert_int_equal(kube_client_new_with_http(&f->loop, &c, f->http, &f->kc, &err), 0);
    *state = f;
    return 0;
}

static void start(struct fixture *f)
{
    struct webhookserver_options o = {
        .host = "127.0.0.1",
        .port = 0,
        .service = SVC,
        .ns = NS,
        .secret = "webhook-certs",
        .mutating = "m",
        .validating = "v",
        .check_ms = 3600 * 1000, /* one pass per test */
        .on_serving = on_serving,
        .ctx = f,
    };

    assert_int_equal(webhookserver_new(&f->loop, f->kc, &o, &f->ws), 0);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    webhookserver_close(f->ws, NULL, NULL);
    kube_client_close(f->kc, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* Run the loop until 'n' requests were made and nothing more is pending (bounded). */
static void run_until_requests(struct fixture *f, size_t n)
{
    for (int i = 0; i < 2000 && http_fake_count(f->http) < n; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    if (http_fake_count(f->http) != n)
        fail_msg("got %zu requests, want %zu", http_fake_count(f->http), n);
}

static void expect_request(struct fixture *f, size_t i, const char *method, const char *url)
{
    const struct http_fake_record *r = http_fake_record(f->http, i);

    if (strcmp(r->method, method) != 0 || strcmp(r->url, url) != 0)
        fail_msg("request %zu: got %s %s, want %s %s", i, r->method, r->url, method, url);
}

/* The body of the one request 'method url' made, parsed; fails if there is not exactly one. */
static json_t *request_body(struct fixture *f, const char *method, const char *url)
{
    json_t *body = NULL;

    for (size_t i = 0; i < http_fake_count(f->http); i++) {
        const struct http_fake_record *r = http_fake_record(f->http, i);

        if (strcmp(r->method, method) != 0 || strcmp(r->url, url) != 0)
            continue;
        if (body)
            fail_msg("more than one %s %s", method, url);
        body = json_loads(r->body, 0, NULL);
        assert_non_null(body);
    }
    if (!body)
        fail_msg("no %s %s", method, url);
    return body;
}

static char *b64(const char *text)
{
    char *out = xmalloc(4 * ((strlen(text) + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)strlen(text));
    return out;
}

static char *unb64(const char *text)
{
    struct kube_blob blob = {0};
    char *s;

    assert_int_equal(kube_base64_decode(text, &blob), 0);
    s = xstrndup((const char *)blob.data, blob.len);
    free(blob.data);
    return s;
}

static char *secret_json(const struct certs_bundle *b)
{
    char *ca = b64(b->ca_cert), *cert = b64(b->server_cert), *key = b64(b->server_key);
    char *s = xasprintf("{\"metadata\":{\"name\":\"webhook-certs\",\"resourceVersion\":\"42\"},"
                        "\"data\":{\"ca-cert.pem\":\"%s\",\"server-cert.pem\":\"%s\","
                        "\"server-key.pem\":\"%s\"}}",
                        ca, cert, key);

    free(ca);
    free(cert);
    free(key);
    return s;
}

static const char *const crd_urls[] = {
    CRD_URL("tasks.tekton.dev"),
    CRD_URL("taskruns.tekton.dev"),
    CRD_URL("pipelines.tekton.dev"),
    CRD_URL("pipelineruns.tekton.dev"),
};

/* The six GET answers of an injection pass: both configurations, four CRDs. */
static void push_targets(struct fixture *f, const char *ca_b64)
{
    char *mutating =
        xasprintf("{\"webhooks\":[{\"name\":\"m\",\"clientConfig\":{%s%s%s}}]}",
                  ca_b64 ? "\"caBundle\":\"" : "", ca_b64 ? ca_b64 : "", ca_b64 ? "\"" : "");
    char *crd = ca_b64 ? xasprintf("{\"spec\":{\"conversion\":{\"strategy\":\"Webhook\","
                                   "\"webhook\":{\"conversionReviewVersions\":[\"v1\"],"
                                   "\"clientConfig\":{\"caBundle\":\"%s\",\"service\":{\"name\":"
                                   "\"" SVC "\",\"namespace\":\"" NS "\",\"path\":"
                                   "\"/resource-conversion\",\"port\":443}}}}}}",
                                   ca_b64)
                       : xstrdup("{\"spec\":{\"conversion\":{\"strategy\":\"None\"}}}");

    http_fake_push(f->http, 200, mutating);
    http_fake_push(f->http, 404, NOT_FOUND); /* no validating configuration installed */
    for (int i = 0; i < 4; i++)
        http_fake_push(f->http, 200, crd);
    free(crd);
    free(mutating);
}

static void test_webhookserver_missing_secret_is_created_and_injected(void **state)
{
    struct fixture *f = *state;
    json_t *secret, *patch;
    struct certs_bundle b = {0};
    const json_t *data;
    char *ca_b64;

    http_fake_push(f->http, 404, NOT_FOUND);
    http_fake_push(f->http, 201, "{}");
    push_targets(f, NULL);
    for (int i = 0; i < 5; i++)
        http_fake_push(f->http, 200, "{}");
    start(f);
    /* and last, the watch on the Secret (nothing queued for it: it fails and waits a pass) */
    run_until_requests(f, 2 + 6 + 5 + 1);
    expect_request(f, 0, "GET", SECRET_URL);
    expect_request(f, 1, "POST", SECRETS_URL);
    /* the Secret holds a bundle that is good for the Service */
    secret = json_loads(http_fake_record(f->http, 1)->body, 0, NULL);
    data = json_object_get(secret, "data");
    b.ca_cert = unb64(json_string_value(json_object_get(data, CERTS_KEY_CA_CERT)));
    b.server_cert = unb64(json_string_value(json_object_get(data, CERTS_KEY_SERVER_CERT)));
    b.server_key = unb64(json_string_value(json_object_get(data, CERTS_KEY_SERVER_KEY)));
    assert_true(certs_is_usable(&b, SVC, NS, (int64_t)time(NULL)));
    ca_b64 = b64(b.ca_cert);
    /* the mutating configuration gets the CA; the missing validating one is left alone */
    /* the patches go out as the GETs answer, in no promised order */
    patch = request_body(f, "PATCH", MUTATING_URL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "path")),
                        "/webhooks/0/clientConfig/caBundle");
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "value")),
                        ca_b64);
    json_decref(patch);
    for (size_t i = 0; i < 4; i++) {
        const json_t *conv;

        patch = request_body(f, "PATCH", crd_urls[i]);
        conv = json_object_get(json_object_get(patch, "spec"), "conversion");
        assert_string_equal(json_string_value(json_object_get(conv, "strategy")), "Webhook");
        assert_string_equal(
            json_string_value(json_object_get(
                json_object_get(json_object_get(conv, "webhook"), "clientConfig"), "caBundle")),
            ca_b64);
        json_decref(patch);
    }
    assert_int_equal(f->serving, 1);
    assert_true(webhookserver_port(f->ws) > 0);
    free(ca_b64);
    certs_bundle_done(&b);
    json_decref(secret);
}

static void test_webhookserver_usable_secret_kept_and_nothing_patched(void **state)
{
    struct fixture *f = *state;
    struct certs_bundle b = {0};
    char *secret, *ca_b64;

    assert_int_equal(certs_generate(SVC, NS, (int64_t)time(NULL), 30 * 86400, &b), 0);
    secret = secret_json(&b);
    ca_b64 = b64(b.ca_cert);
    http_fake_push(f->http, 200, secret);
    push_targets(f, ca_b64);
    start(f);
    run_until_requests(f, 1 + 6 + 1);
    for (size_t i = 0; i < 8; i++)
        if (strcmp(http_fake_record(f->http, i)->method, "GET") != 0)
            fail_msg("request %zu: %s, want only GETs", i, http_fake_record(f->http, i)->method);
    assert_int_equal(f->serving, 1);
    free(ca_b64);
    free(secret);
    certs_bundle_done(&b);
}

static void test_webhookserver_foreign_certificate_replaced_with_resource_version(void **state)
{
    struct fixture *f = *state;
    struct certs_bundle b = {0};
    char *secret;
    json_t *body;

    /* made for another Service: must not be served */
    assert_int_equal(certs_generate("other", NS, (int64_t)time(NULL), 30 * 86400, &b), 0);
    secret = secret_json(&b);
    http_fake_push(f->http, 200, secret);
    http_fake_push(f->http, 409,
                   "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\","
                   "\"code\":409}");
    start(f);
    run_until_requests(f, 2 + 1);
    expect_request(f, 1, "PUT", SECRET_URL);
    body = json_loads(http_fake_record(f->http, 1)->body, 0, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion")),
        "42");
    /* the update lost a race: nothing is served until the next pass reads the winner */
    assert_int_equal(f->serving, 0);
    json_decref(body);
    free(secret);
    certs_bundle_done(&b);
}

/* A watch event on the Secret (here: it was deleted) starts a pass at once, not after check_ms. */
static void test_webhookserver_secret_deleted_event_starts_a_pass(void **state)
{
    struct fixture *f = *state;
    struct certs_bundle b = {0};
    static const char *const none[] = {NULL};
    char *secret, *ca_b64;

    assert_int_equal(certs_generate(SVC, NS, (int64_t)time(NULL), 30 * 86400, &b), 0);
    secret = secret_json(&b);
    ca_b64 = b64(b.ca_cert);
    http_fake_push(f->http, 200, secret);
    push_targets(f, ca_b64);
    http_fake_push_open(f->http, 200, none); /* the watch */
    http_fake_push(f->http, 404, NOT_FOUND); /* the next pass: the Secret is gone */
    http_fake_push(f->http, 201, "{}");
    start(f);
    run_until_requests(f, 1 + 6 + 1);
    if (!strstr(http_fake_record(f->http, 7)->url, WATCH_URL))
        fail_msg("request 7: %s, want the watch %s", http_fake_record(f->http, 7)->url, WATCH_URL);
    http_fake_stream_feed(f->http, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":"
                                   "\"webhook-certs\",\"resourceVersion\":\"43\"}}}\n");
    /* the GET and the POST of the new Secret; injection finds nothing queued and retries */
    for (int i = 0; i < 2000 && http_fake_count(f->http) < 10; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    expect_request(f, 8, "GET", SECRET_URL);
    expect_request(f, 9, "POST", SECRETS_URL);
    http_fake_stream_end(f->http, -ECANCELED);
    free(ca_b64);
    free(secret);
    certs_bundle_done(&b);
}

/* Closing while the Secret GET is still out: the server is freed once the client cancels it. */
static void test_webhookserver_close_with_a_request_in_flight(void **state)
{
    struct fixture *f = *state;
    static const char *const none[] = {NULL};

    http_fake_push_open(f->http, 200, none);
    start(f);
    run_until_requests(f, 1);
    expect_request(f, 0, "GET", SECRET_URL);
    /* teardown closes the server first, then the client, and asserts the loop ends empty */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhookserver_missing_secret_is_created_and_injected,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhookserver_usable_secret_kept_and_nothing_patched,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_webhookserver_foreign_certificate_replaced_with_resource_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhookserver_secret_deleted_event_starts_a_pass,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhookserver_close_with_a_request_in_flight, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
