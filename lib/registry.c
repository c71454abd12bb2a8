/*
 * The OCI distribution client behind entrypoint lookup: manifests, indexes and config blobs
 * over lib/http, with Bearer/Basic auth, mirrors, redirects for blobs only and a digest cache.
 * Reference parsing is lib/imageref's and credential matching lib/dockerauth's; what to do
 * with a failure (condition, retry) is the caller's.
 */
#include "lib/registry.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "lib/dockerauth.h"
#include "lib/http.h"
#include "lib/imageref.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define LOG_MODULE "registry"

#define DEFAULT_TIMEOUT_MS   30000u
#define DEFAULT_MAX_MANIFEST (4u * 1024 * 1024)
#define DEFAULT_MAX_CONFIG   (8u * 1024 * 1024)
#define DEFAULT_TAG_TTL_MS   60000u
#define DEFAULT_CACHE        1024u
#define MAX_TOKEN            (64u * 1024)
#define MAX_REDIRECTS        5
#define MAX_PLATFORMS        64
#define TOKEN_DEFAULT_TTL_S  60

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"

struct endpoint {
    char *origin; /* scheme://host[:port] */
    char *root;   /* origin + API root path, e.g. http://127.0.0.1:5000/v2/mirror.gcr.io */
};

struct cache_entry {
    char *key;
    char *digest;   /* tag entries: what the tag pointed at */
    json_t *result; /* digest entries */
    uint64_t stamp; /* last use (digests) or expiry (tags and tokens) */
};

struct cache {
    struct cache_entry *e;
    size_t n, max;
};

struct registry {
    uv_loop_t *loop;
    struct http_client *hc;
    char **insecure;
    json_t *mirrors;
    char *platform;
    unsigned timeout_ms;
    size_t max_manifest, max_config;
    uint64_t tag_ttl_ms;
    struct cache digests, tags, tokens;
    uv_timer_t defer; /* delivers cache hits and cancellations from the loop */
    struct registry_lookup *lookups;
    bool closing;
    registry_closed_cb *closed_cb;
    void *closed_ctx;
};

enum step { STEP_TOP, STEP_CHILD, STEP_CONFIG, STEP_TOKEN };

struct registry_lookup {
    struct registry *reg;
    struct registry_lookup *next;
    char *image;
    struct imageref ref;
    char *username, *password; /* NULL: anonymous */
    char *identity;            /* "" anonymous, else a digest of the credentials (cache keys) */
    registry_done_cb *cb;
    void *ctx;
    struct http_request *req;
    struct endpoint *eps;
    size_t n_eps, ep;
    enum step step, resume; /* resume: the step a token request interrupted */
    char *url;              /* the request being made */
    char *url_saved;        /* the request to retry once a token arrives */
    char *auth;             /* Authorization value for the endpoint's origin, or NULL */
    bool retried_auth;
    int redirects;
    char *top_digest;
    char *blob_digest; /* the config being fetched, checked after any redirect */
    json_t *children;  /* [{"digest", "platform"}] still to fetch for an index */
    size_t child;
    char *platform_key; /* the index's key for the child being fetched, NULL for a manifest */
    json_t *platforms;
    json_t *ready;      /* a cache hit waiting for the loop */
    char *early_error;  /* a refusal before any request, waiting for the loop */
    bool pending_start; /* the first request waits for the loop */
};

/* ---- small helpers ---- */

static bool is_insecure(const struct registry *reg, const char *hostport)
{
    for (size_t i = 0; reg->insecure && reg->insecure[i]; i++)
        if (strcmp(reg->insecure[i], hostport) == 0)
            return true;
    return false;
}

/* "scheme://authority" of 'url' (a new string), or NULL when it is not absolute http(s). */
static char *url_origin(const char *url)
{
    const char *p;
    size_t n;

    if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return NULL;
    n = strcspn(p, "/?#");
    if (n == 0)
        return NULL;
    return xstrndup(url, (size_t)(p - url) + n);
}

static int digest_of(const char *body, size_t len, const char *algo, char **ret)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const EVP_MD *type = strcmp(algo, "sha512") == 0 ? EVP_sha512() : EVP_sha256();
    struct buf b;

    if (!EVP_Digest(body, len, md, &n, type, NULL))
        return -EIO;
    buf_init(&b, SIZE_MAX);
    (void)buf_printf(&b, "%s:", strcmp(algo, "sha512") == 0 ? "sha512" : "sha256");
    for (unsigned i = 0; i < n; i++)
        (void)buf_printf(&b, "%02x", md[i]);
    *ret = buf_take(&b);
    return 0;
}

/* ---- caches ---- */

static void cache_done(struct cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].digest);
        json_decref(c->e[i].result);
    }
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

static struct cache_entry *cache_find(struct cache *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0)
            return &c->e[i];
    return NULL;
}

/* The slot for 'key', emptied; when full the entry with the smallest stamp is reused. */
static struct cache_entry *cache_slot(struct cache *c, const char *key)
{
    struct cache_entry *e = cache_find(c, key);

    if (!e && c->n < c->max) {
        c->e = xrealloc(c->e, (c->n + 1) * sizeof(*c->e));
        e = &c->e[c->n++];
        memset(e, 0, sizeof(*e));
        e->key = xstrdup(key);
    } else if (!e) {
        e = &c->e[0];
        for (size_t i = 1; i < c->n; i++)
            if (c->e[i].stamp < e->stamp)
                e = &c->e[i];
        free(e->key);
        e->key = xstrdup(key);
    }
    free(e->digest);
    json_decref(e->result);
    e->digest = NULL;
    e->result = NULL;
    return e;
}

/* ---- pure parsers ---- */

static int bad(char **reterr_message, const char *what, const char *detail)
{
    *reterr_message = detail ? xasprintf("%s: %s", what, detail) : xstrdup(what);
    return -EBADMSG;
}

