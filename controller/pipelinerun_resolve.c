/*
 * PipelineRun resolution: defaults, the pipeline spec, the DAG, validation against the run and
 * pipeline-level substitution, with Tekton's reasons and messages. It leaves Tasks, children,
 * scheduling and status to pipelinerun_plan, and fetching anything to the reconciler.
 */
#include "controller/pipelinerun_resolve.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/childname.h"
#include "controller/goduration.h"
#include "controller/pipeline_dag.h"
#include "controller/substitute.h"
#include "controller/tekton_config.h"
#include "lib/buf.h"
#include "lib/jsonget.h"
#include "lib/xalloc.h"

#define MAX_MESSAGE       (64 * 1024)
#define MAX_DEFAULT_DEPTH 10

struct pt {
    const json_t *pt; /* borrowed from ctx.spec */
    const char *name;
    bool final;
};

struct ctx {
    const struct pipelinerun_resolve_input *in;
    struct pipelinerun_resolve_error *err;
    const json_t *pr;     /* borrowed: the defaulted run */
    const json_t *status; /* borrowed: its status, or NULL */
    const char *name;
    const char *ns;
    const char *uid;
    char *pipeline_name;
    json_t *spec;
    struct pt *pts;
    size_t npts;
    size_t ntasks;
    struct pipeline_dag *dag;
    struct substitute_table *params;
    struct substitute_table *given;
};

/* ---- small JSON helpers ---- */

static void rename_key(json_t *obj, const char *from, const char *to)
{
    json_t *v = json_object_get(obj, from);

    if (!v || json_object_get(obj, to))
        return;
    json_object_set(obj, to, v);
    json_object_del(obj, from);
}

static const char *value_type(const json_t *v)
{
    if (json_is_array(v))
        return "array";
    if (json_is_object(v))
        return "object";
    return "string";
}

const char *pipelinerun_resolve_param_type(const json_t *ps)
{
    const char *t = jget_str(ps, "type");

    if (t && *t)
        return t;
    if (json_object_get(ps, "properties"))
        return "object";
    if (json_object_get(ps, "default"))
        return value_type(json_object_get(ps, "default"));
    return "string";
}

static const char *param_spec_type(const json_t *ps)
{
    return pipelinerun_resolve_param_type(ps);
}

void pipelinerun_resolve_error_done(struct pipelinerun_resolve_error *err)
{
    free(err->message);
    free(err->admission);
    err->message = NULL;
    err->admission = NULL;
    err->reason = NULL;
}

/* Record the first failure of the pass; always returns -EINVAL. */
static int fail(struct ctx *c, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *reason, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (c->err->message) {
        free(msg);
        return -EINVAL;
    }
    c->err->reason = reason;
    c->err->message = msg;
    return -EINVAL;
}

