/*
 * Unit tests for lib/informer: the cache on scripted event sequences (de-duplication by
 * resourceVersion, relist diffs, bookmarks, indexes, trimming) and the list/watch driver
 * over fake API ops. No network; time comes from the loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/informer.h"
#include "lib/jsonget.h"
#include "lib/xalloc.h"

#define PATH "/apis/tekton.dev/v1/taskruns"

/* ---- fake API ---- */

struct fake_api {
    int list_calls;
    int list_rc; /* what list() itself returns */
    kube_done_cb *list_cb;
    void *list_ctx;
    char last_list_path[128];

    int watch_calls;
    char watch_rv[32];
    kube_watch_event_cb *event_cb;
    kube_watch_end_cb *end_cb;
    void *watch_ctx;
    bool watching;
    int stops;
};

static struct fake_api api;
static int fake_watch_handle; /* its address stands in for a struct kube_watch */

static int fake_list(struct kube_client *kc, const char *path, unsigned page_size, kube_done_cb *cb,
                     void *ctx)
{
    api.list_calls++;
    if (api.list_rc < 0)
        return api.list_rc;
    snprintf(api.last_list_path, sizeof(api.last_list_path), "%s", path);
    api.list_cb = cb;
    api.list_ctx = ctx;
    return 0;
}

static int fake_watch_start(struct kube_client *kc, const char *path, const char *rv,
                            kube_watch_event_cb *event_cb, kube_watch_end_cb *end_cb, void *ctx,
                            struct kube_watch **ret_watch)
{
    api.watch_calls++;
    snprintf(api.watch_rv, sizeof(api.watch_rv), "%s", rv ? rv : "");
    api.event_cb = event_cb;
    api.end_cb = end_cb;
    api.watch_ctx = ctx;
    api.watching = true;
    *ret_watch = (struct kube_watch *)&fake_watch_handle;
    return 0;
}

static void fake_watch_stop(struct kube_watch *w)
{
    api.stops++;
}

static const struct informer_ops fake_ops = {fake_list, fake_watch_start, fake_watch_stop};

/* Answer the pending list with 'json' (rc 0) or with 'rc'. */
static void finish_list(int rc, const char *json)
{
    json_t *obj = json ? json_loads(json, 0, NULL) : NULL;
    struct kube_status st = {503, "ServiceUnavailable", "try later"};
    kube_done_cb *cb = api.list_cb;

    assert_non_null(cb);
    api.list_cb = NULL;
    cb(api.list_ctx, rc, obj, rc < 0 ? &st : NULL);
    json_decref(obj);
}

static void watch_event(const char *type, const char *json)
{
    json_t *obj = json_loads(json, 0, NULL);

    assert_non_null(obj);
    assert_true(api.watching);
    api.event_cb(api.watch_ctx, type, obj);
    json_decref(obj);
}

static void end_watch(int rc)
{
    assert_true(api.watching);
    api.watching = false;
    api.end_cb(api.watch_ctx, rc, NULL);
}

/* ---- handler recorder ---- */

struct events {
    char log[32][96];
    int n;
    int errors;
    uint64_t last_retry_ms;
    int synced;
};

static const char *ns_name(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static const char *rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void rec(struct events *e, const char *line)
{
    assert_true(e->n < 32);
    snprintf(e->log[e->n++], sizeof(e->log[0]), "%s", line);
}

static void on_add(void *ctx, const json_t *obj)
{
    char line[96];

    snprintf(line, sizeof(line), "add %s@%s", ns_name(obj), rv_of(obj));
    rec(ctx, line);
}

static void on_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    char line[96];

    snprintf(line, sizeof(line), "update %s@%s->%s", ns_name(new_obj), rv_of(old_obj),
             rv_of(new_obj));
    rec(ctx, line);
}

static void on_delete(void *ctx, const json_t *obj)
{
    char line[96];

    snprintf(line, sizeof(line), "delete %s", ns_name(obj));
    rec(ctx, line);
}