static bool is_one_of(const char *s, const char *a, const char *b)
{
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

static bool is_manifest_type(const char *mt)
{
    return is_one_of(mt, MT_DOCKER_MANIFEST, MT_OCI_MANIFEST);
}

static bool is_index_type(const char *mt)
{
    return is_one_of(mt, MT_DOCKER_LIST, MT_OCI_INDEX);
}

/* The media type to trust: a known Content-Type, else the body's own, else OCI's shape. */
static const char *pick_media_type(const json_t *root, const char *header)
{
    const char *body = json_string_value(json_object_get(root, "mediaType"));

    if (is_manifest_type(header) || is_index_type(header))
        return header;
    if (body)
        return body;
    if (json_is_array(json_object_get(root, "manifests")))
        return MT_OCI_INDEX;
    if (json_is_object(json_object_get(root, "config")))
        return MT_OCI_MANIFEST;
    return header;
}

static bool valid_descriptor_digest(const char *d)
{
    struct imageref ref = {0};
    char *msg = NULL;
    char *probe;
    int r;

    if (!d)
        return false;
    probe = xasprintf("x@%s", d);
    r = imageref_parse(probe, &ref, &msg);
    imageref_done(&ref);
    free(msg);
    free(probe);
    return r == 0;
}

static char *platform_key(const json_t *p)
{
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    const char *variant = json_string_value(json_object_get(p, "variant"));
    const char *osv = json_string_value(json_object_get(p, "os.version"));

    if (!os || !arch || !*os || !*arch)
        return NULL;
    return xasprintf("%s/%s%s%s%s%s", os, arch, variant && *variant ? "/" : "",
                     variant ? variant : "", osv && *osv ? ":" : "", osv ? osv : "");
}

static int parse_index(const json_t *root, json_t **ret, char **reterr_message)
{
    const json_t *list = json_object_get(root, "manifests");
    json_t *out = json_array();
    json_t *m;
    size_t i;

    if (!json_is_array(list)) {
        json_decref(out);
        return bad(reterr_message, "index has no \"manifests\" array", NULL);
    }
    json_array_foreach(list, i, m) {
        const char *digest = json_string_value(json_object_get(m, "digest"));
        char *key = platform_key(json_object_get(m, "platform"));

        if (!valid_descriptor_digest(digest)) {
            free(key);
            json_decref(out);
            return bad(reterr_message, "index entry has no valid \"digest\"", NULL);
        }
        if (key && strcmp(key, "unknown/unknown") != 0)
            json_array_append_new(out, json_pack("{s:s, s:s}", "digest", digest, "platform", key));
        free(key);
    }
    *ret = json_pack("{s:s, s:o}", "kind", "index", "manifests", out);
    return 0;
}

static int parse_image_manifest(const json_t *root, json_t **ret, char **reterr_message)
{
    const json_t *config = json_object_get(root, "config");
    const char *digest = json_string_value(json_object_get(config, "digest"));
    const char *mt = json_string_value(json_object_get(config, "mediaType"));
    const json_t *size = json_object_get(config, "size");

    if (!json_is_object(config))
        return bad(reterr_message, "manifest has no \"config\" object", NULL);
    if (!valid_descriptor_digest(digest))
        return bad(reterr_message, "manifest config has no valid \"digest\"", NULL);
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return bad(reterr_message, "manifest config has no valid \"size\"", NULL);
    if (!is_one_of(mt, MT_DOCKER_CONFIG, MT_OCI_CONFIG))
        return bad(reterr_message, "unsupported config media type", mt ? mt : "(none)");
    *ret = json_pack("{s:s, s:{s:s, s:s, s:I}}", "kind", "manifest", "config", "digest", digest,
                     "mediaType", mt, "size", json_integer_value(size));
    return 0;
}

int registry_parse_manifest(const char *body, size_t len, const char *media_type, json_t **ret,
                            char **reterr_message)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *mt;
    int r;

    if (!json_is_object(root)) {
        json_decref(root);
        return bad(reterr_message, "malformed manifest JSON", root ? "not an object" : jerr.text);
    }
    if (json_integer_value(json_object_get(root, "schemaVersion")) != 2) {
        json_decref(root);
        return bad(reterr_message, "unsupported manifest schemaVersion (want 2)", NULL);
    }
    mt = pick_media_type(root, media_type);
    if (is_index_type(mt))
        r = parse_index(root, ret, reterr_message);
    else if (is_manifest_type(mt))
        r = parse_image_manifest(root, ret, reterr_message);
    else
        r = bad(reterr_message, "unsupported manifest media type", mt ? mt : "(none)");
    json_decref(root);
    return r;
}

/* A JSON array of strings (copied), an empty one for null or absent, NULL for anything else. */
static json_t *string_array(const json_t *v)
{
    json_t *item;
    size_t i;

    if (!v || json_is_null(v))
        return json_array();
    if (!json_is_array(v))
        return NULL;
    json_array_foreach(v, i, item)
        if (!json_is_string(item))
            return NULL;
    return json_deep_copy(v);
}

int registry_parse_config(const char *body, size_t len, json_t **ret, char **reterr_message)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const json_t *config = json_object_get(root, "config");
    json_t *entrypoint = NULL, *cmd = NULL;
    const char *os = json_string_value(json_object_get(root, "os"));
    const char *arch = json_string_value(json_object_get(root, "architecture"));
    int r = 0;

    if (!json_is_object(root))
        r = bad(reterr_message, "malformed image config JSON", root ? "not an object" : jerr.text);
    else if (!os || !arch || !*os || !*arch)
        r = bad(reterr_message, "image config lacks \"os\" or \"architecture\"", NULL);
    else if (config && !json_is_object(config) && !json_is_null(config))
        r = bad(reterr_message, "image config \"config\" is not an object", NULL);
    if (r == 0) {
        entrypoint = string_array(json_object_get(config, "Entrypoint"));
        cmd = string_array(json_object_get(config, "Cmd"));
        if (!entrypoint || !cmd)
            r = bad(reterr_message, "image config Entrypoint or Cmd is not an array of strings",
                    NULL);
    }
    if (r == 0)
        *ret = json_pack("{s:s++, s:O, s:O}", "platform", os, "/", arch, "entrypoint", entrypoint,
                         "cmd", cmd);
    json_decref(entrypoint);
    json_decref(cmd);
    json_decref(root);
    return r;
}

