/*
 * PipelineRun planner: Task resolution, DAG scheduling, results and `when`, skipping, finally,
 * timeouts, cancellation, matrix fan-out, child TaskRuns and the status of Tekton v1.15.0,
 * computed from cached objects and the clock. The spec and its validation come from
 * pipelinerun_resolve; fetching, writing, affinity assistants and remote resolution are the
 * reconciler's; child TaskRuns are resolved by taskrun_resolve when they run.
 */
#include "controller/pipelinerun_plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "controller/childname.h"
#include "controller/goduration.h"
#include "controller/pipeline_dag.h"
#include "controller/pipelinerun_resolve.h"
#include "controller/substitute.h"
#include "controller/taskrun_status.h"
#include "controller/tekton_config.h"
#include "lib/buf.h"
#include "lib/jsonget.h"
#include "lib/xalloc.h"

#define MAX_MESSAGE    (64 * 1024)
#define MAX_VALIDATION 1024

enum pt_state {
    PT_NOT_STARTED,
    PT_RUNNING,
    PT_SUCCEEDED,
    PT_FAILED,
    PT_CANCELLED,
    PT_TIMED_OUT,
};

struct pt {
    const json_t *pt; /* borrowed from ctx.spec */
    const char *name;
    bool final;
    json_t *taskspec;  /* new ref: the resolved TaskSpec, NULL when unknown */
    json_t *combos;    /* new ref: array of param lists, one per child */
    json_t *names;     /* new ref: array of child names */
    json_t *children;  /* new ref: array, per name the existing TaskRun or null */
    json_t *when;      /* new ref: when after substitution, or NULL */
    char *invalid_msg; /* failed result validation this pass */
    enum pt_state state;
    bool ignored;
    bool evaluated;
    const char *skip;
    bool skip_by_when;
    bool create;
    bool listed; /* names came from status.childReferences or cached children */
};

struct ctx {
    const struct pipelinerun_plan_input *in;
    struct pipelinerun_plan *plan;
    json_t *pr;     /* new ref: v1 copy of the run */
    json_t *spec;   /* new ref: the pipeline spec, substituted */
    json_t *status; /* = plan->status */
    const char *name;
    const char *ns;
    const char *uid;
    const char *spec_status;
    const char *pipeline_name; /* borrowed from 'res' */
    struct pipelinerun_resolved *res;
    struct pt *pts;
    size_t npts;
    size_t ntasks;
    const struct pipeline_dag *dag;       /* borrowed from 'res' */
    const struct substitute_table *given; /* borrowed from 'res': run-given params (Q11) */
    struct substitute_table *results;
    int64_t timeout_pipeline, timeout_tasks, timeout_finally;
    bool tasks_set, finally_set;
    time_t start, finally_start;
    bool stopping;
    bool failed; /* the run has been failed this pass */
};

/* ---- small JSON helpers ---- */

static const char *value_type(const json_t *v)
{
    if (json_is_array(v))
        return "array";
    if (json_is_object(v))
        return "object";
    return "string";
}

static const char *param_spec_type(const json_t *ps)
{
    return pipelinerun_resolve_param_type(ps);
}

/* ---- status helpers ---- */

static void format_now(const struct ctx *c, char out[21])
{
    taskrun_status_format_time(c->in->now, out);
}

static json_t *condition(const json_t *status)
{
    const json_t *conds = json_object_get(status, "conditions");
    const json_t *cond;
    size_t i;

    json_array_foreach(conds, i, cond) {
        const char *t = jget_str(cond, "type");

        if (t && strcmp(t, "Succeeded") == 0)
            return (json_t *)(uintptr_t)cond;
    }
    return NULL;
}

static void set_condition(struct ctx *c, const char *st, const char *reason, const char *msg)
{
    const json_t *old = condition(c->status);
    char now[21];
    const char *ltt;
    json_t *cond;

    format_now(c, now);
    ltt = now;
    if (old && strcmp(jget_or(jget_str(old, "status"), ""), st) == 0 &&
        strcmp(jget_or(jget_str(old, "reason"), ""), reason) == 0 &&
        strcmp(jget_or(jget_str(old, "message"), ""), msg) == 0 &&
        jget_str(old, "lastTransitionTime"))
        ltt = jget_str(old, "lastTransitionTime");
    cond = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "Succeeded", "status", st, "reason",
                     reason, "message", msg, "lastTransitionTime", ltt);
    if (strcmp(st, "Unknown") != 0)
        json_object_set_new(c->status, "completionTime", json_string(ltt));
    json_object_set_new(c->status, "conditions", json_pack("[o]", cond));
}

static void failv(struct ctx *c, const char *reason, const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    set_condition(c, "False", reason, msg);
    free(msg);
    c->plan->done = true;
    c->failed = true;
}

static int fail(struct ctx *c, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    failv(c, reason, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool is_done(const json_t *status)
{
    const json_t *cond = condition(status);
    const char *st = jget_str(cond, "status");

    return st && (strcmp(st, "True") == 0 || strcmp(st, "False") == 0);
}

static void plan_labels(struct ctx *c)
{
    const json_t *own = json_object_get(json_object_get(c->pr, "metadata"), "labels");
    const json_t *pl = json_object_get(json_object_get(c->in->pipeline, "metadata"), "labels");
    char *value = pipelinerun_resolve_pipeline_label(c->pr);

    c->plan->labels = json_object();
    if (json_is_object(pl))
        json_object_update(c->plan->labels, (json_t *)(uintptr_t)pl);
    if (json_is_object(own))
        json_object_update(c->plan->labels, (json_t *)(uintptr_t)own);
    if (!json_object_get(c->plan->labels, "tekton.dev/pipeline"))
        json_object_set_new(c->plan->labels, "tekton.dev/pipeline", json_string(value));
    free(value);
}

static void start_run(struct ctx *c)
{
    const json_t *cond = condition(c->status);
    const char *created = jget_str(json_object_get(c->pr, "metadata"), "creationTimestamp");
    time_t t = c->in->now;
    time_t ct;
    char buf[21];

    if (created && taskrun_status_parse_time(created, &ct) == 0 && ct > t)
        t = ct;
    taskrun_status_format_time(t, buf);
    json_object_set_new(c->status, "startTime", json_string(buf));
    set_condition(c, "Unknown", PIPELINERUN_REASON_STARTED, jget_or(jget_str(cond, "message"), ""));
}

static const json_t *find_taskrun(const struct ctx *c, const char *name)
{
    const json_t *tr;
    size_t i;

    if (!name)
        return NULL;
    json_array_foreach(c->in->taskruns, i, tr) {
        const char *n = jget_str(json_object_get(tr, "metadata"), "name");

        if (n && strcmp(n, name) == 0)
            return tr;
    }
    return NULL;
}

/* Children listed in status.childReferences and not finished: patch them cancelled. */
static void cancel_listed(struct ctx *c, const char *message)
{
    const json_t *refs = json_object_get(c->status, "childReferences");
    const json_t *ref;
    size_t i;

    json_array_foreach(refs, i, ref) {
        const char *name = jget_str(ref, "name");
        const json_t *tr = find_taskrun(c, name);

        if (!name || (tr && is_done(json_object_get(tr, "status"))))
            continue;
        json_array_append_new(c->plan->cancel_taskruns,
                              json_pack("{s:s, s:s}", "name", name, "statusMessage", message));
    }
}

static int hard_cancel(struct ctx *c)
{
    char *msg = xasprintf("PipelineRun \"%s\" was cancelled", c->name);

    cancel_listed(c, PIPELINERUN_CANCEL_MESSAGE);
    fail(c, PIPELINERUN_REASON_CANCELLED, "%s", msg);
    free(msg);
    return 1;
}

static const struct pt *find_pt(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->npts; i++) {
        if (strcmp(c->pts[i].name, name) == 0)
            return &c->pts[i];
    }
    return NULL;
}

static void append_quoted_list(struct buf *b, const char *name)
{
    (void)buf_printf(b, "%s%s", buf_len(b) ? " " : "", name);
}

/* ---- task resolution (§7) ---- */

static void default_task_spec(json_t *spec)
{
    json_t *item;
    size_t i;

    json_array_foreach(json_object_get(spec, "params"), i, item) {
        if (json_is_object(item) && !jget_str(item, "type"))
            json_object_set_new(item, "type", json_string(param_spec_type(item)));
    }
    json_array_foreach(json_object_get(spec, "results"), i, item) {
        if (json_is_object(item) && !jget_str(item, "type"))
            json_object_set_new(
                item, "type",
                json_string(json_object_get(item, "properties") ? "object" : "string"));
    }
}

/* The resolved spec of one PT: 0, 1 when the Task must be fetched first, or < 0 (failed). */
static int resolve_pt(struct ctx *c, struct pt *pt)
{
    const json_t *ref = json_object_get(pt->pt, "taskRef");
    const char *task = jget_str(ref, "name");
    const json_t *got;
    const json_t *child = NULL;
    size_t i;

    if (!ref) {
        pt->taskspec = json_deep_copy(json_object_get(pt->pt, "taskSpec"));
        json_object_del(pt->taskspec, "metadata");
        default_task_spec(pt->taskspec);
        return 0;
    }
    json_array_foreach(pt->children, i, child) {
        if (json_is_object(json_object_get(json_object_get(child, "status"), "taskSpec"))) {
            pt->taskspec =
                json_deep_copy(json_object_get(json_object_get(child, "status"), "taskSpec"));
            default_task_spec(pt->taskspec);
            return 0;
        }
    }
    got = json_object_get(c->in->tasks, task);
    if (json_is_string(got))
        return fail(c, PIPELINERUN_REASON_GET_TASK,
                    "Pipeline %s/%s can't be Run; it contains Tasks that don't exist: Couldn't "
                    "retrieve Task \"%s\": %s",
                    c->ns, c->pipeline_name, task, json_string_value(got));
    if (!got) {
        const json_t *v;
        bool seen = false;

        json_array_foreach(c->plan->missing_tasks, i, v) {
            seen = seen || strcmp(json_string_value(v), task) == 0;
        }
        if (!seen)
            json_array_append_new(c->plan->missing_tasks, json_string(task));
        return 1;
    }
    if (!json_is_object(json_object_get(got, "spec")))
        return fail(c, PIPELINERUN_REASON_GET_TASK,
                    "Pipeline %s/%s can't be Run; it contains Tasks that don't exist: Couldn't "
                    "retrieve Task \"%s\": the Task has no spec",
                    c->ns, c->pipeline_name, task);
    pt->taskspec = json_deep_copy(json_object_get(got, "spec"));
    default_task_spec(pt->taskspec);
    return 0;
}

static int resolve_tasks(struct ctx *c)
{
    bool missing = false;

    for (size_t i = 0; i < c->npts; i++) {
        int r = resolve_pt(c, &c->pts[i]);

        if (r < 0)
            return r;
        missing = missing || r > 0;
    }
    return missing ? 1 : 0;
}

/* §9.5, §4.3 step 18: PT params against the Task's param specs. */
static int check_task_params(struct ctx *c, const struct pt *pt)
{
    const json_t *given = json_object_get(pt->pt, "params");
    const json_t *matrix = json_object_get(pt->pt, "matrix");
    const json_t *ps;
    struct buf missing, mismatch;
    size_t i;
    int r = 0;

    buf_init(&missing, MAX_MESSAGE);
    buf_init(&mismatch, MAX_MESSAGE);
    json_array_foreach(json_object_get(pt->taskspec, "params"), i, ps) {
        const char *n = jget_str(ps, "name");
        const json_t *p = jget_named(given, "name", n);
        const json_t *v = json_object_get(p, "value");
        bool in_matrix = jget_named(json_object_get(matrix, "params"), "name", n) ||
                         json_object_get(matrix, "include");

        if (!n)
            continue;
        if (!p && !in_matrix && !json_object_get(ps, "default"))
            append_quoted_list(&missing, n);
        else if (p && strcmp(value_type(v), param_spec_type(ps)) != 0 &&
                 !(json_is_string(v) && strstr(json_string_value(v), "$(")))
            append_quoted_list(&mismatch, n);
    }
    if (buf_len(&missing))
        r = fail(c, PIPELINERUN_REASON_VALIDATION,
                 "[User error] Validation failed for pipelinerun %s with error invalid input "
                 "params for task %s: missing values for these params which have no default "
                 "values: [%s]",
                 c->name, pt->name, buf_str(&missing));
    else if (buf_len(&mismatch))
        r = fail(c, PIPELINERUN_REASON_VALIDATION,
                 "[User error] Validation failed for pipelinerun %s with error invalid input "
                 "params for task %s: param types don't match the user-specified type: [%s]",
                 c->name, pt->name, buf_str(&mismatch));
    buf_done(&missing);
    buf_done(&mismatch);
    return r;
}

/* ---- matrix (§19) and children (§6.4, §13.1) ---- */

static int cmp_param_name(const void *a, const void *b)
{
    return strcmp(jget_or(jget_str(*(json_t *const *)a, "name"), ""),
                  jget_or(jget_str(*(json_t *const *)b, "name"), ""));
}

static json_t *sorted_params(json_t *combo)
{
    size_t n = json_object_size(combo);
    json_t **items = xcalloc(n + 1, sizeof(*items));
    json_t *out = json_array();
    const char *k;
    json_t *v;
    size_t i = 0;

    json_object_foreach(combo, k, v) {
        items[i++] = json_pack("{s:s, s:O}", "name", k, "value", v);
    }
    qsort(items, n, sizeof(*items), cmp_param_name);
    for (i = 0; i < n; i++)
        json_array_append_new(out, items[i]);
    free(items);
    return out;
}

static bool include_fits(const json_t *combo, const json_t *inc)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)(uintptr_t)inc, k, v) {
        const json_t *have = json_object_get(combo, k);

        if (have && !json_equal(have, v))
            return false;
    }
    return true;
}

