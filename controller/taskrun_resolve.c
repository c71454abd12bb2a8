/*
 * TaskRun resolution: pick the TaskSpec (status.taskSpec, spec.taskSpec or the fetched Task),
 * convert v1beta1 names, apply defaults, validate the TaskRun against it (params, workspaces,
 * overrides) and run the substitution phases of tekton-taskrun.md §4.2. Fetching the Task,
 * StepActions and remote resolution are the reconciler's; building the Pod is podspec's.
 */
#include "controller/taskrun_resolve.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "controller/childname.h"
#include "controller/goduration.h"
#include "controller/substitute.h"
#include "controller/tekton_config.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

#define USER_ERROR     "[User error] "
#define CLIP_BYTES     200
#define LAST_APPLIED   "kubectl.kubernetes.io/last-applied-configuration"
#define MANAGED_BY     "app.kubernetes.io/managed-by"
#define RESULTS_DIR    "/tekton/results"
#define STEPS_DIR      "/tekton/steps"
#define CREDS_PATH     "/tekton/creds"
#define ARTIFACTS_PATH "/tekton/artifacts/provenance.json"
#define MAX_STEPS      1000
#define MAX_PARAMS     1000
#define MAX_WORKSPACES 256

struct ctx {
    const struct taskrun_resolve_input *in;
    const struct tekton_config *cfg;
    json_t *tr;              /* v1 copy of the TaskRun, owned */
    const json_t *trspec;    /* tr.spec, borrowed from 'tr' */
    json_t *spec;            /* the TaskSpec being built, owned */
    bool embedded;           /* spec came from the TaskRun (propagation rules apply) */
    bool from_status;        /* spec came from status.taskSpec */
    const char *where;       /* field path of the spec, for messages */
    char *in_task;           /* "" or ` in Task "x"`, for messages */
    const char *spec_reason; /* reason for an invalid spec */
    json_t *params;          /* TaskRun params: name -> normalized value */
    json_t *values;          /* effective param values (defaults + TaskRun): name -> value */
    struct substitute_table *param_table;
    struct taskrun_resolved *res;
    struct taskrun_resolve_error *err;
};

/* ---- small helpers ---- */

/* The byte length of at most 'max' bytes of 's' that ends on a UTF-8 character boundary. */
static int clip_len(const char *s)
{
    size_t n = strlen(s);

    if (n <= CLIP_BYTES)
        return (int)n;
    n = CLIP_BYTES;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

#define CLIP(s) clip_len(s), (s)

static int failv(struct ctx *c, const char *reason, const char *fmt, va_list ap)
{
    char *m = NULL;

    if (vasprintf(&m, fmt, ap) < 0)
        m = xstrdup("cannot format error message");
    c->err->reason = reason;
    c->err->message = m;
    return -EINVAL;
}

static int fail(struct ctx *c, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *reason, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = failv(c, reason, fmt, ap);
    va_end(ap);
    return r;
}

/* An invalid field of the TaskSpec: 'field' is relative to the spec ("steps[0].name"). */
static int invalid_spec(struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int invalid_spec(struct ctx *c, const char *field, const char *fmt, ...)
{
    char *cause = NULL;
    va_list ap;
    int r;

    va_start(ap, fmt);
    if (vasprintf(&cause, fmt, ap) < 0)
        cause = NULL;
    va_end(ap);
    r = fail(c, c->spec_reason, USER_ERROR "invalid value for \"%s.%s\"%s: %s", c->where, field,
             c->in_task, cause ? cause : "invalid");
    free(c->err->admission); /* one failure per pass, but never leak a second one */
    c->err->admission = xasprintf("%s: %s.%s", cause ? cause : "invalid value", c->where, field);
    free(cause);
    return r;
}

/* An invalid field of the TaskRun itself: 'field' is the full path ("spec.timeout"). */
static int invalid_tr(struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int invalid_tr(struct ctx *c, const char *field, const char *fmt, ...)
{
    char *cause = NULL;
    va_list ap;
    int r;

    va_start(ap, fmt);
    if (vasprintf(&cause, fmt, ap) < 0)
        cause = NULL;
    va_end(ap);
    r = fail(c, TASKRUN_REASON_VALIDATION_FAILED, USER_ERROR "invalid value for \"%s\": %s", field,
             cause ? cause : "invalid");
    free(c->err->admission);
    c->err->admission = xasprintf("%s: %s", cause ? cause : "invalid value", field);
    free(cause);
    return r;
}

static const char *type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
    default:
        return "null";
    }
}

/* 'v' absent or null counts as unset; otherwise it must have type 'want'. */
static bool is_unset_or(const json_t *v, json_type want)
{
    return !v || json_is_null(v) || json_typeof(v) == want;
}

static bool is_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    }
    return true;
}

/* Param names: ^[_a-zA-Z][_a-zA-Z0-9.-]*$, objects without '.'. */
static bool is_param_name(const char *s, bool object)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_') || !isascii((unsigned char)s[0]))
        return false;
    for (size_t i = 1; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!isascii(ch) || !(isalnum(ch) || ch == '_' || ch == '-' || (ch == '.' && !object)))
            return false;
    }
    return true;
}

/* Result names: ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ */
static bool is_result_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || !isascii((unsigned char)s[0]) || !isalnum((unsigned char)s[0]) ||
        !isascii((unsigned char)s[n - 1]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!isascii(ch) || !(isalnum(ch) || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/* "step-<name>" or "step-unnamed-<i>" (untruncated, as the /tekton/steps paths use it). */
static char *step_container_name(const json_t *step, size_t i)
{
    const char *name = json_string_value(json_object_get(step, "name"));

    if (name && *name)
        return xasprintf("step-%s", name);
    return xasprintf("step-unnamed-%zu", i);
}

/* A param value decoded leniently (§4.5): string, array of strings, object of strings, or the
 * raw JSON text of anything else as a string. New reference. */
static json_t *normalize_value(const json_t *v)
{
    const json_t *item;
    const char *k;
    size_t i;
    char *text;
    json_t *out;

    if (json_is_string(v))
        return json_deep_copy(v);
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            if (!json_is_string(item))
                goto raw;
        }
        return json_deep_copy(v);
    }
    if (json_is_object(v)) {
        out = json_deep_copy(v);
        json_object_foreach(out, k, item) {
            if (!json_is_string(item)) {
                json_decref(out);
                goto raw;
            }
        }
        return out;
    }
raw:
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    out = json_string(text ? text : "");
    free(text);
    return out;
}

static const char *value_type(const json_t *v)
{
    return json_is_array(v) ? "array" : json_is_object(v) ? "object" : "string";
}

static int too_large(struct ctx *c, char *path);

static const char *trname(const struct ctx *c)
{
    const char *n = json_string_value(json_object_get(json_object_get(c->tr, "metadata"), "name"));

    return n ? n : "";
}

/* ---- TaskRun checks ---- */

static const char *const taskrun_statuses[] = {"", "TaskRunCancelled", "TaskRunPending", NULL};

static int check_timeout_and_status(struct ctx *c)
{
    const json_t *status = json_object_get(c->trspec, "status");
    const json_t *retries = json_object_get(c->trspec, "retries");
    const char *s;
    int64_t ns;
    int r;

    r = taskrun_resolve_timeout(c->tr, c->cfg, &ns, c->err);
    if (r < 0)
        return r;
    if (!is_unset_or(retries, JSON_INTEGER) || json_integer_value(retries) < 0)
        return invalid_tr(c, "spec.retries", "expected an integer of 0 or more");
    if (!is_unset_or(status, JSON_STRING))
        return invalid_tr(c, "spec.status", "expected a string, got %s", type_name(status));
    s = json_string_value(status);
    for (size_t i = 0; s && taskrun_statuses[i]; i++) {
        if (strcmp(s, taskrun_statuses[i]) == 0)
            return 0;
    }
    if (s)
        return invalid_tr(c, "spec.status",
                          "\"%.*s\" is not one of TaskRunCancelled, TaskRunPending", CLIP(s));
    return 0;
}

static int check_name_list(struct ctx *c, const char *field, const json_t *list, size_t max)
{
    const json_t *item;
    size_t i;

    if (!is_unset_or(list, JSON_ARRAY))
        return invalid_tr(c, field, "expected a list, got %s", type_name(list));
    if (json_array_size(list) > max)
        return invalid_tr(c, field, "more than %zu entries", max);
    json_array_foreach(list, i, item) {
        const char *name = json_string_value(json_object_get(item, "name"));
        const json_t *other;
        size_t j;

        if (!name || !*name)
            return invalid_tr(c, field, "entry %zu has no name", i);
        json_array_foreach(list, j, other) {
            const char *n2 = json_string_value(json_object_get(other, "name"));

            if (j < i && n2 && strcasecmp(n2, name) == 0)
                return invalid_tr(c, field, "duplicate name \"%.*s\"", CLIP(name));
        }
    }
    return 0;
}

static int check_taskrun(struct ctx *c)
{
    const json_t *ref = json_object_get(c->trspec, "taskRef");
    const json_t *ts = json_object_get(c->trspec, "taskSpec");
    const json_t *stored = json_object_get(json_object_get(c->tr, "status"), "taskSpec");
    int r;

    if (!json_is_string(json_object_get(json_object_get(c->tr, "metadata"), "name")))
        return invalid_tr(c, "metadata.name", "expected a string");
    if (!json_is_object(c->trspec))
        return invalid_tr(c, "spec", "expected an object, got %s", type_name(c->trspec));
    if (!is_unset_or(ref, JSON_OBJECT))
        return invalid_tr(c, "spec.taskRef", "expected an object, got %s", type_name(ref));
    if (!is_unset_or(ts, JSON_OBJECT))
        return invalid_tr(c, "spec.taskSpec", "expected an object, got %s", type_name(ts));
    if (json_is_object(ref) && json_is_object(ts))
        return invalid_tr(c, "spec.taskRef, spec.taskSpec", "expected exactly one, got both");
    if (!json_is_object(ref) && !json_is_object(ts) && !json_is_object(stored))
        return invalid_tr(c, "spec.taskRef, spec.taskSpec", "expected exactly one, got neither");
    if (json_is_object(ts) && c->cfg->disable_inline_spec_taskrun)
        return invalid_tr(c, "spec.taskSpec",
                          "inline specs are disabled for taskrun by feature flag "
                          "\"disable-inline-spec\"");
    r = check_timeout_and_status(c);
    if (r == 0)
        r = check_name_list(c, "spec.params", json_object_get(c->trspec, "params"), MAX_PARAMS);
    if (r == 0)
        r = check_name_list(c, "spec.workspaces", json_object_get(c->trspec, "workspaces"),
                            MAX_WORKSPACES);
    if (r == 0)
        r = check_name_list(c, "spec.stepSpecs", json_object_get(c->trspec, "stepSpecs"),
                            MAX_STEPS);
    if (r == 0)
        r = check_name_list(c, "spec.sidecarSpecs", json_object_get(c->trspec, "sidecarSpecs"),
                            MAX_STEPS);
    return r;
}

/* ---- v1beta1 -> v1 ---- */

