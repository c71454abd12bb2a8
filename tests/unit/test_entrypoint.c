/*
 * Unit tests for the entrypoint's pure parts: Go-style flags and durations, base64, the
 * termination-message encoder/parser and its size limit, the outcome table, command
 * selection and when expressions. The process-level behaviour is in test_entrypoint_run.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/entrypoint/b64.h"
#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/minijson.h"
#include "controller/entrypoint/stepcmd.h"
#include "controller/entrypoint/stepflags.h"
#include "controller/entrypoint/stepoutcome.h"
#include "controller/entrypoint/stepsubst.h"
#include "controller/entrypoint/termmsg.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Split a space-separated literal into a writable argv (test helper; no quoting). */
static int split_args(const char *line, char **argv, char *storage, size_t storage_len)
{
    int argc = 0;

    snprintf(storage, storage_len, "%s", line);
    for (char *p = storage; *p;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[argc] = NULL;
    return argc;
}

static void test_stepflags_parse_tekton_step_args_table(void **state)
{
    static const struct {
        const char *name;
        const char *args;
        const char *entrypoint, *wait_file, *post_file, *on_error, *results, *termination;
        bool wait_content;
        int64_t timeout_ns;
        size_t n_command, n_positional;
        const char *first_command;
    } cases[] = {
        {"step 0 as Tekton writes it",
         "-wait_file /tekton/downward/ready -wait_file_content -post_file /tekton/run/0/out "
         "-termination_path /tekton/termination -step_metadata_dir /tekton/run/0/status "
         "-entrypoint /tekton/scripts/script-0-abcde --",
         "/tekton/scripts/script-0-abcde", "/tekton/downward/ready", "/tekton/run/0/out", "", "",
         "/tekton/termination", true, -1, 0, 0, NULL},
        {"equals form and double dashes",
         "--wait_file=/a --post_file=/b -on_error=continue -timeout=1h0m0s -entrypoint=sh -- -c "
         "true",
         "sh", "/a", "/b", "continue", "", "/tekton/termination", false, INT64_C(3600000000000), 2,
         0, "-c"},
        {"value that starts with a dash is taken as the value",
         "-entrypoint -weird -results a,b -- x", "-weird", "", "", "", "a,b", "/tekton/termination",
         false, -1, 1, 0, "x"},
        {"empty results value is kept empty",
         "-results= -termination_path /t -entrypoint e -- init", "e", "", "", "", "", "/t", false,
         -1, 1, 0, "init"},
        {"args after -- never select a subcommand", "-entrypoint e -- init a b", "e", "", "", "",
         "", "/tekton/termination", false, -1, 3, 0, "init"},
        {"positional before -- is a subcommand", "init /src /dst step-a", "", "", "", "", "",
         "/tekton/termination", false, -1, 0, 4, NULL},
        {"bool flag set to false explicitly", "-wait_file_content=false -entrypoint e", "e", "", "",
         "", "", "/tekton/termination", false, -1, 0, 0, NULL},
        {"credential flags are accepted", "-basic-git=s=https://x -docker-cfg s -entrypoint e", "e",
         "", "", "", "", "/tekton/termination", false, -1, 0, 0, NULL},
        {"leading -- is not a split point", "-- -entrypoint e", "", "", "", "", "",
         "/tekton/termination", false, -1, 0, 2, NULL},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char storage[512];
        char *argv[32];
        int argc = split_args(cases[i].args, argv, storage, sizeof(storage));
        struct stepflags f;
        struct estr why;
        int r;

        stepflags_init(&f);
        estr_init(&why);
        r = stepflags_parse(&f, argc, argv, &why);
        if (r != 0)
            fail_msg("case '%s': parse failed: %s", cases[i].name, estr_str(&why));
        if (strcmp(f.entrypoint, cases[i].entrypoint) != 0 ||
            strcmp(f.wait_file, cases[i].wait_file) != 0 ||
            strcmp(f.post_file, cases[i].post_file) != 0 ||
            strcmp(f.on_error, cases[i].on_error) != 0 ||
            strcmp(f.results, cases[i].results) != 0 ||
            strcmp(f.termination_path, cases[i].termination) != 0)
            fail_msg("case '%s': got entrypoint '%s' wait '%s' post '%s' on_error '%s' results "
                     "'%s' termination '%s'",
                     cases[i].name, f.entrypoint, f.wait_file, f.post_file, f.on_error, f.results,
                     f.termination_path);
        if (f.wait_file_content != cases[i].wait_content)
            fail_msg("case '%s': wait_file_content %d", cases[i].name, f.wait_file_content);
        if ((cases[i].timeout_ns < 0 && f.has_timeout) ||
            (cases[i].timeout_ns >= 0 && (!f.has_timeout || f.timeout_ns != cases[i].timeout_ns)))
            fail_msg("case '%s': timeout %d/%lld", cases[i].name, f.has_timeout,
                     (long long)f.timeout_ns);
        if (f.n_command_args != cases[i].n_command || f.n_positional != cases[i].n_positional)
            fail_msg("case '%s': %zu command args, %zu positional", cases[i].name, f.n_command_args,
                     f.n_positional);
        if (cases[i].first_command && strcmp(f.command_args[0], cases[i].first_command) != 0)
            fail_msg("case '%s': first command arg '%s'", cases[i].name, f.command_args[0]);
        stepflags_done(&f);
        estr_done(&why);
    }
}

static void test_stepflags_parse_bad_input_is_einval_naming_flag(void **state)
{
    static const struct {
        const char *args;
        const char *want;
    } cases[] = {
        {"-nope x", "flag provided but not defined: -nope"},
        {"-post_file", "flag needs an argument: -post_file"},
        {"-timeout 5 -entrypoint e", "invalid value \"5\" for flag -timeout: parse error"},
        {"-wait_file_content=maybe", "invalid boolean value \"maybe\" for -wait_file_content"},
        {"---x", "bad flag syntax: ---x"},
        {"-=x", "bad flag syntax: -=x"},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char storage[256];
        char *argv[16];
        int argc = split_args(cases[i].args, argv, storage, sizeof(storage));
        struct stepflags f;
        struct estr why;
        int r;

        stepflags_init(&f);
        estr_init(&why);
        r = stepflags_parse(&f, argc, argv, &why);
        if (r != -EINVAL || strncmp(estr_str(&why), cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("args '%s': got %d '%s', want -EINVAL '%s'", cases[i].args, r, estr_str(&why),
                     cases[i].want);
        stepflags_done(&f);
        estr_done(&why);
    }
}

static void test_stepflags_parse_duration_matches_go_table(void **state)
{
    static const struct {
        const char *in;
        int r;
        int64_t ns;
    } cases[] = {
        {"0", 0, 0},
        {"5s", 0, INT64_C(5000000000)},
        {"1h0m0s", 0, INT64_C(3600000000000)},
        {"500ms", 0, 500000000},
        {"1.5s", 0, 1500000000},
        {".5s", 0, 500000000},
        {"1.s", 0, 1000000000},
        {"-2m", 0, INT64_C(-120000000000)},
        {"+3ns", 0, 3},
        {"1us", 0, 1000},
        {"1\xc2\xb5s", 0, 1000},
        {"1\xce\xbcs", 0, 1000},
        {"2h45m", 0, INT64_C(9900000000000)},
        {"1.0000000000000000000001s", 0, 1000000000},
        {"9223372036854775807ns", 0, INT64_MAX},
        {"-9223372036854775808ns", 0, INT64_MIN},
        {"", -EINVAL, 0},
        {"5", -EINVAL, 0},
        {"s", -EINVAL, 0},
        {".s", -EINVAL, 0},
        {"1d", -EINVAL, 0},
        {"-", -EINVAL, 0},
        {"1s ", -EINVAL, 0},
        {"9223372036854775808ns", -ERANGE, 0},
        {"3000000h", -ERANGE, 0},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t ns = 42;
        int r = stepflags_parse_duration(cases[i].in, &ns);

        if (r != cases[i].r || (r == 0 && ns != cases[i].ns))
            fail_msg("duration '%s': got %d %lld, want %d %lld", cases[i].in, r, (long long)ns,
                     cases[i].r, (long long)cases[i].ns);
    }
}

static void test_stepflags_parse_bool_accepts_go_spellings_only(void **state)
{
    static const struct {
        const char *in;
        int r;
        bool want;
    } cases[] = {
        {"1", 0, true},   {"t", 0, true},       {"TRUE", 0, true},   {"True", 0, true},
        {"0", 0, false},  {"F", 0, false},      {"false", 0, false}, {"yes", -EINVAL, false},
        {"", -EINVAL, 0}, {"tRuE", -EINVAL, 0},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        bool b = !cases[i].want;
        int r = stepflags_parse_bool(cases[i].in, &b);

        if (r != cases[i].r || (r == 0 && b != cases[i].want))
            fail_msg("bool '%s': got %d %d", cases[i].in, r, b);
    }
}

static void test_b64_decode_table(void **state)
{
    static const struct {
        const char *name;
        const char *in;
        int r;
        const char *want;
        size_t bad_at;
    } cases[] = {
        {"empty", "", 0, "", 0},
        {"script with preamble", "IyEvYmluL3NoCnNldCAtZQplY2hvIGhpID4gb3V0LnR4dAo=", 0,
         "#!/bin/sh\nset -e\necho hi > out.txt\n", 0},
        {"two pad chars", "YQ==", 0, "a", 0},
        {"no padding needed", "YWJj", 0, "abc", 0},
        {"heredoc trailing newline skipped", "YWJj\n", 0, "abc", 0},
        {"CRLF inside skipped", "YW\r\nJj", 0, "abc", 0},
        {"missing padding", "YQ", -EINVAL, NULL, 2},
        {"bad character", "YW*j", -EINVAL, NULL, 2},
        {"url alphabet refused", "YW-j", -EINVAL, NULL, 2},
        {"data after padding", "YQ==YQ==", -EINVAL, NULL, 4},
        {"padding too early", "Y===", -EINVAL, NULL, 1},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct estr out;
        size_t bad = 999;
        int r;

        estr_init(&out);
        r = b64_decode(cases[i].in, strlen(cases[i].in), &out, &bad);
        if (r != cases[i].r)
            fail_msg("case '%s': got %d, want %d", cases[i].name, r, cases[i].r);
        if (r == 0 && strcmp(estr_str(&out), cases[i].want) != 0)
            fail_msg("case '%s': got '%s'", cases[i].name, estr_str(&out));
        if (r < 0 && bad != cases[i].bad_at)
            fail_msg("case '%s': error offset %zu, want %zu", cases[i].name, bad, cases[i].bad_at);
        estr_done(&out);
    }
}

static void test_b64_encode_then_decode_round_trips_binary(void **state)
{
    unsigned char bytes[256];
    struct estr enc, dec;

    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len < 8; len++) {
        estr_init(&enc);
        estr_init(&dec);
        b64_encode(bytes, sizeof(bytes) - len, &enc);
        assert_int_equal(enc.len % 4, 0);
        assert_int_equal(b64_decode(enc.data, enc.len, &dec, NULL), 0);
        assert_int_equal(dec.len, sizeof(bytes) - len);
        assert_memory_equal(dec.data, bytes, dec.len);
        estr_done(&enc);
        estr_done(&dec);
    }
}

static void test_termmsg_encode_matches_go_json_marshal(void **state)
{
    static const struct {
        const char *name;
        const char *value;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain", "sha256:abc", 10, "\"sha256:abc\""},
        {"newline and tab", "a\nb\tc\r", 6, "\"a\\nb\\tc\\r\""},
        {"quote and backslash", "\"\\", 2, "\"\\\"\\\\\""},
        {"html escaped", "<a&b>", 5, "\"\\u003ca\\u0026b\\u003e\""},
        {"short escapes for b and f", "\b\f", 2, "\"\\b\\f\""},
        {"other control bytes", "\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"NUL byte", "a\0b", 3, "\"a\\u0000b\""},
        {"DEL kept", "\x7f", 1, "\"\x7f\""},
        {"valid UTF-8 kept", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
         "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"line separators escaped", "\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\""},
        {"invalid byte replaced", "a\xff", 2, "\"a\\ufffd\""},
        {"overlong replaced per byte", "\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},
        {"surrogate replaced per byte", "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
        {"truncated sequence", "\xe2\x82", 2, "\"\\ufffd\\ufffd\""},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct termmsg m;
        struct estr out, want;

        termmsg_init(&m);
        estr_init(&out);
        estr_init(&want);
        termmsg_add(&m, "k", cases[i].value, cases[i].len, TERMMSG_TASK_RESULT);
        termmsg_encode(&m, &out);
        estr_printf(&want, "[{\"key\":\"k\",\"value\":%s,\"type\":1}]", cases[i].want);
        if (strcmp(estr_str(&out), estr_str(&want)) != 0)
            fail_msg("case '%s': got %s, want %s", cases[i].name, estr_str(&out), estr_str(&want));
        termmsg_done(&m);
        estr_done(&out);
        estr_done(&want);
    }
}

static void test_termmsg_encode_orders_fields_and_omits_zero_type(void **state)
{
    struct termmsg m;
    struct estr out;

    termmsg_init(&m);
    estr_init(&out);
    termmsg_add(&m, "digest", "sha256:1", 8, TERMMSG_TASK_RESULT);
    termmsg_add(&m, "StartedAt", "2025-01-02T03:04:05.678Z", 24, TERMMSG_INTERNAL);
    termmsg_add(&m, "legacy", "", 0, 0);
    termmsg_encode(&m, &out);
    assert_string_equal(estr_str(&out),
                        "[{\"key\":\"digest\",\"value\":\"sha256:1\",\"type\":1},"
                        "{\"key\":\"StartedAt\",\"value\":\"2025-01-02T03:04:05.678Z\",\"type\":3},"
                        "{\"key\":\"legacy\",\"value\":\"\"}]");
    termmsg_done(&m);
    estr_done(&out);
}

static void test_termmsg_parse_round_trips_and_accepts_legacy_types(void **state)
{
    static const char *const text =
        " [{\"key\":\"a\",\"value\":\"x\\ny\\u003c\\ud83d\\ude00\",\"type\":1},"
        "{\"Key\":\"b\",\"value\":\"v\",\"type\":\"StepResult\",\"resourceName\":\"r\"},"
        "{\"key\":\"c\",\"value\":\"w\",\"type\":\"Whatever\"},"
        "{\"key\":\"StartedAt\",\"value\":\"t\",\"type\":\"InternalTektonResult\"}] ";
    struct termmsg m;

    termmsg_init(&m);
    assert_int_equal(termmsg_parse(text, strlen(text), &m), 0);
    assert_int_equal(m.len, 4);
    assert_string_equal(m.entries[0].value, "x\ny<\xf0\x9f\x98\x80");
    assert_int_equal(m.entries[0].type, TERMMSG_TASK_RESULT);
    assert_string_equal(m.entries[1].key, "b");
    assert_int_equal(m.entries[1].type, TERMMSG_STEP_RESULT);
    assert_int_equal(m.entries[2].type, TERMMSG_UNKNOWN);
    assert_int_equal(m.entries[3].type, TERMMSG_INTERNAL);
    termmsg_done(&m);
}

static void test_termmsg_parse_malformed_is_einval_and_leaves_list(void **state)
{
    static const char *const bad[] = {
        "",
        "{}",
        "[{\"key\":1}]",
        "[{\"key\":\"a\",\"type\":1.5}]",
        "[{\"key\":\"a\"}",
        "[\"a\"]",
        "tknz:abc",
        "[{\"key\":\"a\\q\"}]",
        "[{\"key\":\"a\"}] x",
    };

    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        struct termmsg m;
        int r;

        termmsg_init(&m);
        termmsg_add(&m, "keep", "", 0, 1);
        r = termmsg_parse(bad[i], strlen(bad[i]), &m);
        if (r != -EINVAL || m.len != 1)
            fail_msg("input '%s': got %d with %zu entries", bad[i], r, m.len);
        termmsg_done(&m);
    }
}

static void test_minijson_parse_deep_nesting_is_einval(void **state)
{
    char text[2 * (MINIJSON_MAX_DEPTH + 2) + 1];
    struct minijson *v = NULL;
    size_t n = MINIJSON_MAX_DEPTH + 1;

    for (size_t i = 0; i < n; i++) {
        text[i] = '[';
        text[2 * n - 1 - i] = ']';
    }
    text[2 * n] = '\0';
    assert_int_equal(minijson_parse(text, strlen(text), &v), -EINVAL);
    assert_int_equal(minijson_parse(text + 1, strlen(text) - 2, &v), 0);
    minijson_free(v);
}

static char *temp_path(const char *tag)
{
    char *path = NULL;
    const char *tmp = getenv("TMPDIR");

    if (asprintf(&path, "%s/tektite-ep-%s-%ld", tmp ? tmp : "/tmp", tag, (long)getpid()) < 0)
        abort();
    return path;
}

static void test_termmsg_write_appends_to_existing_message(void **state)
{
    char *path = temp_path("append");
    struct termmsg first, second;
    struct estr content;

    termmsg_init(&first);
    termmsg_init(&second);
    estr_init(&content);
    unlink(path);
    termmsg_add(&first, "r", "1", 1, TERMMSG_TASK_RESULT);
    termmsg_add(&second, "StartedAt", "t", 1, TERMMSG_INTERNAL);
    assert_int_equal(termmsg_write(path, &first), 0);
    assert_int_equal(termmsg_write(path, &second), 0);
    assert_int_equal(estr_read_file(&content, path, 8192), 0);
    assert_string_equal(estr_str(&content), "[{\"key\":\"r\",\"value\":\"1\",\"type\":1},"
                                            "{\"key\":\"StartedAt\",\"value\":\"t\",\"type\":3}]");
    unlink(path);
    free(path);
    termmsg_done(&first);
    termmsg_done(&second);
    estr_done(&content);
}

static void test_termmsg_write_over_4096_is_emsgsize_and_file_unchanged(void **state)
{
    char *path = temp_path("big");
    struct termmsg small, big;
    struct estr content, expect;
    char value[4096];
    /* [{"key":"r","value":"<v>","type":1}] is 35 bytes around the value */
    const size_t frame = strlen("[{\"key\":\"r\",\"value\":\"\",\"type\":1}]");

    termmsg_init(&small);
    termmsg_init(&big);
    estr_init(&content);
    estr_init(&expect);
    unlink(path);
    memset(value, 'x', sizeof(value));

    /* exactly 4096 bytes fits */
    termmsg_add(&small, "r", value, TERMMSG_MAX_BYTES - frame, TERMMSG_TASK_RESULT);
    assert_int_equal(termmsg_write(path, &small), 0);
    assert_int_equal(estr_read_file(&content, path, 8192), 0);
    assert_int_equal(content.len, TERMMSG_MAX_BYTES);

    /* one byte more does not, and the file keeps the earlier message */
    termmsg_add(&big, "s", "", 0, TERMMSG_INTERNAL);
    assert_int_equal(termmsg_write(path, &big), -EMSGSIZE);
    estr_append(&expect, content.data, content.len);
    assert_int_equal(estr_read_file(&content, path, 8192), 0);
    assert_int_equal(content.len, expect.len);
    assert_memory_equal(content.data, expect.data, expect.len);

    /* escaping counts: 1000 '<' become 6000 bytes */
    termmsg_done(&big);
    memset(value, '<', 1000);
    termmsg_add(&big, "r", value, 1000, TERMMSG_TASK_RESULT);
    unlink(path);
    assert_int_equal(termmsg_write(path, &big), -EMSGSIZE);
    assert_int_equal(access(path, F_OK), -1);

    unlink(path);
    free(path);
    termmsg_done(&small);
    termmsg_done(&big);
    estr_done(&content);
    estr_done(&expect);
}

static void test_stepoutcome_decide_matches_tekton_outcome_table(void **state)
{
    static const struct {
        const char *name;
        enum stepoutcome_event event;
        int status;
        bool cont;
        int exit_code;
        bool post_err;
        const char *exit_code_file;
        const char *reason;
        const char *exit_code_entry;
        bool collect;
    } cases[] = {
        {"success", STEPOUTCOME_EXITED, 0, false, 0, false, "0", NULL, "", true},
        {"success with continue", STEPOUTCOME_EXITED, 0, true, 0, false, "0", NULL, "", true},
        {"exit 3", STEPOUTCOME_EXITED, 3, false, 3, true, "", NULL, "", true},
        {"exit 3 continue", STEPOUTCOME_EXITED, 3, true, 0, false, "3", NULL, "3", true},
        {"killed by signal", STEPOUTCOME_EXITED, -1, false, 255, true, "", NULL, "", true},
        {"killed by signal continue", STEPOUTCOME_EXITED, -1, true, 0, false, "-1", NULL, "-1",
         true},
        {"cannot start", STEPOUTCOME_START_FAILED, 0, false, 1, true, "", NULL, "", true},
        {"cannot start continue", STEPOUTCOME_START_FAILED, 0, true, 1, true, "", NULL, "", true},
        {"previous failed", STEPOUTCOME_SKIPPED, 0, false, 1, true, "", "Skipped", "", false},
        {"previous failed continue", STEPOUTCOME_SKIPPED, 0, true, 1, true, "", "Skipped", "",
         false},
        {"when false", STEPOUTCOME_WHEN_FALSE, 0, false, 0, false, "0", "Skipped", "", false},
        {"timeout", STEPOUTCOME_TIMEOUT, 0, false, 1, true, "", "TimeoutExceeded", "", true},
        {"timeout continue", STEPOUTCOME_TIMEOUT, 0, true, 1, true, "", "TimeoutExceeded", "",
         true},
        {"cancelled", STEPOUTCOME_CANCELLED, 0, false, 9, true, "killed", "Cancelled", "", true},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct stepoutcome o;

        stepoutcome_decide(cases[i].event, cases[i].status, cases[i].cont, &o);
        if (o.exit_code != cases[i].exit_code || o.post_err != cases[i].post_err ||
            strcmp(o.exit_code_file, cases[i].exit_code_file) != 0 ||
            strcmp(o.exit_code_entry, cases[i].exit_code_entry) != 0 ||
            o.collect_results != cases[i].collect ||
            (o.reason == NULL) != (cases[i].reason == NULL) ||
            (o.reason && strcmp(o.reason, cases[i].reason) != 0))
            fail_msg("case '%s': exit %d post_err %d exitCode '%s' entry '%s' reason '%s' "
                     "collect %d",
                     cases[i].name, o.exit_code, o.post_err, o.exit_code_file, o.exit_code_entry,
                     o.reason ? o.reason : "(none)", o.collect_results);
    }
}

static void test_stepcmd_select_platform_and_fallback_table(void **state)
{
    static const struct {
        const char *name;
        const char *json;
        const char *platform;
        int r;
        const char *first;
        size_t argc;
    } cases[] = {
        {"exact", "{\"linux/amd64\":[\"/ko-app/x\",\"-v\"]}", "linux/amd64", 0, "/ko-app/x", 2},
        {"variant falls back", "{\"linux/arm64\":[\"a\"]}", "linux/arm64/v8", 0, "a", 1},
        {"exact wins over fallback", "{\"linux/arm64\":[\"a\"],\"linux/arm64/v8\":[\"b\"]}",
         "linux/arm64/v8", 0, "b", 1},
        {"missing", "{\"linux/s390x\":[\"a\"]}", "linux/amd64", -ENOENT, NULL, 0},
        {"empty command", "{\"linux/amd64\":[]}", "linux/amd64", -ENOENT, NULL, 0},
        {"not json", "", "linux/amd64", -EINVAL, NULL, 0},
        {"not strings", "{\"linux/amd64\":[1]}", "linux/amd64", -EINVAL, NULL, 0},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char **argv = NULL;
        size_t argc = 0;
        struct estr why;
        int r;

        estr_init(&why);
        r = stepcmd_select(cases[i].json, cases[i].platform, &argv, &argc, &why);
        if (r != cases[i].r)
            fail_msg("case '%s': got %d, want %d (%s)", cases[i].name, r, cases[i].r,
                     estr_str(&why));
        if (r == 0 &&
            (strcmp(argv[0], cases[i].first) != 0 || argc != cases[i].argc || argv[argc] != NULL))
            fail_msg("case '%s': got '%s' x%zu", cases[i].name, argv[0], argc);
        if (r < 0 && why.len == 0)
            fail_msg("case '%s': no reason given", cases[i].name);
        stepcmd_free_argv(argv);
        estr_done(&why);
    }
}

static void test_stepcmd_when_allows_table(void **state)
{
    static const struct {
        const char *name;
        const char *json;
        int r;
        bool allowed;
    } cases[] = {
        {"no expressions", "", 0, true},
        {"in matches", "[{\"input\":\"true\",\"operator\":\"in\",\"values\":[\"true\"]}]", 0, true},
        {"in misses", "[{\"input\":\"no\",\"operator\":\"in\",\"values\":[\"yes\"]}]", 0, false},
        {"notin misses", "[{\"input\":\"a\",\"operator\":\"notin\",\"values\":[\"b\"]}]", 0, true},
        {"notin matches", "[{\"input\":\"a\",\"operator\":\"notin\",\"values\":[\"a\"]}]", 0,
         false},
        {"all must hold",
         "[{\"input\":\"a\",\"operator\":\"in\",\"values\":[\"a\"]},"
         "{\"input\":\"b\",\"operator\":\"in\",\"values\":[\"c\"]}]",
         0, false},
        {"empty array", "[]", 0, true},
        {"cel refused", "[{\"cel\":\"'a' == 'a'\"}]", -ENOTSUP, false},
        {"not an array", "{}", -EINVAL, false},
        {"values not strings", "[{\"input\":\"a\",\"operator\":\"in\",\"values\":[1]}]", -EINVAL,
         false},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        bool allowed = !cases[i].allowed;
        struct estr why;
        int r;

        estr_init(&why);
        r = stepcmd_when_allows(cases[i].json, NULL, &allowed, &why);
        if (r != cases[i].r || (r == 0 && allowed != cases[i].allowed))
            fail_msg("case '%s': got %d allowed %d (%s)", cases[i].name, r, allowed,
                     estr_str(&why));
        estr_done(&why);
    }
}

/* A steps dir with step-a's results, as earlier steps leave them. */
static char *make_steps_dir(void)
{
    static const struct {
        const char *name, *content;
    } files[] = {
        {"str", "hello"},
        {"quoted", "\"quoted text\""},
        {"arr", "[\"x\",\"y z\",\"w\"]"},
        {"obj", "{\"k\":\"v\",\"n\":\"m\"}"},
        {"nums", "[1,2]"},
    };
    char *dir = temp_path("steps");
    struct estr path;

    estr_init(&path);
    mkdir(dir, 0755);
    estr_printf(&path, "%s/step-a", dir);
    mkdir(path.data, 0755);
    estr_append_str(&path, "/results");
    mkdir(path.data, 0755);
    for (size_t i = 0; i < N_ELEMS(files); i++) {
        struct estr f;
        FILE *fp;

        estr_init(&f);
        estr_printf(&f, "%s/%s", path.data, files[i].name);
        fp = fopen(f.data, "w");
        assert_non_null(fp);
        fputs(files[i].content, fp);
        fclose(fp);
        estr_done(&f);
    }
    estr_done(&path);
    return dir;
}

static void remove_steps_dir(char *dir)
{
    static const char *const names[] = {"str", "quoted", "arr", "obj", "nums"};
    struct estr p;

    estr_init(&p);
    for (size_t i = 0; i < N_ELEMS(names); i++) {
        estr_done(&p);
        estr_printf(&p, "%s/step-a/results/%s", dir, names[i]);
        unlink(p.data);
    }
    estr_done(&p);
    estr_printf(&p, "%s/step-a/results", dir);
    rmdir(p.data);
    estr_done(&p);
    estr_printf(&p, "%s/step-a", dir);
    rmdir(p.data);
    rmdir(dir);
    estr_done(&p);
    free(dir);
}

static void test_stepsubst_string_table(void **state)
{
    static const struct {
        const char *in;
        const char *want;
        int failed;
    } cases[] = {
        {"no refs", "no refs", 0},
        {"$(steps.a.results.str)", "hello", 0},
        {"say $(steps.a.results.str) and $(steps.a.results.str)!", "say hello and hello!", 0},
        {"$(steps.a.results.quoted)", "quoted text", 0},
        {"$(steps.a.results.arr[1])", "y z", 0},
        {"$(steps.a.results.obj.n)", "m", 0},
        {"$(steps.a.results.nums)", "[1,2]", 0},
        {"$(steps.a.results.missing)", "$(steps.a.results.missing)", 1},
        {"$(steps.a.results.arr[7])", "$(steps.a.results.arr[7])", 1},
        {"x$(steps.a.results.arr[*])", "x$(steps.a.results.arr[*])", 1},
        {"$(steps.a.results.obj.nokey)", "$(steps.a.results.obj.nokey)", 1},
        {"$(steps.a.outputs.x)", "$(steps.a.outputs.x)", 0},
        {"$(params.x)", "$(params.x)", 0},
    };
    char *dir = make_steps_dir();

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct estr out, errors;
        int failed;

        estr_init(&out);
        estr_init(&errors);
        failed = stepsubst_string(cases[i].in, dir, &out, &errors);
        if (failed != cases[i].failed || strcmp(estr_str(&out), cases[i].want) != 0)
            fail_msg("input '%s': got '%s' with %d failures (%s), want '%s'", cases[i].in,
                     estr_str(&out), failed, estr_str(&errors), cases[i].want);
        if (failed > 0 && !strstr(estr_str(&errors), "cannot substitute '$(steps.a.results."))
            fail_msg("input '%s': error does not name the reference: %s", cases[i].in,
                     estr_str(&errors));
        estr_done(&out);
        estr_done(&errors);
    }
    remove_steps_dir(dir);
}

static void test_stepsubst_argv_isolated_star_expands(void **state)
{
    char *dir = make_steps_dir();
    char a0[] = "echo", a1[] = "$(steps.a.results.arr[*])", a2[] = "-$(steps.a.results.str)";
    char *argv[] = {a0, a1, a2, NULL};
    char **out = NULL;
    size_t n = 0;
    struct estr errors;

    estr_init(&errors);
    assert_int_equal(stepsubst_argv(argv, 3, dir, &out, &n, &errors), 0);
    assert_int_equal(n, 5);
    assert_string_equal(out[0], "echo");
    assert_string_equal(out[1], "x");
    assert_string_equal(out[2], "y z");
    assert_string_equal(out[3], "w");
    assert_string_equal(out[4], "-hello");
    assert_null(out[5]);
    stepcmd_free_argv(out);
    estr_done(&errors);
    remove_steps_dir(dir);
}

static void test_stepcmd_when_allows_substitutes_step_results(void **state)
{
    char *dir = make_steps_dir();
    struct estr why;
    bool allowed = false;

    estr_init(&why);
    assert_int_equal(stepcmd_when_allows("[{\"input\":\"$(steps.a.results.str)\",\"operator\":"
                                         "\"in\",\"values\":[\"hello\"]}]",
                                         dir, &allowed, &why),
                     0);
    assert_true(allowed);
    assert_int_equal(stepcmd_when_allows("[{\"input\":\"y z\",\"operator\":\"in\",\"values\":["
                                         "\"$(steps.a.results.arr[*])\"]}]",
                                         dir, &allowed, &why),
                     0);
    assert_true(allowed);
    assert_int_equal(stepcmd_when_allows("[{\"input\":\"hello\",\"operator\":\"notin\","
                                         "\"values\":[\"$(steps.a.results.str)\"]}]",
                                         dir, &allowed, &why),
                     0);
    assert_false(allowed);
    assert_int_equal(why.len, 0);
    estr_done(&why);
    remove_steps_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stepflags_parse_tekton_step_args_table),
        cmocka_unit_test(test_stepflags_parse_bad_input_is_einval_naming_flag),
        cmocka_unit_test(test_stepflags_parse_duration_matches_go_table),
        cmocka_unit_test(test_stepflags_parse_bool_accepts_go_spellings_only),
        cmocka_unit_test(test_b64_decode_table),
        cmocka_unit_test(test_b64_encode_then_decode_round_trips_binary),
        cmocka_unit_test(test_termmsg_encode_matches_go_json_marshal),
        cmocka_unit_test(test_termmsg_encode_orders_fields_and_omits_zero_type),
        cmocka_unit_test(test_termmsg_parse_round_trips_and_accepts_legacy_types),
        cmocka_unit_test(test_termmsg_parse_malformed_is_einval_and_leaves_list),
        cmocka_unit_test(test_minijson_parse_deep_nesting_is_einval),
        cmocka_unit_test(test_termmsg_write_appends_to_existing_message),
        cmocka_unit_test(test_termmsg_write_over_4096_is_emsgsize_and_file_unchanged),
        cmocka_unit_test(test_stepoutcome_decide_matches_tekton_outcome_table),
        cmocka_unit_test(test_stepcmd_select_platform_and_fallback_table),
        cmocka_unit_test(test_stepcmd_when_allows_table),
        cmocka_unit_test(test_stepsubst_string_table),
        cmocka_unit_test(test_stepsubst_argv_isolated_star_expands),
        cmocka_unit_test(test_stepcmd_when_allows_substitutes_step_results),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
