/*
 * Metrics registry: a fixed table of metric families, each a bounded set of label series,
 * rendered as Prometheus text. It knows nothing about HTTP (controller/web serves it) nor
 * about TaskRuns (the reconcilers compute the values and call the setters).
 */
#include "controller/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

enum kind { KIND_GAUGE, KIND_COUNTER, KIND_HISTOGRAM };

enum family_id {
    F_RUNNING_TASKRUNS,
    F_RUNNING_PIPELINERUNS,
    F_TASKRUN_DURATION,
    F_PIPELINERUN_DURATION,
    F_PIPELINERUN_TASKRUN_DURATION,
    F_TASKRUN_TOTAL,
    F_PIPELINERUN_TOTAL,
    F_POD_LATENCY,
    F_WORKQUEUE_DEPTH,
    F_RECONCILE_COUNT,
    F_PASS_CAUSES,
    F_PASS_OUTCOMES,
    F_DROPPED,
    NFAMILIES
};

/* Tekton's duration buckets, in seconds (tekton-pipelinerun.md §24.1). */
static const double duration_bounds[] = {10,   30,   60,    300,   900,   1800,
                                         3600, 5400, 10800, 21600, 43200, 86400};
/* Pod latency buckets, in milliseconds: Tekton's range is 5 ms to 10 s. */
static const double latency_bounds[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name;
    const char *help;
    enum kind kind;
    const double *bounds;
    size_t nbounds;
} families[NFAMILIES] = {
    [F_RUNNING_TASKRUNS] = {"tekton_pipelines_controller_running_taskruns",
                            "Number of taskruns executing currently", KIND_GAUGE, NULL, 0},
    [F_RUNNING_PIPELINERUNS] = {"tekton_pipelines_controller_running_pipelineruns",
                                "Number of pipelineruns executing currently", KIND_GAUGE, NULL, 0},
    [F_TASKRUN_DURATION] = {"tekton_pipelines_controller_taskrun_duration_seconds",
                            "The taskrun's execution time in seconds", KIND_HISTOGRAM,
                            duration_bounds, NBOUNDS(duration_bounds)},
    [F_PIPELINERUN_DURATION] = {"tekton_pipelines_controller_pipelinerun_duration_seconds",
                                "The pipelinerun execution time in seconds", KIND_HISTOGRAM,
                                duration_bounds, NBOUNDS(duration_bounds)},
    [F_PIPELINERUN_TASKRUN_DURATION] =
        {"tekton_pipelines_controller_pipelinerun_taskrun_duration_seconds",
         "The pipelinerun's taskrun execution time in seconds", KIND_HISTOGRAM, duration_bounds,
         NBOUNDS(duration_bounds)},
    [F_TASKRUN_TOTAL] = {"tekton_pipelines_controller_taskrun_total",
                         "Number of taskruns that finished", KIND_COUNTER, NULL, 0},
    [F_PIPELINERUN_TOTAL] = {"tekton_pipelines_controller_pipelinerun_total",
                             "Number of pipelineruns that finished", KIND_COUNTER, NULL, 0},
    [F_POD_LATENCY] = {"tekton_pipelines_controller_taskruns_pod_latency_milliseconds",
                       "Time from a taskrun pod's creation to its scheduling", KIND_HISTOGRAM,
                       latency_bounds, NBOUNDS(latency_bounds)},
    [F_WORKQUEUE_DEPTH] = {"kn_workqueue_depth", "Current depth of the work queue", KIND_GAUGE,
                           NULL, 0},
    [F_RECONCILE_COUNT] = {"tekton_pipelines_controller_reconcile_count",
                           "Number of reconcile passes", KIND_COUNTER, NULL, 0},
    [F_PASS_CAUSES] = {"tektite_reconcile_pass_causes_total",
                       "Reconcile passes by why their key was queued (a pass may have several)",
                       KIND_COUNTER, NULL, 0},
    [F_PASS_OUTCOMES] = {"tektite_reconcile_pass_outcomes_total",
                         "Reconcile passes by what they did", KIND_COUNTER, NULL, 0},
    [F_DROPPED] = {"tektite_metrics_series_dropped_total",
                   "Label sets not recorded because a metric reached its series bound",
                   KIND_COUNTER, NULL, 0},
};

struct series {
    char *labels;   /* rendered 'a="x",b="y"'; "" for none */
    double value;   /* gauge or counter value; the sum for a histogram */
    double count;   /* histogram observations */
    double *counts; /* histogram: per-bucket, not cumulative */
};

struct family {
    json_t *index; /* labels -> position in 'series' */
    struct series *series;
    size_t len;
    size_t cap;
};

struct metrics {
    struct family f[NFAMILIES];
};

struct metrics *metrics_new(void)
{
    struct metrics *m = xcalloc(1, sizeof(*m));

    for (int i = 0; i < NFAMILIES; i++)
        m->f[i].index = json_object();
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < NFAMILIES; i++) {
        for (size_t j = 0; j < m->f[i].len; j++) {
            free(m->f[i].series[j].labels);
            free(m->f[i].series[j].counts);
        }
        free(m->f[i].series);
        json_decref(m->f[i].index);
    }
    free(m);
}

