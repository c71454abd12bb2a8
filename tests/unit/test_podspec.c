/* Unit tests for controller/podspec, childname and goduration: golden Pods and the rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "controller/childname.h"
#include "controller/goduration.h"
#include "controller/podspec.h"

#define FIXTURES "tests/unit/fixtures/podspec/"

static json_t *unconst(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u = {.c = v};

    return u.m;
}

static json_t *load(const char *path)
{
    json_error_t err;
    json_t *v = json_load_file(path, 0, &err);

    if (!v)
        fail_msg("cannot load fixture '%s': %s (line %d)", path, err.text, err.line);
    return v;
}

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s at %d:%d in %s", err.text, err.line, err.column, text);
    return v;
}

/* Writes the path of the first difference between 'a' and 'b' into 'path'; false if equal. */
static bool first_diff(const json_t *a, const json_t *b, char *path, size_t size)
{
    size_t len = strlen(path);

    if (json_equal(a, b))
        return false;
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *v;

        json_object_foreach(unconst(a), key, v) {
            snprintf(path + len, size - len, ".%s", key);
            if (first_diff(v, json_object_get(b, key), path, size))
                return true;
        }
        json_object_foreach(unconst(b), key, v) {
            snprintf(path + len, size - len, ".%s", key);
            if (!json_object_get(a, key))
                return true;
        }
        path[len] = '\0';
        return true;
    }
    if (json_is_array(a) && json_is_array(b)) {
        size_t n =
            json_array_size(a) > json_array_size(b) ? json_array_size(a) : json_array_size(b);

        for (size_t i = 0; i < n; i++) {
            snprintf(path + len, size - len, "[%zu]", i);
            if (first_diff(json_array_get(a, i), json_array_get(b, i), path, size))
                return true;
        }
        path[len] = '\0';
    }
    return true;
}

static void assert_json_equal_msg(const json_t *got, const json_t *want, const char *what)
{
    char path[512] = "";

    if (first_diff(got, want, path, sizeof(path))) {
        char *g = json_dumps(got, JSON_INDENT(2));
        char *w = json_dumps(want, JSON_INDENT(2));

        print_error("%s: first difference at '%s'\n--- got:\n%s\n--- want:\n%s\n", what, path,
                    g ? g : "(null)", w ? w : "(null)");
        free(g);
        free(w);
        fail_msg("%s differs at '%s'", what, path);
    }
}

static struct podspec_options default_options(void)
{
    struct podspec_options o = {
        .entrypoint_image = "ghcr.io/tektite/entrypoint:test",
        .release = "a728ce3",
        .managed_by = NULL,
        .default_timeout_minutes = 60,
        .await_sidecar_readiness = true,
        .running_in_environment_with_injected_sidecars = true,
    };
    return o;
}

static json_t *build_ok(const json_t *tr, const json_t *ts, const struct podspec_options *o)
{
    struct podspec_error err = {0};
    json_t *pod = NULL;
    int r = podspec_build(tr, ts, o, &pod, &err);

    if (r < 0)
        fail_msg("podspec_build failed: %d %s", r, err.message ? err.message : "");
    return pod;
}

static void golden(const char *dir)
{
    char path[256];
    json_t *tr, *ts, *want, *configs, *pod;
    struct podspec_options o = default_options();

    snprintf(path, sizeof(path), FIXTURES "%s/taskrun.json", dir);
    tr = load(path);
    snprintf(path, sizeof(path), FIXTURES "%s/taskspec.json", dir);
    ts = load(path);
    snprintf(path, sizeof(path), FIXTURES "%s/pod.json", dir);
    want = load(path);
    snprintf(path, sizeof(path), FIXTURES "%s/image_configs.json", dir);
    configs = json_load_file(path, 0, NULL); /* optional */
    o.image_configs = configs;

    pod = build_ok(tr, ts, &o);
    assert_json_equal_msg(pod, want, dir);

    json_decref(pod);
    json_decref(configs);
    json_decref(want);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_build_worked_example_matches_golden(void **state)
{
    golden("demo");
}

static void test_podspec_build_git_clone_matches_golden(void **state)
{
    golden("git-clone");
}

static void test_podspec_build_kaniko_matches_golden(void **state)
{
    golden("kaniko");
}

static void test_podspec_build_pvcs_kaniko_matches_golden(void **state)
{
    json_t *tr = load(FIXTURES "kaniko/taskrun.json");
    json_t *want = load(FIXTURES "kaniko/pvcs.json");
    json_t *pvcs = NULL;
    char *msg = NULL;

    assert_int_equal(podspec_build_pvcs(tr, &pvcs, &msg), 0);
    assert_json_equal_msg(pvcs, want, "kaniko pvcs");
    json_decref(pvcs);

    /* a TaskRun without volumeClaimTemplate bindings needs no PVC */
    json_decref(tr);
    tr = load(FIXTURES "demo/taskrun.json");
    assert_int_equal(podspec_build_pvcs(tr, &pvcs, &msg), 0);
    assert_int_equal(json_array_size(pvcs), 0);
    json_decref(pvcs);
    json_decref(want);
    json_decref(tr);
}

/* ---- childname ---- */

static void test_childname_table(void **state)
{
    static const struct {
        const char *name;
        const char *parent;
        const char *suffix;
        const char *want;
    } cases[] = {
        {"short name", "demo", "-pod", "demo-pod"},
        {"exactly 63", "a23456789012345678901234567890123456789012345678901234567890", "-ab",
         "a23456789012345678901234567890123456789012345678901234567890-ab"},
        {"upstream long example",
         "task-run-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789", "-pod",
         "task-run-0123456789-01234560d38957287bb0283c59440df14069f59-pod"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = childname(cases[i].parent, cases[i].suffix);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, got, cases[i].want);
        assert_true(strlen(got) <= 63);
        free(got);
    }
}

static void test_childname_long_suffix_stays_within_63_without_trailing_dash(void **state)
{
    const char *suffix = "-a-very-long-suffix-that-is-over-31-chars";
    char *got = childname("parent-name-that-is-long-enough-to-need-hashing-xxxxxxxx", suffix);

    assert_true(strlen(got) <= 63);
    assert_true(got[strlen(got) - 1] != '-');
    assert_memory_equal(got, "parent-name-that-is-long-enough", 31);
    free(got);
}

static void test_childname_pod_retry_suffix(void **state)
{
    char *a = childname_pod("demo", 0);
    char *b = childname_pod("demo", 2);

    assert_string_equal(a, "demo-pod");
    assert_string_equal(b, "demo-pod-retry2");
    free(a);
    free(b);
}

static void test_childname_fnv_matches_tekton_workspace_names(void **state)
{
    char *a = childname_fnv("ws-", "source", 5);
    char *b = childname_fnv("ws-", "output", 5);

    assert_string_equal(a, "ws-1bcf2");
    assert_string_equal(b, "ws-79a94");
    free(a);
    free(b);
}

static void test_childname_restrict_truncates_and_trims(void **state)
{
    char *a = childname_restrict("sidecar-");
    char *b = childname_restrict(
        "step-a-very-long-step-name-that-goes-past-the-sixty-three-char--limit-of-k8s");

    assert_string_equal(a, "sidecar");
    assert_int_equal(strlen(b), 62); /* cut at 63, then the trailing '-' goes */
    assert_string_equal(b, "step-a-very-long-step-name-that-goes-past-the-sixty-three-char");
    free(a);
    free(b);
}

/* ---- goduration ---- */

static void test_goduration_parse_and_format_table(void **state)
{
    static const struct {
        const char *in;
        int64_t ns;
        const char *out;
    } cases[] = {
        {"1h", 3600000000000LL, "1h0m0s"},
        {"1h0m0s", 3600000000000LL, "1h0m0s"},
        {"90s", 90000000000LL, "1m30s"},
        {"5s", 5000000000LL, "5s"},
        {"0", 0, "0s"},
        {"0s", 0, "0s"},
        {"500ms", 500000000LL, "500ms"},
        {"1.5h", 5400000000000LL, "1h30m0s"},
        {"1m30.25s", 90250000000LL, "1m30.25s"},
        {"2h45m", 9900000000000LL, "2h45m0s"},
        {"1500us", 1500000LL, "1.5ms"},
    };
    char buf[48];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ns = -1;

        if (goduration_parse(cases[i].in, &ns) != 0 || ns != cases[i].ns)
            fail_msg("case '%s': parsed %lld, want %lld", cases[i].in, (long long)ns,
                     (long long)cases[i].ns);
        goduration_format(ns, buf, sizeof(buf));
        if (strcmp(buf, cases[i].out) != 0)
            fail_msg("case '%s': formatted '%s', want '%s'", cases[i].in, buf, cases[i].out);
    }
}