static void apply_include(json_t *combos, const json_t *params_list, const json_t *item)
{
    json_t *inc = json_object();
    const json_t *p;
    json_t *combo;
    size_t i;
    bool fitted = false;

    json_array_foreach(json_object_get(item, "params"), i, p) {
        if (jget_str(p, "name") && json_is_string(json_object_get(p, "value")))
            json_object_set(inc, jget_str(p, "name"), json_object_get(p, "value"));
    }
    json_array_foreach(combos, i, combo) {
        if (json_array_size(params_list) > 0 && include_fits(combo, inc)) {
            json_object_update(combo, inc);
            fitted = true;
        }
    }
    if (!fitted && json_object_size(inc) > 0)
        json_array_append(combos, inc);
    json_decref(inc);
}

/* The combinations of §19.1 as an array of name -> value objects; NULL without a matrix. */
static json_t *matrix_combos(const json_t *matrix)
{
    const json_t *params = json_object_get(matrix, "params");
    json_t *combos;
    const json_t *p;
    size_t i;

    if (!json_is_object(matrix))
        return NULL;
    combos = json_array();
    json_array_foreach(params, i, p) {
        const json_t *values = json_object_get(p, "value");
        json_t *next = json_array();
        const json_t *v;
        size_t k;

        json_array_foreach(values, k, v) {
            if (i == 0) {
                json_array_append_new(next,
                                      json_pack("{s:O}", jget_or(jget_str(p, "name"), ""), v));
                continue;
            }
            const json_t *c;
            size_t j;

            json_array_foreach(combos, j, c) {
                json_t *n = json_deep_copy(c);

                json_object_set(n, jget_or(jget_str(p, "name"), ""), (json_t *)(uintptr_t)v);
                json_array_append_new(next, n);
            }
        }
        json_decref(combos);
        combos = next;
    }
    json_array_foreach(json_object_get(matrix, "include"), i, p) {
        apply_include(combos, params, p);
    }
    return combos;
}

static bool matrix_has_empty(const json_t *pt)
{
    const json_t *p;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(pt, "matrix"), "params"), i, p) {
        if (json_is_array(json_object_get(p, "value")) &&
            json_array_size(json_object_get(p, "value")) == 0)
            return true;
    }
    return false;
}

char *pipelinerun_plan_child_name(const char *pipelinerun, const char *task, size_t index,
                                  size_t count)
{
    char *suffix;
    char *name;
    char *want;

    if (count <= 1) {
        suffix = xasprintf("-%s", task);
        name = childname(pipelinerun, suffix);
        free(suffix);
        return name;
    }
    suffix = xasprintf("-%s-%zu", task, index);
    name = childname(pipelinerun, suffix);
    want = xasprintf("-%zu", index);
    free(suffix);
    if (strlen(name) < strlen(want) || strcmp(name + strlen(name) - strlen(want), want) != 0) {
        char *count_text = xasprintf("-%zu", count);
        char *base;

        suffix = xasprintf("-%s", task);
        base = childname(pipelinerun, suffix);
        if (strlen(base) > 63 - strlen(count_text))
            base[63 - strlen(count_text)] = '\0';
        free(name);
        name = xasprintf("%s%s", base, want);
        free(base);
        free(suffix);
        free(count_text);
    }
    free(want);
    return name;
}

/* ---- child state (§6.2, §21.1) ---- */

static enum pt_state child_state(const json_t *tr)
{
    const json_t *cond = condition(json_object_get(tr, "status"));
    const char *st = jget_str(cond, "status");
    const char *reason = jget_or(jget_str(cond, "reason"), "");
    const char *smsg = jget_or(jget_str(json_object_get(tr, "spec"), "statusMessage"), "");

    if (!st || strcmp(st, "Unknown") == 0)
        return PT_RUNNING;
    if (strcmp(st, "True") == 0)
        return PT_SUCCEEDED;
    if (strcmp(reason, "TaskRunCancelled") == 0)
        return strcmp(smsg, PIPELINERUN_TIMEOUT_MESSAGE) == 0 ? PT_TIMED_OUT : PT_CANCELLED;
    return PT_FAILED;
}

static void classify(struct pt *pt)
{
    const json_t *tr;
    size_t i, existing = 0;
    bool running = false, cancelled = false, timed_out = false, failed = false;

    json_array_foreach(pt->children, i, tr) {
        enum pt_state s;

        if (json_is_null(tr))
            continue;
        existing++;
        s = child_state(tr);
        running = running || s == PT_RUNNING;
        cancelled = cancelled || s == PT_CANCELLED;
        timed_out = timed_out || s == PT_TIMED_OUT;
        failed = failed || s == PT_FAILED;
    }
    const char *on_error = jget_str(pt->pt, "onError");

    pt->ignored = on_error && strcmp(on_error, "continue") == 0;
    if (existing == 0)
        pt->state = PT_NOT_STARTED;
    else if (running || existing < json_array_size(pt->names))
        pt->state = PT_RUNNING;
    else if (timed_out)
        pt->state = PT_TIMED_OUT;
    else if (cancelled)
        pt->state = PT_CANCELLED;
    else if (failed)
        pt->state = PT_FAILED;
    else
        pt->state = PT_SUCCEEDED;
}

static bool pt_finished(const struct pt *pt)
{
    return pt->state >= PT_SUCCEEDED;
}

static bool pt_failure(const struct pt *pt)
{
    return pt->state >= PT_FAILED;
}

static void lookup_children(struct ctx *c, struct pt *pt)
{
    const json_t *n;
    size_t i;

    json_decref(pt->children);
    pt->children = json_array();
    json_array_foreach(pt->names, i, n) {
        const json_t *tr = find_taskrun(c, json_string_value(n));

        json_array_append_new(pt->children,
                              tr ? json_incref((json_t *)(uintptr_t)tr) : json_null());
    }
    classify(pt);
}

