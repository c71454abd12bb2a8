/*
 * Unit tests for lib/workqueue: de-duplication, re-add during a pass, per-key backoff,
 * delayed adds, the write token bucket, concurrency and close. Time comes from the loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/workqueue.h"

#define MAX_RUNS 32

/* What the process callback saw, and how it should end each pass. */
struct recorder {
    uv_loop_t *loop;
    char keys[MAX_RUNS][16];
    uint64_t at[MAX_RUNS];
    int n;
    bool hold;      /* leave the pass running; the test calls workqueue_done() */
    int rc;         /* the result of passes that end at once */
    int fail_first; /* this many passes fail with -EIO before 'rc' applies */
    char held[16];
    int closed;
    bool ask_write;        /* each pass asks workqueue_write_allowed() ... */
    int allowed[MAX_RUNS]; /* ... and its answer is kept here */
};

static void record(void *ctx, struct workqueue *q, const char *key)
{
    struct recorder *r = ctx;

    assert_true(r->n < MAX_RUNS);
    snprintf(r->keys[r->n], sizeof(r->keys[0]), "%s", key);
    r->at[r->n] = uv_now(r->loop);
    if (r->ask_write) /* a pass that wants to write asks the bucket, as reconcilers do */
        r->allowed[r->n] = workqueue_write_allowed(q, key);
    r->n++;
    if (r->hold) {
        snprintf(r->held, sizeof(r->held), "%s", key);
        return;
    }
    if (r->fail_first > 0) {
        r->fail_first--;
        assert_int_equal(workqueue_done(q, key, -EIO), 0);
        return;
    }
    assert_int_equal(workqueue_done(q, key, r->rc), 0);
}

static void on_closed(void *ctx)
{
    struct recorder *r = ctx;

    r->closed++;
}

static void close_and_check(uv_loop_t *loop, struct workqueue *q, struct recorder *r)
{
    workqueue_close(q, on_closed, r);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(r->closed, 1);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_workqueue_add_twice_runs_once(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, record, &r, &q), 0);
    workqueue_add(q, "ns/a");
    workqueue_add(q, "ns/b");
    workqueue_add(q, "ns/a");
    workqueue_add(q, "ns/a");
    assert_int_equal(workqueue_len(q), 2);
    assert_int_equal(r.n, 0); /* never from inside workqueue_add() */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[0], "ns/a");
    assert_string_equal(r.keys[1], "ns/b");
    assert_int_equal(workqueue_len(q), 0);
    close_and_check(&loop, q, &r);
}

static void test_workqueue_add_during_pass_runs_again_after(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .hold = true};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, record, &r, &q), 0);
    workqueue_add(q, "ns/a");
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.n, 1);
    workqueue_add(q, "ns/a");
    workqueue_add(q, "ns/a");
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.n, 1); /* not while the first pass runs */
    assert_int_equal(workqueue_len(q), 0);
    r.hold = false;
    assert_int_equal(workqueue_done(q, "ns/a", 0), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n, 2);
    assert_int_equal(workqueue_done(q, "ns/a", 0), -ENOENT);
    close_and_check(&loop, q, &r);
}

static void test_workqueue_failure_backs_off_and_success_forgets(void **state)
{
    struct workqueue_options o = {.backoff_base_ms = 20, .backoff_max_ms = 1000};
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .fail_first = 3};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, &o, record, &r, &q), 0);
    workqueue_add(q, "ns/a");
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.n, 1);
    assert_int_equal(workqueue_failures(q, "ns/a"), 1);
    assert_int_equal(workqueue_delayed(q), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* passes 2 and 3 fail, pass 4 succeeds: gaps of 20, 40 and 80 ms */
    assert_int_equal(r.n, 4);
    assert_true(r.at[1] - r.at[0] >= 20);
    assert_true(r.at[2] - r.at[1] >= 40);
    assert_true(r.at[3] - r.at[2] >= 80);
    assert_int_equal(workqueue_failures(q, "ns/a"), 0);
    assert_int_equal(workqueue_delayed(q), 0);
    close_and_check(&loop, q, &r);
}

static void test_workqueue_forget_resets_backoff(void **state)
{
    struct workqueue_options o = {.backoff_base_ms = 5000};
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .fail_first = 2};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, &o, record, &r, &q), 0);
    workqueue_add(q, "ns/a");
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(workqueue_failures(q, "ns/a"), 1);
    workqueue_forget(q, "ns/a");
    assert_int_equal(workqueue_failures(q, "ns/a"), 0);
    assert_int_equal(workqueue_delayed(q), 1); /* the retry stays scheduled */
    close_and_check(&loop, q, &r);
}