static void on_error(void *ctx, const char *op, int rc, const struct kube_status *st,
                     uint64_t retry_ms)
{
    struct events *e = ctx;

    e->errors++;
    e->last_retry_ms = retry_ms;
}

static void on_synced(void *ctx)
{
    struct events *e = ctx;

    e->synced++;
}

static void assert_events(const struct events *e, const char *const *want, int n)
{
    for (int i = 0; i < n && i < e->n; i++)
        if (strcmp(e->log[i], want[i]) != 0)
            fail_msg("event %d: got '%s', want '%s'", i, e->log[i], want[i]);
    if (e->n != n)
        fail_msg("got %d events, want %d (last: '%s')", e->n, n, e->n ? e->log[e->n - 1] : "");
}

/* ---- fixture ---- */

struct fixture {
    uv_loop_t loop;
    struct informer *inf;
    struct events ev;
    int closed;
};

static uint32_t zero_rand(void *ctx)
{
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct informer_options o = {
        .path = PATH,
        .backoff_base_ms = 5,
        .backoff_max_ms = 40,
        .min_watch_ms = 1,
        .on_error = on_error,
        .on_synced = on_synced,
        .ctx = &f->ev,
        .rand = zero_rand,
    };
    struct informer_handler h = {on_add, on_update, on_delete, &f->ev};

    memset(&api, 0, sizeof(api));
    uv_loop_init(&f->loop);
    assert_int_equal(informer_new(&f->loop, NULL, &fake_ops, &o, &f->inf), 0);
    informer_add_handler(f->inf, &h);
    *state = f;
    return 0;
}

