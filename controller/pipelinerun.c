/*
 * PipelineRun reconciler. Reads only the shared caches, asks pipelinerun_plan() what the run
 * needs, and writes. Unlike the TaskRun pass it may issue several writes at once, but only
 * of one kind: every ready child starts together (that is Tekton's semantics, and what keeps
 * a wide fan-out fast), and so do the cancellations. The status is written alone, last.
 */
#include "controller/pipelinerun.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/caches.h"
#include "controller/events.h"
#include "controller/metrics.h"
#include "controller/pipelinerun_plan.h"
#include "controller/taskrun_status.h"
#include "lib/informer.h"
#include "lib/kube.h"
#include "lib/log.h"
#include "lib/workqueue.h"
#include "lib/xalloc.h"

#define LOG_MODULE "pipelinerun"

/* How long progress of a child that is not finished may wait to be gathered with more. */
#define CHILD_PROGRESS_DELAY_MS 1000

struct pipelinerun_controller {
    uv_loop_t *loop;
    struct kube_client *kc;
    struct caches *caches;   /* borrowed */
    struct metrics *metrics; /* borrowed; may be NULL */
    struct workqueue *queue;
    struct pipelinerun_controller_stats stats;
    pipelinerun_controller_closed_cb *closed_cb;
    void *closed_ctx;
};

/* One pass with writes in flight; the key stays checked out until the last one ends. */
struct pass {
    struct pipelinerun_controller *c;
    char *key;
    unsigned pending; /* writes not answered yet */
    int rc;           /* the first failure among them */
    bool again;       /* the plan had more to write: run another pass */
};

struct write {
    struct pass *pass;
    int cache; /* the caches_kind the answer refreshes, or CACHE_COUNT */
    const char *what;
    bool exists_ok; /* AlreadyExists is success (deterministic child names) */
    /* a status write's Succeeded condition before and after, for its Event (events.h) */
    json_t *cond_before;
    json_t *cond_after;
};

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return str_at(json_object_get(obj, "metadata"), key);
}

static void enqueue(struct pipelinerun_controller *c, const char *ns, const char *name,
                    uint64_t delay_ms)
{
    char *key;

    if (!name)
        return;
    key = xasprintf("%s/%s", ns ? ns : "", name);
    workqueue_add_after(c->queue, key, delay_ms);
    free(key);
}

/* ---- event handlers ---- */

static bool same_member(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key);
    const json_t *y = json_object_get(b, key);

    return (!x && !y) || (x && y && json_equal(x, y));
}

static void on_run_add(void *ctx, const json_t *obj)
{
    enqueue(ctx, meta_str(obj, "namespace"), meta_str(obj, "name"), 0);
}

static void on_run_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    const json_t *old_meta = json_object_get(old_obj, "metadata");
    const json_t *new_meta = json_object_get(new_obj, "metadata");

    /* our own status writes were planned already: only spec and metadata changes count */
    if (old_obj != new_obj && same_member(old_obj, new_obj, "spec") &&
        same_member(old_meta, new_meta, "labels") && same_member(old_meta, new_meta, "annotations"))
        return;
    on_run_add(ctx, new_obj);
}

/* A child TaskRun changed: its PipelineRun must look, at once if the child finished. */
static void enqueue_parent(struct pipelinerun_controller *c, const json_t *child)
{
    const json_t *refs = json_object_get(json_object_get(child, "metadata"), "ownerReferences");
    const json_t *ref;
    uint64_t delay =
        taskrun_status_is_done(json_object_get(child, "status")) ? 0 : CHILD_PROGRESS_DELAY_MS;
    size_t i;

    json_array_foreach(refs, i, ref) {
        if (json_is_true(json_object_get(ref, "controller")) && str_at(ref, "kind") &&
            strcmp(str_at(ref, "kind"), "PipelineRun") == 0)
            enqueue(c, meta_str(child, "namespace"), str_at(ref, "name"), delay);
    }
}

static void on_child_add(void *ctx, const json_t *obj)
{
    enqueue_parent(ctx, obj);
}

static void on_child_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    enqueue_parent(ctx, new_obj);
}

/* ---- writes ---- */

