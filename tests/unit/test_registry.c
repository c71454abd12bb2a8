/*
 * Unit tests for lib/registry: the parsers, platform selection, and lookups against the fake
 * HTTP transport (scripted registry answers, no network).
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/dockerauth.h"
#include "lib/http.h"
#include "lib/registry.h"
#include "lib/xalloc.h"

#define FIXTURES "tests/unit/fixtures/registry/"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"

#define CONFIG_AMD64                                                                               \
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/kaniko/"          \
    "executor\"],\"Cmd\":null}}"
#define CONFIG_ARM64                                                                               \
    "{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]" \
    "}}"

static const char *const insecure[] = {"127.0.0.1:5000", NULL};

static char *read_fixture(const char *name)
{
    struct buf b;
    char *path = xasprintf(FIXTURES "%s", name);

    buf_init(&b, 1 << 20);
    if (buf_read_file(&b, path) < 0)
        fail_msg("cannot read fixture '%s'", path);
    free(path);
    return buf_take(&b);
}

static char *sha(const char *body)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    struct buf b;

    EVP_Digest(body, strlen(body), md, &n, EVP_sha256(), NULL);
    buf_init(&b, 256);
    (void)buf_append_str(&b, "sha256:");
    for (unsigned i = 0; i < n; i++)
        (void)buf_printf(&b, "%02x", md[i]);
    return buf_take(&b);
}

static char *manifest_for(const char *config, const char *mt, const char *config_mt)
{
    char *d = sha(config);
    char *m = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                        "\"%s\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[]}",
                        mt, config_mt, d, strlen(config));

    free(d);
    return m;
}

/* An index of two manifests (amd64, arm64/v8) plus an attestation entry. */
static char *index_for(const char *m_amd64, const char *m_arm64)
{
    char *d1 = sha(m_amd64), *d2 = sha(m_arm64);
    char *idx =
        xasprintf("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                  "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
                  "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                  "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
                  "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                  "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:"
                  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"size\":1,"
                  "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}",
                  d1, d2);

    free(d1);
    free(d2);
    return idx;
}

/* ---- fixture: a loop, a fake transport, a registry ---- */

struct fx {
    uv_loop_t loop;
    struct http_client *hc;
    struct registry *reg;
};

struct outcome {
    bool called;
    int rc;
    json_t *result;
    char *error;
};

static void on_done(void *ctx, int rc, const json_t *result, const char *error)
{
    struct outcome *o = ctx;

    assert_false(o->called);
    o->called = true;
    o->rc = rc;
    o->result = result ? json_deep_copy(result) : NULL;
    o->error = error ? xstrdup(error) : NULL;
}

static void outcome_done(struct outcome *o)
{
    json_decref(o->result);
    free(o->error);
    memset(o, 0, sizeof(*o));
}

static void fx_init(struct fx *f, const struct registry_options *opts)
{
    char *msg = NULL;

    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(http_client_new_fake(&f->loop, &f->hc), 0);
    if (registry_new(&f->loop, f->hc, opts, &f->reg, &msg) < 0)
        fail_msg("registry_new: %s", msg);
}

