/*
 * Unit tests for lib/kubeauth: token files re-read on change and after a 401, exec plugins
 * run on the loop (real child processes: small shell scripts), ExecCredential decoding.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/kubeauth.h"
#include "lib/kubeconfig.h"
#include "lib/xalloc.h"

struct fixture {
    char dir[64];
    uv_loop_t loop;
    struct kube_auth *auth;
    int refreshed;
    int refreshed_rc;
    char *refreshed_error;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/tektite-auth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static void on_closed(void *ctx)
{
    (*(int *)ctx)++;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int closed = 0;

    kube_auth_close(f->auth, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, f->auth ? 1 : 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f->refreshed_error);
    free(f);
    return 0;
}

static void rm_dir(const char *dir)
{
    static const char *const names[] = {"token", "plugin", "plugin-out", NULL};

    for (size_t i = 0; names[i]; i++) {
        char *p = xasprintf("%s/%s", dir, names[i]);

        unlink(p);
        free(p);
    }
    rmdir(dir);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
    chmod(path, mode);
}

static void set_mtime(const char *path, time_t sec)
{
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};

    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static const char *header(struct fixture *f)
{
    const char *h = NULL;
    char *err = NULL;
    int r = kube_auth_header(f->auth, &h, &err);

    if (r != 0)
        fail_msg("kube_auth_header: %d %s", r, err ? err : "");
    return h;
}

static void test_kube_auth_token_file_reread_on_mtime_change_and_after_401(void **state)
{
    struct fixture *f = *state;
    char *path = xasprintf("%s/token", f->dir);
    struct kube_config c = {.token_file = path};

    write_file(path, "token-one\n", 0600);
    set_mtime(path, 1000000);
    assert_int_equal(kube_auth_new(&f->loop, &c, NULL, NULL, &f->auth), 0);
    assert_string_equal(header(f), "Authorization: Bearer token-one");

    /* same size and mtime: the stat says nothing changed, so the cached token stays */
    write_file(path, "token-two\n", 0600);
    set_mtime(path, 1000000);
    assert_string_equal(header(f), "Authorization: Bearer token-one");

    /* the kubelet rotated it: new mtime */
    set_mtime(path, 1000060);
    assert_string_equal(header(f), "Authorization: Bearer token-two");

    /* a 401 forces a re-read even when the stat is unchanged */
    write_file(path, "token-333\n", 0600);
    set_mtime(path, 1000060);
    assert_string_equal(header(f), "Authorization: Bearer token-two");
    kube_auth_invalidate(f->auth);
    assert_string_equal(header(f), "Authorization: Bearer token-333");

    /* gone after a good read: keep the last good token */
    unlink(path);
    assert_string_equal(header(f), "Authorization: Bearer token-333");
    free(path);
    rm_dir(f->dir);
}

static void test_kube_auth_token_file_missing_is_error_naming_file(void **state)
{
    struct fixture *f = *state;
    char *path = xasprintf("%s/token", f->dir);
    struct kube_config c = {.token_file = path};
    const char *h = NULL;
    char *err = NULL;

    assert_int_equal(kube_auth_new(&f->loop, &c, NULL, NULL, &f->auth), 0);
    assert_int_equal(kube_auth_header(f->auth, &h, &err), -ENOENT);
    assert_non_null(strstr(err, "cannot read token file '"));
    assert_non_null(strstr(err, "/token': No such file or directory"));
    free(err);
    write_file(path, "\n", 0600);
    assert_int_equal(kube_auth_header(f->auth, &h, &err), -ENODATA);
    assert_non_null(strstr(err, "': empty"));
    free(err);
    free(path);
    rm_dir(f->dir);
}

