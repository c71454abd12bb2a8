/*
 * Unit tests for lib/leader: the election state machine over a fake Lease API
 * that keeps one Lease in memory, enforces resourceVersions (409 -> -EAGAIN)
 * and answers from the loop. Time comes from the loop; the lease timings are
 * shrunk to milliseconds.
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

#include "lib/leader.h"
#include "lib/xalloc.h"

#define ME "me_1"

/* ---- fake Lease API ---- */

enum op { OP_NONE, OP_GET, OP_CREATE, OP_UPDATE };

struct fake {
    uv_timer_t serve; /* answers the pending request from the loop */
    json_t *stored;   /* the Lease, or NULL when it does not exist */
    int rv;
    enum op op;
    json_t *body;
    kube_done_cb *cb;
    void *ctx;
    int fail_rc;     /* answer every request with this when < 0 */
    int requests[4]; /* per op */
    enum op hold;    /* a request of this kind waits for answer_held() */
    char last_path[128];
};

static struct fake api;

static void serve(uv_timer_t *t)
{
    json_t *reply = NULL;
    int rc = api.fail_rc;
    enum op op = api.op;
    json_t *body = api.body;
    struct kube_status st = {rc == -EAGAIN ? 409 : 500, NULL, "fake"};
    const char *want_rv;

    api.op = OP_NONE;
    api.body = NULL;
    if (rc == 0 && op == OP_GET) {
        rc = api.stored ? 0 : -ENOENT;
        reply = json_incref(api.stored);
    } else if (rc == 0 && op == OP_CREATE) {
        rc = api.stored ? -EEXIST : 0;
    } else if (rc == 0 && op == OP_UPDATE) {
        want_rv = json_string_value(
            json_object_get(json_object_get(api.stored, "metadata"), "resourceVersion"));
        if (!api.stored)
            rc = -ENOENT;
        else if (!want_rv ||
                 strcmp(want_rv, json_string_value(json_object_get(
                                     json_object_get(body, "metadata"), "resourceVersion"))))
            rc = -EAGAIN;
    }
    if (rc == 0 && op != OP_GET) {
        char rv[16];

        snprintf(rv, sizeof(rv), "%d", ++api.rv);
        json_decref(api.stored);
        api.stored = json_deep_copy(body);
        json_object_set_new(json_object_get(api.stored, "metadata"), "resourceVersion",
                            json_string(rv));
        reply = json_incref(api.stored);
    }
    api.cb(api.ctx, rc, rc == 0 ? reply : NULL, rc < 0 ? &st : NULL);
    json_decref(reply);
    json_decref(body);
}

static int request(enum op op, const char *path, const json_t *body, kube_done_cb *cb, void *ctx)
{
    assert_int_equal(api.op, OP_NONE); /* one request at a time */
    api.op = op;
    api.body = body ? json_deep_copy(body) : NULL;
    api.cb = cb;
    api.ctx = ctx;
    api.requests[op]++;
    snprintf(api.last_path, sizeof(api.last_path), "%s", path);
    if (op != api.hold)
        uv_timer_start(&api.serve, serve, 0, 0);
    return 0;
}

static void answer_held(void)
{
    api.hold = OP_NONE;
    uv_timer_start(&api.serve, serve, 0, 0);
}

static int fake_get(struct kube_client *kc, const char *path, kube_done_cb *cb, void *ctx)
{
    return request(OP_GET, path, NULL, cb, ctx);
}

static int fake_create(struct kube_client *kc, const char *path, const json_t *body,
                       kube_done_cb *cb, void *ctx)
{
    return request(OP_CREATE, path, body, cb, ctx);
}

static int fake_update(struct kube_client *kc, const char *path, const json_t *body,
                       kube_done_cb *cb, void *ctx)
{
    return request(OP_UPDATE, path, body, cb, ctx);
}

static const struct leader_ops fake_ops = {fake_get, fake_create, fake_update};

/* Another process writes the Lease (bumping its resourceVersion). */
static void store_lease(const char *holder, int duration_s, const char *renew_time)
{
    char rv[16];

    snprintf(rv, sizeof(rv), "%d", ++api.rv);
    json_decref(api.stored);
    api.stored =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:i}}", "apiVersion",
                  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", "ctl", "namespace",
                  "sys", "resourceVersion", rv, "spec", "holderIdentity", holder,
                  "leaseDurationSeconds", duration_s, "acquireTime", "2026-01-01T00:00:00.000000Z",
                  "renewTime", renew_time, "leaseTransitions", 3);
}

static const char *stored_str(const char *field)
{
    return json_string_value(json_object_get(json_object_get(api.stored, "spec"), field));
}

static json_int_t stored_int(const char *field)
{
    return json_integer_value(json_object_get(json_object_get(api.stored, "spec"), field));
}

/* ---- fixture ---- */

struct fixture {
    uv_loop_t loop;
    uv_timer_t stop; /* bounds every uv_run */
    struct leader *l;
    int started;
    int stopped;
    int errors;
    int closed;
    char holder[32];
};