static void fx_done(struct fx *f)
{
    registry_close(f->reg, NULL, NULL);
    http_client_close(f->hc, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Start a lookup, check the callback waits for the loop, and run the loop until it ran. */
static void lookup(struct fx *f, const char *image, const struct dockerauth *auth,
                   struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(registry_lookup(f->reg, image, auth, on_done, o), 0);
    assert_false(o->called);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(o->called);
}

static const char *req_url(const struct fx *f, size_t i)
{
    const struct http_fake_record *r = http_fake_record(f->hc, i);

    assert_non_null(r);
    return r->url;
}

static const char *req_headers(const struct fx *f, size_t i)
{
    const struct http_fake_record *r = http_fake_record(f->hc, i);

    assert_non_null(r);
    return r->headers;
}

static void push_manifest(struct fx *f, const char *content_type, const char *body)
{
    char *h = content_type ? xasprintf("Content-Type: %s\n", content_type) : NULL;

    http_fake_push_headers(f->hc, 200, h, body);
    free(h);
}

/* 'got' must equal the JSON text 'want' (printed both ways on failure). */
static void assert_json(const json_t *got, const char *want)
{
    json_error_t jerr;
    json_t *w = json_loads(want, 0, &jerr);
    char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

    if (!w)
        fail_msg("bad expected JSON '%s': %s", want, jerr.text);
    if (!got || !json_equal(got, w))
        fail_msg("got %s\nwant %s", g ? g : "(null)", want);
    free(g);
    json_decref(w);
}

/* ---- the header helper this module added to lib/http ---- */

static void test_http_header_value_table(void **state)
{
    static const char headers[] = "Content-Type: application/json; charset=utf-8\n"
                                  "www-authenticate:   Bearer realm=\"x\"  \r\n"
                                  "Location:\n"
                                  "X-Long-Name: v\n";
    static const struct {
        const char *name, *want;
    } cases[] = {
        {"Content-Type", "application/json; charset=utf-8"},
        {"WWW-Authenticate", "Bearer realm=\"x\""},
        {"location", ""},
        {"X-Long", NULL},
        {"Missing", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = http_header_value(headers, cases[i].name);

        if ((!got) != (!cases[i].want) || (got && strcmp(got, cases[i].want) != 0))
            fail_msg("header '%s': got '%s'", cases[i].name, got ? got : "(null)");
        free(got);
    }
    assert_null(http_header_value("", "Location"));
}

/* ---- parsers ---- */

static void test_registry_parse_manifest_media_types_table(void **state)
{
    static const struct {
        const char *name, *file, *content_type, *want_kind, *why;
    } cases[] = {
        {"docker manifest list", "docker-manifest-list.json", NULL, "index", NULL},
        {"docker manifest list by header", "docker-manifest-list.json", MT_DOCKER_LIST, "index",
         NULL},
        {"oci index", "oci-index-with-attestation.json", "application/json", "index", NULL},
        {"oci manifest without mediaType", "oci-manifest-no-mediatype.json", NULL, "manifest",
         NULL},
        {"oci manifest with its header", "oci-manifest-no-mediatype.json", MT_OCI_MANIFEST,
         "manifest", NULL},
        {"schema 1 refused", "schema1.json", NULL, NULL, "unsupported manifest schemaVersion"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = read_fixture(cases[i].file);
        json_t *out = NULL;
        char *msg = NULL;
        int r = registry_parse_manifest(body, strlen(body), cases[i].content_type, &out, &msg);

        if (cases[i].want_kind &&
            (r != 0 || strcmp(json_string_value(json_object_get(out, "kind")), cases[i].want_kind)))
            fail_msg("case '%s': rc %d (%s)", cases[i].name, r, msg ? msg : "");
        if (!cases[i].want_kind && (r != -EBADMSG || !strstr(msg, cases[i].why)))
            fail_msg("case '%s': rc %d message '%s'", cases[i].name, r, msg ? msg : "(null)");
        json_decref(out);
        free(msg);
        free(body);
    }
}

static void test_registry_parse_manifest_index_keys_skip_attestations(void **state)
{
    char *list = read_fixture("docker-manifest-list.json");
    char *oci = read_fixture("oci-index-with-attestation.json");
    json_t *out = NULL;
    char *msg = NULL;

    assert_int_equal(registry_parse_manifest(list, strlen(list), NULL, &out, &msg), 0);
    assert_json(
        json_object_get(out, "manifests"),
        "[{\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
        "\"platform\":\"linux/amd64\"},"
        "{\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\","
        "\"platform\":\"linux/arm/v7\"},"
        "{\"digest\":\"sha256:3333333333333333333333333333333333333333333333333333333333333333\","
        "\"platform\":\"linux/arm64/v8\"},"
        "{\"digest\":\"sha256:4444444444444444444444444444444444444444444444444444444444444444\","
        "\"platform\":\"windows/amd64:10.0.17763.5820\"}]");
    json_decref(out);
    assert_int_equal(registry_parse_manifest(oci, strlen(oci), NULL, &out, &msg), 0);
    assert_int_equal(json_array_size(json_object_get(out, "manifests")), 1);
    json_decref(out);
    free(list);
    free(oci);
}

static void test_registry_parse_manifest_refusals_table(void **state)
{
    static const struct {
        const char *name, *body, *content_type, *why;
    } cases[] = {
        {"malformed JSON", "{\"schemaVersion\": 2,", NULL, "malformed manifest JSON"},
        {"not an object", "[2]", NULL, "malformed manifest JSON: not an object"},
        {"unknown media type", "{\"schemaVersion\":2,\"mediaType\":\"application/x-foo\"}", NULL,
         "unsupported manifest media type: application/x-foo"},
        {"no way to tell", "{\"schemaVersion\":2}", "text/plain",
         "unsupported manifest media type: text/plain"},
        {"helm chart config",
         "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
         "\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\",\"digest\":"
         "\"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"size\":1}}",
         NULL, "unsupported config media type: application/vnd.cncf.helm.config.v1+json"},
        {"config without digest",
         "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST
         "\",\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"size\":1}}",
         NULL, "manifest config has no valid \"digest\""},
        {"config with negative size",
         "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST
         "\",\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"size\":-1,\"digest\":"
         "\"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"}}",
         NULL, "no valid \"size\""},
        {"index entry with a bad digest",
         "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX
         "\",\"manifests\":[{\"digest\":\"sha256:xyz\"}]}",
         NULL, "index entry has no valid \"digest\""},
        {"index without manifests", "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\"}",
         NULL, "index has no \"manifests\" array"},
        {"duplicate keys", "{\"schemaVersion\":2,\"schemaVersion\":2}", NULL,
         "malformed manifest JSON"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *out = NULL;
        char *msg = NULL;
        int r = registry_parse_manifest(cases[i].body, strlen(cases[i].body), cases[i].content_type,
                                        &out, &msg);

        if (r != -EBADMSG || !msg || !strstr(msg, cases[i].why))
            fail_msg("case '%s': rc %d message '%s'", cases[i].name, r, msg ? msg : "(null)");
        assert_null(out);
        free(msg);
    }
}

static void test_registry_parse_config_table(void **state)
{
    static const struct {
        const char *name, *body, *want, *why;
    } cases[] = {
        {"cmd only", "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"sh\"]}}",
         "{\"platform\":\"linux/amd64\",\"entrypoint\":[],\"cmd\":[\"sh\"]}", NULL},
        {"variant left out of the key", CONFIG_ARM64,
         "{\"platform\":\"linux/arm64\",\"entrypoint\":[],\"cmd\":[\"sh\"]}", NULL},
        {"entrypoint with null cmd", CONFIG_AMD64,
         "{\"platform\":\"linux/amd64\",\"entrypoint\":[\"/kaniko/executor\"],\"cmd\":[]}", NULL},
        {"no config section", "{\"os\":\"linux\",\"architecture\":\"s390x\"}",
         "{\"platform\":\"linux/s390x\",\"entrypoint\":[],\"cmd\":[]}", NULL},
        {"missing os", "{\"architecture\":\"amd64\"}", NULL, "lacks \"os\" or \"architecture\""},
        {"cmd as a string",
         "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Cmd\":\"sh\"}}", NULL,
         "not an array of strings"},
        {"entrypoint with a number",
         "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[1]}}", NULL,
         "not an array of strings"},
        {"config not an object", "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":[]}",
         NULL, "\"config\" is not an object"},
        {"truncated", "{\"os\":", NULL, "malformed image config JSON"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *out = NULL;
        char *msg = NULL;
        int r = registry_parse_config(cases[i].body, strlen(cases[i].body), &out, &msg);

        if (cases[i].want && r != 0)
            fail_msg("case '%s': rc %d (%s)", cases[i].name, r, msg);
        if (cases[i].want)
            assert_json(out, cases[i].want);
        else if (r != -EBADMSG || !strstr(msg, cases[i].why))
            fail_msg("case '%s': rc %d message '%s'", cases[i].name, r, msg ? msg : "(null)");
        json_decref(out);
        free(msg);
    }
}

static void test_registry_parse_config_fixtures(void **state)
{
    char *busybox = read_fixture("config-busybox.json");
    char *kaniko = read_fixture("config-kaniko.json");
    json_t *out = NULL;
    char *msg = NULL;

    assert_int_equal(registry_parse_config(busybox, strlen(busybox), &out, &msg), 0);
    assert_json(out, "{\"platform\":\"linux/amd64\",\"entrypoint\":[],\"cmd\":[\"sh\"]}");
    json_decref(out);
    assert_int_equal(registry_parse_config(kaniko, strlen(kaniko), &out, &msg), 0);
    assert_json(out,
                "{\"platform\":\"linux/arm64\",\"entrypoint\":[\"/kaniko/executor\"],\"cmd\":[]}");
    json_decref(out);
    free(busybox);
    free(kaniko);
}

static void test_registry_select_platform_table(void **state)
{
    json_t *full = json_pack("{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}", "linux/amd64", "k", "amd64",
                             "linux/arm64/v8", "k", "arm64", "linux/arm/v7", "k", "armv7",
                             "linux/arm/v6", "k", "armv6");
    json_t *plain = json_pack("{s:{s:s}, s:{s:s}}", "linux/arm64", "k", "arm64-plain",
                              "linux/amd64", "k", "amd64-plain");
    static const struct {
        const char *name;
        bool full;
        const char *platform, *want;
    } cases[] = {
        {"exact amd64", true, "linux/amd64", "amd64"},
        {"amd64 v1 is amd64", true, "linux/amd64/v1", "amd64"},
        {"x86_64 alias", true, "linux/x86_64", "amd64"},
        {"arm64 means arm64/v8", true, "linux/arm64", "arm64"},
        {"aarch64 alias", true, "linux/aarch64", "arm64"},
        {"exact arm v6", true, "linux/arm/v6", "armv6"},
        {"arm means arm/v7", true, "linux/arm", "armv7"},
        {"missing platform", true, "linux/s390x", NULL},
        {"other os", true, "windows/amd64", NULL},
        {"arm64/v8 finds plain arm64", false, "linux/arm64/v8", "arm64-plain"},
        {"amd64/v3 falls back to os/arch", false, "linux/amd64/v3", "amd64-plain"},
        {"garbage", false, "linux", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const json_t *got =
            registry_select_platform(cases[i].full ? full : plain, cases[i].platform);
        const char *k = json_string_value(json_object_get(got, "k"));

        if ((!k && cases[i].want) || (k && !cases[i].want) || (k && strcmp(k, cases[i].want) != 0))
            fail_msg("case '%s': got '%s', want '%s'", cases[i].name, k ? k : "(none)",
                     cases[i].want ? cases[i].want : "(none)");
    }
    json_decref(full);
    json_decref(plain);
}

/* ---- lookups ---- */

static void test_registry_lookup_plain_manifest_gives_one_platform(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);
    char *md = sha(m), *cd = sha(CONFIG_AMD64);
    char *want_config_url = xasprintf("http://127.0.0.1:5000/v2/kaniko/executor/blobs/%s", cd);
    char *want = xasprintf("{\"image\":\"127.0.0.1:5000/kaniko/executor@%s\",\"platforms\":"
                           "{\"linux/amd64\":{\"entrypoint\":[\"/kaniko/executor\"],\"cmd\":[]}}}",
                           md);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "127.0.0.1:5000/kaniko/executor:v1", NULL, &o);
    if (o.rc != 0)
        fail_msg("rc %d: %s", o.rc, o.error);
    assert_json(o.result, want);
    assert_int_equal(http_fake_count(f.hc), 2);
    assert_string_equal(req_url(&f, 0), "http://127.0.0.1:5000/v2/kaniko/executor/manifests/v1");
    assert_non_null(strstr(req_headers(&f, 0), MT_DOCKER_MANIFEST));
    assert_non_null(strstr(req_headers(&f, 0), MT_OCI_INDEX));
    assert_null(strstr(req_headers(&f, 0), "Authorization"));
    assert_string_equal(req_url(&f, 1), want_config_url);
    outcome_done(&o);
    fx_done(&f);
    free(m);
    free(md);
    free(cd);
    free(want);
    free(want_config_url);
}

static void test_registry_lookup_index_gives_every_platform(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    char *m1 = manifest_for(CONFIG_AMD64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *m2 = manifest_for(CONFIG_ARM64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *idx = index_for(m1, m2);
    char *id = sha(idx), *d2 = sha(m2);
    char *want = xasprintf("{\"image\":\"127.0.0.1:5000/tools@%s\",\"platforms\":{"
                           "\"linux/amd64\":{\"entrypoint\":[\"/kaniko/executor\"],\"cmd\":[]},"
                           "\"linux/arm64/v8\":{\"entrypoint\":[],\"cmd\":[\"sh\"]}}}",
                           id);
    char *want_child = xasprintf("http://127.0.0.1:5000/v2/tools/manifests/%s", d2);

    fx_init(&f, &opts);
    push_manifest(&f, MT_OCI_INDEX, idx);
    push_manifest(&f, MT_OCI_MANIFEST, m1);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    push_manifest(&f, MT_OCI_MANIFEST, m2);
    http_fake_push(f.hc, 200, CONFIG_ARM64);
    lookup(&f, "127.0.0.1:5000/tools", NULL, &o);
    if (o.rc != 0)
        fail_msg("rc %d: %s", o.rc, o.error);
    assert_json(o.result, want);
    assert_int_equal(http_fake_count(f.hc), 5); /* the attestation is never fetched */
    assert_string_equal(req_url(&f, 0), "http://127.0.0.1:5000/v2/tools/manifests/latest");
    assert_string_equal(req_url(&f, 3), want_child);
    outcome_done(&o);
    fx_done(&f);
    free(m1);
    free(m2);
    free(idx);
    free(id);
    free(d2);
    free(want);
    free(want_child);
}

static void test_registry_lookup_node_platform_fetches_only_that_one(void **state)
{
    struct registry_options opts = {.insecure = insecure, .platform = "linux/arm64"};
    struct fx f;
    struct outcome o;
    char *m1 = manifest_for(CONFIG_AMD64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *m2 = manifest_for(CONFIG_ARM64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *idx = index_for(m1, m2);

    fx_init(&f, &opts);
    push_manifest(&f, MT_OCI_INDEX, idx);
    push_manifest(&f, MT_OCI_MANIFEST, m2);
    http_fake_push(f.hc, 200, CONFIG_ARM64);
    lookup(&f, "127.0.0.1:5000/tools", NULL, &o);
    if (o.rc != 0)
        fail_msg("rc %d: %s", o.rc, o.error);
    assert_json(json_object_get(o.result, "platforms"),
                "{\"linux/arm64/v8\":{\"entrypoint\":[],\"cmd\":[\"sh\"]}}");
    assert_int_equal(http_fake_count(f.hc), 3);
    outcome_done(&o);
    fx_done(&f);
    free(m1);
    free(m2);
    free(idx);
}

static void test_registry_lookup_missing_platform_is_enoent_naming_it(void **state)
{
    struct registry_options opts = {.insecure = insecure, .platform = "linux/s390x"};
    struct fx f;
    struct outcome o;
    char *m1 = manifest_for(CONFIG_AMD64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *m2 = manifest_for(CONFIG_ARM64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *idx = index_for(m1, m2);

    fx_init(&f, &opts);
    push_manifest(&f, NULL, idx);
    lookup(&f, "127.0.0.1:5000/tools:1", NULL, &o);
    assert_int_equal(o.rc, -ENOENT);
    assert_string_equal(o.error, "cannot look up image '127.0.0.1:5000/tools:1': index has no "
                                 "manifest for platform linux/s390x");
    assert_int_equal(http_fake_count(f.hc), 1);
    outcome_done(&o);
    fx_done(&f);
    free(m1);
    free(m2);
    free(idx);
}

static void test_registry_lookup_index_with_conflicting_platforms_is_refused(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    const char *idx =
        "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
        "{\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

    fx_init(&f, &opts);
    push_manifest(&f, MT_OCI_INDEX, idx);
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(
        strstr(o.error, "index lists platform linux/amd64 twice with different digests"));
    assert_int_equal(http_fake_count(f.hc), 1);
    outcome_done(&o);
    fx_done(&f);
}

static void test_registry_lookup_index_inside_index_is_refused(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    char *m1 = manifest_for(CONFIG_AMD64, MT_OCI_MANIFEST, MT_OCI_CONFIG);
    char *inner = index_for(m1, m1);
    char *outer = index_for(inner, m1);

    fx_init(&f, &opts);
    push_manifest(&f, MT_OCI_INDEX, outer);
    push_manifest(&f, MT_OCI_INDEX, inner);
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(strstr(o.error, "an index inside an index is not supported"));
    outcome_done(&o);
    fx_done(&f);
    free(m1);
    free(inner);
    free(outer);
}

static void test_registry_lookup_manifest_unknown_names_code_and_message(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;

    fx_init(&f, &opts);
    http_fake_push(f.hc, 404,
                   "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
                   "\"detail\":{\"Tag\":\"nope\"}}]}");
    lookup(&f, "127.0.0.1:5000/x:nope", NULL, &o);
    assert_int_equal(o.rc, -ENOENT);
    assert_string_equal(o.error, "cannot look up image '127.0.0.1:5000/x:nope': GET "
                                 "http://127.0.0.1:5000/v2/x/manifests/nope: 404 MANIFEST_UNKNOWN: "
                                 "manifest unknown");
    outcome_done(&o);
    fx_done(&f);
}

static void test_registry_lookup_status_errno_table(void **state)
{
    static const struct {
        int status;
        const char *body;
        int want;
    } cases[] = {
        {500, "oops", -EIO},
        {503, "", -EIO},
        {400, "{\"errors\":[{\"code\":\"NAME_INVALID\"}]}", -EINVAL},
        {403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"no\"}]}", -EACCES},
        {429, "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}", -EINVAL},
        {401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}", -EACCES}, /* no challenge header */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct registry_options opts = {.insecure = insecure};
        struct fx f;
        struct outcome o;
        char *code = xasprintf(": %d", cases[i].status);

        fx_init(&f, &opts);
        http_fake_push(f.hc, cases[i].status, cases[i].body);
        lookup(&f, "127.0.0.1:5000/x", NULL, &o);
        if (o.rc != cases[i].want || !strstr(o.error, code))
            fail_msg("status %d: rc %d error '%s'", cases[i].status, o.rc, o.error);
        outcome_done(&o);
        fx_done(&f);
        free(code);
    }
}

static void test_registry_lookup_transport_failure_names_the_cause(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;

    fx_init(&f, &opts);
    http_fake_fail_nth(f.hc, 1, -ETIMEDOUT);
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -ETIMEDOUT);
    assert_non_null(strstr(o.error, "GET http://127.0.0.1:5000/v2/x/manifests/latest: fake"));
    outcome_done(&o);
    fx_done(&f);
}

static void test_registry_lookup_huge_manifest_is_e2big(void **state)
{
    struct registry_options opts = {.insecure = insecure, .max_manifest = 64};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -E2BIG);
    assert_non_null(strstr(o.error, "larger than the limit"));
    outcome_done(&o);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_config_past_ceiling_is_refused_unfetched(void **state)
{
    struct registry_options opts = {.insecure = insecure, .max_config = 16};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -E2BIG);
    assert_non_null(strstr(o.error, "larger than the 16-byte limit"));
    assert_int_equal(http_fake_count(f.hc), 1);
    outcome_done(&o);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_digest_mismatch_is_ebadmsg(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);
    const char *image = "127.0.0.1:5000/x@sha256:"
                        "0000000000000000000000000000000000000000000000000000000000000000";

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    lookup(&f, image, NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(strstr(o.error, "does not match sha256:0000"));
    outcome_done(&o);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_config_digest_mismatch_is_ebadmsg(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_ARM64);
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(strstr(o.error, "/blobs/sha256:"));
    assert_non_null(strstr(o.error, "does not match"));
    outcome_done(&o);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_tag_and_digest_fetches_by_digest(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);
    char *md = sha(m);
    char *image = xasprintf("127.0.0.1:5000/kaniko-project/executor:v1.5.1@%s", md);
    char *want_url = xasprintf("http://127.0.0.1:5000/v2/kaniko-project/executor/manifests/%s", md);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, image, NULL, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(req_url(&f, 0), want_url);
    outcome_done(&o);
    fx_done(&f);
    free(m);
    free(md);
    free(image);
    free(want_url);
}

static void test_registry_lookup_invalid_reference_fails_from_the_loop(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;

    fx_init(&f, &opts);
    lookup(&f, "Bad/Name", NULL, &o);
    assert_int_equal(o.rc, -EINVAL);
    assert_string_equal(o.error,
                        "invalid image reference 'Bad/Name': repository name must be lowercase");
    assert_int_equal(http_fake_count(f.hc), 0);
    outcome_done(&o);
    fx_done(&f);
}

/* ---- authentication ---- */

#define CHALLENGE                                                                                  \
    "WWW-Authenticate: Bearer realm=\"https://auth.example/token\",service=\"registry.example\","  \
    "scope=\"repository:team/app:pull\"\n"

static struct dockerauth *creds_with(const char *host, const char *password)
{
    struct dockerauth *da = dockerauth_new();
    char *cfg = xasprintf("{\"auths\":{\"%s\":{\"username\":\"user\",\"password\":\"%s\"}}}", host,
                          password);
    char *msg = NULL;

    assert_int_equal(dockerauth_add_config(da, cfg, strlen(cfg), false, "test", &msg), 0);
    free(cfg);
    return da;
}

static struct dockerauth *creds_for(const char *host)
{
    return creds_with(host, "pass");
}

static void test_registry_lookup_bearer_challenge_gets_a_token_with_basic_creds(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    struct dockerauth *da = creds_for("registry.example");
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE,
                           "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
                           "required\"}]}");
    http_fake_push(f.hc, 200, "{\"token\":\"tok1\",\"expires_in\":300}");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "registry.example/team/app:1", da, &o);
    if (o.rc != 0)
        fail_msg("rc %d: %s", o.rc, o.error);
    assert_int_equal(http_fake_count(f.hc), 4);
    assert_string_equal(req_url(&f, 0), "https://registry.example/v2/team/app/manifests/1");
    assert_string_equal(req_url(&f, 1), "https://auth.example/token?service=registry.example&"
                                        "scope=repository%3Ateam%2Fapp%3Apull");
    assert_non_null(strstr(req_headers(&f, 1), "Authorization: Basic dXNlcjpwYXNz"));
    assert_string_equal(req_url(&f, 2), "https://registry.example/v2/team/app/manifests/1");
    assert_non_null(strstr(req_headers(&f, 2), "Authorization: Bearer tok1"));
    assert_non_null(strstr(req_headers(&f, 3), "Authorization: Bearer tok1"));
    outcome_done(&o);
    dockerauth_free(da);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_anonymous_token_has_no_basic_auth(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401,
                           "WWW-Authenticate: Bearer realm=\"https://auth.docker.io/token\","
                           "service=\"registry.docker.io\"\n",
                           "");
    http_fake_push(f.hc, 200, "{\"access_token\":\"anon\"}");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "busybox", NULL, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(req_url(&f, 0),
                        "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
    assert_string_equal(req_url(&f, 1), "https://auth.docker.io/token?service=registry.docker.io&"
                                        "scope=repository%3Alibrary%2Fbusybox%3Apull");
    assert_null(strstr(req_headers(&f, 1), "Authorization"));
    assert_non_null(strstr(req_headers(&f, 2), "Authorization: Bearer anon"));
    assert_non_null(strstr(json_string_value(json_object_get(o.result, "image")),
                           "index.docker.io/library/busybox@sha256:"));
    outcome_done(&o);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_wrong_credentials_at_token_server_is_eacces(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    struct dockerauth *da = creds_for("registry.example");

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 401, "{\"details\":\"incorrect username or password\"}");
    lookup(&f, "registry.example/team/app:1", da, &o);
    assert_int_equal(o.rc, -EACCES);
    assert_non_null(strstr(o.error, "cannot look up image 'registry.example/team/app:1': GET "
                                    "https://auth.example/token?"));
    assert_non_null(strstr(o.error, ": 401 incorrect username or password"));
    outcome_done(&o);
    dockerauth_free(da);
    fx_done(&f);
}

static void test_registry_lookup_401_after_token_is_eacces_not_a_loop(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    struct dockerauth *da = creds_for("registry.example");

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 200, "{\"token\":\"weak\"}");
    http_fake_push_headers(f.hc, 401, CHALLENGE,
                           "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
                           "required\"}]}");
    lookup(&f, "registry.example/team/app:1", da, &o);
    assert_int_equal(o.rc, -EACCES);
    assert_string_equal(o.error, "cannot look up image 'registry.example/team/app:1': GET "
                                 "https://registry.example/v2/team/app/manifests/1: 401 "
                                 "UNAUTHORIZED: authentication required");
    assert_int_equal(http_fake_count(f.hc), 3);
    outcome_done(&o);
    dockerauth_free(da);
    fx_done(&f);
}

static void test_registry_lookup_basic_challenge_uses_credentials(void **state)
{
    const char *const local[] = {"127.0.0.1:5000", NULL};
    struct registry_options opts = {.insecure = local};
    struct fx f;
    struct outcome o;
    struct dockerauth *da = creds_for("127.0.0.1:5000");
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, "WWW-Authenticate: Basic realm=\"Registry Realm\"\n", "");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "127.0.0.1:5000/x", da, &o);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(req_headers(&f, 1), "Authorization: Basic dXNlcjpwYXNz"));
    assert_non_null(strstr(req_headers(&f, 2), "Authorization: Basic dXNlcjpwYXNz"));
    outcome_done(&o);
    dockerauth_free(da);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_basic_challenge_without_credentials_is_eacces(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, "WWW-Authenticate: Basic realm=\"r\"\n", "");
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -EACCES);
    assert_int_equal(http_fake_count(f.hc), 1);
    outcome_done(&o);
    fx_done(&f);
}

static void test_registry_lookup_plain_http_realm_is_refused(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    struct dockerauth *da = creds_for("registry.example");

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, "WWW-Authenticate: Bearer realm=\"http://evil.example/t\"\n",
                           "");
    lookup(&f, "registry.example/team/app", da, &o);
    assert_int_equal(o.rc, -EACCES);
    assert_non_null(strstr(o.error, "unusable Bearer realm 'http://evil.example/t'"));
    assert_int_equal(http_fake_count(f.hc), 1);
    outcome_done(&o);
    dockerauth_free(da);
    fx_done(&f);
}

