/*
 * tektite-controller: argv/env -> config -> loop -> exit code. Wires the API client, the
 * shared caches, the TaskRun and PipelineRun reconcilers, the metrics server, optional leader
 * election and signal handling onto one libuv loop. This file holds no Tekton logic.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>
#include <uv.h>

#include "controller/caches.h"
#include "controller/config.h"
#include "controller/metrics.h"
#include "controller/pipelinerun.h"
#include "controller/runmetrics.h"
#include "controller/taskrun.h"
#include "controller/web.h"
#include "controller/webhookserver.h"
#include "lib/http.h"
#include "lib/kube.h"
#include "lib/kubeconfig.h"
#include "lib/leader.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/xalloc.h"

#define LOG_MODULE "main"

static const struct leader_ops kube_leader_ops = {kube_get, kube_create, kube_update};

struct controller {
    uv_loop_t *loop;
    const struct config *cfg;
    struct kube_config *kcfg;
    struct kube_client *kc;
    struct leader *leader;
    struct caches *caches;             /* shared by the reconcilers; closed after both */
    struct runmetrics *runmetrics;     /* run metrics from the caches; closed after them */
    struct http_client *registry_http; /* the registry's own: not the API server's TLS */
    struct registry *registry;         /* image entrypoint lookups */
    char *insecure_copy;               /* --insecure-registries, split in place */
    const char **insecure;             /* NULL-terminated, pointing into insecure_copy */
    struct taskrun_controller *taskruns;
    struct pipelinerun_controller *pipelineruns;
    struct metrics *metrics; /* fed by the reconcilers, served by 'web' */
    struct web *web;         /* /metrics, /healthz, /readyz on :9090; NULL if the port was taken */
    struct webhookserver *webhook; /* admission and conversion on --webhook-port; or NULL */
    char *identity;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    bool shutting_down;
    int exit_code;
};

/* ---- shutdown: reconcilers and lease first, then the client, caches and handles ---- */

static void on_client_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->kc = NULL;
}

static void close_client(struct controller *ctl)
{
    /* cancels whatever is in flight: pending lists end with -ECANCELED */
    if (ctl->kc)
        kube_client_close(ctl->kc, on_client_closed, ctl);
}

static void on_leader_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->leader = NULL;
    close_client(ctl); /* the lease release needed the client until now */
}

static void on_registry_http_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->registry_http = NULL;
}

static void on_registry_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->registry = NULL;
    http_client_close(ctl->registry_http, on_registry_http_closed, ctl);
}

static void on_caches_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->caches = NULL;
    /* no cache event can reach it any more */
    if (ctl->runmetrics)
        runmetrics_close(ctl->runmetrics, NULL, NULL);
    ctl->runmetrics = NULL;
}

/* The caches go last: a reconciler's pass in flight reads them until it ends. */
static void close_caches_when_idle(struct controller *ctl)
{
    if (ctl->taskruns || ctl->pipelineruns || !ctl->caches)
        return;
    caches_close(ctl->caches, on_caches_closed, ctl);
}

static void on_taskruns_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->taskruns = NULL;
    close_caches_when_idle(ctl);
}

static void on_pipelineruns_closed(void *ctx)
{
    struct controller *ctl = ctx;

    ctl->pipelineruns = NULL;
    close_caches_when_idle(ctl);
}

static void shutdown_controller(struct controller *ctl, int exit_code)
{
    if (ctl->shutting_down)
        return;
    ctl->shutting_down = true;
    ctl->exit_code = exit_code;
    uv_close((uv_handle_t *)&ctl->sigterm, NULL);
    uv_close((uv_handle_t *)&ctl->sigint, NULL);
    web_close(ctl->web, NULL, NULL);
    ctl->web = NULL;
    /* its API calls in flight end with -ECANCELED when the client closes below */
    webhookserver_close(ctl->webhook, NULL, NULL);
    ctl->webhook = NULL;
    /* lookups in flight end first (-ECANCELED), so the passes waiting on them can end */
    if (ctl->registry)
        registry_close(ctl->registry, on_registry_closed, ctl);
    else if (ctl->registry_http)
        http_client_close(ctl->registry_http, on_registry_http_closed, ctl);
    if (ctl->taskruns)
        taskrun_controller_close(ctl->taskruns, on_taskruns_closed, ctl);
    if (ctl->pipelineruns)
        pipelinerun_controller_close(ctl->pipelineruns, on_pipelineruns_closed, ctl);
    close_caches_when_idle(ctl);
    if (ctl->leader)
        leader_close(ctl->leader, on_leader_closed, ctl);
    else
        close_client(ctl);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct controller *ctl = s->data;

    log_info("shutting down", json_pack("{s:s}", "signal", signum == SIGTERM ? "TERM" : "INT"));
    shutdown_controller(ctl, 0);
}

