/*
 * Docker registry credentials: parse config.json / .dockercfg content and pull Secrets into a
 * keyring, and match an image to its credential as the kubelet does. Knows nothing of the
 * registry protocol (lib/registry sends the credential) or of where Secrets come from.
 */
#include "lib/dockerauth.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "lib/imageref.h"
#include "lib/xalloc.h"

#define MAX_CONFIG (1024 * 1024) /* a Docker config is a few KiB */

struct entry {
    char *host; /* host[:port], Docker Hub folded into docker.io */
    char *path; /* "" or "/prefix" */
    char *key;  /* host + path: the sort key */
    char *username;
    char *password;
    size_t seq; /* insertion order among equal keys */
};

struct dockerauth {
    struct entry *entries;
    size_t n;
};

struct dockerauth *dockerauth_new(void)
{
    return xcalloc(1, sizeof(struct dockerauth));
}

static void entry_done(struct entry *e)
{
    free(e->host);
    free(e->path);
    free(e->key);
    free(e->username);
    free(e->password);
}

void dockerauth_free(struct dockerauth *da)
{
    if (!da)
        return;
    for (size_t i = 0; i < da->n; i++)
        entry_done(&da->entries[i]);
    free(da->entries);
    free(da);
}

static int b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;

    return p ? (int)(p - alphabet) : -1;
}

int dockerauth_base64_decode(const char *in, size_t len, char **ret_data, size_t *ret_len)
{
    char *out;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -EINVAL;
    out = xmalloc(len * 3 / 4 + 1);
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);

        if (v < 0) {
            free(out);
            return -EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    *ret_data = out;
    *ret_len = n;
    return 0;
}

/* The kubelet's key: scheme dropped, "/v1/" and "/v2/" prefixes mean the bare host. */
static void split_key(const char *loc, struct entry *e)
{
    const char *p = strstr(loc, "://");
    const char *host = p ? p + 3 : loc;
    const char *slash = strchr(host, '/');
    const char *path = slash ? slash : "";
    char *h = slash ? xstrndup(host, (size_t)(slash - host)) : xstrdup(host);

    if (strncmp(path, "/v1/", 4) == 0 || strncmp(path, "/v2/", 4) == 0)
        path += 3;
    if (strcmp(path, "/") == 0)
        path = "";
    e->host = imageref_is_docker_hub(h) ? xstrdup("docker.io") : xstrdup(h);
    e->path = xstrdup(path);
    e->key = xasprintf("%s%s", e->host, e->path);
    free(h);
}

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static int entry_credentials(const json_t *v, struct entry *e, const char **reterr_why)
{
    const char *auth = json_string_value(json_object_get(v, "auth"));
    char *decoded = NULL;
    size_t len;
    char *colon;

    if (!json_is_object(v)) {
        *reterr_why = "entry is not an object";
        return -EINVAL;
    }
    if (!auth || !*auth) {
        e->username = xstrdup(str_or_empty(json_object_get(v, "username")));
        e->password = xstrdup(str_or_empty(json_object_get(v, "password")));
        return 0;
    }
    if (dockerauth_base64_decode(auth, strlen(auth), &decoded, &len) < 0 ||
        !(colon = strchr(decoded, ':'))) {
        free(decoded);
        *reterr_why = "\"auth\" is not base64 of user:password";
        return -EINVAL;
    }
    e->username = xstrndup(decoded, (size_t)(colon - decoded));
    e->password = xstrdup(colon + 1);
    free(decoded);
    return 0;
}

static int cmp_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(y->key, x->key); /* reverse: more specific paths first */

    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int add_map(struct dockerauth *da, json_t *auths, const char *source, char **reterr_message)
{
    struct entry *fresh = xcalloc(json_object_size(auths) + 1, sizeof(*fresh));
    const char *loc;
    const char *why = NULL;
    json_t *v;
    size_t n = 0;

    json_object_foreach(auths, loc, v) {
        split_key(loc, &fresh[n]);
        fresh[n].seq = da->n + n;
        if (entry_credentials(v, &fresh[n], &why) < 0) {
            *reterr_message =
                xasprintf("invalid docker config in %s: entry '%s': %s", source, loc, why);
            for (size_t i = 0; i <= n; i++)
                entry_done(&fresh[i]);
            free(fresh);
            return -EINVAL;
        }
        n++;
    }
    da->entries = xrealloc(da->entries, (da->n + n + 1) * sizeof(*da->entries));
    memcpy(da->entries + da->n, fresh, n * sizeof(*fresh));
    da->n += n;
    free(fresh);
    qsort(da->entries, da->n, sizeof(*da->entries), cmp_entries);
    return 0;
}