static void test_registry_lookup_token_response_without_token_is_ebadmsg(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 200, "{\"token\":\"\"}");
    lookup(&f, "registry.example/team/app", NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(strstr(o.error, "token response has no \"token\""));
    outcome_done(&o);
    fx_done(&f);
}

/* ---- redirects ---- */

static void test_registry_lookup_blob_redirect_to_another_host_drops_auth(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    struct dockerauth *da = creds_for("registry.example");
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 200, "{\"token\":\"tok1\"}");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push_headers(f.hc, 307, "Location: /v2/team/app/blobs/moved\n", "");
    http_fake_push_headers(f.hc, 302, "Location: https://cdn.example/blob?sig=1\n", "");
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "registry.example/team/app:1", da, &o);
    if (o.rc != 0)
        fail_msg("rc %d: %s", o.rc, o.error);
    assert_int_equal(http_fake_count(f.hc), 6);
    assert_string_equal(req_url(&f, 4), "https://registry.example/v2/team/app/blobs/moved");
    assert_non_null(strstr(req_headers(&f, 4), "Authorization: Bearer tok1"));
    assert_string_equal(req_url(&f, 5), "https://cdn.example/blob?sig=1");
    assert_null(strstr(req_headers(&f, 5), "Authorization"));
    outcome_done(&o);
    dockerauth_free(da);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_manifest_redirect_is_refused(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o;

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 302, "Location: https://elsewhere.example/m\n", "");
    lookup(&f, "127.0.0.1:5000/x", NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(strstr(o.error, "unexpected redirect (302)"));
    assert_int_equal(http_fake_count(f.hc), 1);
    outcome_done(&o);
    fx_done(&f);
}

