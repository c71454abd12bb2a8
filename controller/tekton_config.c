/*
 * config-defaults and feature-flags ConfigMaps -> struct tekton_config (tekton-taskrun.md §2).
 * Pure: JSON in, struct out. Watching the ConfigMaps and swapping the config is the
 * reconciler's job; keys that only matter to PipelineRuns or out-of-scope features are parsed
 * only so that invalid values fail the same way they do upstream.
 */
#include "controller/tekton_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "controller/goduration.h"
#include "lib/xalloc.h"
#include "lib/yamljson.h"

#define DEFAULTS_CM "config-defaults"
#define FLAGS_CM    "feature-flags"

static const struct {
    const char *key;
    size_t offset;
    bool value;
} bool_flags[] = {
    {"disable-creds-init", offsetof(struct tekton_config, disable_creds_init), false},
    {"await-sidecar-readiness", offsetof(struct tekton_config, await_sidecar_readiness), true},
    {"running-in-environment-with-injected-sidecars",
     offsetof(struct tekton_config, running_in_environment_with_injected_sidecars), true},
    {"require-git-ssh-secret-known-hosts",
     offsetof(struct tekton_config, require_git_ssh_secret_known_hosts), false},
    {"enable-termination-message-compression",
     offsetof(struct tekton_config, enable_termination_message_compression), false},
    {"set-security-context", offsetof(struct tekton_config, set_security_context), false},
    {"set-security-context-read-only-root-filesystem",
     offsetof(struct tekton_config, set_security_context_read_only_root_filesystem), false},
    {"keep-pod-on-cancel", offsetof(struct tekton_config, keep_pod_on_cancel), false},
    {"enable-kubernetes-sidecar", offsetof(struct tekton_config, enable_kubernetes_sidecar), false},
    {"enable-provenance-in-status", offsetof(struct tekton_config, enable_provenance_in_status),
     true},
    {"enable-param-enum", offsetof(struct tekton_config, enable_param_enum), false},
    {"enable-cel-in-whenexpression", offsetof(struct tekton_config, enable_cel_in_whenexpression),
     false},
    {"enable-artifacts", offsetof(struct tekton_config, enable_artifacts), false},
    {"enable-wait-exponential-backoff",
     offsetof(struct tekton_config, enable_wait_exponential_backoff), false},
    {"enable-informer-cache-transforms",
     offsetof(struct tekton_config, enable_informer_cache_transforms), true},
    {"enable-step-actions", offsetof(struct tekton_config, enable_step_actions), true},
    {"send-cloudevents-for-runs", offsetof(struct tekton_config, send_cloudevents_for_runs), false},
    {"enable-tekton-oci-bundles", offsetof(struct tekton_config, enable_tekton_oci_bundles), false},
    {"enable-concise-resolver-syntax",
     offsetof(struct tekton_config, enable_concise_resolver_syntax), false},
};

/* Enumerated flags: the value is lower-cased first, as upstream does. */
struct enum_choice {
    const char *text;
    int value;
};

static const struct enum_choice api_fields_choices[] = {
    {"alpha", TEKTON_API_FIELDS_ALPHA},
    {"beta", TEKTON_API_FIELDS_BETA},
    {"stable", TEKTON_API_FIELDS_STABLE},
    {NULL, 0},
};
static const struct enum_choice results_from_choices[] = {
    {"termination-message", TEKTON_RESULTS_FROM_TERMINATION_MESSAGE},
    {"sidecar-logs", TEKTON_RESULTS_FROM_SIDECAR_LOGS},
    {NULL, 0},
};
static const struct enum_choice coschedule_choices[] = {
    {"workspaces", TEKTON_COSCHEDULE_WORKSPACES},
    {"pipelineruns", TEKTON_COSCHEDULE_PIPELINERUNS},
    {"isolate-pipelinerun", TEKTON_COSCHEDULE_ISOLATE_PIPELINERUN},
    {"disabled", TEKTON_COSCHEDULE_DISABLED},
    {NULL, 0},
};
static const struct enum_choice nonfalsifiability_choices[] = {
    {"none", 0},
    {"spire", 1},
    {NULL, 0},
};