static void pass_end(struct pass *p)
{
    struct pipelinerun_controller *c = p->c;

    if (p->rc == 0 && p->again)
        workqueue_add(c->queue, p->key);
    workqueue_done(c->queue, p->key, p->rc);
    if (c->metrics) {
        (void)metrics_count_reconcile(c->metrics, "pipelinerun", p->rc == 0);
        (void)metrics_set_workqueue_depth(c->metrics, "pipelinerun", workqueue_len(c->queue));
    }
    free(p->key);
    free(p);
}

static void write_free(struct write *w)
{
    json_decref(w->cond_before);
    json_decref(w->cond_after);
    free(w);
}

static void on_write_done(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct write *w = ctx;
    struct pass *p = w->pass;

    if (rc == 0 && obj && w->cache != CACHE_COUNT)
        informer_apply_event(caches_get(p->c->caches, w->cache), "MODIFIED", obj);
    /* the Event follows the state it reports, and is not waited for (events.h) */
    if (rc == 0 && obj && strcmp(w->what, "update status") == 0 &&
        events_record(p->c->kc, obj, "tekton.dev/v1", "PipelineRun", "PipelineRun", w->cond_before,
                      w->cond_after) > 0)
        p->c->stats.events++;
    if (rc < 0 && rc != -ECANCELED && !(rc == -EEXIST && w->exists_ok)) {
        log_warn("api write failed",
                 json_pack("{s:s, s:s, s:i, s:s*, s:s*}", "key", p->key, "op", w->what, "code",
                           st ? st->http_code : 0, "reason", st ? st->reason : NULL, "error",
                           st && st->message ? st->message : strerror(-rc)));
        if (p->rc == 0)
            p->rc = rc;
    }
    write_free(w);
    if (--p->pending == 0)
        pass_end(p);
}

/* Account for a write started with result 'r' (0: in flight, its callback will run). */
static void started(struct pass *p, struct write *w, int r)
{
    if (r < 0) {
        write_free(w);
        if (p->rc == 0)
            p->rc = r;
        return;
    }
    p->pending++;
    p->c->stats.writes++;
}

static struct write *write_new(struct pass *p, int cache, const char *what, bool exists_ok)
{
    struct write *w = xcalloc(1, sizeof(*w));

    w->pass = p;
    w->cache = cache;
    w->what = what;
    w->exists_ok = exists_ok;
    return w;
}

/* Create each object that the cache of 'cache' does not hold yet. Returns how many started. */
static size_t create_all(struct pass *p, const json_t *objects, const char *prefix,
                         const char *resource, int cache, const char *what)
{
    struct informer *inf = caches_get(p->c->caches, cache);
    const json_t *obj;
    size_t i;
    size_t n = 0;

    json_array_foreach(objects, i, obj) {
        char *path;
        struct write *w;

        if (informer_get(inf, meta_str(obj, "namespace"), meta_str(obj, "name")))
            continue;
        path = kube_path(prefix, meta_str(obj, "namespace"), resource, NULL, NULL);
        w = write_new(p, cache, what, true);
        started(p, w, kube_create(p->c->kc, path, obj, on_write_done, w));
        free(path);
        n++;
    }
    return n;
}

/* Patch spec.status=TaskRunCancelled onto each listed child. Returns how many started. */
static size_t cancel_all(struct pass *p, const char *ns, const json_t *cancels)
{
    const json_t *cancel;
    size_t i;

    json_array_foreach(cancels, i, cancel) {
        char *path = kube_path("/apis/tekton.dev/v1", ns, "taskruns", str_at(cancel, "name"), NULL);
        json_t *patch = json_pack("{s:{s:s, s:s*}}", "spec", "status", "TaskRunCancelled",
                                  "statusMessage", str_at(cancel, "statusMessage"));
        struct write *w = write_new(p, CACHE_TASKRUNS, "cancel taskrun", false);

        started(p, w, kube_patch(p->c->kc, path, KUBE_PATCH_MERGE, patch, on_write_done, w));
        json_decref(patch);
        free(path);
    }
    return json_array_size(cancels);
}