static void test_goduration_parse_rejects_garbage(void **state)
{
    static const char *const bad[] = {"", "1", "h", "1x", "1h-", "--1s", "9999999999999h"};
    int64_t ns;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (goduration_parse(bad[i], &ns) >= 0)
            fail_msg("case '%s' was accepted", bad[i]);
    }
}

/* ---- focused podspec rules ---- */

#define TR(extra_spec)                                                                             \
    "{\"metadata\":{\"name\":\"t\",\"namespace\":\"ns\",\"uid\":\"u-1\"},\"spec\":{" extra_spec "}}"

static const json_t *container(const json_t *pod, const char *name)
{
    const json_t *list = json_object_get(json_object_get(pod, "spec"), "containers");
    size_t i;
    const json_t *c;

    json_array_foreach(list, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    }
    fail_msg("no container '%s'", name);
    return NULL;
}

static const json_t *prepare_args(const json_t *pod)
{
    const json_t *init = json_object_get(json_object_get(pod, "spec"), "initContainers");

    return json_object_get(json_array_get(init, 0), "args");
}

static void test_podspec_step_template_merge(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts =
        J("{\"stepTemplate\":{\"image\":\"tmpl\",\"command\":[\"tc\"],"
          "\"env\":[{\"name\":\"KEEP\",\"value\":\"k\"},{\"name\":\"SOME\",\"value\":\"t\"},"
          "{\"name\":\"REF\",\"value\":\"v\"}],"
          "\"volumeMounts\":[{\"name\":\"a\",\"mountPath\":\"/a\"}],"
          "\"computeResources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}},"
          "\"securityContext\":{\"runAsUser\":1,\"privileged\":false}},"
          "\"steps\":[{\"name\":\"s\",\"command\":[\"sc\",\"x\"],"
          "\"env\":[{\"name\":\"NEW\",\"value\":\"n\"},{\"name\":\"SOME\",\"value\":\"s\"},"
          "{\"name\":\"REF\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"x\",\"key\":\"y\"}}}],"
          "\"volumeMounts\":[{\"name\":\"b\",\"mountPath\":\"/a\",\"readOnly\":true}],"
          "\"computeResources\":{\"limits\":{\"cpu\":\"2\"}},"
          "\"securityContext\":{\"runAsUser\":2}}]}");
    json_t *want_env =
        J("[{\"name\":\"NEW\",\"value\":\"n\"},{\"name\":\"KEEP\",\"value\":\"k\"},"
          "{\"name\":\"SOME\",\"value\":\"s\"},"
          "{\"name\":\"REF\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"x\",\"key\":"
          "\"y\"}}}]");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    const json_t *c = container(pod, "step-s");
    const json_t *args = json_object_get(c, "args");
    const json_t *mount0 = json_array_get(json_object_get(c, "volumeMounts"), 0);

    assert_string_equal(json_string_value(json_object_get(c, "image")), "tmpl");
    assert_json_equal_msg(json_object_get(c, "env"), want_env, "merged env");
    /* the step's command replaces the template's: -entrypoint sc -- x */
    assert_string_equal(json_string_value(json_array_get(args, json_array_size(args) - 3)), "sc");
    assert_string_equal(json_string_value(json_array_get(args, json_array_size(args) - 1)), "x");
    /* same mountPath: one mount, step fields win */
    assert_string_equal(json_string_value(json_object_get(mount0, "name")), "b");
    assert_true(json_is_true(json_object_get(mount0, "readOnly")));
    assert_string_equal(json_string_value(json_object_get(mount0, "mountPath")), "/a");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(c, "resources"), "limits"), "cpu")),
                        "2");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(c, "resources"), "limits"), "memory")),
                        "1Gi");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(c, "securityContext"), "runAsUser")), 2);
    assert_true(
        json_is_false(json_object_get(json_object_get(c, "securityContext"), "privileged")));
    json_decref(pod);
    json_decref(want_env);
    json_decref(ts);
    json_decref(tr);
}

static char *decode_b64(const char *in)
{
    size_t len = strlen(in);
    unsigned char *out = calloc(1, len + 1);
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);

    assert_true(n >= 0);
    /* EVP_DecodeBlock counts padding bytes as output: trim them */
    while (len > 0 && in[len - 1] == '=') {
        len--;
        n--;
    }
    out[n] = '\0';
    return (char *)out;
}

static void test_podspec_script_preamble_table(void **state)
{
    static const struct {
        const char *name;
        const char *script;
        const char *want;
    } cases[] = {
        {"no shebang gets sh preamble", "echo hi\n", "#!/bin/sh\nset -e\necho hi\n"},
        {"shebang kept verbatim", "#!/usr/bin/env python3\nprint(1)\n",
         "#!/usr/bin/env python3\nprint(1)\n"},
        {"leading blank line before shebang kept byte for byte", "\n  #!/bin/bash\necho\n",
         "\n  #!/bin/bash\necho\n"},
        {"hash without bang is not a shebang", "# comment\necho\n",
         "#!/bin/sh\nset -e\n# comment\necho\n"},
    };
    struct podspec_options o = default_options();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *tr = J(TR(""));
        json_t *ts =
            json_pack("{s:[{s:s, s:s}]}", "steps", "image", "alpine", "script", cases[i].script);
        json_t *pod = build_ok(tr, ts, &o);
        const json_t *args = prepare_args(pod);
        char *body;

        assert_string_equal(json_string_value(json_array_get(args, 0)), "--script");
        body = decode_b64(json_string_value(json_array_get(args, 2)));
        if (strcmp(body, cases[i].want) != 0)
            fail_msg("case '%s': got '%s'", cases[i].name, body);
        free(body);
        json_decref(pod);
        json_decref(ts);
        json_decref(tr);
    }
}

