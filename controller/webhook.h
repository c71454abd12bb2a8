#ifndef CONTROLLER_WEBHOOK_H
#define CONTROLLER_WEBHOOK_H

#include <jansson.h>

/*
 * Tekton's admission webhook as pure functions: an admission.k8s.io/v1 AdmissionReview in, the
 * AdmissionReview answer out. No I/O: serving, certificates and the caBundle are
 * controller/webhookserver's. Handles Task, TaskRun, Pipeline and PipelineRun of tekton.dev
 * v1 and v1beta1; any other kind is allowed unchanged.
 */

struct tekton_config;

/* The URL paths the webhook configurations name (Knative's, as Tekton's webhook serves). */
#define WEBHOOK_PATH_DEFAULTING "/defaulting"
#define WEBHOOK_PATH_VALIDATION "/resource-validation"
#define WEBHOOK_PATH_CONVERSION "/resource-conversion"

/*
 * Defaulting: allow, with a JSONPatch (base64, as the API wants it) that sets Tekton's defaults
 * from 'cfg': TaskRun spec.timeout (default-timeout-minutes), spec.serviceAccountName
 * (default-service-account), taskRef.kind, the app.kubernetes.io/managed-by label; PipelineRun
 * spec.timeouts.pipeline and the service account (spec.taskRunTemplate.serviceAccountName in v1,
 * spec.serviceAccountName in v1beta1); param type inferred ("string" unless the default or
 * properties say otherwise) in every inline or stand-alone spec. No patch when nothing changes.
 * Returns a new AdmissionReview; a review without request.uid gets allowed=false and a message.
 */
json_t *webhook_default(const json_t *review, const struct tekton_config *cfg);

/*
 * Validation: deny with code 400 and "validation failed: <Tekton's field error>" when the object
 * is invalid (the checks of taskrun_resolve_validate, taskrun_resolve_validate_task and
 * pipelinerun_resolve_validate_pipeline, plus the PipelineRun's own one-of and status fields),
 * else allow. DELETE, and an UPDATE that leaves spec as it was, are always allowed, so objects
 * stored before the webhook existed can still have their labels and finalizers changed.
 */
json_t *webhook_validate(const json_t *review, const struct tekton_config *cfg);

/*
 * The error text of a denial, as webhook_validate() words it, for the object alone (tests and
 * the host-run controller): NULL when valid, else a new string.
 */
char *webhook_validation_error(const json_t *obj, const struct tekton_config *cfg);

#endif