static void test_kube_auth_static_token_basic_and_none(void **state)
{
    struct fixture *f = *state;
    char token[] = "abc", user[] = "admin", password[] = "secret";
    struct kube_config tok = {.token = token};
    struct kube_config basic = {.username = user, .password = password};
    struct kube_config none = {0};
    struct kube_auth *b = NULL, *n = NULL;
    const char *h = NULL;
    char *err = NULL;

    assert_int_equal(kube_auth_new(&f->loop, &tok, NULL, NULL, &f->auth), 0);
    assert_string_equal(header(f), "Authorization: Bearer abc");
    assert_int_equal(kube_auth_new(&f->loop, &basic, NULL, NULL, &b), 0);
    assert_int_equal(kube_auth_header(b, &h, &err), 0);
    assert_string_equal(h, "Authorization: Basic YWRtaW46c2VjcmV0");
    assert_int_equal(kube_auth_new(&f->loop, &none, NULL, NULL, &n), 0);
    assert_int_equal(kube_auth_header(n, &h, &err), 0);
    assert_null(h);
    kube_auth_close(b, NULL, NULL);
    kube_auth_close(n, NULL, NULL);
    rm_dir(f->dir);
}

static void on_refreshed(void *ctx, int rc, const char *error)
{
    struct fixture *f = ctx;

    f->refreshed++;
    f->refreshed_rc = rc;
    free(f->refreshed_error);
    f->refreshed_error = error ? xstrdup(error) : NULL;
}

static void exec_config(struct kube_exec_config *e, const char *command, char **env)
{
    static char *no_args[] = {NULL};

    e->api_version = (char *)(uintptr_t) "client.authentication.k8s.io/v1";
    e->command = (char *)(uintptr_t)command;
    e->args = no_args;
    e->env = env;
    e->provide_cluster_info = true;
}

static void test_kube_auth_exec_runs_plugin_and_caches_until_expiry(void **state)
{
    struct fixture *f = *state;
    char *plugin = xasprintf("%s/plugin", f->dir);
    char *env[] = {(char *)(uintptr_t) "PLUGIN_TOKEN=from-env", NULL};
    struct kube_exec_config e;
    struct kube_config c = {.server = (char *)(uintptr_t) "https://k:6443", .exec = &e};
    const char *h = NULL;
    char *err = NULL;

    /* the plugin proves it saw its env and KUBERNETES_EXEC_INFO with the cluster */
    write_file(plugin,
               "#!/bin/sh\n"
               "case \"$KUBERNETES_EXEC_INFO\" in *'\"server\":\"https://k:6443\"'*) ;; "
               "*) echo no-info >&2; exit 3;; esac\n"
               "printf '{\"kind\":\"ExecCredential\",\"apiVersion\":"
               "\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"%s\","
               "\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}' \"$PLUGIN_TOKEN\"\n",
               0700);
    exec_config(&e, plugin, env);
    assert_int_equal(kube_auth_new(&f->loop, &c, on_refreshed, f, &f->auth), 0);
    assert_int_equal(kube_auth_header(f->auth, &h, &err), -EAGAIN);
    assert_int_equal(kube_auth_refresh(f->auth, &err), 0);
    assert_int_equal(kube_auth_refresh(f->auth, &err), 0); /* already running: no second run */
    while (f->refreshed == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->refreshed_rc, 0);
    assert_string_equal(header(f), "Authorization: Bearer from-env");
    kube_auth_invalidate(f->auth);
    assert_int_equal(kube_auth_header(f->auth, &h, &err), -EAGAIN);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->refreshed, 1);
    free(plugin);
    rm_dir(f->dir);
}

static void test_kube_auth_exec_failure_reports_status_and_stderr(void **state)
{
    struct fixture *f = *state;
    char *plugin = xasprintf("%s/plugin", f->dir);
    char *env[] = {NULL};
    struct kube_exec_config e;
    struct kube_config c = {.server = (char *)(uintptr_t) "https://k", .exec = &e};
    char *err = NULL;

    write_file(plugin, "#!/bin/sh\necho 'please run gcloud auth login' >&2\nexit 7\n", 0700);
    exec_config(&e, plugin, env);
    assert_int_equal(kube_auth_new(&f->loop, &c, on_refreshed, f, &f->auth), 0);
    assert_int_equal(kube_auth_refresh(f->auth, &err), 0);
    while (f->refreshed == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->refreshed_rc, -EACCES);
    assert_non_null(strstr(f->refreshed_error, "exited with status 7: please run gcloud"));
    free(plugin);
    rm_dir(f->dir);
}