static void test_podspec_script_replaces_step_template_command(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"stepTemplate\":{\"command\":[\"tmpl\"]},\"steps\":[{\"image\":\"a\","
                   "\"script\":\"echo\",\"args\":[\"x\"]}]}");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    const json_t *args = json_object_get(container(pod, "step-unnamed-0"), "args");
    size_t n = json_array_size(args);

    /* -entrypoint <script> -- x: the script runs with the step's args */
    assert_string_equal(json_string_value(json_array_get(args, n - 4)), "-entrypoint");
    assert_int_equal(
        strncmp(json_string_value(json_array_get(args, n - 3)), "/tekton/scripts/script-0-", 25),
        0);
    assert_string_equal(json_string_value(json_array_get(args, n - 2)), "--");
    assert_string_equal(json_string_value(json_array_get(args, n - 1)), "x");
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_script_names_are_deterministic_per_uid(void **state)
{
    json_t *tr = J(TR(""));
    json_t *tr2 = J("{\"metadata\":{\"name\":\"t\",\"namespace\":\"ns\",\"uid\":\"u-2\"}}");
    json_t *ts = J("{\"steps\":[{\"image\":\"a\",\"script\":\"x\"},{\"image\":\"a\","
                   "\"script\":\"y\"}],\"sidecars\":[{\"name\":\"db\",\"image\":\"b\","
                   "\"script\":\"z\"}]}");
    struct podspec_options o = default_options();
    json_t *p1 = build_ok(tr, ts, &o);
    json_t *p2 = build_ok(tr, ts, &o);
    json_t *p3 = build_ok(tr2, ts, &o);
    const json_t *a1 = prepare_args(p1);
    const char *s0 = json_string_value(json_array_get(a1, 1));
    const char *s1 = json_string_value(json_array_get(a1, 4));
    const char *sc = json_string_value(json_array_get(a1, 7));

    assert_json_equal_msg(p1, p2, "re-planned pod");
    assert_int_equal(strncmp(s0, "/tekton/scripts/script-0-", 25), 0);
    assert_int_equal(strncmp(s1, "/tekton/scripts/script-1-", 25), 0);
    assert_int_equal(strncmp(sc, "/tekton/scripts/sidecar-script-0-", 33), 0);
    assert_int_equal(strlen(s0), 30);
    assert_int_equal(strspn(s0 + 25, "bcdfghjklmnpqrstvwxz2456789"), 5);
    assert_string_not_equal(s0 + 25, s1 + 25);
    assert_string_not_equal(s0, json_string_value(json_array_get(prepare_args(p3), 1)));
    /* the sidecar runs its script directly and mounts the scripts read-only */
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(container(p1, "sidecar-db"), "command"), 0)),
                        sc);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(ts);
    json_decref(tr2);
    json_decref(tr);
}