/* "[User error] Pipeline <ns>/<pipeline> can't be Run; it has an invalid spec: <what>" */
static int invalid_spec(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid_spec(struct ctx *c, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        abort();
    va_end(ap);
    fail(c, PIPELINERUN_REASON_VALIDATION,
         "[User error] Pipeline %s/%s can't be Run; it has an invalid spec: %s", c->ns,
         c->pipeline_name, what);
    if (!c->err->admission)
        c->err->admission = what;
    else
        free(what);
    return -EINVAL;
}

/* ---- the run: v1beta1 -> v1, defaults (§2.1) ---- */

static void pr_from_v1beta1(json_t *spec)
{
    json_t *trt = jget_child_object(spec, "taskRunTemplate");
    json_t *trs = json_object_get(spec, "taskRunSpecs");
    json_t *item;
    size_t i;

    if (json_object_get(spec, "serviceAccountName") && !json_object_get(trt, "serviceAccountName"))
        json_object_set(trt, "serviceAccountName", json_object_get(spec, "serviceAccountName"));
    if (json_object_get(spec, "podTemplate") && !json_object_get(trt, "podTemplate"))
        json_object_set(trt, "podTemplate", json_object_get(spec, "podTemplate"));
    if (json_is_string(json_object_get(spec, "timeout")))
        json_object_set(jget_child_object(spec, "timeouts"), "pipeline",
                        json_object_get(spec, "timeout"));
    json_array_foreach(trs, i, item) {
        rename_key(item, "taskServiceAccountName", "serviceAccountName");
        rename_key(item, "taskPodTemplate", "podTemplate");
    }
}

json_t *pipelinerun_resolve_defaults(const json_t *pipelinerun, const struct tekton_config *cfg)
{
    json_t *pr = json_is_object(pipelinerun) ? json_deep_copy(pipelinerun) : json_object();
    json_t *spec = jget_child_object(pr, "spec");
    json_t *timeouts;
    json_t *trt;
    const char *sa;

    if (strcmp(jget_or(jget_str(pr, "apiVersion"), ""), "tekton.dev/v1beta1") == 0)
        pr_from_v1beta1(spec);
    timeouts = jget_child_object(spec, "timeouts");
    trt = jget_child_object(spec, "taskRunTemplate");
    sa = jget_str(trt, "serviceAccountName");
    if (!json_is_string(json_object_get(timeouts, "pipeline"))) {
        char buf[32];

        json_object_set_new(
            timeouts, "pipeline",
            json_string(goduration_format(cfg->default_timeout_minutes * 60 * TEKTON_NS_PER_SECOND,
                                          buf, sizeof(buf))));
    }
    if ((!sa || !*sa) && cfg->default_service_account && *cfg->default_service_account)
        json_object_set_new(trt, "serviceAccountName", json_string(cfg->default_service_account));
    return pr;
}

/* §5.4: the value of the tekton.dev/pipeline label. */
char *pipelinerun_resolve_pipeline_label(const json_t *pr)
{
    const json_t *meta = json_object_get(pr, "metadata");
    const char *have = jget_str(json_object_get(meta, "labels"), "tekton.dev/pipeline");
    const char *ref = jget_str(json_object_get(json_object_get(pr, "spec"), "pipelineRef"), "name");
    const char *gen = jget_str(meta, "generateName");

    if (have)
        return xstrdup(have);
    if (ref)
        return xstrdup(ref);
    if (gen && *gen) {
        char *r = childname_restrict(gen);

        if (*r)
            return r;
        free(r);
    }
    return xstrdup(jget_or(jget_str(meta, "name"), ""));
}

/* ---- the pipeline spec (§5.1) ---- */

static int load_spec(struct ctx *c)
{
    const json_t *spec = json_object_get(c->pr, "spec");
    const json_t *stored = json_object_get(c->status, "pipelineSpec");
    const json_t *ref = json_object_get(spec, "pipelineRef");
    const char *ref_name = jget_str(ref, "name");

    c->pipeline_name = xstrdup(ref ? jget_or(ref_name, "") : c->name);
    if (json_is_object(stored)) {
        c->spec = json_deep_copy(stored);
        return 0;
    }
    if (json_is_object(json_object_get(spec, "pipelineSpec"))) {
        c->spec = json_deep_copy(json_object_get(spec, "pipelineSpec"));
        return 0;
    }
    if (!ref_name)
        return fail(c, PIPELINERUN_REASON_GET_PIPELINE,
                    "Error retrieving pipeline for pipelinerun %s/%s: spec.pipelineRef.name or "
                    "spec.pipelineSpec is required (remote resolution is not supported)",
                    c->ns, c->name);
    if (c->in->pipeline_error)
        return fail(c, PIPELINERUN_REASON_GET_PIPELINE,
                    "Error retrieving pipeline for pipelinerun %s/%s: tekton client cannot get "
                    "pipeline %s from local cluster: %s",
                    c->ns, c->name, ref_name, c->in->pipeline_error);
    if (!json_is_object(json_object_get(c->in->pipeline, "spec"))) {
        if (c->in->pipeline)
            return fail(c, PIPELINERUN_REASON_GET_PIPELINE,
                        "Error retrieving pipeline for pipelinerun %s/%s: pipeline %s has no spec",
                        c->ns, c->name, ref_name);
        return 1;
    }
    c->spec = json_deep_copy(json_object_get(c->in->pipeline, "spec"));
    return 0;
}

/* ---- validation (§3.2, §4.3 steps 5-13) ---- */

static bool is_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    }
    return true;
}

static int check_list_shape(struct ctx *c, const char *field)
{
    const json_t *list = json_object_get(c->spec, field);
    const json_t *pt;
    size_t i;

    if (list && !json_is_array(list))
        return invalid_spec(c, "expected a list: spec.%s", field);
    json_array_foreach(list, i, pt) {
        const char *name = jget_str(pt, "name");

        if (!json_is_object(pt))
            return invalid_spec(c, "expected an object: spec.%s[%zu]", field, i);
        if (!name || !is_dns_label(name))
            return invalid_spec(c,
                                "invalid value \"%s\": spec.%s[%zu].name\nPipeline Task name must "
                                "be a valid DNS Label.",
                                jget_or(name, ""), field, i);
    }
    return 0;
}

static bool has_exec_status_ref(const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    bool found = false;

    if (text) {
        const char *p = text;

        while (!found && (p = strstr(p, "$(tasks.")) != NULL) {
            const char *end = strchr(p, ')');

            p += 2;
            if (!end)
                break;
            if (memmem(p, (size_t)(end - p), ".results.", 9))
                continue;
            found = (end - p == 12 && strncmp(p, "tasks.status", 12) == 0) ||
                    (end - p > 7 && strncmp(end - 7, ".status", 7) == 0) ||
                    (end - p > 7 && strncmp(end - 7, ".reason", 7) == 0);
        }
    }
    free(text);
    return found;
}