static int cmp_json_string(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static bool has_string(const json_t *list, const char *s)
{
    const json_t *v;
    size_t i;

    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/*
 * §4.2 step 8: cached children of this PT that status.childReferences does not list yet (a
 * status write was lost) are adopted, in name order, after the listed ones. Takes 'names'
 * (may be NULL) and returns the list, or NULL when there is nothing.
 */
static json_t *adopt_unlisted(const struct ctx *c, const char *pt_name, json_t *names)
{
    size_t n = json_array_size(c->in->taskruns);
    json_t **found = xcalloc(n + 1, sizeof(*found));
    const json_t *tr;
    size_t i, k = 0;

    json_array_foreach(c->in->taskruns, i, tr) {
        const json_t *meta = json_object_get(tr, "metadata");
        const json_t *labels = json_object_get(meta, "labels");
        const char *name = jget_str(meta, "name");

        if (name &&
            strcmp(jget_or(jget_str(labels, "tekton.dev/pipelineTask"), ""), pt_name) == 0 &&
            strcmp(jget_or(jget_str(labels, "tekton.dev/pipelineRun"), ""), c->name) == 0 &&
            !has_string(names, name))
            found[k++] = json_string(name);
    }
    qsort(found, k, sizeof(*found), cmp_json_string);
    if (k > 0 && !names)
        names = json_array();
    for (i = 0; i < k; i++)
        json_array_append_new(names, found[i]);
    free(found);
    return names;
}

/* Names recorded in status.childReferences for this PT, in order; NULL when none. */
static json_t *listed_names(const struct ctx *c, const char *pt_name)
{
    const json_t *ref;
    json_t *names = NULL;
    size_t i;

    json_array_foreach(json_object_get(c->status, "childReferences"), i, ref) {
        const char *n = jget_str(ref, "name");

        if (!n || strcmp(jget_or(jget_str(ref, "pipelineTaskName"), ""), pt_name) != 0)
            continue;
        if (!names)
            names = json_array();
        json_array_append_new(names, json_string(n));
    }
    return adopt_unlisted(c, pt_name, names);
}

/* ---- results of finished tasks (§10) ---- */

static int cmp_child_name(const void *a, const void *b)
{
    return strcmp(jget_or(jget_str(json_object_get(*(json_t *const *)a, "metadata"), "name"), ""),
                  jget_or(jget_str(json_object_get(*(json_t *const *)b, "metadata"), "name"), ""));
}

static void add_result_keys(struct substitute_table *t, const char *prefix, const char *pt,
                            const char *result, const json_t *v)
{
    char *key = xasprintf("%s.%s.results.%s", prefix, pt, result);

    pipelinerun_resolve_table_add(t, key, v);
    if (json_is_object(v))
        substitute_table_set_object(t, key, v);
    free(key);
}

/* Matrixed PTs: each string result aggregated over the children sorted by name (Q15). */
static void add_matrix_results(struct ctx *c, const struct pt *pt)
{
    size_t n = json_array_size(pt->children);
    json_t **sorted = xcalloc(n + 1, sizeof(*sorted));
    json_t *agg = json_object();
    const char *k;
    json_t *v;
    char *key;

    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(pt->children, i);
    qsort(sorted, n, sizeof(*sorted), cmp_child_name);
    for (size_t i = 0; i < n; i++) {
        const json_t *res;
        size_t j;

        json_array_foreach(json_object_get(json_object_get(sorted[i], "status"), "results"), j,
                           res) {
            const char *name = jget_str(res, "name");

            if (!name || !json_is_string(json_object_get(res, "value")))
                continue;
            if (!json_object_get(agg, name))
                json_object_set_new(agg, name, json_array());
            json_array_append(json_object_get(agg, name), json_object_get(res, "value"));
        }
    }
    json_object_foreach(agg, k, v) {
        add_result_keys(c->results, "tasks", pt->name, k, v);
        key = xasprintf("tasks.%s.matrix.%s.length", pt->name, k);
        char num[24];

        (void)snprintf(num, sizeof(num), "%zu", json_array_size(v));
        substitute_table_set_string(c->results, key, num);
        free(key);
    }
    key = xasprintf("tasks.%s.matrix.length", pt->name);
    char num[24];

    (void)snprintf(num, sizeof(num), "%zu", json_array_size(pt->names));
    substitute_table_set_string(c->results, key, num);
    free(key);
    json_decref(agg);
    free(sorted);
}

static void add_results(struct ctx *c, const struct pt *pt)
{
    const json_t *tr = json_array_get(pt->children, 0);
    const json_t *res;
    size_t i;

    if (!pt_finished(pt))
        return;
    if (pt->combos) {
        add_matrix_results(c, pt);
        return;
    }
    json_array_foreach(json_object_get(json_object_get(tr, "status"), "results"), i, res) {
        const char *name = jget_str(res, "name");

        if (name)
            add_result_keys(c->results, pt->final ? "finally" : "tasks", pt->name, name,
                            json_object_get(res, "value"));
    }
}

/* ---- per-pass views of a PT ---- */

static const char *const applied_fields[] = {
    "params[]=",
    "matrix.params[]=",
    "matrix.include[].params[]=",
    "displayName",
    "workspaces[].subPath",
    "when[].input~",
    "when[].values[]*",
    "taskRef.params[]=",
    "taskRef.name",
    NULL,
};

/* A copy of the PT with finished tasks' results (and 'extra', if any) substituted. */
static json_t *applied_pt(const struct ctx *c, const struct pt *pt,
                          const struct substitute_table *extra)
{
    json_t *copy = json_deep_copy(pt->pt);
    struct substitute_table *t = substitute_table_new();

    substitute_table_merge(t, c->results);
    if (extra)
        substitute_table_merge(t, extra);
    (void)substitute_json(copy, applied_fields, t, NULL);
    substitute_table_free(t);
    return copy;
}

/*
 * The first result reference still unresolved in the PT's params, matrix or when: returns true
 * and new strings naming the task and the result.
 */
static bool unresolved_ref(const json_t *applied, char **ret_task, char **ret_result)
{
    static const char *const keys[] = {"params", "matrix", "when"};
    bool found = false;

    for (size_t i = 0; i < 3 && !found; i++) {
        char *text = json_dumps(json_object_get(applied, keys[i]), JSON_COMPACT | JSON_ENCODE_ANY);
        size_t start, len;

        if (text && substitute_find_ref(text, "tasks.", &start, &len)) {
            const char *p = text + start + strlen("$(tasks.");
            size_t tl = strcspn(p, ".)");

            if (strncmp(p + tl, ".results.", 9) == 0) {
                const char *r = p + tl + 9;

                *ret_task = xstrndup(p, tl);
                *ret_result = xstrndup(r, strcspn(r, ".[)"));
                found = true;
            }
        }
        free(text);
    }
    return found;
}

static bool when_true(const json_t *when)
{
    const json_t *we;
    size_t i;

    json_array_foreach(when, i, we) {
        const char *input = jget_or(jget_str(we, "input"), "");
        bool in = strcmp(jget_or(jget_str(we, "operator"), ""), "in") == 0;
        bool match = false;
        const json_t *v;
        size_t k;

        json_array_foreach(json_object_get(we, "values"), k, v) {
            match = match || (json_is_string(v) && strcmp(json_string_value(v), input) == 0);
        }
        if (match != in)
            return false;
    }
    return true;
}

static void discover(struct ctx *c, bool listed)
{
    for (size_t i = 0; i < c->npts; i++) {
        struct pt *pt = &c->pts[i];
        json_t *names = listed ? listed_names(c, pt->name) : NULL;
        json_t *applied;
        size_t count;

        if (pt->names || (listed && !names))
            continue;
        applied = applied_pt(c, pt, NULL);
        pt->combos = matrix_combos(json_object_get(applied, "matrix"));
        if (pt->combos && json_array_size(pt->combos) == 0 && !matrix_has_empty(applied)) {
            /* a matrix that yields nothing and has no empty array runs once, unmatrixed */
            json_decref(pt->combos);
            pt->combos = NULL;
        }
        json_decref(applied);
        count = pt->combos ? json_array_size(pt->combos) : 1;
        if (!names) {
            names = json_array();
            for (size_t k = 0; k < count; k++) {
                char *n = pipelinerun_plan_child_name(c->name, pt->name, k, count);

                json_array_append_new(names, json_string(n));
                free(n);
            }
        }
        pt->listed = listed;
        pt->names = names;
        lookup_children(c, pt);
        add_results(c, pt);
    }
}

/* ---- timeouts (§16) ---- */

static int64_t timeout_of(const json_t *timeouts, const char *key, bool *ret_set)
{
    int64_t ns = 0;
    const char *text = jget_str(timeouts, key);

    *ret_set = text && goduration_parse(text, &ns) == 0 && ns >= 0;
    return *ret_set ? ns : 0;
}

static void compute_timeouts(struct ctx *c)
{
    const json_t *to = json_object_get(json_object_get(c->pr, "spec"), "timeouts");
    bool p_set, t_set, f_set;
    const char *fst = jget_str(c->status, "finallyStartTime");

    c->timeout_pipeline = timeout_of(to, "pipeline", &p_set);
    c->timeout_tasks = timeout_of(to, "tasks", &t_set);
    c->timeout_finally = timeout_of(to, "finally", &f_set);
    if (!t_set && p_set && f_set && c->timeout_pipeline && c->timeout_finally) {
        c->timeout_tasks = c->timeout_pipeline - c->timeout_finally;
        t_set = true;
    }
    if (!f_set && p_set && t_set && c->timeout_pipeline && c->timeout_tasks &&
        json_object_get(to, "tasks")) {
        c->timeout_finally = c->timeout_pipeline - c->timeout_tasks;
        f_set = true;
    }
    c->tasks_set = t_set;
    c->finally_set = f_set;
    (void)taskrun_status_parse_time(jget_or(jget_str(c->status, "startTime"), ""), &c->start);
    c->finally_start = 0;
    if (fst)
        (void)taskrun_status_parse_time(fst, &c->finally_start);
}

static bool expired(const struct ctx *c, time_t since, int64_t ns)
{
    return since && ns > 0 && (int64_t)(c->in->now - since) * TEKTON_NS_PER_SECOND > ns;
}

static bool pipeline_expired(const struct ctx *c)
{
    return expired(c, c->start, c->timeout_pipeline);
}

static bool tasks_expired(const struct ctx *c)
{
    return c->tasks_set && expired(c, c->start, c->timeout_tasks);
}

static bool finally_expired(const struct ctx *c)
{
    return c->finally_set && expired(c, c->finally_start, c->timeout_finally);
}

static int64_t until(const struct ctx *c, time_t since, int64_t ns)
{
    int64_t left = ns - (int64_t)(c->in->now - since) * TEKTON_NS_PER_SECOND;

    return left > 0 ? left : 1;
}

/* §4.2 step 13. */
static void plan_requeue(struct ctx *c)
{
    int64_t r = 0;

    if (c->plan->done || !c->start)
        return;
    if (c->finally_start && c->finally_set && c->timeout_finally) {
        r = until(c, c->finally_start, c->timeout_finally);
        if (c->timeout_pipeline && until(c, c->start, c->timeout_pipeline) < r)
            r = until(c, c->start, c->timeout_pipeline);
    } else if (!c->finally_start && c->tasks_set && c->timeout_tasks) {
        r = until(c, c->start, c->timeout_tasks);
    } else if (c->timeout_pipeline) {
        r = until(c, c->start, c->timeout_pipeline);
    }
    c->plan->requeue_after_ns = r;
}

static void cancel_running(struct ctx *c, bool finals, const char *message)
{
    for (size_t i = 0; i < c->npts; i++) {
        const json_t *tr;
        size_t k;

        if (c->pts[i].final != finals)
            continue;
        json_array_foreach(c->pts[i].children, k, tr) {
            if (!json_is_null(tr) && child_state(tr) == PT_RUNNING)
                json_array_append_new(c->plan->cancel_taskruns,
                                      json_pack("{s:s, s:s}", "name",
                                                jget_str(json_object_get(tr, "metadata"), "name"),
                                                "statusMessage", message));
        }
    }
}

/* ---- skipping (§12) and scheduling (§6.3) ---- */

/* Done for scheduling (§6.2): skipped, finished, or failed result validation this pass. */
static bool pt_done(const struct pt *pt)
{
    return pt->skip || pt_finished(pt) || pt->invalid_msg;
}

static bool status_is(const struct ctx *c, const char *value)
{
    return c->spec_status && strcmp(c->spec_status, value) == 0;
}

static bool results_missing_skips(const struct ctx *c, const struct pt *pt, const json_t *applied)
{
    char *task = NULL, *result = NULL;
    bool skip = false;

    if (unresolved_ref(applied, &task, &result)) {
        const struct pt *from = find_pt(c, task);

        skip = pt->ignored || (from && from->skip_by_when);
    }
    free(task);
    free(result);
    return skip;
}

static const char *dag_skip_reason(struct ctx *c, struct pt *pt, size_t i, const json_t *applied)
{
    bool preds_done = true, parent_skipped = false;

    for (size_t k = 0; k < pipeline_dag_dep_count(c->dag, i); k++) {
        const struct pt *pred = &c->pts[pipeline_dag_dep(c->dag, i, k)];

        preds_done = preds_done && pt_done(pred);
        parent_skipped = parent_skipped || (pred->skip && !pred->skip_by_when);
    }
    if (c->stopping)
        return "PipelineRun was stopping";
    if (status_is(c, "CancelledRunFinally"))
        return "PipelineRun was gracefully cancelled";
    if (status_is(c, "StoppedRunFinally"))
        return "PipelineRun was gracefully stopped";
    if (preds_done && !when_true(json_object_get(applied, "when"))) {
        pt->skip_by_when = true;
        return "When Expressions evaluated to false";
    }
    if (parent_skipped)
        return "Parent Tasks were skipped";
    if (!preds_done)
        return NULL;
    if (results_missing_skips(c, pt, applied))
        return "Results were missing";
    if (pipeline_expired(c))
        return "PipelineRun timeout has been reached";
    if (tasks_expired(c))
        return "PipelineRun Tasks timeout has been reached";
    if (matrix_has_empty(applied))
        return "Matrix Parameters have an empty array";
    return NULL;
}

static void eval_dag(struct ctx *c, size_t i)
{
    struct pt *pt = &c->pts[i];
    json_t *applied;

    if (pt->evaluated)
        return;
    pt->evaluated = true;
    for (size_t k = 0; k < pipeline_dag_dep_count(c->dag, i); k++)
        eval_dag(c, pipeline_dag_dep(c->dag, i, k));
    applied = applied_pt(c, pt, NULL);
    json_decref(pt->when);
    pt->when = json_incref(json_object_get(applied, "when"));
    pt->skip = NULL;
    pt->skip_by_when = false;
    if (pt->state == PT_NOT_STARTED && !pt->invalid_msg)
        pt->skip = dag_skip_reason(c, pt, i, applied);
    json_decref(applied);
}

static void eval_all_dag(struct ctx *c)
{
    c->stopping = false;
    for (size_t i = 0; i < c->ntasks; i++) {
        if ((pt_failure(&c->pts[i]) && !(c->pts[i].state == PT_FAILED && c->pts[i].ignored)) ||
            c->pts[i].invalid_msg)
            c->stopping = true;
        c->pts[i].evaluated = false;
    }
    for (size_t i = 0; i < c->ntasks; i++)
        eval_dag(c, i);
}

static bool preds_done(const struct ctx *c, size_t i)
{
    for (size_t k = 0; k < pipeline_dag_dep_count(c->dag, i); k++) {
        if (!pt_done(&c->pts[pipeline_dag_dep(c->dag, i, k)]))
            return false;
    }
    return true;
}

static char *validation_message(const struct ctx *c, const char *task, const char *result,
                                const char *consumer)
{
    const struct pt *from = find_pt(c, task);

    if (from && from->state == PT_SUCCEEDED)
        return xasprintf("task \"%s\" completed successfully but did not emit the result \"%s\", "
                         "which is referenced by task \"%s\"",
                         task, result, consumer);
    return xasprintf("Invalid task result reference: Could not find result with name %s for "
                     "pipeline task %s",
                     result, task);
}

static void schedule_dag(struct ctx *c)
{
    bool invalid = false;

    if (c->stopping || status_is(c, "Cancelled") || status_is(c, "CancelledRunFinally") ||
        status_is(c, "StoppedRunFinally"))
        return;
    for (size_t i = 0; i < c->ntasks; i++) {
        struct pt *pt = &c->pts[i];
        char *task = NULL, *result = NULL;
        json_t *applied;

        if (pt->skip || pt_finished(pt) || !preds_done(c, i))
            continue;
        applied = applied_pt(c, pt, NULL);
        if (unresolved_ref(applied, &task, &result)) {
            pt->invalid_msg = validation_message(c, task, result, pt->name);
            invalid = true;
        } else {
            pt->create = true;
        }
        free(task);
        free(result);
        json_decref(applied);
    }
    if (!invalid)
        return;
    for (size_t i = 0; i < c->ntasks; i++)
        c->pts[i].create = false;
    eval_all_dag(c);
}

static void add_exec_status(struct ctx *c, struct substitute_table *t)
{
    const char *all = "Succeeded";

    for (size_t i = 0; i < c->ntasks; i++) {
        const struct pt *pt = &c->pts[i];
        const char *st = pt->state == PT_SUCCEEDED ? "Succeeded"
                         : pt_failure(pt)          ? "Failed"
                                                   : "None";
        const char *reason = "";
        char *key;
        const json_t *tr;
        size_t k;

        const char *first = NULL, *bad = NULL;

        json_array_foreach(pt->children, k, tr) {
            const char *r = jget_str(condition(json_object_get(tr, "status")), "reason");

            if (json_is_null(tr))
                continue;
            if (!first)
                first = jget_or(r, "");
            if (!bad && child_state(tr) != PT_SUCCEEDED)
                bad = jget_or(r, "");
        }
        reason = bad ? bad : jget_or(first, "");
        if (pt_failure(pt))
            all = "Failed";
        else if (pt->skip && strcmp(all, "Failed") != 0)
            all = "Completed";
        key = xasprintf("tasks.%s.status", pt->name);
        substitute_table_set_string(t, key, st);
        free(key);
        key = xasprintf("tasks.%s.reason", pt->name);
        substitute_table_set_string(t, key, reason);
        free(key);
    }
    substitute_table_set_string(t, "tasks.status", all);
}

static const char *final_skip_reason(struct ctx *c, struct pt *pt, const json_t *applied)
{
    char *task = NULL, *result = NULL;
    bool missing = unresolved_ref(applied, &task, &result);

    free(task);
    free(result);
    if (missing)
        return "Results were missing";
    if (!when_true(json_object_get(applied, "when"))) {
        pt->skip_by_when = true;
        return "When Expressions evaluated to false";
    }
    if (pipeline_expired(c))
        return "PipelineRun timeout has been reached";
    if (finally_expired(c))
        return "PipelineRun Finally timeout has been reached";
    if (matrix_has_empty(applied))
        return "Matrix Parameters have an empty array";
    return NULL;
}

static bool dag_done(const struct ctx *c)
{
    for (size_t i = 0; i < c->ntasks; i++) {
        if (!pt_done(&c->pts[i]))
            return false;
    }
    return true;
}

static void schedule_finally(struct ctx *c, struct substitute_table *exec)
{
    bool any = false;

    if (!dag_done(c) || c->ntasks == c->npts)
        return;
    add_exec_status(c, exec);
    for (size_t i = c->ntasks; i < c->npts; i++) {
        struct pt *pt = &c->pts[i];
        json_t *applied = applied_pt(c, pt, exec);

        json_decref(pt->when);
        pt->when = json_incref(json_object_get(applied, "when"));
        if (pt->state == PT_NOT_STARTED) {
            pt->skip = final_skip_reason(c, pt, applied);
            pt->create = !pt->skip;
        }
        any = any || pt->create || pt->state != PT_NOT_STARTED;
        json_decref(applied);
    }
    if (any && !c->finally_start) {
        char buf[21];

        c->finally_start = c->in->now;
        format_now(c, buf);
        json_object_set_new(c->status, "finallyStartTime", json_string(buf));
    }
}

/* ---- child TaskRuns (§13, §14) ---- */

static json_t *owner_ref(const struct ctx *c)
{
    return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "tekton.dev/v1", "kind",
                     "PipelineRun", "name", c->name, "uid", c->uid, "controller", 1,
                     "blockOwnerDeletion", 1);
}

/* Fill 'dst' with the members of 'src' it lacks ("first writer wins"). */
static void fill_missing(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;

    if (!json_is_object(src))
        return;
    json_object_foreach((json_t *)(uintptr_t)src, k, v) {
        if (!json_object_get(dst, k) && json_is_string(v))
            json_object_set(dst, k, v);
    }
}

static void merge_named_list(json_t *high, const json_t *low, const char *key)
{
    json_t *list = json_object_get(high, key);
    const json_t *item;
    size_t i;

    if (!json_is_array(json_object_get(low, key)))
        return;
    if (!json_is_array(list)) {
        json_object_set(high, key, json_object_get(low, key));
        return;
    }
    json_array_foreach(json_object_get(low, key), i, item) {
        if (jget_str(item, "name") && !jget_named(list, "name", jget_str(item, "name")))
            json_array_append(list, (json_t *)(uintptr_t)item);
    }
}

/* §13.5: 'high' wins field by field; env and volumes merged by name; hostNetwork OR-ed. */
static json_t *merge_pod_template(const json_t *high, const json_t *low)
{
    json_t *out;
    const char *k;
    json_t *v;

    if (!json_is_object(high))
        return json_is_object(low) ? json_deep_copy(low) : NULL;
    out = json_deep_copy(high);
    if (!json_is_object(low))
        return out;
    json_object_foreach((json_t *)(uintptr_t)low, k, v) {
        if (strcmp(k, "env") == 0 || strcmp(k, "volumes") == 0)
            merge_named_list(out, low, k);
        else if (strcmp(k, "hostNetwork") == 0)
            json_object_set_new(
                out, k, json_boolean(json_is_true(v) || json_is_true(json_object_get(out, k))));
        else if (!json_object_get(out, k))
            json_object_set(out, k, v);
    }
    return out;
}

static const json_t *run_spec_for(const struct ctx *c, const char *pt)
{
    return jget_named(json_object_get(json_object_get(c->pr, "spec"), "taskRunSpecs"),
                      "pipelineTaskName", pt);
}

static json_t *child_labels(const struct ctx *c, const struct pt *pt, const json_t *trs)
{
    json_t *labels = json_object();
    const json_t *meta = json_object_get(pt->pt, "taskSpec");

    fill_missing(labels, json_object_get(json_object_get(trs, "metadata"), "labels"));
    fill_missing(labels, c->plan->labels);
    json_t *own = json_pack("{s:s, s:s, s:s, s:s}", "tekton.dev/pipelineRun", c->name,
                            "tekton.dev/pipelineRunUID", c->uid, "tekton.dev/pipelineTask",
                            pt->name, "tekton.dev/memberOf", pt->final ? "finally" : "tasks");

    fill_missing(labels, own);
    json_decref(own);
    fill_missing(labels, json_object_get(json_object_get(meta, "metadata"), "labels"));
    return labels;
}

static json_t *child_annotations(const struct ctx *c, const struct pt *pt, const json_t *trs)
{
    json_t *ann = json_object();
    const json_t *pr_ann = json_object_get(json_object_get(c->pr, "metadata"), "annotations");
    const char *k;
    json_t *v;

    fill_missing(ann, json_object_get(json_object_get(trs, "metadata"), "annotations"));
    if (json_is_object(pr_ann)) {
        json_object_foreach((json_t *)(uintptr_t)pr_ann, k, v) {
            if (!strstr(k, "chains.tekton.dev/") && !json_object_get(ann, k) &&
                strcmp(k, "kubectl.kubernetes.io/last-applied-configuration") != 0)
                json_object_set(ann, k, v);
        }
    }
    fill_missing(ann,
                 json_object_get(json_object_get(json_object_get(pt->pt, "taskSpec"), "metadata"),
                                 "annotations"));
    if (pt->ignored)
        json_object_set_new(ann, "pipeline.tekton.dev/pipeline-task-on-error",
                            json_string("continue"));
    return ann;
}

/* §16.3. Returns a new string or NULL (leave unset). */
static char *child_timeout(const struct ctx *c, const struct pt *pt, const json_t *trs)
{
    int64_t section = pt->final ? c->timeout_finally : c->timeout_tasks;
    bool set = pt->final ? c->finally_set : c->tasks_set;
    char buf[32];

    if (jget_str(trs, "timeout"))
        return xstrdup(jget_str(trs, "timeout"));
    if (jget_str(pt->pt, "timeout"))
        return xstrdup(jget_str(pt->pt, "timeout"));
    if (set &&
        (section == 0 || section > c->in->cfg->default_timeout_minutes * 60 * TEKTON_NS_PER_SECOND))
        return xstrdup(goduration_format(section, buf, sizeof(buf)));
    return NULL;
}

/* join(a, b) of §14.2 with path cleaning. */
static char *join_subpath(const char *a, const char *b)
{
    json_t *parts;
    struct buf out;
    char *joined;
    const char *p;

    if (!a || !*a)
        return xstrdup(jget_or(b, ""));
    if (!b || !*b)
        return xstrdup(a);
    joined = xasprintf("%s/%s", a, b);
    parts = json_array();
    for (p = joined; *p;) {
        size_t len = strcspn(p, "/");

        if (len == 2 && strncmp(p, "..", 2) == 0 && json_array_size(parts) > 0)
            json_array_remove(parts, json_array_size(parts) - 1);
        else if (len > 0 && !(len == 1 && *p == '.'))
            json_array_append_new(parts, json_stringn(p, len));
        p += len;
        if (*p == '/')
            p++;
    }
    buf_init(&out, 64 * 1024);
    if (a[0] == '/')
        (void)buf_append_str(&out, "/");
    for (size_t i = 0; i < json_array_size(parts); i++)
        (void)buf_printf(&out, "%s%s", i ? "/" : "", json_string_value(json_array_get(parts, i)));
    free(joined);
    json_decref(parts);
    joined = buf_take(&out);
    buf_done(&out);
    return joined ? joined : xstrdup("");
}

static void add_propagated_workspaces(const struct pt *pt, json_t *list)
{
    char *text = json_dumps(pt->taskspec, JSON_COMPACT);
    const char *p;

    for (p = text ? strstr(text, "$(workspaces.") : NULL; p; p = strstr(p, "$(workspaces.")) {
        const char *name = p + strlen("$(workspaces.");
        size_t len = strcspn(name, ".)");
        char *n = xstrndup(name, len);

        if (len && !jget_named(list, "name", n))
            json_array_append_new(list, json_pack("{s:s}", "name", n));
        free(n);
        p = name;
    }
    free(text);
}

/*
 * The child's subPath with the context variables of §14.2; $(context.pipeline.name) is the
 * pipelineRef name here, empty for inline specs (Q9).
 */
static void set_subpath(const struct ctx *c, json_t *binding, const char *sub)
{
    struct substitute_table *t = substitute_table_new();
    const json_t *ref = json_object_get(json_object_get(c->pr, "spec"), "pipelineRef");
    char *done = NULL;

    substitute_table_set_string(t, "context.pipelineRun.name", c->name);
    substitute_table_set_string(t, "context.pipelineRun.namespace", c->ns);
    substitute_table_set_string(t, "context.pipelineRun.uid", c->uid);
    substitute_table_set_string(t, "context.pipeline.name", jget_or(jget_str(ref, "name"), ""));
    if (substitute_string(t, sub, &done) == 0)
        json_object_set_new(binding, "subPath", json_string(done));
    free(done);
    substitute_table_free(t);
}

static int child_binding(struct ctx *c, const struct pt *pt, const json_t *entry, json_t *out)
{
    const char *tws = jget_str(entry, "name");
    const char *pws = jget_str(entry, "workspace");
    const json_t *b;
    json_t *binding;
    char *sub;

    if (!pws || !*pws)
        pws = tws;
    b = jget_named(json_object_get(json_object_get(c->pr, "spec"), "workspaces"), "name", pws);
    if (!b) {
        const json_t *decl = jget_named(json_object_get(pt->taskspec, "workspaces"), "name", tws);

        if (json_is_true(json_object_get(decl, "optional")))
            return 0;
        return fail(c, PIPELINERUN_REASON_CREATE_RUN,
                    "expected workspace \"%s\" to be provided by pipelinerun for pipeline task "
                    "\"%s\"",
                    pws, pt->name);
    }
    sub = join_subpath(jget_str(b, "subPath"), jget_str(entry, "subPath"));
    if (json_object_get(b, "volumeClaimTemplate")) {
        const json_t *vct = json_object_get(b, "volumeClaimTemplate");
        char *claim =
            childname_pvc(jget_str(json_object_get(vct, "metadata"), "name"), pws, c->uid);

        binding =
            json_pack("{s:s, s:{s:s}}", "name", tws, "persistentVolumeClaim", "claimName", claim);
        free(claim);
    } else {
        struct substitute_table *t = substitute_table_new();

        /* the run's own bindings see only params it gives, and finished results (§14.1) */
        substitute_table_merge(t, c->given);
        substitute_table_merge(t, c->results);
        binding = json_deep_copy(b);
        (void)substitute_json(binding, substitute_binding_fields, t, NULL);
        json_object_set_new(binding, "name", json_string(tws));
        substitute_table_free(t);
    }
    json_object_del(binding, "subPath");
    if (*sub)
        set_subpath(c, binding, sub);
    free(sub);
    json_array_append_new(out, binding);
    return 0;
}

static int child_workspaces(struct ctx *c, const struct pt *pt, const json_t *applied, json_t **ret)
{
    json_t *entries = json_deep_copy(json_object_get(applied, "workspaces"));
    json_t *out = json_array();
    const json_t *e;
    size_t i;
    int r = 0;

    if (!json_is_array(entries)) {
        json_decref(entries);
        entries = json_array();
    }
    if (json_object_get(pt->pt, "taskSpec"))
        add_propagated_workspaces(pt, entries);
    json_array_foreach(entries, i, e) {
        r = child_binding(c, pt, e, out);
        if (r < 0)
            break;
    }
    json_decref(entries);
    if (r < 0) {
        json_decref(out);
        return r;
    }
    *ret = out;
    return 0;
}

static json_t *child_spec(struct ctx *c, const struct pt *pt, const json_t *applied,
                          const json_t *combo, const struct substitute_table *t)
{
    const json_t *trs = run_spec_for(c, pt->name);
    const json_t *trt = json_object_get(json_object_get(c->pr, "spec"), "taskRunTemplate");
    json_t *spec = json_object();
    json_t *params = combo ? sorted_params((json_t *)(uintptr_t)combo) : json_array();
    json_t *pod;
    char *timeout = child_timeout(c, pt, trs);
    const char *sa = jget_str(trs, "serviceAccountName");

    json_array_extend(params, json_object_get(applied, "params"));
    json_object_set_new(spec, "params", params);
    if (json_object_get(pt->pt, "taskRef")) {
        json_t *ref = json_deep_copy(json_object_get(applied, "taskRef"));

        if (!jget_str(ref, "kind"))
            json_object_set_new(ref, "kind", json_string("Task"));
        json_object_set_new(spec, "taskRef", ref);
    } else {
        json_t *ts = json_deep_copy(pt->taskspec);

        (void)substitute_taskspec(ts, t, NULL);
        json_object_set_new(spec, "taskSpec", ts);
    }
    if (!sa || !*sa)
        sa = jget_str(trt, "serviceAccountName");
    if (sa && *sa)
        json_object_set_new(spec, "serviceAccountName", json_string(sa));
    json_t *trt_pod =
        merge_pod_template(json_object_get(trt, "podTemplate"), c->in->cfg->default_pod_template);

    pod = merge_pod_template(json_object_get(trs, "podTemplate"), trt_pod);
    json_decref(trt_pod);
    if (pod)
        json_object_set_new(spec, "podTemplate", pod);
    if (timeout)
        json_object_set_new(spec, "timeout", json_string(timeout));
    free(timeout);
    if (json_integer_value(json_object_get(pt->pt, "retries")) > 0)
        json_object_set(spec, "retries", json_object_get(pt->pt, "retries"));
    static const char *const passthrough[] = {"stepSpecs", "sidecarSpecs", "computeResources"};

    for (size_t i = 0; i < 3; i++) {
        if (json_object_get(trs, passthrough[i]))
            json_object_set(spec, passthrough[i], json_object_get(trs, passthrough[i]));
    }
    return spec;
}

/* Fan-out of a PT about to start, from its params with every result now known (§7). */
static void refresh_fan_out(const struct ctx *c, struct pt *pt, const json_t *applied)
{
    size_t count;

    json_decref(pt->combos);
    pt->combos = matrix_combos(json_object_get(applied, "matrix"));
    if (pt->combos && json_array_size(pt->combos) == 0) {
        json_decref(pt->combos);
        pt->combos = NULL;
    }
    count = pt->combos ? json_array_size(pt->combos) : 1;
    json_decref(pt->names);
    json_decref(pt->children);
    pt->names = json_array();
    pt->children = json_array();
    for (size_t k = 0; k < count; k++) {
        char *n = pipelinerun_plan_child_name(c->name, pt->name, k, count);

        json_array_append_new(pt->names, json_string(n));
        json_array_append_new(pt->children, json_null());
        free(n);
    }
}

/*
 * §9.5, §19.2: after results, matrix params must be arrays and include params strings. The
 * message reproduces Tekton's missing printf argument (Q5).
 */
static int check_matrix_types(struct ctx *c, const struct pt *pt, const json_t *applied)
{
    const json_t *matrix = json_object_get(applied, "matrix");
    const json_t *p;
    const json_t *inc;
    size_t i, k;

    json_array_foreach(json_object_get(matrix, "params"), i, p) {
        if (!json_is_array(json_object_get(p, "value")))
            return fail(
                c, PIPELINERUN_REASON_MATRIX_TYPES,
                "[User error] Failed to validate matrix \"parameters of type array only are "
                "allowed, but param \\\"%s\\\" has type \\\"%s\\\" in pipelineTask "
                "\\\"%s\\\"\" with error %%!v(MISSING)",
                jget_or(jget_str(p, "name"), ""),
                json_is_object(json_object_get(p, "value")) ? "object" : "string", pt->name);
    }
    json_array_foreach(json_object_get(matrix, "include"), i, inc) {
        json_array_foreach(json_object_get(inc, "params"), k, p) {
            if (!json_is_string(json_object_get(p, "value")))
                return fail(c, PIPELINERUN_REASON_MATRIX_TYPES,
                            "[User error] Failed to validate matrix \"parameters of type string "
                            "only are allowed, but param \\\"%s\\\" has type \\\"%s\\\" in "
                            "pipelineTask \\\"%s\\\"\" with error %%!v(MISSING)",
                            jget_or(jget_str(p, "name"), ""),
                            json_is_array(json_object_get(p, "value")) ? "array" : "object",
                            pt->name);
        }
    }
    return 0;
}

static int build_children(struct ctx *c, struct pt *pt, const struct substitute_table *exec)
{
    struct substitute_table *t = substitute_table_new();
    json_t *applied;
    json_t *wss = NULL;
    char num[24];
    int r;

    (void)snprintf(num, sizeof(num), "%lld",
                   (long long)json_integer_value(json_object_get(pt->pt, "retries")));
    substitute_table_merge(t, c->results);
    if (exec)
        substitute_table_merge(t, exec);
    substitute_table_set_string(t, "context.pipelineTask.retries", num);
    applied = applied_pt(c, pt, t);
    if (pt->state == PT_NOT_STARTED && !pt->listed)
        refresh_fan_out(c, pt, applied);
    r = check_matrix_types(c, pt, applied);
    if (r == 0)
        r = child_workspaces(c, pt, applied, &wss);
    for (size_t k = 0; r == 0 && k < json_array_size(pt->names); k++) {
        const json_t *trs = run_spec_for(c, pt->name);
        json_t *tr;

        if (!json_is_null(json_array_get(pt->children, k)))
            continue;
        tr =
            json_pack("{s:s, s:s, s:{s:O, s:s, s:o, s:o, s:o}, s:o}", "apiVersion", "tekton.dev/v1",
                      "kind", "TaskRun", "metadata", "name", json_array_get(pt->names, k),
                      "namespace", c->ns, "labels", child_labels(c, pt, trs), "annotations",
                      child_annotations(c, pt, trs), "ownerReferences", owner_ref(c), "spec",
                      child_spec(c, pt, applied, json_array_get(pt->combos, k), t));
        json_object_set(json_object_get(tr, "spec"), "workspaces", wss);
        if (json_array_size(wss) == 0)
            json_object_del(json_object_get(tr, "spec"), "workspaces");
        json_array_append_new(c->plan->create_taskruns, tr);
    }
    json_decref(wss);
    json_decref(applied);
    substitute_table_free(t);
    return r;
}

static void plan_pvcs(struct ctx *c)
{
    const json_t *b;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(c->pr, "spec"), "workspaces"), i, b) {
        const json_t *vct = json_object_get(b, "volumeClaimTemplate");
        json_t *pvc;
        json_t *meta;
        char *name;

        if (!json_is_object(vct) || !jget_str(b, "name"))
            continue;
        name = childname_pvc(jget_str(json_object_get(vct, "metadata"), "name"),
                             jget_str(b, "name"), c->uid);
        pvc = json_deep_copy(vct);
        json_object_set_new(pvc, "apiVersion", json_string("v1"));
        json_object_set_new(pvc, "kind", json_string("PersistentVolumeClaim"));
        meta = jget_child_object(pvc, "metadata");
        json_object_set_new(meta, "name", json_string(name));
        json_object_set_new(meta, "namespace", json_string(c->ns));
        json_object_set_new(meta, "ownerReferences", owner_ref(c));
        json_object_del(pvc, "status");
        json_array_append_new(c->plan->create_pvcs, pvc);
        free(name);
    }
}

