#ifndef CONTROLLER_CONVERSION_H
#define CONTROLLER_CONVERSION_H

#include <jansson.h>

/*
 * CRD conversion between tekton.dev/v1beta1 and tekton.dev/v1 for Task, TaskRun, Pipeline and
 * PipelineRun, as Tekton's conversion webhook does it. Pure: JSON in, JSON out.
 *
 * v1beta1 -> v1 renames: steps/sidecars/stepTemplate `resources` -> `computeResources`;
 * TaskRun `stepOverrides`/`sidecarOverrides` -> `stepSpecs`/`sidecarSpecs`; status
 * `taskResults` -> `results`; PipelineRun `serviceAccountName`/`podTemplate` ->
 * `taskRunTemplate.*`, `taskRunSpecs[].taskServiceAccountName`/`taskPodTemplate` ->
 * `serviceAccountName`/`podTemplate`, status `pipelineResults` -> `results`, the deprecated
 * `timeout` -> `timeouts.pipeline`; a `taskRef`/`pipelineRef` `bundle` becomes the `bundles`
 * resolver with params bundle, name and kind. v1 -> v1beta1 does the reverse renames; a
 * resolver stays a resolver and timeouts stay timeouts (Tekton's own conversion is lossy there
 * too). Fields v1 has no place for (PipelineResources `resources`, the deprecated Container
 * fields of steps, status `cloudEvents`, `resourcesResult`, `taskRuns`, `runs`) are kept in the
 * annotation CONVERSION_ANNOTATION on the way up and put back on the way down, so
 * v1beta1 -> v1 -> v1beta1 gives the object back.
 */

#define CONVERSION_ANNOTATION "tektite.dev/v1beta1-fields"

/*
 * Convert 'obj' to 'desired' ("tekton.dev/v1" or "tekton.dev/v1beta1"). An object already at
 * that version is copied. Returns 0 and a new object in '*ret', or -EINVAL and a new message in
 * '*reterr_msg' (an unknown version or kind, a non-object).
 */
int conversion_convert(const json_t *obj, const char *desired, json_t **ret, char **reterr_msg);

/*
 * Answer an apiextensions.k8s.io/v1 ConversionReview: every object of request.objects converted
 * to request.desiredAPIVersion, result.status "Success"; or "Failure" with the first error's
 * message and no objects. Returns a new ConversionReview.
 */
json_t *conversion_review(const json_t *review);

#endif
