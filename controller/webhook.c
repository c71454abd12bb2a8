/*
 * Admission for tekton.dev objects: defaulting as a JSONPatch and validation with Tekton's
 * field-error wording. The checks themselves live with the resolvers (taskrun_resolve,
 * pipelinerun_resolve), which the reconcilers run too; this file only chooses which apply at
 * admission and shapes the AdmissionReview answers.
 */
#include "controller/webhook.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "controller/goduration.h"
#include "controller/pipelinerun_resolve.h"
#include "controller/taskrun_resolve.h"
#include "controller/tekton_config.h"
#include "lib/xalloc.h"

enum kind { KIND_OTHER, KIND_TASK, KIND_TASKRUN, KIND_PIPELINE, KIND_PIPELINERUN };

static const struct {
    const char *name;
    enum kind kind;
} kinds[] = {
    {"Task", KIND_TASK},
    {"TaskRun", KIND_TASKRUN},
    {"Pipeline", KIND_PIPELINE},
    {"PipelineRun", KIND_PIPELINERUN},
};

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static enum kind kind_of(const json_t *obj)
{
    const char *api = str_at(obj, "apiVersion");
    const char *k = str_at(obj, "kind");

    if (!api || !k || strncmp(api, "tekton.dev/", strlen("tekton.dev/")) != 0)
        return KIND_OTHER;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, k) == 0)
            return kinds[i].kind;
    return KIND_OTHER;
}

static bool is_v1beta1(const json_t *obj)
{
    const char *api = str_at(obj, "apiVersion");

    return api && strcmp(api, "tekton.dev/v1beta1") == 0;
}

/* The answer envelope: {"apiVersion":..., "kind":"AdmissionReview", "response":{uid, allowed}} */
static json_t *answer(const json_t *review, bool allowed)
{
    const char *uid = str_at(json_object_get(review, "request"), "uid");

    return json_pack("{s:s, s:s, s:{s:s, s:b}}", "apiVersion", "admission.k8s.io/v1", "kind",
                     "AdmissionReview", "response", "uid", uid ? uid : "", "allowed", allowed);
}

static json_t *deny(const json_t *review, int code, const char *reason, const char *message)
{
    json_t *a = answer(review, false);

    (void)json_object_set_new(json_object_get(a, "response"), "status",
                              json_pack("{s:s, s:s, s:s, s:i}", "status", "Failure", "message",
                                        message, "reason", reason, "code", code));
    return a;
}

/* ---- defaulting ---- */

/* Infer each param's type ("string" unless its default or properties say otherwise). */
static void default_param_types(json_t *spec)
{
    json_t *ps;
    size_t i;

    json_array_foreach(json_object_get(spec, "params"), i, ps) {
        if (json_is_object(ps) && !json_string_length(json_object_get(ps, "type")))
            (void)json_object_set_new(ps, "type", json_string(pipelinerun_resolve_param_type(ps)));
    }
}