/* ---- status (§21) ---- */

struct counts {
    size_t succeeded, failed, ignored, cancelled, skipped, skipped_timeout, incomplete, invalid;
};

static bool is_timeout_skip(const char *reason)
{
    return strstr(reason, "timeout has been reached") != NULL;
}

static void count_pts(const struct ctx *c, struct counts *n)
{
    memset(n, 0, sizeof(*n));
    for (size_t i = 0; i < c->npts; i++) {
        const struct pt *pt = &c->pts[i];

        if (pt->create || pt->state == PT_RUNNING)
            n->incomplete++;
        else if (pt->state == PT_SUCCEEDED)
            n->succeeded++;
        else if (pt->state == PT_TIMED_OUT)
            n->failed++;
        else if (pt->state == PT_CANCELLED)
            n->cancelled++;
        else if (pt->state == PT_FAILED && pt->ignored)
            n->ignored++;
        else if (pt->state == PT_FAILED)
            n->failed++;
        else if (pt->invalid_msg)
            n->invalid++;
        else if (pt->skip && is_timeout_skip(pt->skip)) {
            n->skipped++;
            n->skipped_timeout++;
        } else if (pt->skip) {
            n->skipped++;
        } else {
            n->incomplete++;
        }
    }
}

static void append_invalid(const struct ctx *c, struct buf *b)
{
    struct buf texts;
    json_t **sorted = xcalloc(c->npts + 1, sizeof(*sorted));
    size_t n = 0;

    for (size_t k = 0; k < c->npts; k++) {
        if (c->pts[k].invalid_msg)
            sorted[n++] =
                json_pack("{s:s, s:s}", "name", c->pts[k].name, "value", c->pts[k].invalid_msg);
    }
    qsort(sorted, n, sizeof(*sorted), cmp_param_name);
    buf_init(&texts, MAX_MESSAGE);
    for (size_t i = 0; i < n; i++) {
        (void)buf_printf(&texts, "%s%s", i ? "; " : "", jget_str(sorted[i], "value"));
        json_decref(sorted[i]);
    }
    if (buf_len(&texts) > MAX_VALIDATION)
        (void)buf_printf(b, " (%.*s...)", MAX_VALIDATION, buf_str(&texts));
    else if (buf_len(&texts))
        (void)buf_printf(b, " (%s)", buf_str(&texts));
    buf_done(&texts);
    free(sorted);
}

