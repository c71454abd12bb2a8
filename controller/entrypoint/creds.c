/*
 * Tekton's creds-init at step start: Secrets mounted by the controller become git, ssh and
 * docker configuration in $(credentials.path), then in $HOME. Which Secrets and flags a Pod
 * gets is the controller's business (controller/podspec.c). Secret contents are passed on as
 * they are: nothing here checks that a key or a known_hosts line is valid.
 */
#include "controller/entrypoint/creds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/entrypoint/b64.h"
#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/fsutil.h"
#include "controller/entrypoint/minijson.h"

enum kind { BASIC_GIT, SSH_GIT, BASIC_DOCKER, DOCKER_CONFIG, DOCKER_CFG };

static const struct {
    const char *name;
    enum kind kind;
    bool has_url;
} kinds[] = {
    {"basic-git", BASIC_GIT, true},       {"ssh-git", SSH_GIT, true},
    {"basic-docker", BASIC_DOCKER, true}, {"docker-config", DOCKER_CONFIG, false},
    {"docker-cfg", DOCKER_CFG, false},
};

struct flag {
    enum kind kind;
    char *secret;
    char *url; /* NULL for docker-config and docker-cfg */
};

struct creds {
    struct flag *flags;
    size_t n;
};

struct creds *creds_new(void)
{
    struct creds *c = estr_malloc(sizeof(*c));

    c->flags = NULL;
    c->n = 0;
    return c;
}

void creds_free(struct creds *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->flags[i].secret);
        free(c->flags[i].url);
    }
    free(c->flags);
    free(c);
}

size_t creds_count(const struct creds *c)
{
    return c->n;
}

/* A Secret name is one path component under the secrets directory. */
static bool secret_name_ok(const char *s)
{
    return s[0] != '\0' && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static bool has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

static bool url_taken(const struct creds *c, enum kind kind, const char *url)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->flags[i].kind == kind && strcmp(c->flags[i].url, url) == 0)
            return true;
    }
    return false;
}

/* Why "<secret>=<url>" in 'fl' cannot be used, or NULL when it can. */
static const char *url_flag_problem(const struct creds *c, const struct flag *fl)
{
    if (!secret_name_ok(fl->secret))
        return "not a Secret name";
    if (has_control(fl->url))
        return "control character in the URL";
    /* Tekton keys basic entries by URL; several ssh keys for one URL are fine */
    if (fl->kind != SSH_GIT && url_taken(c, fl->kind, fl->url))
        return "multiple entries for the URL";
    return NULL;
}

int creds_add_flag(struct creds *c, const char *name, const char *value, struct estr *reterr)
{
    const char *eq = strchr(value, '=');
    const char *problem = NULL;
    struct flag fl = {0};
    size_t k;

    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (strcmp(kinds[k].name, name) == 0)
            break;
    }
    if (k == sizeof(kinds) / sizeof(kinds[0])) {
        estr_printf(reterr, "unknown credential flag -%s", name);
        return -EINVAL;
    }
    fl.kind = kinds[k].kind;
    if (!kinds[k].has_url) {
        fl.secret = estr_dup(value);
        problem = secret_name_ok(value) ? NULL : "not a Secret name";
    } else if (!eq || strchr(eq + 1, '=') || eq[1] == '\0') {
        /* Tekton splits on '=' and wants exactly two parts */
        problem = "expect entries of the form secret=url";
    } else {
        fl.secret = estr_ndup(value, (size_t)(eq - value));
        fl.url = estr_dup(eq + 1);
        problem = url_flag_problem(c, &fl);
    }
    if (problem) {
        estr_printf(reterr, "invalid value \"%s\" for flag -%s: %s", value, name, problem);
        free(fl.secret);
        free(fl.url);
        return -EINVAL;
    }
    c->flags = estr_realloc(c->flags, sizeof(*c->flags) * (c->n + 1));
    c->flags[c->n++] = fl;
    return 0;
}

/* ---- reading Secrets ---------------------------------------------------------------- */

/*
 * Read '<secrets_dir>/<secret>/<key>' into 'out'. With 'optional', a missing file gives 1
 * and an empty 'out'. Returns 0, 1, or -errno with the reason appended to 'reterr'.
 */
static int read_secret(const char *secrets_dir, const char *secret, const char *key, bool optional,
                       struct estr *out, struct estr *reterr)
{
    struct estr path;
    int r;

