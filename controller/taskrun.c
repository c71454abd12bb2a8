/*
 * TaskRun reconciler: reads only informer caches, asks the pure planners what the TaskRun's
 * Pod and status should be, and issues at most one write per pass (architecture.md). The
 * write's answer is fed straight into the cache, so the next pass never plans from a state
 * older than our own write. Registry lookups and credentials are left to later work.
 */
#include "controller/taskrun.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/caches.h"
#include "controller/childname.h"
#include "controller/events.h"
#include "controller/metrics.h"
#include "controller/podspec.h"
#include "controller/resources.h"
#include "controller/sidecarstop.h"
#include "controller/taskrun_resolve.h"
#include "controller/taskrun_status.h"
#include "controller/tekton_config.h"
#include "lib/dockerauth.h"
#include "lib/informer.h"
#include "lib/kube.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/workqueue.h"
#include "lib/xalloc.h"

#define LOG_MODULE "taskrun"

struct taskrun_controller {
    uv_loop_t *loop;
    struct kube_client *kc;
    struct caches *caches; /* borrowed */
    char *entrypoint_image;
    char *nop_image; /* replaces running sidecars once the steps are done (§3.10) */
    char *release;
    struct registry *registry; /* borrowed; may be NULL */
    char *platform;
    struct metrics *metrics; /* borrowed; may be NULL */
    struct workqueue *queue;
    struct taskrun_controller_stats stats;
    /* key -> bit mask of enum taskrun_cause, for the keys queued since their last pass */
    json_t *causes;
    /* our own write's answer is being applied to a cache: its events queue nothing (the pass
     * that wrote decides whether another one follows: struct pass's 'again') */
    bool applying_own_write;
    taskrun_controller_closed_cb *closed_cb;
    void *closed_ctx;
};

/* One pass whose write is in flight: the key stays checked out of the queue until it ends. */
struct pass {
    struct taskrun_controller *c;
    char *key;
    int written;      /* the caches_kind whose cache the answer refreshes, or CACHE_COUNT */
    const char *what; /* for the log: "create pod", "update status", ... */
    json_t *taskrun;  /* for PodCreationFailed: the run whose create failed */
    /* creating a Pod takes reads first: the ServiceAccount, then each Secret it names */
    json_t *pod_taskrun;  /* the TaskRun as the Pod builder wants it */
    json_t *pod_taskspec; /* the resolved TaskSpec */
    json_t *secret_names; /* the ServiceAccount's secrets[].name, in order */
    json_t *secrets;      /* the ones that exist, for creds-init */
    size_t next_secret;
    json_t *pull_secret_names; /* podTemplate's then the ServiceAccount's imagePullSecrets */
    json_t *pull_secrets;      /* the ones that exist, for registry credentials */
    size_t next_pull_secret;
    bool fetching_pull_secret; /* the Secret being read is an image pull one */
    unsigned lookups;          /* image lookups in flight */
    char *lookup_error;        /* the first failed lookup's message */
    bool looked_up;            /* this pass has done its round of image lookups */
    /* podspec's image_configs, filled by this pass's lookups (the registry caches by digest
     * and re-checks tags after a short TTL) */
    json_t *image_configs;
    json_t *limit_ranges; /* the namespace's LimitRange objects, from the cache before building */
    /* a status write's Succeeded condition before and after, for its Event (events.h) */
    json_t *cond_before;
    json_t *cond_after;
    bool again; /* the plan had more to write: run another pass after this one */
    bool wrote; /* a write (or a Pod create's reads) was started: the outcome for the stats */
};

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return str_at(json_object_get(obj, "metadata"), key);
}

static char *object_path(const char *prefix, const char *resource, const json_t *obj)
{
    return kube_path(prefix, meta_str(obj, "namespace"), resource, meta_str(obj, "name"), NULL);
}

const char *taskrun_cause_name(enum taskrun_cause cause)
{
    static const char *const names[TASKRUN_CAUSE_COUNT] = {
        [TASKRUN_CAUSE_TASKRUN] = "taskrun", [TASKRUN_CAUSE_POD] = "pod",
        [TASKRUN_CAUSE_CHILD] = "pvc",       [TASKRUN_CAUSE_AGAIN] = "again",
        [TASKRUN_CAUSE_DELAYED] = "delayed", [TASKRUN_CAUSE_BUCKET] = "bucket",
        [TASKRUN_CAUSE_RETRY] = "retry",     [TASKRUN_CAUSE_RESYNC] = "resync",
    };

    return (unsigned)cause < TASKRUN_CAUSE_COUNT ? names[cause] : "unknown";
}

const char *taskrun_outcome_name(enum taskrun_outcome outcome)
{
    static const char *const names[TASKRUN_OUTCOME_COUNT] = {
        [TASKRUN_OUTCOME_WROTE] = "wrote",   [TASKRUN_OUTCOME_NOTHING] = "nothing",
        [TASKRUN_OUTCOME_DONE] = "done",     [TASKRUN_OUTCOME_BUCKET] = "bucket",
        [TASKRUN_OUTCOME_FAILED] = "failed", [TASKRUN_OUTCOME_OTHER] = "other",
    };

    return (unsigned)outcome < TASKRUN_OUTCOME_COUNT ? names[outcome] : "unknown";
}

static void count_outcome(struct taskrun_controller *c, enum taskrun_outcome outcome)
{
    c->stats.passes_by_outcome[outcome]++;
    if (c->metrics)
        (void)metrics_count_pass(c->metrics, "taskrun", NULL, taskrun_outcome_name(outcome));
}

/* Remember that 'key' is queued because of 'cause' (counted when its pass runs). */
static void note_cause(struct taskrun_controller *c, const char *key, enum taskrun_cause cause)
{
    json_int_t mask = json_integer_value(json_object_get(c->causes, key));

    json_object_set_new(c->causes, key, json_integer(mask | ((json_int_t)1 << cause)));
}

/* Queue 'key' after 'delay_ms' for 'cause'. */
static void add_key(struct taskrun_controller *c, const char *key, uint64_t delay_ms,
                    enum taskrun_cause cause)
{
    note_cause(c, key, cause);
    workqueue_add_after(c->queue, key, delay_ms);
}