static void write_labels(struct pass *p, const json_t *run, const json_t *labels)
{
    char *path = kube_path("/apis/tekton.dev/v1", meta_str(run, "namespace"), "pipelineruns",
                           meta_str(run, "name"), NULL);
    json_t *patch = json_pack("{s:{s:O}}", "metadata", "labels", labels);
    struct write *w = write_new(p, CACHE_PIPELINERUNS, "patch labels", false);

    started(p, w, kube_patch(p->c->kc, path, KUBE_PATCH_MERGE, patch, on_write_done, w));
    json_decref(patch);
    free(path);
}

static void write_status(struct pass *p, const json_t *run, const json_t *status)
{
    char *path = kube_path("/apis/tekton.dev/v1", meta_str(run, "namespace"), "pipelineruns",
                           meta_str(run, "name"), NULL);
    json_t *body = json_deep_copy(run);
    struct write *w = write_new(p, CACHE_PIPELINERUNS, "update status", false);

    w->cond_before = json_deep_copy(taskrun_status_condition(json_object_get(run, "status")));
    w->cond_after = json_deep_copy(taskrun_status_condition(status));
    json_object_set_new(body, "status", json_deep_copy(status));
    started(p, w, kube_update_status(p->c->kc, path, body, on_write_done, w));
    json_decref(body);
    free(path);
}

/* ---- the pass ---- */

/* The Tasks the plan asked for, from the cache, or Tekton's not-found text. */
static void add_tasks(const struct pipelinerun_controller *c, const char *ns, const json_t *names,
                      json_t *tasks)
{
    const json_t *name;
    size_t i;

    json_array_foreach(names, i, name) {
        const char *n = json_string_value(name);
        const json_t *task = n ? informer_get(caches_get(c->caches, CACHE_TASKS), ns, n) : NULL;

        if (!n)
            continue;
        if (task)
            json_object_set_new(tasks, n, json_deep_copy(task));
        else
            json_object_set_new(tasks, n, json_sprintf("tasks.tekton.dev \"%s\" not found", n));
    }
}

static int plan_run(const struct pipelinerun_controller *c, const json_t *run,
                    struct pipelinerun_plan *plan)
{
    const char *ns = meta_str(run, "namespace");
    const char *uid = meta_str(run, "uid");
    const char *ref = str_at(json_object_get(json_object_get(run, "spec"), "pipelineRef"), "name");
    json_t *tasks = json_object();
    json_t *children =
        uid ? informer_by_owner(caches_get(c->caches, CACHE_TASKRUNS), uid) : json_array();
    char *pipeline_error = NULL;
    struct pipelinerun_plan_input in = {
        .pipelinerun = run,
        .tasks = tasks,
        .taskruns = children,
        .cfg = caches_config(c->caches),
        .now = time(NULL),
    };
    int r;

    if (ref) {
        in.pipeline = informer_get(caches_get(c->caches, CACHE_PIPELINES), ns, ref);
        if (!in.pipeline)
            in.pipeline_error = pipeline_error =
                xasprintf("pipelines.tekton.dev \"%s\" not found", ref);
    }
    r = pipelinerun_plan(&in, plan);
    /* the Tasks are only known once the spec is: look them up and plan once more */
    if (r == 0 && json_array_size(plan->missing_tasks) > 0) {
        add_tasks(c, ns, plan->missing_tasks, tasks);
        pipelinerun_plan_done(plan);
        memset(plan, 0, sizeof(*plan));
        r = pipelinerun_plan(&in, plan);
    }
    free(pipeline_error);
    json_decref(children);
    json_decref(tasks);
    return r;
}

static bool labels_differ(const json_t *run, const json_t *labels)
{
    const json_t *current = json_object_get(json_object_get(run, "metadata"), "labels");

    if (!labels || json_object_size(labels) == 0)
        return false;
    return !current || !json_equal(current, labels);
}

