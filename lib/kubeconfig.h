#ifndef LIB_KUBECONFIG_H
#define LIB_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Where to reach the API server and how to authenticate: read from kubeconfig files the way
 * kubectl reads them, or from the in-cluster service account. The result is a frozen
 * struct kube_config that lib/kube copies from; nothing here does network I/O.
 */

/* Bytes decoded from a kubeconfig "*-data" field (PEM); data NULL when unset. */
struct kube_blob {
    unsigned char *data;
    size_t len;
};

/* An exec credential plugin (users[].user.exec). */
struct kube_exec_config {
    char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *command;     /* resolved against the kubeconfig's directory if it has a '/' */
    char **args;       /* NULL-terminated */
    char **env;        /* NULL-terminated "NAME=value" */
    bool provide_cluster_info;
};

struct kube_config {
    char *server;  /* "https://host:port[/path]", no trailing '/' */
    char *ns;      /* the context's namespace, "default" when unset */
    char *context; /* the context used; NULL in-cluster */
    char *source;  /* where this came from, for messages: a path or "in-cluster" */

    bool insecure_skip_tls_verify;
    char *tls_server_name; /* may be NULL */
    char *proxy_url;       /* may be NULL */
    char *ca_file;         /* absolute path, or NULL */
    struct kube_blob ca_data;
    char *client_cert_file;
    struct kube_blob client_cert_data;
    char *client_key_file;
    struct kube_blob client_key_data;

    char *token;      /* a static bearer token, or NULL */
    char *token_file; /* re-read when it changes (bound service-account tokens rotate) */
    char *username;   /* basic auth, or NULL */
    char *password;
    struct kube_exec_config *exec; /* or NULL */
};

/* Where kube_config_load() looks; every field may be NULL. */
struct kube_config_options {
    const char *kubeconfig;         /* --kubeconfig: one file, nothing merged */
    const char *kubeconfig_env;     /* $KUBECONFIG: files separated by ':' */
    const char *context;            /* --context: overrides current-context */
    const char *home;               /* $HOME, for ~/.kube/config */
    const char *service_host;       /* $KUBERNETES_SERVICE_HOST */
    const char *service_port;       /* $KUBERNETES_SERVICE_PORT */
    const char *serviceaccount_dir; /* NULL: /var/run/secrets/kubernetes.io/serviceaccount */
};

/*
 * Fill 'opts' from the process environment (KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST and
 * _PORT); 'kubeconfig' and 'context' are left NULL for the caller's flags. The strings are
 * borrowed from the environment.
 */
void kube_config_options_from_env(struct kube_config_options *opts);

/*
 * Load a config as a controller should: the --kubeconfig file if given, else the files in
 * $KUBECONFIG merged, else in-cluster when KUBERNETES_SERVICE_HOST is set, else
 * ~/.kube/config. Returns 0 and a new config in *ret_config, or < 0 with a one-line message
 * naming the file and the cause in *reterr_msg (the caller frees it): -ENOENT when nothing
 * is configured or a named context/cluster/user is missing, -EINVAL for malformed content,
 * -errno for an unreadable file.
 */
int kube_config_load(const struct kube_config_options *opts, struct kube_config **ret_config,
                     char **reterr_msg);

/*
 * Read kubeconfig files ('paths' is a ':'-separated list) and merge them as kubectl does:
 * for each named cluster, user and context the first file that defines it wins, and so does
 * the first non-empty current-context; files that do not exist are skipped. 'context'
 * (may be NULL) overrides current-context. Relative file paths inside a file are resolved
 * against that file's directory. Errors as for kube_config_load().
 */
int kube_config_from_files(const char *paths, const char *context, struct kube_config **ret_config,
                           char **reterr_msg);

/*
 * The in-cluster config: server from 'host' and 'port' (an IPv6 host gets brackets), token
 * file, ca.crt and namespace from 'serviceaccount_dir' (NULL for the standard path).
 */
int kube_config_in_cluster(const char *host, const char *port, const char *serviceaccount_dir,
                           struct kube_config **ret_config, char **reterr_msg);

/* Free a config; NULL is fine. */
void kube_config_free(struct kube_config *config);

/*
 * Decode standard base64 (with or without padding; whitespace is ignored). Returns 0 and a
 * new buffer (NUL-terminated for convenience), or -EINVAL for anything else.
 */
int kube_base64_decode(const char *text, struct kube_blob *ret_blob);

#endif