/* ---- platforms ---- */

struct platform {
    char os[32], arch[32], variant[32];
};

/* Normalise as containerd does: aliases for arch, default variants for arm and arm64. */
static bool platform_parse(const char *s, struct platform *p)
{
    static const struct {
        const char *from, *to;
    } arch_alias[] = {{"x86_64", "amd64"}, {"x86-64", "amd64"}, {"aarch64", "arm64"},
                      {"armhf", "arm"},    {"armel", "arm"},    {"i386", "386"}};
    int n;

    memset(p, 0, sizeof(*p));
    n = sscanf(s, "%31[^/:]/%31[^/:]/%31[^/:]", p->os, p->arch, p->variant);
    if (n < 2)
        return false;
    for (size_t i = 0; i < sizeof(arch_alias) / sizeof(arch_alias[0]); i++)
        if (strcmp(p->arch, arch_alias[i].from) == 0)
            (void)snprintf(p->arch, sizeof(p->arch), "%s", arch_alias[i].to);
    if (strcmp(p->arch, "arm64") == 0 && (!*p->variant || strcmp(p->variant, "v8") == 0))
        (void)snprintf(p->variant, sizeof(p->variant), "v8");
    if (strcmp(p->arch, "arm") == 0 && !*p->variant)
        (void)snprintf(p->variant, sizeof(p->variant), "v7");
    if (strcmp(p->arch, "amd64") == 0 && strcmp(p->variant, "v1") == 0)
        p->variant[0] = '\0';
    return true;
}

static bool platform_matches(const char *key, const struct platform *want)
{
    struct platform got;

    return platform_parse(key, &got) && strcmp(got.os, want->os) == 0 &&
           strcmp(got.arch, want->arch) == 0 && strcmp(got.variant, want->variant) == 0;
}

const json_t *registry_select_platform(const json_t *platforms, const char *platform)
{
    struct platform want;
    const char *key;
    json_t *v;
    char *short_key;
    const json_t *found;

    if (!platform)
        return NULL;
    found = json_object_get(platforms, platform);
    if (found || !platform_parse(platform, &want))
        return found;
    json_object_foreach((json_t *)(uintptr_t)platforms, key, v)
        if (platform_matches(key, &want))
            return v;
    short_key = xasprintf("%s/%s", want.os, want.arch);
    found = json_object_get(platforms, short_key);
    free(short_key);
    return found;
}

/* ---- lookups ---- */

static void send_current(struct registry_lookup *lk);
static void start_endpoint(struct registry_lookup *lk);
static void maybe_teardown(struct registry *reg);

static void lookup_free(struct registry_lookup *lk)
{
    for (size_t i = 0; i < lk->n_eps; i++) {
        free(lk->eps[i].origin);
        free(lk->eps[i].root);
    }
    free(lk->eps);
    free(lk->image);
    imageref_done(&lk->ref);
    free(lk->username);
    free(lk->password);
    free(lk->identity);
    free(lk->url);
    free(lk->url_saved);
    free(lk->auth);
    free(lk->top_digest);
    free(lk->blob_digest);
    free(lk->platform_key);
    json_decref(lk->children);
    json_decref(lk->platforms);
    json_decref(lk->ready);
    free(lk->early_error);
    free(lk);
}

static void unlink_lookup(struct registry_lookup *lk)
{
    struct registry_lookup **p = &lk->reg->lookups;

    while (*p && *p != lk)
        p = &(*p)->next;
    if (*p)
        *p = lk->next;
}

/* Run the callback once and free the lookup; 'why' is the cause without the image. */
static void finish(struct registry_lookup *lk, int rc, const json_t *result, const char *why)
{
    struct registry *reg = lk->reg;
    char *msg = NULL;

    if (rc < 0) {
        msg = lk->early_error ? xstrdup(lk->early_error)
                              : xasprintf("cannot look up image '%s': %s", lk->image, why);
        log_debug("lookup failed",
                  json_pack("{s:s, s:i, s:s}", "image", lk->image, "rc", rc, "error", msg));
    }
    unlink_lookup(lk);
    lk->cb(lk->ctx, rc, result, msg);
    free(msg);
    lookup_free(lk);
    maybe_teardown(reg);
}

/* A failure: try the next endpoint (as containerd tries its next host), else report it. */
static void fail(struct registry_lookup *lk, int rc, const char *why)
{
    if (rc != -ECANCELED && !lk->reg->closing && lk->ep + 1 < lk->n_eps) {
        log_debug("endpoint failed, trying the next",
                  json_pack("{s:s, s:s, s:s}", "image", lk->image, "endpoint", lk->eps[lk->ep].root,
                            "error", why));
        lk->ep++;
        start_endpoint(lk);
        return;
    }
    finish(lk, rc, NULL, why);
}

static int errno_from_status(int status)
{
    if (status == 401 || status == 403)
        return -EACCES;
    if (status == 404)
        return -ENOENT;
    if (status >= 400 && status < 500)
        return -EINVAL;
    return -EIO;
}

/* "CODE: message" from a registry error body ({"errors":[...]} or a token server's). */
static char *registry_error_text(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const json_t *e = json_array_get(json_object_get(root, "errors"), 0);
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *message = json_string_value(json_object_get(e, "message"));
    char *out = NULL;

    if (!e)
        message = json_string_value(json_object_get(root, "details"));
    if (code || message)
        out = xasprintf("%s%s%.300s", code ? code : "", code && message ? ": " : "",
                        message ? message : "");
    json_decref(root);
    return out;
}

