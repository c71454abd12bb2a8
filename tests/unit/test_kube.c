/*
 * Unit tests for lib/kube over lib/http's fake transport: the Status -> errno table, the
 * REST verbs on the wire (method, URL, headers, body), pagination, watches under chunking,
 * ERROR events, 401 token re-read, the Nth request failing, and shutdown.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/http.h"
#include "lib/kube.h"
#include "lib/kubeconfig.h"
#include "lib/xalloc.h"

#define FIXTURES "tests/unit/fixtures/"

static char *fixture(const char *name)
{
    char *path = xasprintf(FIXTURES "%s", name);
    struct buf b;

    buf_init(&b, 1 << 20);
    assert_int_equal(buf_read_file(&b, path), 0);
    free(path);
    return buf_take(&b);
}

/* ---- per-test client on the fake transport ---- */

struct result {
    int calls;
    int rc;
    json_t *obj;
    int http_code;
    char *reason;
    char *message;
};

struct fx {
    uv_loop_t loop;
    struct http_client *http; /* borrowed: the kube client owns it */
    struct kube_client *kc;
    char token_path[64];
    struct result res[4];
    /* watch */
    int events;
    char types[16][16];
    char rvs[16][16];
    int stop_after; /* kube_watch_stop() from the event callback after this many */
    struct kube_watch *watch;
    int ended;
    int end_rc;
    char *end_message;
    int end_code;
};

static void fx_start(struct fx *f, const char *token, const char *token_file)
{
    struct kube_config c = {0};
    char server[] = "https://k8s.test:6443";
    char *tok = token ? xstrdup(token) : NULL, *tf = token_file ? xstrdup(token_file) : NULL;
    char *err = NULL;

    c.server = server;
    c.token = tok;
    c.token_file = tf;
    uv_loop_init(&f->loop);
    assert_int_equal(http_client_new_fake(&f->loop, &f->http), 0);
    assert_int_equal(kube_client_new_with_http(&f->loop, &c, f->http, &f->kc, &err), 0);
    free(tok);
    free(tf);
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));

    fx_start(f, "s3cret", NULL);
    *state = f;
    return 0;
}