static void test_kube_auth_exec_missing_command_fails_at_refresh(void **state)
{
    struct fixture *f = *state;
    char *env[] = {NULL};
    struct kube_exec_config e;
    struct kube_config c = {.server = (char *)(uintptr_t) "https://k", .exec = &e};
    char *err = NULL;

    exec_config(&e, "/nonexistent/kube-plugin", env);
    assert_int_equal(kube_auth_new(&f->loop, &c, on_refreshed, f, &f->auth), 0);
    assert_int_equal(kube_auth_refresh(f->auth, &err), -ENOENT);
    assert_non_null(strstr(err, "cannot run exec plugin '/nonexistent/kube-plugin'"));
    free(err);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->refreshed, 0);
    rm_dir(f->dir);
}

static void test_kube_auth_parse_exec_credential_table(void **state)
{
    static const char v1[] = "client.authentication.k8s.io/v1";
    static const struct {
        const char *name;
        const char *json;
        int rc;
        const char *token;
        time_t expiry;
        const char *err;
    } cases[] = {
        {"token without expiry",
         "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"token\":\"t\"}}",
         0, "t", 0, NULL},
        {"token with expiry",
         "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"2026-11-27T22:00:00Z\"}}",
         0, "t", 1795816800, NULL},
        {"wrong apiVersion",
         "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
         "\"status\":{\"token\":\"t\"}}",
         -EINVAL, NULL, 0, "returned apiVersion"},
        {"client certificate",
         "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"clientCertificateData\":\"x\",\"clientKeyData\":\"y\"}}",
         -EINVAL, NULL, 0, "client certificate"},
        {"bad expiry",
         "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
         -EINVAL, NULL, 0, "expirationTimestamp 'tomorrow'"},
        {"not json", "Error: token expired", -EINVAL, NULL, 0, "not JSON"},
        {"wrong kind", "{\"kind\":\"Status\"}", -EINVAL, NULL, 0, "not an ExecCredential"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *token = NULL, *err = NULL;
        time_t expiry = 42;
        int r = kube_auth_parse_exec_credential(cases[i].json, strlen(cases[i].json), v1, &token,
                                                &expiry, &err);

        if (r != cases[i].rc)
            fail_msg("case '%s': rc %d (%s)", cases[i].name, r, err ? err : "");
        if (r == 0 && (strcmp(token, cases[i].token) != 0 || expiry != cases[i].expiry))
            fail_msg("case '%s': token '%s' expiry %ld", cases[i].name, token, (long)expiry);
        if (r < 0 && !strstr(err, cases[i].err))
            fail_msg("case '%s': message '%s' lacks '%s'", cases[i].name, err, cases[i].err);
        free(token);
        free(err);
    }
}

static void test_kube_auth_parse_time_table(void **state)
{
    static const struct {
        const char *text;
        int rc;
        time_t want;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2026-11-27T22:00:00Z", 0, 1795816800},
        {"2026-11-27T22:00:00.123456789Z", 0, 1795816800},
        {"2026-11-27T23:30:00+01:30", 0, 1795816800},
        {"2026-11-27T20:00:00-02:00", 0, 1795816800},
        {"2026-11-27 22:00:00Z", 0, 1795816800},
        {"2026-13-27T22:00:00Z", -EINVAL, 0},
        {"2026-11-27T22:00:00", -EINVAL, 0},
        {"2026-11-27T22:00:00Zjunk", -EINVAL, 0},
        {"", -EINVAL, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        time_t got = 0;
        int r = kube_auth_parse_time(cases[i].text, &got);

        if (r != cases[i].rc || (r == 0 && got != cases[i].want))
            fail_msg("case '%s': rc %d, time %ld, want %ld", cases[i].text, r, (long)got,
                     (long)cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kube_auth_token_file_reread_on_mtime_change_and_after_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_auth_token_file_missing_is_error_naming_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_auth_static_token_basic_and_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kube_auth_exec_runs_plugin_and_caches_until_expiry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_auth_exec_failure_reports_status_and_stderr,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_auth_exec_missing_command_fails_at_refresh, setup,
                                        teardown),
        cmocka_unit_test(test_kube_auth_parse_exec_credential_table),
        cmocka_unit_test(test_kube_auth_parse_time_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