static void fail_status(struct registry_lookup *lk, const struct http_response *resp)
{
    char *text = registry_error_text(resp->body, resp->body_len);
    char *why =
        xasprintf("GET %s: %d%s%s", lk->url, resp->status, text ? " " : "", text ? text : "");

    fail(lk, errno_from_status(resp->status), why);
    free(why);
    free(text);
}

/* Digest results are anyone's, as in Tekton's cache; a tag's digest only for the same credentials.
 */
static char *cache_key(const struct registry_lookup *lk, const char *sep, const char *ref)
{
    if (strcmp(sep, ":") == 0)
        return xasprintf("%s/%s%s%s %s", lk->ref.registry, lk->ref.repository, sep, ref,
                         lk->identity);
    return xasprintf("%s/%s%s%s", lk->ref.registry, lk->ref.repository, sep, ref);
}

/*
 * Tokens by the credentials that obtained them, password included: a cached token must never
 * answer for a wrong password or for no credentials.
 */
static char *token_key(const struct registry_lookup *lk)
{
    return xasprintf("%s %s %s", lk->eps[lk->ep].origin, lk->ref.repository, lk->identity);
}

static void complete(struct registry_lookup *lk)
{
    struct registry *reg = lk->reg;
    char *context = imageref_context(&lk->ref);
    char *key = cache_key(lk, "@", lk->top_digest);
    json_t *result = json_pack("{s:s++, s:O}", "image", context, "@", lk->top_digest, "platforms",
                               lk->platforms);
    struct cache_entry *e = cache_slot(&reg->digests, key);

    e->result = json_incref(result);
    e->stamp = uv_now(reg->loop);
    if (lk->ref.tag) {
        char *tkey = cache_key(lk, ":", lk->ref.tag);

        e = cache_slot(&reg->tags, tkey);
        e->digest = xstrdup(lk->top_digest);
        e->stamp = uv_now(reg->loop) + reg->tag_ttl_ms;
        free(tkey);
    }
    free(key);
    free(context);
    finish(lk, 0, result, NULL);
    json_decref(result);
}

static void fetch_manifest(struct registry_lookup *lk, enum step step, const char *ref)
{
    free(lk->url);
    lk->url = xasprintf("%s/%s/manifests/%s", lk->eps[lk->ep].root, lk->ref.repository, ref);
    lk->step = step;
    send_current(lk);
}

static void fetch_next_child(struct registry_lookup *lk)
{
    const json_t *c = json_array_get(lk->children, lk->child);

    if (!c) {
        complete(lk);
        return;
    }
    free(lk->platform_key);
    lk->platform_key = xstrdup(json_string_value(json_object_get(c, "platform")));
    fetch_manifest(lk, STEP_CHILD, json_string_value(json_object_get(c, "digest")));
}

static void fetch_config(struct registry_lookup *lk, const json_t *parsed)
{
    const json_t *config = json_object_get(parsed, "config");
    json_int_t size = json_integer_value(json_object_get(config, "size"));
    char *why;

    if ((uint64_t)size > lk->reg->max_config) {
        why = xasprintf("config blob of %lld bytes is larger than the %zu-byte limit",
                        (long long)size, lk->reg->max_config);
        fail(lk, -E2BIG, why);
        free(why);
        return;
    }
    free(lk->blob_digest);
    lk->blob_digest = xstrdup(json_string_value(json_object_get(config, "digest")));
    free(lk->url);
    lk->url =
        xasprintf("%s/%s/blobs/%s", lk->eps[lk->ep].root, lk->ref.repository, lk->blob_digest);
    lk->step = STEP_CONFIG;
    lk->redirects = 0;
    send_current(lk);
}

/* The digest of 'resp' must be 'want' (registries are content-addressed). */
static bool check_digest(struct registry_lookup *lk, const struct http_response *resp,
                         const char *want, char **ret_digest)
{
    char *got = NULL;
    char *why;
    char algo[8] = "sha256";

    if (want)
        (void)snprintf(algo, sizeof(algo), "%.*s", (int)strcspn(want, ":"), want);
    if (digest_of(resp->body, resp->body_len, algo, &got) < 0) {
        fail(lk, -EIO, "cannot compute a digest");
        return false;
    }
    if (want && strcmp(got, want) != 0) {
        why = xasprintf("GET %s: content digest %s does not match %s", lk->url, got, want);
        fail(lk, -EBADMSG, why);
        free(why);
        free(got);
        return false;
    }
    if (ret_digest)
        *ret_digest = got;
    else
        free(got);
    return true;
}

static int parse_body(struct registry_lookup *lk, const struct http_response *resp, json_t **ret)
{
    char *ct = http_header_value(resp->headers, "Content-Type");
    char *msg = NULL, *why;
    int r;

    if (ct)
        ct[strcspn(ct, "; ")] = '\0';
    if (lk->step == STEP_CONFIG)
        r = registry_parse_config(resp->body, resp->body_len, ret, &msg);
    else
        r = registry_parse_manifest(resp->body, resp->body_len, ct, ret, &msg);
    free(ct);
    if (r < 0) {
        why = xasprintf("GET %s: %s", lk->url, msg);
        fail(lk, r, why);
        free(why);
        free(msg);
    }
    return r;
}