static void on_closed(void *ctx)
{
    (*(int *)ctx)++;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int closed = 0;

    kube_client_close(f->kc, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    for (size_t i = 0; i < 4; i++) {
        json_decref(f->res[i].obj);
        free(f->res[i].reason);
        free(f->res[i].message);
    }
    free(f->end_message);
    if (f->token_path[0])
        unlink(f->token_path);
    free(f);
    return 0;
}

static void on_done(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct result *r = ctx;

    r->calls++;
    r->rc = rc;
    json_decref(r->obj);
    r->obj = obj ? json_deep_copy(obj) : NULL;
    r->http_code = st ? st->http_code : -1;
    free(r->reason);
    free(r->message);
    r->reason = st && st->reason ? xstrdup(st->reason) : NULL;
    r->message = st && st->message ? xstrdup(st->message) : NULL;
    if (rc < 0)
        assert_non_null(st->message); /* never NULL on error */
}

static void run_until(struct fx *f, const int *counter, int want)
{
    for (int i = 0; i < 1000 && *counter < want; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(*counter, want);
}

static const struct http_fake_record *rec(struct fx *f, size_t i)
{
    const struct http_fake_record *r = http_fake_record(f->http, i);

    assert_non_null(r);
    return r;
}

/* ---- the Status mapping ---- */

static void test_kube_errno_from_status_table(void **state)
{
    static const struct {
        const char *name;
        int http;
        const char *reason;
        int want;
    } cases[] = {
        {"ok", 200, NULL, 0},
        {"created", 201, NULL, 0},
        {"missing object", 404, "NotFound", -ENOENT},
        {"create lost a race", 409, "AlreadyExists", -EEXIST},
        {"stale resourceVersion", 409, "Conflict", -EAGAIN},
        {"409 without reason is a conflict", 409, NULL, -EAGAIN},
        {"watch window expired", 410, "Expired", -ESTALE},
        {"gone", 410, "Gone", -ESTALE},
        {"unauthorized", 401, "Unauthorized", -EACCES},
        {"forbidden", 403, "Forbidden", -EACCES},
        {"invalid object", 422, "Invalid", -EINVAL},
        {"bad request", 400, "BadRequest", -EINVAL},
        {"throttled", 429, "TooManyRequests", -EIO},
        {"server overloaded", 503, NULL, -EIO},
        {"internal error", 500, "InternalError", -EIO},
        {"gateway timeout", 504, "Timeout", -EIO},
        {"redirect not followed", 302, NULL, -EIO},
        {"no status", 0, NULL, -EIO},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = kube_errno_from_status(cases[i].http, cases[i].reason);

        if (got != cases[i].want)
            fail_msg("case '%s': got %d, want %d", cases[i].name, got, cases[i].want);
    }
}

static void test_kube_path_table(void **state)
{
    static const struct {
        const char *prefix, *ns, *resource, *name, *query, *want;
    } cases[] = {
        {"/api/v1", "ci", "configmaps", "x", NULL, "/api/v1/namespaces/ci/configmaps/x"},
        {"/apis/tekton.dev/v1", NULL, "taskruns", NULL, NULL, "/apis/tekton.dev/v1/taskruns"},
        {"/apis/tekton.dev/v1", "", "taskruns", NULL, "labelSelector=a%3Db",
         "/apis/tekton.dev/v1/taskruns?labelSelector=a%3Db"},
        {"/api/v1", NULL, "namespaces", "ci", "", "/api/v1/namespaces/ci"},
        {"/api/v1", "ci", "pods", NULL, "limit=1", "/api/v1/namespaces/ci/pods?limit=1"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = kube_path(cases[i].prefix, cases[i].ns, cases[i].resource, cases[i].name,
                              cases[i].query);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(got);
    }
}

/* ---- REST verbs on the wire ---- */

static void test_kube_verbs_send_method_url_headers_and_body(void **state)
{
    struct fx *f = *state;
    json_t *cm = json_pack("{s:s, s:{s:s}}", "kind", "ConfigMap", "metadata", "name", "x");
    json_t *ops = json_pack("[{s:s, s:s, s:s}]", "op", "replace", "path", "/data/a", "value", "b");
    static const struct {
        const char *method, *url, *content_type, *body;
    } want[] = {
        {"GET", "https://k8s.test:6443/api/v1/namespaces/ci/configmaps/x", NULL, ""},
        {"POST", "https://k8s.test:6443/api/v1/namespaces/ci/configmaps", "application/json",
         "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}"},
        {"PUT", "https://k8s.test:6443/api/v1/namespaces/ci/configmaps/x", "application/json",
         "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}"},
        {"PUT", "https://k8s.test:6443/apis/tekton.dev/v1/namespaces/ci/taskruns/t/status",
         "application/json", "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}"},
        {"PATCH", "https://k8s.test:6443/api/v1/namespaces/ci/configmaps/x",
         "application/merge-patch+json", "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}"},
        {"PATCH", "https://k8s.test:6443/api/v1/namespaces/ci/configmaps/x",
         "application/json-patch+json",
         "[{\"op\":\"replace\",\"path\":\"/data/a\",\"value\":\"b\"}]"},
        {"DELETE", "https://k8s.test:6443/api/v1/namespaces/ci/pods/p", NULL, ""},
        {"DELETE", "https://k8s.test:6443/api/v1/namespaces/ci/pods/p", "application/json",
         "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Foreground\"}"},
    };
    int total = 0;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        http_fake_push(f->http, 200, "{\"kind\":\"ConfigMap\"}");
    assert_int_equal(kube_get(f->kc, "/api/v1/namespaces/ci/configmaps/x", on_done, &f->res[0]), 0);
    assert_int_equal(
        kube_create(f->kc, "/api/v1/namespaces/ci/configmaps", cm, on_done, &f->res[0]), 0);
    assert_int_equal(
        kube_update(f->kc, "/api/v1/namespaces/ci/configmaps/x", cm, on_done, &f->res[0]), 0);
    assert_int_equal(kube_update_status(f->kc, "/apis/tekton.dev/v1/namespaces/ci/taskruns/t", cm,
                                        on_done, &f->res[0]),
                     0);
    assert_int_equal(kube_patch(f->kc, "/api/v1/namespaces/ci/configmaps/x", KUBE_PATCH_MERGE, cm,
                                on_done, &f->res[0]),
                     0);
    assert_int_equal(kube_patch(f->kc, "/api/v1/namespaces/ci/configmaps/x", KUBE_PATCH_JSON, ops,
                                on_done, &f->res[0]),
                     0);
    assert_int_equal(kube_delete(f->kc, "/api/v1/namespaces/ci/pods/p", KUBE_PROPAGATION_DEFAULT,
                                 on_done, &f->res[0]),
                     0);
    assert_int_equal(kube_delete(f->kc, "/api/v1/namespaces/ci/pods/p", KUBE_PROPAGATION_FOREGROUND,
                                 on_done, &f->res[0]),
                     0);
    assert_int_equal(f->res[0].calls, 0); /* never from inside the call */
    total = (int)(sizeof(want) / sizeof(want[0]));
    run_until(f, &f->res[0].calls, total);
    assert_int_equal(f->res[0].rc, 0);
    assert_int_equal(http_fake_count(f->http), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct http_fake_record *r = rec(f, i);
        char *ct =
            want[i].content_type ? xasprintf("Content-Type: %s", want[i].content_type) : NULL;

        if (strcmp(r->method, want[i].method) != 0 || strcmp(r->url, want[i].url) != 0)
            fail_msg("request %zu: %s %s, want %s %s", i, r->method, r->url, want[i].method,
                     want[i].url);
        if (strcmp(r->body, want[i].body) != 0)
            fail_msg("request %zu: body '%s', want '%s'", i, r->body, want[i].body);
        if (ct ? !strstr(r->headers, ct) : strstr(r->headers, "Content-Type:") != NULL)
            fail_msg("request %zu: headers '%s', want content type %s", i, r->headers,
                     ct ? ct : "none");
        if (!strstr(r->headers, "Authorization: Bearer s3cret") ||
            !strstr(r->headers, "Accept: application/json"))
            fail_msg("request %zu: headers '%s' lack auth or accept", i, r->headers);
        free(ct);
    }
    json_decref(cm);
    json_decref(ops);
}

static void test_kube_verbs_reject_bad_arguments_without_callback(void **state)
{
    struct fx *f = *state;
    json_t *o = json_object();

    assert_int_equal(kube_get(f->kc, "api/v1/pods", on_done, &f->res[0]), -EINVAL);
    assert_int_equal(kube_get(f->kc, NULL, on_done, &f->res[0]), -EINVAL);
    assert_int_equal(kube_create(f->kc, "/api/v1/pods", NULL, on_done, &f->res[0]), -EINVAL);
    assert_int_equal(kube_patch(f->kc, "/x", (enum kube_patch_type)9, o, on_done, &f->res[0]),
                     -EINVAL);
    assert_int_equal(kube_delete(f->kc, "/x", (enum kube_propagation)42, on_done, &f->res[0]),
                     -EINVAL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->res[0].calls, 0);
    assert_int_equal(http_fake_count(f->http), 0);
    json_decref(o);
}

/* ---- responses ---- */

static void test_kube_get_refusals_keep_server_status(void **state)
{
    struct fx *f = *state;
    char *nf = fixture("kube/status-404.json"),
         *conflict = fixture("kube/status-409-conflict.json");
    char *html = fixture("kube/bad-gateway.html");
    json_t *empty = json_object();

    http_fake_push(f->http, 404, nf);
    http_fake_push(f->http, 409, conflict);
    http_fake_push(f->http, 502, html);
    assert_int_equal(
        kube_get(f->kc, "/api/v1/namespaces/ci/configmaps/missing", on_done, &f->res[0]), 0);
    assert_int_equal(kube_update(f->kc, "/apis/tekton.dev/v1/namespaces/ci/taskruns/build-7", empty,
                                 on_done, &f->res[1]),
                     0);
    assert_int_equal(kube_get(f->kc, "/version", on_done, &f->res[2]), 0);
    run_until(f, &f->res[2].calls, 1);
    assert_int_equal(f->res[0].rc, -ENOENT);
    assert_null(f->res[0].obj);
    assert_int_equal(f->res[0].http_code, 404);
    assert_string_equal(f->res[0].reason, "NotFound");
    assert_string_equal(f->res[0].message, "configmaps \"missing\" not found");
    assert_int_equal(f->res[1].rc, -EAGAIN);
    assert_string_equal(f->res[1].reason, "Conflict");
    assert_non_null(strstr(f->res[1].message, "the object has been modified"));
    assert_int_equal(f->res[2].rc, -EIO);
    assert_int_equal(f->res[2].http_code, 502);
    assert_null(f->res[2].reason);
    assert_string_equal(f->res[2].message,
                        "GET /version: HTTP 502: <html><body><h1>502 Bad Gateway</h1> "
                        "</body></html>");
    free(nf);
    free(conflict);
    free(html);
    json_decref(empty);
}

static void test_kube_get_malformed_and_oversized_bodies_fail_cleanly(void **state)
{
    struct fx *f = *state;
    const struct kube_limits lim = {.max_object_bytes = 48};

    kube_client_set_limits(f->kc, &lim);
    http_fake_push(f->http, 200, "{\"kind\":\"Pod\",");
    http_fake_push(f->http, 200, "[1,2]");
    http_fake_push(f->http, 200, "{\"data\":\"0123456789012345678901234567890123456789012345\"}");
    assert_int_equal(kube_get(f->kc, "/a", on_done, &f->res[0]), 0);
    assert_int_equal(kube_get(f->kc, "/b", on_done, &f->res[1]), 0);
    assert_int_equal(kube_get(f->kc, "/c", on_done, &f->res[2]), 0);
    run_until(f, &f->res[2].calls, 1);
    assert_int_equal(f->res[0].rc, -EBADMSG);
    assert_non_null(strstr(f->res[0].message, "GET /a: malformed JSON response: "));
    assert_int_equal(f->res[1].rc, -EBADMSG);
    assert_string_equal(f->res[1].message, "GET /b: response is not a JSON object");
    assert_int_equal(f->res[2].rc, -E2BIG);
    assert_string_equal(f->res[2].message, "GET /c: response larger than the 48-byte limit");
}

static void test_kube_failed_nth_request_is_eio_and_others_succeed(void **state)
{
    struct fx *f = *state;

    http_fake_fail_nth(f->http, 2, -ECONNRESET);
    http_fake_push(f->http, 200, "{\"n\":1}");
    http_fake_push(f->http, 200, "{\"n\":3}");
    for (int i = 0; i < 3; i++)
        assert_int_equal(kube_get(f->kc, "/api/v1/namespaces", on_done, &f->res[i]), 0);
    run_until(f, &f->res[2].calls, 1);
    assert_int_equal(f->res[0].rc, 0);
    assert_int_equal(json_integer_value(json_object_get(f->res[0].obj, "n")), 1);
    assert_int_equal(f->res[1].rc, -EIO);
    assert_int_equal(f->res[1].http_code, 0);
    assert_string_equal(f->res[1].message, "GET /api/v1/namespaces: fake: injected failure");
    assert_int_equal(f->res[2].rc, 0);
    assert_int_equal(json_integer_value(json_object_get(f->res[2].obj, "n")), 3);
}

/* ---- lists ---- */

static void test_kube_list_follows_continue_and_merges_pages(void **state)
{
    struct fx *f = *state;
    const json_t *items;

    http_fake_push(f->http, 200,
                   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                   "\"77\",\"continue\":\"tok/1=\",\"remainingItemCount\":3},\"items\":[{\"n\":1},"
                   "{\"n\":2}]}");
    http_fake_push(f->http, 200,
                   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                   "\"77\",\"continue\":\"tok2\"},\"items\":[{\"n\":3},{\"n\":4}]}");
    http_fake_push(f->http, 200,
                   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                   "\"78\"},\"items\":[{\"n\":5}]}");
    assert_int_equal(kube_list(f->kc, "/api/v1/pods?labelSelector=a%3Db", 2, on_done, &f->res[0]),
                     0);
    run_until(f, &f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, 0);
    assert_string_equal(rec(f, 0)->url,
                        "https://k8s.test:6443/api/v1/pods?labelSelector=a%3Db&limit=2");
    assert_string_equal(rec(f, 1)->url, "https://k8s.test:6443/api/v1/pods?labelSelector=a%3Db"
                                        "&limit=2&continue=tok%2F1%3D");
    assert_string_equal(rec(f, 2)->url, "https://k8s.test:6443/api/v1/pods?labelSelector=a%3Db"
                                        "&limit=2&continue=tok2");
    items = json_object_get(f->res[0].obj, "items");
    assert_int_equal(json_array_size(items), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 4), "n")), 5);
    assert_int_equal(kube_client_requests_sent(f->kc), 3); /* one per page */
    assert_string_equal(json_string_value(json_object_get(f->res[0].obj, "kind")), "PodList");
    {
        const json_t *meta = json_object_get(f->res[0].obj, "metadata");

        assert_string_equal(json_string_value(json_object_get(meta, "resourceVersion")), "78");
        assert_null(json_object_get(meta, "continue"));
        assert_null(json_object_get(meta, "remainingItemCount"));
    }
}

