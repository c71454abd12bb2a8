/*
 * Unit tests for lib/kubeconfig: real-world kubeconfig shapes (kind, minikube, GKE, EKS,
 * token files, merged files), malformed ones, in-cluster config and base64.
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
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "lib/kubeconfig.h"
#include "lib/xalloc.h"

#define FIXTURES "tests/unit/fixtures/kubeconfig/"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, m = strlen(suffix);

    return s && n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "a.yaml:b.yaml" -> "FIXTURES/a.yaml:FIXTURES/b.yaml" */
static char *fixture_paths(const char *files)
{
    char *out = xstrdup("");
    const char *p = files;

    while (*p) {
        size_t n = strcspn(p, ":");
        char *next = xasprintf("%s%s" FIXTURES "%.*s", out, *out ? ":" : "", (int)n, p);

        free(out);
        out = next;
        p += n + (p[n] == ':');
    }
    return out;
}

struct want {
    const char *server, *ns, *context, *token, *token_file, *ca_file, *ca_data, *cert_file,
        *cert_data, *key_file, *exec_command, *exec_api;
    bool insecure;
};

static void check_str(const char *name, const char *field, const char *got, const char *want,
                      bool suffix)
{
    if (!want && got)
        fail_msg("case '%s': %s is '%s', want unset", name, field, got);
    if (want && (suffix ? !ends_with(got, want) : (!got || strcmp(got, want) != 0)))
        fail_msg("case '%s': %s is '%s', want %s'%s'", name, field, got ? got : "(null)",
                 suffix ? "suffix " : "", want);
}

static void check_config(const char *name, const struct kube_config *c, const struct want *w)
{
    check_str(name, "server", c->server, w->server, false);
    check_str(name, "ns", c->ns, w->ns, false);
    check_str(name, "context", c->context, w->context, false);
    check_str(name, "token", c->token, w->token, false);
    check_str(name, "token_file", c->token_file, w->token_file, true);
    check_str(name, "ca_file", c->ca_file, w->ca_file, true);
    check_str(name, "ca_data", (const char *)c->ca_data.data, w->ca_data, false);
    check_str(name, "client_cert_file", c->client_cert_file, w->cert_file, true);
    check_str(name, "client_cert_data", (const char *)c->client_cert_data.data, w->cert_data,
              false);
    check_str(name, "client_key_file", c->client_key_file, w->key_file, false);
    check_str(name, "exec command", c->exec ? c->exec->command : NULL, w->exec_command, true);
    check_str(name, "exec apiVersion", c->exec ? c->exec->api_version : NULL, w->exec_api, false);
    if (c->insecure_skip_tls_verify != w->insecure)
        fail_msg("case '%s': insecure_skip_tls_verify is %d", name, c->insecure_skip_tls_verify);
}

#define KIND_CA "-----BEGIN CERTIFICATE-----\nfake-kind-ca\n-----END CERTIFICATE-----\n"

