/*
 * Shared informer caches and the live Tekton configuration. Reconcilers only read from here;
 * whoever writes feeds the answer back with informer_apply_event(). Logging of list/watch
 * failures lives here, once, instead of in every reconciler.
 */
#include "controller/caches.h"

#include <assert.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "controller/tekton_config.h"
#include "lib/informer.h"
#include "lib/kube.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define LOG_MODULE "caches"

struct caches {
    uv_loop_t *loop;
    struct kube_client *kc; /* borrowed: the caller's, outlives the caches */
    char *system_namespace;
    struct informer *informers[CACHE_COUNT];
    struct tekton_config *cfg;
    uint64_t started_ms;
    bool synced_logged;
    uv_timer_t trim_timer; /* hands the initial lists' freed heap back once they are gone */
    unsigned pending_closes;
    caches_closed_cb *closed_cb;
    void *closed_ctx;
};

static const struct {
    const char *kind;
    const char *prefix;
    const char *resource;
    const char *query;
} watched[CACHE_COUNT] = {
    [CACHE_TASKRUNS] = {"TaskRun", "/apis/tekton.dev/v1", "taskruns", NULL},
    [CACHE_PIPELINERUNS] = {"PipelineRun", "/apis/tekton.dev/v1", "pipelineruns", NULL},
    [CACHE_PODS] = {"Pod", "/api/v1", "pods", "labelSelector=tekton.dev%2FtaskRun"},
    [CACHE_TASKS] = {"Task", "/apis/tekton.dev/v1", "tasks", NULL},
    [CACHE_PIPELINES] = {"Pipeline", "/apis/tekton.dev/v1", "pipelines", NULL},
    [CACHE_STEPACTIONS] = {"StepAction", "/apis/tekton.dev/v1beta1", "stepactions", NULL},
    [CACHE_PVCS] = {"PersistentVolumeClaim", "/api/v1", "persistentvolumeclaims", NULL},
    [CACHE_CONFIGMAPS] = {"ConfigMap", "/api/v1", "configmaps", NULL},
    [CACHE_LIMITRANGES] = {"LimitRange", "/api/v1", "limitranges", NULL},
};

static void trim_containers(json_t *containers)
{
    json_t *c;
    size_t i;

    json_array_foreach(containers, i, c) {
        const char *key;
        void *tmp;
        json_t *value;

        json_object_foreach_safe(c, tmp, key, value)
        {
            if (strcmp(key, "name") != 0 && strcmp(key, "image") != 0)
                json_object_del(c, key);
        }
    }
}

void caches_trim_pod(json_t *pod)
{
    json_t *spec = json_object_get(pod, "spec");

    trim_containers(json_object_get(spec, "containers"));
    trim_containers(json_object_get(spec, "initContainers"));
    json_object_del(spec, "volumes");
}

/*
 * Share status.<spec_key> with spec.<spec_key> when they are equal (see caches.h). A run's
 * embedded spec is copied to its status when it starts, so a cached run held it twice.
 */
void caches_trim_run(json_t *run, const char *spec_key)
{
    json_t *spec = json_object_get(json_object_get(run, "spec"), spec_key);
    json_t *status = json_object_get(run, "status");
    json_t *copy = json_object_get(status, spec_key);

    if (!json_is_object(spec) || !json_is_object(copy) || spec == copy || !json_equal(spec, copy))
        return;
    json_object_set(status, spec_key, spec);
}

static void trim_taskrun(json_t *taskrun)
{
    caches_trim_run(taskrun, "taskSpec");
}

static void trim_pipelinerun(json_t *pipelinerun)
{
    caches_trim_run(pipelinerun, "pipelineSpec");
}

static informer_trim_cb *const trims[CACHE_COUNT] = {
    [CACHE_TASKRUNS] = trim_taskrun,
    [CACHE_PIPELINERUNS] = trim_pipelinerun,
    [CACHE_PODS] = caches_trim_pod,
};

static const struct informer_ops kube_informer_ops = {
    .list = kube_list,
    .watch_start = kube_watch_start,
    .watch_stop = kube_watch_stop,
};

static void reload_config(struct caches *c)
{
    struct informer *cms = c->informers[CACHE_CONFIGMAPS];
    struct tekton_config *cfg = NULL;
    char *err = NULL;

    if (tekton_config_parse(informer_get(cms, c->system_namespace, "config-defaults"),
                            informer_get(cms, c->system_namespace, "feature-flags"), &cfg,
                            &err) < 0) {
        log_error("invalid configuration, keeping the previous one",
                  json_pack("{s:s}", "error", err));
        free(err);
        return;
    }
    tekton_config_free(c->cfg);
    c->cfg = cfg;
    log_info("configuration loaded", NULL);
}