static void enqueue_key(struct taskrun_controller *c, const char *ns, const char *name,
                        uint64_t delay_ms, enum taskrun_cause cause)
{
    char *key;

    if (!name || !c->queue)
        return;
    if (c->applying_own_write) {
        c->stats.own_write_events++;
        return;
    }
    key = xasprintf("%s/%s", ns ? ns : "", name);
    add_key(c, key, delay_ms, cause);
    free(key);
}

/* ---- event handlers: every event becomes a key in the queue ---- */

static void on_taskrun_add(void *ctx, const json_t *obj)
{
    enqueue_key(ctx, meta_str(obj, "namespace"), meta_str(obj, "name"), 0, TASKRUN_CAUSE_TASKRUN);
}

static bool same_member(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key);
    const json_t *y = json_object_get(b, key);

    return (!x && !y) || (x && y && json_equal(x, y));
}

static void on_taskrun_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    const json_t *old_meta = json_object_get(old_obj, "metadata");
    const json_t *new_meta = json_object_get(new_obj, "metadata");

    /*
     * Only we write a TaskRun's status, and a pass already planned from what it wrote: a
     * status-only change needs no further pass (a resync delivers obj == obj and does).
     */
    if (old_obj != new_obj && same_member(old_obj, new_obj, "spec") &&
        same_member(old_meta, new_meta, "labels") &&
        same_member(old_meta, new_meta, "annotations") &&
        same_member(old_meta, new_meta, "deletionTimestamp"))
        return;
    enqueue_key(ctx, meta_str(new_obj, "namespace"), meta_str(new_obj, "name"), 0,
                old_obj == new_obj ? TASKRUN_CAUSE_RESYNC : TASKRUN_CAUSE_TASKRUN);
}

/* Pods and PVCs enqueue the TaskRun that controls them, after 'delay_ms'. */
static void enqueue_owner(struct taskrun_controller *c, const json_t *obj, uint64_t delay_ms)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    const json_t *ref;
    size_t i;

    json_array_foreach(refs, i, ref) {
        if (json_is_true(json_object_get(ref, "controller")) &&
            strcmp(str_at(ref, "kind") ? str_at(ref, "kind") : "", "TaskRun") == 0)
            enqueue_key(c, meta_str(obj, "namespace"), str_at(ref, "name"), delay_ms,
                        TASKRUN_CAUSE_CHILD);
    }
}

static void on_child_add(void *ctx, const json_t *obj)
{
    enqueue_owner(ctx, obj, 0);
}

static void on_child_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    enqueue_owner(ctx, new_obj, 0);
}

/*
 * How soon a Pod change must reach its TaskRun. Most Pod updates only move step states along
 * (waiting, running), and the kubelet sends several in a row: gathering them for a moment
 * saves status writes and passes. A Pending Pod's progress (scheduled, init containers, image
 * pulls) is gathered for longer: nothing waits on it, and the status already says Pending.
 * A finished Pod or one whose steps have all terminated (the run's outcome; the phase follows
 * later) and a running Pod that still waits for its ready
 * annotation (step 0 is blocked on it) go at once; the earliest deadline wins, so a later
 * urgent event is never held back by an earlier delayed one.
 */
#define POD_PROGRESS_DELAY_MS 500
#define POD_PENDING_DELAY_MS  3000
/*
 * A Pending Pod on its ordinary way (scheduling, creating containers, init containers)
 * changes only the Pending message; those changes are gathered for longer still, and the
 * Pod's start (delay 0) usually comes first and takes them along.
 */
#define POD_ROUTINE_PENDING_DELAY_MS 10000
/*
 * How long the first status write (podName, startTime, Pending) waits after the Pod's
 * create for the Pod to start: a Pod that starts by then makes that write say Running. Pods
 * start in 2-4 s on an idle node.
 */
#define POD_START_GRACE_MS 5000

static uint64_t pod_event_delay_ms(const json_t *pod)
{
    const json_t *status = json_object_get(pod, "status");
    const char *phase = str_at(status, "phase") ? str_at(status, "phase") : "";
    const json_t *annotations = json_object_get(json_object_get(pod, "metadata"), "annotations");

    /* the kubelet reports the last step terminated before the phase moves on: done already */
    if (taskrun_status_pod_complete(pod))
        return 0;
    if (strcmp(phase, "Running") == 0 && !json_object_get(annotations, "tekton.dev/ready"))
        return 0;
    if (taskrun_status_pod_pending_routine(pod))
        return POD_ROUTINE_PENDING_DELAY_MS;
    if (strcmp(phase, "Running") != 0)
        return POD_PENDING_DELAY_MS;
    return POD_PROGRESS_DELAY_MS;
}

/*
 * Whether an event of 'pod' (NULL for a deletion) can change anything for its TaskRun. A run
 * that is not done, or not in the cache yet, always looks; a done run only while its sidecars
 * still need stopping (§3.10). This keeps finished runs' Pod churn (containers ending, the
 * Pod going Succeeded, its deletion) from costing passes.
 */
static bool pod_event_matters(const struct taskrun_controller *c, const char *ns, const char *owner,
                              const json_t *pod)
{
    const json_t *tr = informer_get(caches_get(c->caches, CACHE_TASKRUNS), ns, owner);
    struct sidecarstop_plan stop;
    bool matters;

    if (!tr || !taskrun_status_is_done(json_object_get(tr, "status")))
        return true;
    sidecarstop_plan(json_object_get(tr, "status"), pod, c->nop_image, &stop);
    matters = stop.patch || stop.sidecars;
    sidecarstop_plan_done(&stop);
    return matters;
}

static void enqueue_pod_owner(struct taskrun_controller *c, const json_t *pod, bool deleted,
                              uint64_t delay_ms, enum taskrun_cause cause)
{
    const json_t *refs = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
    const json_t *ref;
    size_t i;

    json_array_foreach(refs, i, ref) {
        if (json_is_true(json_object_get(ref, "controller")) &&
            strcmp(str_at(ref, "kind") ? str_at(ref, "kind") : "", "TaskRun") == 0 &&
            str_at(ref, "name") &&
            pod_event_matters(c, meta_str(pod, "namespace"), str_at(ref, "name"),
                              deleted ? NULL : pod))
            enqueue_key(c, meta_str(pod, "namespace"), str_at(ref, "name"), delay_ms, cause);
    }
}