static void on_closed(void *ctx)
{
    struct fixture *f = ctx;

    f->closed++;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    informer_close(f->inf, on_closed, f);
    if (api.watching)
        end_watch(-ECANCELED);
    if (api.list_cb)
        finish_list(-ECANCELED, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->closed, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* An object "ns/<name>" at resourceVersion 'rv' with optional extra metadata JSON. */
static json_t *obj_new(const char *name, const char *rv, const char *extra_meta)
{
    char *text = xasprintf("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s\","
                           "\"resourceVersion\":\"%s\"%s%s}}",
                           name, rv, extra_meta ? "," : "", extra_meta ? extra_meta : "");
    json_t *obj = json_loads(text, 0, NULL);

    free(text);
    assert_non_null(obj);
    return obj;
}

static int apply(struct informer *inf, const char *type, const char *name, const char *rv,
                 const char *extra_meta)
{
    json_t *obj = obj_new(name, rv, extra_meta);
    int r = informer_apply_watch_event(inf, type, obj);

    json_decref(obj);
    return r;
}

static void apply_list(struct informer *inf, const char *rv, const char *const *items, int n)
{
    json_t *list = json_pack("{s:{s:s}, s:[]}", "metadata", "resourceVersion", rv, "items");

    for (int i = 0; i < n; i += 2)
        json_array_append_new(json_object_get(list, "items"),
                              obj_new(items[i], items[i + 1], NULL));
    assert_int_equal(informer_apply_list(inf, list), 0);
    json_decref(list);
}

/* ---- cache ---- */

static void test_informer_apply_watch_event_add_update_delete_reach_handlers(void **state)
{
    struct fixture *f = *state;
    static const char *const want[] = {"add a@5", "update a@5->6", "delete a"};

    assert_int_equal(apply(f->inf, "ADDED", "a", "5", NULL), 1);
    assert_int_equal(apply(f->inf, "MODIFIED", "a", "6", NULL), 1);
    assert_string_equal(rv_of(informer_get(f->inf, "ns", "a")), "6");
    assert_int_equal(apply(f->inf, "DELETED", "a", "7", NULL), 1);
    assert_null(informer_get(f->inf, "ns", "a"));
    assert_events(&f->ev, want, 3);
    assert_string_equal(informer_rv(f->inf), "7");
}

static void test_informer_apply_watch_event_duplicate_and_older_rv_dropped(void **state)
{
    struct fixture *f = *state;
    static const char *const want[] = {"add a@5", "update a@5->9", "add b@10"};

    assert_int_equal(apply(f->inf, "ADDED", "a", "5", NULL), 1);
    assert_int_equal(apply(f->inf, "ADDED", "a", "5", NULL), 0);    /* replay */
    assert_int_equal(apply(f->inf, "MODIFIED", "a", "4", NULL), 0); /* out of order */
    assert_int_equal(apply(f->inf, "MODIFIED", "a", "9", NULL), 1);
    assert_int_equal(apply(f->inf, "MODIFIED", "a", "9", NULL), 0);
    assert_int_equal(apply(f->inf, "ADDED", "b", "8", NULL), 0); /* older than the stream */
    assert_int_equal(apply(f->inf, "DELETED", "a", "3", NULL), 0);
    assert_int_equal(apply(f->inf, "MODIFIED", "b", "10", NULL), 1); /* unknown: an add */
    assert_int_equal(apply(f->inf, "DELETED", "zz", "11", NULL), 0); /* no phantom delete */
    assert_events(&f->ev, want, 3);
    assert_int_equal(informer_count(f->inf), 2);
}

static void test_informer_apply_watch_event_bad_input_is_einval(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *name;
        const char *type;
        const char *json;
    } cases[] = {
        {"unknown type", "ERROR", "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}"},
        {"no metadata", "ADDED", "{\"kind\":\"Pod\"}"},
        {"empty name", "MODIFIED", "{\"metadata\":{\"name\":\"\"}}"},
        {"name not a string", "DELETED", "{\"metadata\":{\"name\":7}}"},
    };
    json_t *not_a_list = json_pack("{s:{}}", "items");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *obj = json_loads(cases[i].json, 0, NULL);
        int got = informer_apply_watch_event(f->inf, cases[i].type, obj);

        json_decref(obj);
        if (got != -EINVAL)
            fail_msg("case '%s': got %d, want -EINVAL", cases[i].name, got);
    }
    assert_int_equal(informer_apply_list(f->inf, not_a_list), -EINVAL);
    json_decref(not_a_list);
    assert_int_equal(f->ev.n, 0);
    assert_false(informer_has_synced(f->inf));
}

static void test_informer_apply_list_relist_emits_exactly_the_differences(void **state)
{
    struct fixture *f = *state;
    static const char *const first[] = {"a", "1", "b", "2", "c", "3"};
    static const char *const second[] = {"a", "1", "c", "7", "d", "8"};
    static const char *const want[] = {"add a@1",  "add b@2",       "add c@3",
                                       "delete b", "update c@3->7", "add d@8"};

    apply_list(f->inf, "3", first, 6);
    assert_true(informer_has_synced(f->inf));
    assert_int_equal(f->ev.synced, 1);
    apply_list(f->inf, "20", second, 6);
    assert_events(&f->ev, want, 6);
    assert_int_equal(informer_count(f->inf), 3);
    assert_null(informer_get(f->inf, "ns", "b"));
    assert_string_equal(informer_rv(f->inf), "20");
    assert_int_equal(f->ev.synced, 1); /* synced once only */
}

static void test_informer_apply_event_from_a_write_keeps_resume_point(void **state)
{
    struct fixture *f = *state;
    static const char *const want[] = {"add a@4", "update a@4->30", "add b@25"};
    json_t *written = obj_new("a", "30", NULL);

    informer_start(f->inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":[{\"metadata\":"
                   "{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"4\"}}]}");
    /* our own update of 'a' answered with rv 30, ahead of the stream */
    assert_int_equal(informer_apply_event(f->inf, "MODIFIED", written), 1);
    json_decref(written);
    assert_string_equal(informer_rv(f->inf), "20");
    /* the stream then delivers someone else's change from before our write ... */
    watch_event("ADDED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\","
                         "\"resourceVersion\":\"25\"}}");
    /* ... and the echo of our write, which changes nothing but moves the resume point */
    watch_event("MODIFIED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                            "\"resourceVersion\":\"30\"}}");
    assert_events(&f->ev, want, 3);
    assert_string_equal(informer_rv(f->inf), "30");
}