static void test_kube_list_drops_managed_fields_of_items(void **state)
{
    struct fx *f = *state;
    const json_t *meta;

    http_fake_push(f->http, 200,
                   "{\"kind\":\"TaskRunList\",\"metadata\":{\"resourceVersion\":\"9\","
                   "\"continue\":\"c\"},\"items\":[{\"metadata\":{\"name\":\"a\",\"managedFields\":"
                   "[{\"manager\":\"kubectl\",\"fieldsV1\":{\"f:spec\":{}}}]}}]}");
    http_fake_push(f->http, 200,
                   "{\"kind\":\"TaskRunList\",\"metadata\":{\"resourceVersion\":\"9\"},"
                   "\"items\":[{\"metadata\":{\"name\":\"b\",\"labels\":{\"l\":\"v\"},"
                   "\"managedFields\":[]}},{\"metadata\":\"odd\"},{}]}");
    assert_int_equal(kube_list(f->kc, "/apis/tekton.dev/v1/taskruns", 1, on_done, &f->res[0]), 0);
    run_until(f, &f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, 0);
    assert_int_equal(json_array_size(json_object_get(f->res[0].obj, "items")), 4);
    meta = json_object_get(json_array_get(json_object_get(f->res[0].obj, "items"), 0), "metadata");
    assert_null(json_object_get(meta, "managedFields"));
    assert_string_equal(json_string_value(json_object_get(meta, "name")), "a");
    meta = json_object_get(json_array_get(json_object_get(f->res[0].obj, "items"), 1), "metadata");
    assert_null(json_object_get(meta, "managedFields"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"), "l")),
                        "v");
    /* items of other shapes pass through untouched */
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(f->res[0].obj, "items"), 2), "metadata")),
        "odd");
}