/*
 * A Pod added is, as a rule, the watch's echo of our own create arriving before the create's
 * answer (which then queues nothing): it waits like any change of its state would, so the
 * create's pass is not followed at once by one that writes a Pending status. After a restart
 * the TaskRun's own add queues its pass at once.
 */
static void on_pod_add(void *ctx, const json_t *obj)
{
    enqueue_pod_owner(ctx, obj, false, pod_event_delay_ms(obj), TASKRUN_CAUSE_POD);
}

static void on_pod_delete(void *ctx, const json_t *obj)
{
    enqueue_pod_owner(ctx, obj, true, 0, TASKRUN_CAUSE_POD);
}

static void on_pod_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    struct taskrun_controller *c = ctx;

    /* a resync delivers old == new and always looks */
    if (old_obj != new_obj && taskrun_status_pod_inputs_equal(old_obj, new_obj)) {
        c->stats.pod_updates_ignored++;
        return;
    }
    enqueue_pod_owner(c, new_obj, false, pod_event_delay_ms(new_obj),
                      old_obj == new_obj ? TASKRUN_CAUSE_RESYNC : TASKRUN_CAUSE_POD);
}

/* ---- the pass ---- */

static struct podspec_options pod_options(const struct taskrun_controller *c)
{
    const struct tekton_config *cfg = caches_config(c->caches);
    struct podspec_options o = {
        .entrypoint_image = c->entrypoint_image,
        .release = c->release,
        .managed_by = cfg->default_managed_by_label_value,
        .default_timeout_minutes = cfg->default_timeout_minutes,
        .await_sidecar_readiness = cfg->await_sidecar_readiness,
        .running_in_environment_with_injected_sidecars =
            cfg->running_in_environment_with_injected_sidecars,
        .disable_creds_init = cfg->disable_creds_init,
        .keep_pod_on_cancel = cfg->keep_pod_on_cancel,
        .set_security_context = cfg->set_security_context,
        .set_security_context_read_only_root_filesystem =
            cfg->set_security_context_read_only_root_filesystem,
        .require_git_ssh_secret_known_hosts = cfg->require_git_ssh_secret_known_hosts,
        .default_pod_template = cfg->default_pod_template,
        .forbidden_env = cfg->default_forbidden_env,
    };

    return o;
}

/* The TaskRun as the Pod builder wants it: labels, annotations and bindings resolved. */
static json_t *taskrun_for_pod(const json_t *taskrun, const struct taskrun_resolved *res)
{
    json_t *tr = json_deep_copy(taskrun);
    json_t *meta = json_object_get(tr, "metadata");
    json_t *spec = json_object_get(tr, "spec");

    json_object_set(meta, "labels", res->labels);
    json_object_set(meta, "annotations", res->annotations);
    json_object_set(spec, "workspaces", res->workspaces);
    json_object_set(spec, "podTemplate", res->pod_template);
    return tr;
}

static void pass_free(struct pass *p)
{
    json_decref(p->taskrun);
    json_decref(p->pod_taskrun);
    json_decref(p->pod_taskspec);
    json_decref(p->secret_names);
    json_decref(p->secrets);
    json_decref(p->pull_secret_names);
    json_decref(p->pull_secrets);
    free(p->lookup_error);
    json_decref(p->image_configs);
    json_decref(p->limit_ranges);
    json_decref(p->cond_before);
    json_decref(p->cond_after);
    free(p->key);
    free(p);
}

static void pass_end(struct pass *p, int rc)
{
    enum taskrun_outcome outcome = rc < 0     ? TASKRUN_OUTCOME_FAILED
                                   : p->wrote ? TASKRUN_OUTCOME_WROTE
                                              : TASKRUN_OUTCOME_NOTHING;

    count_outcome(p->c, outcome);
    if (rc == 0 && p->again)
        add_key(p->c, p->key, 0, TASKRUN_CAUSE_AGAIN); /* runs again once this pass is done */
    if (rc < 0)
        note_cause(p->c, p->key, TASKRUN_CAUSE_RETRY); /* workqueue_done re-queues it */
    workqueue_done(p->c->queue, p->key, rc);
    if (p->c->metrics) {
        (void)metrics_count_reconcile(p->c->metrics, "taskrun", rc == 0);
        (void)metrics_set_workqueue_depth(p->c->metrics, "taskrun", workqueue_len(p->c->queue));
    }
    pass_free(p);
}

static int write_status(struct pass *p, const json_t *taskrun, const json_t *status);

/*
 * The Pod of p->taskrun cannot be created ('why' says why): fail the run with Tekton's
 * PodCreationFailed and its message; the status write ends the pass.
 */
static void fail_pod_creation(struct pass *p, const char *why)
{
    const json_t *ref = json_object_get(json_object_get(p->taskrun, "spec"), "taskRef");
    char *task = ref ? xasprintf("Task %s/%s", meta_str(p->taskrun, "namespace"),
                                 str_at(ref, "name") ? str_at(ref, "name") : "")
                     : xstrdup("TaskSpec");
    char *msg = xasprintf("failed to create task run pod \"%s\": %s. Maybe invalid %s",
                          meta_str(p->taskrun, "name"), why, task);
    struct taskrun_status_input in = {.taskrun = p->taskrun,
                                      .now = time(NULL),
                                      .fail_reason = "PodCreationFailed",
                                      .fail_message = msg};
    struct taskrun_status_options so = {.default_timeout_minutes =
                                            caches_config(p->c->caches)->default_timeout_minutes};
    struct taskrun_status_plan plan = {0};
    json_t *tr = p->taskrun;
    int r = taskrun_status_plan(&in, &so, &plan);

    free(msg);
    free(task);
    p->taskrun = NULL; /* no second PodCreationFailed from this pass */
    if (r == 0)
        r = write_status(p, tr, plan.status);
    taskrun_status_plan_done(&plan);
    json_decref(tr);
    if (r < 0)
        pass_end(p, r);
}

