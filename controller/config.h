#ifndef CONTROLLER_CONFIG_H
#define CONTROLLER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/log.h"

/*
 * tektite-controller's command line and environment, parsed once into a struct config that
 * is frozen before the loop starts (style.md §7). Flags win over environment variables:
 *   --kubeconfig PATH      (else $KUBECONFIG, in-cluster, ~/.kube/config: lib/kubeconfig)
 *   --context NAME
 *   --namespace NS         ($TEKTITE_NAMESPACE; empty or absent: all namespaces)
 *   --leader-elect[=BOOL]  ($TEKTITE_LEADER_ELECT)
 *   --lease-name NAME, --lease-namespace NS ($POD_NAMESPACE),
 *   --lease-duration D, --renew-deadline D, --retry-period D  (Go durations: 15s, 500ms)
 *   --log-level LEVEL      ($TEKTITE_LOG_LEVEL; debug, info, warn, error)
 *   --entrypoint-image REF ($TEKTITE_ENTRYPOINT_IMAGE)
 *   --system-namespace NS  ($SYSTEM_NAMESPACE; default tekton-pipelines)
 *   --registry-mirrors JSON ($TEKTITE_REGISTRY_MIRRORS), --insecure-registries LIST
 *                          ($TEKTITE_INSECURE_REGISTRIES): where image lookups go
 *   --webhook-port N ($TEKTITE_WEBHOOK_PORT; 0: no webhook), --webhook-service NAME
 *                          ($WEBHOOK_SERVICE_NAME), --webhook-secret NAME ($WEBHOOK_SECRET_NAME),
 *                          --webhook-cert-check D: the admission/conversion webhook
 *   --version, --help (-h)
 */

enum config_action {
    CONFIG_RUN,
    CONFIG_HELP,
    CONFIG_VERSION,
};

struct config {
    enum config_action action;
    char *kubeconfig; /* NULL: the loader's search order */
    char *context;    /* NULL: current-context */
    char *ns;         /* NULL: all namespaces */
    bool leader_elect;
    char *lease_name;      /* never NULL */
    char *lease_namespace; /* NULL: the kubeconfig context's namespace */
    char *identity;        /* $POD_NAME or the host name; main adds a random suffix */
    uint64_t lease_duration_ms;
    uint64_t renew_deadline_ms;
    uint64_t retry_period_ms;
    enum log_level log_level;
    char *entrypoint_image;    /* never NULL; DEFAULT_ENTRYPOINT_IMAGE unless set */
    char *system_namespace;    /* never NULL; "tekton-pipelines" unless set */
    char *registry_mirrors;    /* JSON text of the image lookup mirror table, or NULL */
    char *insecure_registries; /* comma-separated host:port list, or NULL */
    int webhook_port;          /* 0: no webhook */
    char *webhook_service;     /* never NULL; "tekton-pipelines-webhook" unless set */
    char *webhook_secret;      /* never NULL; "webhook-certs" unless set */
    uint64_t webhook_cert_check_ms;
};

/* Where `make deploy` pushes the entrypoint image; tests pass the digest they pushed. */
#define DEFAULT_ENTRYPOINT_IMAGE "127.0.0.1:5000/tektite/entrypoint:latest"

/* Look up an environment variable; getenv() in production, a table in tests. */
typedef const char *config_getenv_cb(const char *name);

/*
 * Parse 'argv' (argv[0] is the program name) and the environment through 'getenv_cb'.
 * Returns 0 and a new config in *ret_config, or -EINVAL with a one-line message naming the
 * flag or variable, the value and what was expected in *reterr_msg (the caller frees it).
 */
int config_parse(int argc, char *const argv[], config_getenv_cb *getenv_cb,
                 struct config **ret_config, char **reterr_msg);

/* Free a config; NULL is fine. */
void config_free(struct config *config);

/* The --help text, ending in a newline. */
const char *config_usage(void);

#endif
