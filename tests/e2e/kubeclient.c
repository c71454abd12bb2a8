/*
 * kubeclient: an e2e driver for lib/ (kube, kubeconfig, informer) against a real API server.
 * Run by tests/e2e/client_test.sh; each subcommand prints `ok <name>` / `not ok <name>: <why>`
 * lines and `# ...` figures, and exits 0 unless it could not run at all.
 *
 *   kubeclient crud NS                    ConfigMap and Task CRUD, conflicts, TaskRun status
 *   kubeclient bulk NS LABEL N            create N ConfigMaps labelled LABEL (setup for list)
 *   kubeclient list NS SELECTOR WANT PAGE kube_list of a labelled set, page by page
 *   kubeclient watch NS                   informer events for a scripted sequence
 *   kubeclient stale NS                   410 Gone on a watch, informer relist after it (on
 *                                         the KcObject custom resource client_test.sh defines)
 *   kubeclient resume NS CMD [ARGS...]    an informer across CMD (which restarts the API server)
 *
 * The config comes from $KUBECONFIG, as the controller loads it. Every wait is bounded.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/informer.h"
#include "lib/kube.h"
#include "lib/kubeconfig.h"
#include "lib/log.h"

static uv_loop_t *loop;
static struct kube_client *kc;
static int failures;

static void report(const char *name, bool pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(const char *name, bool pass, const char *fmt, ...)
{
    va_list ap;

    if (pass) {
        printf("ok %s\n", name);
    } else {
        failures++;
        printf("not ok %s: ", name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
}

/* One REST call's outcome, copied out of the callback. */
struct res {
    bool done;
    int rc;
    int code;
    json_t *obj;
    char msg[512];
};

static void res_clear(struct res *r)
{
    json_decref(r->obj);
    memset(r, 0, sizeof(*r));
}

static double now_s(void);

static void on_done(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct res *r = ctx;

    r->done = true;
    r->rc = rc;
    r->obj = obj ? json_deep_copy(obj) : NULL;
    if (st) {
        r->code = st->http_code;
        snprintf(r->msg, sizeof(r->msg), "%s", st->message ? st->message : "");
    }
}