/* The nop-image patch of p->taskrun's Pod was refused ('why'): record TaskRunStopSidecarFailed. */
static void fail_stop_sidecars(struct pass *p, const char *why)
{
    const char *pod = str_at(json_object_get(p->taskrun, "status"), "podName");
    char *msg = xasprintf("error stopping sidecars of TaskRun \"%s\": %s", pod ? pod : "", why);
    json_t *status =
        sidecarstop_failed_status(json_object_get(p->taskrun, "status"), msg, time(NULL));
    json_t *tr = p->taskrun;
    int r;

    free(msg);
    p->taskrun = NULL;
    r = write_status(p, tr, status);
    json_decref(status);
    json_decref(tr);
    if (r < 0)
        pass_end(p, r);
}

static void on_write_done(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct pass *p = ctx;

    if (rc == 0 && obj) {
        if (p->written != CACHE_COUNT) {
            p->c->applying_own_write = true;
            informer_apply_event(caches_get(p->c->caches, p->written), "MODIFIED", obj);
            p->c->applying_own_write = false;
        }
        /* the Event follows the state it reports, and is not waited for (events.h) */
        /* the first status may already say Running: Started comes first (events.h) */
        if (strcmp(p->what, "update status") == 0) {
            int n = events_record_all(p->c->kc, obj, "tekton.dev/v1", "TaskRun", "TaskRun",
                                      p->cond_before, p->cond_after);

            if (n > 0)
                p->c->stats.events += (uint64_t)n;
        }
        pass_end(p, 0);
        return;
    }
    if (rc == -ECANCELED) {
        pass_end(p, 0);
        return;
    }
    /* already there (a previous pass created it) or already gone: the watch will tell us */
    if ((rc == -EEXIST && strcmp(p->what, "delete pod") != 0) ||
        (rc == -ENOENT && strcmp(p->what, "delete pod") == 0) ||
        (rc == -ENOENT && strcmp(p->what, "stop sidecars") == 0)) {
        pass_end(p, 0);
        return;
    }
    log_warn("api write failed",
             json_pack("{s:s, s:s, s:i, s:s*, s:s*}", "key", p->key, "op", p->what, "code",
                       st ? st->http_code : 0, "reason", st ? st->reason : NULL, "error",
                       st ? st->message : strerror(-rc)));
    /* a nop-image patch refused for good overwrites the outcome, as Tekton does (§3.10) */
    if (p->taskrun && strcmp(p->what, "stop sidecars") == 0 && (rc == -EINVAL || rc == -EACCES)) {
        fail_stop_sidecars(p, st && st->message ? st->message : strerror(-rc));
        return;
    }
    /* a Pod the API server refuses for good fails the run (Tekton's PodCreationFailed) */
    if (p->taskrun && (rc == -EINVAL || rc == -EACCES)) {
        fail_pod_creation(p, st && st->message ? st->message : strerror(-rc));
        return;
    }
    pass_end(p, rc);
}

/* Start one write for pass 'p'; on success the pass ends in on_write_done. */
static int start_write(struct pass *p, int r)
{
    if (r < 0)
        return r;
    p->c->stats.writes++;
    p->wrote = true;
    if (log_enabled(LOG_DEBUG))
        log_debug("api write", json_pack("{s:s, s:s}", "key", p->key, "op", p->what));
    return 0;
}

static int write_status(struct pass *p, const json_t *taskrun, const json_t *status)
{
    json_t *body = json_deep_copy(taskrun);
    char *path = object_path("/apis/tekton.dev/v1", "taskruns", taskrun);
    int r;

    json_object_set_new(body, "status", json_deep_copy(status));
    p->written = CACHE_TASKRUNS;
    p->what = "update status";
    json_decref(p->cond_before);
    json_decref(p->cond_after);
    p->cond_before = json_deep_copy(taskrun_status_condition(json_object_get(taskrun, "status")));
    p->cond_after = json_deep_copy(taskrun_status_condition(status));
    if (log_enabled(LOG_DEBUG))
        log_debug("status to write",
                  json_pack("{s:s, s:O*, s:O*}", "key", p->key, "condition", p->cond_after, "steps",
                            json_object_get(status, "steps")));
    r = start_write(p, kube_update_status(p->c->kc, path, body, on_write_done, p));
    json_decref(body);
    free(path);
    return r;
}

static int create_object(struct pass *p, const char *prefix, const char *resource, int kind,
                         const json_t *obj, const char *what)
{
    char *path = kube_path(prefix, meta_str(obj, "namespace"), resource, NULL, NULL);
    int r;

    p->written = kind;
    p->what = what;
    r = start_write(p, kube_create(p->c->kc, path, obj, on_write_done, p));
    free(path);
    return r;
}

/* The PVCs from volumeClaimTemplate bindings come before the Pod; one per pass. */
static int create_missing_pvc(struct pass *p, const json_t *tr_for_pod, bool *ret_created)
{
    json_t *pvcs = NULL;
    json_t *pvc;
    char *err = NULL;
    size_t i;
    int r;

    *ret_created = false;
    r = podspec_build_pvcs(tr_for_pod, &pvcs, &err);
    if (r < 0) {
        log_warn("cannot plan workspace pvcs",
                 json_pack("{s:s, s:s}", "key", p->key, "error", err));
        free(err);
        return r;
    }
    json_array_foreach(pvcs, i, pvc) {
        if (informer_get(caches_get(p->c->caches, CACHE_PVCS), meta_str(pvc, "namespace"),
                         meta_str(pvc, "name")))
            continue;
        r = create_object(p, "/api/v1", "persistentvolumeclaims", CACHE_PVCS, pvc, "create pvc");
        *ret_created = r == 0;
        break;
    }
    json_decref(pvcs);
    return r;
}

static void build_and_create_pod(struct pass *p);

static void on_image_config(void *ctx, int rc, const json_t *result, const char *error)
{
    struct lookup_ctx {
        struct pass *p;
        char *image;
    } *l = ctx;
    struct pass *p = l->p;

    if (rc == 0)
        json_object_set_new(p->image_configs, l->image, json_deep_copy(result));
    else if (!p->lookup_error && rc != -ECANCELED)
        p->lookup_error = xstrdup(error ? error : strerror(-rc));
    free(l->image);
    free(l);
    if (--p->lookups > 0)
        return;
    if (rc == -ECANCELED) {
        pass_end(p, 0);
        return;
    }
    if (p->lookup_error) {
        /* Tekton fails the run when it cannot read an image's config (§5.3.4) */
        char *why = xstrdup(p->lookup_error);

        fail_pod_creation(p, why);
        free(why);
        return;
    }
    build_and_create_pod(p);
}

