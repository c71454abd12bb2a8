#ifndef CONTROLLER_WEBHOOKSERVER_H
#define CONTROLLER_WEBHOOKSERVER_H

#include <stdint.h>

#include <uv.h>

/*
 * The webhook as the API server sees it: HTTPS on the loop (lib/httpserver, TLS) answering
 * AdmissionReviews (controller/webhook) and ConversionReviews (controller/conversion), with
 * the certificate (controller/certs) kept in a Secret and its CA injected as caBundle into the
 * two webhook configurations and the four CRDs' conversion. A watch on the Secret, and a
 * periodic check behind it, re-read the Secret: a missing, foreign-keyed, expired or
 * two-thirds-spent certificate is regenerated (create or update with resourceVersion, so of several
 * replicas one wins and the others adopt its Secret), a Secret another replica rotated is loaded,
 * and caBundles that differ from the served CA are patched. Every write is conditional on a
 * difference, so replicas agree.
 */

struct kube_client;
struct tekton_config;
struct webhookserver;

/* The Tekton configuration to default with, or NULL for Tekton's built-in defaults. */
typedef const struct tekton_config *webhookserver_config_cb(void *ctx);

/* The server now answers on its port (runs once, the first time a certificate is served). */
typedef void webhookserver_serving_cb(void *ctx);

struct webhookserver_options {
    const char *host;                     /* "0.0.0.0" */
    int port;                             /* 8443 */
    const char *service;                  /* the Service's name: tekton-pipelines-webhook */
    const char *ns;                       /* its namespace, which also holds the Secret */
    const char *secret;                   /* webhook-certs */
    const char *mutating;                 /* MutatingWebhookConfiguration name */
    const char *validating;               /* ValidatingWebhookConfiguration name */
    int64_t validity_s;                   /* certificate lifetime; 0: one year */
    uint64_t check_ms;                    /* Secret re-check period; 0: one minute */
    webhookserver_config_cb *config;      /* may be NULL */
    webhookserver_serving_cb *on_serving; /* may be NULL; e.g. to turn readiness on */
    void *ctx;                            /* handed to both callbacks */
};

/*
 * Start: the first pass (read or make the Secret, then serve, then inject) runs from the loop.
 * 'kc' is borrowed and must outlive the server. The options are copied. Returns 0 and
 * '*ret', or -EINVAL for missing names. Failures later are logged and retried on the timer.
 */
int webhookserver_new(uv_loop_t *loop, struct kube_client *kc,
                      const struct webhookserver_options *o, struct webhookserver **ret);

/* The TLS port once serving, else -1 (tests). */
int webhookserver_port(const struct webhookserver *ws);

typedef void webhookserver_closed_cb(void *ctx);

/*
 * Stop the timer and the server. 'cb' (may be NULL) runs from the loop once every handle is
 * closed and every request has answered; requests still in flight end when the kube client
 * closes (-ECANCELED), so close the client after calling this. NULL 'ws' does nothing.
 */
void webhookserver_close(struct webhookserver *ws, webhookserver_closed_cb *cb, void *ctx);

#endif