static void test_workqueue_add_after_runs_in_deadline_order(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop};
    struct workqueue *q;
    uint64_t start;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, record, &r, &q), 0);
    start = uv_now(&loop);
    workqueue_add_after(q, "ns/c", 60);
    workqueue_add_after(q, "ns/a", 20);
    workqueue_add_after(q, "ns/b", 40);
    workqueue_add_after(q, "ns/d", 0); /* 0 means now */
    assert_int_equal(workqueue_delayed(q), 3);
    assert_int_equal(workqueue_len(q), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.keys[0], "ns/d");
    assert_string_equal(r.keys[1], "ns/a");
    assert_string_equal(r.keys[2], "ns/b");
    assert_string_equal(r.keys[3], "ns/c");
    assert_true(r.at[1] - start >= 20);
    assert_true(r.at[3] - start >= 60);
    close_and_check(&loop, q, &r);
}

static void test_workqueue_add_after_keeps_earliest_deadline(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop};
    struct workqueue *q;
    uint64_t start;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, record, &r, &q), 0);
    start = uv_now(&loop);
    workqueue_add_after(q, "ns/late-then-early", 5000);
    workqueue_add_after(q, "ns/late-then-early", 10);
    workqueue_add_after(q, "ns/early-then-late", 10);
    workqueue_add_after(q, "ns/early-then-late", 5000);
    assert_int_equal(workqueue_delayed(q), 2);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns early only if nothing waits 5 s */
    assert_int_equal(r.n, 2);
    assert_true(uv_now(&loop) - start < 5000);
    assert_int_equal(workqueue_delayed(q), 0);
    close_and_check(&loop, q, &r);
}

/* A cancelled deadline runs nothing; the other keys' deadlines keep their order. */
static void test_workqueue_cancel_after_drops_only_that_deadline(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, record, &r, &q), 0);
    workqueue_add_after(q, "ns/a", 10);
    workqueue_add_after(q, "ns/b", 30);
    workqueue_add_after(q, "ns/c", 20);
    workqueue_add_after(q, "ns/d", 40);
    workqueue_cancel_after(q, "ns/a"); /* the heap's top */
    workqueue_cancel_after(q, "ns/b"); /* one in the middle */
    workqueue_cancel_after(q, "ns/x"); /* unknown: nothing */
    assert_int_equal(workqueue_delayed(q), 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[0], "ns/c");
    assert_string_equal(r.keys[1], "ns/d");

    /* a key also queued to run now still runs once */
    workqueue_add_after(q, "ns/e", 5000);
    workqueue_add(q, "ns/e");
    workqueue_cancel_after(q, "ns/e");
    assert_int_equal(workqueue_delayed(q), 0);
    assert_int_equal(workqueue_len(q), 1);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns at once: nothing waits 5 s */
    assert_int_equal(r.n, 3);
    assert_string_equal(r.keys[2], "ns/e");
    close_and_check(&loop, q, &r);
}

static void test_workqueue_max_active_limits_running_passes(void **state)
{
    struct workqueue_options o = {.max_active = 1};
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .hold = true};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, &o, record, &r, &q), 0);
    workqueue_add(q, "ns/a");
    workqueue_add(q, "ns/b");
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.n, 1);
    assert_int_equal(workqueue_len(q), 1);
    assert_int_equal(workqueue_done(q, "ns/a", 0), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[1], "ns/b");
    assert_int_equal(workqueue_done(q, "ns/b", 0), 0);
    close_and_check(&loop, q, &r);
}

static void test_workqueue_bucket_table(void **state)
{
    /* 500 tokens/s = one per 2 ms, burst 2 */
    static const struct {
        const char *name;
        uint64_t now;
        uint64_t want;
    } steps[] = {
        {"full bucket gives first token", 0, 0},
        {"full bucket gives second token", 0, 0},
        {"empty bucket reserves the next one, due in 2 ms", 0, 2},
        {"the one after it is due in 4 ms", 0, 4},
        {"half a token later the third waiter is 5 ms away", 1, 5},
        {"the debt is paid before a new token", 10, 0},
        {"long idle refills to burst only (1)", 1000, 0},
        {"long idle refills to burst only (2)", 1000, 0},
        {"long idle refills to burst only (3)", 1000, 2},
    };
    struct workqueue_bucket b;

    workqueue_bucket_init(&b, 500, 2, 0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint64_t got = workqueue_bucket_reserve(&b, steps[i].now);

        if (got != steps[i].want)
            fail_msg("step '%s': got %llu, want %llu", steps[i].name, (unsigned long long)got,
                     (unsigned long long)steps[i].want);
    }
}

static void test_workqueue_bucket_rate_zero_is_unlimited(void **state)
{
    struct workqueue_bucket b;

    workqueue_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(workqueue_bucket_reserve(&b, 0), 0);
}

