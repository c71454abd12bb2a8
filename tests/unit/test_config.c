/* Unit tests for controller/config: flags and environment, good and bad. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/config.h"

/* The test's environment: NULL-terminated pairs, set per case. */
static const char *const *test_env;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; test_env && test_env[i]; i += 2)
        if (strcmp(test_env[i], name) == 0)
            return test_env[i + 1];
    return NULL;
}

#define MAX_ARGS 8

/* Parse "tektite-controller" followed by 'args' (NULL-terminated) in
 * environment 'env'. */
static int parse(const char *const *args, const char *const *env, struct config **ret,
                 char **reterr)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;

    argv[argc++] = (char[]){"tektite-controller"};
    for (size_t i = 0; args && args[i]; i++) {
        assert_true(argc <= MAX_ARGS);
        argv[argc++] = strdup(args[i]);
    }
    argv[argc] = NULL;
    test_env = env;
    {
        int r = config_parse(argc, argv, fake_getenv, ret, reterr);

        for (int i = 1; i < argc; i++)
            free(argv[i]);
        return r;
    }
}

static void test_config_parse_defaults(void **state)
{
    static const char *const env[] = {"POD_NAME", "ctl-0", NULL};
    struct config *c = NULL;
    char *err = NULL;

    assert_int_equal(parse(NULL, env, &c, &err), 0);
    assert_int_equal(c->action, CONFIG_RUN);
    assert_null(c->kubeconfig);
    assert_null(c->context);
    assert_null(c->ns);
    assert_false(c->leader_elect);
    assert_string_equal(c->lease_name, "tektite-controller");
    assert_null(c->lease_namespace);
    assert_string_equal(c->identity, "ctl-0");
    assert_int_equal(c->lease_duration_ms, 15000);
    assert_int_equal(c->renew_deadline_ms, 10000);
    assert_int_equal(c->retry_period_ms, 2000);
    assert_int_equal(c->log_level, LOG_INFO);
    /* no webhook unless asked: the host-run controller serves none */
    assert_int_equal(c->webhook_port, 0);
    assert_string_equal(c->webhook_service, "tekton-pipelines-webhook");
    assert_string_equal(c->webhook_secret, "webhook-certs");
    assert_int_equal(c->webhook_cert_check_ms, 60000);
    config_free(c);
}

static void test_config_parse_webhook_flags(void **state)
{
    static const char *const args[] = {
        "--webhook-port=8443",         "--webhook-service",       "hook",
        "--webhook-secret=hook-certs", "--webhook-cert-check=5s", NULL};
    static const char *const env[] = {"TEKTITE_WEBHOOK_PORT", "9443", NULL};
    struct config *c = NULL;
    char *err = NULL;

    assert_int_equal(parse(args, env, &c, &err), 0);
    assert_int_equal(c->webhook_port, 8443); /* the flag wins over the environment */
    assert_string_equal(c->webhook_service, "hook");
    assert_string_equal(c->webhook_secret, "hook-certs");
    assert_int_equal(c->webhook_cert_check_ms, 5000);
    config_free(c);
}