/* Run the loop until *flag or 'ms' pass. Returns true if *flag became true. */
static void on_wake(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool run_until(const bool *flag, uint64_t ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_wake, ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

/* Let the loop run for 'ms' (to see that nothing more arrives). */
static void run_for(uint64_t ms)
{
    bool never = false;

    (void)run_until(&never, ms);
}

static int finish(struct res *r, int queued)
{
    if (queued < 0) {
        r->done = true;
        r->rc = queued;
        snprintf(r->msg, sizeof(r->msg), "not queued: %s", strerror(-queued));
        return queued;
    }
    if (!run_until(&r->done, 60000)) {
        r->rc = -ETIMEDOUT;
        snprintf(r->msg, sizeof(r->msg), "no callback in 60s");
    }
    return r->rc;
}

static int do_get(struct res *r, const char *path)
{
    res_clear(r);
    return finish(r, kube_get(kc, path, on_done, r));
}

static int do_create(struct res *r, const char *coll, const json_t *body)
{
    json_t *keep = json_deep_copy(body); /* 'body' may be r->obj */
    int rc;

    res_clear(r);
    rc = finish(r, kube_create(kc, coll, keep, on_done, r));
    json_decref(keep);
    return rc;
}

static int do_update(struct res *r, const char *path, const json_t *body)
{
    json_t *keep = json_deep_copy(body); /* 'body' may be r->obj */
    int rc;

    res_clear(r);
    rc = finish(r, kube_update(kc, path, keep, on_done, r));
    json_decref(keep);
    return rc;
}

static int do_update_status(struct res *r, const char *path, const json_t *body)
{
    json_t *keep = json_deep_copy(body); /* 'body' may be r->obj */
    int rc;

    res_clear(r);
    rc = finish(r, kube_update_status(kc, path, keep, on_done, r));
    json_decref(keep);
    return rc;
}

static int do_patch(struct res *r, const char *path, const json_t *patch)
{
    res_clear(r);
    return finish(r, kube_patch(kc, path, KUBE_PATCH_MERGE, patch, on_done, r));
}

static int do_delete(struct res *r, const char *path)
{
    res_clear(r);
    return finish(r, kube_delete(kc, path, KUBE_PROPAGATION_BACKGROUND, on_done, r));
}

static int do_list(struct res *r, const char *coll, unsigned page)
{
    res_clear(r);
    return finish(r, kube_list(kc, coll, page, on_done, r));
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);

    return json_string_value(b ? json_object_get(v, b) : v);
}

static const char *rv_of(const json_t *obj)
{
    return str_at(obj, "metadata", "resourceVersion");
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static json_t *object(const char *api_version, const char *kind, const char *name,
                      const char *label, const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", api_version, "kind",
                     kind, "metadata", "name", name, "labels", label, "x", "data", "v", value);
}

static json_t *configmap(const char *name, const char *label, const char *value)
{
    return object("v1", "ConfigMap", name, label, value);
}

/*
 * The custom resource of the 410 checks. The API server's watch cache for a resource starts at
 * the resourceVersion current when the resource's storage starts (for a CRD: when it is
 * established), and answers 410 for anything older; ConfigMaps' cache started with the
 * cluster, at a resourceVersion too low to be outside it.
 */
#define KC_GROUP_VERSION "kc.e2e.tektite.dev/v1"

static json_t *kcobject(const char *name, const char *label, const char *value)
{
    return object(KC_GROUP_VERSION, "KcObject", name, label, value);
}

/* --- crud ----------------------------------------------------------------------------- */

static void crud_configmap(const char *ns)
{
    struct res r = {0};
    char *coll = kube_path("/api/v1", ns, "configmaps", NULL, NULL);
    char *path = kube_path("/api/v1", ns, "configmaps", "kc-crud", NULL);
    json_t *cm = configmap("kc-crud", "kc-crud", "1");
    json_t *stale = NULL, *patch;
    const char *name = "client/configmap-crud";

    if (do_create(&r, coll, cm) < 0) {
        report(name, false, "create: %s (%s)", strerror(-r.rc), r.msg);
        goto out;
    }
    if (!str_eq(str_at(r.obj, "data", "v"), "1") || !rv_of(r.obj)) {
        report(name, false, "create answered without data.v=1 or a resourceVersion");
        goto out;
    }
    if (do_create(&r, coll, cm) != -EEXIST) {
        report(name, false, "second create: want -EEXIST, got %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_get(&r, path) < 0 || !str_eq(str_at(r.obj, "data", "v"), "1")) {
        report(name, false, "get: %d (%s)", r.rc, r.msg);
        goto out;
    }
    stale = json_incref(r.obj);
    json_object_set_new(json_object_get(r.obj, "data"), "v", json_string("2"));
    if (do_update(&r, path, r.obj) < 0 || !str_eq(str_at(r.obj, "data", "v"), "2")) {
        report(name, false, "update: %d (%s)", r.rc, r.msg);
        goto out;
    }
    patch = json_pack("{s:{s:s}}", "data", "w", "patched");
    do_patch(&r, path, patch);
    json_decref(patch);
    if (r.rc < 0 || !str_eq(str_at(r.obj, "data", "w"), "patched") ||
        !str_eq(str_at(r.obj, "data", "v"), "2")) {
        report(name, false, "merge patch: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_get(&r, path) < 0 || !str_eq(str_at(r.obj, "data", "w"), "patched")) {
        report(name, false, "get after patch: %d (%s)", r.rc, r.msg);
        goto out;
    }
    report(name, true, "%s", "");

    /* a 409 Conflict: update with the resourceVersion read before the update */
    name = "client/configmap-conflict";
    json_object_set_new(json_object_get(stale, "data"), "v", json_string("stale"));
    if (do_update(&r, path, stale) != -EAGAIN) {
        report(name, false, "update with a stale resourceVersion: want -EAGAIN, got %d (%s)", r.rc,
               r.msg);
        goto out;
    }
    if (r.code != 409) {
        report(name, false, "-EAGAIN with HTTP %d, want 409", r.code);
        goto out;
    }
    if (do_get(&r, path) < 0 || !str_eq(str_at(r.obj, "data", "v"), "2")) {
        report(name, false, "re-read after the conflict: %d (%s), want data.v=2", r.rc, r.msg);
        goto out;
    }
    json_object_set_new(json_object_get(r.obj, "data"), "v", json_string("3"));
    if (do_update(&r, path, r.obj) < 0 || !str_eq(str_at(r.obj, "data", "v"), "3")) {
        report(name, false, "retry after re-read: %d (%s)", r.rc, r.msg);
        goto out;
    }
    report(name, true, "%s", "");

    name = "client/configmap-delete";
    if (do_delete(&r, path) < 0) {
        report(name, false, "delete: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_get(&r, path) != -ENOENT || r.code != 404) {
        report(name, false, "get after delete: want -ENOENT/404, got %d/%d", r.rc, r.code);
        goto out;
    }
    if (do_delete(&r, path) != -ENOENT) {
        report(name, false, "second delete: want -ENOENT, got %d (%s)", r.rc, r.msg);
        goto out;
    }
    report(name, true, "%s", "");
out:
    res_clear(&r);
    json_decref(stale);
    json_decref(cm);
    free(coll);
    free(path);
}

static void crud_task(const char *ns)
{
    struct res r = {0};
    char *coll = kube_path("/apis/tekton.dev/v1", ns, "tasks", NULL, NULL);
    char *path = kube_path("/apis/tekton.dev/v1", ns, "tasks", "kc-task", NULL);
    json_t *task =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:[{s:s, s:s, s:s}]}}", "apiVersion",
                  "tekton.dev/v1", "kind", "Task", "metadata", "name", "kc-task", "spec",
                  "description", "one", "steps", "name", "s", "image", "busybox", "script", "true");
    const char *name = "client/task-crud";

    if (do_create(&r, coll, task) < 0 || !str_eq(str_at(r.obj, "kind", NULL), "Task")) {
        report(name, false, "create: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_get(&r, path) < 0 || !str_eq(str_at(r.obj, "spec", "description"), "one")) {
        report(name, false, "get: %d (%s)", r.rc, r.msg);
        goto out;
    }
    json_object_set_new(json_object_get(r.obj, "spec"), "description", json_string("two"));
    if (do_update(&r, path, r.obj) < 0 || !str_eq(str_at(r.obj, "spec", "description"), "two")) {
        report(name, false, "update: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_get(&r, path) < 0 || !str_eq(str_at(r.obj, "spec", "description"), "two")) {
        report(name, false, "get after update: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_delete(&r, path) < 0) {
        report(name, false, "delete: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_get(&r, path) != -ENOENT) {
        report(name, false, "get after delete: want -ENOENT, got %d (%s)", r.rc, r.msg);
        goto out;
    }
    report(name, true, "%s", "");
out:
    res_clear(&r);
    json_decref(task);
    free(coll);
    free(path);
}

/* A finished run's status: a controller that finds a TaskRun done leaves it alone. */
static json_t *done_status(const char *reason)
{
    return json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}", "startTime", "2026-01-01T00:00:00Z",
                     "completionTime", "2026-01-01T00:00:01Z", "conditions", "type", "Succeeded",
                     "status", "False", "reason", reason, "lastTransitionTime",
                     "2026-01-01T00:00:01Z");
}

static const char *status_reason(const json_t *obj)
{
    const json_t *c =
        json_array_get(json_object_get(json_object_get(obj, "status"), "conditions"), 0);

    return json_string_value(json_object_get(c, "reason"));
}

/*
 * Read 'path', set its status to done_status(reason) (or, with 'label', its metadata.labels.kc)
 * and write it back (status subresource or main resource); on a 409 re-read and retry, up to
 * 10 times. Other controllers may write the same object: a conflict is how we learn of it.
 * Returns the last rc; *conflicts counts the 409s.
 */
static int write_retrying(struct res *r, const char *path, bool status, const char *reason,
                          const char *label, int *conflicts)
{
    int i, rc = -EAGAIN;

    for (i = 0; i < 10 && rc == -EAGAIN; i++) {
        if (do_get(r, path) < 0)
            return r->rc;
        if (reason)
            json_object_set_new(r->obj, "status", done_status(reason));
        if (label) {
            json_t *meta = json_object_get(r->obj, "metadata");
            if (!json_is_object(json_object_get(meta, "labels")))
                json_object_set_new(meta, "labels", json_object());
            json_object_set_new(json_object_get(meta, "labels"), "kc", json_string(label));
        }
        rc = status ? do_update_status(r, path, r->obj) : do_update(r, path, r->obj);
        if (rc == -EAGAIN)
            (*conflicts)++;
    }
    return rc;
}

/*
 * The status subresource of a TaskRun (spec.status TaskRunPending, so no Pod is made). A
 * controller watching all namespaces may write it too; once our status says "done" it stops.
 */
static void crud_taskrun_status(const char *ns)
{
    struct res r = {0};
    char *coll = kube_path("/apis/tekton.dev/v1", ns, "taskruns", NULL, NULL);
    char *path = kube_path("/apis/tekton.dev/v1", ns, "taskruns", "kc-tr", NULL);
    json_t *tr = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:{s:[{s:s, s:s, s:s}]}}}", "apiVersion",
                           "tekton.dev/v1", "kind", "TaskRun", "metadata", "name", "kc-tr", "spec",
                           "status", "TaskRunPending", "taskSpec", "steps", "name", "s", "image",
                           "busybox", "script", "true");
    json_t *stale = NULL;
    const char *name = "client/taskrun-status";
    int conflicts = 0;

    if (do_create(&r, coll, tr) < 0) {
        report(name, false, "create: %d (%s)", r.rc, r.msg);
        goto out;
    }
    stale = json_incref(r.obj);
    if (write_retrying(&r, path, true, "KcOne", NULL, &conflicts) < 0 ||
        !str_eq(status_reason(r.obj), "KcOne")) {
        report(name, false, "update_status: %d (%s), reason %s", r.rc, r.msg,
               status_reason(r.obj) ? status_reason(r.obj) : "(none)");
        goto out;
    }
    if (do_get(&r, path) < 0 || !str_eq(status_reason(r.obj), "KcOne")) {
        report(name, false, "get after update_status: %d, reason %s", r.rc,
               status_reason(r.obj) ? status_reason(r.obj) : "(none)");
        goto out;
    }
    /* a PUT of the main resource does not write status */
    if (write_retrying(&r, path, false, "KcIgnored", "main", &conflicts) < 0 ||
        !str_eq(status_reason(r.obj), "KcOne") ||
        !str_eq(str_at(json_object_get(r.obj, "metadata"), "labels", "kc"), "main")) {
        report(name, false, "update of the main resource: %d (%s), status reason %s", r.rc, r.msg,
               status_reason(r.obj) ? status_reason(r.obj) : "(none)");
        goto out;
    }
    report(name, true, "%s", "");

    name = "client/taskrun-status-conflict";
    json_object_set_new(stale, "status", done_status("KcStale"));
    if (do_update_status(&r, path, stale) != -EAGAIN || r.code != 409) {
        report(name, false,
               "update_status with a stale resourceVersion: want -EAGAIN/409, got %d/%d (%s)", r.rc,
               r.code, r.msg);
        goto out;
    }
    if (do_get(&r, path) < 0 || str_eq(status_reason(r.obj), "KcStale")) {
        report(name, false, "re-read after the conflict: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (write_retrying(&r, path, true, "KcTwo", NULL, &conflicts) < 0 ||
        !str_eq(status_reason(r.obj), "KcTwo")) {
        report(name, false, "retry after re-read: %d (%s)", r.rc, r.msg);
        goto out;
    }
    if (do_delete(&r, path) < 0) {
        report(name, false, "delete: %d (%s)", r.rc, r.msg);
        goto out;
    }
    printf("# TaskRun writes: %d conflicts with other writers, retried\n", conflicts);
    report(name, true, "%s", "");
out:
    res_clear(&r);
    json_decref(stale);
    json_decref(tr);
    free(coll);
    free(path);
}

/* --- bulk ----------------------------------------------------------------------------- */

struct bulk {
    const char *coll;
    const char *label;
    unsigned next, want, done, failed;
    bool finished;
    char err[256];
};

static void bulk_next(struct bulk *b);

static void on_bulk_done(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct bulk *b = ctx;

    b->done++;
    if (rc < 0 && rc != -EEXIST) {
        b->failed++;
        snprintf(b->err, sizeof(b->err), "%d: %s", rc, st && st->message ? st->message : "");
    }
    if (b->done == b->want)
        b->finished = true;
    else
        bulk_next(b);
}

static void bulk_next(struct bulk *b)
{
    char nm[64];
    json_t *cm;
    int r;

    if (b->next >= b->want)
        return;
    snprintf(nm, sizeof(nm), "bulk-%u", b->next++);
    cm = configmap(nm, b->label, nm);
    r = kube_create(kc, b->coll, cm, on_bulk_done, b);
    json_decref(cm);
    if (r < 0) {
        b->failed++;
        on_bulk_done(b, 0, NULL, NULL);
    }
}

/* Create 'want' labelled ConfigMaps, 32 requests in flight. */
static void bulk_create(const char *ns, const char *label, unsigned want)
{
    struct bulk b = {0};
    char *coll = kube_path("/api/v1", ns, "configmaps", NULL, NULL);
    double t0 = now_s();
    unsigned i;

    b.coll = coll;
    b.label = label;
    b.want = want;
    for (i = 0; i < 32; i++)
        bulk_next(&b);
    if (!run_until(&b.finished, 300000))
        report("client/bulk-create", false, "%u of %u creates answered in 300s", b.done, want);
    else
        report("client/bulk-create", b.failed == 0, "%u of %u creates failed, last %s", b.failed,
               want, b.err);
    printf("# created %u ConfigMaps in %.1fs\n", b.done - b.failed, now_s() - t0);
    free(coll);
}

/* --- list ----------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Count the list requests in the debug log: request lines carrying "limit=<page>". */
static int count_pages(FILE *logf, unsigned page)
{
    char needle[32], line[8192];
    int n = 0;

    snprintf(needle, sizeof(needle), "limit=%u", page);
    rewind(logf);
    while (fgets(line, sizeof(line), logf))
        if (strstr(line, "header-out") && strstr(line, needle))
            n++;
    return n;
}

static void list_check(const char *ns, const char *selector, size_t want, unsigned page)
{
    struct res r = {0};
    char query[256];
    char *coll;
    FILE *logf = tmpfile();
    double t0, t1;
    int pages, unique = 0;
    json_t *names = json_object(), *item;
    size_t i;
    const char *name = "client/list-pages";

    snprintf(query, sizeof(query), "labelSelector=%s", selector);
    coll = kube_path("/api/v1", ns, "configmaps", NULL, query);
    if (logf) {
        log_set_fd(fileno(logf));
        log_set_level(LOG_DEBUG);
    }
    t0 = now_s();
    do_list(&r, coll, page);
    t1 = now_s();
    log_set_level(LOG_INFO);
    log_set_fd(2);
    pages = logf ? count_pages(logf, page) : -1;
    if (r.rc < 0) {
        report(name, false, "kube_list: %d (%s)", r.rc, r.msg);
        goto out;
    }
    json_array_foreach(json_object_get(r.obj, "items"), i, item) {
        const char *n = str_at(item, "metadata", "name");
        if (n && !json_object_get(names, n)) {
            json_object_set_new(names, n, json_true());
            unique++;
        }
    }
    printf("# kube_list of %zu ConfigMaps, page size %u: %zu items, %d distinct, %d pages, "
           "%.2fs, list rv %s\n",
           want, page, json_array_size(json_object_get(r.obj, "items")), unique, pages, t1 - t0,
           rv_of(r.obj) ? rv_of(r.obj) : "(none)");
    if (json_array_size(json_object_get(r.obj, "items")) != want || (size_t)unique != want) {
        report(name, false, "got %zu items (%d distinct), want %zu",
               json_array_size(json_object_get(r.obj, "items")), unique, want);
        goto out;
    }
    if (!rv_of(r.obj) || str_at(json_object_get(r.obj, "metadata"), "continue", NULL)) {
        report(name, false, "the merged List lacks metadata.resourceVersion or keeps a continue");
        goto out;
    }
    /* with a label selector the server may hand out one more continue, for an empty page */
    if (pages < (int)((want + page - 1) / page) || pages > (int)((want + page - 1) / page) + 1) {
        report(name, false, "%d page requests, want %zu (or one more)", pages,
               (want + page - 1) / page);
        goto out;
    }
    report(name, true, "%s", "");
out:
    if (logf)
        fclose(logf);
    json_decref(names);
    res_clear(&r);
    free(coll);
}

/* --- watch ---------------------------------------------------------------------------- */

struct events {
    char log[64][48];
    int n;
    bool synced;
};

static void ev_push(struct events *e, const char *what, const json_t *obj)
{
    if (e->n < 64)
        snprintf(e->log[e->n], sizeof(e->log[0]), "%s %s", what,
                 str_at(obj, "metadata", "name") ? str_at(obj, "metadata", "name") : "?");
    e->n++;
}

static void ev_add(void *ctx, const json_t *obj)
{
    ev_push(ctx, "add", obj);
}

static void ev_update(void *ctx, const json_t *old_obj, const json_t *new_obj)
{
    ev_push(ctx, "update", new_obj);
}

static void ev_delete(void *ctx, const json_t *obj)
{
    ev_push(ctx, "delete", obj);
}

static void ev_synced(void *ctx)
{
    ((struct events *)ctx)->synced = true;
}

static const struct informer_ops real_ops = {kube_list, kube_watch_start, kube_watch_stop};

static bool informer_closed;

static void on_informer_closed(void *ctx)
{
    informer_closed = true;
}

static void close_informer(struct informer *inf)
{
    informer_closed = false;
    informer_close(inf, on_informer_closed, NULL);
    (void)run_until(&informer_closed, 10000);
}

/* Compare the recorded events with 'want' (n entries); on mismatch describe it in 'why'. */
static bool ev_match(const struct events *e, const char *const *want, int n, char *why, size_t size)
{
    int i, off = 0;

    if (e->n == n) {
        for (i = 0; i < n; i++)
            if (strcmp(e->log[i], want[i]) != 0)
                break;
        if (i == n)
            return true;
    }
    off = snprintf(why, size, "got %d events:", e->n);
    for (i = 0; i < e->n && i < 64 && off > 0 && (size_t)off < size; i++)
        off += snprintf(why + off, size - (size_t)off, " [%s]", e->log[i]);
    return false;
}

static int cmp_log(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool set_data(struct res *r, const char *path, const char *v)
{
    if (do_get(r, path) < 0)
        return false;
    json_object_set_new(json_object_get(r->obj, "data"), "v", json_string(v));
    return do_update(r, path, r->obj) == 0;
}

static void watch_check(const char *ns)
{
    static const char *const want[] = {"add w1",    "add w2",    "add w3",
                                       "update w1", "update w2", "delete w3",
                                       "update w1", "delete w1", "add w4"};
    const int nwant = (int)(sizeof(want) / sizeof(want[0]));
    struct events e = {0};
    struct res r = {0};
    struct informer *inf = NULL;
    struct informer_options o = {0};
    struct informer_handler h = {ev_add, ev_update, ev_delete, &e};
    char *coll = kube_path("/api/v1", ns, "configmaps", NULL, NULL);
    char *path = kube_path("/api/v1", ns, "configmaps", NULL, "labelSelector=kc-watch");
    char *p1 = kube_path("/api/v1", ns, "configmaps", "w1", NULL);
    char *p2 = kube_path("/api/v1", ns, "configmaps", "w2", NULL);
    char *p3 = kube_path("/api/v1", ns, "configmaps", "w3", NULL);
    const char *names[] = {"w1", "w2", "w3"};
    char why[2048];
    json_t *cm;
    bool ok = true;
    const char *name = "client/informer-events";
    int i;

    o.path = path;
    o.on_synced = ev_synced;
    o.ctx = &e;
    informer_new(loop, kc, &real_ops, &o, &inf);
    informer_add_handler(inf, &h);
    informer_start(inf);
    if (!run_until(&e.synced, 30000)) {
        report(name, false, "informer not synced after 30s");
        goto out;
    }
    if (e.n != 0) {
        report(name, false, "%d events before the script ran", e.n);
        goto out;
    }
    for (i = 0; i < 3 && ok; i++) {
        cm = configmap(names[i], "kc-watch", "1");
        ok = do_create(&r, coll, cm) == 0;
        json_decref(cm);
    }
    ok = ok && set_data(&r, p1, "2") && set_data(&r, p2, "2") && do_delete(&r, p3) == 0 &&
         set_data(&r, p1, "3") && do_delete(&r, p1) == 0;
    if (ok) {
        cm = configmap("w4", "kc-watch", "1");
        ok = do_create(&r, coll, cm) == 0;
        json_decref(cm);
    }
    if (!ok) {
        report(name, false, "the scripted writes failed: %d (%s)", r.rc, r.msg);
        goto out;
    }
    /* wait (bounded) for the events, then a little longer to catch duplicates */
    for (i = 0; i < 300 && e.n < nwant; i++)
        run_for(100);
    run_for(2000);
    if (!ev_match(&e, want, nwant, why, sizeof(why))) {
        report(name, false, "%s", why);
        goto out;
    }
    if (informer_count(inf) != 2 || !informer_get(inf, ns, "w2") || !informer_get(inf, ns, "w4") ||
        !str_eq(str_at(informer_get(inf, ns, "w2"), "data", "v"), "2")) {
        report(name, false, "cache holds %zu objects, want w2 (v=2) and w4", informer_count(inf));
        goto out;
    }
    report(name, true, "%s", "");
out:
    if (inf)
        close_informer(inf);
    res_clear(&r);
    free(coll);
    free(path);
    free(p1);
    free(p2);
    free(p3);
}

/* --- stale ---------------------------------------------------------------------------- */

struct watch_end {
    bool ended;
    int rc;
    int code;
    int events;
    char msg[256];
};

static void we_event(void *ctx, const char *type, json_t *obj)
{
    ((struct watch_end *)ctx)->events++;
}

static void we_end(void *ctx, int rc, const struct kube_status *st)
{
    struct watch_end *we = ctx;

    we->ended = true;
    we->rc = rc;
    if (st) {
        we->code = st->http_code;
        snprintf(we->msg, sizeof(we->msg), "%s", st->message ? st->message : "");
    }
}

/* Pass-through informer ops that count lists and remember how watches ended. */
static int spy_lists, spy_stale_ends;
static kube_watch_end_cb *spy_end_cb;

static int spy_list(struct kube_client *c, const char *p, unsigned page, kube_done_cb *cb,
                    void *ctx)
{
    spy_lists++;
    return kube_list(c, p, page, cb, ctx);
}

static void spy_end(void *ctx, int rc, const struct kube_status *st)
{
    if (rc == -ESTALE)
        spy_stale_ends++;
    spy_end_cb(ctx, rc, st);
}

static int spy_watch(struct kube_client *c, const char *p, const char *rv,
                     kube_watch_event_cb *event_cb, kube_watch_end_cb *end_cb, void *ctx,
                     struct kube_watch **ret_watch)
{
    spy_end_cb = end_cb; /* one informer, one watch at a time */
    return kube_watch_start(c, p, rv, event_cb, spy_end, ctx, ret_watch);
}

static const struct informer_ops spy_ops = {spy_list, spy_watch, kube_watch_stop};

static void stale_check(const char *ns)
{
    /* a relist's events come in no promised order: compared sorted */
    static const char *const want[] = {"add s4", "delete s2", "update s1"};
    struct res r = {0}, snap = {0};
    struct watch_end we = {0};
    struct kube_watch *w;
    struct events e = {0};
    struct informer *inf = NULL;
    struct informer_options o = {0};
    struct informer_handler h = {ev_add, ev_update, ev_delete, &e};
    char *coll = kube_path("/apis/" KC_GROUP_VERSION, ns, "kcobjects", NULL, NULL);
    char *path =
        kube_path("/apis/" KC_GROUP_VERSION, ns, "kcobjects", NULL, "labelSelector=kc-stale");
    char *p1 = kube_path("/apis/" KC_GROUP_VERSION, ns, "kcobjects", "s1", NULL);
    char *p2 = kube_path("/apis/" KC_GROUP_VERSION, ns, "kcobjects", "s2", NULL);
    const char *names[] = {"s1", "s2", "s3"};
    const char *name = "client/watch-410";
    char why[1024];
    json_t *cm;
    bool ok = true;
    int i;

    /*
     * A watch from a resourceVersion older than the resource's watch cache (see kcobject). A
     * cache still filling right after the CRD is established answers 429 first: asked again.
     */
    for (i = 0; i < 30; i++) {
        memset(&we, 0, sizeof(we));
        if (kube_watch_start(kc, coll, "1", we_event, we_end, &we, &w) < 0) {
            report(name, false, "kube_watch_start refused");
            break;
        }
        if (!run_until(&we.ended, 30000)) {
            kube_watch_stop(w);
            (void)run_until(&we.ended, 10000);
            report(name, false, "the watch from resourceVersion 1 did not end in 30s");
            break;
        }
        printf("# watch from rv 1: rc %d, http %d, '%s'\n", we.rc, we.code, we.msg);
        if (we.code != 429) {
            report(name, we.rc == -ESTALE && we.events == 0,
                   "want -ESTALE and no events, got %d (%s)", we.rc, we.msg);
            break;
        }
        run_for(1000);
    }
    if (i == 30)
        report(name, false, "the server answered 429 for 30s: '%s'", we.msg);

    /* an informer whose last list is older than the server's window relists and diffs */
    name = "client/informer-relist";
    for (i = 0; i < 3 && ok; i++) {
        cm = kcobject(names[i], "kc-stale", "1");
        ok = do_create(&r, coll, cm) == 0;
        json_decref(cm);
    }
    if (!ok || do_list(&snap, path, 0) < 0) {
        report(name, false, "setup: %d (%s)", ok ? snap.rc : r.rc, ok ? snap.msg : r.msg);
        goto out;
    }
    /* the world moves on while the informer is away */
    cm = kcobject("s4", "kc-stale", "1");
    ok = set_data(&r, p1, "2") && do_delete(&r, p2) == 0 && do_create(&r, coll, cm) == 0;
    json_decref(cm);
    if (!ok) {
        report(name, false, "writes: %d (%s)", r.rc, r.msg);
        goto out;
    }
    /* the informer's cache is the earlier snapshot, at a resourceVersion outside the window */
    json_object_set_new(json_object_get(snap.obj, "metadata"), "resourceVersion", json_string("1"));
    o.path = path;
    informer_new(loop, kc, &spy_ops, &o, &inf);
    if (informer_apply_list(inf, snap.obj) < 0 || informer_count(inf) != 3) {
        report(name, false, "seeding the cache from the snapshot failed");
        goto out;
    }
    informer_add_handler(inf, &h);
    informer_start(inf); /* synced with an rv: resumes the watch from "1" */
    for (i = 0; i < 300 && (e.n < 3 || spy_lists < 1); i++)
        run_for(100);
    run_for(1500);
    printf("# informer resumed from rv 1: %d watch ends with -ESTALE, %d relists, %d events\n",
           spy_stale_ends, spy_lists, e.n);
    if (spy_stale_ends < 1 || spy_lists < 1) {
        report(name, false, "%d -ESTALE watch ends and %d lists, want at least one of each",
               spy_stale_ends, spy_lists);
        goto out;
    }
    qsort(e.log, (size_t)(e.n < 64 ? e.n : 64), sizeof(e.log[0]), cmp_log);
    if (!ev_match(&e, want, 3, why, sizeof(why))) {
        report(name, false, "%s (want update s1, delete s2, add s4)", why);
        goto out;
    }
    if (informer_count(inf) != 3 || !informer_get(inf, ns, "s3") || !informer_get(inf, ns, "s4") ||
        !str_eq(str_at(informer_get(inf, ns, "s1"), "data", "v"), "2") ||
        informer_get(inf, ns, "s2")) {
        report(name, false, "cache holds %zu objects, want s1 (v=2), s3, s4", informer_count(inf));
        goto out;
    }
    report(name, true, "%s", "");
out:
    if (inf)
        close_informer(inf);
    res_clear(&r);
    res_clear(&snap);
    free(coll);
    free(path);
    free(p1);
    free(p2);
}

/* --- resume --------------------------------------------------------------------------- */

static int spy_watch_starts;

static int counting_watch(struct kube_client *c, const char *p, const char *rv,
                          kube_watch_event_cb *event_cb, kube_watch_end_cb *end_cb, void *ctx,
                          struct kube_watch **ret_watch)
{
    spy_watch_starts++;
    return spy_watch(c, p, rv, event_cb, end_cb, ctx, ret_watch);
}

static const struct informer_ops resume_ops = {spy_list, counting_watch, kube_watch_stop};

struct child {
    uv_process_t proc;
    bool exited;
    int64_t status;
};

static void on_child_exit(uv_process_t *p, int64_t status, int signal)
{
    struct child *c = p->data;

    c->exited = true;
    c->status = signal ? 128 + signal : status;
    uv_close((uv_handle_t *)p, NULL);
}

/*
 * The three writes after the restart, each retried for up to 60s while the API server settles.
 * A write that timed out may still have happened, so "already exists" and "not found" count as
 * done for the create and the delete.
 */
static bool resume_writes(struct res *r, const char *coll, const char *p1, const char *p2,
                          const json_t *r3)
{
    bool set = false, deleted = false, created = false;
    int i;

    for (i = 0; i < 60 && !(set && deleted && created); i++) {
        if (i > 0) {
            printf("# a write after the restart: %d (%s), again in 1s\n", r->rc, r->msg);
            run_for(1000);
        }
        set = set || set_data(r, p1, "2");
        deleted = deleted || (set && (do_delete(r, p2) == 0 || r->rc == -ENOENT));
        created = created || (deleted && (do_create(r, coll, r3) == 0 || r->rc == -EEXIST));
    }
    return set && deleted && created;
}

/*
 * An informer across an API server restart (argv: the command that restarts it, run while the
 * informer watches). After the restart, writes made while the informer is still reconnecting
 * must reach its handlers exactly once, whether it resumed the watch or relisted after a 410.
 */
static void resume_check(const char *ns, char **cmd)
{
    static const char *const want[] = {"update r1", "delete r2", "add r3"};
    const char *name = "client/watch-resume-after-apiserver-restart";
    struct events e = {0};
    struct res r = {0};
    struct child child = {0};
    struct informer *inf = NULL;
    struct informer_options o = {0};
    struct informer_handler h = {ev_add, ev_update, ev_delete, &e};
    uv_process_options_t po = {0};
    char *coll = kube_path("/api/v1", ns, "configmaps", NULL, NULL);
    char *path = kube_path("/api/v1", ns, "configmaps", NULL, "labelSelector=kc-resume");
    char *p1 = kube_path("/api/v1", ns, "configmaps", "r1", NULL);
    char *p2 = kube_path("/api/v1", ns, "configmaps", "r2", NULL);
    json_t *r1 = configmap("r1", "kc-resume", "1"), *r2 = configmap("r2", "kc-resume", "1");
    json_t *r3 = configmap("r3", "kc-resume", "1");
    char why[1024];
    int i, rc, lists_before, watches_before;

    if (do_create(&r, coll, r1) < 0 || do_create(&r, coll, r2) < 0) {
        report(name, false, "setup: %d (%s)", r.rc, r.msg);
        goto out;
    }
    o.path = path;
    o.on_synced = ev_synced;
    o.ctx = &e;
    informer_new(loop, kc, &resume_ops, &o, &inf);
    informer_start(inf);
    if (!run_until(&e.synced, 30000) || informer_count(inf) != 2) {
        report(name, false, "informer not synced with r1 and r2 after 30s");
        goto out;
    }
    informer_add_handler(inf, &h);
    e.n = 0; /* the handler's replay of r1 and r2 is not under test */
    lists_before = spy_lists;
    watches_before = spy_watch_starts;

    po.file = cmd[0];
    po.args = cmd;
    po.flags = UV_PROCESS_WINDOWS_HIDE;
    po.exit_cb = on_child_exit;
    po.stdio_count = 3;
    po.stdio = (uv_stdio_container_t[]){{.flags = UV_IGNORE},
                                        {.flags = UV_INHERIT_FD, .data.fd = 1},
                                        {.flags = UV_INHERIT_FD, .data.fd = 2}};
    child.proc.data = &child;
    rc = uv_spawn(loop, &child.proc, &po);
    if (rc < 0) {
        report(name, false, "cannot run %s: %s", cmd[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&child.proc, NULL);
        goto out;
    }
    /* the command waits for the exclusive cluster lock first (client_test.sh), hence the bound */
    if (!run_until(&child.exited, 1000000) || child.status != 0) {
        report(name, false, "the restart command %s", child.exited ? "failed" : "took over 1000s");
        if (!child.exited) {
            uv_process_kill(&child.proc, SIGKILL);
            (void)run_until(&child.exited, 5000);
        }
        goto out;
    }
    /* the API server is back: change the world before the informer has caught up */
    if (!resume_writes(&r, coll, p1, p2, r3)) {
        report(name, false, "the writes after the restart failed: %d (%s)", r.rc, r.msg);
        goto out;
    }
    for (i = 0; i < 600 && e.n < 3; i++)
        run_for(100);
    run_for(3000); /* duplicates or phantom deletes would come now */
    printf("# across the restart: %d watch starts, %d relists, %d events\n",
           spy_watch_starts - watches_before, spy_lists - lists_before, e.n);
    if (spy_watch_starts == watches_before) {
        report(name, false,
               "the watch was never restarted: the command did not restart the API server");
        goto out;
    }
    if (!ev_match(&e, want, 3, why, sizeof(why))) {
        report(name, false, "%s (want update r1, delete r2, add r3)", why);
        goto out;
    }
    if (informer_count(inf) != 2 || !informer_get(inf, ns, "r3") ||
        !str_eq(str_at(informer_get(inf, ns, "r1"), "data", "v"), "2")) {
        report(name, false, "cache holds %zu objects, want r1 (v=2) and r3", informer_count(inf));
        goto out;
    }
    report(name, true, "%s", "");
out:
    if (inf)
        close_informer(inf);
    res_clear(&r);
    json_decref(r1);
    json_decref(r2);
    json_decref(r3);
    free(coll);
    free(path);
    free(p1);
    free(p2);
}

/* --- main ----------------------------------------------------------------------------- */

static bool client_closed;

static void on_client_closed(void *ctx)
{
    client_closed = true;
}

int main(int argc, char **argv)
{
    struct kube_config_options opts;
    struct kube_config *cfg = NULL;
    char *err = NULL;
    int r;

    if (argc < 3) {
        fprintf(stderr, "usage: kubeclient crud|bulk|list|watch|stale|resume NS [args]\n");
        return 2;
    }
    loop = uv_default_loop();
    kube_config_options_from_env(&opts);
    r = kube_config_load(&opts, &cfg, &err);
    if (r == 0)
        r = kube_client_new(loop, cfg, &kc, &err);
    if (r < 0) {
        printf("not ok client/%s: no client: %s\n", argv[1], err ? err : strerror(-r));
        free(err);
        kube_config_free(cfg);
        return 1;
    }
    if (strcmp(argv[1], "crud") == 0) {
        crud_configmap(argv[2]);
        crud_task(argv[2]);
        crud_taskrun_status(argv[2]);
    } else if (strcmp(argv[1], "resume") == 0 && argc >= 4) {
        resume_check(argv[2], argv + 3);
    } else if (strcmp(argv[1], "list") == 0 && argc == 6) {
        list_check(argv[2], argv[3], strtoul(argv[4], NULL, 10),
                   (unsigned)strtoul(argv[5], NULL, 10));
    } else if (strcmp(argv[1], "bulk") == 0 && argc == 5) {
        bulk_create(argv[2], argv[3], (unsigned)strtoul(argv[4], NULL, 10));
    } else if (strcmp(argv[1], "watch") == 0) {
        watch_check(argv[2]);
    } else if (strcmp(argv[1], "stale") == 0) {
        stale_check(argv[2]);
    } else {
        fprintf(stderr, "kubeclient: unknown subcommand or arguments '%s'\n", argv[1]);
        r = 2;
    }
    kube_client_close(kc, on_client_closed, NULL);
    (void)run_until(&client_closed, 10000);
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0) {
        printf("not ok client/%s-loop-close: handles left open at exit\n", argv[1]);
        failures++;
    }
    kube_config_free(cfg);
    return r == 2 ? 2 : 0;
}
