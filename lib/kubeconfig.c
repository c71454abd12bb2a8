/*
 * kubeconfig files merged as kubectl merges them, and the in-cluster service account.
 * Produces a frozen struct kube_config; reading tokens at request time, running exec
 * plugins and TLS are lib/kubeauth's and lib/http's business.
 */
#include "lib/kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "lib/yamljson.h"

#define SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* The merged view of several files: name -> {"file": path, "v": stanza}. */
struct merged {
    json_t *clusters;
    json_t *users;
    json_t *contexts;
    char *current_context;
    char *current_context_file;
    char *err; /* the first error, owned */
};

static int fail(struct merged *m, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct merged *m, int r, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!m->err && s)
        m->err = s;
    else
        free(s);
    return r;
}

static int get_string(struct merged *m, const char *file, const json_t *obj, const char *key,
                      const char **ret)
{
    const json_t *v = json_object_get(obj, key);

    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(m, -EINVAL, "kubeconfig '%s': '%s' is not a string", file, key);
    *ret = json_string_value(v);
    return 0;
}

/* Add each named stanza of 'list' (e.g. "clusters") not already defined by an earlier file. */
static int merge_list(struct merged *m, const char *file, const json_t *root, const char *list,
                      const char *inner, json_t *into)
{
    const json_t *arr = json_object_get(root, list);
    const json_t *item;
    size_t i;

    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return fail(m, -EINVAL, "kubeconfig '%s': '%s' is not a list", file, list);
    json_array_foreach(arr, i, item) {
        const char *name = NULL;
        json_t *v = json_object_get(item, inner); /* borrowed */

        if (!json_is_object(item) || get_string(m, file, item, "name", &name) < 0 || !name ||
            !*name)
            return fail(m, -EINVAL, "kubeconfig '%s': %s[%zu] has no name", file, list, i);
        if (v && !json_is_object(v))
            return fail(m, -EINVAL, "kubeconfig '%s': %s '%s': '%s' is not a mapping", file, list,
                        name, inner);
        if (json_object_get(into, name))
            continue; /* the first file to define a name wins */
        json_object_set_new(
            into, name,
            json_pack("{s:s, s:o}", "file", file, "v", v ? json_incref(v) : json_object()));
    }
    return 0;
}

static int read_file(struct merged *m, const char *path, bool missing_ok, json_t **ret_root)
{
    struct buf b;
    char *err = NULL;
    int r;

    *ret_root = NULL;
    buf_init(&b, YAMLJSON_MAX_SIZE);
    r = buf_read_file(&b, path);
    if (r == -ENOENT && missing_ok)
        goto out_ok;
    if (r == -E2BIG) {
        r = fail(m, -E2BIG, "kubeconfig '%s': larger than %u bytes", path, YAMLJSON_MAX_SIZE);
        goto out;
    }
    if (r < 0) {
        r = fail(m, r, "cannot read kubeconfig '%s': %s", path, strerror(-r));
        goto out;
    }
    r = yamljson_parse(buf_str(&b), buf_len(&b), ret_root, &err);
    if (r < 0) {
        r = fail(m, r, "kubeconfig '%s': %s", path, err);
        goto out;
    }
    if (!json_is_object(*ret_root) && !json_is_null(*ret_root)) {
        json_decref(*ret_root);
        *ret_root = NULL;
        r = fail(m, -EINVAL, "kubeconfig '%s': not a mapping", path);
    }
out_ok:
    if (r == -ENOENT)
        r = 0;
out:
    free(err);
    buf_done(&b);
    return r;
}

static int merge_file(struct merged *m, const char *path, bool missing_ok)
{
    json_t *root = NULL;
    const char *cur = NULL;
    int r;

    r = read_file(m, path, missing_ok, &root);
    if (r < 0 || !json_is_object(root))
        goto out;
    r = merge_list(m, path, root, "clusters", "cluster", m->clusters);
    if (r == 0)
        r = merge_list(m, path, root, "users", "user", m->users);
    if (r == 0)
        r = merge_list(m, path, root, "contexts", "context", m->contexts);
    if (r == 0)
        r = get_string(m, path, root, "current-context", &cur);
    if (r == 0 && cur && *cur && !m->current_context) {
        m->current_context = xstrdup(cur);
        m->current_context_file = xstrdup(path);
    }
out:
    json_decref(root);
    return r;
}

