/*
 * The Authorization header for API requests, kept fresh: token files are stat'ed before
 * each use and re-read when they change or after a 401; exec plugins run as child processes
 * on the loop and their token is cached until it expires. TLS client certificates stay
 * with lib/http; exec plugins that return certificates instead of tokens are refused.
 */
#include "lib/kubeauth.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "lib/kubeconfig.h"
#include "lib/xalloc.h"

#define TOKEN_MAX          (64u * 1024)
#define EXEC_STDOUT_MAX    (1024u * 1024)
#define EXEC_STDERR_MAX    (16u * 1024)
#define EXEC_TIMEOUT_MS    60000
#define ENV_EXEC_INFO_NAME "KUBERNETES_EXEC_INFO"

extern char **environ;

struct kube_auth {
    uv_loop_t *loop;
    kube_auth_refreshed_cb *refreshed;
    void *ctx;

    char *static_header; /* token or basic auth */

    char *token_file;
    struct stat token_stat; /* of the copy in file_header */
    bool force_reload;
    char *file_header;

    char *exec_command;
    char **exec_argv; /* command first, NULL-terminated */
    char **exec_env;  /* environ + plugin env + KUBERNETES_EXEC_INFO */
    char *exec_api;
    char *exec_header;
    time_t exec_expiry; /* 0: until a 401 */

    /* one plugin run */
    bool running;
    bool exited;       /* the pid may be reused: never signal it after this */
    bool spawn_failed; /* kube_auth_refresh() reported it: no 'refreshed' */
    uv_process_t proc;
    uv_pipe_t out_pipe, err_pipe;
    struct buf out, err;
    int64_t exit_status;
    int term_signal;
    unsigned run_handles;

    uv_timer_t timer; /* kills a plugin that hangs */
    bool closing;
    unsigned open_handles; /* the timer, plus run_handles while running */
    kube_auth_closed_cb *closed_cb;
    void *closed_ctx;
};