static void cb_started(void *ctx)
{
    struct fixture *f = ctx;

    f->started++;
}

static void cb_stopped(void *ctx)
{
    struct fixture *f = ctx;

    f->stopped++;
}

static void cb_holder(void *ctx, const char *identity)
{
    struct fixture *f = ctx;

    snprintf(f->holder, sizeof(f->holder), "%s", identity);
}

static void cb_error(void *ctx, int rc, const struct kube_status *st)
{
    struct fixture *f = ctx;

    f->errors++;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct leader_options o = {
        .ns = "sys",
        .name = "ctl",
        .identity = ME,
        .lease_duration_ms = 150,
        .renew_deadline_ms = 100,
        .retry_period_ms = 20,
        .on_started = cb_started,
        .on_stopped = cb_stopped,
        .on_new_holder = cb_holder,
        .on_error = cb_error,
        .ctx = f,
    };

    memset(&api, 0, sizeof(api));
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &api.serve);
    uv_timer_init(&f->loop, &f->stop);
    assert_int_equal(leader_new(&f->loop, NULL, &fake_ops, &o, &f->l), 0);
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

    api.hold = OP_NONE;
    if (api.op != OP_NONE)
        answer_held();
    if (f->l) {
        leader_close(f->l, on_closed, f);
        while (!f->closed)
            uv_run(&f->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&f->stop, NULL);
    uv_close((uv_handle_t *)&api.serve, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    json_decref(api.stored);
    json_decref(api.body);
    free(f);
    return 0;
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for 'ms' of loop time. */
static void run_for(struct fixture *f, uint64_t ms)
{
    uv_timer_start(&f->stop, on_stop_timer, ms, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* Run the loop until we lead or 'ms' passes; returns whether we lead. */
static bool run_until_leading(struct fixture *f, uint64_t ms)
{
    uint64_t end = uv_now(&f->loop) + ms;

    while (!leader_is_leader(f->l) && uv_now(&f->loop) < end)
        run_for(f, 5);
    return leader_is_leader(f->l);
}

/* ---- tests ---- */

static void test_leader_acquires_missing_lease_by_create(void **state)
{
    struct fixture *f = *state;

    leader_start(f->l);
    assert_true(run_until_leading(f, 1000));
    assert_int_equal(f->started, 1);
    assert_int_equal(api.requests[OP_CREATE], 1);
    assert_string_equal(api.last_path, "/apis/coordination.k8s.io/v1/namespaces/sys/leases");
    assert_string_equal(stored_str("holderIdentity"), ME);
    assert_int_equal(stored_int("leaseDurationSeconds"), 1); /* 300 ms rounds up */
    assert_int_equal(stored_int("leaseTransitions"), 0);
    assert_string_equal(f->holder, ME);
}

static void test_leader_acquires_released_lease_at_once(void **state)
{
    struct fixture *f = *state;

    store_lease("", 1, "2026-01-01T00:00:00.000000Z");
    leader_start(f->l);
    assert_true(run_until_leading(f, 50)); /* no waiting: nobody holds it */
    assert_string_equal(stored_str("holderIdentity"), ME);
    assert_int_equal(stored_int("leaseTransitions"), 4);
    assert_string_equal(api.last_path, "/apis/coordination.k8s.io/v1/namespaces/sys/leases/ctl");
}

static void test_leader_renews_keeping_acquire_time(void **state)
{
    struct fixture *f = *state;
    char *acquired;
    int updates;

    leader_start(f->l);
    assert_true(run_until_leading(f, 1000));
    acquired = xstrdup(stored_str("acquireTime"));
    updates = api.requests[OP_UPDATE];
    run_for(f, 250); /* past the renew deadline: only renewals keep us leading */
    assert_true(leader_is_leader(f->l));
    assert_true(api.requests[OP_UPDATE] >= updates + 3);
    assert_string_equal(stored_str("acquireTime"), acquired);
    assert_int_equal(stored_int("leaseTransitions"), 0);
    assert_int_equal(f->started, 1);
    assert_int_equal(f->stopped, 0);
    free(acquired);
}

static void test_leader_loses_when_conflict_reveals_another_holder(void **state)
{
    struct fixture *f = *state;

    leader_start(f->l);
    assert_true(run_until_leading(f, 1000));
    /* our next renewal is a GET then an UPDATE; another process writes in between
     */
    api.hold = OP_UPDATE;
    while (api.op != OP_UPDATE)
        run_for(f, 1);
    store_lease("other", 15, "2026-11-27T00:00:00.000000Z");
    answer_held();
    run_for(f, 10); /* the UPDATE gets 409, we re-read and see 'other' */
    assert_false(leader_is_leader(f->l));
    assert_int_equal(f->stopped, 1);
    assert_string_equal(f->holder, "other");
    assert_string_equal(stored_str("holderIdentity"), "other");
}

static void test_leader_takes_over_only_after_lease_duration_of_silence(void **state)
{
    struct fixture *f = *state;
    uint64_t start = uv_now(&f->loop);

    store_lease("other", 1, "2026-01-01T00:00:00.000000Z"); /* a stale time: never compared */
    leader_start(f->l);
    run_for(f, 700);
    assert_false(leader_is_leader(f->l));
    assert_string_equal(f->holder, "other");
    assert_true(run_until_leading(f, 1000));
    assert_true(uv_now(&f->loop) - start >= 1000);
    assert_string_equal(stored_str("holderIdentity"), ME);
    assert_int_equal(stored_int("leaseTransitions"), 4);
}

static void test_leader_holder_that_renews_is_never_taken_over(void **state)
{
    struct fixture *f = *state;
    char when[48];

    store_lease("other", 1, "2026-01-01T00:00:00.000000Z");
    leader_start(f->l);
    for (int i = 0; i < 6; i++) {
        run_for(f, 250);
        snprintf(when, sizeof(when), "2026-01-01T00:00:0%d.000000Z", i + 1);
        store_lease("other", 1, when); /* the other leader renews */
    }
    assert_false(leader_is_leader(f->l));
    assert_int_equal(f->started, 0);
    assert_int_equal(api.requests[OP_UPDATE], 0);
}

static void test_leader_loses_after_renew_deadline_of_errors(void **state)
{
    struct fixture *f = *state;

    leader_start(f->l);
    assert_true(run_until_leading(f, 1000));
    api.fail_rc = -EIO;
    run_for(f, 60);
    assert_true(leader_is_leader(f->l)); /* failures within the deadline are tolerated */
    run_for(f, 80);
    assert_false(leader_is_leader(f->l));
    assert_int_equal(f->stopped, 1);
    assert_true(f->errors >= 3);
}

static void test_leader_close_releases_lease(void **state)
{
    struct fixture *f = *state;

    leader_start(f->l);
    assert_true(run_until_leading(f, 1000));
    leader_close(f->l, on_closed, f);
    f->l = NULL;
    run_for(f, 50);
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->stopped, 1);
    assert_string_equal(stored_str("holderIdentity"), "");
    assert_int_equal(stored_int("leaseDurationSeconds"), 1);
    assert_int_equal(stored_int("leaseTransitions"), 0);
}

static void test_leader_close_as_follower_leaves_lease_alone(void **state)
{
    struct fixture *f = *state;
    int rv;

    store_lease("other", 15, "2026-01-01T00:00:00.000000Z");
    rv = api.rv;
    leader_start(f->l);
    run_for(f, 30);
    leader_close(f->l, on_closed, f);
    f->l = NULL;
    run_for(f, 30);
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->stopped, 0);
    assert_int_equal(api.rv, rv);
    assert_string_equal(stored_str("holderIdentity"), "other");
}

static void test_leader_new_rejects_bad_options(void **state)
{
    static const struct {
        const char *name;
        const char *ns;
        const char *identity;
        uint64_t lease, renew, retry;
    } cases[] = {
        {"renew deadline not below lease", "sys", ME, 10000, 10000, 2000},
        {"retry too close to renew deadline", "sys", ME, 15000, 10000, 9000},
        {"default lease below renew deadline", "sys", ME, 5000, 0, 0},
        {"no namespace", "", ME, 0, 0, 0},
        {"no identity", "sys", NULL, 0, 0, 0},
    };
    uv_loop_t loop;

    uv_loop_init(&loop);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct leader_options o = {.ns = cases[i].ns,
                                   .name = "ctl",
                                   .identity = cases[i].identity,
                                   .lease_duration_ms = cases[i].lease,
                                   .renew_deadline_ms = cases[i].renew,
                                   .retry_period_ms = cases[i].retry};
        struct leader *l = NULL;
        int got = leader_new(&loop, NULL, &fake_ops, &o, &l);

        if (got != -EINVAL || l)
            fail_msg("case '%s': got %d, want -EINVAL", cases[i].name, got);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_leader_format_time_is_microtime_utc(void **state)
{
    char out[48];

    leader_format_time(1795816277123456LL, out, sizeof(out));
    assert_string_equal(out, "2026-11-27T21:51:17.123456Z");
    leader_format_time(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_leader_acquires_missing_lease_by_create),
        T(test_leader_acquires_released_lease_at_once),
        T(test_leader_renews_keeping_acquire_time),
        T(test_leader_loses_when_conflict_reveals_another_holder),
        T(test_leader_takes_over_only_after_lease_duration_of_silence),
        T(test_leader_holder_that_renews_is_never_taken_over),
        T(test_leader_loses_after_renew_deadline_of_errors),
        T(test_leader_close_releases_lease),
        T(test_leader_close_as_follower_leaves_lease_alone),
        cmocka_unit_test(test_leader_new_rejects_bad_options),
        cmocka_unit_test(test_leader_format_time_is_microtime_utc),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