/* 'path' as written in 'file', made absolute against the file's directory. */
static char *resolve_path(const char *file, const char *path)
{
    const char *slash;

    if (!path || !*path)
        return NULL;
    if (path[0] == '/')
        return xstrdup(path);
    slash = strrchr(file, '/');
    if (!slash)
        return xstrdup(path);
    return xasprintf("%.*s/%s", (int)(slash - file), file, path);
}

static bool base64_value(char c, unsigned *ret)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;

    if (!p)
        return false;
    *ret = (unsigned)(p - alphabet);
    return true;
}

int kube_base64_decode(const char *text, struct kube_blob *ret_blob)
{
    size_t n = strlen(text);
    unsigned char *out = xmalloc(n / 4 * 3 + 4);
    size_t len = 0, quads = 0, pad = 0;
    unsigned acc = 0;

    for (const char *c = text; *c; c++) {
        unsigned v;

        if (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t')
            continue;
        if (*c == '=') {
            pad++;
            continue;
        }
        if (pad || !base64_value(*c, &v))
            goto bad;
        acc = acc << 6 | v;
        if (++quads % 4 == 0) {
            out[len++] = (unsigned char)(acc >> 16);
            out[len++] = (unsigned char)(acc >> 8);
            out[len++] = (unsigned char)acc;
            acc = 0;
        }
    }
    switch (quads % 4) {
    case 1:
        goto bad;
    case 2:
        out[len++] = (unsigned char)(acc >> 4);
        break;
    case 3:
        out[len++] = (unsigned char)(acc >> 10);
        out[len++] = (unsigned char)(acc >> 2);
        break;
    default:
        break;
    }
    if (pad > 2 || (pad && (quads + pad) % 4 != 0))
        goto bad;
    out[len] = '\0';
    ret_blob->data = out;
    ret_blob->len = len;
    return 0;
bad:
    free(out);
    return -EINVAL;
}

/* Read "<key>-data" (base64) into 'blob' and "<key>" (a path) into 'file'. */
static int get_pem(struct merged *m, const char *file, const char *what, const json_t *obj,
                   const char *key, struct kube_blob *blob, char **path)
{
    char data_key[64];
    const char *data = NULL, *p = NULL;
    int r;

    snprintf(data_key, sizeof(data_key), "%s-data", key);
    r = get_string(m, file, obj, data_key, &data);
    if (r == 0)
        r = get_string(m, file, obj, key, &p);
    if (r < 0)
        return r;
    if (data && *data) {
        if (kube_base64_decode(data, blob) < 0)
            return fail(m, -EINVAL, "kubeconfig '%s': %s: '%s' is not valid base64", file, what,
                        data_key);
        return 0; /* embedded data wins over a path, as in kubectl */
    }
    *path = resolve_path(file, p);
    return 0;
}

static char **string_list(struct merged *m, const char *file, const json_t *arr, int *r)
{
    char **out = xcalloc(json_array_size(arr) + 1, sizeof(*out));
    const json_t *v;
    size_t i;

    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            *r = fail(m, -EINVAL, "kubeconfig '%s': exec args[%zu] is not a string", file, i);
            break;
        }
        out[i] = xstrdup(json_string_value(v));
    }
    return out;
}