static void test_kube_config_from_files_real_world_shapes(void **state)
{
    static const struct {
        const char *name;
        const char *files;
        const char *context;
        struct want want;
    } cases[] = {
        {"kind with embedded data",
         "kind.yaml",
         NULL,
         {.server = "https://127.0.0.1:40661",
          .ns = "default",
          .context = "kind-kind",
          .ca_data = KIND_CA,
          .cert_data = "fake-client-cert"}},
        {"minikube with paths relative to the file",
         "minikube/config",
         NULL,
         {.server = "https://192.168.49.2:8443",
          .ns = "dev",
          .context = "minikube",
          .ca_file = "/fixtures/kubeconfig/minikube/ca.crt",
          .cert_file = "/fixtures/kubeconfig/minikube/profiles/client.crt",
          .key_file = "/abs/minikube/client.key"}},
        {"gke exec plugin found on PATH",
         "gke.yaml",
         NULL,
         {.server = "https://34.118.10.20",
          .ns = "default",
          .context = "gke_proj_europe-west1_ci",
          .ca_data = KIND_CA,
          .exec_command = "gke-gcloud-auth-plugin",
          .exec_api = "client.authentication.k8s.io/v1beta1"}},
        {"eks exec plugin path resolved",
         "eks.yaml",
         NULL,
         {.server = "https://0123ABCD.gr7.us-west-2.eks.amazonaws.com",
          .ns = "default",
          .context = "arn:aws:eks:us-west-2:111122223333:cluster/demo",
          .ca_data = KIND_CA,
          .exec_command = "/fixtures/kubeconfig/./bin/aws",
          .exec_api = "client.authentication.k8s.io/v1"}},
        {"token file and insecure",
         "token-file.yaml",
         NULL,
         {.server = "https://[fd00::1]:6443",
          .ns = "tekton-pipelines",
          .context = "sa",
          .token_file = "/fixtures/kubeconfig/tokens/sa-token",
          .insecure = true}},
        {"merged: first file wins per name, current-context from the second",
         "merge-a.yaml:merge-b.yaml",
         NULL,
         {.server = "https://only-b.example",
          .ns = "default",
          .context = "b",
          .token = "alice-token"}},
        {"merged: --context picks the first file's context",
         "merge-a.yaml:merge-b.yaml",
         "a",
         {.server = "https://a.example:6443",
          .ns = "default",
          .context = "a",
          .token = "alice-token"}},
        {"merged: reversed order flips the winners",
         "merge-b.yaml:merge-a.yaml",
         "a",
         {.server = "https://only-b.example",
          .ns = "default",
          .context = "a",
          .token = "bob-token"}},
        {"merged: missing files are skipped",
         "nope.yaml:kind.yaml:empty.yaml",
         NULL,
         {.server = "https://127.0.0.1:40661",
          .ns = "default",
          .context = "kind-kind",
          .ca_data = KIND_CA,
          .cert_data = "fake-client-cert"}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *paths = fixture_paths(cases[i].files);
        struct kube_config *c = NULL;
        char *err = NULL;
        int r = kube_config_from_files(paths, cases[i].context, &c, &err);

        if (r != 0)
            fail_msg("case '%s': rc %d: %s", cases[i].name, r, err);
        check_config(cases[i].name, c, &cases[i].want);
        kube_config_free(c);
        free(paths);
    }
}

static void test_kube_config_from_files_exec_args_and_env(void **state)
{
    struct kube_config *c = NULL;
    char *err = NULL;

    assert_int_equal(kube_config_from_files(FIXTURES "eks.yaml", NULL, &c, &err), 0);
    assert_string_equal(c->exec->args[0], "--region");
    assert_string_equal(c->exec->args[5], "demo");
    assert_null(c->exec->args[6]);
    assert_string_equal(c->exec->env[0], "AWS_PROFILE=prod");
    assert_null(c->exec->env[1]);
    assert_false(c->exec->provide_cluster_info);
    kube_config_free(c);
    assert_int_equal(kube_config_from_files(FIXTURES "gke.yaml", NULL, &c, &err), 0);
    assert_true(c->exec->provide_cluster_info);
    assert_null(c->exec->args[0]);
    kube_config_free(c);
}

static void test_kube_config_from_files_errors_name_file_and_cause(void **state)
{
    static const struct {
        const char *name;
        const char *files;
        const char *context;
        int rc;
        const char *want; /* substring of the message */
    } cases[] = {
        {"malformed YAML at line:col", "bad-yaml.yaml", NULL, -EINVAL,
         "kubeconfig/bad-yaml.yaml': line 6, column 4: did not find expected key"},
        {"bad base64", "bad-base64.yaml", NULL, -EINVAL,
         "bad-base64.yaml': cluster: 'certificate-authority-data' is not valid base64"},
        {"missing cluster", "missing-cluster.yaml", NULL, -ENOENT,
         "cluster 'gone' (context 'c') not found"},
        {"missing user", "missing-user.yaml", NULL, -ENOENT,
         "user 'nobody' (context 'c') not found"},
        {"cluster without server", "no-server.yaml", NULL, -EINVAL,
         "no-server.yaml': cluster 'c' has no server"},
        {"no current context", "no-current-context.yaml", NULL, -ENOENT,
         "no current-context and no --context"},
        {"unknown --context", "kind.yaml", "prod", -ENOENT, "context 'prod' not found"},
        {"document is a list", "not-mapping.yaml", NULL, -EINVAL,
         "not-mapping.yaml': not a mapping"},
        {"exec apiVersion too old", "exec-bad-api.yaml", NULL, -EINVAL,
         "exec apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported"},
        {"aliases refused", "alias-bomb.yaml", NULL, -EINVAL, "aliases are not supported"},
        {"nothing exists", "nope.yaml:nope2.yaml", NULL, -ENOENT, "none of"},
        {"unreadable (a directory)", "minikube", NULL, -EISDIR, "cannot read kubeconfig '"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *paths = fixture_paths(cases[i].files);
        struct kube_config *c = NULL;
        char *err = NULL;
        int r = kube_config_from_files(paths, cases[i].context, &c, &err);

        if (r != cases[i].rc)
            fail_msg("case '%s': rc %d, want %d (%s)", cases[i].name, r, cases[i].rc,
                     err ? err : "");
        assert_null(c);
        if (!strstr(err, cases[i].want))
            fail_msg("case '%s': message '%s' lacks '%s'", cases[i].name, err, cases[i].want);
        if (strchr(err, '\n'))
            fail_msg("case '%s': message is not one line: '%s'", cases[i].name, err);
        free(err);
        free(paths);
    }
}

static void test_kube_config_load_single_kubeconfig_must_exist(void **state)
{
    struct kube_config_options opts = {.kubeconfig = FIXTURES "nope.yaml",
                                       .kubeconfig_env = FIXTURES "kind.yaml"};
    struct kube_config *c = NULL;
    char *err = NULL;

    assert_int_equal(kube_config_load(&opts, &c, &err), -ENOENT);
    assert_non_null(strstr(err, "nope.yaml': No such file or directory"));
    free(err);
}

static void test_kube_config_load_precedence(void **state)
{
    struct kube_config_options opts = {.kubeconfig_env = FIXTURES "kind.yaml",
                                       .service_host = "10.0.0.1",
                                       .service_port = "443",
                                       .home = "/nonexistent"};
    struct kube_config *c = NULL;
    char *err = NULL;

    assert_int_equal(kube_config_load(&opts, &c, &err), 0);
    assert_string_equal(c->context, "kind-kind");
    kube_config_free(c);
    opts.kubeconfig_env = NULL;
    opts.serviceaccount_dir = "/nonexistent/sa";
    assert_int_equal(kube_config_load(&opts, &c, &err), -ENOENT);
    assert_non_null(strstr(err, "in-cluster config: cannot read '/nonexistent/sa/token'"));
    free(err);
    opts.service_host = NULL;
    assert_int_equal(kube_config_load(&opts, &c, &err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/.kube/config"));
    free(err);
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_kube_config_in_cluster_table(void **state)
{
    static const struct {
        const char *name;
        const char *host, *port;
        bool with_ns;
        int rc;
        const char *server, *ns;
    } cases[] = {
        {"ipv4 service", "10.96.0.1", "443", true, 0, "https://10.96.0.1:443", "ci"},
        {"ipv6 gets brackets", "fd00:10:96::1", "443", true, 0, "https://[fd00:10:96::1]:443",
         "ci"},
        {"no namespace file means default", "10.96.0.1", "6443", false, 0, "https://10.96.0.1:6443",
         "default"},
        {"no host", "", "443", true, -ENOENT, NULL, NULL},
        {"bad port", "10.96.0.1", "https", true, -ENOENT, NULL, NULL},
    };
    char dir[] = "/tmp/tektite-sa-XXXXXX";

    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *token = xasprintf("%s/token", dir), *ca = xasprintf("%s/ca.crt", dir);
        char *ns = xasprintf("%s/namespace", dir);
        struct kube_config *c = NULL;
        char *err = NULL;
        int r;

        write_file(token, "tok\n");
        write_file(ca, "ca\n");
        if (cases[i].with_ns)
            write_file(ns, "ci\n");
        else
            unlink(ns);
        r = kube_config_in_cluster(cases[i].host, cases[i].port, dir, &c, &err);
        if (r != cases[i].rc)
            fail_msg("case '%s': rc %d, want %d", cases[i].name, r, cases[i].rc);
        if (r == 0) {
            check_str(cases[i].name, "server", c->server, cases[i].server, false);
            check_str(cases[i].name, "ns", c->ns, cases[i].ns, false);
            check_str(cases[i].name, "token_file", c->token_file, token, false);
            check_str(cases[i].name, "ca_file", c->ca_file, ca, false);
        }
        kube_config_free(c);
        free(err);
        unlink(token);
        unlink(ca);
        unlink(ns);
        free(token);
        free(ca);
        free(ns);
    }
    rmdir(dir);
}

static void test_kube_base64_decode_table(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *out;
    } cases[] = {
        {"", 0, ""},
        {"Zg==", 0, "f"},
        {"Zm8=", 0, "fo"},
        {"Zm9v", 0, "foo"},
        {"Zg", 0, "f"},
        {"Zm9v\nYmFy", 0, "foobar"},
        {"Z", -EINVAL, NULL},
        {"Zm9v*", -EINVAL, NULL},
        {"Zg=x", -EINVAL, NULL},
        {"Zg===", -EINVAL, NULL},
        {"Z===", -EINVAL, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kube_blob b = {NULL, 0};
        int r = kube_base64_decode(cases[i].in, &b);

        if (r != cases[i].rc)
            fail_msg("case '%s': rc %d, want %d", cases[i].in, r, cases[i].rc);
        if (r == 0 && (b.len != strlen(cases[i].out) || memcmp(b.data, cases[i].out, b.len)))
            fail_msg("case '%s': got '%.*s', want '%s'", cases[i].in, (int)b.len, b.data,
                     cases[i].out);
        free(b.data);
    }
}

/* The fuzz corpus as regression tests: any outcome but a crash or a leak, errors on one line. */
static void test_kube_config_fuzz_corpus_replays_cleanly(void **state)
{
    const char *dir = "tests/fuzz/corpus/kubeconfig";
    DIR *d = opendir(dir);
    const struct dirent *e;
    size_t files = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        struct kube_config *c = NULL;
        char *err = NULL;
        char *path;
        int r;

        if (e->d_name[0] == '.')
            continue;
        path = xasprintf("%s/%s", dir, e->d_name);
        r = kube_config_from_files(path, NULL, &c, &err);
        if (r < 0 && (!err || !*err || strchr(err, '\n')))
            fail_msg("corpus '%s': rc %d with message '%s'", path, r, err ? err : "(null)");
        kube_config_free(c);
        free(err);
        free(path);
        files++;
    }
    closedir(d);
    assert_true(files >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kube_config_from_files_real_world_shapes),
        cmocka_unit_test(test_kube_config_from_files_exec_args_and_env),
        cmocka_unit_test(test_kube_config_from_files_errors_name_file_and_cause),
        cmocka_unit_test(test_kube_config_load_single_kubeconfig_must_exist),
        cmocka_unit_test(test_kube_config_load_precedence),
        cmocka_unit_test(test_kube_config_in_cluster_table),
        cmocka_unit_test(test_kube_base64_decode_table),
        cmocka_unit_test(test_kube_config_fuzz_corpus_replays_cleanly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
