/*
 * Flags and environment -> struct config. Validates every value here, so the rest of the
 * controller trusts the config; loading the kubeconfig itself is lib/kubeconfig's job.
 */
#include "controller/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "controller/goduration.h"
#include "lib/xalloc.h"

enum flag_id {
    F_KUBECONFIG,
    F_CONTEXT,
    F_NAMESPACE,
    F_LEADER_ELECT,
    F_LEASE_NAME,
    F_LEASE_NAMESPACE,
    F_LEASE_DURATION,
    F_RENEW_DEADLINE,
    F_RETRY_PERIOD,
    F_LOG_LEVEL,
    F_ENTRYPOINT_IMAGE,
    F_SYSTEM_NAMESPACE,
    F_REGISTRY_MIRRORS,
    F_INSECURE_REGISTRIES,
    F_WEBHOOK_PORT,
    F_WEBHOOK_SERVICE,
    F_WEBHOOK_SECRET,
    F_WEBHOOK_CERT_CHECK,
    F_VERSION,
    F_HELP,
};

enum flag_arg {
    ARG_NONE,     /* --help */
    ARG_REQUIRED, /* --namespace NS or --namespace=NS */
    ARG_BOOL,     /* --leader-elect or --leader-elect=false */
};

static const struct flag {
    const char *name;
    enum flag_id id;
    enum flag_arg arg;
    const char *env; /* the fallback variable, or NULL */
} flags[] = {
    {"kubeconfig", F_KUBECONFIG, ARG_REQUIRED, NULL},
    {"context", F_CONTEXT, ARG_REQUIRED, NULL},
    {"namespace", F_NAMESPACE, ARG_REQUIRED, "TEKTITE_NAMESPACE"},
    {"leader-elect", F_LEADER_ELECT, ARG_BOOL, "TEKTITE_LEADER_ELECT"},
    {"lease-name", F_LEASE_NAME, ARG_REQUIRED, NULL},
    {"lease-namespace", F_LEASE_NAMESPACE, ARG_REQUIRED, "POD_NAMESPACE"},
    {"lease-duration", F_LEASE_DURATION, ARG_REQUIRED, NULL},
    {"renew-deadline", F_RENEW_DEADLINE, ARG_REQUIRED, NULL},
    {"retry-period", F_RETRY_PERIOD, ARG_REQUIRED, NULL},
    {"log-level", F_LOG_LEVEL, ARG_REQUIRED, "TEKTITE_LOG_LEVEL"},
    {"entrypoint-image", F_ENTRYPOINT_IMAGE, ARG_REQUIRED, "TEKTITE_ENTRYPOINT_IMAGE"},
    {"system-namespace", F_SYSTEM_NAMESPACE, ARG_REQUIRED, "SYSTEM_NAMESPACE"},
    {"registry-mirrors", F_REGISTRY_MIRRORS, ARG_REQUIRED, "TEKTITE_REGISTRY_MIRRORS"},
    {"insecure-registries", F_INSECURE_REGISTRIES, ARG_REQUIRED, "TEKTITE_INSECURE_REGISTRIES"},
    {"webhook-port", F_WEBHOOK_PORT, ARG_REQUIRED, "TEKTITE_WEBHOOK_PORT"},
    {"webhook-service", F_WEBHOOK_SERVICE, ARG_REQUIRED, "WEBHOOK_SERVICE_NAME"},
    {"webhook-secret", F_WEBHOOK_SECRET, ARG_REQUIRED, "WEBHOOK_SECRET_NAME"},
    {"webhook-cert-check", F_WEBHOOK_CERT_CHECK, ARG_REQUIRED, NULL},
    {"version", F_VERSION, ARG_NONE, NULL},
    {"help", F_HELP, ARG_NONE, NULL},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static const char usage[] =
    "usage: tektite-controller [flags]\n"
    "\n"
    "Runs the tektite controller: watches TaskRuns, PipelineRuns and their Pods.\n"
    "\n"
    "  --kubeconfig PATH       kubeconfig file (default: $KUBECONFIG, in-cluster, "
    "~/.kube/config)\n"
    "  --context NAME          kubeconfig context (default: current-context)\n"
    "  --namespace NS          watch one namespace (default: all; $TEKTITE_NAMESPACE)\n"
    "  --leader-elect[=BOOL]   run only while holding the Lease ($TEKTITE_LEADER_ELECT)\n"
    "  --lease-name NAME       Lease name (default: tektite-controller)\n"
    "  --lease-namespace NS    Lease namespace (default: $POD_NAMESPACE, else the "
    "context's)\n"
    "  --lease-duration D      (default 15s)\n"
    "  --renew-deadline D      (default 10s)\n"
    "  --retry-period D        (default 2s)\n"
    "  --log-level LEVEL       debug, info, warn or error (default: info; "
    "$TEKTITE_LOG_LEVEL)\n"
    "  --entrypoint-image REF  image of the in-Pod entrypoint ($TEKTITE_ENTRYPOINT_IMAGE)\n"
    "  --system-namespace NS   where config-defaults and feature-flags live (default:\n"
    "                          tekton-pipelines; $SYSTEM_NAMESPACE)\n"
    "  --registry-mirrors JSON  where image lookups go, as the nodes' containerd mirrors:\n"
    "                          {\"host\": [\"http://mirror:5000\", ...], \"_default\": [...]}\n"
    "                          ($TEKTITE_REGISTRY_MIRRORS)\n"
    "  --insecure-registries L comma-separated host:port list spoken to over plain HTTP\n"
    "                          ($TEKTITE_INSECURE_REGISTRIES)\n"
    "  --webhook-port N        serve the admission and conversion webhook over HTTPS on N\n"
    "                          (default 0: no webhook; $TEKTITE_WEBHOOK_PORT)\n"
    "  --webhook-service NAME  the webhook's Service, named in its certificate (default:\n"
    "                          tekton-pipelines-webhook; $WEBHOOK_SERVICE_NAME)\n"
    "  --webhook-secret NAME   the Secret holding its CA and certificate (default:\n"
    "                          webhook-certs; $WEBHOOK_SECRET_NAME)\n"
    "  --webhook-cert-check D  how often the Secret is re-read and the certificate checked\n"
    "                          (default 1m)\n"
    "  --version               print the version and exit\n"
    "  -h, --help              print this help and exit\n";

const char *config_usage(void)
{
    return usage;
}

/* A flag's name as the user sees it in messages: "--namespace" or "$TEKTITE_NAMESPACE". */
static char *source_name(const struct flag *f, bool from_env)
{
    return from_env ? xasprintf("$%s", f->env) : xasprintf("--%s", f->name);
}

/* RFC 1123 label (namespaces) or subdomain (object names). */
static bool is_dns_name(const char *s, bool subdomain)
{
    size_t len = strlen(s);

    if (len == 0 || len > (subdomain ? 253u : 63u))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (subdomain && c == '.');

        if (!ok)
            return false;
    }
    return s[0] != '-' && s[0] != '.' && s[len - 1] != '-' && s[len - 1] != '.';
}

