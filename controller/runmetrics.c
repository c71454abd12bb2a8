/*
 * Run metrics from cache events: the reconcilers stay free of metrics code, and a run counts
 * once however many passes or controllers touched it (the transition to final is seen once per
 * process, by the informer's old/new pair).
 */
#include "controller/runmetrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/caches.h"
#include "controller/metrics.h"
#include "controller/taskrun_status.h"
#include "lib/informer.h"
#include "lib/xalloc.h"

#define GAUGE_PERIOD_MS 5000

struct runmetrics {
    uv_timer_t timer;
    struct caches *caches;
    struct metrics *metrics;
    runmetrics_closed_cb *closed_cb;
    void *closed_ctx;
};

static const char *label(const json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

static const char *ns_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
}

/* "success", "failed" or "cancelled", as Tekton's status label reads. */
static const char *outcome(const json_t *status)
{
    const json_t *cond = taskrun_status_condition(status);
    const char *s = json_string_value(json_object_get(cond, "status"));
    const char *reason = json_string_value(json_object_get(cond, "reason"));

    if (s && strcmp(s, "True") == 0)
        return "success";
    if (reason && strstr(reason, "Cancelled"))
        return "cancelled";
    return "failed";
}

static double duration_s(const json_t *status)
{
    time_t start;
    time_t end;

    if (taskrun_status_parse_time(json_string_value(json_object_get(status, "startTime")), &start) <
            0 ||
        taskrun_status_parse_time(json_string_value(json_object_get(status, "completionTime")),
                                  &end) < 0 ||
        end < start)
        return 0;
    return (double)(end - start);
}

static bool became_final(const json_t *old_obj, const json_t *new_obj)
{
    return taskrun_status_is_done(json_object_get(new_obj, "status")) &&
           !taskrun_status_is_done(json_object_get(old_obj, "status"));
}

static void on_taskrun_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    struct runmetrics *rm = ctx;
    const json_t *status = json_object_get(new_obj, "status");

    if (!became_final(old_obj, new_obj))
        return;
    if (label(new_obj, "tekton.dev/pipelineRun"))
        (void)metrics_observe_pipelinerun_taskrun(
            rm->metrics, ns_of(new_obj), label(new_obj, "tekton.dev/pipeline"),
            label(new_obj, "tekton.dev/task"), outcome(status), duration_s(status));
    else
        (void)metrics_observe_taskrun(rm->metrics, ns_of(new_obj),
                                      label(new_obj, "tekton.dev/task"), outcome(status),
                                      duration_s(status));
}

static void on_pipelinerun_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    struct runmetrics *rm = ctx;
    const json_t *status = json_object_get(new_obj, "status");

    if (became_final(old_obj, new_obj))
        (void)metrics_observe_pipelinerun(rm->metrics, ns_of(new_obj),
                                          label(new_obj, "tekton.dev/pipeline"), outcome(status),
                                          duration_s(status));
}

/* The PodScheduled condition's time, or 0 while the Pod is not scheduled. */
static time_t scheduled_at(const json_t *pod)
{
    const json_t *cond;
    size_t i;
    time_t t = 0;

    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, cond) {
        const char *type = json_string_value(json_object_get(cond, "type"));
        const char *s = json_string_value(json_object_get(cond, "status"));

        if (type && s && strcmp(type, "PodScheduled") == 0 && strcmp(s, "True") == 0)
            (void)taskrun_status_parse_time(
                json_string_value(json_object_get(cond, "lastTransitionTime")), &t);
    }
    return t;
}

static void on_pod_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    struct runmetrics *rm = ctx;
    time_t created;
    time_t scheduled = scheduled_at(new_obj);

    if (!scheduled || scheduled_at(old_obj) ||
        taskrun_status_parse_time(json_string_value(json_object_get(
                                      json_object_get(new_obj, "metadata"), "creationTimestamp")),
                                  &created) < 0)
        return;
    (void)metrics_observe_pod_latency(rm->metrics, ns_of(new_obj),
                                      label(new_obj, "tekton.dev/task"),
                                      (double)(scheduled - created) * 1000.0);
}

static unsigned long count_running(const struct informer *inf)
{
    json_t *all = informer_list(inf);
    const json_t *obj;
    unsigned long n = 0;
    size_t i;

    json_array_foreach(all, i, obj) {
        if (!taskrun_status_is_done(json_object_get(obj, "status")))
            n++;
    }
    json_decref(all);
    return n;
}

static void on_timer(uv_timer_t *t)
{
    struct runmetrics *rm = t->data;

    metrics_set_running_taskruns(rm->metrics,
                                 count_running(caches_get(rm->caches, CACHE_TASKRUNS)));
    metrics_set_running_pipelineruns(rm->metrics,
                                     count_running(caches_get(rm->caches, CACHE_PIPELINERUNS)));
}

int runmetrics_new(uv_loop_t *loop, struct caches *caches, struct metrics *m,
                   struct runmetrics **ret_runmetrics)
{
    struct runmetrics *rm = xcalloc(1, sizeof(*rm));
    struct informer_handler taskruns = {NULL, on_taskrun_update, NULL, rm};
    struct informer_handler pipelineruns = {NULL, on_pipelinerun_update, NULL, rm};
    struct informer_handler pods = {NULL, on_pod_update, NULL, rm};

    rm->caches = caches;
    rm->metrics = m;
    uv_timer_init(loop, &rm->timer);
    rm->timer.data = rm;
    uv_timer_start(&rm->timer, on_timer, GAUGE_PERIOD_MS, GAUGE_PERIOD_MS);
    caches_add_handler(caches, CACHE_TASKRUNS, &taskruns);
    caches_add_handler(caches, CACHE_PIPELINERUNS, &pipelineruns);
    caches_add_handler(caches, CACHE_PODS, &pods);
    *ret_runmetrics = rm;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct runmetrics *rm = h->data;

    if (rm->closed_cb)
        rm->closed_cb(rm->closed_ctx);
    free(rm);
}

void runmetrics_close(struct runmetrics *rm, runmetrics_closed_cb *done, void *ctx)
{
    rm->closed_cb = done;
    rm->closed_ctx = ctx;
    uv_close((uv_handle_t *)&rm->timer, on_timer_closed);
}