static bool finals_done(const struct ctx *c)
{
    for (size_t i = c->ntasks; i < c->npts; i++) {
        if (!pt_done(&c->pts[i]) || c->pts[i].create)
            return false;
    }
    return true;
}

static void settled_condition(struct ctx *c, const struct counts *n)
{
    size_t completed = n->succeeded + n->failed + n->cancelled + n->ignored;
    struct buf m;

    buf_init(&m, MAX_MESSAGE);
    if (n->ignored)
        (void)buf_printf(&m,
                         "Tasks Completed: %zu (Failed: %zu (Ignored: %zu), Cancelled %zu), "
                         "Skipped: %zu",
                         completed, n->failed + n->ignored, n->ignored, n->cancelled, n->skipped);
    else
        (void)buf_printf(&m, "Tasks Completed: %zu (Failed: %zu, Cancelled %zu), Skipped: %zu",
                         completed, n->failed, n->cancelled, n->skipped);
    if (n->invalid) {
        (void)buf_printf(&m, ", Failed Validation: %zu", n->invalid);
        append_invalid(c, &m);
    }
    if (n->invalid)
        set_condition(c, "False", PIPELINERUN_REASON_VALIDATION, buf_str(&m));
    else if (n->failed || n->skipped_timeout)
        set_condition(c, "False", PIPELINERUN_REASON_FAILED, buf_str(&m));
    else if (status_is(c, "CancelledRunFinally") || status_is(c, "StoppedRunFinally")) {
        char *msg = xasprintf("PipelineRun \"%s\" was cancelled", c->name);

        set_condition(c, "False", PIPELINERUN_REASON_CANCELLED, msg);
        free(msg);
    } else if (n->cancelled)
        set_condition(c, "False", PIPELINERUN_REASON_CANCELLED, buf_str(&m));
    else if (n->skipped)
        set_condition(c, "True", PIPELINERUN_REASON_COMPLETED, buf_str(&m));
    else
        set_condition(c, "True", PIPELINERUN_REASON_SUCCEEDED, buf_str(&m));
    buf_done(&m);
    c->plan->done = true;
}

