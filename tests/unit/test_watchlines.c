/*
 * Unit tests for lib/watchlines: framing under adversarial chunking (every split point of
 * a multi-event fixture, byte by byte, random pieces), limits and event decoding.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "lib/buf.h"
#include "lib/watchlines.h"
#include "lib/xalloc.h"

#define STREAM_FIXTURE "tests/unit/fixtures/watch/stream.jsonl"

static const char *const want_types[] = {"ADDED", "MODIFIED", "BOOKMARK", "DELETED", "ERROR"};
static const char *const want_rvs[] = {"101", "102", "150", "151", NULL};
#define N_EVENTS 5

struct seen {
    size_t n;
    int stop_after; /* return -ECANCELED after this many events; 0 never */
    char *error;    /* first decode error */
};

static int on_line(void *ctx, const char *line, size_t len)
{
    struct seen *s = ctx;
    json_t *ev = NULL;
    const char *type = NULL;
    const json_t *obj = NULL;
    char *err = NULL;
    const char *rv;

    if (watchlines_parse_event(line, len, &ev, &type, &obj, &err) < 0) {
        if (!s->error)
            s->error = err;
        else
            free(err);
        return -EBADMSG;
    }
    rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (s->n >= N_EVENTS || strcmp(type, want_types[s->n]) != 0 ||
        (want_rvs[s->n] ? !rv || strcmp(rv, want_rvs[s->n]) != 0 : rv != NULL)) {
        if (!s->error)
            s->error = xasprintf("event %zu: type %s rv %s", s->n, type, rv ? rv : "-");
    }
    json_decref(ev);
    s->n++;
    return s->stop_after && (int)s->n >= s->stop_after ? -ECANCELED : 0;
}

static char *read_fixture(size_t *ret_len)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    assert_int_equal(buf_read_file(&b, STREAM_FIXTURE), 0);
    *ret_len = buf_len(&b);
    return buf_take(&b);
}

/* Feed 'data' in pieces ending at each offset of 'cuts' (ascending), then the rest. */
static void feed_cut(const char *data, size_t len, const size_t *cuts, size_t n_cuts,
                     struct seen *s)
{
    struct watchlines wl;
    size_t at = 0;

    watchlines_init(&wl, 4096);
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;

        assert_int_equal(watchlines_feed(&wl, data + at, to - at, on_line, s), 0);
        at = to;
    }
    assert_int_equal(watchlines_finish(&wl), 0);
    watchlines_done(&wl);
}

static void check_seen(struct seen *s, const char *what, size_t where)
{
    if (s->error || s->n != N_EVENTS)
        fail_msg("%s %zu: %zu events, error %s", what, where, s->n, s->error ? s->error : "-");
}

static void test_watchlines_feed_every_split_point_gives_same_events(void **state)
{
    size_t len;
    char *data = read_fixture(&len);

    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {0};

        feed_cut(data, len, &cut, 1, &s);
        check_seen(&s, "split at", cut);
    }
    free(data);
}

static void test_watchlines_feed_every_pair_of_split_points_gives_same_events(void **state)
{
    size_t len;
    char *data = read_fixture(&len);

    for (size_t a = 0; a <= len; a += 7) {
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};
            struct seen s = {0};

            feed_cut(data, len, cuts, 2, &s);
            check_seen(&s, "pair starting at", a);
        }
    }
    free(data);
}

static void test_watchlines_feed_byte_by_byte_and_random_pieces(void **state)
{
    size_t len;
    char *data = read_fixture(&len);
    size_t *cuts = xcalloc(len, sizeof(*cuts));
    unsigned seed = 12345;

    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    {
        struct seen s = {0};

        feed_cut(data, len, cuts, len, &s);
        check_seen(&s, "byte by byte", 0);
    }
    for (size_t round = 0; round < 200; round++) {
        struct seen s = {0};
        size_t n = 0, at = 0;

        while (at < len) {
            seed = seed * 1103515245u + 12345u;
            at += 1 + (seed >> 16) % 97;
            if (at < len)
                cuts[n++] = at;
        }
        feed_cut(data, len, cuts, n, &s);
        check_seen(&s, "random round", round);
    }
    free(cuts);
    free(data);
}

static void test_watchlines_feed_stop_from_callback_stops_delivery(void **state)
{
    size_t len;
    char *data = read_fixture(&len);
    struct watchlines wl;
    struct seen s = {.stop_after = 2};

    watchlines_init(&wl, 4096);
    assert_int_equal(watchlines_feed(&wl, data, len, on_line, &s), -ECANCELED);
    assert_int_equal(s.n, 2);
    watchlines_done(&wl);
    free(data);
}

static void test_watchlines_feed_line_past_limit_is_e2big(void **state)
{
    static const char chunk[] = "{\"type\":\"ADDED\",\"object\":{\"a\":\"0123456789\"}}\n";
    struct watchlines wl;
    struct seen s = {0};

    /* whole line within one chunk */
    watchlines_init(&wl, 16);
    assert_int_equal(watchlines_feed(&wl, chunk, strlen(chunk), on_line, &s), -E2BIG);
    watchlines_done(&wl);
    /* the same line growing across chunks */
    watchlines_init(&wl, 16);
    assert_int_equal(watchlines_feed(&wl, chunk, 10, on_line, &s), 0);
    assert_int_equal(watchlines_feed(&wl, chunk + 10, 10, on_line, &s), -E2BIG);
    watchlines_done(&wl);
    assert_int_equal(s.n, 0);
}