static int parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"true", "1", "yes"};
    static const char *const no[] = {"false", "0", "no"};

    for (size_t i = 0; i < 3; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* A Go duration between 1 ms and 24 h. */
static int parse_duration_ms(const char *v, uint64_t *ret)
{
    int64_t ns;

    if (goduration_parse(v, &ns) < 0 || ns < 1000000 || ns > 24LL * 3600 * 1000000000)
        return -EINVAL;
    *ret = (uint64_t)ns / 1000000;
    return 0;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = xstrdup(v);
}

/* Set the field of 'f' from 'v'. Returns 0, or -EINVAL with *reterr_msg naming the source. */
static int apply(struct config *c, const struct flag *f, const char *v, bool from_env,
                 char **reterr_msg)
{
    const char *expected = NULL;
    uint64_t *duration = NULL;
    char *name;

    switch (f->id) {
    case F_KUBECONFIG:
    case F_CONTEXT:
        if (!*v)
            expected = f->id == F_CONTEXT ? "a context name" : "a file path";
        else
            set_str(f->id == F_CONTEXT ? &c->context : &c->kubeconfig, v);
        break;
    case F_NAMESPACE:
        if (*v && !is_dns_name(v, false))
            expected = "a namespace (lower-case letters, digits, '-'), or empty for all";
        free(c->ns);
        c->ns = *v && !expected ? xstrdup(v) : NULL;
        break;
    case F_LEASE_NAMESPACE:
        if (!is_dns_name(v, false))
            expected = "a namespace (lower-case letters, digits, '-')";
        else
            set_str(&c->lease_namespace, v);
        break;
    case F_LEASE_NAME:
        if (!is_dns_name(v, true))
            expected = "an object name (lower-case letters, digits, '-', '.')";
        else
            set_str(&c->lease_name, v);
        break;
    case F_LEADER_ELECT:
        if (parse_bool(v, &c->leader_elect) < 0)
            expected = "true or false";
        break;
    case F_LEASE_DURATION:
    case F_RENEW_DEADLINE:
    case F_RETRY_PERIOD:
        duration = f->id == F_LEASE_DURATION   ? &c->lease_duration_ms
                   : f->id == F_RENEW_DEADLINE ? &c->renew_deadline_ms
                                               : &c->retry_period_ms;
        if (parse_duration_ms(v, duration) < 0)
            expected = "a duration between 1ms and 24h, such as 15s or 500ms";
        break;
    case F_LOG_LEVEL:
        if (log_level_parse(v, &c->log_level) < 0)
            expected = "debug, info, warn or error";
        break;
    case F_ENTRYPOINT_IMAGE:
        if (!*v)
            expected = "an image reference";
        else
            set_str(&c->entrypoint_image, v);
        break;
    case F_SYSTEM_NAMESPACE:
        if (!is_dns_name(v, false))
            expected = "a namespace (lower-case letters, digits, '-')";
        else
            set_str(&c->system_namespace, v);
        break;
    case F_REGISTRY_MIRRORS: {
        json_t *mirrors = json_loads(v, 0, NULL);

        if (!json_is_object(mirrors))
            expected = "a JSON object of registry host -> endpoint list";
        else
            set_str(&c->registry_mirrors, v);
        json_decref(mirrors);
        break;
    }
    case F_INSECURE_REGISTRIES:
        set_str(&c->insecure_registries, v);
        break;
    case F_WEBHOOK_PORT: {
        char *end;
        long port = strtol(v, &end, 10);

        if (!*v || *end || port < 0 || port > 65535)
            expected = "a TCP port between 0 (no webhook) and 65535";
        else
            c->webhook_port = (int)port;
        break;
    }
    case F_WEBHOOK_SERVICE:
    case F_WEBHOOK_SECRET:
        if (!is_dns_name(v, f->id == F_WEBHOOK_SECRET))
            expected = "an object name (lower-case letters, digits, '-')";
        else
            set_str(f->id == F_WEBHOOK_SERVICE ? &c->webhook_service : &c->webhook_secret, v);
        break;
    case F_WEBHOOK_CERT_CHECK:
        if (parse_duration_ms(v, &c->webhook_cert_check_ms) < 0)
            expected = "a duration between 1ms and 24h, such as 1m";
        break;
    case F_VERSION:
        c->action = CONFIG_VERSION;
        break;
    case F_HELP:
        c->action = CONFIG_HELP;
        break;
    }
    if (!expected)
        return 0;
    name = source_name(f, from_env);
    *reterr_msg = xasprintf("invalid %s '%s': expected %s", name, v, expected);
    free(name);
    return -EINVAL;
}

static const struct flag *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* Parse argv[*i] (and maybe the next word as its value); advances *i past what it used. */
static int parse_arg(struct config *c, int argc, char *const argv[], int *i, char **reterr_msg)
{
    const char *arg = argv[*i];
    const char *eq;
    const struct flag *f;
    const char *value;

    if (strcmp(arg, "-h") == 0) {
        c->action = CONFIG_HELP;
        return 0;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
        *reterr_msg = xasprintf("unexpected argument '%s' (see --help)", arg);
        return -EINVAL;
    }
    eq = strchr(arg + 2, '=');
    f = find_flag(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
    if (!f) {
        *reterr_msg = xasprintf("unknown flag '%.*s' (see --help)",
                                eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        return -EINVAL;
    }
    if (f->arg == ARG_NONE && eq) {
        *reterr_msg = xasprintf("flag '--%s' takes no value", f->name);
        return -EINVAL;
    }
    if (eq)
        value = eq + 1;
    else if (f->arg == ARG_BOOL || f->arg == ARG_NONE)
        value = "true";
    else if (*i + 1 < argc)
        value = argv[++*i];
    else {
        *reterr_msg = xasprintf("flag '--%s' needs a value", f->name);
        return -EINVAL;
    }
    return apply(c, f, value, false, reterr_msg);
}

static int check_timings(const struct config *c, char **reterr_msg)
{
    char a[32], b[32];

    if (c->renew_deadline_ms >= c->lease_duration_ms) {
        *reterr_msg =
            xasprintf("invalid --renew-deadline '%s': must be shorter than --lease-duration '%s'",
                      goduration_format((int64_t)c->renew_deadline_ms * 1000000, a, sizeof(a)),
                      goduration_format((int64_t)c->lease_duration_ms * 1000000, b, sizeof(b)));
        return -EINVAL;
    }
    if ((double)c->renew_deadline_ms <= 1.2 * (double)c->retry_period_ms) {
        *reterr_msg = xasprintf(
            "invalid --retry-period '%s': must be shorter than --renew-deadline '%s' / 1.2",
            goduration_format((int64_t)c->retry_period_ms * 1000000, a, sizeof(a)),
            goduration_format((int64_t)c->renew_deadline_ms * 1000000, b, sizeof(b)));
        return -EINVAL;
    }
    return 0;
}

static char *default_identity(config_getenv_cb *getenv_cb)
{
    const char *pod = getenv_cb("POD_NAME");
    char host[256];

    if (pod && *pod)
        return xstrdup(pod);
    if (gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = '\0';
        if (host[0])
            return xstrdup(host);
    }
    return xstrdup("tektite-controller");
}

int config_parse(int argc, char *const argv[], config_getenv_cb *getenv_cb,
                 struct config **ret_config, char **reterr_msg)
{
    struct config *c = xcalloc(1, sizeof(*c));
    int r = 0;

    c->action = CONFIG_RUN;
    c->lease_name = xstrdup("tektite-controller");
    c->system_namespace = xstrdup("tekton-pipelines");
    c->entrypoint_image = xstrdup(DEFAULT_ENTRYPOINT_IMAGE);
    c->lease_duration_ms = 15000;
    c->renew_deadline_ms = 10000;
    c->retry_period_ms = 2000;
    c->log_level = LOG_INFO;
    c->webhook_service = xstrdup("tekton-pipelines-webhook");
    c->webhook_secret = xstrdup("webhook-certs");
    c->webhook_cert_check_ms = 60000;
    c->identity = default_identity(getenv_cb);
    for (size_t i = 0; i < NFLAGS && r == 0; i++) {
        const char *v = flags[i].env ? getenv_cb(flags[i].env) : NULL;

        if (v && *v)
            r = apply(c, &flags[i], v, true, reterr_msg);
    }
    for (int i = 1; i < argc && r == 0 && c->action == CONFIG_RUN; i++)
        r = parse_arg(c, argc, argv, &i, reterr_msg);
    if (r == 0 && c->action == CONFIG_RUN)
        r = check_timings(c, reterr_msg);
    if (r < 0) {
        config_free(c);
        return r;
    }
    *ret_config = c;
    return 0;
}

void config_free(struct config *config)
{
    if (!config)
        return;
    free(config->kubeconfig);
    free(config->context);
    free(config->ns);
    free(config->lease_name);
    free(config->lease_namespace);
    free(config->identity);
    free(config->entrypoint_image);
    free(config->system_namespace);
    free(config->registry_mirrors);
    free(config->insecure_registries);
    free(config->webhook_service);
    free(config->webhook_secret);
    free(config);
}