static void test_config_parse_good_table(void **state)
{
    static const struct {
        const char *name;
        const char *args[MAX_ARGS];
        const char *env[10];
        enum config_action action;
        const char *kubeconfig, *context, *ns, *lease_ns;
        bool leader_elect;
        uint64_t lease_ms, renew_ms, retry_ms;
        enum log_level level;
    } cases[] = {
        {"separate values",
         {"--kubeconfig", "/k/config", "--context", "kind-a", "--namespace", "ci", NULL},
         {NULL},
         CONFIG_RUN,
         "/k/config",
         "kind-a",
         "ci",
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_INFO},
        {"joined values",
         {"--kubeconfig=/k", "--namespace=ci", "--log-level=debug", NULL},
         {NULL},
         CONFIG_RUN,
         "/k",
         NULL,
         "ci",
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_DEBUG},
        {"empty namespace is all",
         {"--namespace=", NULL},
         {"TEKTITE_NAMESPACE", "ci", NULL},
         CONFIG_RUN,
         NULL,
         NULL,
         NULL,
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_INFO},
        {"env fallbacks",
         {NULL},
         {"TEKTITE_NAMESPACE", "ci", "TEKTITE_LOG_LEVEL", "warn", "TEKTITE_LEADER_ELECT", "true",
          "POD_NAMESPACE", "tekton", NULL},
         CONFIG_RUN,
         NULL,
         NULL,
         "ci",
         "tekton",
         true,
         15000,
         10000,
         2000,
         LOG_WARN},
        {"flags win over env",
         {"--namespace", "prod", "--log-level", "error", "--leader-elect=false", NULL},
         {"TEKTITE_NAMESPACE", "ci", "TEKTITE_LOG_LEVEL", "warn", "TEKTITE_LEADER_ELECT", "1",
          NULL},
         CONFIG_RUN,
         NULL,
         NULL,
         "prod",
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_ERROR},
        {"leader election timings",
         {"--leader-elect", "--lease-duration=30s", "--renew-deadline", "20s",
          "--retry-period=500ms", "--lease-namespace=kube-system", NULL},
         {NULL},
         CONFIG_RUN,
         NULL,
         NULL,
         NULL,
         "kube-system",
         true,
         30000,
         20000,
         500,
         LOG_INFO},
        {"help wins",
         {"--namespace", "ci", "--help", "--bogus", NULL},
         {NULL},
         CONFIG_HELP,
         NULL,
         NULL,
         "ci",
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_INFO},
        {"short help",
         {"-h", NULL},
         {NULL},
         CONFIG_HELP,
         NULL,
         NULL,
         NULL,
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_INFO},
        {"version",
         {"--version", NULL},
         {NULL},
         CONFIG_VERSION,
         NULL,
         NULL,
         NULL,
         NULL,
         false,
         15000,
         10000,
         2000,
         LOG_INFO},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config *c = NULL;
        char *err = NULL;
        int r = parse(cases[i].args, cases[i].env, &c, &err);

        if (r != 0)
            fail_msg("case '%s': got %d (%s), want 0", cases[i].name, r, err);
#define SAME_STR(field, want)                                                                      \
    if ((c->field == NULL) != ((want) == NULL) || (c->field && strcmp(c->field, (want)) != 0))     \
        fail_msg("case '%s': " #field " is '%s', want '%s'", cases[i].name,                        \
                 c->field ? c->field : "(null)", (want) ? (want) : "(null)");
        SAME_STR(kubeconfig, cases[i].kubeconfig);
        SAME_STR(context, cases[i].context);
        SAME_STR(ns, cases[i].ns);
        SAME_STR(lease_namespace, cases[i].lease_ns);
#undef SAME_STR
        if (c->action != cases[i].action || c->leader_elect != cases[i].leader_elect ||
            c->lease_duration_ms != cases[i].lease_ms ||
            c->renew_deadline_ms != cases[i].renew_ms || c->retry_period_ms != cases[i].retry_ms ||
            c->log_level != cases[i].level)
            fail_msg("case '%s': action %d leader %d timings %llu/%llu/%llu level %d",
                     cases[i].name, c->action, c->leader_elect,
                     (unsigned long long)c->lease_duration_ms,
                     (unsigned long long)c->renew_deadline_ms,
                     (unsigned long long)c->retry_period_ms, c->log_level);
        config_free(c);
    }
}