/* The credentials Tekton's keychain would use: the pull Secrets read before. */
static struct dockerauth *pull_credentials(const struct pass *p)
{
    struct dockerauth *auth = dockerauth_new();
    const json_t *secret;
    size_t i;

    json_array_foreach(p->pull_secrets, i, secret) {
        char *err = NULL;

        if (dockerauth_add_secret(auth, secret, &err) < 0) {
            log_warn("unusable image pull secret, ignoring",
                     json_pack("{s:s, s:s}", "key", p->key, "error", err));
            free(err);
        }
    }
    return auth;
}

/* Look up every image in 'images' at once; the last answer builds the Pod again. */
static int look_up_images(struct pass *p, const json_t *images)
{
    struct dockerauth *auth = pull_credentials(p);
    const json_t *image;
    size_t i;
    int r = 0;

    p->looked_up = true;
    p->lookups = 1; /* held until every lookup is started */
    json_array_foreach(images, i, image) {
        struct lookup_ctx {
            struct pass *p;
            char *image;
        } *l = xcalloc(1, sizeof(*l));

        l->p = p;
        l->image = xstrdup(json_string_value(image) ? json_string_value(image) : "");
        r = registry_lookup(p->c->registry, l->image, auth, on_image_config, l);
        if (r < 0) {
            free(l->image);
            free(l);
            break;
        }
        p->lookups++;
    }
    dockerauth_free(auth);
    if (--p->lookups == 0)
        return r < 0 ? r : 0;
    return 0; /* the last answer ends the pass (a failed start shows as no lookup) */
}

static void build_and_create_pod(struct pass *p)
{
    struct podspec_options opts = pod_options(p->c);
    struct podspec_error perr = {0};
    json_t *pod = NULL;
    int r;

    opts.credential_secrets = p->secrets;
    opts.image_configs = p->image_configs;
    opts.limit_ranges = p->limit_ranges;
    r = podspec_build(p->pod_taskrun, p->pod_taskspec, &opts, &pod, &perr);
    /*
     * One round of lookups per pass: an image still missing after it (its index has no entry
     * for the nodes' platform, or a lookup could not start) fails below instead of looping.
     */
    if (r == -ENOENT && perr.missing_images && p->c->registry && !p->looked_up) {
        r = look_up_images(p, perr.missing_images);
        podspec_error_done(&perr);
        if (r < 0)
            pass_end(p, r);
        return;
    }
    if (r < 0) {
        fail_pod_creation(p, perr.message ? perr.message : strerror(-r));
        podspec_error_done(&perr);
        return;
    }
    r = create_object(p, "/api/v1", "pods", CACHE_PODS, pod, "create pod");
    json_decref(pod);
    if (r < 0)
        pass_end(p, r);
}

static void fetch_next_secret(struct pass *p);

/*
 * Take the namespace's LimitRanges from the informer cache, as Tekton does, then build the Pod.
 * The array references the cached objects (no copies) until the pass ends; the build only reads.
 */
static void read_limit_ranges(struct pass *p)
{
    json_t *all = informer_list(caches_get(p->c->caches, CACHE_LIMITRANGES));

    p->limit_ranges = resources_limitranges_in(all, meta_str(p->pod_taskrun, "namespace"));
    json_decref(all);
    build_and_create_pod(p);
}

static void on_secret(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct pass *p = ctx;

    /* a Secret the ServiceAccount names but that does not exist is left out, as Tekton does */
    if (rc < 0 && rc != -ENOENT) {
        pass_end(p, rc);
        return;
    }
    if (rc == 0)
        json_array_append_new(p->fetching_pull_secret ? p->pull_secrets : p->secrets,
                              json_deep_copy(obj));
    fetch_next_secret(p);
}

/* Read the next Secret: creds-init's first, then the image pull ones; then build the Pod. */
static void fetch_next_secret(struct pass *p)
{
    const char *name = json_string_value(json_array_get(p->secret_names, p->next_secret));
    char *path;
    int r;

    p->fetching_pull_secret = !name;
    if (name)
        p->next_secret++;
    else
        name = json_string_value(json_array_get(p->pull_secret_names, p->next_pull_secret++));
    if (!name) {
        read_limit_ranges(p);
        return;
    }
    path = kube_path("/api/v1", meta_str(p->pod_taskrun, "namespace"), "secrets", name, NULL);
    r = kube_get(p->c->kc, path, on_secret, p);
    free(path);
    if (r < 0)
        pass_end(p, r);
}

/* Append the names of a list of {name: ...} references to 'names'. */
static void append_ref_names(json_t *names, const json_t *refs)
{
    const json_t *ref;
    size_t i;

    json_array_foreach(refs, i, ref) {
        if (str_at(ref, "name"))
            json_array_append_new(names, json_string(str_at(ref, "name")));
    }
}

static void on_service_account(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct pass *p = ctx;

    if (rc == -ENOENT) {
        char *why =
            xasprintf("serviceaccounts \"%s\" not found",
                      str_at(json_object_get(p->pod_taskrun, "spec"), "serviceAccountName"));

        fail_pod_creation(p, why);
        free(why);
        return;
    }
    if (rc < 0) {
        pass_end(p, rc);
        return;
    }
    append_ref_names(p->secret_names, json_object_get(obj, "secrets"));
    /* registry credentials: the pod template's pull Secrets first, then the ServiceAccount's */
    append_ref_names(
        p->pull_secret_names,
        json_object_get(json_object_get(json_object_get(p->pod_taskrun, "spec"), "podTemplate"),
                        "imagePullSecrets"));
    append_ref_names(p->pull_secret_names, json_object_get(obj, "imagePullSecrets"));
    fetch_next_secret(p);
}