    estr_init(&path);
    estr_printf(&path, "%s/%s/%s", secrets_dir, secret, key);
    estr_done(out);
    r = estr_read_file(out, path.data, CREDS_FILE_MAX);
    if (r == -ENOENT && optional) {
        estr_done(out);
        r = 1;
    } else if (r < 0) {
        estr_printf(reterr, "cannot read Secret file '%s': %s", path.data,
                    r == -E2BIG ? "larger than 1 MiB" : strerror(-r));
    }
    estr_done(&path);
    return r;
}

/* ---- git basic-auth ------------------------------------------------------------------ */

/* Go's url escaping of user info: unreserved characters and "$&+,;=" stay as they are. */
static void append_userinfo(struct estr *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            (ch != '\0' && strchr("-_.~$&+,;=", ch))) {
            estr_putc(out, (char)ch);
        } else {
            estr_putc(out, '%');
            estr_putc(out, hex[ch >> 4]);
            estr_putc(out, hex[ch & 15]);
        }
    }
}

/*
 * Where the host starts in 'url' and where its path starts, as Go's url package sees a
 * "scheme://[user@]host/path" URL. Without "://" the host starts at once.
 */
static void url_parts(const char *url, const char **ret_host, const char **ret_path)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    const char *path = host + strcspn(host, "/?#");
    const char *at = NULL;

    for (const char *p = host; p < path; p++) {
        if (*p == '@')
            at = p;
    }
    *ret_host = at ? at + 1 : host;
    *ret_path = path;
}

static bool url_has_path(const char *url)
{
    const char *host, *path;

    url_parts(url, &host, &path);
    return path[0] != '\0' && strcmp(path, "/") != 0;
}

/*
 * The .git-credentials line for 'url': the URL with user and password percent-encoded in
 * its user info, as Go's url.URL.String() writes it ("//user:pass@host" without a scheme).
 */
static void append_auth_url(struct estr *out, const char *url, const struct estr *user,
                            const struct estr *pass)
{
    const char *sep = strstr(url, "://");
    const char *host, *path;

    url_parts(url, &host, &path);
    if (sep)
        estr_append(out, url, (size_t)(sep - url) + 3);
    else
        estr_append_str(out, "//");
    append_userinfo(out, user->data ? user->data : "", user->len);
    estr_putc(out, ':');
    append_userinfo(out, pass->data ? pass->data : "", pass->len);
    estr_putc(out, '@');
    estr_append_str(out, host);
    estr_putc(out, '\n');
}

/* A git config value inside double quotes. */
static void append_quoted(struct estr *out, const char *s)
{
    estr_putc(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            estr_putc(out, '\\');
        estr_putc(out, *s);
    }
    estr_putc(out, '"');
}

struct rendered {
    struct estr gitconfig, git_credentials;
    struct estr url_rewrites; /* appended to .gitconfig */
    struct estr ssh_config, known_hosts;
    struct estr docker;
    char **key_names; /* "id_<secret>", parallel to key_data */
    struct estr *key_data;
    size_t n_keys;
};

static int render_basic_git(const struct creds *c, const char *secrets_dir, struct rendered *out,
                            struct estr *reterr)
{
    struct estr user, pass, host_only, with_path;
    int r = 0;

    estr_init(&user);
    estr_init(&pass);
    estr_init(&host_only);
    estr_init(&with_path);
    for (size_t i = 0; i < c->n && r == 0; i++) {
        const struct flag *fl = &c->flags[i];
        bool path;

        if (fl->kind != BASIC_GIT)
            continue;
        r = read_secret(secrets_dir, fl->secret, "username", false, &user, reterr);
        if (r == 0)
            r = read_secret(secrets_dir, fl->secret, "password", false, &pass, reterr);
        if (r == 0 && (memchr(estr_str(&user), '\0', user.len) || has_control(estr_str(&user)))) {
            estr_printf(reterr, "malformed Secret file '%s/%s/username': control character",
                        secrets_dir, fl->secret);
            r = -EINVAL;
        }
        if (r < 0)
            break;
        if (out->gitconfig.len == 0)
            estr_append_str(&out->gitconfig, "[credential]\n\thelper = store\n");
        estr_append_str(&out->gitconfig, "[credential ");
        append_quoted(&out->gitconfig, fl->url);
        estr_append_str(&out->gitconfig, "]\n\tusername = ");
        for (const char *p = estr_str(&user); *p; p++) {
            if (*p == '\\')
                estr_putc(&out->gitconfig, '\\');
            estr_putc(&out->gitconfig, *p);
        }
        estr_putc(&out->gitconfig, '\n');
        path = url_has_path(fl->url);
        if (path)
            estr_append_str(&out->gitconfig, "\tuseHttpPath = true\n");
        /* host-wide credentials first, so a repository-specific one is not shadowed */
        append_auth_url(path ? &with_path : &host_only, fl->url, &user, &pass);
    }
    if (r == 0) {
        estr_append(&out->git_credentials, estr_str(&host_only), host_only.len);
        estr_append(&out->git_credentials, estr_str(&with_path), with_path.len);
    }
    estr_done(&user);
    estr_done(&pass);
    estr_done(&host_only);
    estr_done(&with_path);
    return r;
}