/* The index entries to fetch: the wanted platform only, or all, each platform once. */
static int select_children(struct registry_lookup *lk, const json_t *list, char **reterr_why)
{
    struct platform want;
    json_t *seen = json_object();
    json_t *m;
    size_t i;

    lk->children = json_array();
    if (lk->reg->platform)
        (void)platform_parse(lk->reg->platform, &want);
    json_array_foreach(list, i, m) {
        const char *key = json_string_value(json_object_get(m, "platform"));
        const char *digest = json_string_value(json_object_get(m, "digest"));
        const char *prev = json_string_value(json_object_get(seen, key));

        if (lk->reg->platform && !platform_matches(key, &want))
            continue;
        if (prev && strcmp(prev, digest) != 0) {
            *reterr_why = xasprintf("index lists platform %s twice with different digests", key);
            json_decref(seen);
            return -EBADMSG;
        }
        if (prev)
            continue;
        json_object_set_new(seen, key, json_string(digest));
        json_array_append(lk->children, m);
    }
    json_decref(seen);
    if (json_array_size(lk->children) == 0 || json_array_size(lk->children) > MAX_PLATFORMS) {
        *reterr_why = json_array_size(lk->children)
                          ? xasprintf("index lists more than %d platforms", MAX_PLATFORMS)
                      : lk->reg->platform
                          ? xasprintf("index has no manifest for platform %s", lk->reg->platform)
                          : xstrdup("index lists no platform");
        return json_array_size(lk->children) ? -E2BIG : -ENOENT;
    }
    return 0;
}

static void on_top_manifest(struct registry_lookup *lk, const struct http_response *resp)
{
    json_t *parsed = NULL;
    char *why = NULL;
    char *key;
    const struct cache_entry *hit;
    int r;

    if (!check_digest(lk, resp, lk->ref.digest, &lk->top_digest))
        return;
    if (parse_body(lk, resp, &parsed) < 0)
        return;
    /* a moved tag whose content we already know: no need to fetch configs again */
    key = cache_key(lk, "@", lk->top_digest);
    hit = cache_find(&lk->reg->digests, key);
    free(key);
    if (hit) {
        json_decref(parsed);
        json_decref(lk->platforms);
        lk->platforms = json_incref(json_object_get(hit->result, "platforms"));
        complete(lk);
        return;
    }
    if (strcmp(json_string_value(json_object_get(parsed, "kind")), "manifest") == 0) {
        fetch_config(lk, parsed);
        json_decref(parsed);
        return;
    }
    r = select_children(lk, json_object_get(parsed, "manifests"), &why);
    json_decref(parsed);
    if (r < 0) {
        fail(lk, r, why);
        free(why);
        return;
    }
    lk->child = 0;
    fetch_next_child(lk);
}

static void on_child_manifest(struct registry_lookup *lk, const struct http_response *resp)
{
    const json_t *c = json_array_get(lk->children, lk->child);
    json_t *parsed = NULL;
    char *why;

    if (!check_digest(lk, resp, json_string_value(json_object_get(c, "digest")), NULL))
        return;
    if (parse_body(lk, resp, &parsed) < 0)
        return;
    if (strcmp(json_string_value(json_object_get(parsed, "kind")), "manifest") != 0) {
        why = xasprintf("GET %s: an index inside an index is not supported", lk->url);
        fail(lk, -EBADMSG, why);
        free(why);
    } else {
        fetch_config(lk, parsed);
    }
    json_decref(parsed);
}

static void on_config(struct registry_lookup *lk, const struct http_response *resp)
{
    json_t *parsed = NULL;
    const char *key;

    if (!check_digest(lk, resp, lk->blob_digest, NULL))
        return;
    if (parse_body(lk, resp, &parsed) < 0)
        return;
    key = lk->platform_key ? lk->platform_key
                           : json_string_value(json_object_get(parsed, "platform"));
    json_object_set_new(lk->platforms, key,
                        json_pack("{s:O, s:O}", "entrypoint", json_object_get(parsed, "entrypoint"),
                                  "cmd", json_object_get(parsed, "cmd")));
    json_decref(parsed);
    if (lk->platform_key) {
        lk->child++;
        fetch_next_child(lk);
    } else {
        complete(lk);
    }
}

/* ---- authentication ---- */

static char *basic_auth(const struct registry_lookup *lk)
{
    char *plain = xasprintf("%s:%s", lk->username, lk->password);
    size_t n = strlen(plain);
    char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
    char *out;

    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)n);
    out = xasprintf("Basic %s", b64);
    explicit_bzero(plain, n);
    free(plain);
    free(b64);
    return out;
}

/* Percent-encode for a query value. */
static void put_query(struct buf *b, const char *name, const char *v)
{
    (void)buf_printf(b, "%s%s=", strchr(buf_str(b), '?') ? "&" : "?", name);
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            (void)buf_append(b, v, 1);
        else
            (void)buf_printf(b, "%%%02X", c);
    }
}

/*
 * One parameter of a challenge such as: Bearer realm="https://x/token",service="x",scope="y".
 * A new string or NULL.
 */
static char *challenge_param(const char *params, const char *name)
{
    size_t n = strlen(name);
    const char *p = params;

    while (*p) {
        const char *q;

        p += strspn(p, " ,");
        q = p + strcspn(p, "=");
        if (!*q)
            return NULL;
        if ((size_t)(q - p) == n && strncasecmp(p, name, n) == 0) {
            q++;
            if (*q == '"')
                return xstrndup(q + 1, strcspn(q + 1, "\""));
            return xstrndup(q, strcspn(q, ","));
        }
        p = q + 1;
        if (*p == '"') {
            p = strchr(p + 1, '"');
            if (!p)
                return NULL;
            p++;
        } else {
            p += strcspn(p, ",");
        }
    }
    return NULL;
}

/* The realm may only be plain HTTP where the registry itself is allowed to be. */
static bool realm_allowed(const struct registry *reg, const char *realm)
{
    char *origin = url_origin(realm);
    bool ok = origin && (strncmp(origin, "https://", 8) == 0 || is_insecure(reg, origin + 7));

    free(origin);
    return ok;
}