static void test_podspec_missing_image_config_is_enoent_listing_each_image_once(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"image\":\"busybox\",\"args\":[\"-c\",\"x\"]},"
                   "{\"image\":\"busybox\"},{\"image\":\"alpine\",\"command\":[\"sh\"]},"
                   "{\"image\":\"ubuntu\"}]}");
    struct podspec_options o = default_options();
    struct podspec_error err = {0};
    json_t *pod = NULL;
    json_t *want = J("[\"busybox\",\"ubuntu\"]");

    assert_int_equal(podspec_build(tr, ts, &o, &pod, &err), -ENOENT);
    assert_null(pod);
    assert_non_null(err.message);
    assert_json_equal_msg(err.missing_images, want, "missing images");
    podspec_error_done(&err);
    json_decref(want);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_image_config_cmd_rules(void **state)
{
    /* no ENTRYPOINT: Cmd even with args; ENTRYPOINT + args: ENTRYPOINT only; no args: both */
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"image\":\"busybox\",\"args\":[\"-c\",\"echo hi\"]},"
                   "{\"image\":\"ep\",\"args\":[\"x\"]},{\"image\":\"ep\"}]}");
    json_t *configs = J("{\"busybox\":{\"platforms\":{\"linux/amd64\":{\"cmd\":[\"sh\"]}}},"
                        "\"ep\":{\"platforms\":{\"linux/amd64\":{\"entrypoint\":[\"/e\"],"
                        "\"cmd\":[\"--help\"]}}}}");
    static const char *const want[] = {
        "{\"linux/amd64\":[\"sh\"]}",
        "{\"linux/amd64\":[\"/e\"]}",
        "{\"linux/amd64\":[\"/e\",\"--help\"]}",
    };
    struct podspec_options o = default_options();
    json_t *pod;

    o.image_configs = configs;
    pod = build_ok(tr, ts, &o);
    for (size_t i = 0; i < 3; i++) {
        const json_t *c =
            json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), i);
        const json_t *env0 = json_array_get(json_object_get(c, "env"), 0);
        const json_t *args = json_object_get(c, "args");

        assert_string_equal(json_string_value(json_object_get(env0, "name")),
                            "TEKTON_PLATFORM_COMMANDS");
        if (strcmp(json_string_value(json_object_get(env0, "value")), want[i]) != 0)
            fail_msg("step %zu: got %s", i, json_string_value(json_object_get(env0, "value")));
        /* no -entrypoint flag: the entrypoint picks the command by platform */
        for (size_t k = 0; k < json_array_size(args); k++)
            assert_string_not_equal(json_string_value(json_array_get(args, k)), "-entrypoint");
        /* the image stays as written when the config carries no digest reference */
        assert_non_null(json_object_get(c, "image"));
    }
    json_decref(pod);
    json_decref(configs);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_ready_immediately_without_waiting(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"image\":\"a\",\"command\":[\"true\"]}]}");
    struct podspec_options o = default_options();
    json_t *pod;
    const json_t *vols;
    const json_t *args;
    size_t i;
    const json_t *v;

    o.running_in_environment_with_injected_sidecars = false;
    pod = build_ok(tr, ts, &o);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(pod, "metadata"), "annotations"), "tekton.dev/ready")),
        "READY");
    vols = json_object_get(json_object_get(pod, "spec"), "volumes");
    json_array_foreach(vols, i, v) {
        assert_string_not_equal(json_string_value(json_object_get(v, "name")),
                                "tekton-internal-downward");
    }
    args = json_object_get(container(pod, "step-unnamed-0"), "args");
    assert_string_equal(json_string_value(json_array_get(args, 0)), "-post_file");
    json_decref(pod);

    /* a Task sidecar makes step 0 wait even without injected sidecars */
    json_decref(ts);
    ts = J("{\"steps\":[{\"image\":\"a\",\"command\":[\"true\"]}],"
           "\"sidecars\":[{\"name\":\"db\",\"image\":\"postgres\"}]}");
    pod = build_ok(tr, ts, &o);
    assert_null(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
                                "tekton.dev/ready"));
    args = json_object_get(container(pod, "step-unnamed-0"), "args");
    assert_string_equal(json_string_value(json_array_get(args, 1)), "/tekton/downward/ready");
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_volume_order_with_task_and_template_volumes(void **state)
{
    json_t *tr = J(TR("\"workspaces\":[{\"name\":\"w\",\"emptyDir\":{}}],"
                      "\"podTemplate\":{\"volumes\":[{\"name\":\"tpl\",\"emptyDir\":{}}]}"));
    json_t *ts = J("{\"volumes\":[{\"name\":\"task-vol\",\"emptyDir\":{}}],"
                   "\"steps\":[{\"image\":\"a\",\"script\":\"x\"},{\"image\":\"a\","
                   "\"command\":[\"b\"]}]}");
    static const char *const want[] = {
        "tekton-internal-workspace",
        "tekton-internal-home",
        "tekton-internal-results",
        "tekton-internal-steps",
        "tekton-internal-artifacts",
        "tekton-internal-scripts",
        "tekton-internal-bin",
        "tekton-internal-downward",
        "tekton-creds-init-home-0",
        "tekton-internal-run-0",
        "tekton-creds-init-home-1",
        "tekton-internal-run-1",
        "task-vol",
        NULL /* ws-<hash of w> */,
        "tpl",
    };
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    const json_t *vols = json_object_get(json_object_get(pod, "spec"), "volumes");
    char *ws = childname_fnv("ws-", "w", 5);

    assert_int_equal(json_array_size(vols), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *got = json_string_value(json_object_get(json_array_get(vols, i), "name"));

        if (strcmp(got, want[i] ? want[i] : ws) != 0)
            fail_msg("volume %zu: got '%s', want '%s'", i, got, want[i] ? want[i] : ws);
    }
    free(ws);
    json_decref(pod);

    /* creds-init off: no per-step creds volumes or mounts */
    o.disable_creds_init = true;
    pod = build_ok(tr, ts, &o);
    vols = json_object_get(json_object_get(pod, "spec"), "volumes");
    assert_int_equal(json_array_size(vols), sizeof(want) / sizeof(want[0]) - 2);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(container(pod, "step-unnamed-1"), "volumeMounts"),
                           1), /* right after the workspace mount */
            "name")),
        "tekton-internal-run-0");
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_duplicate_volume_name_is_einval(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"volumes\":[{\"name\":\"tekton-internal-home\",\"emptyDir\":{}}],"
                   "\"steps\":[{\"image\":\"a\",\"command\":[\"b\"]}]}");
    struct podspec_options o = default_options();
    struct podspec_error err = {0};
    json_t *pod = NULL;

    assert_int_equal(podspec_build(tr, ts, &o, &pod, &err), -EINVAL);
    assert_non_null(strstr(err.message, "tekton-internal-home"));
    assert_null(err.missing_images);
    podspec_error_done(&err);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_step_flags_on_error_timeout_results_when(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts =
        J("{\"results\":[{\"name\":\"a\"},{\"name\":\"b\",\"value\":\"$(steps.s.results.r)\"}],"
          "\"steps\":[{\"name\":\"s\",\"image\":\"i\",\"command\":[\"run\",\"x\"],"
          "\"args\":[\"y\"],\"onError\":\"continue\",\"timeout\":\"90s\","
          "\"stdoutConfig\":{\"path\":\"/o\"},\"stderrConfig\":{\"path\":\"/e\"},"
          "\"results\":[{\"name\":\"r\"},{\"name\":\"q\"}],"
          "\"when\":[{\"input\":\"true\",\"operator\":\"in\",\"values\":[\"true\"]}]}]}");
    json_t *want = J("[\"-wait_file\",\"/tekton/downward/ready\",\"-wait_file_content\","
                     "\"-post_file\",\"/tekton/run/0/out\",\"-termination_path\","
                     "\"/tekton/termination\",\"-step_metadata_dir\",\"/tekton/run/0/status\","
                     "\"-on_error\",\"continue\",\"-timeout\",\"1m30s\",\"-stdout_path\",\"/o\","
                     "\"-stderr_path\",\"/e\",\"-step_results\",\"r,q\",\"--when_expressions\","
                     "\"[{\\\"input\\\":\\\"true\\\",\\\"operator\\\":\\\"in\\\",\\\"values\\\":"
                     "[\\\"true\\\"]}]\",\"-results\",\"a\",\"-entrypoint\",\"run\",\"--\",\"x\","
                     "\"y\"]");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);

    assert_json_equal_msg(json_object_get(container(pod, "step-s"), "args"), want, "step args");
    json_decref(pod);
    json_decref(want);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_invalid_on_error_and_timeout_are_einval(void **state)
{
    static const char *const specs[] = {
        "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"],\"onError\":\"ignore\"}]}",
        "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"],\"timeout\":\"-5s\"}]}",
        "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"],\"timeout\":\"soon\"}]}",
        "{\"steps\":[{\"command\":[\"c\"]}]}",
        "{\"steps\":[]}",
        "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"],\"script\":\"x\"}]}",
    };
    json_t *tr = J(TR(""));
    struct podspec_options o = default_options();

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        json_t *ts = J(specs[i]);
        struct podspec_error err = {0};
        json_t *pod = NULL;
        int r = podspec_build(tr, ts, &o, &pod, &err);

        if (r != -EINVAL || !err.message || pod)
            fail_msg("spec %zu: got %d", i, r);
        podspec_error_done(&err);
        json_decref(ts);
    }
    json_decref(tr);
}

