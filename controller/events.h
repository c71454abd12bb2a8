#ifndef CONTROLLER_EVENTS_H
#define CONTROLLER_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Kubernetes Events on run state changes, as Tekton v1.15.0 emits them (pkg/reconciler/events:
 * core v1 Events through client-go's recorder, source component "TaskRun" or "PipelineRun").
 * When a run's Succeeded condition changes:
 *   no condition before, now Unknown -> Normal  Started   ""
 *   Unknown, changed                  -> Normal  <reason> <message>   (Pending, Running, ...)
 *   True                              -> Normal  Succeeded <message>
 *   False                             -> Warning Failed    <message>
 * An Event is a side effect of a status write that succeeded: it is posted after the write's
 * answer, never instead of it, and its own answer is waited for by nobody (a lost Event is
 * logged and dropped, as client-go's recorder drops them).
 */

struct kube_client;

struct events_event {
    const char *type;    /* "Normal" or "Warning" (static) */
    const char *reason;  /* borrowed from the condition, or static */
    const char *message; /* borrowed from the condition, or "" */
};

/*
 * Decide the Event for a Succeeded condition going from 'before' (NULL: none) to 'after'
 * (NULL: none), both borrowed. Returns true and fills *ret_event (its strings borrowed from
 * 'after') when an Event is due, false when the condition did not change.
 */
bool events_plan(const json_t *before, const json_t *after, struct events_event *ret_event);

/*
 * The Events due, in order, into ret_events[0..1]; returns how many (0-2). As events_plan,
 * but a first condition that is already past the start (the first status write waited for
 * the Pod, taskrun.c: Running or Succeeded straight away) gets the Started Event before its
 * own, as a run whose status went through Pending would have had. A first condition that is
 * Pending, Started or a failure gets one Event, as before.
 */
int events_plan_all(const json_t *before, const json_t *after, struct events_event ret_events[2]);

/*
 * The core v1 Event object for 'ev' about 'involved' (a run object, borrowed; its metadata
 * gives name, namespace, uid and resourceVersion), of 'kind' in 'api_version', from
 * 'component', at 'now_ns' nanoseconds since the epoch (the name's suffix, as client-go makes
 * it: "<name>.<hex ns>"). Returns a new reference.
 */
json_t *events_object(const json_t *involved, const char *api_version, const char *kind,
                      const char *component, const struct events_event *ev, int64_t now_ns);

/*
 * Post the Event due for 'involved' (see events_plan) through 'kc', if any. Fire and forget:
 * returns 1 when a request was started, 0 when no Event was due, < 0 when the request could
 * not start (logged). The answer is only logged on failure.
 */
int events_record(struct kube_client *kc, const json_t *involved, const char *api_version,
                  const char *kind, const char *component, const json_t *before,
                  const json_t *after);

/*
 * As events_record, for the Events of events_plan_all: returns the number of requests
 * started (0-2), or < 0 when the first could not start.
 */
int events_record_all(struct kube_client *kc, const json_t *involved, const char *api_version,
                      const char *kind, const char *component, const json_t *before,
                      const json_t *after);

#endif