static void rename_member(json_t *obj, const char *from, const char *to)
{
    json_t *v = json_object_get(obj, from);

    if (!json_is_object(obj) || !v)
        return;
    if (!json_object_get(obj, to))
        (void)json_object_set(obj, to, v);
    (void)json_object_del(obj, from);
}

static void rename_in_list(json_t *list, const char *from, const char *to)
{
    json_t *item;
    size_t i;

    json_array_foreach(list, i, item) {
        rename_member(item, from, to);
    }
}

/* The v1beta1 renames that matter for running Tasks (§1.4). */
static void spec_from_v1beta1(json_t *spec)
{
    rename_in_list(json_object_get(spec, "steps"), "resources", "computeResources");
    rename_in_list(json_object_get(spec, "sidecars"), "resources", "computeResources");
    rename_member(json_object_get(spec, "stepTemplate"), "resources", "computeResources");
}

static bool is_v1beta1(const json_t *obj)
{
    const char *v = json_string_value(json_object_get(obj, "apiVersion"));

    return v && strcmp(v, "tekton.dev/v1beta1") == 0;
}

static void taskrun_from_v1beta1(json_t *tr)
{
    json_t *spec = json_object_get(tr, "spec");

    rename_member(spec, "stepOverrides", "stepSpecs");
    rename_member(spec, "sidecarOverrides", "sidecarSpecs");
    rename_in_list(json_object_get(spec, "stepSpecs"), "resources", "computeResources");
    rename_in_list(json_object_get(spec, "sidecarSpecs"), "resources", "computeResources");
    if (json_is_object(json_object_get(spec, "taskSpec")))
        spec_from_v1beta1(json_object_get(spec, "taskSpec"));
}

/* ---- obtaining the spec ---- */

static int spec_from_task(struct ctx *c, const json_t *ref)
{
    const json_t *task = c->in->task;
    const char *ref_name = json_string_value(json_object_get(ref, "name"));
    const char *name;
    const json_t *spec;

    if (json_is_string(json_object_get(ref, "resolver")) || !ref_name)
        return fail(
            c, TASKRUN_REASON_RESOLUTION_FAILED,
            "error when resolving task for taskRun %.*s: remote resolution is not "
            "supported, spec.taskRef needs a name",
            CLIP(json_string_value(json_object_get(json_object_get(c->tr, "metadata"), "name"))));
    if (!task)
        return fail(
            c, TASKRUN_REASON_RESOLUTION_FAILED,
            "error when listing tasks for taskRun %.*s: tasks.tekton.dev \"%.*s\" not "
            "found",
            CLIP(json_string_value(json_object_get(json_object_get(c->tr, "metadata"), "name"))),
            CLIP(ref_name));
    name = json_string_value(json_object_get(json_object_get(task, "metadata"), "name"));
    c->res->task_name = xstrdup(name ? name : ref_name);
    free(c->in_task);
    c->in_task = xasprintf(" in Task \"%.*s\"", CLIP(c->res->task_name));
    c->where = "spec";
    c->spec_reason = TASKRUN_REASON_TASK_VALIDATION_FAILED;
    spec = json_object_get(task, "spec");
    if (!json_is_object(spec))
        return fail(c, c->spec_reason,
                    USER_ERROR "invalid value for \"spec\"%s: expected an object", c->in_task);
    c->spec = json_deep_copy(spec);
    if (is_v1beta1(task))
        spec_from_v1beta1(c->spec);
    return 0;
}

static int obtain_spec(struct ctx *c)
{
    const json_t *ref = json_object_get(c->trspec, "taskRef");
    const json_t *stored = json_object_get(json_object_get(c->tr, "status"), "taskSpec");
    const char *trname =
        json_string_value(json_object_get(json_object_get(c->tr, "metadata"), "name"));

    c->spec_reason = TASKRUN_REASON_VALIDATION_FAILED;
    c->in_task = xstrdup("");
    c->embedded = !json_is_object(ref);
    if (json_is_object(stored)) {
        /* a later reconcile: the spec captured the first time wins over any Task edit */
        c->from_status = true;
        c->where = "status.taskSpec";
        c->spec = json_deep_copy(stored);
        if (json_is_object(ref)) {
            const char *n = json_string_value(json_object_get(ref, "name"));

            c->res->task_name = xstrdup(n ? n : trname);
        } else {
            c->res->task_name = xstrdup(trname);
        }
        return 0;
    }
    if (json_is_object(ref))
        return spec_from_task(c, ref);
    c->where = "spec.taskSpec";
    c->spec = json_deep_copy(json_object_get(c->trspec, "taskSpec"));
    c->res->task_name = xstrdup(trname);
    return 0;
}

/* ---- TaskSpec checks and defaults ---- */

static int check_list_of_objects(struct ctx *c, const char *field, size_t max, bool required)
{
    const json_t *list = json_object_get(c->spec, field);
    const json_t *item;
    size_t i;

    if (!is_unset_or(list, JSON_ARRAY))
        return invalid_spec(c, field, "expected a list, got %s", type_name(list));
    if (required && json_array_size(list) == 0)
        return invalid_spec(c, field, "at least one step is required");
    if (json_array_size(list) > max)
        return invalid_spec(c, field, "more than %zu entries", max);
    json_array_foreach(list, i, item) {
        char f[64];

        if (!json_is_object(item)) {
            (void)snprintf(f, sizeof(f), "%s[%zu]", field, i);
            return invalid_spec(c, f, "expected an object, got %s", type_name(item));
        }
    }
    return 0;
}

static const char *const container_string_fields[] = {
    "name", "image", "script", "workingDir", "imagePullPolicy", "onError", NULL,
};
static const char *const container_list_fields[] = {
    "command", "args", "env", "envFrom", "volumeMounts", "workspaces", "results", NULL,
};

static int check_container_shape(struct ctx *c, const char *field, const json_t *ctr)
{
    char f[128];

    for (size_t k = 0; container_string_fields[k]; k++) {
        const json_t *v = json_object_get(ctr, container_string_fields[k]);

        (void)snprintf(f, sizeof(f), "%s.%s", field, container_string_fields[k]);
        if (!is_unset_or(v, JSON_STRING))
            return invalid_spec(c, f, "expected a string, got %s", type_name(v));
    }
    for (size_t k = 0; container_list_fields[k]; k++) {
        const json_t *v = json_object_get(ctr, container_list_fields[k]);
        const json_t *item;
        size_t i;

        (void)snprintf(f, sizeof(f), "%s.%s", field, container_list_fields[k]);
        if (!is_unset_or(v, JSON_ARRAY))
            return invalid_spec(c, f, "expected a list, got %s", type_name(v));
        json_array_foreach(v, i, item) {
            bool strings = k < 2; /* command and args hold strings, the rest objects */

            if (strings ? !json_is_string(item) : !json_is_object(item)) {
                (void)snprintf(f, sizeof(f), "%s.%s[%zu]", field, container_list_fields[k], i);
                return invalid_spec(c, f, "expected %s, got %s", strings ? "a string" : "an object",
                                    type_name(item));
            }
        }
    }
    if (json_object_get(ctr, "script") && json_array_size(json_object_get(ctr, "command")) > 0) {
        (void)snprintf(f, sizeof(f), "%s.script", field);
        return invalid_spec(c, f, "script cannot be used with command");
    }
    return 0;
}

/* A step with a StepAction ref: a named, local ref, and none of the fields it replaces. */
static int check_step_ref(struct ctx *c, const json_t *step, size_t i)
{
    static const char *const excluded[] = {
        "image", "command", "args", "script", "workingDir", "env", "volumeMounts", "results", NULL};
    const json_t *ref = json_object_get(step, "ref");
    const json_t *params = json_object_get(step, "params");
    const json_t *p;
    size_t k;
    char f[64];

    (void)snprintf(f, sizeof(f), "steps[%zu].ref", i);
    if (!json_is_object(ref))
        return invalid_spec(c, f, "expected an object, got %s", type_name(ref));
    if (json_object_get(ref, "resolver"))
        return fail(c, TASKRUN_REASON_RESOLUTION_FAILED,
                    "cannot resolve \"%s.%s\"%s: remote resolution is not supported", c->where, f,
                    c->in_task);
    (void)snprintf(f, sizeof(f), "steps[%zu].ref.name", i);
    if (!json_string_length(json_object_get(ref, "name")))
        return invalid_spec(c, f, "expected a non-empty string");
    for (k = 0; excluded[k]; k++) {
        (void)snprintf(f, sizeof(f), "steps[%zu].%s", i, excluded[k]);
        if (json_object_get(step, excluded[k]))
            return invalid_spec(c, f, "cannot be used with ref");
    }
    (void)snprintf(f, sizeof(f), "steps[%zu].params", i);
    if (!is_unset_or(params, JSON_ARRAY))
        return invalid_spec(c, f, "expected a list, got %s", type_name(params));
    json_array_foreach(params, k, p) {
        if (!json_string_length(json_object_get(p, "name"))) {
            (void)snprintf(f, sizeof(f), "steps[%zu].params[%zu].name", i, k);
            return invalid_spec(c, f, "expected a non-empty string");
        }
    }
    return 0;
}

static int check_step(struct ctx *c, const json_t *step, size_t i)
{
    const char *name = json_string_value(json_object_get(step, "name"));
    const char *on_error = json_string_value(json_object_get(step, "onError"));
    const json_t *steps = json_object_get(c->spec, "steps");
    char f[64];
    int r;

    (void)snprintf(f, sizeof(f), "steps[%zu]", i);
    r = check_container_shape(c, f, step);
    if (r < 0)
        return r;
    if (json_object_get(step, "ref"))
        r = check_step_ref(c, step, i);
    else if (json_object_get(step, "params"))
        r = invalid_spec(c, f, "params can only be used with ref");
    if (r < 0)
        return r;
    (void)snprintf(f, sizeof(f), "steps[%zu].image", i);
    if (!json_object_get(step, "ref") && !json_string_length(json_object_get(step, "image")) &&
        !json_string_length(json_object_get(json_object_get(c->spec, "stepTemplate"), "image")))
        return invalid_spec(c, f, "missing field(s): image");
    (void)snprintf(f, sizeof(f), "steps[%zu].name", i);
    if (name && *name && !is_dns_label(name))
        return invalid_spec(c, f, "\"%.*s\" is not a DNS-1123 label", CLIP(name));
    for (size_t j = 0; name && *name && j < i; j++) {
        const char *other = json_string_value(json_object_get(json_array_get(steps, j), "name"));

        if (other && strcmp(other, name) == 0)
            return invalid_spec(c, f, "step name \"%s\" is not unique", name);
    }
    (void)snprintf(f, sizeof(f), "steps[%zu].onError", i);
    if (on_error && strcmp(on_error, "continue") != 0 && strcmp(on_error, "stopAndFail") != 0 &&
        strncmp(on_error, "$(params.", 9) != 0)
        return invalid_spec(c, f, "\"%.*s\" is not continue or stopAndFail", CLIP(on_error));
    return 0;
}