static void compute_condition(struct ctx *c)
{
    struct counts n;
    char buf[32];
    char *msg;

    count_pts(c, &n);
    if (pipeline_expired(c)) {
        msg = xasprintf("PipelineRun \"%s\" failed to finish within \"%s\"", c->name,
                        goduration_format(c->timeout_pipeline, buf, sizeof(buf)));
        set_condition(c, "False", PIPELINERUN_REASON_TIMEOUT, msg);
        c->plan->done = true;
    } else if (tasks_expired(c) && finals_done(c)) {
        msg = xasprintf("PipelineRun \"%s\" failed due to tasks failed to finish within \"%s\"",
                        c->name, goduration_format(c->timeout_tasks, buf, sizeof(buf)));
        set_condition(c, "False", PIPELINERUN_REASON_TIMEOUT, msg);
        c->plan->done = true;
    } else if (n.incomplete == 0) {
        settled_condition(c, &n);
        return;
    } else {
        const char *reason = PIPELINERUN_REASON_RUNNING;

        if (tasks_expired(c) && !finals_done(c))
            reason = PIPELINERUN_REASON_TIMEOUT_FINALLY;
        else if (status_is(c, "CancelledRunFinally"))
            reason = PIPELINERUN_REASON_CANCELLED_FINALLY;
        else if (status_is(c, "StoppedRunFinally"))
            reason = PIPELINERUN_REASON_STOPPED_FINALLY;
        else if (n.cancelled || (n.failed && finals_done(c)))
            reason = PIPELINERUN_REASON_STOPPING;
        msg = xasprintf("Tasks Completed: %zu (Failed: %zu, Cancelled %zu), Incomplete: %zu, "
                        "Skipped: %zu",
                        n.succeeded + n.failed + n.cancelled + n.ignored, n.failed, n.cancelled,
                        n.incomplete, n.skipped);
        set_condition(c, "Unknown", reason, msg);
    }
    free(msg);
}

