/*
 * Image reference parsing with Docker's grammar (distribution's reference package): registry
 * host and port, repository path components, tag, digest. Knows no registry protocol; the
 * lookup itself is lib/registry's.
 */
#include "lib/imageref.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN  128

static const char *const hub_aliases[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};

bool imageref_is_docker_hub(const char *host)
{
    for (size_t i = 0; i < sizeof(hub_aliases) / sizeof(hub_aliases[0]); i++)
        if (strcmp(host, hub_aliases[i]) == 0)
            return true;
    return false;
}

void imageref_done(struct imageref *ref)
{
    free(ref->registry);
    free(ref->repository);
    free(ref->tag);
    free(ref->digest);
    ref->registry = ref->repository = ref->tag = ref->digest = NULL;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    return s[n] == '\0';
}

/* "sha256:<64 lower hex>" or "sha512:<128 lower hex>"; NULL when valid, else why not. */
static const char *digest_problem(const char *d)
{
    if (strncmp(d, "sha256:", 7) == 0)
        return strlen(d + 7) == 64 && all_hex(d + 7, 64)
                   ? NULL
                   : "sha256 digest must be 64 lower-case hex";
    if (strncmp(d, "sha512:", 7) == 0)
        return strlen(d + 7) == 128 && all_hex(d + 7, 128)
                   ? NULL
                   : "sha512 digest must be 128 lower-case hex";
    return strchr(d, ':') ? "unsupported digest algorithm" : "invalid digest format";
}

static bool is_tag_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

static bool valid_tag(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > TAG_MAX_LEN || t[0] == '.' || t[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tag_char(t[i]))
            return false;
    return true;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || isdigit((unsigned char)c);
}

/* One path component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'. */
static bool valid_component(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t sep = 0;

        if (!is_lower_alnum(s[i]))
            return false;
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        while (i + sep < n && !is_lower_alnum(s[i + sep]))
            sep++;
        if (!(sep == 1 && (s[i] == '.' || s[i] == '_')) &&
            !(sep == 2 && s[i] == '_' && s[i + 1] == '_') && strspn(s + i, "-") < sep)
            return false;
        i += sep;
        if (i == n)
            return false; /* a separator may not end a component */
    }
    return n > 0;
}

static const char *path_problem(const char *path)
{
    const char *p = path;

    for (const char *c = path; *c; c++)
        if (isupper((unsigned char)*c))
            return "repository name must be lowercase";
    while (true) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (!valid_component(p, n))
            return "invalid repository path component";
        if (!slash)
            return NULL;
        p = slash + 1;
    }
}

static bool valid_label(const char *s, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

/* host[:port] where host is dotted labels or a bracketed IPv6 address */
static bool valid_domain(const char *d)
{
    const char *colon;
    const char *p = d;

    if (d[0] == '[') {
        const char *close = strchr(d, ']');

        if (!close || close == d + 1 ||
            strspn(d + 1, "0123456789abcdefABCDEF:.") != (size_t)(close - d - 1))
            return false;
        colon = close[1] ? close + 1 : NULL;
        if (colon && *colon != ':')
            return false;
    } else {
        colon = strchr(d, ':');
        while (true) {
            const char *end = colon ? colon : d + strlen(d);
            const char *dot = memchr(p, '.', (size_t)(end - p));
            size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);

            if (!valid_label(p, n))
                return false;
            if (!dot)
                break;
            p = dot + 1;
        }
    }
    return !colon || (colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1));
}

/* Docker's rule: the first component names a registry when it looks like a host. */
static bool first_is_domain(const char *name, size_t n)
{
    if (memchr(name, '.', n) || memchr(name, ':', n))
        return true;
    if (n == 9 && strncmp(name, "localhost", 9) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)name[i]))
            return true;
    return false;
}

static int fail(const char *s, const char *why, char **reterr_message)
{
    *reterr_message = xasprintf("invalid image reference '%s': %s", s, why);
    return -EINVAL;
}

/* Split "name[:tag]" at a ':' after the last '/'; 'name' is modified in place. */
static char *split_tag(char *name)
{
    char *slash = strrchr(name, '/');
    char *colon = strrchr(slash ? slash : name, ':');

    if (!colon)
        return NULL;
    *colon = '\0';
    return colon + 1;
}

static int split_name(const char *s, char *name, struct imageref *ref, char **reterr_message)
{
    char *slash = strchr(name, '/');
    const char *path = name;
    const char *why;

    if (slash && first_is_domain(name, (size_t)(slash - name))) {
        *slash = '\0';
        if (!valid_domain(name))
            return fail(s, "invalid registry host", reterr_message);
        ref->registry = xstrdup(imageref_is_docker_hub(name) ? "docker.io" : name);
        path = slash + 1;
    } else {
        ref->registry = xstrdup("docker.io");
    }
    why = path_problem(path);
    if (why)
        return fail(s, why, reterr_message);
    if (strcmp(ref->registry, "docker.io") == 0 && !strchr(path, '/'))
        ref->repository = xasprintf("library/%s", path);
    else
        ref->repository = xstrdup(path);
    return 0;
}

static int parse(const char *s, char *copy, struct imageref *ref, char **reterr_message)
{
    char *at = strchr(copy, '@');
    const char *tag;

    if (*s == '\0')
        return fail(s, "empty reference", reterr_message);
    if (strlen(s) == 64 && all_hex(s, 64))
        return fail(s, "a 64-character hexadecimal string is an image ID, not a name",
                    reterr_message);
    if (at) {
        const char *why = digest_problem(at + 1);

        *at = '\0';
        if (why)
            return fail(s, why, reterr_message);
        ref->digest = xstrdup(at + 1);
    }
    tag = split_tag(copy);
    if (tag && !valid_tag(tag))
        return fail(s, "invalid tag", reterr_message);
    if (*copy == '\0')
        return fail(s, "missing repository name", reterr_message);
    if (strlen(copy) > NAME_MAX_LEN)
        return fail(s, "repository name longer than 255 characters", reterr_message);
    if (tag)
        ref->tag = xstrdup(tag);
    else if (!ref->digest)
        ref->tag = xstrdup("latest");
    return split_name(s, copy, ref, reterr_message);
}

int imageref_parse(const char *s, struct imageref *ret_ref, char **reterr_message)
{
    struct imageref ref = {0};
    char *copy = xstrdup(s);
    int r;

    r = parse(s, copy, &ref, reterr_message);
    free(copy);
    if (r < 0) {
        imageref_done(&ref);
        return r;
    }
    *ret_ref = ref;
    return 0;
}

char *imageref_context(const struct imageref *ref)
{
    const char *host = strcmp(ref->registry, "docker.io") == 0 ? "index.docker.io" : ref->registry;

    return xasprintf("%s/%s", host, ref->repository);
}