/*
 * Create the Pod: read the ServiceAccount and its Secrets (creds-init needs them, and a
 * missing ServiceAccount fails the run as the API server would), build, create. Returns 0
 * with the pass in flight, or < 0 with nothing started.
 */
static int create_pod(struct pass *p, json_t *tr_for_pod, const json_t *cached,
                      const struct taskrun_resolved *res)
{
    const json_t *spec = json_object_get(tr_for_pod, "spec");
    const char *sa = str_at(spec, "serviceAccountName");
    bool pvc_created;
    char *path;
    int r;

    r = create_missing_pvc(p, tr_for_pod, &pvc_created);
    if (r < 0 || pvc_created) {
        p->again = pvc_created; /* the next PVC or the Pod; our own write queues nothing */
        return r;
    }
    p->taskrun = json_deep_copy(cached);
    p->pod_taskrun = json_incref(tr_for_pod);
    p->pod_taskspec = json_incref(res->spec);
    p->secret_names = json_array();
    p->secrets = json_array();
    p->pull_secret_names = json_array();
    p->pull_secrets = json_array();
    p->image_configs = json_object();
    path = kube_path("/api/v1", meta_str(tr_for_pod, "namespace"), "serviceaccounts",
                     sa && *sa ? sa : "default", NULL);
    r = kube_get(p->c->kc, path, on_service_account, p);
    free(path);
    p->wrote = r == 0; /* the create follows the reads */
    return r;
}

static int delete_pod(struct pass *p, const json_t *pod)
{
    char *path = object_path("/api/v1", "pods", pod);
    int r;

    p->written = CACHE_COUNT; /* the watch's delete event updates the cache */
    p->what = "delete pod";
    r = start_write(p, kube_delete(p->c->kc, path, KUBE_PROPAGATION_BACKGROUND, on_write_done, p));
    free(path);
    return r;
}

static int mark_pod_ready(struct pass *p, const json_t *pod)
{
    json_t *patch =
        json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "tekton.dev/ready", "READY");
    char *path = object_path("/api/v1", "pods", pod);
    int r;

    p->written = CACHE_PODS;
    p->what = "patch pod ready";
    r = start_write(p, kube_patch(p->c->kc, path, KUBE_PATCH_MERGE, patch, on_write_done, p));
    json_decref(patch);
    free(path);
    return r;
}

/* Replace running sidecars' images with the nop image (a JSON patch from sidecarstop). */
static int stop_sidecars(struct pass *p, const json_t *taskrun, const json_t *pod,
                         const json_t *patch)
{
    char *path = object_path("/api/v1", "pods", pod);
    int r;

    p->taskrun = json_deep_copy(taskrun); /* for TaskRunStopSidecarFailed */
    p->written = CACHE_PODS;
    p->what = "stop sidecars";
    r = start_write(p, kube_patch(p->c->kc, path, KUBE_PATCH_JSON, patch, on_write_done, p));
    free(path);
    return r;
}

/*
 * A finished run whose Pod still runs sidecars: one write towards stopping them (§3.10), the
 * patch first, then status.sidecars as Tekton rebuilds it. Returns 0 with a write in flight, 2
 * with nothing to do, or < 0.
 */
static int reconcile_done(struct pass *p, const json_t *cached, const json_t *pod,
                          const struct sidecarstop_plan *plan)
{
    json_t *status;
    int r;

    if (plan->patch)
        return stop_sidecars(p, cached, pod, plan->patch);
    if (!plan->sidecars)
        return 2;
    status = json_deep_copy(json_object_get(cached, "status"));
    json_object_set(status, "sidecars", plan->sidecars);
    r = write_status(p, cached, status);
    json_decref(status);
    return r;
}

/* The Pod recorded in a TaskRun's status, from the cache, or NULL. */
static const json_t *recorded_pod(const struct taskrun_controller *c, const json_t *taskrun)
{
    const char *pod_name = str_at(json_object_get(taskrun, "status"), "podName");

    if (!pod_name || !*pod_name)
        return NULL;
    return informer_get(caches_get(c->caches, CACHE_PODS), meta_str(taskrun, "namespace"),
                        pod_name);
}

/* What resolution needs from the caches: the referenced Task, when it is to be read. */
static const json_t *referenced_task(const struct taskrun_controller *c, const json_t *taskrun)
{
    const json_t *spec = json_object_get(taskrun, "spec");
    const json_t *ref = json_object_get(spec, "taskRef");
    const char *name = str_at(ref, "name");

    if (!name || json_object_get(json_object_get(taskrun, "status"), "taskSpec"))
        return NULL;
    return informer_get(caches_get(c->caches, CACHE_TASKS), meta_str(taskrun, "namespace"), name);
}

struct plan_inputs {
    json_t *taskrun; /* with in-memory defaults */
    struct taskrun_resolved *resolved;
    char *fail_reason_owned;
    const char *fail_reason;
    char *fail_message;
};

static void plan_inputs_done(struct plan_inputs *pi)
{
    json_decref(pi->taskrun);
    taskrun_resolved_free(pi->resolved);
    free(pi->fail_message);
}

/* The StepActions the run's steps refer to, from the cache (absent ones left out). */
static json_t *referenced_stepactions(const struct taskrun_controller *c, const json_t *taskrun,
                                      const json_t *task)
{
    json_t *names = taskrun_resolve_stepaction_names(taskrun, task);
    json_t *found = json_object();
    const json_t *name;
    size_t i;

    json_array_foreach(names, i, name) {
        const json_t *sa = informer_get(caches_get(c->caches, CACHE_STEPACTIONS),
                                        meta_str(taskrun, "namespace"), json_string_value(name));

        if (sa)
            json_object_set_new(found, json_string_value(name), json_deep_copy(sa));
    }
    json_decref(names);
    return found;
}

static void resolve(const struct taskrun_controller *c, const json_t *cached,
                    struct plan_inputs *pi)
{
    const struct tekton_config *cfg = caches_config(c->caches);
    struct taskrun_resolve_error err = {0};
    struct taskrun_resolve_input in = {.cfg = cfg};
    const json_t *ref = json_object_get(json_object_get(cached, "spec"), "taskRef");
    json_t *stepactions;