static void test_podspec_workdir_list_rule(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":["
                   "{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"/workspace/b/\"},"
                   "{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"./rel/dir\"},"
                   "{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"/workspace\"},"
                   "{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"/tmp/x\"},"
                   "{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"/workspace/a/../b\"},"
                   "{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"/workspace/a\"}]}");
    json_t *want = J("[\"--workdir\",\"/workspace/a\",\"--workdir\",\"/workspace/b\","
                     "\"--workdir\",\"rel/dir\"]");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    const json_t *init =
        json_array_get(json_object_get(json_object_get(pod, "spec"), "initContainers"), 0);
    const json_t *mounts = json_object_get(init, "volumeMounts");

    assert_json_equal_msg(json_object_get(init, "args"), want, "workdirs");
    /* no scripts: bin, steps, workspace */
    assert_int_equal(json_array_size(mounts), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 2), "name")),
                        "tekton-internal-workspace");
    json_decref(pod);
    json_decref(want);
    json_decref(ts);

    /* nothing to create, nothing to script: no args at all */
    ts = J("{\"steps\":[{\"image\":\"a\",\"command\":[\"c\"],\"workingDir\":\"/src\"}]}");
    pod = build_ok(tr, ts, &o);
    init = json_array_get(json_object_get(json_object_get(pod, "spec"), "initContainers"), 0);
    assert_null(json_object_get(init, "args"));
    assert_int_equal(json_array_size(json_object_get(init, "volumeMounts")), 2);
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_sidecars_get_workspace_but_no_internal_mounts(void **state)
{
    json_t *tr = J(TR("\"workspaces\":[{\"name\":\"w\",\"emptyDir\":{}}]"));
    json_t *ts = J("{\"steps\":[{\"image\":\"a\",\"command\":[\"c\"]}],"
                   "\"sidecars\":[{\"name\":\"db\",\"image\":\"pg\",\"computeResources\":"
                   "{\"limits\":{\"cpu\":\"1\"}}},{\"image\":\"x\",\"volumeMounts\":"
                   "[{\"name\":\"own\",\"mountPath\":\"/workspace/w\"}]}]}");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    const json_t *db = container(pod, "sidecar-db");
    const json_t *anon = container(pod, "sidecar");
    char *ws = childname_fnv("ws-", "w", 5);
    json_t *want_db = json_pack("{s:s, s:s, s:{s:{s:s}}, s:[{s:s, s:s}]}", "name", "sidecar-db",
                                "image", "pg", "resources", "limits", "cpu", "1", "volumeMounts",
                                "name", ws, "mountPath", "/workspace/w");

    assert_json_equal_msg(db, want_db, "sidecar-db");
    /* a sidecar that already mounts the path keeps its own mount only */
    assert_int_equal(json_array_size(json_object_get(anon, "volumeMounts")), 1);
    assert_null(json_object_get(anon, "terminationMessagePath"));
    free(ws);
    json_decref(want_db);
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_workspace_binding_types_table(void **state)
{
    static const struct {
        const char *binding; /* the source member of the binding */
        const char *want;    /* the Pod volume, without its name */
    } cases[] = {
        {"\"emptyDir\":{\"medium\":\"Memory\"}", "{\"emptyDir\":{\"medium\":\"Memory\"}}"},
        {"\"persistentVolumeClaim\":{\"claimName\":\"c\",\"readOnly\":true}",
         "{\"persistentVolumeClaim\":{\"claimName\":\"c\",\"readOnly\":true}}"},
        {"\"configMap\":{\"name\":\"cm\",\"items\":[{\"key\":\"k\",\"path\":\"p\"}]}",
         "{\"configMap\":{\"name\":\"cm\",\"items\":[{\"key\":\"k\",\"path\":\"p\"}]}}"},
        {"\"secret\":{\"secretName\":\"s\",\"defaultMode\":256}",
         "{\"secret\":{\"secretName\":\"s\",\"defaultMode\":256}}"},
        {"\"projected\":{\"sources\":[{\"configMap\":{\"name\":\"a\"}}]}",
         "{\"projected\":{\"sources\":[{\"configMap\":{\"name\":\"a\"}}]}}"},
        {"\"csi\":{\"driver\":\"secrets-store.csi.k8s.io\",\"readOnly\":true}",
         "{\"csi\":{\"driver\":\"secrets-store.csi.k8s.io\",\"readOnly\":true}}"},
        {"\"volumeClaimTemplate\":{\"metadata\":{\"name\":\"data\"},\"spec\":{}}",
         NULL /* checked below: claim named by podspec_build_pvcs */},
    };
    struct podspec_options o = default_options();
    char *vol_name = childname_fnv("ws-", "w", 5);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tr_text = NULL;
        json_t *tr;
        json_t *ts =
            J("{\"workspaces\":[{\"name\":\"w\",\"mountPath\":\"/data\",\"readOnly\":true}],"
              "\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}]}");
        json_t *pod;
        const json_t *vols;
        json_t *vol;
        json_t *want;
        const json_t *m0;

        if (asprintf(&tr_text, TR("\"workspaces\":[{\"name\":\"w\",%s}]"), cases[i].binding) < 0)
            fail();
        tr = J(tr_text);
        pod = build_ok(tr, ts, &o);
        vols = json_object_get(json_object_get(pod, "spec"), "volumes");
        vol = json_deep_copy(json_array_get(vols, json_array_size(vols) - 1));
        assert_string_equal(json_string_value(json_object_get(vol, "name")), vol_name);
        json_object_del(vol, "name");
        if (cases[i].want) {
            want = J(cases[i].want);
        } else {
            json_t *pvcs = NULL;
            char *msg = NULL;

            assert_int_equal(podspec_build_pvcs(tr, &pvcs, &msg), 0);
            want = json_pack(
                "{s:{s:O}}", "persistentVolumeClaim", "claimName",
                json_object_get(json_object_get(json_array_get(pvcs, 0), "metadata"), "name"));
            assert_int_equal(
                strncmp(json_string_value(json_object_get(
                            json_object_get(json_array_get(pvcs, 0), "metadata"), "name")),
                        "data-", 5),
                0);
            json_decref(pvcs);
        }
        assert_json_equal_msg(vol, want, cases[i].binding);
        /* the declaration's mountPath and readOnly reach the step */
        m0 = json_array_get(json_object_get(container(pod, "step-unnamed-0"), "volumeMounts"), 0);
        assert_string_equal(json_string_value(json_object_get(m0, "mountPath")), "/data");
        assert_true(json_is_true(json_object_get(m0, "readOnly")));
        json_decref(want);
        json_decref(vol);
        json_decref(pod);
        json_decref(ts);
        json_decref(tr);
        free(tr_text);
    }
    free(vol_name);
}

