#ifndef CONTROLLER_PODSPEC_H
#define CONTROLLER_PODSPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The Pod planner: (TaskRun, resolved TaskSpec, options) -> the Pod to create, as JSON. Pure: no
 * I/O, no clock, no randomness, so planning the same TaskRun twice gives the same Pod.
 *
 * The Pod is Tekton v1.15.0's Pod (docs/pod.md) except that one init container "prepare" does
 * the work of Tekton's prepare, place-scripts and working-dir-initializer:
 *
 *   command: /ko-app/entrypoint init /ko-app/entrypoint /tekton/bin/entrypoint step-<n0> ...
 *   args:    [--script <file> <base64 of the script>]... [--workdir <dir>]...
 *
 * A relative --workdir is relative to /workspace, as with Tekton's working-dir-initializer.
 */

struct podspec_options {
    /* image of the init container that carries the entrypoint binary (required) */
    const char *entrypoint_image;
    /* annotation pipeline.tekton.dev/release on the Pod; NULL writes "unknown" */
    const char *release;
    /* label app.kubernetes.io/managed-by on the Pod; NULL means "tekton-pipelines" */
    const char *managed_by;
    /* config-defaults default-timeout-minutes, used when spec.timeout is absent (0 = none) */
    int64_t default_timeout_minutes;
    /*
     * feature-flags. await-sidecar-readiness and running-in-environment-with-injected-sidecars
     * default to true upstream: the caller sets them from the loaded config.
     */
    bool await_sidecar_readiness;
    bool running_in_environment_with_injected_sidecars;
    bool disable_creds_init;
    bool keep_pod_on_cancel;
    bool set_security_context;
    bool set_security_context_read_only_root_filesystem;
    bool require_git_ssh_secret_known_hosts;
    /*
     * The Secret objects of the TaskRun's ServiceAccount (its spec.secrets, in order, with the
     * ones that do not exist left out) for creds-init: annotated basic-auth/ssh-auth and docker
     * config Secrets become entrypoint flags and /tekton/creds-secrets/<name> mounts. NULL or
     * an empty array: no credentials.
     */
    const json_t *credential_secrets;
    /* config-defaults default-pod-template as JSON (a Pod template object), or NULL */
    const json_t *default_pod_template;
    /*
     * config-defaults default-container-resource-requirements as JSON: container name,
     * "prefix-<p>" (names starting with "<p>-") or "default" -> ResourceRequirements. The most
     * specific entry wins; user containers take it only when they set no resources. NULL: none.
     */
    const json_t *default_container_resources;
    /*
     * The LimitRange objects of the TaskRun's namespace (an array, in the API's list order):
     * step requests are defaulted from them as Tekton does (controller/resources.h). NULL or
     * empty: none.
     */
    const json_t *limit_ranges;
    /* config-defaults default-forbidden-env as a JSON array of names, or NULL */
    const json_t *forbidden_env;
    /*
     * Image configs for steps that have neither command nor script, keyed by the step's image
     * string exactly as it appears in the resolved TaskSpec:
     *
     *   { "<image>": { "image": "<repo>@sha256:<digest>",        (optional: rewrites 'image')
     *                  "platforms": { "linux/amd64": { "entrypoint": [...], "cmd": [...] },
     *                                 "linux/arm64/v8": { ... } } } }
     *
     * NULL is an empty table.
     */
    const json_t *image_configs;
};

/* Why podspec_build() refused; written only on failure. Release with podspec_error_done(). */
struct podspec_error {
    char *message;          /* lower-case sentence naming the field, never NULL on failure */
    json_t *missing_images; /* with -ENOENT: array of image strings absent from image_configs */
};

void podspec_error_done(struct podspec_error *e);

/*
 * Build the Pod for the current attempt of 'taskrun' (the retry count is the length of
 * status.retriesStatus). Pass the TaskRun as resolution leaves it: metadata.labels and
 * annotations already merged with the Task's, spec.workspaces the effective bindings (a binding
 * with a "volume" member keeps that Pod volume name, else it gets Tekton's "ws-<fnv>" name),
 * spec.podTemplate the TaskRun's template (merged here over opts->default_pod_template; merging
 * an already merged template again changes nothing). 'taskspec' is the resolved v1 TaskSpec with
 * every $(...) substituted (as stored in status.taskSpec: stepTemplate not merged, workspace
 * declarations present). volumeClaimTemplate bindings become persistentVolumeClaim volumes named as
 * podspec_build_pvcs() names them.
 *
 * Returns 0 and a new reference in *ret_pod; -ENOENT when some step needs the entrypoint of an
 * image that 'opts->image_configs' lacks (reterr->missing_images lists them all: fetch them and
 * plan again); -EINVAL for input Tekton would refuse (bad field types, duplicate volume names,
 * invalid onError or step timeout, and an ssh-auth Secret without known_hosts when that is
 * required: its message starts "TaskRun validation failed"). 'reterr' may be NULL.
 */
int podspec_build(const json_t *taskrun, const json_t *taskspec, const struct podspec_options *opts,
                  json_t **ret_pod, struct podspec_error *reterr);

/*
 * The PersistentVolumeClaims to create before the Pod, one per spec.workspaces[] binding that
 * has a volumeClaimTemplate, each owned by the TaskRun. Returns 0 and a new (possibly empty)
 * array in *ret_pvcs, or -EINVAL with a message in *reterr_message (caller frees).
 */
int podspec_build_pvcs(const json_t *taskrun, json_t **ret_pvcs, char **reterr_message);

/*
 * Whether a Pod's step 0 waits for the tekton.dev/ready annotation: true when the options make
 * the controller patch the annotation in after creation (§5.3.5 "not ready immediately").
 */
bool podspec_waits_for_ready(const json_t *taskspec, const struct podspec_options *opts);

/*
 * Effective timeout of 'taskrun' in nanoseconds (spec.timeout, else the default). Returns 0 or
 * -EINVAL for an unparsable or negative spec.timeout.
 */
int podspec_timeout_ns(const json_t *taskrun, int64_t default_timeout_minutes, int64_t *ret_ns);

#endif
