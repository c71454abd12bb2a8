#ifndef CONTROLLER_CACHES_H
#define CONTROLLER_CACHES_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

/*
 * The informer caches the reconcilers share: one list+watch per resource type for the whole
 * process, however many reconcilers read it, plus the Tekton configuration rebuilt from the
 * tekton-pipelines ConfigMaps whenever they change.
 */

struct informer;
struct informer_handler;
struct kube_client;
struct tekton_config;

enum caches_kind {
    CACHE_TASKRUNS,
    CACHE_PIPELINERUNS,
    CACHE_PODS, /* only Pods with the tekton.dev/taskRun label */
    CACHE_TASKS,
    CACHE_PIPELINES,
    CACHE_STEPACTIONS,
    CACHE_PVCS,
    CACHE_CONFIGMAPS, /* only in the system namespace */
    CACHE_LIMITRANGES,
    CACHE_COUNT,
};

struct caches;

/*
 * Create idle caches for namespace 'ns' (NULL: all) with the ConfigMaps of
 * 'system_namespace' (both copied). Returns 0 and *ret_caches.
 */
int caches_new(uv_loop_t *loop, struct kube_client *kc, const char *ns,
               const char *system_namespace, struct caches **ret_caches);

/* Add a handler to the informer of 'kind' (copied); add handlers before caches_start(). */
void caches_add_handler(struct caches *c, enum caches_kind kind,
                        const struct informer_handler *handler);

/* Start every informer. Returns 0 or the first informer_start() error. */
int caches_start(struct caches *c);

/* The informer of 'kind', borrowed for the caches' lifetime. */
struct informer *caches_get(const struct caches *c, enum caches_kind kind);

/* The configuration now in force, borrowed until the next ConfigMap change. Never NULL. */
const struct tekton_config *caches_config(const struct caches *c);

/* True once every informer has listed. */
bool caches_synced(const struct caches *c);

/*
 * Trim a Pod before it is cached (the Pod informer's trim): of its spec, keep each container's
 * and init container's name and image only, and drop the volumes. Reconcilers read the Pod's
 * metadata and status, and of the spec only container names in order and images (step order,
 * stopping sidecars by JSON patch by index); the rest of a TaskRun's Pod spec (args, env, mounts,
 * volumes) was most of the bytes cached per run. Anything else is left as it is.
 */
void caches_trim_pod(json_t *pod);

/*
 * Trim a TaskRun (the TaskRun informer's trim, 'spec_key' "taskSpec") or a PipelineRun (the
 * PipelineRun informer's, "pipelineSpec") before it is cached: when status.<spec_key> equals
 * spec.<spec_key> (every run with an embedded spec once it has started, and every TaskRun a
 * PipelineRun creates), status.<spec_key> becomes a second reference to spec.<spec_key> instead
 * of a copy. No field is dropped: every reader sees the same JSON (resolution and the planners
 * read status.taskSpec of runs and of a PipelineRun's children, a done run's sidecar-status
 * write puts back its whole status), so this is safe whoever reads; it only works because the
 * cache is read-only (readers borrow, writers deep-copy). Anything else is left as it is.
 */
void caches_trim_run(json_t *run, const char *spec_key);

/* Close every informer and free the caches; then 'done' (may be NULL) runs from the loop. */
typedef void caches_closed_cb(void *ctx);
void caches_close(struct caches *c, caches_closed_cb *done, void *ctx);

#endif