/*
 * §19.3: the names of the named include entries the combination matches, space-separated, or
 * else the PT displayName; either with the combination's $(params.x) replaced. A new string.
 */
static char *matrix_display_name(const struct pt *pt, const json_t *combo)
{
    struct substitute_table *t = substitute_table_new();
    const json_t *inc;
    const char *k;
    json_t *v;
    struct buf b;
    char *out = NULL;
    size_t i;

    json_object_foreach((json_t *)(uintptr_t)combo, k, v) {
        char *key = xasprintf("params.%s", k);

        pipelinerun_resolve_table_add(t, key, v);
        free(key);
    }
    buf_init(&b, MAX_MESSAGE);
    json_array_foreach(json_object_get(json_object_get(pt->pt, "matrix"), "include"), i, inc) {
        const json_t *p;
        size_t j;
        bool match = jget_str(inc, "name") != NULL;

        json_array_foreach(json_object_get(inc, "params"), j, p) {
            match = match && json_equal(json_object_get(combo, jget_or(jget_str(p, "name"), "")),
                                        json_object_get(p, "value"));
        }
        if (match)
            (void)buf_printf(&b, "%s%s", buf_len(&b) ? " " : "", jget_str(inc, "name"));
    }
    if (substitute_string(
            t, buf_len(&b) ? buf_str(&b) : jget_or(jget_str(pt->pt, "displayName"), ""), &out) < 0)
        out = xstrdup("");
    buf_done(&b);
    substitute_table_free(t);
    return out;
}

static void add_refs_of(const struct ctx *c, const struct pt *pt, json_t *refs)
{
    const json_t *n;
    size_t k;

    json_array_foreach(pt->names, k, n) {
        json_t *ref;

        if (json_is_null(json_array_get(pt->children, k)) && !pt->create)
            continue;
        ref = json_pack("{s:s, s:s, s:O, s:s}", "apiVersion", "tekton.dev/v1", "kind", "TaskRun",
                        "name", n, "pipelineTaskName", pt->name);
        char *display = pt->combos ? matrix_display_name(pt, json_array_get(pt->combos, k))
                                   : xstrdup(jget_or(jget_str(pt->pt, "displayName"), ""));

        if (*display)
            json_object_set_new(ref, "displayName", json_string(display));
        free(display);
        if (json_array_size(pt->when) > 0)
            json_object_set(ref, "whenExpressions", pt->when);
        json_array_append_new(refs, ref);
    }
}

static void set_child_refs(struct ctx *c)
{
    json_t *refs = json_array();
    json_t *skipped = json_array();

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->npts; i++) {
            const struct pt *pt = &c->pts[i];

            if ((pt->state != PT_NOT_STARTED) == (pass == 0))
                add_refs_of(c, pt, refs);
        }
    }
    for (size_t i = 0; i < c->npts; i++) {
        const struct pt *pt = &c->pts[i];
        json_t *entry;

        if (!pt->skip)
            continue;
        entry = json_pack("{s:s, s:s}", "name", pt->name, "reason", pt->skip);
        if (json_array_size(pt->when) > 0 && (!pt->final || pt->skip_by_when))
            json_object_set(entry, "whenExpressions", pt->when);
        json_array_append_new(skipped, entry);
    }
    json_object_set_new(c->status, "childReferences", refs);
    if (json_array_size(skipped))
        json_object_set_new(c->status, "skippedTasks", skipped);
    else
        json_decref(skipped);
}

/* §10.5: pipeline results once the run is done. */
static void set_results(struct ctx *c)
{
    static const char *const value_path[] = {"value**", NULL};
    json_t *out = json_array();
    struct buf bad;
    const json_t *res;
    size_t i;

    buf_init(&bad, MAX_MESSAGE);
    json_array_foreach(json_object_get(c->spec, "results"), i, res) {
        json_t *copy = json_pack("{s:O}", "value", json_object_get(res, "value"));
        const json_t *whole = json_is_string(json_object_get(res, "value"))
                                  ? substitute_whole_ref(c->results, jget_str(res, "value"))
                                  : NULL;
        char *text;
        char *task = NULL, *result = NULL;

        if (whole)
            json_object_set(copy, "value", (json_t *)(uintptr_t)whole);
        else
            (void)substitute_json(copy, value_path, c->results, NULL);
        text = json_dumps(copy, JSON_COMPACT);
        if (text && (strstr(text, "$(tasks.") || strstr(text, "$(finally."))) {
            json_t *wrap = json_pack("{s:{s:s}}", "params", "v", text);

            if (unresolved_ref(wrap, &task, &result) && find_pt(c, task) &&
                find_pt(c, task)->state == PT_SUCCEEDED)
                (void)buf_printf(&bad, "%s%s", buf_len(&bad) ? " " : "", jget_str(res, "name"));
            json_decref(wrap);
        } else {
            json_array_append_new(out, json_pack("{s:s, s:O}", "name", jget_str(res, "name"),
                                                 "value", json_object_get(copy, "value")));
        }
        free(task);
        free(result);
        free(text);
        json_decref(copy);
    }
    if (json_array_size(out))
        json_object_set(c->status, "results", out);
    if (buf_len(&bad))
        fail(c, PIPELINERUN_REASON_PIPELINE_RESULT,
             "Failed to get PipelineResult from TaskRun Results for PipelineRun %s: invalid "
             "pipelineresults [%s], the referenced results don't exist",
             c->name, buf_str(&bad));
    buf_done(&bad);
    json_decref(out);
}

/* ---- the pass ---- */

static void build_pts(struct ctx *c)
{
    const json_t *tasks = json_object_get(c->spec, "tasks");
    const json_t *finally = json_object_get(c->spec, "finally");

    c->ntasks = json_array_size(tasks);
    c->npts = c->ntasks + json_array_size(finally);
    c->pts = xcalloc(c->npts + 1, sizeof(*c->pts));
    for (size_t i = 0; i < c->npts; i++) {
        struct pt *pt = &c->pts[i];

        pt->final = i >= c->ntasks;
        pt->pt = pt->final ? json_array_get(finally, i - c->ntasks) : json_array_get(tasks, i);
        pt->name = jget_or(jget_str(pt->pt, "name"), "");
    }
}

static bool any_child(const struct ctx *c)
{
    for (size_t i = 0; i < c->npts; i++) {
        if (c->pts[i].state != PT_NOT_STARTED)
            return true;
    }
    return false;
}