/* A Pipeline spec's own params and its inline task specs' params. */
static void default_pipeline_spec(json_t *spec)
{
    static const char *const lists[] = {"tasks", "finally"};

    default_param_types(spec);
    for (size_t l = 0; l < 2; l++) {
        json_t *pt;
        size_t i;

        json_array_foreach(json_object_get(spec, lists[l]), i, pt) {
            default_param_types(json_object_get(pt, "taskSpec"));
        }
    }
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

static void default_pipelinerun(json_t *pr, const struct tekton_config *cfg)
{
    json_t *spec = json_object_get(pr, "spec");
    json_t *timeouts = json_object_get(spec, "timeouts");
    json_t *sa_holder;
    const char *sa;
    char d[32];

    if (!json_is_object(spec))
        return;
    /* a v1beta1 run may still use the deprecated spec.timeout: it wins, so leave it alone */
    if (!json_object_get(timeouts, "pipeline") && !json_object_get(spec, "timeout"))
        (void)json_object_set_new(
            obj_child(spec, "timeouts"), "pipeline",
            json_string(goduration_format(cfg->default_timeout_minutes * 60 * TEKTON_NS_PER_SECOND,
                                          d, sizeof(d))));
    sa_holder = is_v1beta1(pr) ? spec : obj_child(spec, "taskRunTemplate");
    sa = str_at(sa_holder, "serviceAccountName");
    if ((!sa || !*sa) && *cfg->default_service_account)
        (void)json_object_set_new(sa_holder, "serviceAccountName",
                                  json_string(cfg->default_service_account));
    default_pipeline_spec(json_object_get(spec, "pipelineSpec"));
}

/* The object with Tekton's defaults applied: a new reference. */
static json_t *defaulted(const json_t *obj, const struct tekton_config *cfg)
{
    json_t *d;

    switch (kind_of(obj)) {
    case KIND_TASKRUN:
        d = taskrun_resolve_defaults(obj, cfg);
        default_param_types(json_object_get(json_object_get(d, "spec"), "taskSpec"));
        return d;
    case KIND_PIPELINERUN:
        d = json_deep_copy(obj);
        default_pipelinerun(d, cfg);
        return d;
    case KIND_TASK:
        d = json_deep_copy(obj);
        default_param_types(json_object_get(d, "spec"));
        return d;
    case KIND_PIPELINE:
        d = json_deep_copy(obj);
        default_pipeline_spec(json_object_get(d, "spec"));
        return d;
    default:
        return json_deep_copy(obj);
    }
}

/* JSONPatch ops turning 'from' into 'to' for /spec and /metadata/labels, coarse but exact. */
static json_t *patch_ops(const json_t *from, const json_t *to)
{
    json_t *ops = json_array();
    const json_t *fspec = json_object_get(from, "spec");
    const json_t *tspec = json_object_get(to, "spec");
    const json_t *flabels = json_object_get(json_object_get(from, "metadata"), "labels");
    const json_t *tlabels = json_object_get(json_object_get(to, "metadata"), "labels");

    if (tspec && !json_equal(fspec, tspec))
        (void)json_array_append_new(ops,
                                    json_pack("{s:s, s:s, s:O}", "op", fspec ? "replace" : "add",
                                              "path", "/spec", "value", tspec));
    if (tlabels && !json_equal(flabels, tlabels))
        (void)json_array_append_new(ops,
                                    json_pack("{s:s, s:s, s:O}", "op", flabels ? "replace" : "add",
                                              "path", "/metadata/labels", "value", tlabels));
    return ops;
}

static char *base64(const char *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);

    (void)EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

json_t *webhook_default(const json_t *review, const struct tekton_config *cfg)
{
    const json_t *req = json_object_get(review, "request");
    const json_t *obj = json_object_get(req, "object");
    json_t *d, *ops, *a;
    char *text, *b64;

    if (!str_at(req, "uid"))
        return deny(review, 400, "BadRequest", "invalid AdmissionReview: no request.uid");
    if (!json_is_object(obj))
        return answer(review, true);
    d = defaulted(obj, cfg);
    ops = patch_ops(obj, d);
    a = answer(review, true);
    if (json_array_size(ops) > 0) {
        text = json_dumps(ops, JSON_COMPACT);
        b64 = base64(text, strlen(text));
        (void)json_object_set_new(json_object_get(a, "response"), "patchType",
                                  json_string("JSONPatch"));
        (void)json_object_set_new(json_object_get(a, "response"), "patch", json_string(b64));
        free(b64);
        free(text);
    }
    json_decref(ops);
    json_decref(d);
    return a;
}

/* ---- validation ---- */

static char *from_taskrun_error(struct taskrun_resolve_error *e)
{
    char *m = xstrdup(e->admission ? e->admission : e->message ? e->message : "invalid object");

    taskrun_resolve_error_done(e);
    return m;
}

static char *from_pipeline_error(struct pipelinerun_resolve_error *e)
{
    char *m = xstrdup(e->admission ? e->admission : e->message ? e->message : "invalid object");

    pipelinerun_resolve_error_done(e);
    return m;
}

static const char *const pipelinerun_statuses[] = {
    "Cancelled", "CancelledRunFinally", "StoppedRunFinally", "PipelineRunPending", NULL,
};

static char *validate_pipelinerun(const json_t *pr)
{
    const json_t *spec = json_object_get(pr, "spec");
    const json_t *ref = json_object_get(spec, "pipelineRef");
    const json_t *ps = json_object_get(spec, "pipelineSpec");
    const char *status = str_at(spec, "status");
    struct pipelinerun_resolve_error e = {0};

    if (!json_is_object(spec))
        return xstrdup("missing field(s): spec");
    if (ref && ps)
        return xstrdup("expected exactly one, got both: spec.pipelineRef, spec.pipelineSpec");
    if (!ref && !ps)
        return xstrdup("expected exactly one, got neither: spec.pipelineRef, spec.pipelineSpec");
    if (status) {
        size_t i;

        for (i = 0; pipelinerun_statuses[i] && strcmp(pipelinerun_statuses[i], status) != 0; i++)
            ;
        if (!pipelinerun_statuses[i])
            return xasprintf("invalid value: %s should be Cancelled, CancelledRunFinally, "
                             "StoppedRunFinally or PipelineRunPending: spec.status",
                             status);
    }
    if (ps && pipelinerun_resolve_validate_pipeline(ps, false, &e) < 0)
        return from_pipeline_error(&e);
    return NULL;
}

/* The TaskRun's checks want a name; one created with generateName may not have it yet. */
static char *validate_taskrun(const json_t *tr, const struct tekton_config *cfg)
{
    const json_t *meta = json_object_get(tr, "metadata");
    struct taskrun_resolve_error te = {0};
    json_t *named = NULL;
    char *err = NULL;

    if (json_is_object(meta) && !json_is_string(json_object_get(meta, "name"))) {
        const char *gen = str_at(meta, "generateName");

        named = json_deep_copy(tr);
        (void)json_object_set_new(json_object_get(named, "metadata"), "name",
                                  json_string(gen ? gen : ""));
        tr = named;
    }
    if (taskrun_resolve_validate(tr, cfg, &te) < 0)
        err = from_taskrun_error(&te);
    json_decref(named);
    return err;
}

char *webhook_validation_error(const json_t *obj, const struct tekton_config *cfg)
{
    struct taskrun_resolve_error te = {0};
    struct pipelinerun_resolve_error pe = {0};

    switch (kind_of(obj)) {
    case KIND_TASKRUN:
        return validate_taskrun(obj, cfg);
    case KIND_TASK:
        return taskrun_resolve_validate_task(obj, &te) < 0 ? from_taskrun_error(&te) : NULL;
    case KIND_PIPELINE:
        return pipelinerun_resolve_validate_pipeline(json_object_get(obj, "spec"), true, &pe) < 0
                   ? from_pipeline_error(&pe)
                   : NULL;
    case KIND_PIPELINERUN:
        return validate_pipelinerun(obj);
    default:
        return NULL;
    }
}

json_t *webhook_validate(const json_t *review, const struct tekton_config *cfg)
{
    const json_t *req = json_object_get(review, "request");
    const json_t *obj = json_object_get(req, "object");
    const json_t *old = json_object_get(req, "oldObject");
    const char *op = str_at(req, "operation");
    json_t *a;
    char *err, *msg;

    if (!str_at(req, "uid"))
        return deny(review, 400, "BadRequest", "invalid AdmissionReview: no request.uid");
    if (!json_is_object(obj) || (op && strcmp(op, "DELETE") == 0))
        return answer(review, true);
    if (op && strcmp(op, "UPDATE") == 0 &&
        json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec")))
        return answer(review, true);
    err = webhook_validation_error(obj, cfg);
    if (!err)
        return answer(review, true);
    msg = xasprintf("validation failed: %s", err);
    a = deny(review, 400, "BadRequest", msg);
    free(msg);
    free(err);
    return a;
}
