/*
 * v1beta1 <-> v1 conversion of tekton.dev objects: field renames both ways, the bundle ->
 * resolver rewrite, and a stash annotation for v1beta1-only fields so a round trip through v1
 * loses nothing. Serving ConversionReviews is controller/webhookserver's.
 */
#include "controller/conversion.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define V1      "tekton.dev/v1"
#define V1BETA1 "tekton.dev/v1beta1"

/* What a conversion carries along: the v1beta1-only fields by JSON Pointer. */
struct conv {
    json_t *stash; /* owned: pointer -> value */
    bool up;       /* v1beta1 -> v1 */
};

/* Container fields v1beta1 Steps still carry and v1 Steps dropped (Tekton's deprecations). */
static const char *const step_deprecated[] = {
    "ports",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "stdin",
    "stdinOnce",
    "tty",
    NULL,
};

/* ---- small helpers ---- */

static void rename_key(json_t *obj, const char *from, const char *to)
{
    json_t *v = json_object_get(obj, from);

    if (!json_is_object(obj) || !v || json_object_get(obj, to))
        return;
    (void)json_object_set(obj, to, v);
    (void)json_object_del(obj, from);
}

/* Rename 'from' to 'to' on the way up, 'to' to 'from' on the way down. */
static void rename_dir(const struct conv *cv, json_t *obj, const char *beta, const char *v1)
{
    if (cv->up)
        rename_key(obj, beta, v1);
    else
        rename_key(obj, v1, beta);
}

static void rename_in_list(const struct conv *cv, json_t *list, const char *beta, const char *v1)
{
    json_t *item;
    size_t i;

    json_array_foreach(list, i, item) {
        rename_dir(cv, item, beta, v1);
    }
}

/* Up: move obj[key] into the stash under '<at>/<key>'. Down: nothing (restore does it). */
static void stash(struct conv *cv, json_t *obj, const char *at, const char *key)
{
    json_t *v = json_object_get(obj, key);
    char *ptr;

    if (!cv->up || !json_is_object(obj) || !v)
        return;
    ptr = xasprintf("%s/%s", at, key);
    (void)json_object_set(cv->stash, ptr, v);
    (void)json_object_del(obj, key);
    free(ptr);
}

/* Put 'value' at JSON Pointer 'ptr' (no escapes: our pointers never need them) if its parent
 * exists; a stashed field whose parent went away is dropped. */
static void put_at(json_t *root, const char *ptr, json_t *value)
{
    char *copy = xstrdup(ptr);
    char *save = NULL;
    char *tok = strtok_r(copy, "/", &save);
    json_t *cur = root;

    while (tok && cur) {
        char *next = strtok_r(NULL, "/", &save);

        if (!next) {
            if (json_is_object(cur) && !json_object_get(cur, tok))
                (void)json_object_set(cur, tok, value);
            break;
        }
        if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);

            cur = *end ? NULL : json_array_get(cur, idx);
        } else {
            cur = json_object_get(cur, tok);
        }
        tok = next;
    }
    free(copy);
}

/* ---- specs ---- */

static void container_like(struct conv *cv, json_t *c, const char *at, bool is_step)
{
    rename_dir(cv, c, "resources", "computeResources");
    for (size_t k = 0; is_step && step_deprecated[k]; k++)
        stash(cv, c, at, step_deprecated[k]);
}

static void task_spec(struct conv *cv, json_t *spec, const char *at)
{
    static const struct {
        const char *list;
        bool is_step;
    } lists[] = {{"steps", true}, {"sidecars", false}};
    char *p;

    if (!json_is_object(spec))
        return;
    for (size_t l = 0; l < 2; l++) {
        json_t *c;
        size_t i;

        json_array_foreach(json_object_get(spec, lists[l].list), i, c) {
            p = xasprintf("%s/%s/%zu", at, lists[l].list, i);
            container_like(cv, c, p, lists[l].is_step);
            free(p);
        }
    }
    p = xasprintf("%s/stepTemplate", at);
    container_like(cv, json_object_get(spec, "stepTemplate"), p, true);
    free(p);
    stash(cv, spec, at, "resources");
}

/* v1beta1 `bundle` on a ref -> the bundles resolver (Tekton's conversion, one way only). */
static void bundle_ref(const struct conv *cv, json_t *ref, const char *kind)
{
    json_t *bundle = json_object_get(ref, "bundle");
    const char *name = json_string_value(json_object_get(ref, "name"));

    if (!cv->up || !json_is_string(bundle) || json_object_get(ref, "resolver"))
        return;
    (void)json_object_set_new(ref, "resolver", json_string("bundles"));
    (void)json_object_set_new(ref, "params",
                              json_pack("[{s:s, s:O}, {s:s, s:s}, {s:s, s:s}]", "name", "bundle",
                                        "value", bundle, "name", "name", "value", name ? name : "",
                                        "name", "kind", "value", kind));
    (void)json_object_del(ref, "bundle");
    (void)json_object_del(ref, "name");
    (void)json_object_del(ref, "kind");
}