/* ---- ConfigMap readers ---- */

struct reader {
    const json_t *data; /* the ConfigMap's "data", borrowed; may be NULL */
    const char *cm;
    char *err;
};

static int bad_value(struct reader *rd, const char *key, const char *value, const char *expected)
{
    rd->err = xasprintf("invalid value \"%s\" for key \"%s\" in config map \"%s\": %s", value, key,
                        rd->cm, expected);
    return -EINVAL;
}

/* The string value of 'key', or NULL when absent. A non-string value is an error. */
static int get_value(struct reader *rd, const char *key, const char **ret)
{
    const json_t *v = json_object_get(rd->data, key);

    *ret = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        rd->err = xasprintf("invalid value for key \"%s\" in config map \"%s\": not a string", key,
                            rd->cm);
        return -EINVAL;
    }
    *ret = json_string_value(v);
    return 0;
}

/* strconv.ParseBool's accepted spellings. */
static int parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int read_bool(struct reader *rd, const char *key, bool *field)
{
    const char *v;
    int r = get_value(rd, key, &v);

    if (r < 0 || !v)
        return r;
    if (parse_bool(v, field) < 0)
        return bad_value(rd, key, v, "expected a boolean");
    return 0;
}

static int read_int(struct reader *rd, const char *key, int64_t *field)
{
    const char *v;
    char *end;
    long long n;
    int r = get_value(rd, key, &v);

    if (r < 0 || !v)
        return r;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end || (*v != '-' && *v != '+' && (*v < '0' || *v > '9')))
        return bad_value(rd, key, v, "expected an integer");
    *field = n;
    return 0;
}

static int read_duration(struct reader *rd, const char *key, int64_t *field)
{
    const char *v;
    int r = get_value(rd, key, &v);

    if (r < 0 || !v)
        return r;
    if (goduration_parse(v, field) < 0)
        return bad_value(rd, key, v, "expected a duration such as 90s or 1m30s");
    return 0;
}

static int read_string(struct reader *rd, const char *key, char **field)
{
    const char *v;
    int r = get_value(rd, key, &v);

    if (r < 0 || !v)
        return r;
    free(*field);
    *field = xstrdup(v);
    return 0;
}

static int read_enum(struct reader *rd, const char *key, const struct enum_choice *choices,
                     const char *expected, int *field)
{
    const char *v;
    int r = get_value(rd, key, &v);

    if (r < 0 || !v)
        return r;
    for (size_t i = 0; choices[i].text; i++) {
        if (strcasecmp(v, choices[i].text) == 0) {
            *field = choices[i].value;
            return 0;
        }
    }
    return bad_value(rd, key, v, expected);
}

/* A YAML-valued key; empty or whitespace-only values count as unset. */
static int read_yaml_object(struct reader *rd, const char *key, json_t **field)
{
    const char *v;
    json_t *obj = NULL;
    char *msg = NULL;
    int r = get_value(rd, key, &v);

    if (r < 0 || !v || strspn(v, " \t\r\n") == strlen(v))
        return r;
    r = yamljson_parse(v, strlen(v), &obj, &msg);
    if (r < 0 || !json_is_object(obj)) {
        rd->err = xasprintf("invalid value for key \"%s\" in config map \"%s\": %s", key, rd->cm,
                            msg ? msg : "expected a YAML mapping");
        free(msg);
        json_decref(obj);
        return -EINVAL;
    }
    *field = obj;
    return 0;
}

/* default-forbidden-env: comma-separated names, trimmed, sorted and de-duplicated. */
static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int read_forbidden_env(struct reader *rd, json_t *list)
{
    const char *v;
    char *copy;
    char *save = NULL;
    const char *names[256];
    size_t n = 0;
    int r = get_value(rd, "default-forbidden-env", &v);

    if (r < 0 || !v)
        return r;
    copy = xstrdup(v);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;

        tok += strspn(tok, " \t\r\n");
        end = tok + strlen(tok);
        while (end > tok && strchr(" \t\r\n", end[-1]))
            *--end = '\0';
        if (n == sizeof(names) / sizeof(names[0])) {
            free(copy);
            return bad_value(rd, "default-forbidden-env", v, "more than 256 names");
        }
        names[n++] = tok;
    }
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
            json_array_append_new(list, json_string(names[i]));
    }
    free(copy);
    return 0;
}