static void on_config_change(void *ctx, const json_t *obj)
{
    reload_config(ctx);
}

static void on_config_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    reload_config(ctx);
}

static void on_informer_error(void *ctx, const char *op, int rc, const struct kube_status *st,
                              uint64_t retry_ms)
{
    log_warn("list or watch failed, retrying",
             json_pack("{s:s, s:i, s:s, s:I}", "op", op, "code", st ? st->http_code : 0, "error",
                       st && st->message ? st->message : strerror(-rc), "retry_ms",
                       (json_int_t)retry_ms));
}

/*
 * Once the initial lists are freed, give their heap back. glibc keeps the pages a large list
 * touched (the body, its parsed tree and the copies cached from it, interleaved): without this,
 * 1,000 completed TaskRuns kept ~27 KiB of RSS each against ~9 KiB of live heap.
 */
static void on_trim_timer(uv_timer_t *timer)
{
    (void)malloc_trim(0);
}

static void on_synced(void *ctx)
{
    struct caches *c = ctx;
    size_t objects = 0;

    if (c->synced_logged || !caches_synced(c))
        return;
    c->synced_logged = true;
    for (int i = 0; i < CACHE_COUNT; i++)
        objects += informer_count(c->informers[i]);
    /* api_requests counts every request the client sent by then, not only the informers' */
    log_info("caches synced",
             json_pack("{s:I, s:I, s:I}", "ms", (json_int_t)(uv_now(c->loop) - c->started_ms),
                       "objects", (json_int_t)objects, "api_requests",
                       (json_int_t)kube_client_requests_sent(c->kc)));
    /* from the loop: the list that completed the sync is still alive during this callback */
    (void)uv_timer_start(&c->trim_timer, on_trim_timer, 0, 0);
}

int caches_new(uv_loop_t *loop, struct kube_client *kc, const char *ns,
               const char *system_namespace, struct caches **ret_caches)
{
    struct caches *c = xcalloc(1, sizeof(*c));
    struct informer_handler configs = {on_config_change, on_config_update, on_config_change, c};

    c->loop = loop;
    c->kc = kc;
    c->system_namespace = xstrdup(system_namespace);
    c->cfg = tekton_config_new_default();
    (void)uv_timer_init(loop, &c->trim_timer); /* only fails for an invalid loop */
    c->trim_timer.data = c;
    for (int i = 0; i < CACHE_COUNT; i++) {
        const char *where = i == CACHE_CONFIGMAPS ? system_namespace : ns;
        char *path =
            kube_path(watched[i].prefix, where, watched[i].resource, NULL, watched[i].query);
        struct informer_options o = {
            .path = path,
            .trim = trims[i],
            .on_error = on_informer_error,
            .on_synced = on_synced,
            .ctx = c,
        };
        int r = informer_new(loop, kc, &kube_informer_ops, &o, &c->informers[i]);

        free(path);
        /* only invalid options make this fail, and the options are ours */
        assert(r >= 0);
    }
    informer_add_handler(c->informers[CACHE_CONFIGMAPS], &configs);
    *ret_caches = c;
    return 0;
}

void caches_add_handler(struct caches *c, enum caches_kind kind,
                        const struct informer_handler *handler)
{
    informer_add_handler(c->informers[kind], handler);
}

int caches_start(struct caches *c)
{
    uv_update_time(c->loop);
    c->started_ms = uv_now(c->loop);
    for (int i = 0; i < CACHE_COUNT; i++) {
        int r = informer_start(c->informers[i]);

        if (r < 0)
            return r;
    }
    return 0;
}

struct informer *caches_get(const struct caches *c, enum caches_kind kind)
{
    return c->informers[kind];
}

const struct tekton_config *caches_config(const struct caches *c)
{
    return c->cfg;
}

bool caches_synced(const struct caches *c)
{
    for (int i = 0; i < CACHE_COUNT; i++) {
        if (!informer_has_synced(c->informers[i]))
            return false;
    }
    return true;
}

static void on_informer_closed(void *ctx)
{
    struct caches *c = ctx;

    if (--c->pending_closes > 0)
        return;
    tekton_config_free(c->cfg);
    free(c->system_namespace);
    if (c->closed_cb)
        c->closed_cb(c->closed_ctx);
    free(c);
}

static void on_trim_timer_closed(uv_handle_t *handle)
{
    on_informer_closed(handle->data);
}

void caches_close(struct caches *c, caches_closed_cb *done, void *ctx)
{
    c->closed_cb = done;
    c->closed_ctx = ctx;
    c->pending_closes = CACHE_COUNT + 1;
    uv_close((uv_handle_t *)&c->trim_timer, on_trim_timer_closed);
    for (int i = 0; i < CACHE_COUNT; i++)
        informer_close(c->informers[i], on_informer_closed, c);
}