/* ---- git ssh-auth -------------------------------------------------------------------- */

/* Where an -ssh-git URL points; 'path' is set when it names one repository. */
struct ssh_target {
    char *user; /* "git" when the URL names none */
    char *host;
    char *port;
    char *path; /* without leading '/' and trailing ".git"; NULL for a whole host */
};

static void ssh_target_done(struct ssh_target *t)
{
    free(t->user);
    free(t->host);
    free(t->port);
    free(t->path);
}

static char *repo_path(const char *p)
{
    size_t len;

    while (*p == '/')
        p++;
    len = strlen(p);
    while (len > 0 && p[len - 1] == '/')
        len--;
    if (len >= 4 && memcmp(p + len - 4, ".git", 4) == 0)
        len -= 4;
    return len > 0 ? estr_ndup(p, len) : NULL;
}

/*
 * Parse an -ssh-git URL: "host", "host:port" and "[v6]:port" as Go's net.SplitHostPort
 * (anything else is a host on port 22), optionally with "ssh://", "user@" and a repository
 * path ("host/org/repo", "ssh://user@host:port/org/repo", scp-style "user@host:org/repo":
 * after ':' is a port only when it is all digits).
 */
static void ssh_target_parse(const char *url, struct ssh_target *t)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *end = host + strcspn(host, "/");
    const char *at = memchr(host, '@', (size_t)(end - host));
    const char *close, *colon, *path = end;

    t->user = at ? estr_ndup(host, (size_t)(at - host)) : estr_dup("git");
    if (at)
        host = at + 1;
    close = host[0] == '[' ? memchr(host, ']', (size_t)(end - host)) : NULL;
    colon = close ? NULL : memchr(host, ':', (size_t)(end - host));
    if (close) {
        t->host = estr_ndup(host + 1, (size_t)(close - host - 1));
        t->port =
            close[1] == ':' ? estr_ndup(close + 2, (size_t)(end - close - 2)) : estr_dup("22");
    } else if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
        size_t digits = strspn(colon + 1, "0123456789");

        t->host = estr_ndup(host, (size_t)(colon - host));
        t->port = colon + 1 + digits == end ? estr_ndup(colon + 1, digits) : estr_dup("22");
        if (colon + 1 + digits != end)
            path = colon + 1; /* scp style */
    } else {
        t->host = estr_ndup(host, (size_t)(end - host));
        t->port = estr_dup("22");
    }
    t->path = repo_path(path);
}

/* FNV-1a, 32 bits. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/*
 * The ssh Host entry for a repository URL is an alias of its own, so that its key is the
 * only one offered; git reaches it through url.<alias>.insteadOf, in scp and ssh:// form
 * (scp only on port 22, which is the only port it can name).
 */
static void append_rewrites(struct estr *out, const struct ssh_target *t, const char *alias)
{
    struct estr from, to;
    bool default_port = strcmp(t->port, "22") == 0;

    estr_init(&from);
    estr_init(&to);
    if (default_port) {
        estr_printf(&to, "%s@%s:%s", t->user, alias, t->path);
        estr_printf(&from, "%s@%s:%s", t->user, t->host, t->path);
        estr_append_str(out, "[url ");
        append_quoted(out, to.data);
        estr_append_str(out, "]\n\tinsteadOf = ");
        append_quoted(out, from.data);
        estr_putc(out, '\n');
    }
    estr_done(&to);
    estr_done(&from);
    estr_printf(&to, "ssh://%s@%s/%s", t->user, alias, t->path);
    estr_printf(&from, "ssh://%s@%s%s%s/%s", t->user, t->host, default_port ? "" : ":",
                default_port ? "" : t->port, t->path);
    estr_append_str(out, "[url ");
    append_quoted(out, to.data);
    estr_append_str(out, "]\n\tinsteadOf = ");
    append_quoted(out, from.data);
    estr_putc(out, '\n');
    estr_done(&to);
    estr_done(&from);
}