static void test_kube_list_410_on_continue_restarts_once_then_estale(void **state)
{
    struct fx *f = *state;
    char *gone = fixture("kube/status-410-continue.json");
    static const char page1[] =
        "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"5\",\"continue\":\"c\"},"
        "\"items\":[{\"n\":1}]}";
    static const char last[] = "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"9\"},"
                               "\"items\":[{\"n\":1},{\"n\":2}]}";

    /* first list: page, 410, restart, whole list */
    http_fake_push(f->http, 200, page1);
    http_fake_push(f->http, 410, gone);
    http_fake_push(f->http, 200, last);
    assert_int_equal(kube_list(f->kc, "/api/v1/pods", 1, on_done, &f->res[0]), 0);
    run_until(f, &f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, 0);
    assert_int_equal(json_array_size(json_object_get(f->res[0].obj, "items")), 2);
    assert_string_equal(rec(f, 2)->url, "https://k8s.test:6443/api/v1/pods?limit=1");
    /* second list: 410 twice: -ESTALE with the server's message */
    http_fake_push(f->http, 200, page1);
    http_fake_push(f->http, 410, gone);
    http_fake_push(f->http, 200, page1);
    http_fake_push(f->http, 410, gone);
    assert_int_equal(kube_list(f->kc, "/api/v1/pods", 1, on_done, &f->res[1]), 0);
    run_until(f, &f->res[1].calls, 1);
    assert_int_equal(f->res[1].rc, -ESTALE);
    assert_string_equal(f->res[1].reason, "Expired");
    assert_non_null(strstr(f->res[1].message, "continue parameter is too old"));
    assert_int_equal(http_fake_count(f->http), 7);
    free(gone);
}