static void pipeline_spec(struct conv *cv, json_t *spec, const char *at)
{
    static const char *const lists[] = {"tasks", "finally"};

    if (!json_is_object(spec))
        return;
    stash(cv, spec, at, "resources");
    for (size_t l = 0; l < 2; l++) {
        json_t *pt;
        size_t i;

        json_array_foreach(json_object_get(spec, lists[l]), i, pt) {
            char *p = xasprintf("%s/%s/%zu", at, lists[l], i);
            char *ts = xasprintf("%s/taskSpec", p);

            bundle_ref(cv, json_object_get(pt, "taskRef"), "Task");
            task_spec(cv, json_object_get(pt, "taskSpec"), ts);
            stash(cv, pt, p, "resources");
            free(ts);
            free(p);
        }
    }
}

/* ---- kinds ---- */

static void taskrun(struct conv *cv, json_t *tr)
{
    json_t *spec = json_object_get(tr, "spec");
    json_t *status = json_object_get(tr, "status");
    static const char *const specs[] = {"stepSpecs", "sidecarSpecs"};

    rename_dir(cv, spec, "stepOverrides", "stepSpecs");
    rename_dir(cv, spec, "sidecarOverrides", "sidecarSpecs");
    /* the renamed lists carry resources too; which name they have depends on the direction */
    for (size_t i = 0; i < 2; i++) {
        rename_in_list(cv, json_object_get(spec, specs[i]), "resources", "computeResources");
        rename_in_list(cv, json_object_get(spec, i ? "sidecarOverrides" : "stepOverrides"),
                       "resources", "computeResources");
    }
    bundle_ref(cv, json_object_get(spec, "taskRef"), "Task");
    task_spec(cv, json_object_get(spec, "taskSpec"), "/spec/taskSpec");
    stash(cv, spec, "/spec", "resources");
    rename_dir(cv, status, "taskResults", "results");
    task_spec(cv, json_object_get(status, "taskSpec"), "/status/taskSpec");
    stash(cv, status, "/status", "cloudEvents");
    stash(cv, status, "/status", "resourcesResult");
}

static json_t *obj_child(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_object(v)) {
        v = json_object();
        (void)json_object_set_new(obj, key, v);
    }
    return v;
}

static void pipelinerun_run_template(const struct conv *cv, json_t *spec)
{
    static const char *const keys[] = {"serviceAccountName", "podTemplate"};
    json_t *trt = json_object_get(spec, "taskRunTemplate");

    for (size_t i = 0; i < 2; i++) {
        if (cv->up && json_object_get(spec, keys[i])) {
            trt = obj_child(spec, "taskRunTemplate");
            if (!json_object_get(trt, keys[i]))
                (void)json_object_set(trt, keys[i], json_object_get(spec, keys[i]));
            (void)json_object_del(spec, keys[i]);
        } else if (!cv->up && json_object_get(trt, keys[i])) {
            if (!json_object_get(spec, keys[i]))
                (void)json_object_set(spec, keys[i], json_object_get(trt, keys[i]));
            (void)json_object_del(trt, keys[i]);
        }
    }
    if (!cv->up && json_is_object(trt) && json_object_size(trt) == 0)
        (void)json_object_del(spec, "taskRunTemplate");
}

static void pipelinerun(struct conv *cv, json_t *pr)
{
    json_t *spec = json_object_get(pr, "spec");
    json_t *status = json_object_get(pr, "status");
    json_t *trs;
    size_t i;

    if (json_is_object(spec)) {
        pipelinerun_run_template(cv, spec);
        if (cv->up && json_object_get(spec, "timeout")) {
            if (!json_object_get(json_object_get(spec, "timeouts"), "pipeline"))
                (void)json_object_set(obj_child(spec, "timeouts"), "pipeline",
                                      json_object_get(spec, "timeout"));
            (void)json_object_del(spec, "timeout");
        }
    }
    json_array_foreach(json_object_get(spec, "taskRunSpecs"), i, trs) {
        rename_dir(cv, trs, "taskServiceAccountName", "serviceAccountName");
        rename_dir(cv, trs, "taskPodTemplate", "podTemplate");
        rename_dir(cv, trs, "stepOverrides", "stepSpecs");
        rename_dir(cv, trs, "sidecarOverrides", "sidecarSpecs");
        for (size_t k = 0; k < 4; k++) {
            static const char *const lists[] = {"stepSpecs", "sidecarSpecs", "stepOverrides",
                                                "sidecarOverrides"};

            rename_in_list(cv, json_object_get(trs, lists[k]), "resources", "computeResources");
        }
    }
    bundle_ref(cv, json_object_get(spec, "pipelineRef"), "Pipeline");
    pipeline_spec(cv, json_object_get(spec, "pipelineSpec"), "/spec/pipelineSpec");
    stash(cv, spec, "/spec", "resources");
    rename_dir(cv, status, "pipelineResults", "results");
    pipeline_spec(cv, json_object_get(status, "pipelineSpec"), "/status/pipelineSpec");
    stash(cv, status, "/status", "taskRuns");
    stash(cv, status, "/status", "runs");
}