static void test_watchlines_finish_with_cut_off_event_is_ebadmsg(void **state)
{
    struct watchlines wl;
    struct seen s = {0};

    watchlines_init(&wl, 4096);
    assert_int_equal(watchlines_feed(&wl, "{\"type\":\"ADD", 12, on_line, &s), 0);
    assert_int_equal(watchlines_finish(&wl), -EBADMSG);
    watchlines_done(&wl);
    watchlines_init(&wl, 4096);
    assert_int_equal(watchlines_feed(&wl, "\r\n  \n", 5, on_line, &s), 0);
    assert_int_equal(watchlines_finish(&wl), 0);
    watchlines_done(&wl);
    assert_int_equal(s.n, 0);
}

static void test_watchlines_parse_event_malformed_table(void **state)
{
    static const struct {
        const char *name;
        const char *line;
        const char *want;
    } cases[] = {
        {"not json", "{\"type\":", "not JSON"},
        {"type missing", "{\"object\":{}}", "lacks"},
        {"type not a string", "{\"type\":1,\"object\":{}}", "lacks"},
        {"object not an object", "{\"type\":\"ADDED\",\"object\":\"x\"}", "lacks"},
        {"array", "[1,2]", "lacks"},
        {"trailing garbage", "{\"type\":\"ADDED\",\"object\":{}} x", "not JSON"},
        {"nul inside", "{\"type\":\"A\\u0000\",\"object\":{}}", "not JSON"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = NULL;
        const char *type = NULL;
        const json_t *obj = NULL;
        char *err = NULL;
        int r =
            watchlines_parse_event(cases[i].line, strlen(cases[i].line), &ev, &type, &obj, &err);

        if (r != -EBADMSG)
            fail_msg("case '%s': rc %d, want -EBADMSG", cases[i].name, r);
        assert_null(ev);
        if (!strstr(err, cases[i].want))
            fail_msg("case '%s': message '%s' lacks '%s'", cases[i].name, err, cases[i].want);
        free(err);
    }
}

/* The fuzz corpus as regression tests: whole and chunked feeding frame the same lines. */
struct tally {
    size_t n;
    uint64_t hash;
};

static int count_line(void *ctx, const char *line, size_t len)
{
    struct tally *t = ctx;
    json_t *ev = NULL;
    const char *type = NULL;
    const json_t *obj = NULL;
    char *err = NULL;

    t->n++;
    for (size_t i = 0; i < len; i++)
        t->hash = (t->hash ^ (uint8_t)line[i]) * 1099511628211u;
    t->hash = (t->hash ^ 0x0a) * 1099511628211u;
    if (watchlines_parse_event(line, len, &ev, &type, &obj, &err) == 0)
        json_decref(ev);
    else
        free(err);
    return 0;
}

static int feed_chunks(const char *text, size_t len, size_t chunk, struct tally *t)
{
    struct watchlines wl;
    int r = 0;

    watchlines_init(&wl, 4096);
    for (size_t at = 0; at < len && r == 0; at += chunk)
        r = watchlines_feed(&wl, text + at, len - at < chunk ? len - at : chunk, count_line, t);
    if (r == 0)
        r = watchlines_finish(&wl);
    watchlines_done(&wl);
    return r;
}

static void test_watchlines_fuzz_corpus_replays_cleanly(void **state)
{
    const char *dir = "tests/fuzz/corpus/watchlines";
    DIR *d = opendir(dir);
    const struct dirent *e;
    size_t files = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char *path;
        struct buf b;
        struct tally whole = {0, 14695981039346656037u}, pieces = {0, 14695981039346656037u};
        int r1, r2;

        if (e->d_name[0] == '.')
            continue;
        path = xasprintf("%s/%s", dir, e->d_name);
        buf_init(&b, 1 << 20);
        assert_int_equal(buf_read_file(&b, path), 0);
        if (buf_len(&b) > 0) {
            r1 = feed_chunks(b.data + 1, b.len - 1, b.len, &whole);
            r2 = feed_chunks(b.data + 1, b.len - 1, 1 + (uint8_t)b.data[0] % 64, &pieces);
            if (r1 != -E2BIG && r2 != -E2BIG &&
                (r1 != r2 || whole.n != pieces.n || whole.hash != pieces.hash))
                fail_msg("corpus '%s': whole %d/%zu, chunked %d/%zu", path, r1, whole.n, r2,
                         pieces.n);
        }
        buf_done(&b);
        free(path);
        files++;
    }
    closedir(d);
    assert_true(files >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watchlines_feed_every_split_point_gives_same_events),
        cmocka_unit_test(test_watchlines_feed_every_pair_of_split_points_gives_same_events),
        cmocka_unit_test(test_watchlines_feed_byte_by_byte_and_random_pieces),
        cmocka_unit_test(test_watchlines_feed_stop_from_callback_stops_delivery),
        cmocka_unit_test(test_watchlines_feed_line_past_limit_is_e2big),
        cmocka_unit_test(test_watchlines_finish_with_cut_off_event_is_ebadmsg),
        cmocka_unit_test(test_watchlines_parse_event_malformed_table),
        cmocka_unit_test(test_watchlines_fuzz_corpus_replays_cleanly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