static void request_token(struct registry_lookup *lk, const char *params)
{
    char *realm = challenge_param(params, "realm");
    char *service = challenge_param(params, "service");
    char *scope = challenge_param(params, "scope");
    char *why;
    struct buf url;

    if (!realm || !realm_allowed(lk->reg, realm)) {
        why = xasprintf("GET %s: 401 with an unusable Bearer realm '%s'", lk->url,
                        realm ? realm : "");
        fail(lk, -EACCES, why);
        free(why);
        goto out;
    }
    buf_init(&url, SIZE_MAX);
    (void)buf_append_str(&url, realm);
    if (service)
        put_query(&url, "service", service);
    if (scope)
        put_query(&url, "scope", scope);
    else {
        char *own = xasprintf("repository:%s:pull", lk->ref.repository);

        put_query(&url, "scope", own);
        free(own);
    }
    lk->resume = lk->step;
    lk->step = STEP_TOKEN;
    free(lk->auth);
    lk->auth = lk->username ? basic_auth(lk) : NULL;
    free(lk->url_saved);
    lk->url_saved = lk->url;
    lk->url = buf_take(&url);
    send_current(lk);
out:
    free(realm);
    free(service);
    free(scope);
}

static void on_challenge(struct registry_lookup *lk, const struct http_response *resp)
{
    char *header = http_header_value(resp->headers, "WWW-Authenticate");

    if (lk->retried_auth || !header) {
        fail_status(lk, resp);
    } else if (strncasecmp(header, "Bearer ", 7) == 0) {
        lk->retried_auth = true;
        request_token(lk, header + 7);
    } else if (strncasecmp(header, "Basic", 5) == 0 && lk->username) {
        lk->retried_auth = true;
        free(lk->auth);
        lk->auth = basic_auth(lk);
        send_current(lk);
    } else {
        fail_status(lk, resp);
    }
    free(header);
}

static void on_token(struct registry_lookup *lk, const struct http_response *resp)
{
    json_t *root = NULL;
    const char *token;
    json_int_t ttl;
    struct cache_entry *e;
    char *key;

    if (resp->status != 200) {
        fail_status(lk, resp);
        return;
    }
    root = json_loadb(resp->body, resp->body_len, 0, NULL);
    token = json_string_value(json_object_get(root, "token"));
    if (!token || !*token)
        token = json_string_value(json_object_get(root, "access_token"));
    if (!token || !*token) {
        char *why = xasprintf("GET %s: token response has no \"token\"", lk->url);

        fail(lk, -EBADMSG, why);
        free(why);
        json_decref(root);
        return;
    }
    ttl = json_integer_value(json_object_get(root, "expires_in"));
    if (ttl <= 0 || ttl > 86400)
        ttl = TOKEN_DEFAULT_TTL_S;
    free(lk->auth);
    lk->auth = xasprintf("Bearer %s", token);
    key = token_key(lk);
    e = cache_slot(&lk->reg->tokens, key);
    e->digest = xstrdup(lk->auth);
    e->stamp = uv_now(lk->reg->loop) + (uint64_t)ttl * 1000 * 9 / 10;
    free(key);
    json_decref(root);
    free(lk->url);
    lk->url = lk->url_saved;
    lk->url_saved = NULL;
    lk->step = lk->resume;
    send_current(lk);
}

/* ---- requests ---- */

/* Blob downloads may be redirected (to a CDN); credentials stay with the registry's origin. */
static void on_redirect(struct registry_lookup *lk, const struct http_response *resp)
{
    char *location = http_header_value(resp->headers, "Location");
    char *origin = url_origin(lk->url);
    char *next = NULL, *next_origin = NULL;
    char *why = NULL;

    if (location && location[0] == '/' && location[1] != '/')
        next = xasprintf("%s%s", origin, location);
    else if (location)
        next = xstrdup(location);
    next_origin = next ? url_origin(next) : NULL;
    if (lk->step != STEP_CONFIG)
        why = xasprintf("GET %s: unexpected redirect (%d)", lk->url, resp->status);
    else if (!next_origin)
        why = xasprintf("GET %s: redirect without a usable Location", lk->url);
    else if (++lk->redirects > MAX_REDIRECTS)
        why = xasprintf("GET %s: more than %d redirects", lk->url, MAX_REDIRECTS);
    else if (strncmp(next_origin, "http://", 7) == 0 && !is_insecure(lk->reg, next_origin + 7))
        why = xasprintf("GET %s: redirect to plain HTTP '%s' refused", lk->url, next_origin);
    if (why) {
        fail(lk, -EBADMSG, why);
    } else {
        free(lk->url);
        lk->url = next;
        next = NULL;
        send_current(lk);
    }
    free(why);
    free(next);
    free(next_origin);
    free(origin);
    free(location);
}

static void on_http(void *ctx, int rc, const struct http_response *resp)
{
    struct registry_lookup *lk = ctx;
    char *why;

    lk->req = NULL;
    if (lk->reg->closing) {
        finish(lk, -ECANCELED, NULL, "registry client closed");
        return;
    }
    if (rc < 0) {
        why = xasprintf("GET %s: %s", lk->url, resp->error);
        fail(lk, rc, why);
        free(why);
        return;
    }
    if (lk->step == STEP_TOKEN) {
        on_token(lk, resp);
        return;
    }
    if (resp->status == 401) {
        on_challenge(lk, resp);
        return;
    }
    if (resp->status >= 300 && resp->status < 400) {
        on_redirect(lk, resp);
        return;
    }
    if (resp->status < 200 || resp->status >= 300) {
        fail_status(lk, resp);
        return;
    }
    lk->retried_auth = false;
    if (lk->step == STEP_TOP)
        on_top_manifest(lk, resp);
    else if (lk->step == STEP_CHILD)
        on_child_manifest(lk, resp);
    else
        on_config(lk, resp);
}