static int check_containers(struct ctx *c)
{
    const json_t *item;
    const json_t *tmpl = json_object_get(c->spec, "stepTemplate");
    size_t i;
    int r;

    r = check_list_of_objects(c, "steps", MAX_STEPS, true);
    if (r == 0)
        r = check_list_of_objects(c, "sidecars", MAX_STEPS, false);
    if (r == 0)
        r = check_list_of_objects(c, "volumes", MAX_STEPS, false);
    if (r < 0)
        return r;
    if (!is_unset_or(tmpl, JSON_OBJECT))
        return invalid_spec(c, "stepTemplate", "expected an object, got %s", type_name(tmpl));
    if (json_is_object(tmpl) && (r = check_container_shape(c, "stepTemplate", tmpl)) < 0)
        return r;
    json_array_foreach(json_object_get(c->spec, "steps"), i, item) {
        r = check_step(c, item, i);
        if (r < 0)
            return r;
    }
    json_array_foreach(json_object_get(c->spec, "sidecars"), i, item) {
        char f[64];

        (void)snprintf(f, sizeof(f), "sidecars[%zu]", i);
        r = check_container_shape(c, f, item);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Default a ParamSpec's type and its properties' types (§1.3), then check it. */
static int default_param_spec(struct ctx *c, json_t *ps, size_t i)
{
    const char *name = json_string_value(json_object_get(ps, "name"));
    json_t *type = json_object_get(ps, "type");
    json_t *def = json_object_get(ps, "default");
    json_t *props = json_object_get(ps, "properties");
    const char *t;
    char f[64];

    (void)snprintf(f, sizeof(f), "params[%zu].name", i);
    if (!name)
        return invalid_spec(c, f, "expected a string");
    (void)snprintf(f, sizeof(f), "params[%zu].type", i);
    if (!is_unset_or(type, JSON_STRING))
        return invalid_spec(c, f, "expected a string, got %s", type_name(type));
    if (def && !json_is_null(def))
        (void)json_object_set_new(ps, "default", normalize_value(def));
    else
        (void)json_object_del(ps, "default");
    def = json_object_get(ps, "default");
    if (!json_is_string(type) || !*json_string_value(type)) {
        t = json_is_object(props) || json_is_object(def) ? "object"
            : json_is_array(def)                         ? "array"
                                                         : "string";
        (void)json_object_set_new(ps, "type", json_string(t));
    }
    t = json_string_value(json_object_get(ps, "type"));
    if (strcmp(t, "string") != 0 && strcmp(t, "array") != 0 && strcmp(t, "object") != 0)
        return invalid_spec(c, f, "\"%.*s\" is not string, array or object", CLIP(t));
    (void)snprintf(f, sizeof(f), "params[%zu].name", i);
    if (!is_param_name(name, strcmp(t, "object") == 0))
        return invalid_spec(c, f, "\"%.*s\" is not a valid %s param name", CLIP(name), t);
    (void)snprintf(f, sizeof(f), "params[%zu].default", i);
    if (def && strcmp(value_type(def), t) != 0)
        return invalid_spec(c, f, "\"%s\" param \"%.*s\" has a default of type %s", t, CLIP(name),
                            value_type(def));
    (void)snprintf(f, sizeof(f), "params[%zu].properties", i);
    if (!is_unset_or(props, JSON_OBJECT))
        return invalid_spec(c, f, "expected an object, got %s", type_name(props));
    if (json_is_object(props)) {
        const char *k;
        json_t *p;

        json_object_foreach(props, k, p) {
            const char *pt = json_string_value(json_object_get(p, "type"));

            if (!json_is_object(p))
                return invalid_spec(c, f, "property \"%.*s\" is not an object", CLIP(k));
            if (!pt)
                (void)json_object_set_new(p, "type", json_string("string"));
            else if (strcmp(pt, "string") != 0)
                return invalid_spec(c, f,
                                    "property \"%.*s\" has type \"%.*s\", only string is allowed",
                                    CLIP(k), CLIP(pt));
        }
    }
    return 0;
}

static int default_param_specs(struct ctx *c)
{
    json_t *params = json_object_get(c->spec, "params");
    json_t *ps;
    size_t i;
    int r;

    r = check_list_of_objects(c, "params", MAX_PARAMS, false);
    json_array_foreach(params, i, ps) {
        const char *name;

        if (r == 0)
            r = default_param_spec(c, ps, i);
        if (r < 0)
            return r;
        name = json_string_value(json_object_get(ps, "name"));
        for (size_t j = 0; j < i; j++) {
            const char *other =
                json_string_value(json_object_get(json_array_get(params, j), "name"));
            char f[64];

            (void)snprintf(f, sizeof(f), "params[%zu].name", i);
            if (other && strcasecmp(other, name) == 0)
                return invalid_spec(c, f, "parameter appears more than once: \"%.*s\"", CLIP(name));
        }
    }
    return r;
}

/* Results (task and step): name format, type defaulting. */
static int default_results(struct ctx *c, json_t *results, const char *field)
{
    json_t *res;
    size_t i;
    char f[96];

    json_array_foreach(results, i, res) {
        const char *name = json_string_value(json_object_get(res, "name"));
        const json_t *type = json_object_get(res, "type");

        (void)snprintf(f, sizeof(f), "%s[%zu].name", field, i);
        if (!json_is_object(res) || !name || !is_result_name(name))
            return invalid_spec(c, f, "\"%.*s\" is not a valid result name",
                                CLIP(name ? name : ""));
        (void)snprintf(f, sizeof(f), "%s[%zu].type", field, i);
        if (!is_unset_or(type, JSON_STRING))
            return invalid_spec(c, f, "expected a string, got %s", type_name(type));
        if (!json_is_string(type) || !*json_string_value(type))
            (void)json_object_set_new(res, "type",
                                      json_string(json_is_object(json_object_get(res, "properties"))
                                                      ? "object"
                                                      : "string"));
        type = json_object_get(res, "type");
        if (strcmp(json_string_value(type), "string") != 0 &&
            strcmp(json_string_value(type), "array") != 0 &&
            strcmp(json_string_value(type), "object") != 0)
            return invalid_spec(c, f, "\"%.*s\" is not string, array or object",
                                CLIP(json_string_value(type)));
    }
    return 0;
}

static int check_workspace_decls(struct ctx *c)
{
    const json_t *decls = json_object_get(c->spec, "workspaces");
    const json_t *d;
    size_t i;
    int r;

    r = check_list_of_objects(c, "workspaces", MAX_WORKSPACES, false);
    json_array_foreach(decls, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        char f[64];

        if (r < 0)
            return r;
        (void)snprintf(f, sizeof(f), "workspaces[%zu].name", i);
        if (!name || !*name)
            return invalid_spec(c, f, "expected a non-empty string");
        for (size_t j = 0; j < i; j++) {
            const char *o = json_string_value(json_object_get(json_array_get(decls, j), "name"));

            if (o && strcmp(o, name) == 0)
                return invalid_spec(c, f, "workspace name \"%.*s\" must be unique", CLIP(name));
        }
        (void)snprintf(f, sizeof(f), "workspaces[%zu].mountPath", i);
        if (!is_unset_or(json_object_get(d, "mountPath"), JSON_STRING))
            return invalid_spec(c, f, "expected a string");
    }
    return r;
}

static int check_spec(struct ctx *c)
{
    json_t *item;
    size_t i;
    int r;

    r = check_containers(c);
    if (r == 0)
        r = default_param_specs(c);
    if (r == 0)
        r = check_list_of_objects(c, "results", MAX_PARAMS, false);
    if (r == 0)
        r = default_results(c, json_object_get(c->spec, "results"), "results");
    json_array_foreach(json_object_get(c->spec, "steps"), i, item) {
        char f[64];

        (void)snprintf(f, sizeof(f), "steps[%zu].results", i);
        if (r == 0)
            r = default_results(c, json_object_get(item, "results"), f);
    }
    if (r == 0)
        r = check_workspace_decls(c);
    return r;
}

/* ---- params ---- */

static const json_t *find_by_name(const json_t *list, const char *name)
{
    const json_t *item;
    size_t i;

    json_array_foreach(list, i, item) {
        const char *n = json_string_value(json_object_get(item, "name"));

        if (n && strcmp(n, name) == 0)
            return item;
    }
    return NULL;
}

static void collect_params(struct ctx *c)
{
    const json_t *p;
    size_t i;

    c->params = json_object();
    json_array_foreach(json_object_get(c->trspec, "params"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));

        (void)json_object_set_new(c->params, name, normalize_value(json_object_get(p, "value")));
    }
}

/* A string that looks like a variable reference ("$(tasks.a.results.b[*])"). */
static bool looks_like_ref(const json_t *v)
{
    const char *s = json_string_value(v);

    return s && strstr(s, "$(") && strchr(s, ')');
}

/* Go's fmt of a []string: "[a b]". */
static void append_name(struct buf *b, const char *name)
{
    (void)buf_printf(b, "%s%.*s", buf_len(b) > 1 ? " " : "", CLIP(name));
}

static int validate_missing(struct ctx *c)
{
    const json_t *ps;
    struct buf b;
    size_t i;
    int r = 0;

    buf_init(&b, 64 * 1024);
    (void)buf_append_str(&b, "[");
    json_array_foreach(json_object_get(c->spec, "params"), i, ps) {
        const char *name = json_string_value(json_object_get(ps, "name"));

        if (!json_object_get(c->params, name) && !json_object_get(ps, "default"))
            append_name(&b, name);
    }
    if (buf_len(&b) > 1) {
        (void)buf_append_str(&b, "]");
        r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                 USER_ERROR "invalid input params for task %.*s: missing values for these params "
                            "which have no default values: %s",
                 CLIP(c->res->task_name), buf_str(&b));
    }
    buf_done(&b);
    return r;
}

static int validate_types(struct ctx *c)
{
    const json_t *p;
    struct buf b;
    size_t i;
    int r = 0;

    buf_init(&b, 64 * 1024);
    (void)buf_append_str(&b, "[");
    json_array_foreach(json_object_get(c->trspec, "params"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const json_t *ps = find_by_name(json_object_get(c->spec, "params"), name);
        const json_t *v = json_object_get(c->params, name);
        const char *want = json_string_value(json_object_get(ps, "type"));

        if (!ps || strcmp(value_type(v), want) == 0)
            continue;
        /* a string that is a reference may stand for an array or object (upstream #4879) */
        if (json_is_string(v) && looks_like_ref(v))
            continue;
        append_name(&b, name);
    }
    if (buf_len(&b) > 1) {
        (void)buf_append_str(&b, "]");
        r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                 USER_ERROR "invalid input params for task %.*s: param types don't match the "
                            "user-specified type: %s",
                 CLIP(c->res->task_name), buf_str(&b));
    }
    buf_done(&b);
    return r;
}