static void test_registry_lookup_blob_redirect_to_plain_http_is_refused(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push_headers(f.hc, 307, "Location: http://cdn.example/blob\n", "");
    lookup(&f, "gcr.io/p/i", NULL, &o);
    assert_int_equal(o.rc, -EBADMSG);
    assert_non_null(strstr(o.error, "redirect to plain HTTP 'http://cdn.example' refused"));
    outcome_done(&o);
    fx_done(&f);
    free(m);
}

/* ---- cache ---- */

static void test_registry_lookup_second_time_is_a_cache_hit_without_requests(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o1, o2, o3;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);
    char *md = sha(m);
    char *pinned = xasprintf("127.0.0.1:5000/x@%s", md);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "127.0.0.1:5000/x:1", NULL, &o1);
    assert_int_equal(o1.rc, 0);
    lookup(&f, "127.0.0.1:5000/x:1", NULL, &o2);
    assert_int_equal(o2.rc, 0);
    lookup(&f, pinned, NULL, &o3);
    assert_int_equal(o3.rc, 0);
    assert_int_equal(http_fake_count(f.hc), 2);
    assert_true(json_equal(o1.result, o2.result));
    assert_true(json_equal(o1.result, o3.result));
    outcome_done(&o1);
    outcome_done(&o2);
    outcome_done(&o3);
    fx_done(&f);
    free(m);
    free(md);
    free(pinned);
}