static int read_defaults(struct reader *rd, struct tekton_config *c)
{
    int r = 0;

    if (r == 0)
        r = read_int(rd, "default-timeout-minutes", &c->default_timeout_minutes);
    if (r == 0)
        r = read_string(rd, "default-service-account", &c->default_service_account);
    if (r == 0)
        r = read_string(rd, "default-managed-by-label-value", &c->default_managed_by_label_value);
    if (r == 0)
        r = read_yaml_object(rd, "default-pod-template", &c->default_pod_template);
    if (r == 0)
        r = read_yaml_object(rd, "default-task-run-workspace-binding",
                             &c->default_task_run_workspace_binding);
    if (r == 0)
        r = read_yaml_object(rd, "default-container-resource-requirements",
                             &c->default_container_resource_requirements);
    if (r == 0)
        r = read_forbidden_env(rd, c->default_forbidden_env);
    if (r == 0)
        r = read_string(rd, "default-resolver-type", &c->default_resolver_type);
    if (r == 0)
        r = read_duration(rd, "default-imagepullbackoff-timeout",
                          &c->default_imagepullbackoff_timeout_ns);
    if (r == 0)
        r = read_duration(rd, "default-create-container-error-timeout",
                          &c->default_create_container_error_timeout_ns);
    if (r == 0)
        r = read_duration(rd, "default-sidecar-log-polling-interval",
                          &c->default_sidecar_log_polling_interval_ns);
    if (r == 0)
        r = read_string(rd, "default-sidecar-log-polling-interval",
                        &c->default_sidecar_log_polling_interval);
    if (r == 0)
        r = read_int(rd, "default-step-ref-concurrency-limit",
                     &c->default_step_ref_concurrency_limit);
    if (r == 0)
        r = read_duration(rd, "default-maximum-resolution-timeout",
                          &c->default_maximum_resolution_timeout_ns);
    if (r == 0)
        r = read_int(rd, "default-max-matrix-combinations-count",
                     &c->default_max_matrix_combinations_count);
    if (r == 0 && c->default_timeout_minutes < 0)
        r = bad_value(rd, "default-timeout-minutes", "negative", "expected 0 or more minutes");
    return r;
}

static void read_inline_spec(const char *list, struct tekton_config *c)
{
    char *copy = xstrdup(list);
    char *save = NULL;

    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "taskrun") == 0)
            c->disable_inline_spec_taskrun = true;
        else if (strcmp(tok, "pipelinerun") == 0)
            c->disable_inline_spec_pipelinerun = true;
        else if (strcmp(tok, "pipeline") == 0)
            c->disable_inline_spec_pipeline = true;
    }
    free(copy);
}

static int read_flags(struct reader *rd, struct tekton_config *c)
{
    int api = (int)c->enable_api_fields;
    int from = (int)c->results_from;
    int cos = (int)c->coschedule;
    int spire = 0;
    const char *inline_spec = NULL;
    int r = 0;

    for (size_t i = 0; r == 0 && i < sizeof(bool_flags) / sizeof(bool_flags[0]); i++)
        r = read_bool(rd, bool_flags[i].key, (bool *)((char *)c + bool_flags[i].offset));
    if (r == 0)
        r = read_enum(rd, "enable-api-fields", api_fields_choices, "expected alpha, beta or stable",
                      &api);
    if (r == 0)
        r = read_enum(rd, "results-from", results_from_choices,
                      "expected termination-message or sidecar-logs", &from);
    if (r == 0)
        r = read_enum(rd, "coschedule", coschedule_choices,
                      "expected workspaces, pipelineruns, isolate-pipelinerun or disabled", &cos);
    if (r == 0)
        r = read_enum(rd, "enforce-nonfalsifiability", nonfalsifiability_choices,
                      "expected none or spire", &spire);
    if (r == 0)
        r = read_int(rd, "max-result-size", &c->max_result_size);
    if (r == 0)
        r = read_string(rd, "trusted-resources-verification-no-match-policy",
                        &c->trusted_resources_verification_no_match_policy);
    if (r == 0)
        r = get_value(rd, "disable-inline-spec", &inline_spec);
    if (r < 0)
        return r;
    /* the results of a sidecar-logs TaskRun must still fit the 1.5 MiB object limit */
    if (c->max_result_size <= 0 || c->max_result_size >= 1572864)
        return bad_value(rd, "max-result-size",
                         json_string_value(json_object_get(rd->data, "max-result-size")),
                         "expected 1 to 1572863 bytes");
    if (inline_spec)
        read_inline_spec(inline_spec, c);
    c->enable_api_fields = (enum tekton_api_fields)api;
    c->results_from = (enum tekton_results_from)from;
    c->coschedule = (enum tekton_coschedule)cos;
    c->enforce_nonfalsifiability_spire = spire == 1;
    return 0;
}