int dockerauth_add_config(struct dockerauth *da, const char *json, size_t len, bool legacy,
                          const char *source, char **reterr_message)
{
    json_error_t jerr;
    json_t *root;
    json_t *auths;
    int r;

    if (len > MAX_CONFIG) {
        *reterr_message = xasprintf("invalid docker config in %s: larger than 1 MiB", source);
        return -EINVAL;
    }
    root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        *reterr_message = xasprintf("invalid docker config in %s: %s", source, jerr.text);
        return -EINVAL;
    }
    auths = legacy ? root : json_object_get(root, "auths");
    if (!json_is_object(auths)) {
        *reterr_message = xasprintf("invalid docker config in %s: %s", source,
                                    legacy ? "not a JSON object" : "no \"auths\" object");
        json_decref(root);
        return -EINVAL;
    }
    r = add_map(da, auths, source, reterr_message);
    json_decref(root);
    return r;
}

int dockerauth_add_secret(struct dockerauth *da, const json_t *secret, char **reterr_message)
{
    const char *type = json_string_value(json_object_get(secret, "type"));
    const json_t *data = json_object_get(secret, "data");
    const json_t *meta = json_object_get(secret, "metadata");
    bool legacy = type && strcmp(type, "kubernetes.io/dockercfg") == 0;
    const char *b64;
    char *decoded = NULL, *source;
    size_t len;
    int r;

    if (!type || (!legacy && strcmp(type, "kubernetes.io/dockerconfigjson") != 0))
        return 0;
    b64 = json_string_value(json_object_get(data, legacy ? ".dockercfg" : ".dockerconfigjson"));
    if (!b64)
        return 0;
    source = xasprintf("secret '%s/%s' key '%s'", str_or_empty(json_object_get(meta, "namespace")),
                       str_or_empty(json_object_get(meta, "name")),
                       legacy ? ".dockercfg" : ".dockerconfigjson");
    if (dockerauth_base64_decode(b64, strlen(b64), &decoded, &len) < 0) {
        *reterr_message = xasprintf("invalid docker config in %s: not base64", source);
        r = -EINVAL;
    } else {
        r = dockerauth_add_config(da, decoded, len, legacy, source, reterr_message);
    }
    free(decoded);
    free(source);
    return r < 0 ? r : 1;
}

/* The kubelet's URLsMatch: same label count, each label a glob, equal ports. */
static bool host_matches(const char *glob, const char *host)
{
    char *g = xstrdup(glob), *h = xstrdup(host);
    char *gp = strchr(g, ':'), *hp = strchr(h, ':');
    char *gs = g, *hs = h;
    bool ok;

    if (gp)
        *gp++ = '\0';
    if (hp)
        *hp++ = '\0';
    ok = (!gp && !hp) || (gp && hp && strcmp(gp, hp) == 0);
    while (ok) {
        char *gd = strchr(gs, '.'), *hd = strchr(hs, '.');

        if (gd)
            *gd = '\0';
        if (hd)
            *hd = '\0';
        ok = fnmatch(gs, hs, 0) == 0 && !gd == !hd;
        if (!gd || !hd)
            break;
        gs = gd + 1;
        hs = hd + 1;
    }
    free(g);
    free(h);
    return ok;
}

int dockerauth_lookup(const struct dockerauth *da, const char *registry, const char *repository,
                      struct dockerauth_cred *ret_cred)
{
    const char *host = imageref_is_docker_hub(registry) ? "docker.io" : registry;
    char *path = xasprintf("/%s", repository);

    for (size_t i = 0; da && i < da->n; i++) {
        const struct entry *e = &da->entries[i];

        if (strncmp(path, e->path, strlen(e->path)) == 0 && host_matches(e->host, host)) {
            ret_cred->username = e->username;
            ret_cred->password = e->password;
            free(path);
            return 0;
        }
    }
    free(path);
    return -ENOENT;
}