static void test_informer_bookmark_moves_rv_without_events(void **state)
{
    struct fixture *f = *state;
    json_t *bookmark = json_pack("{s:{s:s}}", "metadata", "resourceVersion", "50");

    apply_list(f->inf, "10", NULL, 0);
    assert_int_equal(informer_apply_watch_event(f->inf, "BOOKMARK", bookmark), 0);
    json_decref(bookmark);
    assert_string_equal(informer_rv(f->inf), "50");
    assert_int_equal(apply(f->inf, "ADDED", "a", "40", NULL), 0); /* before the bookmark */
    assert_int_equal(apply(f->inf, "ADDED", "a", "51", NULL), 1);
    assert_int_equal(f->ev.n, 1);
}

static void test_informer_by_label_follows_updates_and_deletes(void **state)
{
    struct fixture *f = *state;
    json_t *hits;

    apply(f->inf, "ADDED", "a", "1", "\"labels\":{\"app\":\"web\",\"tier\":\"x\"}");
    apply(f->inf, "ADDED", "b", "2", "\"labels\":{\"app\":\"web\"}");
    hits = informer_by_label(f->inf, "app", "web");
    assert_int_equal(json_array_size(hits), 2);
    json_decref(hits);

    apply(f->inf, "MODIFIED", "a", "3", "\"labels\":{\"app\":\"db\"}");
    hits = informer_by_label(f->inf, "app", "web");
    assert_int_equal(json_array_size(hits), 1);
    assert_string_equal(ns_name(json_array_get(hits, 0)), "b");
    json_decref(hits);
    hits = informer_by_label(f->inf, "app", "db");
    assert_int_equal(json_array_size(hits), 1);
    assert_string_equal(rv_of(json_array_get(hits, 0)), "3");
    json_decref(hits);
    hits = informer_by_label(f->inf, "tier", "x");
    assert_int_equal(json_array_size(hits), 0);
    json_decref(hits);

    apply(f->inf, "DELETED", "b", "4", NULL);
    hits = informer_by_label(f->inf, "app", "web");
    assert_int_equal(json_array_size(hits), 0);
    json_decref(hits);
}

static void test_informer_by_owner_follows_updates_and_deletes(void **state)
{
    struct fixture *f = *state;
    json_t *hits;

    apply(f->inf, "ADDED", "pod-1", "1", "\"ownerReferences\":[{\"uid\":\"u1\"}]");
    apply(f->inf, "ADDED", "pod-2", "2", "\"ownerReferences\":[{\"uid\":\"u1\"},{\"uid\":\"u2\"}]");
    hits = informer_by_owner(f->inf, "u1");
    assert_int_equal(json_array_size(hits), 2);
    json_decref(hits);
    apply(f->inf, "MODIFIED", "pod-2", "3", "\"ownerReferences\":[{\"uid\":\"u2\"}]");
    hits = informer_by_owner(f->inf, "u1");
    assert_int_equal(json_array_size(hits), 1);
    assert_string_equal(ns_name(json_array_get(hits, 0)), "pod-1");
    json_decref(hits);
    apply(f->inf, "DELETED", "pod-2", "4", NULL);
    hits = informer_by_owner(f->inf, "u2");
    assert_int_equal(json_array_size(hits), 0);
    json_decref(hits);
}