static void send_current(struct registry_lookup *lk)
{
    struct registry *reg = lk->reg;
    const char *accept =
        "Accept: " MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST;
    char *origin = url_origin(lk->url);
    const char *auth_origin = lk->step == STEP_TOKEN ? origin : lk->eps[lk->ep].origin;
    char *authz = NULL;
    const char *headers[3] = {NULL};
    size_t n = 0;
    struct http_request_spec spec = {
        .method = "GET",
        .url = lk->url,
        .headers = headers,
        .timeout_ms = reg->timeout_ms,
        .max_body = lk->step == STEP_CONFIG  ? reg->max_config
                    : lk->step == STEP_TOKEN ? MAX_TOKEN
                                             : reg->max_manifest,
    };
    int r;

    if (lk->step == STEP_TOP || lk->step == STEP_CHILD)
        headers[n++] = accept;
    /* never carry credentials to another host (a redirect target, a CDN) */
    if (lk->auth && origin && strcmp(origin, auth_origin) == 0) {
        authz = xasprintf("Authorization: %s", lk->auth);
        headers[n++] = authz;
    }
    r = http_request_start(reg->hc, &spec, on_http, lk, &lk->req);
    if (authz)
        explicit_bzero(authz, strlen(authz));
    free(authz);
    free(origin);
    if (r < 0) {
        char *why = xasprintf("GET %s: cannot start the request (%s)", lk->url, strerror(-r));

        finish(lk, r, NULL, why);
        free(why);
    }
}

static void start_endpoint(struct registry_lookup *lk)
{
    struct registry *reg = lk->reg;
    char *key = token_key(lk);
    const struct cache_entry *tok = cache_find(&reg->tokens, key);

    free(key);
    free(lk->auth);
    lk->auth = tok && tok->stamp > uv_now(reg->loop) ? xstrdup(tok->digest) : NULL;
    lk->retried_auth = false;
    free(lk->top_digest);
    lk->top_digest = NULL;
    json_decref(lk->children);
    lk->children = NULL;
    free(lk->platform_key);
    lk->platform_key = NULL;
    json_decref(lk->platforms);
    lk->platforms = json_object();
    fetch_manifest(lk, STEP_TOP, lk->ref.digest ? lk->ref.digest : lk->ref.tag);
}

/* ---- endpoints ---- */

/* One mirror endpoint as containerd reads hosts.toml: path + "/v2" unless override_path. */
static int endpoint_from(const struct registry *reg, const json_t *v, struct endpoint *ep,
                         char **reterr_why)
{
    const char *url =
        json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "url"));
    bool override = json_is_true(json_object_get(v, "override_path"));
    char *origin = url ? url_origin(url) : NULL;
    const char *path;
    size_t plen;

    if (!origin || (!json_is_string(v) && !json_is_object(v))) {
        free(origin);
        *reterr_why = xstrdup("an endpoint must be \"http(s)://host[:port][/path]\" or "
                              "{\"url\": ..., \"override_path\": bool}");
        return -EINVAL;
    }
    if (strncmp(origin, "http://", 7) == 0 && !is_insecure(reg, origin + 7)) {
        *reterr_why = xasprintf("endpoint '%s' is plain HTTP but '%s' is not listed insecure", url,
                                origin + 7);
        free(origin);
        return -EINVAL;
    }
    path = url + strlen(origin);
    plen = strcspn(path, "?#");
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    ep->origin = origin;
    if (override || (plen >= 3 && strncmp(path + plen - 3, "/v2", 3) == 0))
        ep->root = xasprintf("%s%.*s", origin, (int)plen, path);
    else
        ep->root = xasprintf("%s%.*s/v2", origin, (int)plen, path);
    return 0;
}

static int endpoints_for(const struct registry *reg, const char *host, struct endpoint **ret,
                         size_t *ret_n, char **reterr_why)
{
    const json_t *list = json_object_get(reg->mirrors, host);
    struct endpoint *eps;
    size_t n;

    if (!list)
        list = json_object_get(reg->mirrors, "_default");
    n = json_is_array(list) && json_array_size(list) > 0 ? json_array_size(list) : 1;
    eps = xcalloc(n, sizeof(*eps));
    if (!json_is_array(list) || json_array_size(list) == 0) {
        /* the registry itself; Docker Hub's API lives on registry-1.docker.io */
        const char *real = strcmp(host, "docker.io") == 0 ? "registry-1.docker.io" : host;

        eps[0].origin = xasprintf("%s://%s", is_insecure(reg, host) ? "http" : "https", real);
        eps[0].root = xasprintf("%s/v2", eps[0].origin);
    }
    for (size_t i = 0; json_is_array(list) && i < n; i++) {
        if (endpoint_from(reg, json_array_get(list, i), &eps[i], reterr_why) < 0) {
            for (size_t j = 0; j < i; j++) {
                free(eps[j].origin);
                free(eps[j].root);
            }
            free(eps);
            return -EINVAL;
        }
    }
    *ret = eps;
    *ret_n = n;
    return 0;
}

/* ---- the registry ---- */

static void on_closed(uv_handle_t *handle)
{
    struct registry *reg = handle->data;
    registry_closed_cb *cb = reg->closed_cb;
    void *ctx = reg->closed_ctx;

    cache_done(&reg->digests);
    cache_done(&reg->tags);
    cache_done(&reg->tokens);
    for (size_t i = 0; reg->insecure && reg->insecure[i]; i++)
        free(reg->insecure[i]);
    free(reg->insecure);
    json_decref(reg->mirrors);
    free(reg->platform);
    free(reg);
    if (cb)
        cb(ctx);
}

static void maybe_teardown(struct registry *reg)
{
    if (reg->closing && !reg->lookups && !uv_is_closing((uv_handle_t *)&reg->defer))
        uv_close((uv_handle_t *)&reg->defer, on_closed);
}