/* Object params: every key of 'properties' must come from the default or the TaskRun. */
static int validate_object_keys(struct ctx *c)
{
    const json_t *ps;
    struct buf b;
    size_t i;
    int r = 0;

    buf_init(&b, 64 * 1024);
    json_array_foreach(json_object_get(c->spec, "params"), i, ps) {
        const char *name = json_string_value(json_object_get(ps, "name"));
        const json_t *given = json_object_get(c->params, name);
        const json_t *def = json_object_get(ps, "default");
        json_t *props = json_object_get(ps, "properties");
        const json_t *p;
        const char *k;
        size_t mark = buf_len(&b);

        if (!json_is_object(given))
            continue; /* upstream checks only objects the TaskRun provides */
        (void)buf_printf(&b, "%s%.*s:[", mark ? " " : "", CLIP(name));
        json_object_foreach(props, k, p) {
            if (!json_object_get(given, k) && !json_object_get(def, k))
                (void)buf_printf(&b, "%s%.*s", b.data[buf_len(&b) - 1] == '[' ? "" : " ", CLIP(k));
        }
        if (b.data[buf_len(&b) - 1] == '[') {
            b.len = mark;
            b.data[mark] = '\0';
        } else {
            (void)buf_append_str(&b, "]");
        }
    }
    if (buf_len(&b) > 0)
        r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                 USER_ERROR "invalid input params for task %.*s: missing keys for these params "
                            "which are required in ParamSpec's properties map[%s]",
                 CLIP(c->res->task_name), buf_str(&b));
    buf_done(&b);
    return r;
}