static bool key_known(const struct rendered *out, const char *name)
{
    for (size_t i = 0; i < out->n_keys; i++) {
        if (strcmp(out->key_names[i], name) == 0)
            return true;
    }
    return false;
}

/* Read one ssh-auth Secret: its key becomes .ssh/id_<secret>, its known_hosts is appended. */
static int load_ssh_secret(const char *secrets_dir, const char *secret, struct rendered *out,
                           struct estr *reterr)
{
    struct estr key, known, name;
    int r;

    estr_init(&key);
    estr_init(&known);
    estr_init(&name);
    r = read_secret(secrets_dir, secret, "ssh-privatekey", false, &key, reterr);
    if (r == 0)
        r = read_secret(secrets_dir, secret, "known_hosts", true, &known, reterr);
    if (r < 0)
        goto out;
    if (known.len > 0) {
        if (out->known_hosts.len > 0)
            estr_putc(&out->known_hosts, '\n');
        estr_append(&out->known_hosts, known.data, known.len);
    }
    estr_printf(&name, "id_%s", secret);
    if (!key_known(out, name.data)) {
        out->key_names = estr_realloc(out->key_names, sizeof(char *) * (out->n_keys + 1));
        out->key_data = estr_realloc(out->key_data, sizeof(struct estr) * (out->n_keys + 1));
        out->key_names[out->n_keys] = estr_take(&name);
        out->key_data[out->n_keys] = key; /* moved */
        estr_init(&key);
        out->n_keys++;
    }
out:
    estr_done(&name);
    estr_done(&key);
    estr_done(&known);
    return r < 0 ? r : 0;
}

/* The Host entry (and for a repository the rewrites) of 'url' with every Secret for it. */
static int render_ssh_url(const struct creds *c, const char *url, const char *secrets_dir,
                          const char *dir, struct rendered *out, struct estr *reterr)
{
    struct ssh_target t;
    struct estr alias;
    int r = 0;

    ssh_target_parse(url, &t);
    estr_init(&alias);
    if (t.path) {
        estr_printf(&alias, "%s-%08x", t.host, fnv1a(url));
        append_rewrites(&out->url_rewrites, &t, alias.data);
    } else {
        estr_append_str(&alias, t.host);
    }
    estr_printf(&out->ssh_config, "Host %s\n    HostName %s\n    Port %s\n", alias.data, t.host,
                t.port);
    /* every Secret for this URL, in flag order, adds one IdentityFile */
    for (size_t j = 0; j < c->n && r == 0; j++) {
        const struct flag *g = &c->flags[j];

        if (g->kind != SSH_GIT || strcmp(g->url, url) != 0)
            continue;
        r = load_ssh_secret(secrets_dir, g->secret, out, reterr);
        if (r == 0)
            estr_printf(&out->ssh_config, "    IdentityFile %s/.ssh/id_%s\n", dir, g->secret);
    }
    estr_done(&alias);
    ssh_target_done(&t);
    return r;
}