/* ---- watches ---- */

static void on_event(void *ctx, const char *type, json_t *obj)
{
    struct fx *f = ctx;
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

    assert_true(f->events < 16);
    snprintf(f->types[f->events], sizeof(f->types[0]), "%s", type);
    snprintf(f->rvs[f->events], sizeof(f->rvs[0]), "%s", rv ? rv : "");
    f->events++;
    if (f->stop_after && f->events == f->stop_after) {
        kube_watch_stop(f->watch);
        kube_watch_stop(f->watch);
    }
}

static void on_end(void *ctx, int rc, const struct kube_status *st)
{
    struct fx *f = ctx;

    f->ended++;
    f->end_rc = rc;
    f->end_code = st->http_code;
    free(f->end_message);
    f->end_message = st->message ? xstrdup(st->message) : NULL;
    f->watch = NULL;
}

/* The stream fixture cut into 'n' pieces at odd places, ERROR line dropped. */
static void push_stream_pieces(struct fx *f, bool open, size_t piece)
{
    char *all = fixture("watch/stream.jsonl");
    char *error_line = strstr(all, "{\"type\":\"ERROR\"");
    const char *pieces[64];
    size_t n = 0, len;

    *error_line = '\0';
    len = strlen(all);
    for (size_t at = 0; at < len && n < 63; at += piece)
        pieces[n++] = xstrndup(all + at, len - at < piece ? len - at : piece);
    pieces[n] = NULL;
    if (open)
        http_fake_push_open(f->http, 200, pieces);
    else
        http_fake_push_chunks(f->http, 200, pieces);
    for (size_t i = 0; i < n; i++)
        free((void *)(uintptr_t)pieces[i]);
    free(all);
}

static void test_kube_watch_decodes_chunked_stream_and_ends_zero_on_close(void **state)
{
    struct fx *f = *state;
    const struct kube_limits lim = {.watch_timeout_s = 321};

    kube_client_set_limits(f->kc, &lim);
    push_stream_pieces(f, false, 37);
    assert_int_equal(kube_watch_start(f->kc, "/api/v1/namespaces/ci/configmaps", "100", on_event,
                                      on_end, f, &f->watch),
                     0);
    run_until(f, &f->ended, 1);
    assert_int_equal(f->end_rc, 0);
    assert_int_equal(f->events, 4);
    assert_string_equal(f->types[0], "ADDED");
    assert_string_equal(f->types[2], "BOOKMARK");
    assert_string_equal(f->rvs[2], "150");
    assert_string_equal(f->types[3], "DELETED");
    assert_string_equal(rec(f, 0)->url,
                        "https://k8s.test:6443/api/v1/namespaces/ci/configmaps?watch=1&"
                        "allowWatchBookmarks=true&resourceVersion=100&timeoutSeconds=321");
}

static void test_kube_watch_error_410_event_is_estale(void **state)
{
    struct fx *f = *state;
    char *all = fixture("watch/stream.jsonl");
    const char *chunks[] = {all, NULL};

    http_fake_push_open(f->http, 200, chunks); /* the server keeps it open: we end it */
    assert_int_equal(
        kube_watch_start(f->kc, "/api/v1/configmaps", "100", on_event, on_end, f, &f->watch), 0);
    run_until(f, &f->ended, 1);
    assert_int_equal(f->events, 4);
    assert_int_equal(f->end_rc, -ESTALE);
    assert_int_equal(f->end_code, 410);
    assert_string_equal(f->end_message, "too old resource version: 101 (150)");
    assert_null(f->watch);
    free(all);
}