/* Append name="value" to 'b', escaping as the text format requires (\\, \", \n). */
static void append_label(struct buf *b, const char *name, const char *value)
{
    if (buf_len(b) > 0)
        (void)buf_append_str(b, ",");
    (void)buf_printf(b, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            (void)buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            (void)buf_append_str(b, "\\n");
        else
            (void)buf_append(b, p, 1);
    }
    (void)buf_append_str(b, "\"");
}

/*
 * The series of family 'id' for the 'n' label name/value pairs in 'kv', created on first
 * use. Returns NULL (and counts the drop) once the family holds METRICS_MAX_SERIES series.
 */
static struct series *series_get(struct metrics *m, enum family_id id, const char *const *kv,
                                 size_t n)
{
    struct family *f = &m->f[id];
    struct series *s;
    struct buf b;
    json_t *pos;

    buf_init(&b, (size_t)-1); /* label values come from objects the API server accepted */
    for (size_t i = 0; i < n; i++)
        append_label(&b, kv[2 * i], kv[2 * i + 1]);
    pos = json_object_get(f->index, buf_str(&b));
    if (pos) {
        buf_done(&b);
        return &f->series[json_integer_value(pos)];
    }
    if (f->len >= METRICS_MAX_SERIES) {
        buf_done(&b);
        if (id != F_DROPPED) /* its one unlabelled series is never at the bound */
            series_get(m, F_DROPPED, NULL, 0)->value++;
        return NULL;
    }
    if (f->len == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 4;
        f->series = xrealloc(f->series, f->cap * sizeof(*f->series));
    }
    s = &f->series[f->len];
    memset(s, 0, sizeof(*s));
    if (families[id].kind == KIND_HISTOGRAM)
        s->counts = xcalloc(families[id].nbounds, sizeof(*s->counts));
    s->labels = buf_take(&b);
    json_object_set_new(f->index, s->labels, json_integer((json_int_t)f->len));
    f->len++;
    return s;
}

static void observe(struct series *s, enum family_id id, double v)
{
    for (size_t i = 0; i < families[id].nbounds; i++) {
        if (v <= families[id].bounds[i]) {
            s->counts[i]++;
            break;
        }
    }
    s->count++;
    s->value += v;
}

static bool is_set(const char *s)
{
    return s && *s;
}

static void set_gauge(struct metrics *m, enum family_id id, double v)
{
    series_get(m, id, NULL, 0)->value = v; /* the unlabelled series is never dropped */
}

void metrics_set_running_taskruns(struct metrics *m, unsigned long n)
{
    set_gauge(m, F_RUNNING_TASKRUNS, (double)n);
}

void metrics_set_running_pipelineruns(struct metrics *m, unsigned long n)
{
    set_gauge(m, F_RUNNING_PIPELINERUNS, (double)n);
}

/*
 * Count a finished run in 'total'{status} and observe 'v' in 'hist' labelled with namespace,
 * status and 'owner_label'. Labels are rendered sorted by name, as Prometheus clients do, so
 * the pipeline label comes before status and the task label after it.
 */
static int observe_run(struct metrics *m, enum family_id hist, enum family_id total,
                       const char *owner_label, const char *ns, const char *owner,
                       const char *status, double v)
{
    const char *status_kv[] = {"status", status};
    const char *kv[6] = {"namespace", ns};
    bool owner_first = strcmp(owner_label, "status") < 0;
    struct series *s;

    if (!is_set(ns) || !is_set(status) || !isfinite(v) || v < 0)
        return -EINVAL;
    kv[owner_first ? 2 : 4] = owner_label;
    kv[owner_first ? 3 : 5] = is_set(owner) ? owner : "anonymous";
    kv[owner_first ? 4 : 2] = "status";
    kv[owner_first ? 5 : 3] = status;
    s = series_get(m, total, status_kv, 1);
    if (s)
        s->value++;
    s = series_get(m, hist, kv, 3);
    if (!s)
        return -ENOSPC;
    observe(s, hist, v);
    return 0;
}

int metrics_observe_taskrun(struct metrics *m, const char *ns, const char *task, const char *status,
                            double seconds)
{
    return observe_run(m, F_TASKRUN_DURATION, F_TASKRUN_TOTAL, "task", ns, task, status, seconds);
}

int metrics_observe_pipelinerun(struct metrics *m, const char *ns, const char *pipeline,
                                const char *status, double seconds)
{
    return observe_run(m, F_PIPELINERUN_DURATION, F_PIPELINERUN_TOTAL, "pipeline", ns, pipeline,
                       status, seconds);
}