static int validate_enums(struct ctx *c)
{
    const json_t *p;
    size_t i;

    if (!c->cfg->enable_param_enum)
        return 0;
    json_array_foreach(json_object_get(c->trspec, "params"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const json_t *ps = find_by_name(json_object_get(c->spec, "params"), name);
        const json_t *en = json_object_get(ps, "enum");
        const char *v = json_string_value(json_object_get(c->params, name));
        const json_t *e;
        size_t j;
        bool found = false;

        if (!v || !*v || json_array_size(en) == 0)
            continue;
        json_array_foreach(en, j, e) {
            found = found || (json_is_string(e) && strcmp(json_string_value(e), v) == 0);
        }
        if (!found)
            return fail(c, TASKRUN_REASON_INVALID_PARAM_VALUE,
                        USER_ERROR "param `%.*s` value: %.*s is not in the enum list", CLIP(name),
                        CLIP(v));
    }
    return 0;
}

/* ---- param references in the spec ---- */

struct ref {
    char name[256];
    enum { REF_PLAIN, REF_STAR, REF_INDEX, REF_KEY } kind;
    unsigned long index;
    char key[256];
};

/* Is 'name' (of 'len' bytes) a known param: declared, or given by the TaskRun? */
static const json_t *known_value(struct ctx *c, const char *name)
{
    return json_object_get(c->values, name);
}

/* A param a reference may name: declared, or (embedded specs only, §4.5) given by the
 * TaskRun. A referenced Task could never have been admitted with undeclared references. */
static bool known(struct ctx *c, const char *name)
{
    return find_by_name(json_object_get(c->spec, "params"), name) ||
           (c->embedded && json_object_get(c->params, name));
}

/* Parse the inside of "$(...)" after the "params" prefix. Returns false if malformed. */
static bool parse_ref(struct ctx *c, const char *in, size_t len, struct ref *ref)
{
    const char *end = in + len;
    const char *p = in;
    const char *rest;
    size_t n;

    memset(ref, 0, sizeof(*ref));
    if (*p == '[' && p + 2 < end && (p[1] == '"' || p[1] == '\'')) {
        const char *q = memchr(p + 2, p[1], (size_t)(end - p - 2));

        if (!q || q + 1 >= end || q[1] != ']')
            return false;
        n = (size_t)(q - p - 2);
        rest = q + 2;
        if (n >= sizeof(ref->name))
            return false;
        memcpy(ref->name, p + 2, n);
    } else if (*p == '.') {
        const char *stop = p + 1;

        while (stop < end && *stop != '[')
            stop++;
        n = (size_t)(stop - p - 1);
        if (n >= sizeof(ref->name))
            return false;
        memcpy(ref->name, p + 1, n);
        rest = stop;
        /* "a.b.c": the longest dotted prefix that names a param; else "a" with key "b.c" */
        while (!known(c, ref->name) && strrchr(ref->name, '.')) {
            char *dot = strrchr(ref->name, '.');

            *dot = '\0';
            rest = p + 1 + (dot - ref->name);
        }
        if (*rest == '.') {
            n = (size_t)(stop - rest - 1);
            if (n >= sizeof(ref->key))
                return false;
            memcpy(ref->key, rest + 1, n);
            ref->kind = REF_KEY;
            rest = stop;
        }
    } else {
        return false;
    }
    if (rest == end)
        return true;
    if (end - rest == 3 && memcmp(rest, "[*]", 3) == 0) {
        ref->kind = ref->kind == REF_KEY ? REF_KEY : REF_STAR;
        return ref->kind == REF_STAR;
    }
    if (*rest == '[' && end[-1] == ']' && end - rest > 2 && ref->kind == REF_PLAIN) {
        char *e;

        errno = 0;
        ref->index = strtoul(rest + 1, &e, 10);
        ref->kind = REF_INDEX;
        return errno == 0 && e == end - 1 && isdigit((unsigned char)rest[1]);
    }
    return false;
}

enum ref_site {
    SITE_STRING, /* a plain string field: whole arrays/objects are not allowed */
    SITE_LIST,   /* an element of command/args/when.values: whole arrays allowed when isolated */
    SITE_PARAM,  /* a step param value: anything goes */
};

struct ref_scan {
    struct ctx *c;
    struct buf field;        /* the field being scanned, relative to the spec */
    struct buf out_of_range; /* "[$(params.a[5]) ...]" */
};

static int check_one_ref(struct ref_scan *s, const char *value, const char *at, size_t len,
                         enum ref_site site)
{
    struct ctx *c = s->c;
    const char *prefix = strncmp(at + 2, "inputs.params", 13) == 0 ? "inputs.params" : "params";
    size_t plen = strlen(prefix);
    const json_t *v;
    struct ref ref;

    if (!parse_ref(c, at + 2 + plen, len - 3 - plen, &ref) || !known(c, ref.name))
        return invalid_spec(c, buf_str(&s->field), "non-existent variable in \"%.*s\"", (int)len,
                            at);
    v = known_value(c, ref.name);
    if (ref.kind == REF_INDEX) {
        if (json_is_array(v) && ref.index >= json_array_size(v))
            (void)buf_printf(&s->out_of_range, "%s%.*s", buf_len(&s->out_of_range) ? " " : "",
                             (int)len, at);
        return 0;
    }
    if (ref.kind == REF_KEY) {
        if (json_is_object(v) && !json_object_get(v, ref.key))
            return invalid_spec(c, buf_str(&s->field), "non-existent variable in \"%.*s\"",
                                (int)len, at);
        return 0;
    }
    if (!json_is_array(v) && !json_is_object(v))
        return 0;
    if (site == SITE_PARAM)
        return 0;
    if (site == SITE_LIST && json_is_array(v) && strlen(value) == len)
        return 0;
    if (site == SITE_LIST && json_is_array(v))
        return invalid_spec(c, buf_str(&s->field), "variable is not properly isolated in \"%.*s\"",
                            CLIP(value));
    return invalid_spec(c, buf_str(&s->field), "variable type invalid in \"%.*s\"", CLIP(value));
}

/* $(context.taskRun.X) knows only name|namespace|uid, $(context.task.X) name|retry-count. */
static int check_context_ref(struct ref_scan *s, const char *at, size_t len)
{
    static const char *const known_refs[] = {
        "$(context.taskRun.name)", "$(context.taskRun.namespace)", "$(context.taskRun.uid)",
        "$(context.task.name)",    "$(context.task.retry-count)",  NULL,
    };

    for (size_t i = 0; known_refs[i]; i++) {
        if (strlen(known_refs[i]) == len && memcmp(known_refs[i], at, len) == 0)
            return 0;
    }
    /* other context.* roots (pipelineRun, pipelineTask) are PipelineRun business: left alone */
    if (strncmp(at, "$(context.taskRun.", 18) != 0 && strncmp(at, "$(context.task.", 15) != 0)
        return 0;
    return invalid_spec(s->c, buf_str(&s->field), "non-existent variable in \"%.*s\"",
                        len > CLIP_BYTES ? CLIP_BYTES : (int)len, at);
}

static int scan_string(struct ref_scan *s, const char *value, enum ref_site site)
{
    const char *end = value + strlen(value);
    const char *close = NULL; /* cached first ')' after the current "$(": keeps this linear */
    const char *at = value;
    int r = 0;

    while (r == 0 && (at = memchr(at, '$', (size_t)(end - at))) != NULL) {
        const char *in = at + 2;

        if (at + 1 >= end || at[1] != '(') {
            at++;
            continue;
        }
        if (!close || close < in)
            close = memchr(in, ')', (size_t)(end - in));
        if (!close)
            return 0;
        if (strncmp(in, "context.", 8) == 0) {
            r = check_context_ref(s, at, (size_t)(close - at) + 1);
            at = close + 1;
        } else if (strncmp(in, "params.", 7) == 0 || strncmp(in, "params[", 7) == 0 ||
                   strncmp(in, "inputs.params.", 14) == 0) {
            r = check_one_ref(s, value, at, (size_t)(close - at) + 1, site);
            at = close + 1;
        } else {
            at += 2;
        }
    }
    return r;
}

/* Scan every string under 'v'; 'key' is the member name 'v' sits under in its parent. */
static int scan_value(struct ref_scan *s, json_t *v, const char *key, int depth)
{
    size_t mark = buf_len(&s->field);
    json_t *item;
    const char *k;
    size_t i;
    int r = 0;

    if (depth > 64)
        return invalid_spec(s->c, buf_str(&s->field), "nesting deeper than 64 levels");
    if (json_is_string(v))
        return scan_string(s, json_string_value(v), SITE_STRING);
    if (json_is_array(v)) {
        bool list = key && (strcmp(key, "command") == 0 || strcmp(key, "args") == 0 ||
                            strcmp(key, "values") == 0);

        json_array_foreach(v, i, item) {
            (void)buf_printf(&s->field, "[%zu]", i);
            r = json_is_string(item) && list ? scan_string(s, json_string_value(item), SITE_LIST)
                                             : scan_value(s, item, key, depth + 1);
            s->field.len = mark;
            s->field.data[mark] = '\0';
            if (r < 0)
                return r;
        }
    }
    if (json_is_object(v)) {
        json_object_foreach(v, k, item) {
            (void)buf_printf(&s->field, ".%.*s", CLIP(k));
            if (key && strcmp(key, "params") == 0 && strcmp(k, "value") == 0)
                r = json_is_string(item) ? scan_string(s, json_string_value(item), SITE_PARAM) : 0;
            else if (key && strcmp(key, "when") == 0 && strcmp(k, "input") == 0 &&
                     json_is_string(item))
                r = scan_string(s, json_string_value(item), SITE_LIST);
            else
                r = scan_value(s, item, k, depth + 1);
            s->field.len = mark;
            s->field.data[mark] = '\0';
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int check_param_refs(struct ctx *c)
{
    static const char *const lists[] = {"steps", "sidecars", "volumes", "workspaces", NULL};
    struct ref_scan s = {.c = c};
    int r = 0;

    buf_init(&s.field, 64 * 1024);
    buf_init(&s.out_of_range, 64 * 1024);
    for (size_t l = 0; r == 0 && lists[l]; l++) {
        json_t *item;
        size_t i;

        json_array_foreach(json_object_get(c->spec, lists[l]), i, item) {
            buf_reset(&s.field);
            (void)buf_printf(&s.field, "%s[%zu]", lists[l], i);
            r = scan_value(&s, item, lists[l], 0);
            if (r < 0)
                break;
        }
    }
    if (r == 0 && json_is_object(json_object_get(c->spec, "stepTemplate"))) {
        buf_reset(&s.field);
        (void)buf_append_str(&s.field, "stepTemplate");
        r = scan_value(&s, json_object_get(c->spec, "stepTemplate"), "stepTemplate", 0);
    }
    if (r == 0 && buf_len(&s.out_of_range) > 0)
        r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                 USER_ERROR "non-existent param references:[%s]", buf_str(&s.out_of_range));
    buf_done(&s.field);
    buf_done(&s.out_of_range);
    return r;
}

/* ---- the param table (phase 1) ---- */

/* The spellings every param key is registered under (§4.5): prefix + name + suffix. */
static const struct {
    const char *prefix;
    const char *suffix;
} param_patterns[] = {
    {"params.", ""},
    {"params[\"", "\"]"},
    {"params['", "']"},
    {"inputs.params.", ""},
};

static void table_add_param(struct substitute_table *t, const char *name, json_t *v)
{
    for (size_t p = 0; p < sizeof(param_patterns) / sizeof(param_patterns[0]); p++) {
        char *key = xasprintf("%s%s%s", param_patterns[p].prefix, name, param_patterns[p].suffix);

        if (json_is_array(v)) {
            const json_t *item;
            size_t i;

            substitute_table_set_array(t, key, v);
            json_array_foreach(v, i, item) {
                char *ik = xasprintf("%s[%zu]", key, i);

                substitute_table_set_string(t, ik, json_string_value(item));
                free(ik);
            }
        } else if (json_is_object(v)) {
            substitute_table_set_object(t, key, v);
        } else {
            substitute_table_set_string(t, key, json_string_value(v));
        }
        free(key);
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *item;

        json_object_foreach(v, k, item) {
            char *key = xasprintf("params.%s.%s", name, k);

            substitute_table_set_string(t, key, json_string_value(item));
            free(key);
        }
    }
}

/* Defaults may reference other params' defaults (§4.5): resolve them against those alone.
 * 'specs' is a defaulted ParamSpec list; returns a new object name -> default value. */
static json_t *resolved_defaults(const json_t *specs)
{
    static const char *const value_path[] = {"v[]=", NULL};
    struct substitute_table *t = substitute_table_new();
    json_t *defaults = json_object();
    const json_t *ps;
    size_t i;

    json_array_foreach(specs, i, ps) {
        json_t *def = json_object_get(ps, "default");

        if (def)
            table_add_param(t, json_string_value(json_object_get(ps, "name")), def);
    }
    json_array_foreach(specs, i, ps) {
        json_t *def = json_deep_copy(json_object_get(ps, "default"));
        json_t *wrapper;

        if (!def)
            continue;
        wrapper = json_pack("{s:[{s:o}]}", "v", "value", def);
        (void)substitute_json(wrapper, value_path, t, NULL);
        (void)json_object_set(
            defaults, json_string_value(json_object_get(ps, "name")),
            json_object_get(json_array_get(json_object_get(wrapper, "v"), 0), "value"));
        json_decref(wrapper);
    }
    substitute_table_free(t);
    return defaults;
}

/* Effective values: the defaults of 'specs', overridden by 'given' (name -> value; objects
 * merged key by key). Returns a new object; '*ret_table' gets the matching param table. */
static json_t *build_values_of(const json_t *specs, json_t *given,
                               struct substitute_table **ret_table)
{
    json_t *values = resolved_defaults(specs);
    struct substitute_table *t = substitute_table_new();
    const char *name;
    json_t *v;

    /* keys derived from a default survive unless the given value registers the same key, as
     * upstream's map overwrites do (a string given for an object keeps the default's keys) */
    json_object_foreach(values, name, v) {
        table_add_param(t, name, v);
    }
    json_object_foreach(given, name, v) {
        json_t *def = json_object_get(values, name);

        if (json_is_object(def) && json_is_object(v)) {
            json_t *merged = json_deep_copy(def);

            (void)json_object_update(merged, v);
            (void)json_object_set_new(values, name, merged);
        } else {
            (void)json_object_set(values, name, v);
        }
        table_add_param(t, name, json_object_get(values, name));
    }
    *ret_table = t;
    return values;
}

static void build_values(struct ctx *c)
{
    c->values = build_values_of(json_object_get(c->spec, "params"), c->params, &c->param_table);
}

/* ---- StepActions (§3.3 step 4) ---- */

/* Type-default a StepAction's ParamSpecs in place (same rules as a Task's). */
static void default_stepaction_params(json_t *specs)
{
    json_t *ps;
    size_t i;

    json_array_foreach(specs, i, ps) {
        json_t *def = json_object_get(ps, "default");
        const char *t = json_string_value(json_object_get(ps, "type"));

        if (!json_is_object(ps))
            continue;
        if (def && !json_is_null(def))
            (void)json_object_set_new(ps, "default", normalize_value(def));
        else
            (void)json_object_del(ps, "default");
        def = json_object_get(ps, "default");
        if (!t || !*t)
            (void)json_object_set_new(
                ps, "type",
                json_string(json_is_object(json_object_get(ps, "properties")) || json_is_object(def)
                                ? "object"
                            : json_is_array(def) ? "array"
                                                 : "string"));
    }
}

/* "$(steps.<s>.results.<r>)" or "...[*]": writes "<s>" and "<r>" as one "steps.<s>.results.<r>". */
static char *step_result_ref(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    size_t inner;

    if (n < 4 || strncmp(s, "$(steps.", 8) != 0 || s[n - 1] != ')' || !strstr(s, ".results."))
        return NULL;
    inner = n - 3;
    if (inner > 3 && strncmp(s + 2 + inner - 3, "[*]", 3) == 0)
        inner -= 3;
    return xstrndup(s + 2, inner);
}

/* Add "$(params.<p>[<i>])" keys found in 'v' (any depth) as "$(<ref>[<i>])". */
static void map_indexed(struct substitute_table *t, json_t *v, const char *p, const char *ref,
                        int depth)
{
    json_t *item;
    const char *k;
    size_t i;
    char *needle;
    const char *str;
    const char *end;
    const char *at;
    size_t nlen;

    if (depth > 64)
        return;
    json_array_foreach(v, i, item) {
        map_indexed(t, item, p, ref, depth + 1);
    }
    json_object_foreach(v, k, item) {
        map_indexed(t, item, p, ref, depth + 1);
    }
    if (!json_is_string(v))
        return;
    needle = xasprintf("$(params.%s[", p);
    nlen = strlen(needle);
    str = json_string_value(v);
    end = str + strlen(str);
    for (at = str; (at = memchr(at, '$', (size_t)(end - at))) != NULL; at++) {
        const char *d = at + nlen;

        if ((size_t)(end - at) < nlen || memcmp(at, needle, nlen) != 0)
            continue;
        size_t nd = strspn(d, "0123456789");

        if (nd > 0 && nd < 10 && d[nd] == ']' && d[nd + 1] == ')') {
            char *key = xasprintf("params.%s[%.*s]", p, (int)nd, d);
            char *val = xasprintf("$(%s[%.*s])", ref, (int)nd, d);

            substitute_table_set_string(t, key, val);
            free(key);
            free(val);
        }
    }
    free(needle);
}

/* A step param whose value is a step result reference stands for that result (upstream
 * replacementsFromStepResults): array params map [*] and [i], object params their keys. */
static void map_step_results(struct substitute_table *t, const json_t *specs, json_t *given,
                             json_t *saspec)
{
    const char *name;
    json_t *v;

    json_object_foreach(given, name, v) {
        const json_t *ps = find_by_name(specs, name);
        const char *type = json_string_value(json_object_get(ps, "type"));
        char *ref = step_result_ref(v);

        if (ref && type && strcmp(type, "array") == 0) {
            char *val = xasprintf("$(%s[*])", ref);

            for (size_t p = 0; p < sizeof(param_patterns) / sizeof(param_patterns[0]); p++) {
                char *key = xasprintf("%s%s%s[*]", param_patterns[p].prefix, name,
                                      param_patterns[p].suffix);

                substitute_table_set_string(t, key, val);
                free(key);
            }
            free(val);
            map_indexed(t, saspec, name, ref, 0);
        } else if (ref && type && strcmp(type, "object") == 0) {
            const char *k;
            json_t *prop;

            json_object_foreach(json_object_get(ps, "properties"), k, prop) {
                char *key = xasprintf("params.%s.%s", name, k);
                char *val = xasprintf("$(%s.%s)", ref, k);

                substitute_table_set_string(t, key, val);
                free(key);
                free(val);
            }
        }
        free(ref);
    }
}

/* Step params against the StepAction's: none extra, none required missing. */
static int check_stepaction_params(struct ctx *c, const json_t *specs, json_t *given)
{
    const char *name;
    json_t *v;
    const json_t *ps;
    size_t i;
    struct buf b;
    int r = 0;

    buf_init(&b, 64 * 1024);
    (void)buf_append_str(&b, "[");
    json_object_foreach(given, name, v) {
        if (!find_by_name(specs, name))
            append_name(&b, name);
    }
    if (buf_len(&b) > 1) {
        (void)buf_append_str(&b, "]");
        r = fail(c, TASKRUN_REASON_RESOLUTION_FAILED,
                 "extra params passed by Step to StepAction: %s", buf_str(&b));
    }
    buf_reset(&b);
    (void)buf_append_str(&b, "[");
    json_array_foreach(specs, i, ps) {
        const char *n = json_string_value(json_object_get(ps, "name"));

        if (r == 0 && n && !json_object_get(ps, "default") && !json_object_get(given, n))
            append_name(&b, n);
    }
    if (r == 0 && buf_len(&b) > 1) {
        (void)buf_append_str(&b, "]");
        r = fail(c, TASKRUN_REASON_RESOLUTION_FAILED, "non-existent params in Step: %s",
                 buf_str(&b));
    }
    buf_done(&b);
    return r;
}

/* The step's params (TaskRun params substituted first) as name -> value. */
static json_t *step_params(struct ctx *c, const json_t *step)
{
    static const char *const paths[] = {"params[]=", NULL};
    json_t *wrapper = json_pack("{s:O}", "params", json_object_get(step, "params"));
    json_t *given = json_object();
    const json_t *p;
    size_t i;

    if (!wrapper)
        return given;
    (void)substitute_json(wrapper, paths, c->param_table, NULL);
    json_array_foreach(json_object_get(wrapper, "params"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));

        if (name)
            (void)json_object_set_new(given, name, normalize_value(json_object_get(p, "value")));
    }
    json_decref(wrapper);
    return given;
}

/* The step with the StepAction's fields: some taken always, some only when set (§3.3). */
static json_t *merged_step(const json_t *step, const json_t *saspec)
{
    static const char *const always[] = {"image", "securityContext", "workingDir", NULL};
    static const char *const if_set[] = {"command",      "args",    "script", "env",
                                         "volumeMounts", "results", NULL};
    json_t *out = json_deep_copy(step);

    (void)json_object_del(out, "ref");
    (void)json_object_del(out, "params");
    for (size_t k = 0; always[k]; k++) {
        const json_t *v = json_object_get(saspec, always[k]);

        if (v)
            (void)json_object_set_new(out, always[k], json_deep_copy(v));
        else
            (void)json_object_del(out, always[k]);
    }
    for (size_t k = 0; if_set[k]; k++) {
        const json_t *v = json_object_get(saspec, if_set[k]);

        if (v)
            (void)json_object_set_new(out, if_set[k], json_deep_copy(v));
    }
    return out;
}

static int resolve_stepaction(struct ctx *c, size_t i)
{
    json_t *steps = json_object_get(c->spec, "steps");
    json_t *step = json_array_get(steps, i);
    const char *name = json_string_value(json_object_get(json_object_get(step, "ref"), "name"));
    const json_t *sa = json_object_get(c->in->stepactions, name);
    json_t *saspec = json_deep_copy(json_object_get(sa, "spec"));
    json_t *given = NULL;
    json_t *values = NULL;
    json_t *out = NULL;
    struct substitute_table *t = NULL;
    char *path = NULL;
    int r;

    if (!json_is_object(saspec)) {
        if (sa)
            r = fail(c, TASKRUN_REASON_RESOLUTION_FAILED,
                     "invalid StepAction \"%.*s\": spec is not an object", CLIP(name));
        else
            r = fail(c, TASKRUN_REASON_RESOLUTION_FAILED,
                     "error when listing stepactions for taskRun %.*s: stepactions.tekton.dev "
                     "\"%.*s\" not found",
                     CLIP(trname(c)), CLIP(name));
        goto out;
    }
    default_stepaction_params(json_object_get(saspec, "params"));
    given = step_params(c, step);
    r = check_stepaction_params(c, json_object_get(saspec, "params"), given);
    if (r < 0)
        goto out;
    values = build_values_of(json_object_get(saspec, "params"), given, &t);
    map_step_results(t, json_object_get(saspec, "params"), given, saspec);
    out = merged_step(step, saspec);
    r = substitute_json(out, substitute_step_fields, t, &path);
    if (r < 0) {
        r = too_large(c, path);
        path = NULL;
        goto out;
    }
    (void)json_array_set(steps, i, out);
out:
    free(path);
    substitute_table_free(t);
    json_decref(out);
    json_decref(values);
    json_decref(given);
    json_decref(saspec);
    return r;
}

static int resolve_stepactions(struct ctx *c)
{
    json_t *step;
    size_t i;
    int r;

    json_array_foreach(json_object_get(c->spec, "steps"), i, step) {
        if (!json_object_get(step, "ref"))
            continue;
        r = resolve_stepaction(c, i);
        if (r < 0)
            return r;
    }
    return 0;
}

static int validate_params(struct ctx *c)
{
    int r;

    collect_params(c);
    r = validate_missing(c);
    if (r == 0)
        r = validate_types(c);
    if (r == 0)
        r = validate_object_keys(c);
    if (r == 0)
        r = validate_enums(c);
    if (r < 0)
        return r;
    build_values(c);
    r = resolve_stepactions(c);
    return r < 0 ? r : check_param_refs(c);
}

/* ---- workspaces ---- */

char *taskrun_resolve_workspace_volume_name(const char *name)
{
    return childname_fnv("ws-", name, 5);
}

static const char *const binding_sources[] = {
    "persistentVolumeClaim",
    "volumeClaimTemplate",
    "emptyDir",
    "configMap",
    "secret",
    "projected",
    "csi",
    NULL,
};

static int check_binding(struct ctx *c, const json_t *b)
{
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *source = NULL;
    int count = 0;

    for (size_t i = 0; binding_sources[i]; i++) {
        const json_t *v = json_object_get(b, binding_sources[i]);

        if (v && !json_is_null(v)) {
            if (!json_is_object(v))
                return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                            USER_ERROR "binding \"%.*s\" is invalid: %s must be an object",
                            CLIP(name), binding_sources[i]);
            source = binding_sources[i];
            count++;
        }
    }
    if (count != 1)
        return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                    USER_ERROR "binding \"%.*s\" is invalid: expected exactly one, got %s",
                    CLIP(name), count ? "both" : "neither");
    if (!is_unset_or(json_object_get(b, "subPath"), JSON_STRING))
        return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                    USER_ERROR "binding \"%.*s\" is invalid: subPath must be a string", CLIP(name));
    if ((strcmp(source, "persistentVolumeClaim") == 0 &&
         !json_string_length(json_object_get(json_object_get(b, source), "claimName"))) ||
        (strcmp(source, "configMap") == 0 &&
         !json_string_length(json_object_get(json_object_get(b, source), "name"))) ||
        (strcmp(source, "secret") == 0 &&
         !json_string_length(json_object_get(json_object_get(b, source), "secretName"))) ||
        (strcmp(source, "csi") == 0 &&
         !json_string_length(json_object_get(json_object_get(b, source), "driver"))) ||
        (strcmp(source, "projected") == 0 &&
         json_array_size(json_object_get(json_object_get(b, source), "sources")) == 0))
        return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                    USER_ERROR "binding \"%.*s\" is invalid: missing field(s) in %s", CLIP(name),
                    source);
    return 0;
}