static int check_static_result_refs(struct ctx *c)
{
    for (size_t i = 0; i < c->npts; i++) {
        json_t *refs = json_array();
        char *text = json_dumps(c->pts[i].pt, JSON_COMPACT);
        const char *p;
        int r = 0;

        for (p = text ? strstr(text, "$(tasks.") : NULL; r == 0 && p; p = strstr(p, "$(tasks.")) {
            const char *name = p + 8;
            size_t len = strcspn(name, ".)");
            char *task = xstrndup(name, len);
            const struct pt *from = find_pt(c, task);

            p = name;
            if (strncmp(name + len, ".results.", 9) == 0) {
                char *res = xstrndup(name + len + 9, strcspn(name + len + 9, ".[)"));

                if (!from)
                    r = fail(c, PIPELINERUN_REASON_TASK_RESULT_REF,
                             "referenced pipeline task \"%s\" does not exist", task);
                else if (!jget_named(json_object_get(from->taskspec, "results"), "name", res))
                    r = fail(c, PIPELINERUN_REASON_TASK_RESULT_REF,
                             "invalid result reference in pipeline task \"%s\": \"%s\" is not a "
                             "named result returned by pipeline task \"%s\"",
                             c->pts[i].name, res, task);
                free(res);
            }
            free(task);
        }
        free(text);
        json_decref(refs);
        if (r < 0)
            return r;
    }
    return 0;
}

/* §4.3 step 21c: an optional pipeline workspace bound to a task workspace that is required. */
static int check_optional_workspaces(struct ctx *c)
{
    const json_t *decls = json_object_get(c->spec, "workspaces");

    for (size_t i = 0; i < c->npts; i++) {
        const json_t *entry;
        size_t k;

        json_array_foreach(json_object_get(c->pts[i].pt, "workspaces"), k, entry) {
            const char *pws = jget_str(entry, "workspace");
            const json_t *decl;
            const json_t *tdecl;

            if (!pws || !*pws)
                pws = jget_str(entry, "name");
            decl = jget_named(decls, "name", pws);
            tdecl = jget_named(json_object_get(c->pts[i].taskspec, "workspaces"), "name",
                               jget_str(entry, "name"));
            if (json_is_true(json_object_get(decl, "optional")) && tdecl &&
                !json_is_true(json_object_get(tdecl, "optional")))
                return fail(c, PIPELINERUN_REASON_OPTIONAL_WS,
                            "[User error] Optional workspace not supported by task: pipeline "
                            "workspace \"%s\" is marked optional but pipeline task \"%s\" requires "
                            "it be provided",
                            pws, c->pts[i].name);
        }
    }
    return 0;
}

/* §4.3 step 26: startTime moves earlier to the oldest child's creation. */
static void clamp_start(struct ctx *c)
{
    time_t oldest = c->start;

    for (size_t i = 0; i < c->npts; i++) {
        const json_t *tr;
        size_t k;

        json_array_foreach(c->pts[i].children, k, tr) {
            const char *ct = jget_str(json_object_get(tr, "metadata"), "creationTimestamp");
            time_t t;

            if (ct && taskrun_status_parse_time(ct, &t) == 0 && t < oldest)
                oldest = t;
        }
    }
    if (oldest < c->start) {
        char buf[21];

        taskrun_status_format_time(oldest, buf);
        json_object_set_new(c->status, "startTime", json_string(buf));
    }
}

/* §3.7: no PT fans out to more than default-max-matrix-combinations-count children. */
static int check_matrix_sizes(struct ctx *c)
{
    int64_t max = c->in->cfg->default_max_matrix_combinations_count;

    for (size_t i = 0; i < c->npts; i++) {
        json_t *combos = matrix_combos(json_object_get(c->pts[i].pt, "matrix"));
        size_t n = json_array_size(combos);

        json_decref(combos);
        if (max > 0 && n > (size_t)max)
            return fail(c, PIPELINERUN_REASON_VALIDATION,
                        "[User error] Pipeline %s/%s can't be Run; it has an invalid spec: "
                        "expected 0 <= %zu <= %lld: spec.%s[%zu].matrix",
                        c->ns, c->pipeline_name, n, (long long)max,
                        c->pts[i].final ? "finally" : "tasks", c->pts[i].final ? i - c->ntasks : i);
    }
    return 0;
}

/* §4.3 steps 18 and 21: checks against the resolved Tasks; PVCs before the first child. */
static int check_tasks(struct ctx *c)
{
    int r = check_matrix_sizes(c);

    for (size_t i = 0; i < c->npts && r == 0; i++)
        r = check_task_params(c, &c->pts[i]);
    if (r < 0 || any_child(c))
        return r;
    r = check_static_result_refs(c);
    if (r == 0)
        r = check_optional_workspaces(c);
    if (r == 0)
        plan_pvcs(c);
    return r;
}

/* Children to stop: timeouts (§16.4) and graceful cancel while DAG tasks run (§17.2). */
static void plan_cancels(struct ctx *c)
{
    if (pipeline_expired(c)) {
        cancel_running(c, false, PIPELINERUN_TIMEOUT_MESSAGE);
        cancel_running(c, true, PIPELINERUN_TIMEOUT_MESSAGE);
    } else if (!c->finally_start && tasks_expired(c)) {
        cancel_running(c, false, PIPELINERUN_TIMEOUT_MESSAGE);
    } else if (finally_expired(c)) {
        cancel_running(c, true, PIPELINERUN_TIMEOUT_MESSAGE);
    }
    if (!status_is(c, "CancelledRunFinally"))
        return;
    for (size_t i = 0; i < c->ntasks; i++) {
        if (c->pts[i].state == PT_RUNNING) {
            cancel_listed(c, PIPELINERUN_CANCEL_MESSAGE);
            return;
        }
    }
}

static int run_pass(struct ctx *c)
{
    struct substitute_table *exec = substitute_table_new();
    int r = 0;

    c->results = substitute_table_new();
    compute_timeouts(c);
    discover(c, true);
    discover(c, false);
    r = check_tasks(c);
    if (r < 0)
        goto out;
    plan_cancels(c);
    eval_all_dag(c);
    if (!pipeline_expired(c))
        schedule_dag(c);
    schedule_finally(c, exec);
    for (size_t i = 0; i < c->npts && r == 0; i++) {
        if (c->pts[i].create)
            r = build_children(c, &c->pts[i], c->pts[i].final ? exec : NULL);
    }
    if (r < 0) {
        json_array_clear(c->plan->create_taskruns);
        goto out;
    }
    compute_condition(c);
    clamp_start(c);
    set_child_refs(c);
    if (c->plan->done)
        set_results(c);
out:
    substitute_table_free(exec);
    return r;
}

static int setup(struct ctx *c, const struct pipelinerun_plan_input *in,
                 struct pipelinerun_plan *plan)
{
    const json_t *meta = json_object_get(in->pipelinerun, "metadata");

    if (!json_is_object(in->pipelinerun) || !jget_str(meta, "name") || !in->cfg)
        return -EINVAL;
    memset(plan, 0, sizeof(*plan));
    c->in = in;
    c->plan = plan;
    c->pr = pipelinerun_resolve_defaults(in->pipelinerun, in->cfg);
    c->name = jget_str(meta, "name");
    c->ns = jget_or(jget_str(meta, "namespace"), "default");
    c->uid = jget_or(jget_str(meta, "uid"), "");
    plan->status = json_is_object(json_object_get(in->pipelinerun, "status"))
                       ? json_deep_copy(json_object_get(in->pipelinerun, "status"))
                       : json_object();
    c->status = plan->status;
    plan->missing_tasks = json_array();
    plan->create_taskruns = json_array();
    plan->cancel_taskruns = json_array();
    plan->create_pvcs = json_array();
    c->spec_status = jget_str(json_object_get(c->pr, "spec"), "status");
    plan_labels(c);
    return 0;
}

static void ctx_done(struct ctx *c)
{
    for (size_t i = 0; i < c->npts; i++) {
        json_decref(c->pts[i].taskspec);
        json_decref(c->pts[i].combos);
        json_decref(c->pts[i].names);
        json_decref(c->pts[i].children);
        json_decref(c->pts[i].when);
        free(c->pts[i].invalid_msg);
    }
    free(c->pts);
    substitute_table_free(c->results);
    pipelinerun_resolved_free(c->res);
    json_decref(c->spec);
    json_decref(c->pr);
}

/* The pipeline spec, validated and substituted: 0, or 1 when this pass ends here. */
static int resolve(struct ctx *c)
{
    struct pipelinerun_resolve_input in = {
        .pipelinerun = c->pr,
        .pipeline = c->in->pipeline,
        .pipeline_error = c->in->pipeline_error,
    };
    struct pipelinerun_resolve_error err = {0};
    int r;

    r = pipelinerun_resolve(&in, &c->res, &err);
    if (r > 0)
        c->plan->need_pipeline = true;
    if (r < 0)
        fail(c, err.reason ? err.reason : PIPELINERUN_REASON_VALIDATION, "%s",
             err.message ? err.message : "");
    pipelinerun_resolve_error_done(&err);
    if (r != 0)
        return 1;
    c->spec = json_incref(c->res->spec);
    c->pipeline_name = c->res->pipeline_name;
    c->dag = c->res->dag;
    c->given = c->res->given;
    json_object_set(c->status, "pipelineSpec", c->spec);
    build_pts(c);
    return 0;
}

static void plan_body(struct ctx *c)
{
    bool pending = status_is(c, "PipelineRunPending");
    int r;

    if (is_done(c->status)) {
        c->plan->done = true;
        return;
    }
    if (pending && !jget_str(c->status, "startTime")) {
        char *msg = xasprintf("PipelineRun \"%s\" is pending", c->name);

        set_condition(c, "Unknown", PIPELINERUN_REASON_PENDING, msg);
        free(msg);
        return;
    }
    if (!jget_str(c->status, "startTime"))
        start_run(c);
    if (status_is(c, "Cancelled")) {
        (void)hard_cancel(c);
        return;
    }
    if (resolve(c) != 0)
        return;
    r = resolve_tasks(c);
    if (r != 0)
        return;
    (void)run_pass(c);
    plan_requeue(c);
}

int pipelinerun_plan(const struct pipelinerun_plan_input *in, struct pipelinerun_plan *ret_plan)
{
    struct ctx c = {0};
    int r;

    r = setup(&c, in, ret_plan);
    if (r < 0)
        return r;
    plan_body(&c);
    ctx_done(&c);
    return 0;
}

void pipelinerun_plan_done(struct pipelinerun_plan *plan)
{
    json_decref(plan->status);
    json_decref(plan->labels);
    json_decref(plan->missing_tasks);
    json_decref(plan->create_taskruns);
    json_decref(plan->cancel_taskruns);
    json_decref(plan->create_pvcs);
    memset(plan, 0, sizeof(*plan));
}