int metrics_observe_pipelinerun_taskrun(struct metrics *m, const char *ns, const char *pipeline,
                                        const char *task, const char *status, double seconds)
{
    const char *status_kv[] = {"status", status};
    const char *kv[] = {"namespace", ns,     "pipeline", is_set(pipeline) ? pipeline : "anonymous",
                        "status",    status, "task",     is_set(task) ? task : "anonymous"};
    struct series *s;

    if (!is_set(ns) || !is_set(status) || !isfinite(seconds) || seconds < 0)
        return -EINVAL;
    s = series_get(m, F_TASKRUN_TOTAL, status_kv, 1);
    if (s)
        s->value++;
    s = series_get(m, F_PIPELINERUN_TASKRUN_DURATION, kv, 4);
    if (!s)
        return -ENOSPC;
    observe(s, F_PIPELINERUN_TASKRUN_DURATION, seconds);
    return 0;
}

int metrics_observe_pod_latency(struct metrics *m, const char *ns, const char *task, double ms)
{
    const char *kv[] = {"namespace", ns, "task", is_set(task) ? task : "anonymous"};
    struct series *s;

    if (!is_set(ns) || !isfinite(ms) || ms < 0)
        return -EINVAL;
    s = series_get(m, F_POD_LATENCY, kv, 2);
    if (!s)
        return -ENOSPC;
    observe(s, F_POD_LATENCY, ms);
    return 0;
}

int metrics_set_workqueue_depth(struct metrics *m, const char *name, unsigned long depth)
{
    const char *kv[] = {"name", name};
    struct series *s;

    if (!is_set(name))
        return -EINVAL;
    s = series_get(m, F_WORKQUEUE_DEPTH, kv, 1);
    if (!s)
        return -ENOSPC;
    s->value = (double)depth;
    return 0;
}

int metrics_count_reconcile(struct metrics *m, const char *reconciler, bool success)
{
    const char *kv[] = {"reconciler", reconciler, "success", success ? "true" : "false"};
    struct series *s;

    if (!is_set(reconciler))
        return -EINVAL;
    s = series_get(m, F_RECONCILE_COUNT, kv, 2);
    if (!s)
        return -ENOSPC;
    s->value++;
    return 0;
}

int metrics_count_pass(struct metrics *m, const char *reconciler, const char *cause,
                       const char *outcome)
{
    const char *kv_cause[] = {"cause", cause, "reconciler", reconciler};
    const char *kv_outcome[] = {"outcome", outcome, "reconciler", reconciler};
    struct series *s;

    if (!is_set(reconciler) || (!is_set(cause) && !is_set(outcome)))
        return -EINVAL;
    s = series_get(m, is_set(cause) ? F_PASS_CAUSES : F_PASS_OUTCOMES,
                   is_set(cause) ? kv_cause : kv_outcome, 2);
    if (!s)
        return -ENOSPC;
    s->value++;
    return 0;
}

/* Append a sample value: integers without a fraction, everything else round-trippable. */
static void append_value(struct buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        (void)buf_printf(b, "%.0f", v);
    else
        (void)buf_printf(b, "%.17g", v);
}

static void append_sample(struct buf *b, const char *name, const char *suffix, const char *labels,
                          const char *extra, double v)
{
    bool braces = *labels || extra;

    (void)buf_printf(b, "%s%s%s%s%s%s%s ", name, suffix, braces ? "{" : "", labels,
                     *labels && extra ? "," : "", extra ? extra : "", braces ? "}" : "");
    append_value(b, v);
    (void)buf_append_str(b, "\n");
}

static void render_histogram(struct buf *b, enum family_id id, const struct series *s)
{
    const char *name = families[id].name;
    double cumulative = 0;

    for (size_t i = 0; i < families[id].nbounds; i++) {
        char le[40];

        cumulative += s->counts[i];
        (void)snprintf(le, sizeof(le), "le=\"%g\"", families[id].bounds[i]);
        append_sample(b, name, "_bucket", s->labels, le, cumulative);
    }
    append_sample(b, name, "_bucket", s->labels, "le=\"+Inf\"", s->count);
    append_sample(b, name, "_sum", s->labels, NULL, s->value);
    append_sample(b, name, "_count", s->labels, NULL, s->count);
}

char *metrics_render(const struct metrics *m)
{
    static const char *const type_names[] = {"gauge", "counter", "histogram"};
    struct buf b;

    buf_init(&b, (size_t)-1);
    for (int id = 0; id < NFAMILIES; id++) {
        const struct family *f = &m->f[id];

        (void)buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", families[id].name, families[id].help,
                         families[id].name, type_names[families[id].kind]);
        /* an unlabelled gauge or counter reads 0 before its first update */
        if (f->len == 0 && families[id].kind != KIND_HISTOGRAM &&
            (id == F_RUNNING_TASKRUNS || id == F_RUNNING_PIPELINERUNS || id == F_DROPPED))
            append_sample(&b, families[id].name, "", "", NULL, 0);
        for (size_t i = 0; i < f->len; i++) {
            if (families[id].kind == KIND_HISTOGRAM)
                render_histogram(&b, id, &f->series[i]);
            else
                append_sample(&b, families[id].name, "", f->series[i].labels, NULL,
                              f->series[i].value);
        }
    }
    return buf_take(&b);
}
