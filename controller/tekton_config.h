#ifndef CONTROLLER_TEKTON_CONFIG_H
#define CONTROLLER_TEKTON_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Tekton's `config-defaults` and `feature-flags` ConfigMaps (tekton-taskrun.md §2) as one
 * frozen struct. Built once per ConfigMap change and swapped in whole; never modified after
 * tekton_config_parse() returns it.
 */

enum tekton_api_fields {
    TEKTON_API_FIELDS_STABLE,
    TEKTON_API_FIELDS_BETA,
    TEKTON_API_FIELDS_ALPHA,
};

enum tekton_results_from {
    TEKTON_RESULTS_FROM_TERMINATION_MESSAGE,
    TEKTON_RESULTS_FROM_SIDECAR_LOGS,
};

enum tekton_coschedule {
    TEKTON_COSCHEDULE_WORKSPACES,
    TEKTON_COSCHEDULE_PIPELINERUNS,
    TEKTON_COSCHEDULE_ISOLATE_PIPELINERUN,
    TEKTON_COSCHEDULE_DISABLED,
};

#define TEKTON_NS_PER_SECOND INT64_C(1000000000)

struct tekton_config {
    /* config-defaults */
    int64_t default_timeout_minutes;                 /* 60; 0 = no timeout */
    char *default_service_account;                   /* "default" */
    char *default_managed_by_label_value;            /* "tekton-pipelines" */
    json_t *default_pod_template;                    /* a JSON object, or NULL when unset */
    json_t *default_task_run_workspace_binding;      /* a JSON object, or NULL when unset */
    json_t *default_container_resource_requirements; /* a JSON object, or NULL */
    json_t *default_forbidden_env; /* JSON array of names, sorted, unique; never NULL */
    char *default_resolver_type;   /* "" when unset */
    int64_t default_imagepullbackoff_timeout_ns;
    int64_t default_create_container_error_timeout_ns;
    int64_t default_sidecar_log_polling_interval_ns; /* 100ms */
    char *default_sidecar_log_polling_interval;      /* the text, for the env var: "100ms" */
    int64_t default_step_ref_concurrency_limit;      /* 5 */
    int64_t default_maximum_resolution_timeout_ns;   /* 1m */
    int64_t default_max_matrix_combinations_count;   /* 256 */

    /* feature-flags */
    enum tekton_api_fields enable_api_fields; /* beta */
    bool disable_creds_init;
    bool await_sidecar_readiness;                       /* true */
    bool running_in_environment_with_injected_sidecars; /* true */
    bool require_git_ssh_secret_known_hosts;
    enum tekton_results_from results_from;
    int64_t max_result_size; /* 4096 */
    bool enable_termination_message_compression;
    bool set_security_context;
    bool set_security_context_read_only_root_filesystem;
    bool keep_pod_on_cancel;
    bool enable_kubernetes_sidecar;
    bool enable_provenance_in_status; /* true */
    enum tekton_coschedule coschedule;
    bool disable_inline_spec_taskrun;     /* "taskrun" listed in disable-inline-spec */
    bool disable_inline_spec_pipelinerun; /* "pipelinerun" listed */
    bool disable_inline_spec_pipeline;    /* "pipeline" listed */
    bool enable_param_enum;
    bool enable_cel_in_whenexpression;
    bool enable_artifacts;
    bool enable_wait_exponential_backoff;
    bool enable_informer_cache_transforms;                /* true */
    bool enable_step_actions;                             /* true */
    bool enforce_nonfalsifiability_spire;                 /* "spire" rather than "none" */
    char *trusted_resources_verification_no_match_policy; /* "ignore" */
    bool send_cloudevents_for_runs;
    bool enable_tekton_oci_bundles;
    bool enable_concise_resolver_syntax;
};

/*
 * Build a config from the two ConfigMap objects as the API server returns them (only their
 * "data" member is read); either may be NULL, and then all its keys take Tekton's defaults.
 * YAML-valued keys (default-pod-template, default-task-run-workspace-binding,
 * default-container-resource-requirements) are parsed with lib/yamljson and must be mappings.
 * Returns 0 and a new config in '*ret_cfg' (free with tekton_config_free), or -EINVAL and a
 * new message in '*reterr_msg' naming the ConfigMap, the key and the value, for example
 * `invalid value "maybe" for key "await-sidecar-readiness" in config map "feature-flags":
 * expected a boolean`.
 */
int tekton_config_parse(const json_t *config_defaults, const json_t *feature_flags,
                        struct tekton_config **ret_cfg, char **reterr_msg);

/* Tekton's defaults, as tekton_config_parse(NULL, NULL, ...) gives them. Never fails. */
struct tekton_config *tekton_config_new_default(void);

void tekton_config_free(struct tekton_config *cfg);

#endif