static void test_registry_lookup_expired_tag_resolves_again_but_reuses_configs(void **state)
{
    struct registry_options opts = {.insecure = insecure, .tag_ttl_ms = 1};
    struct fx f;
    struct outcome o1, o2;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "127.0.0.1:5000/x:1", NULL, &o1);
    assert_int_equal(o1.rc, 0);
    uv_sleep(5);
    uv_update_time(&f.loop);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    lookup(&f, "127.0.0.1:5000/x:1", NULL, &o2);
    assert_int_equal(o2.rc, 0);
    assert_int_equal(http_fake_count(f.hc), 3); /* the manifest again, not the config */
    assert_true(json_equal(o1.result, o2.result));
    outcome_done(&o1);
    outcome_done(&o2);
    fx_done(&f);
    free(m);
}

static void test_registry_lookup_token_is_reused_by_the_next_lookup(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome o1, o2;
    struct dockerauth *da = creds_for("registry.example");
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 200, "{\"token\":\"tok1\",\"expires_in\":300}");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "registry.example/team/app:1", da, &o1);
    assert_int_equal(o1.rc, 0);
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    lookup(&f, "registry.example/team/app:2", da, &o2);
    assert_int_equal(o2.rc, 0);
    assert_int_equal(http_fake_count(f.hc), 5);
    assert_non_null(strstr(req_headers(&f, 4), "Authorization: Bearer tok1"));
    outcome_done(&o1);
    outcome_done(&o2);
    dockerauth_free(da);
    fx_done(&f);
    free(m);
}