/* ---- start-up ---- */

/* The nodes' platform as image indexes name it, assuming the nodes are like this host. */
static const char *node_platform(void)
{
    struct utsname u;

    if (uname(&u) == 0 && (strcmp(u.machine, "aarch64") == 0 || strcmp(u.machine, "arm64") == 0))
        return "linux/arm64";
    return "linux/amd64";
}

/* Split the comma-separated insecure registry list into ctl->insecure. */
static void split_insecure(struct controller *ctl)
{
    size_t n = 0;
    char *save = NULL;
    char *item;

    ctl->insecure_copy =
        xstrdup(ctl->cfg->insecure_registries ? ctl->cfg->insecure_registries : "");
    ctl->insecure = xcalloc(strlen(ctl->insecure_copy) + 2, sizeof(*ctl->insecure));
    for (item = strtok_r(ctl->insecure_copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
        ctl->insecure[n++] = item;
}

static int start_registry(struct controller *ctl)
{
    json_t *mirrors =
        ctl->cfg->registry_mirrors ? json_loads(ctl->cfg->registry_mirrors, 0, NULL) : NULL;
    struct registry_options o = {.mirrors = mirrors, .platform = node_platform()};
    char *err = NULL;
    int r;

    split_insecure(ctl);
    o.insecure = ctl->insecure;
    r = http_client_new(ctl->loop, NULL, &ctl->registry_http);
    if (r >= 0)
        r = registry_new(ctl->loop, ctl->registry_http, &o, &ctl->registry, &err);
    if (r < 0)
        log_error("cannot set up image lookups",
                  json_pack("{s:s}", "error", err ? err : strerror(-r)));
    json_decref(mirrors);
    free(err);
    return r;
}

static int start_reconcilers(struct controller *ctl)
{
    struct taskrun_controller_options tro = {
        .entrypoint_image = ctl->cfg->entrypoint_image,
        .release = TEKTITE_VERSION,
        .platform = node_platform(),
    };
    struct pipelinerun_controller_options pro = {0};
    int r;

    if (ctl->caches)
        return 0;
    r = start_registry(ctl);
    if (r < 0)
        return r;
    tro.registry = ctl->registry;
    tro.metrics = ctl->metrics;
    pro.metrics = ctl->metrics;
    r = caches_new(ctl->loop, ctl->kc, ctl->cfg->ns, ctl->cfg->system_namespace, &ctl->caches);
    if (r >= 0 && ctl->metrics)
        r = runmetrics_new(ctl->loop, ctl->caches, ctl->metrics, &ctl->runmetrics);
    if (r >= 0)
        r = taskrun_controller_new(ctl->loop, ctl->kc, ctl->caches, &tro, &ctl->taskruns);
    if (r >= 0)
        r = pipelinerun_controller_new(ctl->loop, ctl->kc, ctl->caches, &pro, &ctl->pipelineruns);
    if (r >= 0)
        r = caches_start(ctl->caches);
    return r;
}

static void on_started_leading(void *ctx)
{
    struct controller *ctl = ctx;

    log_info("started leading", NULL);
    if (!ctl->shutting_down && start_reconcilers(ctl) < 0) {
        log_error("cannot start the reconcilers", NULL);
        shutdown_controller(ctl, 1);
    }
}

static void on_stopped_leading(void *ctx)
{
    struct controller *ctl = ctx;

    if (ctl->shutting_down) {
        log_info("stopped leading", NULL);
        return;
    }
    /* another replica may already be acting: stop at once, as client-go controllers do */
    log_error("lost the leader lease, exiting", NULL);
    shutdown_controller(ctl, 1);
}

static void on_new_holder(void *ctx, const char *identity)
{
    log_info("lease holder changed", json_pack("{s:s}", "holder", identity));
}

static void on_lease_error(void *ctx, int rc, const struct kube_status *st)
{
    log_warn("lease request failed, retrying",
             json_pack("{s:s, s:i}", "error", st && st->message ? st->message : strerror(-rc),
                       "code", st ? st->http_code : 0));
}

static int start_leader_election(struct controller *ctl)
{
    const struct config *cfg = ctl->cfg;
    unsigned char rnd[4] = {0};
    struct leader_options o = {
        .ns = cfg->lease_namespace ? cfg->lease_namespace : ctl->kcfg->ns,
        .name = cfg->lease_name,
        .lease_duration_ms = cfg->lease_duration_ms,
        .renew_deadline_ms = cfg->renew_deadline_ms,
        .retry_period_ms = cfg->retry_period_ms,
        .on_started = on_started_leading,
        .on_stopped = on_stopped_leading,
        .on_new_holder = on_new_holder,
        .on_error = on_lease_error,
        .ctx = ctl,
    };
    int r;

    /* a unique holder per process, so a restarted pod does not inherit its own lease */
    (void)uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL);
    ctl->identity = xasprintf("%s_%02x%02x%02x%02x", cfg->identity, rnd[0], rnd[1], rnd[2], rnd[3]);
    o.identity = ctl->identity;
    r = leader_new(ctl->loop, ctl->kc, &kube_leader_ops, &o, &ctl->leader);
    if (r < 0)
        return r;
    log_info("campaigning for the leader lease",
             json_pack("{s:s, s:s, s:s}", "ns", o.ns, "name", o.name, "identity", o.identity));
    leader_start(ctl->leader);
    return 0;
}

/* Tekton's names for the webhook configurations (config/500-webhooks.yaml). */
#define WEBHOOK_MUTATING   "webhook.pipeline.tekton.dev"
#define WEBHOOK_VALIDATING "validation.webhook.pipeline.tekton.dev"

/* Defaults follow config-defaults on the leader; standbys have no caches and use Tekton's. */
static const struct tekton_config *webhook_config(void *ctx)
{
    const struct controller *ctl = ctx;

    return ctl->caches ? caches_config(ctl->caches) : NULL;
}

/* Ready only once the webhook answers, so the Service never routes an admission to a Pod
 * that would refuse the connection (failurePolicy Fail would refuse the user's write). */
static void on_webhook_serving(void *ctx)
{
    struct controller *ctl = ctx;

    if (ctl->web)
        web_set_ready(ctl->web, true);
}

/* Every replica serves the webhook, leader or not: the API server picks any endpoint. */
static int start_webhook(struct controller *ctl)
{
    const struct config *cfg = ctl->cfg;
    struct webhookserver_options o = {
        .host = "0.0.0.0",
        .port = cfg->webhook_port,
        .service = cfg->webhook_service,
        .ns = cfg->system_namespace,
        .secret = cfg->webhook_secret,
        .mutating = WEBHOOK_MUTATING,
        .validating = WEBHOOK_VALIDATING,
        .check_ms = cfg->webhook_cert_check_ms,
        .config = webhook_config,
        .on_serving = on_webhook_serving,
        .ctx = ctl,
    };
    int r;

    if (cfg->webhook_port == 0)
        return 0;
    if (ctl->web)
        web_set_ready(ctl->web, false);
    r = webhookserver_new(ctl->loop, ctl->kc, &o, &ctl->webhook);
    if (r < 0)
        log_error("cannot start the webhook", json_pack("{s:s}", "error", strerror(-r)));
    else
        log_info("starting the webhook",
                 json_pack("{s:i, s:s, s:s}", "port", cfg->webhook_port, "service",
                           cfg->webhook_service, "secret", cfg->webhook_secret));
    return r;
}

/* The server answered /version: it is reachable and accepts our credentials. */
static void on_version(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct controller *ctl = ctx;

    if (ctl->shutting_down)
        return;
    if (rc < 0) {
        log_error("cannot reach the API server",
                  json_pack("{s:s, s:s, s:s, s:i}", "server", ctl->kcfg->server, "source",
                            ctl->kcfg->source, "error",
                            st && st->message ? st->message : strerror(-rc), "code",
                            st ? st->http_code : 0));
        shutdown_controller(ctl, 1);
        return;
    }
    log_info("connected", json_pack("{s:s, s:s*, s:s}", "server", ctl->kcfg->server, "version",
                                    json_string_value(json_object_get(obj, "gitVersion")),
                                    "namespace", ctl->cfg->ns ? ctl->cfg->ns : "(all)"));
    if (start_webhook(ctl) < 0) {
        shutdown_controller(ctl, 1);
        return;
    }
    /* without leader election we act at once; with it, from on_started_leading */
    if ((ctl->cfg->leader_elect ? start_leader_election(ctl) : start_reconcilers(ctl)) < 0) {
        log_error("cannot start the controller", NULL);
        shutdown_controller(ctl, 1);
    }
}

static int connect_client(struct controller *ctl)
{
    struct kube_config_options o;
    char *err = NULL;
    int r;

    kube_config_options_from_env(&o);
    o.kubeconfig = ctl->cfg->kubeconfig;
    o.context = ctl->cfg->context;
    r = kube_config_load(&o, &ctl->kcfg, &err);
    if (r < 0) {
        log_error("cannot load the kubeconfig", json_pack("{s:s}", "error", err));
        goto out;
    }
    r = kube_client_new(ctl->loop, ctl->kcfg, &ctl->kc, &err);
    if (r < 0) {
        log_error("cannot create the API client",
                  json_pack("{s:s, s:s}", "source", ctl->kcfg->source, "error", err));
        goto out;
    }
    r = kube_get(ctl->kc, "/version", on_version, ctl);
    if (r < 0)
        log_error("cannot reach the API server",
                  json_pack("{s:s, s:s}", "server", ctl->kcfg->server, "error", strerror(-r)));
out:
    free(err);
    return r;
}

static void install_signals(struct controller *ctl)
{
    uv_signal_init(ctl->loop, &ctl->sigterm);
    uv_signal_init(ctl->loop, &ctl->sigint);
    ctl->sigterm.data = ctl;
    ctl->sigint.data = ctl;
    uv_signal_start(&ctl->sigterm, on_signal, SIGTERM);
    uv_signal_start(&ctl->sigint, on_signal, SIGINT);
}

/* Run the controller until a signal or a fatal error; returns the exit code. */
static int run(const struct config *cfg)
{
    uv_loop_t loop;
    struct controller ctl = {.loop = &loop, .cfg = cfg};
    int r;

    uv_loop_init(&loop);
    install_signals(&ctl);
    ctl.metrics = metrics_new();
    /* probes and scrapes; a second controller on one host keeps running without them */
    r = web_new(&loop, &(struct web_options){"0.0.0.0", 9090, ctl.metrics}, &ctl.web);
    if (r < 0)
        log_warn("cannot serve metrics and probes, ignoring",
                 json_pack("{s:s, s:i}", "error", uv_strerror(r), "port", 9090));
    if (connect_client(&ctl) < 0)
        shutdown_controller(&ctl, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    r = uv_loop_close(&loop);
    if (r < 0) {
        log_error("event loop not empty at exit", json_pack("{s:s}", "error", uv_strerror(r)));
        ctl.exit_code = 1;
    }
    kube_config_free(ctl.kcfg);
    metrics_free(ctl.metrics);
    free(ctl.identity);
    free(ctl.insecure_copy);
    free(ctl.insecure);
    return ctl.exit_code;
}

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

int main(int argc, char *argv[])
{
    struct config *cfg = NULL;
    char *err = NULL;
    int code;

    xalloc_install_library_hooks();
    if (config_parse(argc, argv, env_lookup, &cfg, &err) < 0) {
        fprintf(stderr, "tektite-controller: %s\n", err);
        free(err);
        return 2;
    }
    if (cfg->action == CONFIG_HELP) {
        fputs(config_usage(), stdout);
        code = 0;
    } else if (cfg->action == CONFIG_VERSION) {
        printf("tektite-controller %s\n", TEKTITE_VERSION);
        code = 0;
    } else {
        signal(SIGPIPE, SIG_IGN); /* a closed socket is an error return, not a death */
        log_set_level(cfg->log_level);
        code = run(cfg);
    }
    config_free(cfg);
    return code;
}