/* Bindings with params substituted (phase 0) plus the default binding for unbound required
 * workspaces. */
static int build_bindings(struct ctx *c)
{
    const json_t *decls = json_object_get(c->spec, "workspaces");
    json_t *bindings = json_deep_copy(json_object_get(c->trspec, "workspaces"));
    const json_t *d;
    json_t *b;
    size_t i;
    int r = 0;

    if (!bindings)
        bindings = json_array();
    c->res->workspaces = bindings;
    json_array_foreach(bindings, i, b) {
        char *path = NULL;

        r = substitute_json(b, substitute_binding_fields, c->param_table, &path);
        if (r < 0)
            r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                     USER_ERROR "substituted value too large in spec.workspaces[%zu].%s", i, path);
        free(path);
        if (r == 0)
            r = check_binding(c, b);
        if (r < 0)
            return r;
    }
    json_array_foreach(decls, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const json_t *def = c->cfg->default_task_run_workspace_binding;

        if (find_by_name(bindings, name) || json_is_true(json_object_get(d, "optional")) || !def)
            continue;
        b = json_deep_copy(def);
        (void)json_object_set_new(b, "name", json_string(name));
        json_array_append_new(bindings, b);
    }
    return 0;
}

static int match_bindings(struct ctx *c)
{
    json_t *decls = json_object_get(c->spec, "workspaces");
    const json_t *d;
    const json_t *b;
    size_t i;

    json_array_foreach(decls, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));

        if (!find_by_name(c->res->workspaces, name) &&
            !json_is_true(json_object_get(d, "optional")))
            return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                        USER_ERROR "declared workspace \"%.*s\" is required but has not been bound",
                        CLIP(name));
    }
    json_array_foreach(c->res->workspaces, i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));

        if (find_by_name(decls, name))
            continue;
        if (!c->embedded)
            return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                        USER_ERROR
                        "workspace binding \"%.*s\" does not match any declared workspace",
                        CLIP(name));
        /* propagation (§9.1): an embedded spec gets a declaration for every binding */
        if (!json_is_array(decls)) {
            decls = json_array();
            (void)json_object_set_new(c->spec, "workspaces", decls);
        }
        json_array_append_new(decls, json_pack("{s:s}", "name", name));
    }
    return 0;
}

static const char *binding_claim(const json_t *b)
{
    return json_string_value(
        json_object_get(json_object_get(b, "persistentVolumeClaim"), "claimName"));
}

/* With coschedule "workspaces", a TaskRun may bind at most one distinct PVC (§9.4); each
 * volumeClaimTemplate counts as a PVC of its own. */
static int check_coschedule(struct ctx *c)
{
    const json_t *b;
    size_t i;
    size_t count = 0;

    if (c->cfg->coschedule != TEKTON_COSCHEDULE_WORKSPACES)
        return 0;
    json_array_foreach(c->res->workspaces, i, b) {
        const char *claim = binding_claim(b);
        bool seen = false;

        for (size_t j = 0; claim && j < i && !seen; j++) {
            const char *other = binding_claim(json_array_get(c->res->workspaces, j));

            seen = other && strcmp(other, claim) == 0;
        }
        if (json_object_get(b, "volumeClaimTemplate") || (claim && !seen))
            count++;
    }
    if (count > 1)
        return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                    USER_ERROR "more than one PersistentVolumeClaim is bound");
    return 0;
}

/* Give each binding its Pod volume name; bindings of one PVC claim share the first one's. */
static void name_volumes(struct ctx *c)
{
    json_t *b;
    size_t i;

    json_array_foreach(c->res->workspaces, i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *claim = binding_claim(b);
        char *seed = xstrdup(name);
        char *vol = NULL;

        for (size_t j = 0; claim && j < i && !vol; j++) {
            const json_t *o = json_array_get(c->res->workspaces, j);
            const char *oc = binding_claim(o);

            if (oc && strcmp(oc, claim) == 0)
                vol = xstrdup(json_string_value(json_object_get(o, "volume")));
        }
        while (!vol) {
            bool clash = false;

            vol = taskrun_resolve_workspace_volume_name(seed);
            for (size_t j = 0; j < i && !clash; j++) {
                const char *ov = json_string_value(
                    json_object_get(json_array_get(c->res->workspaces, j), "volume"));

                clash = ov && strcmp(ov, vol) == 0;
            }
            if (clash) {
                char *next = xasprintf("%s$", seed);

                free(seed);
                seed = next;
                free(vol);
                vol = NULL;
            }
        }
        (void)json_object_set_new(b, "volume", json_string(vol));
        free(vol);
        free(seed);
    }
}

static int resolve_workspaces(struct ctx *c)
{
    int r = build_bindings(c);

    if (r == 0)
        r = match_bindings(c);
    if (r == 0)
        r = check_coschedule(c);
    if (r == 0)
        name_volumes(c);
    return r;
}

/* ---- substitution phases ---- */

static int too_large(struct ctx *c, char *path)
{
    int r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                 USER_ERROR "invalid value for \"%s.%s\"%s: substituted value is larger than %u "
                            "bytes",
                 c->where, path ? path : "", c->in_task, SUBSTITUTE_MAX_STRING);

    free(path);
    return r;
}

static int apply_table(struct ctx *c, const struct substitute_table *t)
{
    char *path = NULL;
    int r = substitute_taskspec(c->spec, t, &path);

    return r < 0 ? too_large(c, path) : 0;
}

static int apply_to_container(struct ctx *c, json_t *ctr, const char *const *fields,
                              const struct substitute_table *t)
{
    char *path = NULL;
    int r = substitute_json(ctr, fields, t, &path);

    return r < 0 ? too_large(c, path) : 0;
}