/* Host-wide URLs first, so that their keys stay the fallback; then repositories. */
static int render_ssh(const struct creds *c, const char *secrets_dir, const char *dir,
                      struct rendered *out, struct estr *reterr)
{
    for (int repos = 0; repos < 2; repos++) {
        for (size_t i = 0; i < c->n; i++) {
            const struct flag *fl = &c->flags[i];
            struct ssh_target t;
            bool seen = false, is_repo;
            int r;

            if (fl->kind != SSH_GIT)
                continue;
            for (size_t j = 0; j < i && !seen; j++)
                seen = c->flags[j].kind == SSH_GIT && strcmp(c->flags[j].url, fl->url) == 0;
            ssh_target_parse(fl->url, &t);
            is_repo = t.path != NULL;
            ssh_target_done(&t);
            if (seen || is_repo != (repos == 1))
                continue;
            r = render_ssh_url(c, fl->url, secrets_dir, dir, out, reterr);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* ---- docker -------------------------------------------------------------------------- */

struct docker_entry {
    char *registry;
    char *field[4]; /* username, password, auth, email, as in Go's struct order */
};

static const char *const docker_fields[4] = {"username", "password", "auth", "email"};

struct docker_auths {
    struct docker_entry *e;
    size_t n;
};

static void docker_auths_done(struct docker_auths *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->e[i].registry);
        for (int f = 0; f < 4; f++)
            free(a->e[i].field[f]);
    }
    free(a->e);
}

/* Insert or replace 'registry' (a later Secret wins, as in Tekton's map); takes 'fields'. */
static void docker_auths_set(struct docker_auths *a, const char *registry, char *fields[4])
{
    struct docker_entry *e = NULL;

    for (size_t i = 0; i < a->n && !e; i++) {
        if (strcmp(a->e[i].registry, registry) == 0)
            e = &a->e[i];
    }
    if (!e) {
        a->e = estr_realloc(a->e, sizeof(*a->e) * (a->n + 1));
        e = &a->e[a->n++];
        e->registry = estr_dup(registry);
    } else {
        for (int f = 0; f < 4; f++)
            free(e->field[f]);
    }
    for (int f = 0; f < 4; f++)
        e->field[f] = fields[f];
}

/* One registry entry of a docker config file into 'a'; Go ignores unknown keys. */
static int docker_entry_add(struct docker_auths *a, const char *registry, const struct minijson *v,
                            const char *path, struct estr *reterr)
{
    char *fields[4] = {NULL, NULL, NULL, NULL};

    if (v->kind != MINIJSON_OBJECT && v->kind != MINIJSON_NULL) {
        estr_printf(reterr, "malformed Secret file '%s': registry \"%s\" is not an object", path,
                    registry);
        return -EINVAL;
    }
    for (int f = 0; f < 4; f++) {
        const struct minijson *s = minijson_get(v, docker_fields[f], true);

        if (s && s->kind != MINIJSON_STRING && s->kind != MINIJSON_NULL) {
            estr_printf(reterr,
                        "malformed Secret file '%s': \"%s\" of registry \"%s\" is not a "
                        "string",
                        path, docker_fields[f], registry);
            for (int g = 0; g < f; g++)
                free(fields[g]);
            return -EINVAL;
        }
        fields[f] = estr_dup(s && s->kind == MINIJSON_STRING ? s->str : "");
    }
    docker_auths_set(a, registry, fields);
    return 0;
}

/* A .dockercfg (registry map) or .dockerconfigjson ({"auths": map}) Secret into 'a'. */
static int load_docker_file(const char *secrets_dir, const struct flag *fl, struct docker_auths *a,
                            struct estr *reterr)
{
    const char *key = fl->kind == DOCKER_CFG ? ".dockercfg" : ".dockerconfigjson";
    struct minijson *root = NULL;
    const struct minijson *map;
    struct estr text, path;
    int r;

    estr_init(&text);
    estr_init(&path);
    estr_printf(&path, "%s/%s/%s", secrets_dir, fl->secret, key);
    r = read_secret(secrets_dir, fl->secret, key, false, &text, reterr);
    if (r < 0)
        goto out;
    r = minijson_parse(estr_str(&text), text.len, &root);
    if (r < 0) {
        estr_printf(reterr, "malformed Secret file '%s': not valid JSON", path.data);
        goto out;
    }
    map = fl->kind == DOCKER_CFG ? root : minijson_get(root, "auths", true);
    if (fl->kind == DOCKER_CONFIG && root->kind != MINIJSON_OBJECT && root->kind != MINIJSON_NULL)
        map = root; /* reported below as not an object */
    if (map && map->kind != MINIJSON_OBJECT && map->kind != MINIJSON_NULL) {
        estr_printf(reterr, "malformed Secret file '%s': %s is not an object", path.data,
                    fl->kind == DOCKER_CFG ? "the registry map" : "\"auths\"");
        r = -EINVAL;
        goto out;
    }
    for (size_t i = 0; map && map->kind == MINIJSON_OBJECT && i < map->count && r == 0; i++)
        r = docker_entry_add(a, map->keys[i], &map->items[i], path.data, reterr);
out:
    minijson_free(root);
    estr_done(&text);
    estr_done(&path);
    return r;
}

/* Go's json string encoding: HTML-safe, \u2028/\u2029 escaped, bad UTF-8 as U+FFFD. */
static void json_string(struct estr *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    estr_putc(out, '"');
    while (*p) {
        size_t n = 1;

        if (*p < 0x80) {
            if (*p == '"' || *p == '\\')
                estr_printf(out, "\\%c", *p);
            else if (*p == '\n')
                estr_append_str(out, "\\n");
            else if (*p == '\r')
                estr_append_str(out, "\\r");
            else if (*p == '\t')
                estr_append_str(out, "\\t");
            else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&')
                estr_printf(out, "\\u%04x", *p);
            else
                estr_putc(out, (char)*p);
            p++;
            continue;
        }
        if (*p >= 0xc2 && *p <= 0xdf && (p[1] & 0xc0) == 0x80)
            n = 2;
        else if (*p >= 0xe0 && *p <= 0xef && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 !(*p == 0xe0 && p[1] < 0xa0) && !(*p == 0xed && p[1] >= 0xa0))
            n = 3;
        else if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 (p[3] & 0xc0) == 0x80 && !(*p == 0xf0 && p[1] < 0x90) &&
                 !(*p == 0xf4 && p[1] >= 0x90))
            n = 4;
        else
            n = 0;
        if (n == 0) {
            estr_append_str(out, "\\ufffd");
            p++;
        } else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            estr_printf(out, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
            p += 3;
        } else {
            estr_append(out, p, n);
            p += n;
        }
    }
    estr_putc(out, '"');
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct docker_entry *)a)->registry,
                  ((const struct docker_entry *)b)->registry);
}