    pi->taskrun = taskrun_resolve_defaults(cached, cfg);
    /*
     * status.taskSpec is stored substituted, with $(context.task.retry-count) of the attempt
     * that stored it: a retry resolves from the Task or spec.taskSpec again (§3.7).
     */
    if (json_array_size(json_object_get(json_object_get(cached, "status"), "retriesStatus")) > 0)
        json_object_del(json_object_get(pi->taskrun, "status"), "taskSpec");
    in.taskrun = pi->taskrun;
    in.task = referenced_task(c, pi->taskrun);
    if (str_at(ref, "name") && !in.task &&
        !json_object_get(json_object_get(pi->taskrun, "status"), "taskSpec")) {
        pi->fail_reason = TASKRUN_REASON_RESOLUTION_FAILED;
        pi->fail_message =
            xasprintf("error when listing tasks for taskRun %s: tasks.tekton.dev \"%s\" not found",
                      meta_str(cached, "name"), str_at(ref, "name"));
        return;
    }
    stepactions = referenced_stepactions(c, pi->taskrun, in.task);
    in.stepactions = stepactions;
    if (taskrun_resolve(&in, &pi->resolved, &err) < 0) {
        pi->fail_reason = err.reason;
        pi->fail_message = xstrdup(err.message ? err.message : "");
        taskrun_resolve_error_done(&err);
    }
    json_decref(stepactions);
}

/* Decide and issue this pass's one write. Returns 0 with the pass ended or in flight. */
static int reconcile_taskrun(struct pass *p, const json_t *cached)
{
    struct taskrun_controller *c = p->c;
    struct plan_inputs pi = {0};
    struct taskrun_status_plan plan = {0};
    const struct tekton_config *cfg = caches_config(c->caches);
    struct taskrun_status_options so = {.default_timeout_minutes = cfg->default_timeout_minutes,
                                        .keep_pod_on_cancel = cfg->keep_pod_on_cancel};
    struct taskrun_status_input in = {.now = time(NULL)};
    const char *pod_name;
    json_t *tr_for_pod = NULL;
    bool status_changed;
    int r = 0;

    resolve(c, cached, &pi);
    in.taskrun = pi.taskrun;
    in.taskspec = pi.resolved ? pi.resolved->status_spec : NULL;
    in.fail_reason = pi.fail_reason;
    in.fail_message = pi.fail_message;
    pod_name = str_at(json_object_get(cached, "status"), "podName");
    if (pod_name && *pod_name)
        in.pod = informer_get(caches_get(c->caches, CACHE_PODS), meta_str(cached, "namespace"),
                              pod_name);
    r = taskrun_status_plan(&in, &so, &plan);
    if (r < 0)
        goto out;
    if (!in.pod && plan.create_pod) {
        /*
         * The Pod exists under its deterministic name but the status does not record it yet
         * (the status write after the create waits for the Pod's start, below): plan from it.
         */
        in.pod = informer_get(caches_get(c->caches, CACHE_PODS), meta_str(cached, "namespace"),
                              str_at(plan.status, "podName"));
        if (in.pod) {
            taskrun_status_plan_done(&plan);
            memset(&plan, 0, sizeof(plan));
            r = taskrun_status_plan(&in, &so, &plan);
            if (r < 0)
                goto out;
        }
    }

    /* the timeout's deadline, not counted as a cause: it rarely fires before a later pass */
    if (plan.requeue_after_ns > 0)
        workqueue_add_after(c->queue, p->key, (uint64_t)(plan.requeue_after_ns / 1000000) + 1);

    /*
     * One write per pass, the most urgent first: a Pod to delete or create, then the ready
     * annotation that step 0 is blocked on, then the status. When the status must wait, the
     * pass asks for another one (p->again): our status-only writes cause no pass by
     * themselves.
     */
    status_changed = taskrun_status_changed(json_object_get(cached, "status"), plan.status);
    if (plan.delete_pod && in.pod) {
        p->again = status_changed;
        r = delete_pod(p, in.pod);
    } else if (plan.create_pod && !in.pod && pi.resolved) {
        /*
         * The status (startTime, podName, Pending) waits for the Pod's start for a while
         * (POD_START_GRACE_MS): a Pod that gets going by then makes the first status write
         * say Running (after the ready annotation), which saves the Pending write and its
         * pass; startTime is still this pass's time (the Pod's creationTimestamp). One that
         * does not gets its Pending status then, and a Pod in trouble (image pull,
         * unschedulable) after POD_PENDING_DELAY_MS.
         */
        if (status_changed)
            add_key(c, p->key, POD_START_GRACE_MS, TASKRUN_CAUSE_DELAYED);
        tr_for_pod = taskrun_for_pod(pi.taskrun, pi.resolved);
        r = create_pod(p, tr_for_pod, cached, pi.resolved);
    } else if (plan.mark_ready && in.pod) {
        p->again = status_changed;
        r = mark_pod_ready(p, in.pod);
    } else if (status_changed) {
        /*
         * A retry (§3.7) is a status-only write, which causes no pass by itself; the next
         * attempt's Pod must still be created.
         */
        const char *reason =
            json_string_value(json_object_get(taskrun_status_condition(plan.status), "reason"));

        p->again = reason && strcmp(reason, "ToBeRetried") == 0;
        /* a run that ends with sidecars still running stops them next (§3.10) */
        if (plan.done && in.pod) {
            struct sidecarstop_plan stop;

            sidecarstop_plan(plan.status, in.pod, c->nop_image, &stop);
            p->again = p->again || stop.patch;
            sidecarstop_plan_done(&stop);
        }
        r = write_status(p, cached, plan.status);
    } else {
        r = 2; /* nothing to write */
    }
out:
    json_decref(tr_for_pod);
    taskrun_status_plan_done(&plan);
    plan_inputs_done(&pi);
    return r;
}

/*
 * Count this pass under each cause its key was queued for since its last pass. A key with
 * none recorded was queued by its timeout deadline (not recorded: it is set on every pass).
 */