static char **env_list(struct merged *m, const char *file, const json_t *arr, int *r)
{
    char **out = xcalloc(json_array_size(arr) + 1, sizeof(*out));
    const json_t *v;
    size_t i;

    json_array_foreach(arr, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *value = json_string_value(json_object_get(v, "value"));

        if (!name || !*name || !value) {
            *r = fail(m, -EINVAL, "kubeconfig '%s': exec env[%zu] needs a name and a value", file,
                      i);
            break;
        }
        out[i] = xasprintf("%s=%s", name, value);
    }
    return out;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int get_exec(struct merged *m, const char *file, const char *user, const json_t *exec,
                    struct kube_config *c)
{
    const char *api = NULL, *cmd = NULL;
    const json_t *args = json_object_get(exec, "args");
    const json_t *env = json_object_get(exec, "env");
    int r = 0;

    if (!json_is_object(exec))
        return fail(m, -EINVAL, "kubeconfig '%s': user '%s': 'exec' is not a mapping", file, user);
    if (get_string(m, file, exec, "apiVersion", &api) < 0 ||
        get_string(m, file, exec, "command", &cmd) < 0)
        return -EINVAL;
    if (!cmd || !*cmd)
        return fail(m, -EINVAL, "kubeconfig '%s': user '%s': exec has no command", file, user);
    if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
                 strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
        return fail(m, -EINVAL, "kubeconfig '%s': user '%s': exec apiVersion '%s' is not supported",
                    file, user, api ? api : "");
    if ((args && !json_is_array(args) && !json_is_null(args)) ||
        (env && !json_is_array(env) && !json_is_null(env)))
        return fail(m, -EINVAL, "kubeconfig '%s': user '%s': exec args and env must be lists", file,
                    user);
    c->exec = xcalloc(1, sizeof(*c->exec));
    c->exec->api_version = xstrdup(api);
    /* kubectl resolves the command against the file only when it is a path, not a name */
    c->exec->command = strchr(cmd, '/') ? resolve_path(file, cmd) : xstrdup(cmd);
    c->exec->args = string_list(m, file, args, &r);
    c->exec->env = env_list(m, file, env, &r);
    c->exec->provide_cluster_info = json_is_true(json_object_get(exec, "provideClusterInfo"));
    return r;
}

static int dup_field(struct merged *m, const char *file, const json_t *obj, const char *key,
                     char **out)
{
    const char *s = NULL;
    int r = get_string(m, file, obj, key, &s);

    if (r == 0 && s && *s)
        *out = xstrdup(s);
    return r;
}

static int fill_user(struct merged *m, const char *name, struct kube_config *c)
{
    const json_t *entry = json_object_get(m->users, name);
    const char *file = json_string_value(json_object_get(entry, "file"));
    const json_t *u = json_object_get(entry, "v");
    const char *token_file = NULL;
    const json_t *exec;
    int r;

    r = get_pem(m, file, "user", u, "client-certificate", &c->client_cert_data,
                &c->client_cert_file);
    if (r == 0)
        r = get_pem(m, file, "user", u, "client-key", &c->client_key_data, &c->client_key_file);
    if (r == 0)
        r = dup_field(m, file, u, "token", &c->token);
    if (r == 0)
        r = get_string(m, file, u, "tokenFile", &token_file);
    if (r == 0)
        r = dup_field(m, file, u, "username", &c->username);
    if (r == 0)
        r = dup_field(m, file, u, "password", &c->password);
    if (r < 0)
        return r;
    c->token_file = resolve_path(file, token_file);
    exec = json_object_get(u, "exec");
    if (exec && !json_is_null(exec))
        return get_exec(m, file, name, exec, c);
    return 0;
}

static int fill_cluster(struct merged *m, const char *name, struct kube_config *c)
{
    const json_t *entry = json_object_get(m->clusters, name);
    const char *file = json_string_value(json_object_get(entry, "file"));
    const json_t *cl = json_object_get(entry, "v");
    const json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
    size_t n;
    int r;

    r = dup_field(m, file, cl, "server", &c->server);
    if (r == 0 && !c->server)
        r = fail(m, -EINVAL, "kubeconfig '%s': cluster '%s' has no server", file, name);
    if (r == 0 && insecure && !json_is_boolean(insecure) && !json_is_null(insecure))
        r = fail(m, -EINVAL,
                 "kubeconfig '%s': cluster '%s': insecure-skip-tls-verify is not a "
                 "boolean",
                 file, name);
    if (r == 0)
        r = dup_field(m, file, cl, "tls-server-name", &c->tls_server_name);
    if (r == 0)
        r = dup_field(m, file, cl, "proxy-url", &c->proxy_url);
    if (r == 0)
        r = get_pem(m, file, "cluster", cl, "certificate-authority", &c->ca_data, &c->ca_file);
    if (r < 0)
        return r;
    c->insecure_skip_tls_verify = json_is_true(insecure);
    n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
    return 0;
}

static int build_config(struct merged *m, const char *paths, const char *override,
                        struct kube_config *c)
{
    const char *name = override && *override ? override : m->current_context;
    const json_t *entry, *ctx;
    const char *cluster = NULL, *user = NULL, *ns = NULL, *file;

    if (!name)
        return fail(m, -ENOENT, "kubeconfig '%s': no current-context and no --context", paths);
    entry = json_object_get(m->contexts, name);
    if (!entry)
        return fail(m, -ENOENT, "kubeconfig '%s': context '%s' not found", paths, name);
    file = json_string_value(json_object_get(entry, "file"));
    ctx = json_object_get(entry, "v");
    if (get_string(m, file, ctx, "cluster", &cluster) < 0 ||
        get_string(m, file, ctx, "user", &user) < 0 ||
        get_string(m, file, ctx, "namespace", &ns) < 0)
        return -EINVAL;
    if (!cluster || !*cluster)
        return fail(m, -EINVAL, "kubeconfig '%s': context '%s' names no cluster", file, name);
    if (!json_object_get(m->clusters, cluster))
        return fail(m, -ENOENT, "kubeconfig '%s': cluster '%s' (context '%s') not found", paths,
                    cluster, name);
    if (user && *user && !json_object_get(m->users, user))
        return fail(m, -ENOENT, "kubeconfig '%s': user '%s' (context '%s') not found", paths, user,
                    name);
    c->context = xstrdup(name);
    c->ns = xstrdup(ns && *ns ? ns : "default");
    c->source = xstrdup(file);
    if (fill_cluster(m, cluster, c) < 0)
        return -EINVAL;
    return user && *user ? fill_user(m, user, c) : 0;
}

/* Relative paths inside a file are relative to its directory, so pin that down now. */
static char *absolute_path(const char *p)
{
    char *cwd;
    char *abs;

    if (p[0] == '/')
        return xstrdup(p);
    cwd = getcwd(NULL, 0);
    if (!cwd)
        return xstrdup(p);
    abs = xasprintf("%s/%s", cwd, p);
    free(cwd);
    return abs;
}

static int load_files(const char *paths, bool single, const char *context,
                      struct kube_config **ret_config, char **reterr_msg)
{
    struct merged m = {json_object(), json_object(), json_object(), NULL, NULL, NULL};
    struct kube_config *c = xcalloc(1, sizeof(*c));
    char *list = xstrdup(paths);
    char *save = NULL;
    int r = 0, files = 0;

    for (char *p = strtok_r(list, ":", &save); p && r == 0; p = strtok_r(NULL, ":", &save)) {
        char *abs = absolute_path(p);

        r = merge_file(&m, abs, !single);
        files += r == 0 && access(abs, F_OK) == 0;
        free(abs);
    }
    if (r == 0 && files == 0)
        r = fail(&m, -ENOENT, "kubeconfig: none of '%s' exists", paths);
    if (r == 0)
        r = build_config(&m, paths, context, c);
    if (r < 0) {
        *reterr_msg = m.err ? m.err : xasprintf("kubeconfig '%s': invalid", paths);
        m.err = NULL;
        kube_config_free(c);
    } else {
        *ret_config = c;
    }
    free(list);
    free(m.err);
    free(m.current_context);
    free(m.current_context_file);
    json_decref(m.clusters);
    json_decref(m.users);
    json_decref(m.contexts);
    return r;
}

int kube_config_from_files(const char *paths, const char *context, struct kube_config **ret_config,
                           char **reterr_msg)
{
    return load_files(paths, false, context, ret_config, reterr_msg);
}

static int read_small(const char *path, char **ret)
{
    struct buf b;
    int r;

    buf_init(&b, 64 * 1024);
    r = buf_read_file(&b, path);
    if (r == 0) {
        buf_trim_newline(&b);
        *ret = buf_take(&b);
    }
    buf_done(&b);
    return r;
}

static bool is_port(const char *s)
{
    char *end = NULL;
    long v;

    if (!s || !*s)
        return false;
    v = strtol(s, &end, 10);
    return *end == '\0' && v > 0 && v < 65536;
}

int kube_config_in_cluster(const char *host, const char *port, const char *serviceaccount_dir,
                           struct kube_config **ret_config, char **reterr_msg)
{
    const char *dir = serviceaccount_dir ? serviceaccount_dir : SERVICEACCOUNT_DIR;
    struct kube_config *c;
    char *ns = NULL;
    char *ns_path;
    int r;

    if (!host || !*host || !is_port(port)) {
        *reterr_msg = xstrdup("in-cluster config: KUBERNETES_SERVICE_HOST and "
                              "KUBERNETES_SERVICE_PORT must be set");
        return -ENOENT;
    }
    c = xcalloc(1, sizeof(*c));
    c->source = xstrdup("in-cluster");
    c->server = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port)
                                  : xasprintf("https://%s:%s", host, port);
    c->token_file = xasprintf("%s/token", dir);
    c->ca_file = xasprintf("%s/ca.crt", dir);
    r = access(c->token_file, R_OK) < 0 ? -errno : 0;
    if (r == 0 && access(c->ca_file, R_OK) < 0)
        r = -errno;
    if (r < 0) {
        *reterr_msg =
            xasprintf("in-cluster config: cannot read '%s': %s",
                      access(c->token_file, R_OK) < 0 ? c->token_file : c->ca_file, strerror(-r));
        kube_config_free(c);
        return r;
    }
    /* the namespace file is optional: "default" without it, as client-go does */
    ns_path = xasprintf("%s/namespace", dir);
    if (read_small(ns_path, &ns) == 0 && *ns)
        c->ns = ns;
    else
        free(ns);
    if (!c->ns)
        c->ns = xstrdup("default");
    free(ns_path);
    *ret_config = c;
    return 0;
}