/* {"auths":{...}} with keys sorted and empty optional fields left out, as json.Marshal. */
static void encode_docker(struct docker_auths *a, struct estr *out)
{
    qsort(a->e, a->n, sizeof(*a->e), compare_entries);
    estr_append_str(out, "{\"auths\":{");
    for (size_t i = 0; i < a->n; i++) {
        bool first = true;

        if (i > 0)
            estr_putc(out, ',');
        json_string(out, a->e[i].registry);
        estr_append_str(out, ":{");
        for (int f = 0; f < 4; f++) {
            if (f != 2 && a->e[i].field[f][0] == '\0')
                continue; /* only "auth" lacks omitempty */
            if (!first)
                estr_putc(out, ',');
            first = false;
            json_string(out, docker_fields[f]);
            estr_putc(out, ':');
            json_string(out, a->e[i].field[f]);
        }
        estr_putc(out, '}');
    }
    estr_append_str(out, "}}");
}

/* A basic-auth Secret for one registry, as Tekton writes it (with its placeholder email). */
static int load_basic_docker(const char *secrets_dir, const struct flag *fl, struct docker_auths *a,
                             struct estr *reterr)
{
    struct estr user, pass, both, auth;
    char *fields[4];
    int r;

    estr_init(&user);
    estr_init(&pass);
    estr_init(&both);
    estr_init(&auth);
    r = read_secret(secrets_dir, fl->secret, "username", false, &user, reterr);
    if (r == 0)
        r = read_secret(secrets_dir, fl->secret, "password", false, &pass, reterr);
    if (r == 0) {
        estr_append(&both, estr_str(&user), user.len);
        estr_putc(&both, ':');
        estr_append(&both, estr_str(&pass), pass.len);
        b64_encode(both.data, both.len, &auth);
        fields[0] = estr_dup(estr_str(&user));
        fields[1] = estr_dup(estr_str(&pass));
        fields[2] = estr_take(&auth);
        fields[3] = estr_dup("not@val.id");
        docker_auths_set(a, fl->url, fields);
    }
    estr_done(&user);
    estr_done(&pass);
    estr_done(&both);
    estr_done(&auth);
    return r;
}

/* dockercfg Secrets, then dockerconfigjson ones, then basic-auth: later ones win. */
static int render_docker(const struct creds *c, const char *secrets_dir, struct rendered *out,
                         struct estr *reterr)
{
    static const enum kind order[] = {DOCKER_CFG, DOCKER_CONFIG, BASIC_DOCKER};
    struct docker_auths a = {NULL, 0};
    int r = 0;

    for (size_t k = 0; k < 3 && r == 0; k++) {
        for (size_t i = 0; i < c->n && r == 0; i++) {
            if (c->flags[i].kind != order[k])
                continue;
            if (order[k] == BASIC_DOCKER)
                r = load_basic_docker(secrets_dir, &c->flags[i], &a, reterr);
            else
                r = load_docker_file(secrets_dir, &c->flags[i], &a, reterr);
        }
    }
    if (r == 0 && a.n > 0)
        encode_docker(&a, &out->docker);
    docker_auths_done(&a);
    return r;
}

/* ---- writing ------------------------------------------------------------------------- */