static void test_podspec_isolated_workspace_and_shared_claim(void **state)
{
    json_t *tr = J(TR("\"workspaces\":[{\"name\":\"a\",\"persistentVolumeClaim\":{\"claimName\":"
                      "\"c\"}},{\"name\":\"b\",\"persistentVolumeClaim\":{\"claimName\":\"c\"},"
                      "\"subPath\":\"sub\"},{\"name\":\"iso\",\"emptyDir\":{}}]"));
    json_t *ts =
        J("{\"workspaces\":[{\"name\":\"a\"},{\"name\":\"b\",\"readOnly\":true},"
          "{\"name\":\"iso\"}],\"steps\":[{\"name\":\"one\",\"image\":\"i\","
          "\"command\":[\"c\"],\"workspaces\":[{\"name\":\"iso\",\"mountPath\":\"/iso\"}]},"
          "{\"name\":\"two\",\"image\":\"i\",\"command\":[\"c\"]}]}");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    char *va = childname_fnv("ws-", "a", 5);
    char *viso = childname_fnv("ws-", "iso", 5);
    /* the step's own (isolated) mount sorts before template-only (shared) mounts */
    json_t *want_one =
        json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:s, s:b}]", "name", viso, "mountPath",
                  "/iso", "name", va, "mountPath", "/workspace/a", "name", va, "mountPath",
                  "/workspace/b", "subPath", "sub", "readOnly", 1);
    const json_t *m_one = json_object_get(container(pod, "step-one"), "volumeMounts");
    const json_t *m_two = json_object_get(container(pod, "step-two"), "volumeMounts");
    json_t *head = json_array();
    const json_t *vols = json_object_get(json_object_get(pod, "spec"), "volumes");
    size_t n = json_array_size(vols);

    for (size_t i = 0; i < 3; i++)
        json_array_append(head, json_array_get(m_one, i));
    assert_json_equal_msg(head, want_one, "isolated + shared mounts");
    /* step two does not see the isolated workspace */
    for (size_t i = 0; i < json_array_size(m_two); i++)
        assert_string_not_equal(
            json_string_value(json_object_get(json_array_get(m_two, i), "mountPath")), "/iso");
    /* one volume for the shared claim, one for iso */
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, n - 2), "name")),
                        va);
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, n - 1), "name")),
                        viso);
    free(va);
    free(viso);
    json_decref(head);
    json_decref(want_one);
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_pod_template_default_merge_and_env(void **state)
{
    json_t *tr = J(TR("\"podTemplate\":{\"nodeSelector\":{\"disk\":\"ssd\"},"
                      "\"env\":[{\"name\":\"A\",\"value\":\"tr\"},{\"name\":\"SECRET\","
                      "\"value\":\"no\"}]},\"serviceAccountName\":\"sa\",\"timeout\":\"0s\""));
    json_t *def =
        J("{\"env\":[{\"name\":\"A\",\"value\":\"def\"},{\"name\":\"B\",\"value\":\"def\"}],"
          "\"nodeSelector\":{\"disk\":\"hdd\"},\"schedulerName\":\"custom\","
          "\"hostNetwork\":true}");
    json_t *forbidden = J("[\"SECRET\"]");
    json_t *ts = J("{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"],\"env\":[{\"name\":\"A\","
                   "\"value\":\"step\"}]}],\"sidecars\":[{\"name\":\"s\",\"image\":\"x\"}]}");
    json_t *want_env = J("[{\"name\":\"A\",\"value\":\"step\"},{\"name\":\"A\",\"value\":\"tr\"},"
                         "{\"name\":\"B\",\"value\":\"def\"}]");
    struct podspec_options o = default_options();
    json_t *pod;
    const json_t *spec;

    o.default_pod_template = def;
    o.forbidden_env = forbidden;
    pod = build_ok(tr, ts, &o);
    spec = json_object_get(pod, "spec");
    assert_json_equal_msg(json_object_get(container(pod, "step-unnamed-0"), "env"), want_env,
                          "step env");
    assert_null(json_object_get(container(pod, "sidecar-s"), "env"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(spec, "nodeSelector"), "disk")), "ssd");
    assert_string_equal(json_string_value(json_object_get(spec, "schedulerName")), "custom");
    assert_true(json_is_true(json_object_get(spec, "hostNetwork")));
    assert_string_equal(json_string_value(json_object_get(spec, "serviceAccountName")), "sa");
    assert_int_equal(json_integer_value(json_object_get(spec, "activeDeadlineSeconds")),
                     2147483647);
    json_decref(pod);
    json_decref(want_env);
    json_decref(ts);
    json_decref(forbidden);
    json_decref(def);
    json_decref(tr);
}

static void test_podspec_metadata_retry_name_and_affinity_assistant(void **state)
{
    json_t *tr = J("{\"metadata\":{\"name\":\"t\",\"namespace\":\"ns\",\"uid\":\"u\","
                   "\"labels\":{\"app.kubernetes.io/managed-by\":\"someone\",\"x\":\"y\"},"
                   "\"annotations\":{\"app.kubernetes.io/managed-by\":\"a\",\"keep\":\"k\","
                   "\"pipeline.tekton.dev/affinity-assistant\":\"affinity-assistant-abc\"}},"
                   "\"spec\":{\"timeout\":\"1h30m\"},"
                   "\"status\":{\"retriesStatus\":[{},{}]}}");
    json_t *ts = J("{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}]}");
    json_t *want_terms = J("[{\"labelSelector\":{\"matchLabels\":{\"app.kubernetes.io/instance\":"
                           "\"affinity-assistant-abc\",\"app.kubernetes.io/component\":"
                           "\"affinity-assistant\"}},\"topologyKey\":\"kubernetes.io/hostname\"}]");
    struct podspec_options o = default_options();
    json_t *pod;
    const json_t *meta;

    o.managed_by = "tektite";
    pod = build_ok(tr, ts, &o);
    meta = json_object_get(pod, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "name")), "t-pod-retry2");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"),
                                                          "app.kubernetes.io/managed-by")),
                        "tektite");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"), "x")),
                        "y");
    assert_null(
        json_object_get(json_object_get(meta, "annotations"), "app.kubernetes.io/managed-by"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "annotations"), "keep")), "k");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(pod, "spec"), "activeDeadlineSeconds")),
        8100);
    assert_json_equal_msg(
        json_object_get(json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"),
                                        "podAffinity"),
                        "requiredDuringSchedulingIgnoredDuringExecution"),
        want_terms, "affinity terms");
    json_decref(pod);
    json_decref(want_terms);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_security_context_flag_only_on_prepare(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}]}");
    json_t *want = J("{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]},"
                     "\"runAsNonRoot\":true,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}");
    struct podspec_options o = default_options();
    json_t *pod;

    o.set_security_context = true;
    pod = build_ok(tr, ts, &o);
    assert_json_equal_msg(
        json_object_get(
            json_array_get(json_object_get(json_object_get(pod, "spec"), "initContainers"), 0),
            "securityContext"),
        want, "prepare securityContext");
    assert_null(json_object_get(container(pod, "step-unnamed-0"), "securityContext"));
    json_decref(pod);
    json_decref(want);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_keep_pod_on_cancel_mounts_downward_everywhere(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]},{\"image\":\"i\","
                   "\"command\":[\"c\"]}]}");
    struct podspec_options o = default_options();
    json_t *pod;
    const json_t *m;

    o.keep_pod_on_cancel = true;
    pod = build_ok(tr, ts, &o);
    m = json_array_get(json_object_get(container(pod, "step-unnamed-1"), "volumeMounts"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "tekton-internal-downward");
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_user_mount_at_workspace_replaces_implicit(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"volumes\":[{\"name\":\"mine\",\"emptyDir\":{}}],\"steps\":[{\"image\":\"i\","
                   "\"command\":[\"c\"],\"volumeMounts\":[{\"name\":\"mine\",\"mountPath\":"
                   "\"/workspace/\"}]}]}");
    struct podspec_options o = default_options();
    json_t *pod = build_ok(tr, ts, &o);
    const json_t *mounts = json_object_get(container(pod, "step-unnamed-0"), "volumeMounts");

    for (size_t i = 0; i < json_array_size(mounts); i++)
        assert_string_not_equal(
            json_string_value(json_object_get(json_array_get(mounts, i), "name")),
            "tekton-internal-workspace");
    json_decref(pod);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_credential_secrets_become_flags_volumes_and_mounts(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]},{\"image\":\"i\","
                   "\"command\":[\"c\"]}]}");
    json_t *secrets =
        J("[{\"metadata\":{\"name\":\"git-basic\",\"annotations\":{"
          "\"tekton.dev/git-1\":\"https://z.example\",\"tekton.dev/git-0\":\"https://a.example\","
          "\"tekton.dev/docker-0\":\"https://index.docker.io/v1/\",\"other\":\"x\"}},"
          "\"type\":\"kubernetes.io/basic-auth\"},"
          "{\"metadata\":{\"name\":\"plain\"},\"type\":\"Opaque\"},"
          "{\"metadata\":{\"name\":\"regcred\"},\"type\":\"kubernetes.io/dockerconfigjson\"},"
          "{\"metadata\":{\"name\":\"git-basic\"},\"type\":\"kubernetes.io/basic-auth\"},"
          "{\"metadata\":{\"name\":\"ssh\",\"annotations\":{\"tekton.dev/git-0\":"
          "\"github.com\"}},\"type\":\"kubernetes.io/ssh-auth\",\"data\":{}}]");
    json_t *want_flags = J("[\"-basic-docker=git-basic=https://index.docker.io/v1/\","
                           "\"-basic-git=git-basic=https://a.example\","
                           "\"-basic-git=git-basic=https://z.example\","
                           "\"-docker-config=regcred\",\"-ssh-git=ssh=github.com\"]");
    struct podspec_options o = default_options();
    struct podspec_error err = {0};
    json_t *pod;
    json_t *got_flags = json_array();
    const json_t *args;
    const json_t *vols;
    const json_t *mounts;
    char *v0 = childname_fnv("tekton-creds-", "git-basic", 8);
    size_t n;

    o.credential_secrets = secrets;
    pod = build_ok(tr, ts, &o);
    /* the flags follow -step_metadata_dir on every step */
    args = json_object_get(container(pod, "step-unnamed-1"), "args");
    for (size_t i = 8; i < 13; i++)
        json_array_append(got_flags, json_array_get(args, i));
    assert_string_equal(json_string_value(json_array_get(args, 7)), "/tekton/run/1/status");
    assert_json_equal_msg(got_flags, want_flags, "credential flags");
    /* one secret volume per matched Secret, right after the five internal emptyDirs */
    vols = json_object_get(json_object_get(pod, "spec"), "volumes");
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, 5), "name")), v0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(vols, 5), "secret"), "secretName")),
                        "git-basic");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(vols, 7), "secret"), "secretName")),
                        "ssh");
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, 8), "name")),
                        "tekton-internal-bin");
    /* mounted last, without readOnly */
    mounts = json_object_get(container(pod, "step-unnamed-0"), "volumeMounts");
    n = json_array_size(mounts);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(mounts, n - 3), "mountPath")),
        "/tekton/creds-secrets/git-basic");
    assert_null(json_object_get(json_array_get(mounts, n - 3), "readOnly"));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(mounts, n - 1), "mountPath")),
        "/tekton/creds-secrets/ssh");
    json_decref(pod);

    /* the known_hosts requirement refuses an ssh-auth Secret without it */
    o.require_git_ssh_secret_known_hosts = true;
    pod = NULL;
    assert_int_equal(podspec_build(tr, ts, &o, &pod, &err), -EINVAL);
    assert_non_null(strstr(err.message, "TaskRun validation failed. Git SSH Secret must have"));
    podspec_error_done(&err);

    /* disable-creds-init ignores the Secrets entirely: -entrypoint follows the metadata dir */
    o.disable_creds_init = true;
    pod = build_ok(tr, ts, &o);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(container(pod, "step-unnamed-0"), "args"), 9)),
                        "-entrypoint");
    json_decref(pod);
    free(v0);
    json_decref(got_flags);
    json_decref(want_flags);
    json_decref(secrets);
    json_decref(ts);
    json_decref(tr);
}