static int check_when(struct ctx *c, const char *field, size_t i, const json_t *pt)
{
    const json_t *when = json_object_get(pt, "when");
    const json_t *we;
    size_t k;

    if (when && !json_is_array(when))
        return invalid_spec(c, "expected a list: spec.%s[%zu].when", field, i);
    json_array_foreach(when, k, we) {
        const char *op = jget_str(we, "operator");
        const json_t *values = json_object_get(we, "values");

        if (json_object_get(we, "cel"))
            return invalid_spec(c, "cel is not supported: spec.%s[%zu].when[%zu].cel", field, i, k);
        if (!op || (strcmp(op, "in") != 0 && strcmp(op, "notin") != 0))
            return invalid_spec(
                c,
                "invalid value: operator \"%s\" is not recognized. valid operators: "
                "in,notin: spec.%s[%zu].when[%zu]",
                jget_or(op, ""), field, i, k);
        if (!json_is_string(json_object_get(we, "input")) || !json_is_array(values) ||
            json_array_size(values) == 0)
            return invalid_spec(c,
                                "invalid value: expecting input and non-empty values: "
                                "spec.%s[%zu].when[%zu]",
                                field, i, k);
    }
    return 0;
}

static int check_param_list(struct ctx *c, const json_t *params, const char *where)
{
    const json_t *p;
    size_t k;

    if (params && !json_is_array(params))
        return invalid_spec(c, "expected a list: %s", where);
    json_array_foreach(params, k, p) {
        const char *n = jget_str(p, "name");

        if (!n || !json_object_get(p, "value"))
            return invalid_spec(c, "missing field(s): %s[%zu].name, %s[%zu].value", where, k, where,
                                k);
        for (size_t j = 0; j < k; j++) {
            if (strcmp(jget_or(jget_str(json_array_get(params, j), "name"), ""), n) == 0)
                return invalid_spec(c,
                                    "parameter names must be unique, the parameter \"%s\" is "
                                    "also defined at: %s[%zu].name",
                                    n, where, k);
        }
    }
    return 0;
}

/* Lists whose elements the planner reads by name must hold objects with a string name. */
static int check_named_list(struct ctx *c, const json_t *list, const char *what)
{
    const json_t *item;
    size_t k;

    if (list && !json_is_array(list))
        return invalid_spec(c, "expected a list: %s", what);
    json_array_foreach(list, k, item) {
        if (!json_is_string(json_object_get(item, "name")))
            return invalid_spec(c, "missing field(s): %s[%zu].name", what, k);
    }
    return 0;
}

static int check_shapes(struct ctx *c, const char *field, size_t i, const json_t *pt)
{
    const json_t *matrix = json_object_get(pt, "matrix");
    const json_t *p;
    char *what;
    size_t k;
    int r;

    what = xasprintf("spec.%s[%zu].workspaces", field, i);
    r = check_named_list(c, json_object_get(pt, "workspaces"), what);
    free(what);
    if (r < 0 || !matrix)
        return r;
    if (!json_is_object(matrix))
        return invalid_spec(c, "expected an object: spec.%s[%zu].matrix", field, i);
    what = xasprintf("spec.%s[%zu].matrix.params", field, i);
    r = check_param_list(c, json_object_get(matrix, "params"), what);
    free(what);
    json_array_foreach(json_object_get(matrix, "params"), k, p) {
        if (r == 0 && !json_is_array(json_object_get(p, "value")) &&
            !json_is_string(json_object_get(p, "value")))
            r = invalid_spec(c,
                             "invalid value: parameters of type array only are allowed in "
                             "matrix: spec.%s[%zu].matrix.params[%zu]",
                             field, i, k);
    }
    what = xasprintf("spec.%s[%zu].matrix.include", field, i);
    json_array_foreach(json_object_get(matrix, "include"), k, p) {
        if (r == 0 && !json_is_object(p))
            r = invalid_spec(c, "expected an object: %s[%zu]", what, k);
        if (r == 0)
            r = check_param_list(c, json_object_get(p, "params"), what);
    }
    free(what);
    return r;
}

static int check_task(struct ctx *c, const char *field, size_t i, const json_t *pt)
{
    const json_t *ref = json_object_get(pt, "taskRef");
    const json_t *ts = json_object_get(pt, "taskSpec");
    char *where = xasprintf("spec.%s[%zu].params", field, i);
    int r;

    if (json_object_get(pt, "pipelineRef") || json_object_get(pt, "pipelineSpec")) {
        free(where);
        return invalid_spec(c, "pipelines-in-pipelines are not supported: spec.%s[%zu]", field, i);
    }
    if (!!ref == !!ts) {
        free(where);
        return invalid_spec(c,
                            "expected exactly one, got %s: spec.%s[%zu].taskRef, "
                            "spec.%s[%zu].taskSpec",
                            ref ? "both" : "neither", field, i, field, i);
    }
    r = check_param_list(c, json_object_get(pt, "params"), where);
    free(where);
    if (r < 0)
        return r;
    if ((ref && !json_is_object(ref)) || (ts && !json_is_object(ts)))
        return invalid_spec(c, "expected an object: spec.%s[%zu].%s", field, i,
                            ref ? "taskRef" : "taskSpec");
    if (ref && !jget_str(ref, "name"))
        return invalid_spec(c,
                            "missing field(s): spec.%s[%zu].taskRef.name (remote resolution "
                            "is not supported)",
                            field, i);
    if ((ref && (jget_str(ref, "apiVersion") ||
                 strcmp(jget_or(jget_str(ref, "kind"), "Task"), "Task") != 0)) ||
        (ts && (jget_str(ts, "apiVersion") || jget_str(ts, "kind"))))
        return invalid_spec(c, "custom tasks are not supported: spec.%s[%zu]", field, i);
    if (strcmp(field, "finally") == 0 && json_array_size(json_object_get(pt, "runAfter")) > 0)
        return invalid_spec(c,
                            "invalid value: no runAfter allowed under spec.finally, final task "
                            "%s has runAfter specified: spec.finally[%zu]",
                            jget_str(pt, "name"), i);
    if (strcmp(field, "tasks") == 0 && (has_exec_status_ref(json_object_get(pt, "params")) ||
                                        has_exec_status_ref(json_object_get(pt, "when"))))
        return invalid_spec(c,
                            "invalid value: pipeline tasks can not refer to execution status "
                            "of any other pipeline task or aggregate status of tasks: "
                            "spec.tasks[%zu]",
                            i);
    r = check_shapes(c, field, i, pt);
    if (r < 0)
        return r;
    return check_when(c, field, i, pt);
}