static int phase_context(struct ctx *c)
{
    const json_t *meta = json_object_get(c->tr, "metadata");
    const json_t *retries = json_object_get(json_object_get(c->tr, "status"), "retriesStatus");
    struct substitute_table *t = substitute_table_new();
    char *count = xasprintf("%zu", json_array_size(retries));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    int r;

    substitute_table_set_string(t, "context.taskRun.name",
                                json_string_value(json_object_get(meta, "name")));
    substitute_table_set_string(t, "context.taskRun.namespace", ns ? ns : "");
    substitute_table_set_string(t, "context.taskRun.uid", uid ? uid : "");
    substitute_table_set_string(t, "context.task.name", c->res->task_name);
    substitute_table_set_string(t, "context.task.retry-count", count);
    r = apply_table(c, t);
    free(count);
    substitute_table_free(t);
    return r;
}

static void add_three_forms(struct substitute_table *t, const char *prefix, const char *name,
                            const char *suffix, const char *value)
{
    char *k1 = xasprintf("%s.%s%s", prefix, name, suffix);
    char *k2 = xasprintf("%s[\"%s\"]%s", prefix, name, suffix);
    char *k3 = xasprintf("%s['%s']%s", prefix, name, suffix);

    substitute_table_set_string(t, k1, value);
    substitute_table_set_string(t, k2, value);
    substitute_table_set_string(t, k3, value);
    free(k1);
    free(k2);
    free(k3);
}

/* Phases 3-5: step result paths, step artifacts, task result paths, exit code paths. */
static int phase_paths(struct ctx *c)
{
    struct substitute_table *task = substitute_table_new();
    const json_t *res;
    json_t *step;
    size_t i;
    int r = 0;

    json_array_foreach(json_object_get(c->spec, "steps"), i, step) {
        struct substitute_table *t = substitute_table_new();
        char *cname = step_container_name(step, i);
        char *v = xasprintf(STEPS_DIR "/%s/artifacts/provenance.json", cname);
        size_t j;

        substitute_table_set_string(t, "step.artifacts.path", v);
        free(v);
        json_array_foreach(json_object_get(step, "results"), j, res) {
            const char *name = json_string_value(json_object_get(res, "name"));

            v = xasprintf(STEPS_DIR "/%s/results/%s", cname, name);
            add_three_forms(t, "step.results", name, ".path", v);
            free(v);
        }
        v = xasprintf(STEPS_DIR "/%s/exitCode", cname);
        {
            char *key = xasprintf("steps.%s.exitCode.path", cname);

            substitute_table_set_string(task, key, v);
            free(key);
        }
        free(v);
        free(cname);
        if (r == 0)
            r = apply_to_container(c, step, substitute_step_fields, t);
        substitute_table_free(t);
    }
    json_array_foreach(json_object_get(c->spec, "results"), i, res) {
        const char *name = json_string_value(json_object_get(res, "name"));
        char *v = xasprintf(RESULTS_DIR "/%s", name);

        add_three_forms(task, "results", name, ".path", v);
        free(v);
    }
    substitute_table_set_string(task, "artifacts.path", ARTIFACTS_PATH);
    if (r == 0)
        r = apply_table(c, task);
    substitute_table_free(task);
    return r;
}

/* $(workspaces.<w>.path) in a step or sidecar that mounts <w> somewhere else (§9.2). */
static int apply_usage_paths(struct ctx *c, const char *list, const char *const *fields,
                             const char *ws, const char *key)
{
    json_t *ctr;
    size_t i;
    int r;

    json_array_foreach(json_object_get(c->spec, list), i, ctr) {
        const json_t *usage = find_by_name(json_object_get(ctr, "workspaces"), ws);
        const char *mp = json_string_value(json_object_get(usage, "mountPath"));
        struct substitute_table *t;

        if (!mp || !*mp)
            continue;
        t = substitute_table_new();
        substitute_table_set_string(t, key, mp);
        r = apply_to_container(c, ctr, fields, t);
        substitute_table_free(t);
        if (r < 0)
            return r;
    }
    return 0;
}

static int phase_workspaces(struct ctx *c)
{
    struct substitute_table *t = substitute_table_new();
    const json_t *d;
    const json_t *b;
    size_t i;
    int r = 0;

    json_array_foreach(json_object_get(c->spec, "workspaces"), i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *mp = json_string_value(json_object_get(d, "mountPath"));
        char *key = xasprintf("workspaces.%s.path", name);
        char *bound = xasprintf("workspaces.%s.bound", name);
        char *path = mp && *mp ? xstrdup(mp) : xasprintf("/workspace/%s", name);
        bool is_bound = find_by_name(c->res->workspaces, name) != NULL;

        substitute_table_set_string(t, bound, is_bound ? "true" : "false");
        substitute_table_set_string(t, key, is_bound ? path : "");
        if (r == 0 && is_bound)
            r = apply_usage_paths(c, "steps", substitute_step_fields, name, key);
        if (r == 0 && is_bound)
            r = apply_usage_paths(c, "sidecars", substitute_sidecar_fields, name, key);
        free(path);
        free(bound);
        free(key);
    }
    json_array_foreach(c->res->workspaces, i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        const json_t *vct = json_object_get(b, "volumeClaimTemplate");
        const char *uid =
            json_string_value(json_object_get(json_object_get(c->tr, "metadata"), "uid"));
        char *claim =
            vct ? childname_pvc(
                      json_string_value(json_object_get(json_object_get(vct, "metadata"), "name")),
                      name, uid ? uid : "")
                : xstrdup(binding_claim(b) ? binding_claim(b) : "");
        char *vk = xasprintf("workspaces.%s.volume", name);
        char *ck = xasprintf("workspaces.%s.claim", name);

        substitute_table_set_string(t, vk, json_string_value(json_object_get(b, "volume")));
        substitute_table_set_string(t, ck, claim);
        free(claim);
        free(vk);
        free(ck);
    }
    if (r == 0)
        r = apply_table(c, t);
    substitute_table_free(t);
    return r;
}

static int phase_credentials(struct ctx *c)
{
    struct substitute_table *t = substitute_table_new();
    int r;

    substitute_table_set_string(t, "credentials.path", CREDS_PATH);
    r = apply_table(c, t);
    substitute_table_free(t);
    return r;
}

static int substitute_phases(struct ctx *c)
{
    int r = apply_table(c, c->param_table);

    if (r == 0)
        r = phase_context(c);
    if (r == 0)
        r = phase_paths(c);
    if (r == 0)
        r = phase_workspaces(c);
    if (r < 0)
        return r;
    c->res->status_spec = json_deep_copy(c->spec);
    r = phase_credentials(c);
    if (r == 0)
        c->res->spec = json_incref(c->spec);
    return r;
}

/* ---- overrides, pod template, metadata ---- */

/* A Kubernetes quantity ("100m", "1Gi", "1e3", 2) as a number; false if it is not one. */
static bool parse_quantity(const json_t *q, long double *ret)
{
    static const struct {
        const char *suffix;
        long double mult;
    } suffixes[] = {
        {"", 1.0L},
        {"n", 1e-9L},
        {"u", 1e-6L},
        {"m", 1e-3L},
        {"k", 1e3L},
        {"M", 1e6L},
        {"G", 1e9L},
        {"T", 1e12L},
        {"P", 1e15L},
        {"E", 1e18L},
        {"Ki", 1024.0L},
        {"Mi", 1048576.0L},
        {"Gi", 1073741824.0L},
        {"Ti", 1099511627776.0L},
        {"Pi", 1125899906842624.0L},
        {"Ei", 1152921504606846976.0L},
    };
    const char *s = json_string_value(q);
    const char *d;
    char *end;
    long double v;

    if (json_is_number(q)) {
        *ret = (long double)json_number_value(q);
        return true;
    }
    if (!s)
        return false;
    /* strtold also reads "inf", "nan" and hex floats, which are not quantities */
    d = (s[0] == '+' || s[0] == '-') ? s + 1 : s;
    if (!(isdigit((unsigned char)*d) || *d == '.') || strpbrk(s, "xX"))
        return false;
    errno = 0;
    v = strtold(s, &end);
    if (errno || end == s)
        return false;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(end, suffixes[i].suffix) == 0) {
            *ret = v * suffixes[i].mult;
            return true;
        }
    }
    return false;
}

static char *quantity_text(const json_t *q)
{
    char *t;

    if (json_is_string(q))
        return xstrdup(json_string_value(q));
    t = json_dumps(q, JSON_ENCODE_ANY | JSON_COMPACT);
    return t ? t : xstrdup("");
}

/* A step's requests may not exceed its limits (or the stepTemplate's, §3.3). */
static int check_requests(struct ctx *c)
{
    const json_t *tmpl_limits = json_object_get(
        json_object_get(json_object_get(c->spec, "stepTemplate"), "computeResources"), "limits");
    json_t *step;
    size_t i;

    json_array_foreach(json_object_get(c->spec, "steps"), i, step) {
        json_t *res = json_object_get(step, "computeResources");
        json_t *requests = json_object_get(res, "requests");
        const char *k;
        json_t *req;

        json_object_foreach(requests, k, req) {
            const json_t *lim = json_object_get(json_object_get(res, "limits"), k);
            long double rv;
            long double lv;
            char *rt;
            char *lt;
            int r;

            if (!lim)
                lim = json_object_get(tmpl_limits, k);
            if (!lim || !parse_quantity(req, &rv) || !parse_quantity(lim, &lv) || rv <= lv)
                continue;
            rt = quantity_text(req);
            lt = quantity_text(lim);
            r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                     USER_ERROR "invalid request resource value: %.*s must be less or equal to "
                                "limit %.*s",
                     CLIP(rt), CLIP(lt));
            free(rt);
            free(lt);
            return r;
        }
    }
    return 0;
}

static int check_overrides(struct ctx *c)
{
    static const struct {
        const char *field;
        const char *list;
        const char *what;
        const char *noun;
    } kinds[] = {
        {"stepSpecs", "steps", "StepOverride", "Step"},
        {"sidecarSpecs", "sidecars", "SidecarOverride", "Sidecar"},
    };

    for (size_t k = 0; k < 2; k++) {
        const json_t *o;
        size_t i;

        json_array_foreach(json_object_get(c->trspec, kinds[k].field), i, o) {
            const char *name = json_string_value(json_object_get(o, "name"));

            if (!find_by_name(json_object_get(c->spec, kinds[k].list), name))
                return fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                            USER_ERROR "invalid %s: No %s named %.*s", kinds[k].what, kinds[k].noun,
                            CLIP(name));
        }
    }
    return 0;
}

static bool is_empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
           (json_is_array(v) && !json_array_size(v)) || (json_is_object(v) && !json_object_size(v));
}

/* TaskRun items first, then default items whose names are absent; unnamed items dropped. */
static json_t *merge_named(const json_t *mine, const json_t *defaults)
{
    json_t *out = json_array();
    const json_t *item;
    size_t i;

    json_array_foreach(mine, i, item) {
        if (json_string_length(json_object_get(item, "name")))
            json_array_append_new(out, json_deep_copy(item));
    }
    json_array_foreach(defaults, i, item) {
        const char *n = json_string_value(json_object_get(item, "name"));

        if (n && *n && !find_by_name(out, n))
            json_array_append_new(out, json_deep_copy(item));
    }
    return out;
}