static void count_causes(struct taskrun_controller *c, const char *key)
{
    json_int_t mask = json_integer_value(json_object_get(c->causes, key));

    if (mask == 0)
        mask = (json_int_t)1 << TASKRUN_CAUSE_DELAYED;
    if (log_enabled(LOG_DEBUG))
        log_debug("pass", json_pack("{s:s, s:I}", "key", key, "causes", mask));
    for (int i = 0; i < TASKRUN_CAUSE_COUNT; i++) {
        if (mask & ((json_int_t)1 << i)) {
            c->stats.passes_by_cause[i]++;
            if (c->metrics)
                (void)metrics_count_pass(c->metrics, "taskrun", taskrun_cause_name(i), NULL);
        }
    }
    json_object_del(c->causes, key);
}

static void process_key(void *ctx, struct workqueue *q, const char *key)
{
    struct taskrun_controller *c = ctx;
    struct sidecarstop_plan stop = {0};
    const json_t *cached;
    struct pass *p;
    int r;

    c->stats.reconciles++;
    count_causes(c, key);
    /*
     * This pass plans from the caches as they are now, which hold every event a delayed add
     * was gathering, and sets the run's timeout deadline again: a deadline left would only
     * cost a pass with nothing new to see.
     */
    workqueue_cancel_after(q, key);
    if (!caches_synced(c->caches)) {
        count_outcome(c, TASKRUN_OUTCOME_OTHER);
        workqueue_done(q, key, 0);
        add_key(c, key, 200, TASKRUN_CAUSE_DELAYED);
        return;
    }
    cached = informer_get_key(caches_get(c->caches, CACHE_TASKRUNS), key);
    if (!cached) {
        count_outcome(c, TASKRUN_OUTCOME_OTHER);
        workqueue_done(q, key, 0);
        return;
    }
    /* done is done, but for sidecars that outlive the steps (§3.10) */
    if (taskrun_status_is_done(json_object_get(cached, "status"))) {
        sidecarstop_plan(json_object_get(cached, "status"), recorded_pod(c, cached), c->nop_image,
                         &stop);
        if (!stop.patch && !stop.sidecars) {
            count_outcome(c, TASKRUN_OUTCOME_DONE);
            workqueue_done(q, key, 0);
            return;
        }
    }
    if (!workqueue_write_allowed(q, key)) {
        count_outcome(c, TASKRUN_OUTCOME_BUCKET);
        note_cause(c, key, TASKRUN_CAUSE_BUCKET); /* the queue has re-added it */
        sidecarstop_plan_done(&stop);
        workqueue_done(q, key, 0);
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->key = xstrdup(key);
    p->written = CACHE_COUNT;
    if (stop.patch || stop.sidecars)
        r = reconcile_done(p, cached, recorded_pod(c, cached), &stop);
    else
        r = reconcile_taskrun(p, cached);
    sidecarstop_plan_done(&stop);
    if (r == 0)
        return; /* a write is in flight; on_write_done ends the pass */
    if (r < 0)
        log_warn("reconcile failed, retrying",
                 json_pack("{s:s, s:s}", "key", key, "error", strerror(-r)));
    pass_end(p, r < 0 ? r : 0);
}

/* ---- lifecycle ---- */

int taskrun_controller_new(uv_loop_t *loop, struct kube_client *kc, struct caches *caches,
                           const struct taskrun_controller_options *opts,
                           struct taskrun_controller **ret_controller)
{
    struct taskrun_controller *c = xcalloc(1, sizeof(*c));
    struct informer_handler taskruns = {on_taskrun_add, on_taskrun_update, NULL, c};
    struct informer_handler pods = {on_pod_add, on_pod_update, on_pod_delete, c};
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
    c->causes = json_object();
    c->entrypoint_image = xstrdup(opts->entrypoint_image);
    /* our entrypoint image doubles as Tekton's nop image: its default command exits 0 */
    c->nop_image = xstrdup(opts->nop_image ? opts->nop_image : opts->entrypoint_image);
    c->release = xstrdup(opts->release ? opts->release : "devel");
    c->registry = opts->registry;
    c->metrics = opts->metrics;
    c->platform = xstrdup(opts->platform ? opts->platform : "linux/amd64");
    r = workqueue_new(loop, &q, process_key, c, &c->queue);
    if (r < 0) {
        free(c->entrypoint_image);
        free(c->nop_image);
        free(c->release);
        free(c->platform);
        json_decref(c->causes);
        free(c);
        return r;
    }
    caches_add_handler(caches, CACHE_TASKRUNS, &taskruns);
    caches_add_handler(caches, CACHE_PODS, &pods);
    caches_add_handler(caches, CACHE_PVCS, &children);
    *ret_controller = c;
    return 0;
}

void taskrun_controller_stats(const struct taskrun_controller *c,
                              struct taskrun_controller_stats *ret_stats)
{
    *ret_stats = c->stats;
}

static void on_queue_closed(void *ctx)
{
    struct taskrun_controller *c = ctx;

    free(c->entrypoint_image);
    free(c->nop_image);
    free(c->release);
    free(c->platform);
    json_decref(c->causes);
    if (c->closed_cb)
        c->closed_cb(c->closed_ctx);
    free(c);
}

void taskrun_controller_close(struct taskrun_controller *c, taskrun_controller_closed_cb *done,
                              void *ctx)
{
    json_t *by_cause = json_object();
    json_t *by_outcome = json_object();

    for (int i = 0; i < TASKRUN_CAUSE_COUNT; i++)
        json_object_set_new(by_cause, taskrun_cause_name(i),
                            json_integer((json_int_t)c->stats.passes_by_cause[i]));
    for (int i = 0; i < TASKRUN_OUTCOME_COUNT; i++)
        json_object_set_new(by_outcome, taskrun_outcome_name(i),
                            json_integer((json_int_t)c->stats.passes_by_outcome[i]));
    log_info("taskrun controller stopping",
             json_pack("{s:I, s:I, s:o, s:o, s:I, s:I}", "reconciles",
                       (json_int_t)c->stats.reconciles, "writes", (json_int_t)c->stats.writes,
                       "passes_by_cause", by_cause, "passes_by_outcome", by_outcome,
                       "own_write_events", (json_int_t)c->stats.own_write_events,
                       "pod_updates_ignored", (json_int_t)c->stats.pod_updates_ignored));
    c->closed_cb = done;
    c->closed_ctx = ctx;
    workqueue_close(c->queue, on_queue_closed, c);
}