/* Start the writes the plan asks for, all of the most urgent kind at once. */
static void carry_out(struct pass *p, const json_t *run, const struct pipelinerun_plan *plan)
{
    bool status_changed = taskrun_status_changed(json_object_get(run, "status"), plan->status);
    bool labels_changed = labels_differ(run, plan->labels);

    /* the plan lists every PVC the run needs: only missing ones are created, before children */
    if (create_all(p, plan->create_pvcs, "/api/v1", "persistentvolumeclaims", CACHE_PVCS,
                   "create pvc") > 0) {
        p->again = true;
    } else if (create_all(p, plan->create_taskruns, "/apis/tekton.dev/v1", "taskruns",
                          CACHE_TASKRUNS, "create taskrun") +
                   cancel_all(p, meta_str(run, "namespace"), plan->cancel_taskruns) >
               0) {
        p->again = status_changed || labels_changed;
    } else if (labels_changed) {
        write_labels(p, run, plan->labels);
        p->again = status_changed;
    } else if (status_changed) {
        write_status(p, run, plan->status);
    }
}

static void process_key(void *ctx, struct workqueue *q, const char *key)
{
    struct pipelinerun_controller *c = ctx;
    struct pipelinerun_plan plan = {0};
    const json_t *run;
    struct pass *p;
    int r;

    c->stats.reconciles++;
    if (!caches_synced(c->caches)) {
        workqueue_done(q, key, 0);
        workqueue_add_after(q, key, 200);
        return;
    }
    run = informer_get_key(caches_get(c->caches, CACHE_PIPELINERUNS), key);
    if (!run || taskrun_status_is_done(json_object_get(run, "status")) ||
        !workqueue_write_allowed(q, key)) {
        workqueue_done(q, key, 0);
        return;
    }
    r = plan_run(c, run, &plan);
    if (r < 0) {
        log_warn("cannot plan pipelinerun",
                 json_pack("{s:s, s:s}", "key", key, "error", strerror(-r)));
        workqueue_done(q, key, 0);
        return;
    }
    if (plan.requeue_after_ns > 0)
        workqueue_add_after(q, key, (uint64_t)(plan.requeue_after_ns / 1000000) + 1);
    p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->key = xstrdup(key);
    p->pending = 1; /* held by this function until every write is started */
    carry_out(p, run, &plan);
    pipelinerun_plan_done(&plan);
    if (--p->pending == 0)
        pass_end(p);
}

/* ---- lifecycle ---- */

int pipelinerun_controller_new(uv_loop_t *loop, struct kube_client *kc, struct caches *caches,
                               const struct pipelinerun_controller_options *opts,
                               struct pipelinerun_controller **ret_controller)
{
    struct pipelinerun_controller *c = xcalloc(1, sizeof(*c));
    struct informer_handler runs = {on_run_add, on_run_update, NULL, c};
    struct informer_handler children = {on_child_add, on_child_update, on_child_add, c};
    struct workqueue_options q = {
        .max_active = opts->workers ? opts->workers : 4,
        .write_qps = opts->write_qps > 0 ? opts->write_qps : 50,
        .write_burst = 100,
    };
    int r;

    c->loop = loop;
    c->kc = kc;
    c->caches = caches;
    c->metrics = opts->metrics;
    r = workqueue_new(loop, &q, process_key, c, &c->queue);
    if (r < 0) {
        free(c);
        return r;
    }
    caches_add_handler(caches, CACHE_PIPELINERUNS, &runs);
    caches_add_handler(caches, CACHE_TASKRUNS, &children);
    *ret_controller = c;
    return 0;
}

void pipelinerun_controller_stats(const struct pipelinerun_controller *c,
                                  struct pipelinerun_controller_stats *ret_stats)
{
    *ret_stats = c->stats;
}

static void on_queue_closed(void *ctx)
{
    struct pipelinerun_controller *c = ctx;

    if (c->closed_cb)
        c->closed_cb(c->closed_ctx);
    free(c);
}

void pipelinerun_controller_close(struct pipelinerun_controller *c,
                                  pipelinerun_controller_closed_cb *done, void *ctx)
{
    log_info("pipelinerun controller stopping",
             json_pack("{s:I, s:I}", "reconciles", (json_int_t)c->stats.reconciles, "writes",
                       (json_int_t)c->stats.writes));
    c->closed_cb = done;
    c->closed_ctx = ctx;
    workqueue_close(c->queue, on_queue_closed, c);
}