static int build_pod_template(struct ctx *c)
{
    const json_t *mine = json_object_get(c->trspec, "podTemplate");
    json_t *def = c->cfg->default_pod_template;
    json_t *pt = json_is_object(mine) ? json_deep_copy(mine) : json_object();
    const char *k;
    json_t *v;
    char *path = NULL;
    int r;

    if (!is_unset_or(mine, JSON_OBJECT)) {
        json_decref(pt);
        return invalid_tr(c, "spec.podTemplate", "expected an object, got %s", type_name(mine));
    }
    json_object_foreach(def, k, v) {
        if (strcmp(k, "env") == 0 || strcmp(k, "volumes") == 0)
            (void)json_object_set_new(pt, k, merge_named(json_object_get(pt, k), v));
        else if (strcmp(k, "hostNetwork") == 0)
            (void)json_object_set_new(
                pt, k, json_boolean(json_is_true(v) || json_is_true(json_object_get(pt, k))));
        else if (is_empty(json_object_get(pt, k)))
            (void)json_object_set_new(pt, k, json_deep_copy(v));
    }
    c->res->pod_template = pt;
    r = substitute_json(pt, substitute_pod_template_fields, c->param_table, &path);
    if (r < 0)
        r = fail(c, TASKRUN_REASON_VALIDATION_FAILED,
                 USER_ERROR "substituted value too large in spec.podTemplate.%s", path);
    free(path);
    return r;
}

/* Copy string members of 'from' absent from 'to' (TaskRun keys win). */
static void merge_absent(json_t *to, json_t *from, const char *skip)
{
    const char *k;
    json_t *v;

    json_object_foreach(from, k, v) {
        if (json_is_string(v) && !json_object_get(to, k) && (!skip || strcmp(k, skip) != 0))
            (void)json_object_set(to, k, v);
    }
}

static void build_metadata(struct ctx *c)
{
    const json_t *meta = json_object_get(c->tr, "metadata");
    const json_t *tmeta = json_object_get(c->in->task, "metadata");
    const json_t *labels = json_object_get(meta, "labels");
    const json_t *annotations = json_object_get(meta, "annotations");

    c->res->labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
    c->res->annotations = json_is_object(annotations) ? json_deep_copy(annotations) : json_object();
    if (c->from_status)
        return; /* merged on the first reconcile already */
    if (json_is_object(tmeta)) {
        merge_absent(c->res->labels, json_object_get(tmeta, "labels"), NULL);
        merge_absent(c->res->annotations, json_object_get(tmeta, "annotations"), LAST_APPLIED);
    }
    if (!c->embedded)
        (void)json_object_set_new(c->res->labels, "tekton.dev/task",
                                  json_string(c->res->task_name));
}

/* ---- public ---- */

json_t *taskrun_resolve_stepaction_names(const json_t *taskrun, const json_t *task)
{
    const json_t *spec = json_object_get(json_object_get(taskrun, "status"), "taskSpec");
    json_t *names = json_array();
    const json_t *step;
    size_t i;

    if (!json_is_object(spec))
        spec = json_object_get(json_object_get(taskrun, "spec"), "taskSpec");
    if (!json_is_object(spec))
        spec = json_object_get(task, "spec");
    json_array_foreach(json_object_get(spec, "steps"), i, step) {
        json_t *name = json_object_get(json_object_get(step, "ref"), "name");
        const json_t *seen;
        size_t j;
        bool dup = false;

        json_array_foreach(names, j, seen) {
            dup = dup || json_equal(seen, name);
        }
        if (json_string_length(name) && !dup)
            json_array_append(names, name);
    }
    return names;
}

void taskrun_resolve_error_done(struct taskrun_resolve_error *err)
{
    if (!err)
        return;
    free(err->message);
    free(err->admission);
    err->message = NULL;
    err->admission = NULL;
    err->reason = NULL;
}

void taskrun_resolved_free(struct taskrun_resolved *res)
{
    if (!res)
        return;
    free(res->task_name);
    json_decref(res->annotations);
    json_decref(res->labels);
    json_decref(res->pod_template);
    json_decref(res->workspaces);
    json_decref(res->status_spec);
    json_decref(res->spec);
    free(res);
}

int taskrun_resolve_timeout(const json_t *taskrun, const struct tekton_config *cfg, int64_t *ret_ns,
                            struct taskrun_resolve_error *reterr)
{
    const json_t *t = json_object_get(json_object_get(taskrun, "spec"), "timeout");
    const char *s = json_string_value(t);
    int64_t ns;
    int r;

    if (!t || json_is_null(t)) {
        *ret_ns = cfg->default_timeout_minutes * 60 * TEKTON_NS_PER_SECOND;
        return 0;
    }
    r = s ? goduration_parse(s, &ns) : -EINVAL;
    if (r < 0 || ns < 0) {
        reterr->reason = TASKRUN_REASON_VALIDATION_FAILED;
        reterr->message = s ? xasprintf(USER_ERROR "invalid value for \"spec.timeout\": \"%.*s\" "
                                                   "is not a non-negative duration",
                                        CLIP(s))
                            : xasprintf(USER_ERROR "invalid value for \"spec.timeout\": expected a "
                                                   "duration string, got %s",
                                        type_name(t));
        return -EINVAL;
    }
    *ret_ns = ns;
    return 0;
}

json_t *taskrun_resolve_defaults(const json_t *taskrun, const struct tekton_config *cfg)
{
    json_t *tr = json_deep_copy(taskrun);
    json_t *spec = json_object_get(tr, "spec");
    json_t *meta = json_object_get(tr, "metadata");
    json_t *ref = json_object_get(spec, "taskRef");
    const char *sa = json_string_value(json_object_get(spec, "serviceAccountName"));

    if (json_is_object(spec) && !json_object_get(spec, "timeout")) {
        char d[32];

        (void)json_object_set_new(
            spec, "timeout",
            json_string(goduration_format(cfg->default_timeout_minutes * 60 * TEKTON_NS_PER_SECOND,
                                          d, sizeof(d))));
    }
    if (json_is_object(spec) && (!sa || !*sa) && *cfg->default_service_account)
        (void)json_object_set_new(spec, "serviceAccountName",
                                  json_string(cfg->default_service_account));
    if (json_is_object(ref) && json_object_get(ref, "name") && !json_object_get(ref, "resolver") &&
        !json_string_length(json_object_get(ref, "kind")))
        (void)json_object_set_new(ref, "kind", json_string("Task"));
    if (json_is_object(ref) && !json_object_get(ref, "name") && !json_object_get(ref, "resolver") &&
        *cfg->default_resolver_type)
        (void)json_object_set_new(ref, "resolver", json_string(cfg->default_resolver_type));
    if (json_is_object(meta)) {
        json_t *labels = json_object_get(meta, "labels");

        if (!json_is_object(labels)) {
            labels = json_object();
            (void)json_object_set_new(meta, "labels", labels);
        }
        if (!json_object_get(labels, MANAGED_BY))
            (void)json_object_set_new(labels, MANAGED_BY,
                                      json_string(cfg->default_managed_by_label_value));
    }
    return tr;
}

static void ctx_done(struct ctx *c)
{
    substitute_table_free(c->param_table);
    json_decref(c->values);
    json_decref(c->params);
    json_decref(c->spec);
    json_decref(c->tr);
    free(c->in_task);
}

int taskrun_resolve_validate(const json_t *taskrun, const struct tekton_config *cfg,
                             struct taskrun_resolve_error *reterr)
{
    struct taskrun_resolve_input in = {.taskrun = taskrun, .cfg = cfg};
    struct ctx c = {.in = &in, .cfg = cfg, .err = reterr};
    int r;

    c.res = xcalloc(1, sizeof(*c.res));
    c.where = "spec.taskSpec";
    c.spec_reason = TASKRUN_REASON_VALIDATION_FAILED;
    c.in_task = xstrdup("");
    if (!json_is_object(taskrun)) {
        r = fail(&c, TASKRUN_REASON_VALIDATION_FAILED, "invalid TaskRun: expected an object");
        goto out;
    }
    c.tr = json_deep_copy(taskrun);
    if (is_v1beta1(c.tr))
        taskrun_from_v1beta1(c.tr);
    c.trspec = json_object_get(c.tr, "spec");
    r = check_taskrun(&c);
    if (r == 0 && json_is_object(json_object_get(c.trspec, "taskSpec"))) {
        c.spec = json_deep_copy(json_object_get(c.trspec, "taskSpec"));
        r = check_spec(&c);
    }
out:
    ctx_done(&c);
    taskrun_resolved_free(c.res);
    return r;
}

int taskrun_resolve_validate_task(const json_t *task, struct taskrun_resolve_error *reterr)
{
    struct ctx c = {.err = reterr};
    const json_t *spec = json_object_get(task, "spec");
    int r;

    c.where = "spec";
    c.spec_reason = TASKRUN_REASON_TASK_VALIDATION_FAILED;
    c.in_task = xstrdup("");
    if (!json_is_object(spec)) {
        r = fail(&c, c.spec_reason, "invalid Task: spec: expected an object");
        c.err->admission = xstrdup("missing field(s): spec");
        goto out;
    }
    c.spec = json_deep_copy(spec);
    if (is_v1beta1(task))
        spec_from_v1beta1(c.spec);
    r = check_spec(&c);
out:
    ctx_done(&c);
    return r;
}

int taskrun_resolve(const struct taskrun_resolve_input *in, struct taskrun_resolved **ret_resolved,
                    struct taskrun_resolve_error *reterr)
{
    struct ctx c = {.in = in, .cfg = in->cfg, .err = reterr};
    int r;

    c.res = xcalloc(1, sizeof(*c.res));
    c.where = "spec.taskSpec";
    c.spec_reason = TASKRUN_REASON_VALIDATION_FAILED;
    if (!json_is_object(in->taskrun)) {
        r = fail(&c, TASKRUN_REASON_VALIDATION_FAILED, "invalid TaskRun: expected an object");
        goto out;
    }
    c.tr = json_deep_copy(in->taskrun);
    if (is_v1beta1(c.tr))
        taskrun_from_v1beta1(c.tr);
    c.trspec = json_object_get(c.tr, "spec");
    r = check_taskrun(&c);
    if (r == 0)
        r = obtain_spec(&c);
    if (r == 0)
        r = check_spec(&c);
    if (r == 0)
        r = validate_params(&c);
    if (r == 0)
        r = check_requests(&c);
    if (r == 0)
        r = check_overrides(&c);
    if (r == 0)
        r = resolve_workspaces(&c);
    if (r == 0)
        r = substitute_phases(&c);
    if (r == 0)
        r = build_pod_template(&c);
    if (r == 0)
        build_metadata(&c);
out:
    ctx_done(&c);
    if (r < 0) {
        taskrun_resolved_free(c.res);
        return r;
    }
    *ret_resolved = c.res;
    return 0;
}