static void rendered_done(struct rendered *out)
{
    estr_done(&out->gitconfig);
    estr_done(&out->git_credentials);
    estr_done(&out->url_rewrites);
    estr_done(&out->ssh_config);
    estr_done(&out->known_hosts);
    estr_done(&out->docker);
    for (size_t i = 0; i < out->n_keys; i++) {
        free(out->key_names[i]);
        estr_done(&out->key_data[i]);
    }
    free(out->key_names);
    free(out->key_data);
}

static int write_one(const char *dir, const char *rel, const struct estr *content,
                     struct estr *reterr)
{
    struct estr path;
    int r;

    estr_init(&path);
    estr_printf(&path, "%s/%s", dir, rel);
    r = fsutil_write_file(path.data, estr_str(content), content->len, 0600, true);
    if (r < 0)
        estr_printf(reterr, "cannot write '%s': %s", path.data, strerror(-r));
    estr_done(&path);
    return r;
}

/* mkdir -p 'dir/rel' and make it 0700 even if it was there. */
static int private_dir(const char *dir, const char *rel, struct estr *reterr)
{
    struct estr path;
    int r;

    estr_init(&path);
    estr_printf(&path, "%s/%s", dir, rel);
    r = fsutil_mkdir_p(path.data, 0700);
    if (r == 0 && chmod(path.data, 0700) < 0)
        r = -errno;
    if (r < 0)
        estr_printf(reterr, "cannot create '%s': %s", path.data, strerror(-r));
    estr_done(&path);
    return r;
}

static int write_rendered(const struct rendered *out, bool ssh, const char *dir,
                          struct estr *reterr)
{
    int r = fsutil_mkdir_p(dir, 0755);

    if (r < 0) {
        estr_printf(reterr, "cannot create '%s': %s", dir, strerror(-r));
        return r;
    }
    if (out->docker.len > 0) {
        r = private_dir(dir, ".docker", reterr);
        if (r == 0)
            r = write_one(dir, ".docker/config.json", &out->docker, reterr);
    }
    if (r == 0 && (out->gitconfig.len > 0 || out->url_rewrites.len > 0)) {
        struct estr gitconfig;

        estr_init(&gitconfig);
        estr_append(&gitconfig, estr_str(&out->gitconfig), out->gitconfig.len);
        estr_append(&gitconfig, estr_str(&out->url_rewrites), out->url_rewrites.len);
        r = write_one(dir, ".gitconfig", &gitconfig, reterr);
        estr_done(&gitconfig);
    }
    if (r == 0 && out->git_credentials.len > 0)
        r = write_one(dir, ".git-credentials", &out->git_credentials, reterr);
    if (r == 0 && ssh) {
        struct estr rel;

        estr_init(&rel);
        r = private_dir(dir, ".ssh", reterr);
        for (size_t i = 0; i < out->n_keys && r == 0; i++) {
            estr_done(&rel);
            estr_printf(&rel, ".ssh/%s", out->key_names[i]);
            r = write_one(dir, rel.data, &out->key_data[i], reterr);
        }
        if (r == 0)
            r = write_one(dir, ".ssh/config", &out->ssh_config, reterr);
        if (r == 0 && out->known_hosts.len > 0)
            r = write_one(dir, ".ssh/known_hosts", &out->known_hosts, reterr);
        estr_done(&rel);
    }
    return r;
}

int creds_write(const struct creds *c, const char *secrets_dir, const char *dir,
                struct estr *reterr)
{
    struct rendered out;
    int r;

    memset(&out, 0, sizeof(out));
    estr_init(&out.gitconfig);
    estr_init(&out.git_credentials);
    estr_init(&out.url_rewrites);
    estr_init(&out.ssh_config);
    estr_init(&out.known_hosts);
    estr_init(&out.docker);
    /* everything is read and rendered before the first write */
    r = render_basic_git(c, secrets_dir, &out, reterr);
    if (r == 0)
        r = render_ssh(c, secrets_dir, dir, &out, reterr);
    if (r == 0)
        r = render_docker(c, secrets_dir, &out, reterr);
    if (r == 0)
        r = write_rendered(&out, out.ssh_config.len > 0, dir, reterr);
    rendered_done(&out);
    return r;
}

/* ---- copying into $HOME -------------------------------------------------------------- */

static int copy_file(const char *src, const char *dst)
{
    char buf[16384];
    int in, out;
    int r = 0;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 0 : -errno;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        r = -errno;
        close(in);
        return r;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        r = estr_write_all(out, buf, (size_t)n);
        if (r < 0)
            break;
    }
    close(in);
    if (close(out) < 0 && r == 0)
        r = -errno;
    return r;
}