/* TaskRun computeResources, then default resources, then the LimitRange: Tekton's order. */
static void test_podspec_taskrun_compute_resources_and_limitrange_reach_steps(void **state)
{
    json_t *tr = J(TR("\"computeResources\":{\"requests\":{\"cpu\":\"1\"},"
                      "\"limits\":{\"memory\":\"1Gi\"}}"));
    json_t *ts = J("{\"steps\":[{\"name\":\"a\",\"image\":\"i\",\"command\":[\"c\"]},"
                   "{\"name\":\"b\",\"image\":\"i\",\"command\":[\"c\"],"
                   "\"computeResources\":{\"requests\":{\"cpu\":\"9\"}}}],"
                   "\"sidecars\":[{\"name\":\"s\",\"image\":\"x\"}]}");
    json_t *lrs = J("[{\"spec\":{\"limits\":[{\"type\":\"Container\",\"defaultRequest\":"
                    "{\"memory\":\"256Mi\",\"cpu\":\"4\"},\"min\":{\"memory\":\"200Mi\"}}]}}]");
    json_t *want = J("{\"requests\":{\"cpu\":\"500m\",\"memory\":\"200Mi\"},"
                     "\"limits\":{\"memory\":\"1Gi\"}}");
    struct podspec_options o = default_options();
    json_t *pod;

    o.limit_ranges = lrs;
    pod = build_ok(tr, ts, &o);
    assert_json_equal_msg(json_object_get(container(pod, "step-a"), "resources"), want, "step-a");
    assert_json_equal_msg(json_object_get(container(pod, "step-b"), "resources"), want, "step-b");
    assert_null(json_object_get(container(pod, "sidecar-s"), "resources"));
    json_decref(pod);
    json_decref(want);
    json_decref(lrs);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_default_container_resources_most_specific_wins(void **state)
{
    json_t *tr = J(TR(""));
    json_t *ts = J("{\"steps\":[{\"name\":\"a\",\"image\":\"i\",\"command\":[\"c\"]},"
                   "{\"name\":\"b\",\"image\":\"i\",\"command\":[\"c\"],\"computeResources\":"
                   "{\"limits\":{\"cpu\":\"3\"}}},{\"name\":\"exact\",\"image\":\"i\","
                   "\"command\":[\"c\"]}],\"sidecars\":[{\"name\":\"s\",\"image\":\"x\"}]}");
    json_t *defaults = J("{\"default\":{\"requests\":{\"cpu\":\"1m\"}},"
                         "\"prefix-step\":{\"requests\":{\"cpu\":\"2m\"}},"
                         "\"step-exact\":{\"requests\":{\"cpu\":\"3m\"}},"
                         "\"prepare\":{\"limits\":{\"memory\":\"64Mi\"}}}");
    static const struct {
        const char *container;
        const char *want; /* resources JSON */
    } cases[] = {
        {"step-a", "{\"requests\":{\"cpu\":\"2m\"}}"},
        {"step-b", "{\"limits\":{\"cpu\":\"3\"}}"}, /* has its own: untouched */
        {"step-exact", "{\"requests\":{\"cpu\":\"3m\"}}"},
        {"sidecar-s", "{\"requests\":{\"cpu\":\"1m\"}}"},
    };
    struct podspec_options o = default_options();
    json_t *pod;
    json_t *want_prepare = J("{\"limits\":{\"memory\":\"64Mi\"}}");

    o.default_container_resources = defaults;
    pod = build_ok(tr, ts, &o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *want = J(cases[i].want);

        assert_json_equal_msg(json_object_get(container(pod, cases[i].container), "resources"),
                              want, cases[i].container);
        json_decref(want);
    }
    assert_json_equal_msg(
        json_object_get(
            json_array_get(json_object_get(json_object_get(pod, "spec"), "initContainers"), 0),
            "resources"),
        want_prepare, "prepare");
    json_decref(want_prepare);
    json_decref(pod);
    json_decref(defaults);
    json_decref(ts);
    json_decref(tr);
}

static void test_podspec_hostile_shapes_never_crash(void **state)
{
    static const struct {
        const char *tr;
        const char *ts;
    } cases[] = {
        {"[]", "{}"},
        {"{\"metadata\":\"x\"}", "{\"steps\":[{\"image\":\"i\"}]}"},
        {TR(""), "[]"},
        {TR(""), "{\"steps\":\"x\"}"},
        {TR(""), "{\"steps\":[1,2]}"},
        {TR(""), "{\"steps\":[{\"image\":7,\"command\":\"c\"}]}"},
        {TR(""), "{\"steps\":[{\"image\":\"i\",\"command\":[1,{}],\"args\":{},\"env\":\"e\","
                 "\"volumeMounts\":[3,{\"mountPath\":4}],\"workingDir\":[],\"script\":5}],"
                 "\"stepTemplate\":{\"env\":[null,{\"name\":1}],\"securityContext\":\"s\"}}"},
        {TR("\"workspaces\":[1,{\"name\":\"w\"},{\"name\":\"v\",\"emptyDir\":3}]"),
         "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}]}"},
        {TR("\"workspaces\":[{\"name\":\"w\",\"emptyDir\":{}}]"),
         "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}],\"sidecars\":[\"s\",{}]}"},
        {TR("\"podTemplate\":[],\"timeout\":5,\"stepSpecs\":{}"),
         "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}]}"},
        {TR("\"podTemplate\":{\"env\":[1,{\"name\":2},{\"name\":\"A\"}],\"volumes\":\"v\"}"),
         "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"]}],\"volumes\":{},"
         "\"results\":[1,{\"name\":2}]}"},
        {TR("\"workspaces\":[{\"name\":\"w\",\"volumeClaimTemplate\":{\"metadata\":5}}]"),
         "{\"steps\":[{\"image\":\"i\",\"command\":[\"c\"],\"workspaces\":[1,{\"name\":\"w\"}]}],"
         "\"workspaces\":[{\"name\":\"w\",\"mountPath\":3}]}"},
        {TR(""), "{\"steps\":[{\"image\":\"i\",\"when\":[1,{\"input\":2}],\"results\":{}}]}"},
    };
    json_t *configs = J("{\"i\":{\"platforms\":[]},\"j\":{\"platforms\":{\"a\":{\"entrypoint\":"
                        "\"x\",\"cmd\":5}}}}");
    json_t *secrets =
        J("[1,{\"metadata\":{\"name\":\"s\",\"annotations\":{\"tekton.dev/git-0\":3}},"
          "\"type\":\"kubernetes.io/basic-auth\"}]");
    struct podspec_options o = default_options();

    o.image_configs = configs;
    o.credential_secrets = secrets;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *tr = J(cases[i].tr);
        json_t *ts = J(cases[i].ts);
        struct podspec_error err = {0};
        json_t *pod = NULL;
        json_t *pvcs = NULL;
        char *msg = NULL;
        int r = podspec_build(tr, ts, &o, &pod, &err);

        if (r < 0 && (!err.message || pod))
            fail_msg("case %zu: failure %d without a message", i, r);
        if (r == 0 && !json_is_object(pod))
            fail_msg("case %zu: success without a pod", i);
        podspec_error_done(&err);
        json_decref(pod);
        r = podspec_build_pvcs(tr, &pvcs, &msg);
        if (r < 0 && !msg)
            fail_msg("case %zu: pvc failure without a message", i);
        free(msg);
        json_decref(pvcs);
        json_decref(ts);
        json_decref(tr);
    }
    json_decref(secrets);
    json_decref(configs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_podspec_build_worked_example_matches_golden),
        cmocka_unit_test(test_podspec_build_git_clone_matches_golden),
        cmocka_unit_test(test_podspec_build_kaniko_matches_golden),
        cmocka_unit_test(test_podspec_build_pvcs_kaniko_matches_golden),
        cmocka_unit_test(test_childname_table),
        cmocka_unit_test(test_childname_long_suffix_stays_within_63_without_trailing_dash),
        cmocka_unit_test(test_childname_pod_retry_suffix),
        cmocka_unit_test(test_childname_fnv_matches_tekton_workspace_names),
        cmocka_unit_test(test_childname_restrict_truncates_and_trims),
        cmocka_unit_test(test_goduration_parse_and_format_table),
        cmocka_unit_test(test_goduration_parse_rejects_garbage),
        cmocka_unit_test(test_podspec_step_template_merge),
        cmocka_unit_test(test_podspec_script_preamble_table),
        cmocka_unit_test(test_podspec_script_replaces_step_template_command),
        cmocka_unit_test(test_podspec_script_names_are_deterministic_per_uid),
        cmocka_unit_test(test_podspec_missing_image_config_is_enoent_listing_each_image_once),
        cmocka_unit_test(test_podspec_image_config_cmd_rules),
        cmocka_unit_test(test_podspec_ready_immediately_without_waiting),
        cmocka_unit_test(test_podspec_volume_order_with_task_and_template_volumes),
        cmocka_unit_test(test_podspec_duplicate_volume_name_is_einval),
        cmocka_unit_test(test_podspec_step_flags_on_error_timeout_results_when),
        cmocka_unit_test(test_podspec_invalid_on_error_and_timeout_are_einval),
        cmocka_unit_test(test_podspec_workdir_list_rule),
        cmocka_unit_test(test_podspec_sidecars_get_workspace_but_no_internal_mounts),
        cmocka_unit_test(test_podspec_workspace_binding_types_table),
        cmocka_unit_test(test_podspec_isolated_workspace_and_shared_claim),
        cmocka_unit_test(test_podspec_pod_template_default_merge_and_env),
        cmocka_unit_test(test_podspec_metadata_retry_name_and_affinity_assistant),
        cmocka_unit_test(test_podspec_security_context_flag_only_on_prepare),
        cmocka_unit_test(test_podspec_keep_pod_on_cancel_mounts_downward_everywhere),
        cmocka_unit_test(test_podspec_user_mount_at_workspace_replaces_implicit),
        cmocka_unit_test(test_podspec_credential_secrets_become_flags_volumes_and_mounts),
        cmocka_unit_test(test_podspec_default_container_resources_most_specific_wins),
        cmocka_unit_test(test_podspec_taskrun_compute_resources_and_limitrange_reach_steps),
        cmocka_unit_test(test_podspec_hostile_shapes_never_crash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