void kube_config_options_from_env(struct kube_config_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->kubeconfig_env = getenv("KUBECONFIG");
    opts->home = getenv("HOME");
    opts->service_host = getenv("KUBERNETES_SERVICE_HOST");
    opts->service_port = getenv("KUBERNETES_SERVICE_PORT");
}

int kube_config_load(const struct kube_config_options *opts, struct kube_config **ret_config,
                     char **reterr_msg)
{
    char *home_config;
    int r;

    if (opts->kubeconfig && *opts->kubeconfig)
        return load_files(opts->kubeconfig, true, opts->context, ret_config, reterr_msg);
    if (opts->kubeconfig_env && *opts->kubeconfig_env)
        return load_files(opts->kubeconfig_env, false, opts->context, ret_config, reterr_msg);
    if (opts->service_host && *opts->service_host)
        return kube_config_in_cluster(opts->service_host, opts->service_port,
                                      opts->serviceaccount_dir, ret_config, reterr_msg);
    if (!opts->home || !*opts->home) {
        *reterr_msg = xstrdup("no kubeconfig: neither --kubeconfig, KUBECONFIG, "
                              "KUBERNETES_SERVICE_HOST nor HOME is set");
        return -ENOENT;
    }
    home_config = xasprintf("%s/.kube/config", opts->home);
    r = load_files(home_config, true, opts->context, ret_config, reterr_msg);
    free(home_config);
    return r;
}

void kube_config_free(struct kube_config *c)
{
    if (!c)
        return;
    free(c->server);
    free(c->ns);
    free(c->context);
    free(c->source);
    free(c->tls_server_name);
    free(c->proxy_url);
    free(c->ca_file);
    free(c->ca_data.data);
    free(c->client_cert_file);
    free(c->client_cert_data.data);
    free(c->client_key_file);
    free(c->client_key_data.data);
    free(c->token);
    free(c->token_file);
    free(c->username);
    free(c->password);
    if (c->exec) {
        free(c->exec->api_version);
        free(c->exec->command);
        free_strv(c->exec->args);
        free_strv(c->exec->env);
        free(c->exec);
    }
    free(c);
}