/*
 * What a lookup with the right password cached (the tag's digest, the token) must not answer a
 * lookup with a wrong password or with none: those ask the registry and are refused, as Tekton's
 * lookups of a tag always ask. The right credentials still hit the cache.
 */
static void test_registry_lookup_tag_cache_and_tokens_are_per_credentials(void **state)
{
    struct registry_options opts = {0};
    struct fx f;
    struct outcome good, wrong, anon, again;
    struct dockerauth *right = creds_for("registry.example");
    struct dockerauth *bad = creds_with("registry.example", "wrong");
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);
    const char *denied = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
                         "required\"}]}";

    fx_init(&f, &opts);
    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 200, "{\"token\":\"tok1\",\"expires_in\":300}");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "registry.example/team/app:1", right, &good);
    assert_int_equal(good.rc, 0);
    assert_int_equal(http_fake_count(f.hc), 4);

    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 401, "{\"details\":\"incorrect username or password\"}");
    lookup(&f, "registry.example/team/app:1", bad, &wrong);
    assert_int_equal(wrong.rc, -EACCES);
    assert_non_null(strstr(wrong.error, ": 401 incorrect username or password"));
    assert_int_equal(http_fake_count(f.hc), 6);
    assert_non_null(strstr(req_headers(&f, 5), "Authorization: Basic dXNlcjp3cm9uZw=="));

    http_fake_push_headers(f.hc, 401, CHALLENGE, "");
    http_fake_push(f.hc, 200, "{\"token\":\"anon\"}");
    http_fake_push_headers(f.hc, 401, CHALLENGE, denied);
    lookup(&f, "registry.example/team/app:1", NULL, &anon);
    assert_int_equal(anon.rc, -EACCES);
    assert_non_null(strstr(anon.error, "authentication required"));
    assert_int_equal(http_fake_count(f.hc), 9);
    assert_null(strstr(req_headers(&f, 7), "Authorization"));
    assert_non_null(strstr(req_headers(&f, 8), "Authorization: Bearer anon"));

    lookup(&f, "registry.example/team/app:1", right, &again);
    assert_int_equal(again.rc, 0);
    assert_int_equal(http_fake_count(f.hc), 9);
    assert_true(json_equal(good.result, again.result));
    outcome_done(&good);
    outcome_done(&wrong);
    outcome_done(&anon);
    outcome_done(&again);
    dockerauth_free(right);
    dockerauth_free(bad);
    fx_done(&f);
    free(m);
}