struct tekton_config *tekton_config_new_default(void)
{
    struct tekton_config *c = xcalloc(1, sizeof(*c));

    c->default_timeout_minutes = 60;
    c->default_service_account = xstrdup("default");
    c->default_managed_by_label_value = xstrdup("tekton-pipelines");
    c->default_forbidden_env = json_array();
    c->default_resolver_type = xstrdup("");
    c->default_sidecar_log_polling_interval_ns = 100 * 1000000;
    c->default_sidecar_log_polling_interval = xstrdup("100ms");
    c->default_step_ref_concurrency_limit = 5;
    c->default_maximum_resolution_timeout_ns = 60 * TEKTON_NS_PER_SECOND;
    c->default_max_matrix_combinations_count = 256;
    for (size_t i = 0; i < sizeof(bool_flags) / sizeof(bool_flags[0]); i++)
        *(bool *)((char *)c + bool_flags[i].offset) = bool_flags[i].value;
    c->enable_api_fields = TEKTON_API_FIELDS_BETA;
    c->results_from = TEKTON_RESULTS_FROM_TERMINATION_MESSAGE;
    c->max_result_size = 4096;
    c->coschedule = TEKTON_COSCHEDULE_WORKSPACES;
    c->trusted_resources_verification_no_match_policy = xstrdup("ignore");
    return c;
}

void tekton_config_free(struct tekton_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->trusted_resources_verification_no_match_policy);
    free(cfg->default_sidecar_log_polling_interval);
    free(cfg->default_resolver_type);
    json_decref(cfg->default_forbidden_env);
    json_decref(cfg->default_container_resource_requirements);
    json_decref(cfg->default_task_run_workspace_binding);
    json_decref(cfg->default_pod_template);
    free(cfg->default_managed_by_label_value);
    free(cfg->default_service_account);
    free(cfg);
}

static int reader_init(struct reader *rd, const json_t *cm, const char *name)
{
    rd->cm = name;
    rd->err = NULL;
    rd->data = json_object_get(cm, "data");
    if (rd->data && !json_is_object(rd->data)) {
        rd->err = xasprintf("invalid config map \"%s\": \"data\" is not an object", name);
        return -EINVAL;
    }
    return 0;
}

int tekton_config_parse(const json_t *config_defaults, const json_t *feature_flags,
                        struct tekton_config **ret_cfg, char **reterr_msg)
{
    struct tekton_config *c = tekton_config_new_default();
    struct reader defaults;
    struct reader flags;
    int r;

    r = reader_init(&defaults, config_defaults, DEFAULTS_CM);
    if (r == 0)
        r = read_defaults(&defaults, c);
    flags.err = NULL;
    if (r == 0)
        r = reader_init(&flags, feature_flags, FLAGS_CM);
    if (r == 0)
        r = read_flags(&flags, c);
    if (r < 0) {
        *reterr_msg = defaults.err ? defaults.err : flags.err;
        tekton_config_free(c);
        return r;
    }
    *ret_cfg = c;
    return 0;
}