/* Tekton's tryCopyCred: a missing source is fine, directories recurse. */
static int copy_tree(const char *src, const char *dst)
{
    struct dirent *de;
    struct stat st;
    DIR *d;
    int r = 0;

    if (lstat(src, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return copy_file(src, dst);
    r = fsutil_mkdir_p(dst, 0700);
    if (r < 0)
        return r;
    d = opendir(src);
    if (!d)
        return -errno;
    while (r == 0 && (de = readdir(d)) != NULL) {
        struct estr s, t;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        estr_init(&s);
        estr_init(&t);
        estr_printf(&s, "%s/%s", src, de->d_name);
        estr_printf(&t, "%s/%s", dst, de->d_name);
        r = copy_tree(s.data, t.data);
        estr_done(&s);
        estr_done(&t);
    }
    closedir(d);
    return r;
}

void creds_copy_to_home(const char *dir, const char *home)
{
    static const char *const names[] = {CREDS_COPIED};
    struct stat a, b;

    if (stat(dir, &a) < 0 || !S_ISDIR(a.st_mode))
        return;
    /* copying a file onto itself would truncate it */
    if (stat(home, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct estr src, dst;
        int r;

        estr_init(&src);
        estr_init(&dst);
        estr_printf(&src, "%s/%s", dir, names[i]);
        estr_printf(&dst, "%s/%s", home, names[i]);
        r = copy_tree(src.data, dst.data);
        if (r < 0)
            fsutil_log("cannot copy credentials '%s' to '%s': %s, ignoring", src.data, dst.data,
                       strerror(-r));
        estr_done(&src);
        estr_done(&dst);
    }
}

/* Field 'idx' (0-based) of the ':'-separated 'line' of 'len' bytes, or NULL. */
static const char *passwd_field(const char *line, size_t len, int idx, size_t *ret_len)
{
    const char *p = line, *end = line + len;

    for (int i = 0; i < idx; i++) {
        const char *colon = memchr(p, ':', (size_t)(end - p));

        if (!colon)
            return NULL;
        p = colon + 1;
    }
    *ret_len = strcspn(p, ":\n");
    if (p + *ret_len > end)
        *ret_len = (size_t)(end - p);
    return p;
}

/* The home field of the /etc/passwd line of 'uid' in 'text', or NULL. */
static char *passwd_home(const char *text, uid_t uid)
{
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n"), flen = 0;
        const char *f = passwd_field(line, len, 2, &flen);
        char *end = NULL;

        if (f && flen > 0 && strtoul(f, &end, 10) == (unsigned long)uid && end == f + flen) {
            f = passwd_field(line, len, 5, &flen);
            if (f && flen > 0)
                return estr_ndup(f, flen);
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    return NULL;
}

int creds_home_dir(const char *passwd_path, char **ret_home)
{
    const char *home = getenv("HOME");
    struct estr text;
    char *found;

    if (home && home[0] != '\0') {
        *ret_home = estr_dup(home);
        return 0;
    }
    estr_init(&text);
    found = estr_read_file(&text, passwd_path, CREDS_FILE_MAX) == 0
                ? passwd_home(estr_str(&text), getuid())
                : NULL;
    estr_done(&text);
    if (!found)
        return -ENOENT;
    *ret_home = found;
    return 0;
}

int creds_setup(const char *const *pairs, size_t n)
{
    const char *dir = getenv("TEKTITE_CREDS_DIR");
    const char *secrets = getenv("TEKTITE_CREDS_SECRETS_DIR");
    struct creds *c = creds_new();
    struct estr why;
    char *home = NULL;
    int r = 0;

    if (!dir || dir[0] == '\0')
        dir = CREDS_DIR;
    if (!secrets || secrets[0] == '\0')
        secrets = CREDS_SECRETS_DIR;
    estr_init(&why);
    for (size_t i = 0; i < n && r == 0; i++)
        r = creds_add_flag(c, pairs[2 * i], pairs[2 * i + 1], &why);
    if (r == 0 && n > 0)
        r = creds_write(c, secrets, dir, &why);
    if (r < 0) {
        fsutil_log("cannot initialise credentials: %s", why.data);
    } else if (access(dir, F_OK) == 0) {
        if (creds_home_dir("/etc/passwd", &home) < 0)
            fsutil_log("cannot find the home directory to copy credentials into, ignoring");
        else
            creds_copy_to_home(dir, home);
    }
    free(home);
    estr_done(&why);
    creds_free(c);
    return r;
}