/* ---- mirrors and endpoints ---- */

/* What hack/cluster-up.sh writes into containerd's certs.d, as a mirror table. */
static json_t *cluster_mirrors(void)
{
    return json_pack("{s:[{s:s, s:b}], s:[{s:s, s:b}], s:[s]}", "mirror.gcr.io", "url",
                     "http://127.0.0.1:5000/v2/mirror.gcr.io", "override_path", 1, "docker.io",
                     "url", "http://127.0.0.1:5000/v2/docker.io", "override_path", 1, "_default",
                     "http://127.0.0.1:5000");
}

static void test_registry_lookup_mirror_urls_table(void **state)
{
    static const struct {
        const char *image, *url, *image_prefix;
    } cases[] = {
        {"mirror.gcr.io/alpine", "http://127.0.0.1:5000/v2/mirror.gcr.io/alpine/manifests/latest",
         "mirror.gcr.io/alpine@"},
        {"ubuntu:22.04", "http://127.0.0.1:5000/v2/docker.io/library/ubuntu/manifests/22.04",
         "index.docker.io/library/ubuntu@"},
        {"index.docker.io/library/bash:5",
         "http://127.0.0.1:5000/v2/docker.io/library/bash/manifests/5",
         "index.docker.io/library/bash@"},
        {"quay.io/org/tool:1", "http://127.0.0.1:5000/v2/org/tool/manifests/1",
         "quay.io/org/tool@"},
        {"127.0.0.1:5000/pushed:v", "http://127.0.0.1:5000/v2/pushed/manifests/v",
         "127.0.0.1:5000/pushed@"},
    };
    json_t *mirrors = cluster_mirrors();
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct registry_options opts = {.insecure = insecure, .mirrors = mirrors};
        struct fx f;
        struct outcome o;
        const char *image;

        fx_init(&f, &opts);
        push_manifest(&f, MT_DOCKER_MANIFEST, m);
        http_fake_push(f.hc, 200, CONFIG_AMD64);
        lookup(&f, cases[i].image, NULL, &o);
        image = json_string_value(json_object_get(o.result, "image"));
        if (o.rc != 0 || strcmp(req_url(&f, 0), cases[i].url) != 0 ||
            strncmp(image, cases[i].image_prefix, strlen(cases[i].image_prefix)) != 0)
            fail_msg("case '%s': rc %d url '%s' image '%s' (%s)", cases[i].image, o.rc,
                     req_url(&f, 0), image ? image : "", o.error ? o.error : "");
        outcome_done(&o);
        fx_done(&f);
    }
    json_decref(mirrors);
    free(m);
}

