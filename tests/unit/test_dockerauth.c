/* Unit tests for lib/dockerauth: config and Secret parsing, and kubelet-style matching. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/dockerauth.h"

/* base64 of "hub:hubpw" */
#define HUB_AUTH "aHViOmh1YnB3"

static struct dockerauth *keyring(const char *config)
{
    struct dockerauth *da = dockerauth_new();
    char *msg = NULL;

    if (dockerauth_add_config(da, config, strlen(config), false, "test", &msg) < 0)
        fail_msg("config refused: %s", msg);
    return da;
}

static void test_dockerauth_lookup_matching_table(void **state)
{
    static const char config[] =
        "{\"auths\": {"
        "\"https://index.docker.io/v1/\": {\"auth\": \"" HUB_AUTH "\"},"
        "\"quay.io\": {\"username\": \"quay\", \"password\": \"q\"},"
        "\"quay.io/coreos\": {\"username\": \"coreos\", \"password\": \"c\"},"
        "\"*.gcr.io\": {\"username\": \"gcr\", \"password\": \"g\"},"
        "\"http://127.0.0.1:5000/v2/\": {\"username\": \"local\", \"password\": \"l\"},"
        "\"registry.example:8443\": {\"username\": \"ported\", \"password\": \"p\"}"
        "}}";
    static const struct {
        const char *name, *registry, *repository, *want_user;
    } cases[] = {
        {"docker hub key serves docker.io", "docker.io", "library/ubuntu", "hub"},
        {"docker hub key serves index.docker.io", "index.docker.io", "library/ubuntu", "hub"},
        {"docker hub key serves registry-1.docker.io", "registry-1.docker.io", "x/y", "hub"},
        {"longer path prefix wins", "quay.io", "coreos/etcd", "coreos"},
        {"host key for other paths", "quay.io", "prometheus/node", "quay"},
        {"path prefix is a plain string prefix", "quay.io", "coreosx/y", "coreos"},
        {"wildcard label matches one label", "us.gcr.io", "p/i", "gcr"},
        {"wildcard does not match the bare domain", "gcr.io", "p/i", NULL},
        {"wildcard does not span two labels", "a.b.gcr.io", "p/i", NULL},
        {"scheme and /v2/ are ignored, port must match", "127.0.0.1:5000", "x", "local"},
        {"other port does not match", "127.0.0.1:5001", "x", NULL},
        {"key with port needs the port", "registry.example", "x", NULL},
        {"key with port matches the port", "registry.example:8443", "x", "ported"},
        {"unknown host", "ghcr.io", "a/b", NULL},
    };
    struct dockerauth *da = keyring(config);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dockerauth_cred cred = {0};
        int r = dockerauth_lookup(da, cases[i].registry, cases[i].repository, &cred);

        if (!cases[i].want_user && r != -ENOENT)
            fail_msg("case '%s': rc %d user '%s', want no match", cases[i].name, r,
                     r == 0 ? cred.username : "");
        if (cases[i].want_user && (r != 0 || strcmp(cred.username, cases[i].want_user) != 0))
            fail_msg("case '%s': rc %d user '%s', want '%s'", cases[i].name, r,
                     r == 0 ? cred.username : "", cases[i].want_user);
    }
    dockerauth_free(da);
}

static void test_dockerauth_auth_field_wins_over_username(void **state)
{
    struct dockerauth *da = keyring("{\"auths\": {\"docker.io\": {\"username\": \"x\", "
                                    "\"password\": \"y\", \"auth\": \"" HUB_AUTH "\"}}}");
    struct dockerauth_cred cred;

    assert_int_equal(dockerauth_lookup(da, "docker.io", "library/a", &cred), 0);
    assert_string_equal(cred.username, "hub");
    assert_string_equal(cred.password, "hubpw");
    dockerauth_free(da);
}

static void test_dockerauth_lookup_without_keyring_is_enoent(void **state)
{
    struct dockerauth_cred cred;

    assert_int_equal(dockerauth_lookup(NULL, "docker.io", "library/a", &cred), -ENOENT);
}