/* ---- the stash annotation ---- */

static void save_stash(const struct conv *cv, json_t *obj)
{
    json_t *meta;
    char *text;

    if (json_object_size(cv->stash) == 0)
        return;
    meta = obj_child(obj, "metadata");
    text = json_dumps(cv->stash, JSON_COMPACT | JSON_SORT_KEYS);
    (void)json_object_set_new(obj_child(meta, "annotations"), CONVERSION_ANNOTATION,
                              json_string(text));
    free(text);
}

/* Down: put the stashed fields back, after the renames, and drop the annotation. */
static void restore_stash(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *ann = json_object_get(meta, "annotations");
    const char *text = json_string_value(json_object_get(ann, CONVERSION_ANNOTATION));
    json_t *saved = text ? json_loads(text, 0, NULL) : NULL;
    const char *ptr;
    json_t *v;

    json_object_foreach(saved, ptr, v) {
        put_at(obj, ptr, v);
    }
    json_decref(saved);
    if (!text)
        return;
    (void)json_object_del(ann, CONVERSION_ANNOTATION);
    if (json_object_size(ann) == 0)
        (void)json_object_del(meta, "annotations");
}

int conversion_convert(const json_t *obj, const char *desired, json_t **ret, char **reterr_msg)
{
    const char *from = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    struct conv cv = {0};
    json_t *out;

    if (!json_is_object(obj) || !from || !kind) {
        *reterr_msg = xstrdup("cannot convert: not an object with apiVersion and kind");
        return -EINVAL;
    }
    if (!desired || (strcmp(desired, V1) != 0 && strcmp(desired, V1BETA1) != 0) ||
        (strcmp(from, V1) != 0 && strcmp(from, V1BETA1) != 0)) {
        *reterr_msg = xasprintf("cannot convert %s from \"%s\" to \"%s\": unknown version", kind,
                                from, desired ? desired : "");
        return -EINVAL;
    }
    out = json_deep_copy(obj);
    if (strcmp(from, desired) == 0) {
        *ret = out;
        return 0;
    }
    cv.up = strcmp(desired, V1) == 0;
    cv.stash = json_object();
    if (strcmp(kind, "Task") == 0) {
        task_spec(&cv, json_object_get(out, "spec"), "/spec");
    } else if (strcmp(kind, "Pipeline") == 0) {
        pipeline_spec(&cv, json_object_get(out, "spec"), "/spec");
    } else if (strcmp(kind, "TaskRun") == 0) {
        taskrun(&cv, out);
    } else if (strcmp(kind, "PipelineRun") == 0) {
        pipelinerun(&cv, out);
    } else {
        json_decref(cv.stash);
        json_decref(out);
        *reterr_msg =
            xasprintf("cannot convert kind \"%s\": not a Tekton kind with versions", kind);
        return -EINVAL;
    }
    if (cv.up)
        save_stash(&cv, out);
    else
        restore_stash(out);
    (void)json_object_set_new(out, "apiVersion", json_string(desired));
    json_decref(cv.stash);
    *ret = out;
    return 0;
}

json_t *conversion_review(const json_t *review)
{
    const json_t *req = json_object_get(review, "request");
    const char *uid = json_string_value(json_object_get(req, "uid"));
    const char *desired = json_string_value(json_object_get(req, "desiredAPIVersion"));
    json_t *converted = json_array();
    const json_t *obj;
    char *err = NULL;
    json_t *result;
    size_t i;

    json_array_foreach(json_object_get(req, "objects"), i, obj) {
        json_t *c;

        if (conversion_convert(obj, desired, &c, &err) < 0)
            break;
        (void)json_array_append_new(converted, c);
    }
    if (!uid && !err)
        err = xstrdup("invalid ConversionReview: no request.uid");
    if (err) {
        json_decref(converted);
        converted = json_array();
        result = json_pack("{s:s, s:s}", "status", "Failure", "message", err);
    } else {
        result = json_pack("{s:s}", "status", "Success");
    }
    free(err);
    return json_pack("{s:s, s:s, s:{s:s, s:o, s:o}}", "apiVersion", "apiextensions.k8s.io/v1",
                     "kind", "ConversionReview", "response", "uid", uid ? uid : "",
                     "convertedObjects", converted, "result", result);
}