static void test_informer_cache_holds_trimmed_copies(void **state)
{
    struct fixture *f = *state;
    const json_t *cached;
    const json_t *annotations;

    apply(f->inf, "ADDED", "a", "1",
          "\"managedFields\":[{\"manager\":\"kubectl\"}],"
          "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\","
          "\"keep\":\"me\"}");
    cached = informer_get_key(f->inf, "ns/a");
    assert_non_null(cached);
    assert_null(json_object_get(json_object_get(cached, "metadata"), "managedFields"));
    annotations = json_object_get(json_object_get(cached, "metadata"), "annotations");
    assert_null(json_object_get(annotations, "kubectl.kubernetes.io/last-applied-configuration"));
    assert_string_equal(json_string_value(json_object_get(annotations, "keep")), "me");
}

static void test_informer_key_table(void **state)
{
    static const struct {
        const char *name;
        const char *json;
        const char *want;
    } cases[] = {
        {"namespaced", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\"}}", "ns/a"},
        {"cluster-scoped", "{\"metadata\":{\"name\":\"node-1\"}}", "node-1"},
        {"empty namespace", "{\"metadata\":{\"namespace\":\"\",\"name\":\"x\"}}", "x"},
        {"no name", "{\"metadata\":{\"namespace\":\"ns\"}}", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *obj = json_loads(cases[i].json, 0, NULL);
        char *got = informer_key(obj);

        json_decref(obj);
        if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want) != 0))
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, got ? got : "(null)",
                     cases[i].want ? cases[i].want : "(null)");
        free(got);
    }
}

static void test_informer_resync_updates_every_object(void **state)
{
    struct fixture *f = *state;
    static const char *const items[] = {"a", "1", "b", "2"};
    static const char *const want[] = {"add a@1", "add b@2", "update a@1->1", "update b@2->2"};

    apply_list(f->inf, "2", items, 4);
    informer_resync(f->inf);
    assert_events(&f->ev, want, 4);
}

/* ---- driver ---- */

static void test_informer_start_lists_then_watches_from_list_rv(void **state)
{
    struct fixture *f = *state;
    static const char *const want[] = {"add a@4", "update a@4->12", "add b@13", "delete a"};

    assert_int_equal(informer_start(f->inf), 0);
    assert_int_equal(api.list_calls, 1);
    assert_string_equal(api.last_list_path, PATH);
    assert_false(informer_has_synced(f->inf));
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":"
                   "{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"4\"}}]}");
    assert_true(informer_has_synced(f->inf));
    assert_int_equal(api.watch_calls, 1);
    assert_string_equal(api.watch_rv, "10");
    watch_event("MODIFIED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                            "\"resourceVersion\":\"12\"}}");
    watch_event("ADDED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\","
                         "\"resourceVersion\":\"13\"}}");
    watch_event("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"30\"}}");
    watch_event("DELETED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                           "\"resourceVersion\":\"31\"}}");
    assert_events(&f->ev, want, 4);
}

/* A watch event's object is given away (kube_watch_event_cb): cached as it is, trimmed in
 * place, where a write's answer (informer_apply_event) is copied. */