static void test_dockerauth_add_config_refusals_table(void **state)
{
    static const struct {
        const char *name, *json, *why;
        bool legacy;
    } cases[] = {
        {"malformed JSON", "{\"auths\": ", "invalid docker config in test:", false},
        {"no auths object", "{\"quay.io\": {}}", "no \"auths\" object", false},
        {"legacy not an object", "[1]", "not a JSON object", true},
        {"entry not an object", "{\"auths\": {\"quay.io\": 3}}", "entry 'quay.io': entry is not",
         false},
        {"auth not base64", "{\"auths\": {\"quay.io\": {\"auth\": \"!!!\"}}}",
         "\"auth\" is not base64", false},
        {"auth without colon", "{\"auths\": {\"quay.io\": {\"auth\": \"dXNlcg==\"}}}",
         "\"auth\" is not base64 of user:password", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dockerauth *da = dockerauth_new();
        struct dockerauth_cred cred;
        char *msg = NULL;
        int r = dockerauth_add_config(da, cases[i].json, strlen(cases[i].json), cases[i].legacy,
                                      "test", &msg);

        if (r != -EINVAL || !msg || !strstr(msg, cases[i].why))
            fail_msg("case '%s': rc %d message '%s'", cases[i].name, r, msg ? msg : "(null)");
        assert_int_equal(dockerauth_lookup(da, "quay.io", "x", &cred), -ENOENT);
        free(msg);
        dockerauth_free(da);
    }
}

static void test_dockerauth_add_secret_types(void **state)
{
    /* {"auths":{"ghcr.io":{"username":"gh","password":"p"}}} */
    static const char *cfgjson =
        "eyJhdXRocyI6eyJnaGNyLmlvIjp7InVzZXJuYW1lIjoiZ2giLCJwYXNzd29yZCI6InAifX19";
    /* {"quay.io":{"auth":"cTpx"}} (legacy .dockercfg, q:q) */
    static const char *dockercfg = "eyJxdWF5LmlvIjp7ImF1dGgiOiJjVHB4In19";
    json_t *s1 =
        json_pack("{s:s, s:{s:s}, s:{s:s, s:s}}", "type", "kubernetes.io/dockerconfigjson", "data",
                  ".dockerconfigjson", cfgjson, "metadata", "name", "pull", "namespace", "ci");
    json_t *s2 = json_pack("{s:s, s:{s:s}}", "type", "kubernetes.io/dockercfg", "data",
                           ".dockercfg", dockercfg);
    json_t *s3 =
        json_pack("{s:s, s:{s:s}}", "type", "Opaque", "data", ".dockerconfigjson", cfgjson);
    json_t *s4 =
        json_pack("{s:s, s:{s:s}, s:{s:s, s:s}}", "type", "kubernetes.io/dockerconfigjson", "data",
                  ".dockerconfigjson", "%%%", "metadata", "name", "broken", "namespace", "ci");
    struct dockerauth *da = dockerauth_new();
    struct dockerauth_cred cred;
    char *msg = NULL;

    assert_int_equal(dockerauth_add_secret(da, s1, &msg), 1);
    assert_int_equal(dockerauth_add_secret(da, s2, &msg), 1);
    assert_int_equal(dockerauth_add_secret(da, s3, &msg), 0);
    assert_int_equal(dockerauth_add_secret(da, s4, &msg), -EINVAL);
    assert_string_equal(msg, "invalid docker config in secret 'ci/broken' key '.dockerconfigjson': "
                             "not base64");
    free(msg);
    assert_int_equal(dockerauth_lookup(da, "ghcr.io", "o/r", &cred), 0);
    assert_string_equal(cred.username, "gh");
    assert_int_equal(dockerauth_lookup(da, "quay.io", "o/r", &cred), 0);
    assert_string_equal(cred.username, "q");
    assert_string_equal(cred.password, "q");
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(s4);
    dockerauth_free(da);
}

static void test_dockerauth_first_added_wins_for_equal_keys(void **state)
{
    struct dockerauth *da = keyring("{\"auths\": {\"quay.io\": {\"username\": \"first\"}}}");
    const char *second = "{\"auths\": {\"https://quay.io\": {\"username\": \"second\"}}}";
    struct dockerauth_cred cred;
    char *msg = NULL;

    assert_int_equal(dockerauth_add_config(da, second, strlen(second), false, "t", &msg), 0);
    assert_int_equal(dockerauth_lookup(da, "quay.io", "a", &cred), 0);
    assert_string_equal(cred.username, "first");
    dockerauth_free(da);
}

static void test_dockerauth_base64_decode_table(void **state)
{
    static const struct {
        const char *in, *out;
        int rc;
    } cases[] = {
        {"", "", 0},        {"YQ==", "a", 0},     {"YQ", "a", 0},          {"YWI=", "ab", 0},
        {"YWJj", "abc", 0}, {"Y", NULL, -EINVAL}, {"Y*==", NULL, -EINVAL}, {"YW Jj", NULL, -EINVAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        size_t len = 0;
        int r = dockerauth_base64_decode(cases[i].in, strlen(cases[i].in), &out, &len);

        if (r != cases[i].rc || (r == 0 && strcmp(out, cases[i].out) != 0))
            fail_msg("case '%s': rc %d out '%s'", cases[i].in, r, out ? out : "(null)");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dockerauth_lookup_matching_table),
        cmocka_unit_test(test_dockerauth_auth_field_wins_over_username),
        cmocka_unit_test(test_dockerauth_lookup_without_keyring_is_enoent),
        cmocka_unit_test(test_dockerauth_add_config_refusals_table),
        cmocka_unit_test(test_dockerauth_add_secret_types),
        cmocka_unit_test(test_dockerauth_first_added_wins_for_equal_keys),
        cmocka_unit_test(test_dockerauth_base64_decode_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