static int check_unique_names(struct ctx *c)
{
    for (size_t i = 0; i < c->npts; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->pts[i].name, c->pts[j].name) == 0)
                return invalid_spec(c,
                                    "invalid value: %s: spec.%s[%zu].name\npipeline task names "
                                    "must be unique",
                                    c->pts[i].name, c->pts[i].final ? "finally" : "tasks",
                                    c->pts[i].final ? i - c->ntasks : i);
        }
    }
    return 0;
}

static const struct pt *find_pt(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->npts; i++) {
        if (strcmp(c->pts[i].name, name) == 0)
            return &c->pts[i];
    }
    return NULL;
}

static int check_final_refs(struct ctx *c)
{
    for (size_t i = c->ntasks; i < c->npts; i++) {
        json_t *refs = json_array();
        const json_t *v;
        size_t k;
        int r = 0;

        pipeline_dag_result_refs(c->pts[i].pt, refs);
        json_array_foreach(refs, k, v) {
            const struct pt *to = find_pt(c, json_string_value(v));

            if (r == 0 && (!to || to->final))
                r = invalid_spec(c,
                                 "invalid value: final task has task result reference from a %s "
                                 "%s%s: spec.finally[%zu].params",
                                 to ? "final task" : "task", json_string_value(v),
                                 to ? "" : " which is not defined in the pipeline", i - c->ntasks);
        }
        json_decref(refs);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_param_specs(struct ctx *c)
{
    const json_t *specs = json_object_get(c->spec, "params");
    const json_t *ps;
    size_t i;

    if (specs && !json_is_array(specs))
        return invalid_spec(c, "expected a list: spec.params");
    json_array_foreach(specs, i, ps) {
        const char *t = param_spec_type(ps);
        const json_t *def = json_object_get(ps, "default");

        if (!jget_str(ps, "name"))
            return invalid_spec(c, "missing field(s): spec.params[%zu].name", i);
        if (strcmp(t, "string") != 0 && strcmp(t, "array") != 0 && strcmp(t, "object") != 0)
            return invalid_spec(c, "invalid value: %s: spec.params.%s.type", t,
                                jget_str(ps, "name"));
        if (def && strcmp(t, value_type(def)) != 0)
            return invalid_spec(c,
                                "\"%s\" type does not match default value's type: \"%s\": "
                                "spec.params.%s.type, spec.params.%s.default.type",
                                t, value_type(def), jget_str(ps, "name"), jget_str(ps, "name"));
    }
    return 0;
}

/* One `$(...)` of pipeline result i: a result ref to an existing task of the right list. */
static int check_result_expr(struct ctx *c, const char *expr, size_t i)
{
    bool fin = strncmp(expr, "finally.", 8) == 0;
    const char *name = expr + (fin ? 8 : 6);
    size_t len;
    char *n;
    const struct pt *to;
    int r = 0;

    if (!fin && strncmp(expr, "tasks.", 6) != 0)
        return invalid_spec(c,
                            "invalid value: expected pipeline results to be task result "
                            "expressions: spec.results[%zu].value",
                            i);
    len = strcspn(name, ".)");
    if (strncmp(name + len, ".results.", 9) != 0)
        return invalid_spec(c,
                            "invalid value: expected pipeline results to be task result "
                            "expressions: spec.results[%zu].value",
                            i);
    n = xstrndup(name, len);
    to = find_pt(c, n);
    if (!to || to->final != fin)
        r = invalid_spec(c,
                         "invalid value: referencing a nonexistent task %s: "
                         "spec.results[%zu].value",
                         n, i);
    free(n);
    return r;
}

static int check_pipeline_results(struct ctx *c)
{
    const json_t *results = json_object_get(c->spec, "results");
    const json_t *res;
    size_t i;

    json_array_foreach(results, i, res) {
        json_t *v = json_object_get(res, "value");
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        const char *p = text;
        int r = 0;

        if (!jget_str(res, "name") || !v || !text || !strstr(text, "$("))
            r = invalid_spec(c,
                             "invalid value: expected pipeline results to be task result "
                             "expressions: spec.results[%zu].value",
                             i);
        for (p = text ? strstr(text, "$(") : NULL; r == 0 && p; p = strstr(p + 2, "$("))
            r = check_result_expr(c, p + 2, i);
        free(text);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_pt_workspaces(struct ctx *c)
{
    const json_t *decls = json_object_get(c->spec, "workspaces");

    for (size_t i = 0; i < c->npts; i++) {
        const json_t *wss = json_object_get(c->pts[i].pt, "workspaces");
        const json_t *ws;
        size_t k;

        json_array_foreach(wss, k, ws) {
            const char *pw = jget_str(ws, "workspace");

            if (!jget_str(ws, "name"))
                return invalid_spec(c, "missing field(s): spec.%s[%zu].workspaces[%zu].name",
                                    c->pts[i].final ? "finally" : "tasks",
                                    c->pts[i].final ? i - c->ntasks : i, k);
            if (!pw || !*pw)
                pw = jget_str(ws, "name");
            if (!jget_named(decls, "name", pw))
                return invalid_spec(c,
                                    "pipeline task \"%s\" expects workspace with name \"%s\" "
                                    "but none exists in pipeline spec",
                                    c->pts[i].name, pw);
        }
    }
    return 0;
}

static int validate_spec(struct ctx *c)
{
    int r = 0;

    if (json_array_size(json_object_get(c->spec, "finally")) > 0 &&
        json_array_size(json_object_get(c->spec, "tasks")) == 0)
        return invalid_spec(c, "invalid value: spec.tasks is empty but spec.finally has %zu tasks",
                            json_array_size(json_object_get(c->spec, "finally")));
    for (size_t i = 0; i < c->npts && r == 0; i++)
        r = check_task(c, c->pts[i].final ? "finally" : "tasks",
                       c->pts[i].final ? i - c->ntasks : i, c->pts[i].pt);
    if (r == 0)
        r = check_unique_names(c);
    if (r == 0)
        r = check_final_refs(c);
    if (r == 0)
        r = check_param_specs(c);
    if (r == 0)
        r = check_pipeline_results(c);
    /* Only stand-alone Pipelines must declare what their tasks bind (§3.2). */
    if (r == 0 && json_object_get(json_object_get(c->pr, "spec"), "pipelineRef"))
        r = check_pt_workspaces(c);
    return r;
}

/* ---- run-level checks (§4.3 steps 7-13) ---- */

static void append_quoted_list(struct buf *b, const char *name)
{
    (void)buf_printf(b, "%s%s", buf_len(b) ? " " : "", name);
}

static int check_run_params(struct ctx *c)
{
    const json_t *given = json_object_get(json_object_get(c->pr, "spec"), "params");
    const json_t *ps;
    struct buf missing, mismatch;
    size_t i;
    int r = 0;

    buf_init(&missing, MAX_MESSAGE);
    buf_init(&mismatch, MAX_MESSAGE);
    json_array_foreach(json_object_get(c->spec, "params"), i, ps) {
        const json_t *p = jget_named(given, "name", jget_str(ps, "name"));

        if (!p && !json_object_get(ps, "default"))
            append_quoted_list(&missing, jget_str(ps, "name"));
        else if (p && strcmp(value_type(json_object_get(p, "value")), param_spec_type(ps)) != 0)
            append_quoted_list(&mismatch, jget_str(ps, "name"));
    }
    if (buf_len(&missing))
        r = fail(c, PIPELINERUN_REASON_PARAM_MISSING,
                 "[User error] PipelineRun %s/%s is missing some parameters required by Pipeline "
                 "%s/%s: pipelineRun missing parameters: [%s]",
                 c->ns, c->name, c->ns, c->pipeline_name, buf_str(&missing));
    else if (buf_len(&mismatch))
        r = fail(c, PIPELINERUN_REASON_PARAM_TYPE,
                 "[User error] PipelineRun %s/%s parameters have mismatching types with Pipeline "
                 "%s/%s's parameters: parameters have inconsistent types : [%s]",
                 c->ns, c->name, c->ns, c->pipeline_name, buf_str(&mismatch));
    buf_done(&missing);
    buf_done(&mismatch);
    return r;
}

/* The length of array param 'name' as the run gives it, else its default; -1 if not an array. */
static long array_len(const struct ctx *c, const char *name)
{
    const json_t *given = json_object_get(json_object_get(c->pr, "spec"), "params");
    const json_t *p = jget_named(given, "name", name);
    const json_t *v =
        p ? json_object_get(p, "value")
          : json_object_get(jget_named(json_object_get(c->spec, "params"), "name", name),
                            "default");

    return json_is_array(v) ? (long)json_array_size(v) : -1;
}

/* Collect every `$(params.a[i])` in 'v' whose index is out of bounds (§4.3 step 11). */
static void scan_indexes(const struct ctx *c, const json_t *v, struct buf *bad)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *p;

    for (p = text ? strstr(text, "$(params.") : NULL; p; p = strstr(p + 2, "$(params.")) {
        const char *name = p + strlen("$(params.");
        size_t len = strcspn(name, "[).");
        char *n, *end;
        unsigned long idx;
        long have;

        if (name[len] != '[' || name[len + 1] < '0' || name[len + 1] > '9')
            continue;
        idx = strtoul(name + len + 1, &end, 10);
        if (*end != ']' || end[1] != ')')
            continue;
        n = xstrndup(name, len);
        have = array_len(c, n);
        if (have >= 0 && idx >= (unsigned long)have)
            (void)buf_printf(bad, "%s%.*s", buf_len(bad) ? " " : "", (int)(end + 2 - p), p);
        free(n);
    }
    free(text);
}

static int check_array_indexes(struct ctx *c)
{
    struct buf bad;
    int r = 0;

    buf_init(&bad, MAX_MESSAGE);
    for (size_t i = 0; i < c->npts; i++) {
        const json_t *pt = c->pts[i].pt;

        scan_indexes(c, json_object_get(pt, "params"), &bad);
        scan_indexes(c, json_object_get(json_object_get(pt, "matrix"), "params"), &bad);
        scan_indexes(c, json_object_get(pt, "when"), &bad);
        if (!c->pts[i].final)
            scan_indexes(c, json_object_get(pt, "workspaces"), &bad);
    }
    if (buf_len(&bad))
        r = fail(c, PIPELINERUN_REASON_ARRAY_INDEX,
                 "[User error] PipelineRun %s/%s failed validation: failed to validate Pipeline "
                 "%s/%s's parameter which has an invalid index while referring to an array: "
                 "non-existent param references:[%s]",
                 c->ns, c->name, c->ns, c->pipeline_name, buf_str(&bad));
    buf_done(&bad);
    return r;
}

/* §4.3 step 10: keys declared in an object param's properties come from the run or default. */
static int check_object_keys(struct ctx *c)
{
    const json_t *given = json_object_get(json_object_get(c->pr, "spec"), "params");
    const json_t *ps;
    struct buf bad;
    size_t i;
    int r = 0;

    buf_init(&bad, MAX_MESSAGE);
    json_array_foreach(json_object_get(c->spec, "params"), i, ps) {
        const json_t *props = json_object_get(ps, "properties");
        const json_t *p = jget_named(given, "name", jget_str(ps, "name"));
        const json_t *v = p ? json_object_get(p, "value") : json_object_get(ps, "default");
        struct buf keys;
        const char *k;
        json_t *item;

        if (strcmp(param_spec_type(ps), "object") != 0 || !json_is_object(props) ||
            !json_is_object(v))
            continue;
        buf_init(&keys, MAX_MESSAGE);
        json_object_foreach((json_t *)(uintptr_t)props, k, item) {
            if (!json_object_get(v, k))
                (void)buf_printf(&keys, "%s%s", buf_len(&keys) ? " " : "", k);
        }
        if (buf_len(&keys))
            (void)buf_printf(&bad, "%s%s:[%s]", buf_len(&bad) ? " " : "", jget_str(ps, "name"),
                             buf_str(&keys));
        buf_done(&keys);
    }
    if (buf_len(&bad))
        r = fail(c, PIPELINERUN_REASON_OBJECT_KEYS,
                 "[User error] PipelineRun %s/%s parameters is missing object keys required by "
                 "Pipeline %s/%s's parameters: pipelineRun missing object keys for parameters: "
                 "map[%s]",
                 c->ns, c->name, c->ns, c->pipeline_name, buf_str(&bad));
    buf_done(&bad);
    return r;
}

static int check_run_bindings(struct ctx *c)
{
    const json_t *spec = json_object_get(c->pr, "spec");
    const json_t *bound = json_object_get(spec, "workspaces");
    const json_t *item;
    size_t i;

    json_array_foreach(json_object_get(c->spec, "workspaces"), i, item) {
        if (!json_is_true(json_object_get(item, "optional")) &&
            !jget_named(bound, "name", jget_str(item, "name")))
            return fail(c, PIPELINERUN_REASON_WORKSPACES,
                        "[User error] PipelineRun %s/%s doesn't bind Pipeline %s/%s's Workspaces "
                        "correctly: pipeline requires workspace with name \"%s\" be provided by "
                        "pipelinerun",
                        c->ns, c->name, c->ns, c->pipeline_name,
                        jget_or(jget_str(item, "name"), ""));
    }
    json_array_foreach(json_object_get(spec, "taskRunSpecs"), i, item) {
        const char *n = jget_str(item, "pipelineTaskName");

        if (!n || !find_pt(c, n))
            return fail(c, PIPELINERUN_REASON_TASKRUN_SPECS,
                        "[User error] PipelineRun %s/%s doesn't define taskRunSpecs correctly: "
                        "pipelineRun's taskrunSpecs defined wrong taskName: \"%s\", does not exist "
                        "in Pipeline",
                        c->ns, c->name, jget_or(n, ""));
    }
    return 0;
}

/* ---- the substitution tables (§8, §9) ---- */

static const char *const param_spellings[][2] = {
    {"params.", ""},
    {"params[\"", "\"]"},
    {"params['", "']"},
};

void pipelinerun_resolve_table_add(struct substitute_table *t, const char *key, const json_t *v)
{
    const json_t *item;
    const char *k;
    size_t i;

    if (json_is_array(v)) {
        substitute_table_set_array(t, key, v);
        json_array_foreach(v, i, item) {
            char *ik = xasprintf("%s[%zu]", key, i);

            if (json_is_string(item))
                substitute_table_set_string(t, ik, json_string_value(item));
            free(ik);
        }
    } else if (json_is_object(v)) {
        substitute_table_set_object(t, key, v);
        json_object_foreach((json_t *)(uintptr_t)v, k, item) {
            char *ik = xasprintf("%s.%s", key, k);

            if (json_is_string(item))
                substitute_table_set_string(t, ik, json_string_value(item));
            free(ik);
        }
    } else if (json_is_string(v)) {
        substitute_table_set_string(t, key, json_string_value(v));
    }
}

static void table_add_param(struct substitute_table *t, const char *name, const json_t *v)
{
    for (size_t s = 0; s < sizeof(param_spellings) / sizeof(param_spellings[0]); s++) {
        char *key = xasprintf("%s%s%s", param_spellings[s][0], name, param_spellings[s][1]);

        if (json_is_object(v) && s > 0)
            substitute_table_set_object(t, key, v);
        else
            pipelinerun_resolve_table_add(t, key, v);
        free(key);
    }
}

/* String defaults may refer to other params (§9.2): substitute them a bounded number of times. */
static json_t *resolve_defaults(struct ctx *c, struct substitute_table *t)
{
    static const char *const value_path[] = {"v[]=", NULL};
    const json_t *given = json_object_get(json_object_get(c->pr, "spec"), "params");
    json_t *wrapper = json_pack("{s:[]}", "v");
    json_t *list = json_object_get(wrapper, "v");
    const json_t *ps;
    size_t i;

    json_array_foreach(json_object_get(c->spec, "params"), i, ps) {
        const char *n = jget_str(ps, "name");

        if (n && json_object_get(ps, "default") && !jget_named(given, "name", n))
            json_array_append_new(
                list, json_pack("{s:s, s:O}", "name", n, "value", json_object_get(ps, "default")));
    }
    for (int depth = 0; depth < MAX_DEFAULT_DEPTH; depth++) {
        const json_t *p;

        json_array_foreach(list, i, p) {
            if (json_is_string(json_object_get(p, "value")))
                table_add_param(t, jget_str(p, "name"), json_object_get(p, "value"));
        }
        (void)substitute_json(wrapper, value_path, t, NULL);
    }
    json_incref(list);
    json_decref(wrapper);
    return list;
}

static void build_param_table(struct ctx *c)
{
    const json_t *given = json_object_get(json_object_get(c->pr, "spec"), "params");
    const json_t *p;
    json_t *defaults;
    size_t i;

    c->params = substitute_table_new();
    c->given = substitute_table_new();
    json_array_foreach(given, i, p) {
        if (jget_str(p, "name")) {
            table_add_param(c->params, jget_str(p, "name"), json_object_get(p, "value"));
            table_add_param(c->given, jget_str(p, "name"), json_object_get(p, "value"));
        }
    }
    defaults = resolve_defaults(c, c->params);
    json_array_foreach(defaults, i, p) {
        table_add_param(c->params, jget_str(p, "name"), json_object_get(p, "value"));
    }
    json_decref(defaults);
    substitute_table_set_string(c->params, "context.pipelineRun.name", c->name);
    substitute_table_set_string(c->params, "context.pipelineRun.namespace", c->ns);
    substitute_table_set_string(c->params, "context.pipelineRun.uid", c->uid);
    substitute_table_set_string(c->params, "context.pipeline.name", c->pipeline_name);
    json_array_foreach(json_object_get(c->spec, "workspaces"), i, p) {
        char *key = xasprintf("workspaces.%s.bound", jget_or(jget_str(p, "name"), ""));

        substitute_table_set_string(
            c->params, key,
            jget_named(json_object_get(json_object_get(c->pr, "spec"), "workspaces"), "name",
                       jget_str(p, "name"))
                ? "true"
                : "false");
        free(key);
    }
}

static const char *const pt_fields[] = {
    "params[]=",
    "matrix.params[]=",
    "matrix.include[].params[]=",
    "displayName",
    "workspaces[].subPath",
    "when[].input~",
    "when[].values[]*",
    "taskRef.params[]=",
    "taskRef.name",
    "onError",
    NULL,
};

/* An embedded taskSpec sees the pipeline's keys with the task's own params winning (§9.4). */
static int substitute_embedded(struct ctx *c, json_t *pt, const struct substitute_table *base)
{
    json_t *ts = json_object_get(pt, "taskSpec");
    struct substitute_table *t;
    const json_t *p;
    char *path = NULL;
    size_t i;
    int r;

    if (!json_is_object(ts))
        return 0;
    t = substitute_table_new();
    substitute_table_merge(t, base);
    json_array_foreach(json_object_get(pt, "params"), i, p) {
        if (jget_str(p, "name"))
            table_add_param(t, jget_str(p, "name"), json_object_get(p, "value"));
    }
    r = substitute_taskspec(ts, t, &path);
    substitute_table_free(t);
    if (r < 0)
        invalid_spec(c, "substituted value too large: %s.taskSpec.%s", jget_str(pt, "name"),
                     jget_or(path, ""));
    free(path);
    return r;
}

static int substitute_pts(struct ctx *c, const struct substitute_table *t, const char *list)
{
    json_t *pts = json_object_get(c->spec, list);
    json_t *pt;
    char *path = NULL;
    size_t i;

    json_array_foreach(pts, i, pt) {
        int r = substitute_json(pt, pt_fields, t, &path);

        if (r < 0) {
            invalid_spec(c, "substituted value too large: spec.%s[%zu].%s", list, i,
                         jget_or(path, ""));
            free(path);
            return r;
        }
        r = substitute_embedded(c, pt, t);
        if (r < 0)
            return r;
    }
    return 0;
}

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

static int build_dag(struct ctx *c)
{
    char *err = NULL;
    int r;

    r = check_list_shape(c, "tasks");
    if (r == 0)
        r = check_list_shape(c, "finally");
    if (r < 0)
        return r;
    if (pipeline_dag_build(json_object_get(c->spec, "tasks"), &c->dag, &err) < 0) {
        fail(c, PIPELINERUN_REASON_INVALID_GRAPH,
             "[User error] PipelineRun %s/%s's Pipeline DAG is invalid: %s", c->ns, c->name, err);
        if (!c->err->admission)
            c->err->admission = xasprintf("invalid value: %s: spec.tasks", err);
        free(err);
        return -EINVAL;
    }
    return 0;
}

static int prepare(struct ctx *c)
{
    int r;

    r = build_dag(c);
    if (r < 0)
        return r;
    build_pts(c);
    r = validate_spec(c);
    if (r == 0)
        r = check_run_params(c);
    if (r == 0)
        r = check_object_keys(c);
    if (r == 0)
        r = check_array_indexes(c);
    if (r == 0)
        r = check_run_bindings(c);
    if (r < 0)
        return r;
    build_param_table(c);
    r = substitute_pts(c, c->params, "tasks");
    if (r == 0)
        r = substitute_pts(c, c->params, "finally");
    return r;
}

void pipelinerun_resolved_free(struct pipelinerun_resolved *res)
{
    if (!res)
        return;
    json_decref(res->spec);
    free(res->pipeline_name);
    pipeline_dag_free(res->dag);
    substitute_table_free(res->params);
    substitute_table_free(res->given);
    free(res);
}

int pipelinerun_resolve_validate_pipeline(const json_t *spec, bool standalone,
                                          struct pipelinerun_resolve_error *reterr)
{
    /* validate_spec() checks task workspaces only for runs that reference a Pipeline */
    json_t *pr = json_pack("{s:{s:{}}}", "spec", standalone ? "pipelineRef" : "pipelineSpec");
    struct ctx c = {.err = reterr, .pr = pr, .name = "", .ns = "", .uid = ""};
    int r;

    c.pipeline_name = xstrdup("");
    c.spec = json_is_object(spec) ? json_deep_copy(spec) : json_object();
    r = build_dag(&c);
    if (r == 0) {
        build_pts(&c);
        r = validate_spec(&c);
    }
    json_decref(c.spec);
    free(c.pipeline_name);
    pipeline_dag_free(c.dag);
    free(c.pts);
    json_decref(pr);
    return r;
}

int pipelinerun_resolve(const struct pipelinerun_resolve_input *in,
                        struct pipelinerun_resolved **ret_resolved,
                        struct pipelinerun_resolve_error *reterr)
{
    const json_t *meta = json_object_get(in->pipelinerun, "metadata");
    struct ctx c = {
        .in = in,
        .err = reterr,
        .pr = in->pipelinerun,
        .status = json_object_get(in->pipelinerun, "status"),
        .name = jget_or(jget_str(meta, "name"), ""),
        .ns = jget_or(jget_str(meta, "namespace"), "default"),
        .uid = jget_or(jget_str(meta, "uid"), ""),
    };
    struct pipelinerun_resolved *res;
    int r;

    r = load_spec(&c);
    if (r == 0)
        r = prepare(&c);
    if (r != 0) {
        json_decref(c.spec);
        free(c.pipeline_name);
        pipeline_dag_free(c.dag);
        substitute_table_free(c.params);
        substitute_table_free(c.given);
        free(c.pts);
        return r;
    }
    res = xcalloc(1, sizeof(*res));
    res->spec = c.spec;
    res->pipeline_name = c.pipeline_name;
    res->dag = c.dag;
    res->params = c.params;
    res->given = c.given;
    free(c.pts);
    *ret_resolved = res;
    return 0;
}