/* Deliver what waits for the loop: cache hits, early errors, and cancellations at close. */
static void on_defer(uv_timer_t *timer)
{
    struct registry *reg = timer->data;
    struct registry_lookup *lk, *next;

    for (lk = reg->lookups; lk; lk = next) {
        next = lk->next;
        if (reg->closing && !lk->req)
            finish(lk, -ECANCELED, NULL, "registry client closed");
        else if (lk->ready)
            finish(lk, 0, lk->ready, NULL);
        else if (lk->early_error)
            finish(lk, -EINVAL, NULL, NULL);
        else if (lk->pending_start) {
            lk->pending_start = false;
            start_endpoint(lk);
        }
    }
}

static int check_mirrors(const struct registry *reg, char **reterr_message)
{
    const char *host;
    json_t *list;

    if (reg->mirrors && !json_is_object(reg->mirrors)) {
        *reterr_message = xstrdup("invalid registry mirrors: not an object of endpoint lists");
        return -EINVAL;
    }
    json_object_foreach(reg->mirrors, host, list) {
        struct endpoint *eps = NULL;
        size_t n = 0;
        char *why = NULL;

        if (!json_is_array(list) || endpoints_for(reg, host, &eps, &n, &why) < 0) {
            *reterr_message = xasprintf("invalid registry mirrors for '%s': %s", host,
                                        why ? why : "not a list of endpoints");
            free(why);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            free(eps[i].origin);
            free(eps[i].root);
        }
        free(eps);
    }
    return 0;
}

int registry_new(uv_loop_t *loop, struct http_client *hc, const struct registry_options *opts,
                 struct registry **ret_registry, char **reterr_message)
{
    struct registry *reg = xcalloc(1, sizeof(*reg));
    size_t n = 0;

    reg->loop = loop;
    reg->hc = hc;
    while (opts->insecure && opts->insecure[n])
        n++;
    reg->insecure = xcalloc(n + 1, sizeof(*reg->insecure));
    for (size_t i = 0; i < n; i++)
        reg->insecure[i] = xstrdup(opts->insecure[i]);
    reg->mirrors = opts->mirrors ? json_deep_copy(opts->mirrors) : NULL;
    reg->platform = opts->platform ? xstrdup(opts->platform) : NULL;
    reg->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    reg->max_manifest = opts->max_manifest ? opts->max_manifest : DEFAULT_MAX_MANIFEST;
    reg->max_config = opts->max_config ? opts->max_config : DEFAULT_MAX_CONFIG;
    reg->tag_ttl_ms = opts->tag_ttl_ms ? opts->tag_ttl_ms : DEFAULT_TAG_TTL_MS;
    reg->digests.max = opts->cache_entries ? opts->cache_entries : DEFAULT_CACHE;
    reg->tags.max = reg->digests.max;
    reg->tokens.max = 64;
    uv_timer_init(loop, &reg->defer);
    reg->defer.data = reg;
    if (check_mirrors(reg, reterr_message) < 0) {
        reg->closing = true;
        maybe_teardown(reg);
        return -EINVAL;
    }
    *ret_registry = reg;
    return 0;
}

void registry_close(struct registry *reg, registry_closed_cb *done, void *ctx)
{
    if (!reg || reg->closing)
        return;
    reg->closing = true;
    reg->closed_cb = done;
    reg->closed_ctx = ctx;
    for (struct registry_lookup *lk = reg->lookups; lk; lk = lk->next)
        http_request_cancel(lk->req); /* its callback finishes the lookup */
    if (reg->lookups)
        uv_timer_start(&reg->defer, on_defer, 0, 0);
    maybe_teardown(reg);
}

/* A fresh cached answer for 'lk' (tag -> digest within its TTL, digest -> result), or NULL. */
static const json_t *cached(struct registry_lookup *lk)
{
    struct registry *reg = lk->reg;
    const char *digest = lk->ref.digest;
    struct cache_entry *e;
    char *key;

    if (!digest) {
        key = cache_key(lk, ":", lk->ref.tag);
        e = cache_find(&reg->tags, key);
        free(key);
        if (!e || e->stamp <= uv_now(reg->loop))
            return NULL;
        digest = e->digest;
    }
    key = cache_key(lk, "@", digest);
    e = cache_find(&reg->digests, key);
    free(key);
    if (!e)
        return NULL;
    e->stamp = uv_now(reg->loop);
    return e->result;
}

int registry_lookup(struct registry *reg, const char *image, const struct dockerauth *auth,
                    registry_done_cb *cb, void *ctx)
{
    struct registry_lookup *lk;
    struct dockerauth_cred cred;
    char *why = NULL;

    if (reg->closing)
        return -ESHUTDOWN;
    lk = xcalloc(1, sizeof(*lk));
    lk->reg = reg;
    lk->image = xstrdup(image);
    lk->cb = cb;
    lk->ctx = ctx;
    lk->next = reg->lookups;
    reg->lookups = lk;
    if (imageref_parse(image, &lk->ref, &why) < 0 ||
        endpoints_for(reg, lk->ref.registry, &lk->eps, &lk->n_eps, &why) < 0) {
        lk->early_error = why;
        uv_timer_start(&reg->defer, on_defer, 0, 0);
        return 0;
    }
    if (dockerauth_lookup(auth, lk->ref.registry, lk->ref.repository, &cred) == 0) {
        char *both = xasprintf("%s:%s", cred.username, cred.password);

        lk->username = xstrdup(cred.username);
        lk->password = xstrdup(cred.password);
        if (digest_of(both, strlen(both), "sha256", &lk->identity) < 0)
            lk->identity = xasprintf("%s:%s", cred.username, cred.password);
        explicit_bzero(both, strlen(both));
        free(both);
    } else {
        lk->identity = xstrdup("");
    }
    /* even a cache miss starts from the loop, so 'cb' can never run inside this call */
    lk->ready = json_incref((json_t *)(uintptr_t)cached(lk));
    lk->pending_start = !lk->ready;
    uv_timer_start(&reg->defer, on_defer, 0, 0);
    return 0;
}