static void test_kube_watch_http_410_at_start_is_estale(void **state)
{
    struct fx *f = *state;
    char *gone = fixture("kube/status-410-continue.json");

    http_fake_push(f->http, 410, gone);
    assert_int_equal(
        kube_watch_start(f->kc, "/api/v1/configmaps", "1", on_event, on_end, f, &f->watch), 0);
    run_until(f, &f->ended, 1);
    assert_int_equal(f->end_rc, -ESTALE);
    assert_int_equal(f->events, 0);
    free(gone);
}

static void test_kube_watch_stop_from_event_callback_delivers_nothing_more(void **state)
{
    struct fx *f = *state;

    push_stream_pieces(f, true, 1000);
    f->stop_after = 2;
    assert_int_equal(
        kube_watch_start(f->kc, "/api/v1/configmaps", NULL, on_event, on_end, f, &f->watch), 0);
    assert_null(strstr(http_fake_record(f->http, 0)->url, "resourceVersion"));
    run_until(f, &f->ended, 1);
    assert_int_equal(f->events, 2);
    assert_int_equal(f->end_rc, -ECANCELED);
}

static void test_kube_watch_malformed_event_and_cut_stream_fail(void **state)
{
    struct fx *f = *state;
    const char *bad[] = {"{\"type\":\"ADDED\",\"object\":{}}\nnot json\n", NULL};
    const char *cut[] = {"{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"MOD", NULL};

    http_fake_push_chunks(f->http, 200, bad);
    assert_int_equal(kube_watch_start(f->kc, "/a", "1", on_event, on_end, f, &f->watch), 0);
    run_until(f, &f->ended, 1);
    assert_int_equal(f->end_rc, -EBADMSG);
    assert_non_null(strstr(f->end_message, "watch event is not JSON"));
    http_fake_push_chunks(f->http, 200, cut);
    assert_int_equal(kube_watch_start(f->kc, "/a", "1", on_event, on_end, f, &f->watch), 0);
    run_until(f, &f->ended, 2);
    assert_int_equal(f->end_rc, -EBADMSG);
    assert_string_equal(f->end_message, "watch stream ended inside an event");
    assert_int_equal(f->events, 2);
}

static void test_kube_watch_oversized_event_is_e2big(void **state)
{
    struct fx *f = *state;
    const struct kube_limits lim = {.max_event_bytes = 32};
    const char *big[] = {"{\"type\":\"ADDED\",\"object\":{\"a\":\"0123456789012345\"}}\n", NULL};

    kube_client_set_limits(f->kc, &lim);
    http_fake_push_chunks(f->http, 200, big);
    assert_int_equal(kube_watch_start(f->kc, "/a", "1", on_event, on_end, f, &f->watch), 0);
    run_until(f, &f->ended, 1);
    assert_int_equal(f->end_rc, -E2BIG);
    assert_int_equal(f->events, 0);
}

/* ---- credentials ---- */

static void write_token(const char *path, const char *token, time_t mtime)
{
    FILE *fp = fopen(path, "w");
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};

    assert_non_null(fp);
    fputs(token, fp);
    fclose(fp);
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_kube_401_rereads_token_file_and_retries_once(void **state)
{
    struct fx *f = *state;
    int closed = 0;

    /* replace the default client by one using a token file */
    kube_client_close(f->kc, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    snprintf(f->token_path, sizeof(f->token_path), "/tmp/tektite-kube-token-%d", (int)getpid());
    write_token(f->token_path, "old\n", 1000);
    fx_start(f, NULL, f->token_path);

    http_fake_push(f->http, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
    http_fake_push(f->http, 200, "{\"ok\":true}");
    http_fake_push(f->http, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
    http_fake_push(f->http, 401,
                   "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401,"
                   "\"message\":\"Unauthorized\"}");
    assert_int_equal(kube_get(f->kc, "/version", on_done, &f->res[0]), 0);
    /* the kubelet rotates the token in place while the request is out (same mtime) */
    write_token(f->token_path, "new\n", 1000);
    run_until(f, &f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, 0);
    assert_non_null(strstr(rec(f, 0)->headers, "Authorization: Bearer old"));
    assert_non_null(strstr(rec(f, 1)->headers, "Authorization: Bearer new"));
    /* a second 401 after the retry is final */
    assert_int_equal(kube_get(f->kc, "/version", on_done, &f->res[1]), 0);
    run_until(f, &f->res[1].calls, 1);
    assert_int_equal(f->res[1].rc, -EACCES);
    assert_string_equal(f->res[1].message, "Unauthorized");
    assert_int_equal(http_fake_count(f->http), 4);
    assert_int_equal(kube_client_requests_sent(f->kc), 4); /* retries count */
}

static void test_kube_unreadable_token_file_fails_request_with_eacces(void **state)
{
    struct fx *f = *state;
    int closed = 0;

    kube_client_close(f->kc, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    fx_start(f, NULL, "/nonexistent/token");
    assert_int_equal(kube_get(f->kc, "/version", on_done, &f->res[0]), 0);
    run_until(f, &f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, -EACCES);
    assert_string_equal(f->res[0].message,
                        "cannot read token file '/nonexistent/token': No such file or directory");
    assert_int_equal(http_fake_count(f->http), 0);
}

static size_t count_lines(const char *path)
{
    struct buf b;
    size_t n = 0;

    buf_init(&b, 1 << 16);
    if (buf_read_file(&b, path) == 0)
        for (size_t i = 0; i < buf_len(&b); i++)
            n += b.data[i] == '\n';
    buf_done(&b);
    return n;
}

static void test_kube_exec_plugin_runs_once_for_waiting_requests_and_after_401(void **state)
{
    struct fx *f = *state;
    char dir[] = "/tmp/tektite-kube-exec-XXXXXX";
    char *plugin, *runs, *script;
    char server[] = "https://k8s.test:6443", api[] = "client.authentication.k8s.io/v1beta1";
    char *no_args[] = {NULL}, *no_env[] = {NULL};
    struct kube_exec_config e = {.api_version = api, .args = no_args, .env = no_env};
    struct kube_config c = {.server = server, .exec = &e};
    char *err = NULL;
    int closed = 0;
    FILE *fp;

    kube_client_close(f->kc, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_non_null(mkdtemp(dir));
    plugin = xasprintf("%s/plugin", dir);
    runs = xasprintf("%s/runs", dir);
    script = xasprintf("#!/bin/sh\necho run >> '%s'\nn=$(wc -l < '%s')\n"
                       "printf '{\"kind\":\"ExecCredential\",\"apiVersion\":"
                       "\"client.authentication.k8s.io/v1beta1\",\"status\":{\"token\":"
                       "\"tok-%%s\"}}' $n\n",
                       runs, runs);
    fp = fopen(plugin, "w");
    assert_non_null(fp);
    fputs(script, fp);
    fclose(fp);
    chmod(plugin, 0700);
    e.command = plugin;
    uv_loop_init(&f->loop);
    assert_int_equal(http_client_new_fake(&f->loop, &f->http), 0);
    assert_int_equal(kube_client_new_with_http(&f->loop, &c, f->http, &f->kc, &err), 0);

    http_fake_push(f->http, 200, "{}");
    http_fake_push(f->http, 200, "{}");
    http_fake_push(f->http, 401, "{\"kind\":\"Status\",\"code\":401}");
    http_fake_push(f->http, 200, "{}");
    assert_int_equal(kube_get(f->kc, "/a", on_done, &f->res[0]), 0);
    assert_int_equal(kube_get(f->kc, "/b", on_done, &f->res[1]), 0);
    for (int i = 0; i < 2000 && f->res[1].calls == 0; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->res[0].rc, 0);
    assert_int_equal(f->res[1].rc, 0);
    assert_int_equal(count_lines(runs), 1); /* one run served both waiting requests */
    assert_non_null(strstr(rec(f, 0)->headers, "Authorization: Bearer tok-1"));
    assert_non_null(strstr(rec(f, 1)->headers, "Authorization: Bearer tok-1"));
    /* a 401 drops the cached token: the plugin runs again and the request is retried */
    assert_int_equal(kube_get(f->kc, "/c", on_done, &f->res[2]), 0);
    for (int i = 0; i < 2000 && f->res[2].calls == 0; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->res[2].rc, 0);
    assert_int_equal(count_lines(runs), 2);
    assert_non_null(strstr(rec(f, 2)->headers, "Authorization: Bearer tok-1"));
    assert_non_null(strstr(rec(f, 3)->headers, "Authorization: Bearer tok-2"));
    unlink(runs);
    unlink(plugin);
    rmdir(dir);
    free(plugin);
    free(runs);
    free(script);
}

static void test_kube_client_close_while_exec_plugin_runs_cancels_and_kills_it(void **state)
{
    struct fx *f = *state;
    char dir[] = "/tmp/tektite-kube-exec-XXXXXX";
    char server[] = "https://k8s.test:6443", api[] = "client.authentication.k8s.io/v1";
    char *no_args[] = {NULL}, *no_env[] = {NULL};
    struct kube_exec_config e = {.api_version = api, .args = no_args, .env = no_env};
    struct kube_config c = {.server = server, .exec = &e};
    char *plugin, *err = NULL;
    uint64_t started;
    int closed = 0;
    FILE *fp;

    kube_client_close(f->kc, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_non_null(mkdtemp(dir));
    plugin = xasprintf("%s/plugin", dir);
    fp = fopen(plugin, "w");
    assert_non_null(fp);
    fputs("#!/bin/sh\nexec sleep 30\n", fp);
    fclose(fp);
    chmod(plugin, 0700);
    e.command = plugin;
    uv_loop_init(&f->loop);
    assert_int_equal(http_client_new_fake(&f->loop, &f->http), 0);
    assert_int_equal(kube_client_new_with_http(&f->loop, &c, f->http, &f->kc, &err), 0);
    assert_int_equal(kube_get(f->kc, "/a", on_done, &f->res[0]), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(http_fake_count(f->http), 0); /* waiting for the plugin */
    started = uv_hrtime();
    closed = 0;
    kube_client_close(f->kc, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(uv_hrtime() - started < 5000000000u); /* killed, not waited for */
    assert_int_equal(closed, 1);
    assert_int_equal(f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, -ECANCELED);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    unlink(plugin);
    rmdir(dir);
    free(plugin);
    /* a fresh client for the teardown to close */
    uv_loop_init(&f->loop);
    assert_int_equal(http_client_new_fake(&f->loop, &f->http), 0);
    c.exec = NULL;
    assert_int_equal(kube_client_new_with_http(&f->loop, &c, f->http, &f->kc, &err), 0);
}

/* ---- lifetime ---- */

static void test_kube_client_close_cancels_everything_once(void **state)
{
    struct fx *f = *state;
    const char *none[] = {NULL};
    int closed = 0;

    http_fake_push_open(f->http, 200, none);
    http_fake_push_open(f->http, 200, none);
    assert_int_equal(kube_watch_start(f->kc, "/a", "1", on_event, on_end, f, &f->watch), 0);
    assert_int_equal(kube_get(f->kc, "/b", on_done, &f->res[0]), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    kube_client_close(f->kc, on_closed, &closed);
    assert_int_equal(kube_get(f->kc, "/c", on_done, &f->res[1]), -ESHUTDOWN);
    assert_int_equal(f->ended, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->ended, 1);
    assert_int_equal(f->end_rc, -ECANCELED);
    assert_int_equal(f->res[0].calls, 1);
    assert_int_equal(f->res[0].rc, -ECANCELED);
    assert_int_equal(f->res[1].calls, 0);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    /* teardown must not close again */
    uv_loop_init(&f->loop);
    assert_int_equal(http_client_new_fake(&f->loop, &f->http), 0);
    {
        struct kube_config c = {0};
        char server[] = "http://x";
        char *err = NULL;

        c.server = server;
        assert_int_equal(kube_client_new_with_http(&f->loop, &c, f->http, &f->kc, &err), 0);
    }
}

static void test_kube_client_new_rejects_bad_server(void **state)
{
    static const char *const bad[] = {"k8s.test:6443", "ftp://x", "", "https://a b"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kube_config c = {0};
        char *server = xstrdup(bad[i]), source[] = "/etc/kubeconfig";
        struct kube_client *kc = NULL;
        char *err = NULL;
        uv_loop_t loop;

        c.server = server;
        c.source = source;
        uv_loop_init(&loop);
        assert_int_equal(kube_client_new(&loop, &c, &kc, &err), -EINVAL);
        assert_null(kc);
        if (!strstr(err, "is not an http(s) URL") || !strstr(err, "/etc/kubeconfig"))
            fail_msg("case '%s': message '%s'", bad[i], err);
        free(err);
        free(server);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kube_errno_from_status_table),
        cmocka_unit_test(test_kube_path_table),
        T(test_kube_verbs_send_method_url_headers_and_body),
        T(test_kube_verbs_reject_bad_arguments_without_callback),
        T(test_kube_get_refusals_keep_server_status),
        T(test_kube_get_malformed_and_oversized_bodies_fail_cleanly),
        T(test_kube_failed_nth_request_is_eio_and_others_succeed),
        T(test_kube_list_follows_continue_and_merges_pages),
        T(test_kube_list_drops_managed_fields_of_items),
        T(test_kube_list_410_on_continue_restarts_once_then_estale),
        T(test_kube_watch_decodes_chunked_stream_and_ends_zero_on_close),
        T(test_kube_watch_error_410_event_is_estale),
        T(test_kube_watch_http_410_at_start_is_estale),
        T(test_kube_watch_stop_from_event_callback_delivers_nothing_more),
        T(test_kube_watch_malformed_event_and_cut_stream_fail),
        T(test_kube_watch_oversized_event_is_e2big),
        T(test_kube_401_rereads_token_file_and_retries_once),
        T(test_kube_unreadable_token_file_fails_request_with_eacces),
        T(test_kube_exec_plugin_runs_once_for_waiting_requests_and_after_401),
        T(test_kube_client_close_while_exec_plugin_runs_cancels_and_kills_it),
        T(test_kube_client_close_cancels_everything_once),
        cmocka_unit_test(test_kube_client_new_rejects_bad_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