static void test_config_parse_bad_table(void **state)
{
    static const struct {
        const char *name;
        const char *args[MAX_ARGS];
        const char *env[4];
        const char *want;
    } cases[] = {
        {"unknown flag", {"--bogus=1", NULL}, {NULL}, "unknown flag '--bogus' (see --help)"},
        {"single dash", {"-n", "ci", NULL}, {NULL}, "unexpected argument '-n' (see --help)"},
        {"positional", {"run", NULL}, {NULL}, "unexpected argument 'run' (see --help)"},
        {"missing value", {"--namespace", NULL}, {NULL}, "flag '--namespace' needs a value"},
        {"value on --version", {"--version=2", NULL}, {NULL}, "flag '--version' takes no value"},
        {"bad log level",
         {"--log-level", "loud", NULL},
         {NULL},
         "invalid --log-level 'loud': expected debug, info, warn or error"},
        {"bad log level from env",
         {NULL},
         {"TEKTITE_LOG_LEVEL", "verbose", NULL},
         "invalid $TEKTITE_LOG_LEVEL 'verbose': expected debug, info, warn or "
         "error"},
        {"upper-case namespace",
         {"--namespace=CI", NULL},
         {NULL},
         "invalid --namespace 'CI': expected a namespace (lower-case letters, "
         "digits, '-'), or "
         "empty for all"},
        {"flag eaten as namespace",
         {"--namespace", "--log-level", NULL},
         {NULL},
         "invalid --namespace '--log-level': expected a namespace (lower-case "
         "letters, digits, "
         "'-'), or empty for all"},
        {"bad bool",
         {"--leader-elect=maybe", NULL},
         {NULL},
         "invalid --leader-elect 'maybe': expected true or false"},
        {"duration without unit",
         {"--lease-duration", "15", NULL},
         {NULL},
         "invalid --lease-duration '15': expected a duration between 1ms and "
         "24h, such as 15s "
         "or 500ms"},
        {"renew not below lease",
         {"--lease-duration=10s", NULL},
         {NULL},
         "invalid --renew-deadline '10s': must be shorter than --lease-duration "
         "'10s'"},
        {"retry too long",
         {"--retry-period=9s", NULL},
         {NULL},
         "invalid --retry-period '9s': must be shorter than --renew-deadline "
         "'10s' / 1.2"},
        {"empty kubeconfig",
         {"--kubeconfig=", NULL},
         {NULL},
         "invalid --kubeconfig '': expected a file path"},
        {"webhook port out of range",
         {"--webhook-port=70000", NULL},
         {NULL},
         "invalid --webhook-port '70000': expected a TCP port between 0 (no webhook) and 65535"},
        {"webhook port from env not a number",
         {NULL},
         {"TEKTITE_WEBHOOK_PORT", "https", NULL},
         "invalid $TEKTITE_WEBHOOK_PORT 'https': expected a TCP port between 0 (no webhook) and "
         "65535"},
        {"bad webhook service",
         {"--webhook-service", "Hook.svc", NULL},
         {NULL},
         "invalid --webhook-service 'Hook.svc': expected an object name (lower-case letters, "
         "digits, '-')"},
        {"bad lease name",
         {"--lease-name", "Tek_tite", NULL},
         {NULL},
         "invalid --lease-name 'Tek_tite': expected an object name (lower-case "
         "letters, "
         "digits, '-', '.')"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config *c = NULL;
        char *err = NULL;
        int r = parse(cases[i].args, cases[i].env, &c, &err);

        if (r != -EINVAL || c != NULL)
            fail_msg("case '%s': got %d, want -EINVAL", cases[i].name, r);
        if (!err || strcmp(err, cases[i].want) != 0)
            fail_msg("case '%s': message '%s', want '%s'", cases[i].name, err ? err : "(null)",
                     cases[i].want);
        free(err);
    }
}

static void test_config_usage_names_every_flag(void **state)
{
    static const char *const names[] = {
        "--kubeconfig",   "--context",         "--namespace",      "--leader-elect",
        "--lease-name",   "--lease-namespace", "--lease-duration", "--renew-deadline",
        "--retry-period", "--log-level",       "--version",        "--help",
        "--webhook-port", "--webhook-service", "--webhook-secret", "--webhook-cert-check",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strstr(config_usage(), names[i]))
            fail_msg("usage lacks '%s'", names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_parse_defaults),
        cmocka_unit_test(test_config_parse_webhook_flags),
        cmocka_unit_test(test_config_parse_good_table),
        cmocka_unit_test(test_config_parse_bad_table),
        cmocka_unit_test(test_config_usage_names_every_flag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