static void test_workqueue_write_allowed_requeues_when_empty(void **state)
{
    struct workqueue_options o = {.write_qps = 10, .write_burst = 1};
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .ask_write = true};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, &o, record, &r, &q), 0);
    assert_true(workqueue_write_allowed(q, "ns/a"));
    assert_false(workqueue_write_allowed(q, "ns/b"));
    assert_int_equal(workqueue_delayed(q), 1);
    uv_run(&loop, UV_RUN_DEFAULT); /* ns/b comes back once its token is due (100 ms) */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.keys[0], "ns/b");
    assert_int_equal(r.allowed[0], 1); /* and that pass may write */
    close_and_check(&loop, q, &r);
}

/* Many writers waiting on an empty bucket each come back once, when their own token is due,
 * instead of all of them at every refill (which made 2,000 runs cost 750,000 passes). */
static void test_workqueue_write_allowed_serves_waiters_once_each_in_order(void **state)
{
    struct workqueue_options o = {.write_qps = 1000, .write_burst = 1};
    static const char *keys[] = {"ns/a", "ns/b", "ns/c", "ns/d", "ns/e"};
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .ask_write = true};
    struct workqueue *q;
    uint64_t t0;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, &o, record, &r, &q), 0);
    t0 = uv_now(&loop);
    assert_true(workqueue_write_allowed(q, keys[0]));
    for (size_t i = 1; i < 5; i++)
        assert_false(workqueue_write_allowed(q, keys[i]));
    assert_int_equal(workqueue_delayed(q), 4);
    /* a waiter asking again before its token is due is refused and takes no second token */
    assert_false(workqueue_write_allowed(q, keys[4]));
    assert_int_equal(workqueue_delayed(q), 4);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n, 4);
    for (size_t i = 1; i < 5; i++) {
        assert_string_equal(r.keys[i - 1], keys[i]);
        assert_int_equal(r.allowed[i - 1], 1);
        assert_true(r.at[i - 1] - t0 >= i); /* a token per ms: waiter i not before i ms */
    }
    close_and_check(&loop, q, &r);
}

/* The reconciler pattern "done, then requeue later" uses the borrowed key after done. */
static void requeue_after_done(void *ctx, struct workqueue *q, const char *key)
{
    struct recorder *r = ctx;

    r->n++;
    assert_int_equal(workqueue_done(q, key, 0), 0);
    if (r->n < 3)
        workqueue_add_after(q, key, 5); /* 'key' must still be readable here */
}

static void test_workqueue_key_stays_valid_after_done_in_pass(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, requeue_after_done, &r, &q), 0);
    workqueue_add(q, "ns/a-key-long-enough-to-be-on-the-heap");
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n, 3);
    assert_int_equal(workqueue_delayed(q), 0);
    close_and_check(&loop, q, &r);
}

static void test_workqueue_close_waits_for_running_pass(void **state)
{
    uv_loop_t loop;
    struct recorder r = {.loop = &loop, .hold = true};
    struct workqueue *q;

    uv_loop_init(&loop);
    assert_int_equal(workqueue_new(&loop, NULL, record, &r, &q), 0);
    workqueue_add(q, "ns/a");
    workqueue_add_after(q, "ns/b", 10000);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.n, 1);
    workqueue_add(q, "ns/c");
    workqueue_close(q, on_closed, &r);
    workqueue_add(q, "ns/d"); /* ignored once closing */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.closed, 0);
    assert_int_equal(workqueue_done(q, "ns/a", -EIO), 0);
    assert_int_equal(r.closed, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workqueue_add_twice_runs_once),
        cmocka_unit_test(test_workqueue_add_during_pass_runs_again_after),
        cmocka_unit_test(test_workqueue_failure_backs_off_and_success_forgets),
        cmocka_unit_test(test_workqueue_forget_resets_backoff),
        cmocka_unit_test(test_workqueue_add_after_runs_in_deadline_order),
        cmocka_unit_test(test_workqueue_add_after_keeps_earliest_deadline),
        cmocka_unit_test(test_workqueue_cancel_after_drops_only_that_deadline),
        cmocka_unit_test(test_workqueue_max_active_limits_running_passes),
        cmocka_unit_test(test_workqueue_bucket_table),
        cmocka_unit_test(test_workqueue_bucket_rate_zero_is_unlimited),
        cmocka_unit_test(test_workqueue_write_allowed_requeues_when_empty),
        cmocka_unit_test(test_workqueue_write_allowed_serves_waiters_once_each_in_order),
        cmocka_unit_test(test_workqueue_key_stays_valid_after_done_in_pass),
        cmocka_unit_test(test_workqueue_close_waits_for_running_pass),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