static char *base64_encode(const unsigned char *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16;

        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static char *exec_info(const struct kube_config *c)
{
    json_t *info = json_pack("{s:s, s:s, s:{s:b}}", "kind", "ExecCredential", "apiVersion",
                             c->exec->api_version, "spec", "interactive", 0);
    char *text;

    if (c->exec->provide_cluster_info) {
        char *ca = c->ca_data.data ? base64_encode(c->ca_data.data, c->ca_data.len) : NULL;

        json_object_set_new(json_object_get(info, "spec"), "cluster",
                            json_pack("{s:s, s:s*, s:b, s:s*, s:s*}", "server", c->server,
                                      "certificate-authority-data", ca, "insecure-skip-tls-verify",
                                      c->insecure_skip_tls_verify, "tls-server-name",
                                      c->tls_server_name, "proxy-url", c->proxy_url));
        free(ca);
    }
    text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    return text;
}

static size_t strv_len(char *const *v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

static void setup_exec(struct kube_auth *a, const struct kube_config *c)
{
    size_t n_args = strv_len(c->exec->args), n_env = strv_len(c->exec->env);
    size_t n_environ = strv_len(environ), e = 0;
    char *info = exec_info(c);

    a->exec_command = xstrdup(c->exec->command);
    a->exec_api = xstrdup(c->exec->api_version);
    a->exec_argv = xcalloc(n_args + 2, sizeof(char *));
    a->exec_argv[0] = xstrdup(c->exec->command);
    for (size_t i = 0; i < n_args; i++)
        a->exec_argv[i + 1] = xstrdup(c->exec->args[i]);
    a->exec_env = xcalloc(n_environ + n_env + 2, sizeof(char *));
    for (size_t i = 0; i < n_environ; i++)
        if (strncmp(environ[i], ENV_EXEC_INFO_NAME "=", sizeof(ENV_EXEC_INFO_NAME)) != 0)
            a->exec_env[e++] = xstrdup(environ[i]);
    for (size_t i = 0; i < n_env; i++)
        a->exec_env[e++] = xstrdup(c->exec->env[i]);
    a->exec_env[e] = xasprintf(ENV_EXEC_INFO_NAME "=%s", info);
    free(info);
}

int kube_auth_new(uv_loop_t *loop, const struct kube_config *config,
                  kube_auth_refreshed_cb *refreshed, void *ctx, struct kube_auth **ret_auth)
{
    struct kube_auth *a = xcalloc(1, sizeof(*a));

    a->loop = loop;
    a->refreshed = refreshed;
    a->ctx = ctx;
    buf_init(&a->out, EXEC_STDOUT_MAX);
    buf_init(&a->err, EXEC_STDERR_MAX);
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    a->open_handles = 1;
    if (config->token) {
        a->static_header = xasprintf("Authorization: Bearer %s", config->token);
    } else if (config->token_file) {
        a->token_file = xstrdup(config->token_file);
    } else if (config->exec) {
        setup_exec(a, config);
    } else if (config->username) {
        char *pair = xasprintf("%s:%s", config->username, config->password ? config->password : "");
        char *enc = base64_encode((const unsigned char *)pair, strlen(pair));

        a->static_header = xasprintf("Authorization: Basic %s", enc);
        free(pair);
        free(enc);
    }
    *ret_auth = a;
    return 0;
}

static bool same_file_version(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Re-read the token file if it changed (or after a 401); keep the old token on failure. */
static int token_file_header(struct kube_auth *a, const char **ret_header, char **reterr_msg)
{
    struct stat st;
    struct buf b;
    int r;

    r = stat(a->token_file, &st) < 0 ? -errno : 0;
    if (r == 0 && a->file_header && !a->force_reload && same_file_version(&st, &a->token_stat)) {
        *ret_header = a->file_header;
        return 0;
    }
    buf_init(&b, TOKEN_MAX);
    if (r == 0)
        r = buf_read_file(&b, a->token_file);
    buf_trim_newline(&b);
    if (r == 0 && buf_len(&b) == 0)
        r = -ENODATA;
    if (r == 0) {
        free(a->file_header);
        a->file_header = xasprintf("Authorization: Bearer %s", buf_str(&b));
        a->token_stat = st;
        a->force_reload = false;
    }
    buf_done(&b);
    if (r < 0 && !a->file_header) {
        *reterr_msg = xasprintf("cannot read token file '%s': %s", a->token_file,
                                r == -ENODATA ? "empty" : strerror(-r));
        return r;
    }
    *ret_header = a->file_header; /* on failure: the last good token, as client-go does */
    return 0;
}

int kube_auth_header(struct kube_auth *a, const char **ret_header, char **reterr_msg)
{
    if (a->static_header) {
        *ret_header = a->static_header;
        return 0;
    }
    if (a->token_file)
        return token_file_header(a, ret_header, reterr_msg);
    if (a->exec_command) {
        if (!a->exec_header || (a->exec_expiry && time(NULL) >= a->exec_expiry))
            return -EAGAIN;
        *ret_header = a->exec_header;
        return 0;
    }
    *ret_header = NULL;
    return 0;
}

void kube_auth_invalidate(struct kube_auth *a)
{
    a->force_reload = true;
    free(a->exec_header);
    a->exec_header = NULL;
}

/* ---- ExecCredential ---- */

int kube_auth_parse_time(const char *text, time_t *ret_time)
{
    struct tm tm = {0};
    int consumed = 0, oh = 0, om = 0;
    const char *p;
    long offset = 0;
    time_t t;

    if (sscanf(text, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed == 0)
        return -EINVAL;
    p = text + consumed;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 &&
               strlen(p) == 6) {
        offset = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    } else {
        return -EINVAL;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret_time = t - offset;
    return 0;
}

static int credential_fail(json_t *doc, char **reterr_msg, char *msg)
{
    json_decref(doc);
    *reterr_msg = msg;
    return -EINVAL;
}

int kube_auth_parse_exec_credential(const char *text, size_t len, const char *api_version,
                                    char **ret_token, time_t *ret_expiry, char **reterr_msg)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *api = json_string_value(json_object_get(doc, "apiVersion"));
    const json_t *status = json_object_get(doc, "status");
    const char *token = json_string_value(json_object_get(status, "token"));
    const char *expiry = json_string_value(json_object_get(status, "expirationTimestamp"));
    time_t when = 0;

    if (!json_is_object(doc))
        return credential_fail(doc, reterr_msg, xstrdup("exec plugin output is not JSON"));
    if (!kind || strcmp(kind, "ExecCredential") != 0)
        return credential_fail(doc, reterr_msg,
                               xstrdup("exec plugin output is not an ExecCredential"));
    if (!api || strcmp(api, api_version) != 0)
        return credential_fail(doc, reterr_msg,
                               xasprintf("exec plugin returned apiVersion '%s', want '%s'",
                                         api ? api : "", api_version));
    if (!token || !*token)
        return credential_fail(
            doc, reterr_msg,
            xstrdup(json_object_get(status, "clientCertificateData")
                        ? "exec plugin returned a client certificate, which is not supported"
                        : "exec plugin returned no status.token"));
    if (expiry && kube_auth_parse_time(expiry, &when) < 0)
        return credential_fail(
            doc, reterr_msg,
            xasprintf("exec plugin returned a bad expirationTimestamp '%s'", expiry));
    *ret_token = xstrdup(token);
    *ret_expiry = when;
    json_decref(doc);
    return 0;
}

/* ---- running the plugin ---- */

static void maybe_free(struct kube_auth *a);

static void on_run_handle_closed(uv_handle_t *h);

static void first_line(const struct buf *b, char *out, size_t size)
{
    const char *s = buf_str(b);
    size_t n = strcspn(s, "\r\n");

    snprintf(out, size, "%.*s", (int)n, s);
}

static void finish_run(struct kube_auth *a)
{
    char *token = NULL, *err = NULL;
    time_t expiry = 0;
    char detail[256];
    int r;

    uv_timer_stop(&a->timer);
    a->running = false;
    if (a->spawn_failed) {
        buf_done(&a->out);
        buf_done(&a->err);
        return;
    }
    first_line(&a->err, detail, sizeof(detail));
    if (a->term_signal)
        err = xasprintf("exec plugin '%s' was killed by signal %d%s%s", a->exec_command,
                        a->term_signal, *detail ? ": " : "", detail);
    else if (a->exit_status != 0)
        err = xasprintf("exec plugin '%s' exited with status %d%s%s", a->exec_command,
                        (int)a->exit_status, *detail ? ": " : "", detail);
    r = err ? -EACCES : 0;
    if (r == 0) {
        r = kube_auth_parse_exec_credential(buf_str(&a->out), buf_len(&a->out), a->exec_api, &token,
                                            &expiry, &err);
        r = r < 0 ? -EACCES : 0;
    }
    if (r == 0) {
        free(a->exec_header);
        a->exec_header = xasprintf("Authorization: Bearer %s", token);
        a->exec_expiry = expiry;
    }
    buf_done(&a->out);
    buf_done(&a->err);
    if (!a->closing && a->refreshed)
        a->refreshed(a->ctx, r, err);
    free(token);
    free(err);
}

static void on_run_handle_closed(uv_handle_t *h)
{
    struct kube_auth *a = h->data;

    a->open_handles--;
    if (--a->run_handles == 0)
        finish_run(a);
    maybe_free(a);
}

static void on_plugin_exit(uv_process_t *proc, int64_t status, int signal)
{
    struct kube_auth *a = proc->data;

    a->exit_status = status;
    a->term_signal = signal;
    a->exited = true;
    uv_close((uv_handle_t *)proc, on_run_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    b->base = xmalloc(size);
    b->len = size;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct kube_auth *a = s->data;
    struct buf *into = s == (uv_stream_t *)&a->out_pipe ? &a->out : &a->err;

    if (n > 0 && buf_append(into, b->base, (size_t)n) < 0 && into == &a->out && !a->exited)
        (void)uv_process_kill(&a->proc, SIGKILL); /* a credential is never this big */
    free(b->base);
    if (n < 0)
        uv_close((uv_handle_t *)s, on_run_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    struct kube_auth *a = t->data;

    if (a->running && !a->exited)
        (void)uv_process_kill(&a->proc, SIGKILL);
}

int kube_auth_refresh(struct kube_auth *a, char **reterr_msg)
{
    uv_stdio_container_t stdio[3];
    uv_process_options_t opts = {0};
    int r;

    if (!a->exec_command || a->closing) {
        *reterr_msg = xstrdup("no exec plugin configured");
        return -EINVAL;
    }
    if (a->running)
        return 0;
    uv_pipe_init(a->loop, &a->out_pipe, 0);
    uv_pipe_init(a->loop, &a->err_pipe, 0);
    a->out_pipe.data = a->err_pipe.data = a->proc.data = a;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&a->out_pipe;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&a->err_pipe;
    opts.file = a->exec_command;
    opts.args = a->exec_argv;
    opts.env = a->exec_env;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.exit_cb = on_plugin_exit;
    a->exit_status = 0;
    a->term_signal = 0;
    a->exited = false;
    a->spawn_failed = false;
    a->running = true;
    a->run_handles = 3;
    a->open_handles += 3;
    r = uv_spawn(a->loop, &a->proc, &opts);
    if (r < 0) {
        *reterr_msg = xasprintf("cannot run exec plugin '%s': %s", a->exec_command, uv_strerror(r));
        a->spawn_failed = true;
        uv_close((uv_handle_t *)&a->proc, on_run_handle_closed);
        uv_close((uv_handle_t *)&a->out_pipe, on_run_handle_closed);
        uv_close((uv_handle_t *)&a->err_pipe, on_run_handle_closed);
        return r;
    }
    uv_read_start((uv_stream_t *)&a->out_pipe, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&a->err_pipe, on_alloc, on_read);
    uv_timer_start(&a->timer, on_timeout, EXEC_TIMEOUT_MS, 0);
    return 0;
}

/* ---- teardown ---- */

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void maybe_free(struct kube_auth *a)
{
    kube_auth_closed_cb *cb = a->closed_cb;
    void *ctx = a->closed_ctx;

    if (!a->closing || a->open_handles > 0)
        return;
    free(a->static_header);
    free(a->token_file);
    free(a->file_header);
    free(a->exec_command);
    free_strv(a->exec_argv);
    free_strv(a->exec_env);
    free(a->exec_api);
    free(a->exec_header);
    buf_done(&a->out);
    buf_done(&a->err);
    free(a);
    if (cb)
        cb(ctx);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct kube_auth *a = h->data;

    a->open_handles--;
    maybe_free(a);
}

void kube_auth_close(struct kube_auth *a, kube_auth_closed_cb *done, void *ctx)
{
    if (!a || a->closing)
        return;
    a->closing = true;
    a->closed_cb = done;
    a->closed_ctx = ctx;
    if (a->running && !a->exited)
        (void)uv_process_kill(&a->proc, SIGKILL);
    uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}