static void test_informer_watch_event_object_is_cached_without_copy(void **state)
{
    struct fixture *f = *state;
    json_t *obj = json_loads("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                             "\"resourceVersion\":\"12\",\"managedFields\":[{}]}}",
                             0, NULL);
    json_t *written = json_loads("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                                 "\"resourceVersion\":\"13\",\"managedFields\":[{}]}}",
                                 0, NULL);

    assert_non_null(obj);
    assert_non_null(written);
    informer_start(f->inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    api.event_cb(api.watch_ctx, "ADDED", obj);
    assert_ptr_equal(informer_get_key(f->inf, "ns/a"), obj);
    assert_null(json_object_get(json_object_get(obj, "metadata"), "managedFields"));
    assert_int_equal(informer_apply_event(f->inf, "MODIFIED", written), 1);
    assert_ptr_not_equal(informer_get_key(f->inf, "ns/a"), written);
    assert_non_null(json_object_get(json_object_get(written, "metadata"), "managedFields"));
    assert_string_equal(jget_meta_str(informer_get_key(f->inf, "ns/a"), "resourceVersion"), "13");
    json_decref(obj);
    json_decref(written);
}

/* The list kube hands to on_list is dropped after it: its items are cached themselves, trimmed
 * in place, where informer_apply_list (const) copies. */
static void test_informer_listed_objects_are_cached_without_copy(void **state)
{
    struct fixture *f = *state;
    json_t *list = json_loads("{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{"
                              "\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                              "\"resourceVersion\":\"4\",\"managedFields\":[{}]}}]}",
                              0, NULL);
    const json_t *item;

    assert_non_null(list);
    item = json_array_get(json_object_get(list, "items"), 0);
    informer_start(f->inf);
    api.list_cb(api.list_ctx, 0, list, NULL);
    api.list_cb = NULL;
    assert_true(informer_has_synced(f->inf));
    assert_ptr_equal(informer_get_key(f->inf, "ns/a"), item);
    assert_null(json_object_get(json_object_get(item, "metadata"), "managedFields"));
    json_decref(list); /* the cache keeps its own reference */
    assert_string_equal(jget_meta_str(informer_get_key(f->inf, "ns/a"), "resourceVersion"), "4");
}

static void test_informer_watch_end_restarts_from_last_rv(void **state)
{
    struct fixture *f = *state;

    informer_start(f->inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    watch_event("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"25\"}}");
    uv_sleep(3); /* longer than min_watch_ms: a normal server timeout */
    uv_update_time(&f->loop);
    end_watch(0);
    assert_int_equal(api.watch_calls, 2);
    assert_string_equal(api.watch_rv, "25");
    assert_int_equal(api.list_calls, 1); /* no relist */
    assert_int_equal(f->ev.errors, 0);
}

static void test_informer_watch_410_relists_without_phantoms(void **state)
{
    struct fixture *f = *state;
    static const char *const want[] = {"add a@4", "add b@5", "delete b", "update a@4->40"};

    informer_start(f->inf);
    finish_list(0,
                "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
                "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"4\"}},"
                "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\",\"resourceVersion\":\"5\"}}]}");
    end_watch(-ESTALE);
    assert_int_equal(api.list_calls, 2);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"50\"},\"items\":["
                   "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                   "\"resourceVersion\":\"40\"}}]}");
    assert_int_equal(api.watch_calls, 2);
    assert_string_equal(api.watch_rv, "50");
    /* a replay of an event older than the relist changes nothing */
    watch_event("ADDED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\","
                         "\"resourceVersion\":\"5\"}}");
    assert_events(&f->ev, want, 4);
}

static void test_informer_list_failure_retries_after_backoff(void **state)
{
    struct fixture *f = *state;

    informer_start(f->inf);
    finish_list(-EIO, NULL);
    assert_int_equal(f->ev.errors, 1);
    assert_int_equal(f->ev.last_retry_ms, 5);
    assert_int_equal(api.list_calls, 1);
    uv_run(&f->loop, UV_RUN_ONCE); /* the retry timer */
    assert_int_equal(api.list_calls, 2);
    finish_list(-EIO, NULL);
    assert_int_equal(f->ev.last_retry_ms, 10); /* doubled */
    uv_run(&f->loop, UV_RUN_ONCE);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[]}");
    assert_true(informer_has_synced(f->inf));
    assert_int_equal(api.watch_calls, 1);
}

static void test_informer_list_start_failure_retries(void **state)
{
    struct fixture *f = *state;

    api.list_rc = -EIO;
    informer_start(f->inf);
    assert_int_equal(f->ev.errors, 1);
    api.list_rc = 0;
    uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(api.list_calls, 2);
    assert_non_null(api.list_cb);
}