static void test_registry_lookup_upstream_urls_table(void **state)
{
    static const struct {
        const char *image, *url;
    } cases[] = {
        {"busybox", "https://registry-1.docker.io/v2/library/busybox/manifests/latest"},
        {"gcr.io/p/i:1", "https://gcr.io/v2/p/i/manifests/1"},
        {"ghcr.io/o/r", "https://ghcr.io/v2/o/r/manifests/latest"},
        {"localhost:5001/r", "https://localhost:5001/v2/r/manifests/latest"},
        {"127.0.0.1:5000/r", "http://127.0.0.1:5000/v2/r/manifests/latest"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct registry_options opts = {.insecure = insecure};
        struct fx f;
        struct outcome o;

        fx_init(&f, &opts);
        http_fake_push(f.hc, 404, "");
        lookup(&f, cases[i].image, NULL, &o);
        if (strcmp(req_url(&f, 0), cases[i].url) != 0)
            fail_msg("case '%s': url '%s'", cases[i].image, req_url(&f, 0));
        outcome_done(&o);
        fx_done(&f);
    }
}

static void test_registry_lookup_next_mirror_endpoint_after_a_failure(void **state)
{
    json_t *mirrors = json_pack("{s:[s, s]}", "gcr.io", "https://mirror-a.example",
                                "https://mirror-b.example/base");
    struct registry_options opts = {.mirrors = mirrors};
    struct fx f;
    struct outcome o;
    char *m = manifest_for(CONFIG_AMD64, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG);

    fx_init(&f, &opts);
    http_fake_push(f.hc, 503, "");
    push_manifest(&f, MT_DOCKER_MANIFEST, m);
    http_fake_push(f.hc, 200, CONFIG_AMD64);
    lookup(&f, "gcr.io/p/i", NULL, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(req_url(&f, 0), "https://mirror-a.example/v2/p/i/manifests/latest");
    assert_string_equal(req_url(&f, 1), "https://mirror-b.example/base/v2/p/i/manifests/latest");
    outcome_done(&o);
    fx_done(&f);
    json_decref(mirrors);
    free(m);
}

static void test_registry_new_refuses_bad_mirror_tables(void **state)
{
    static const struct {
        const char *name, *json, *why;
    } cases[] = {
        {"not an object", "[1]", "not an object of endpoint lists"},
        {"not a list", "{\"gcr.io\": \"http://x\"}", "for 'gcr.io': not a list of endpoints"},
        {"not a URL", "{\"gcr.io\": [\"127.0.0.1:5000\"]}", "an endpoint must be"},
        {"plain http not insecure", "{\"gcr.io\": [\"http://10.0.0.1:5000\"]}",
         "'10.0.0.1:5000' is not listed insecure"},
        {"object without url", "{\"_default\": [{\"override_path\": true}]}",
         "an endpoint must be"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uv_loop_t loop;
        struct http_client *hc;
        struct registry *reg = NULL;
        json_t *mirrors = json_loads(cases[i].json, 0, NULL);
        struct registry_options opts = {.insecure = insecure, .mirrors = mirrors};
        char *msg = NULL;
        int r;

        uv_loop_init(&loop);
        http_client_new_fake(&loop, &hc);
        r = registry_new(&loop, hc, &opts, &reg, &msg);
        if (r != -EINVAL || !msg || !strstr(msg, cases[i].why))
            fail_msg("case '%s': rc %d message '%s'", cases[i].name, r, msg ? msg : "(null)");
        free(msg);
        json_decref(mirrors);
        http_client_close(hc, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
    }
}

/* ---- shutdown ---- */

static void on_closed(void *ctx)
{
    *(bool *)ctx = true;
}

static void test_registry_close_cancels_lookups_in_flight(void **state)
{
    struct registry_options opts = {.insecure = insecure};
    struct fx f;
    struct outcome o1 = {0}, o2 = {0};
    bool closed = false;

    fx_init(&f, &opts);
    http_fake_push_open(f.hc, 200, NULL); /* a manifest that never finishes */
    assert_int_equal(registry_lookup(f.reg, "127.0.0.1:5000/slow", NULL, on_done, &o1), 0);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    assert_int_equal(registry_lookup(f.reg, "127.0.0.1:5000/queued", NULL, on_done, &o2), 0);
    registry_close(f.reg, on_closed, &closed);
    assert_int_equal(registry_lookup(f.reg, "127.0.0.1:5000/late", NULL, on_done, &o2), -ESHUTDOWN);
    http_client_close(f.hc, NULL, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_true(closed);
    assert_int_equal(o1.rc, -ECANCELED);
    assert_int_equal(o2.rc, -ECANCELED);
    assert_int_equal(uv_loop_close(&f.loop), 0);
    outcome_done(&o1);
    outcome_done(&o2);
}

/* The fuzz corpus as regression tests: any outcome but a crash or a leak. */
static void test_registry_parsers_fuzz_corpus_replays_cleanly(void **state)
{
    const char *dir = "tests/fuzz/corpus/manifest";
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char *path;
        struct buf b;
        json_t *out = NULL;
        char *msg = NULL;
        int r;

        if (e->d_name[0] == '.')
            continue;
        path = xasprintf("%s/%s", dir, e->d_name);
        buf_init(&b, 1 << 20);
        assert_int_equal(buf_read_file(&b, path), 0);
        r = registry_parse_manifest(b.data ? b.data : "", buf_len(&b), NULL, &out, &msg);
        if ((r == 0) != (out != NULL) || (r < 0 && (!msg || strchr(msg, '\n'))))
            fail_msg("corpus '%s': rc %d message '%s'", path, r, msg ? msg : "(null)");
        json_decref(out);
        free(msg);
        out = NULL;
        msg = NULL;
        r = registry_parse_config(b.data ? b.data : "", buf_len(&b), &out, &msg);
        if ((r == 0) != (out != NULL) || (r < 0 && !msg))
            fail_msg("corpus '%s' as config: rc %d", path, r);
        json_decref(out);
        free(msg);
        buf_done(&b);
        free(path);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_header_value_table),
        cmocka_unit_test(test_registry_parse_manifest_media_types_table),
        cmocka_unit_test(test_registry_parse_manifest_index_keys_skip_attestations),
        cmocka_unit_test(test_registry_parse_manifest_refusals_table),
        cmocka_unit_test(test_registry_parse_config_table),
        cmocka_unit_test(test_registry_parse_config_fixtures),
        cmocka_unit_test(test_registry_select_platform_table),
        cmocka_unit_test(test_registry_lookup_plain_manifest_gives_one_platform),
        cmocka_unit_test(test_registry_lookup_index_gives_every_platform),
        cmocka_unit_test(test_registry_lookup_node_platform_fetches_only_that_one),
        cmocka_unit_test(test_registry_lookup_missing_platform_is_enoent_naming_it),
        cmocka_unit_test(test_registry_lookup_index_with_conflicting_platforms_is_refused),
        cmocka_unit_test(test_registry_lookup_index_inside_index_is_refused),
        cmocka_unit_test(test_registry_lookup_manifest_unknown_names_code_and_message),
        cmocka_unit_test(test_registry_lookup_status_errno_table),
        cmocka_unit_test(test_registry_lookup_transport_failure_names_the_cause),
        cmocka_unit_test(test_registry_lookup_huge_manifest_is_e2big),
        cmocka_unit_test(test_registry_lookup_config_past_ceiling_is_refused_unfetched),
        cmocka_unit_test(test_registry_lookup_digest_mismatch_is_ebadmsg),
        cmocka_unit_test(test_registry_lookup_config_digest_mismatch_is_ebadmsg),
        cmocka_unit_test(test_registry_lookup_tag_and_digest_fetches_by_digest),
        cmocka_unit_test(test_registry_lookup_invalid_reference_fails_from_the_loop),
        cmocka_unit_test(test_registry_lookup_bearer_challenge_gets_a_token_with_basic_creds),
        cmocka_unit_test(test_registry_lookup_anonymous_token_has_no_basic_auth),
        cmocka_unit_test(test_registry_lookup_wrong_credentials_at_token_server_is_eacces),
        cmocka_unit_test(test_registry_lookup_401_after_token_is_eacces_not_a_loop),
        cmocka_unit_test(test_registry_lookup_basic_challenge_uses_credentials),
        cmocka_unit_test(test_registry_lookup_basic_challenge_without_credentials_is_eacces),
        cmocka_unit_test(test_registry_lookup_plain_http_realm_is_refused),
        cmocka_unit_test(test_registry_lookup_token_response_without_token_is_ebadmsg),
        cmocka_unit_test(test_registry_lookup_blob_redirect_to_another_host_drops_auth),
        cmocka_unit_test(test_registry_lookup_manifest_redirect_is_refused),
        cmocka_unit_test(test_registry_lookup_blob_redirect_to_plain_http_is_refused),
        cmocka_unit_test(test_registry_lookup_second_time_is_a_cache_hit_without_requests),
        cmocka_unit_test(test_registry_lookup_expired_tag_resolves_again_but_reuses_configs),
        cmocka_unit_test(test_registry_lookup_token_is_reused_by_the_next_lookup),
        cmocka_unit_test(test_registry_lookup_tag_cache_and_tokens_are_per_credentials),
        cmocka_unit_test(test_registry_lookup_mirror_urls_table),
        cmocka_unit_test(test_registry_lookup_upstream_urls_table),
        cmocka_unit_test(test_registry_lookup_next_mirror_endpoint_after_a_failure),
        cmocka_unit_test(test_registry_new_refuses_bad_mirror_tables),
        cmocka_unit_test(test_registry_close_cancels_lookups_in_flight),
        cmocka_unit_test(test_registry_parsers_fuzz_corpus_replays_cleanly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