static void test_informer_watch_error_rewatches_from_rv_after_backoff(void **state)
{
    struct fixture *f = *state;

    informer_start(f->inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    watch_event("ADDED", "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
                         "\"resourceVersion\":\"11\"}}");
    end_watch(-EIO);
    assert_int_equal(f->ev.errors, 1);
    assert_int_equal(api.watch_calls, 1);
    uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(api.watch_calls, 2);
    assert_string_equal(api.watch_rv, "11");
    assert_int_equal(api.list_calls, 1);
}

static void test_informer_stop_stops_watch_and_keeps_cache(void **state)
{
    struct fixture *f = *state;

    informer_start(f->inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":"
                   "{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"4\"}}]}");
    informer_stop(f->inf);
    informer_stop(f->inf);
    assert_int_equal(api.stops, 1);
    end_watch(-ECANCELED);
    assert_int_equal(api.watch_calls, 1); /* no restart after a stop */
    assert_int_equal(informer_count(f->inf), 1);
    informer_start(f->inf); /* resumes the watch from the last rv, no relist */
    assert_int_equal(api.list_calls, 1);
    assert_int_equal(api.watch_calls, 2);
    assert_string_equal(api.watch_rv, "10");
}

static void test_informer_restart_before_old_watch_ended_resumes(void **state)
{
    struct fixture *f = *state;

    informer_start(f->inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[]}");
    informer_stop(f->inf);
    informer_start(f->inf); /* the old watch has not reported its end yet */
    assert_int_equal(api.watch_calls, 1);
    end_watch(-ECANCELED);
    assert_int_equal(api.watch_calls, 2);
    assert_string_equal(api.watch_rv, "10");
    assert_int_equal(api.list_calls, 1);
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_informer_resync_timer_fires_after_sync(void **state)
{
    struct fixture *f = *state;
    struct informer_options o = {.path = PATH, .resync_ms = 10};
    struct informer_handler h = {on_add, on_update, on_delete, &f->ev};
    struct informer *inf;
    uv_timer_t stop;

    assert_int_equal(informer_new(&f->loop, NULL, &fake_ops, &o, &inf), 0);
    informer_add_handler(inf, &h);
    informer_start(inf);
    finish_list(0, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":"
                   "{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"4\"}}]}");
    uv_timer_init(&f->loop, &stop);
    uv_timer_start(&stop, on_stop_timer, 35, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&stop, NULL);
    /* one add from the list, then update(a, a) every 10 ms */
    assert_true(f->ev.n >= 3);
    assert_string_equal(f->ev.log[0], "add a@4");
    assert_string_equal(f->ev.log[1], "update a@4->4");
    informer_close(inf, NULL, NULL);
    end_watch(-ECANCELED);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* 'stop' lives on this stack: finish closing it */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_informer_apply_watch_event_add_update_delete_reach_handlers),
        T(test_informer_apply_watch_event_duplicate_and_older_rv_dropped),
        T(test_informer_apply_watch_event_bad_input_is_einval),
        T(test_informer_apply_list_relist_emits_exactly_the_differences),
        T(test_informer_apply_event_from_a_write_keeps_resume_point),
        T(test_informer_bookmark_moves_rv_without_events),
        T(test_informer_by_label_follows_updates_and_deletes),
        T(test_informer_by_owner_follows_updates_and_deletes),
        T(test_informer_cache_holds_trimmed_copies),
        cmocka_unit_test(test_informer_key_table),
        T(test_informer_resync_updates_every_object),
        T(test_informer_start_lists_then_watches_from_list_rv),
        T(test_informer_watch_event_object_is_cached_without_copy),
        T(test_informer_listed_objects_are_cached_without_copy),
        T(test_informer_watch_end_restarts_from_last_rv),
        T(test_informer_watch_410_relists_without_phantoms),
        T(test_informer_list_failure_retries_after_backoff),
        T(test_informer_list_start_failure_retries),
        T(test_informer_watch_error_rewatches_from_rv_after_backoff),
        T(test_informer_stop_stops_watch_and_keeps_cache),
        T(test_informer_restart_before_old_watch_ended_resumes),
        T(test_informer_resync_timer_fires_after_sync),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
