#include "controller/events.h"

/*
 * Run events: the decision (pure), the core v1 Event object (pure), and a fire-and-forget
 * POST. Event series (client-go's correlator patching "count" on repeats) are left out: each
 * state change is one Event with count 1.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/taskrun_status.h"
#include "lib/kube.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define LOG_MODULE "events"

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

bool events_plan(const json_t *before, const json_t *after, struct events_event *ret_event)
{
    const char *status = str_at(after, "status");
    const char *message = str_at(after, "message") ? str_at(after, "message") : "";
    struct events_event ev = {NULL, NULL, message};

    /* Tekton compares the whole condition, lastTransitionTime included */
    if (!after || (before && json_equal(before, after)))
        return false;
    if (str_is(status, "Unknown")) {
        ev.type = "Normal";
        if (!before) {
            ev.reason = "Started";
            ev.message = "";
        } else {
            ev.reason = str_at(after, "reason") ? str_at(after, "reason") : "";
        }
    } else if (str_is(status, "True")) {
        ev.type = "Normal";
        ev.reason = "Succeeded";
    } else if (str_is(status, "False")) {
        ev.type = "Warning";
        ev.reason = "Failed";
    } else {
        return false;
    }
    *ret_event = ev;
    return true;
}

int events_plan_all(const json_t *before, const json_t *after, struct events_event ret_events[2])
{
    const char *reason = str_at(after, "reason");
    const char *status = str_at(after, "status");
    json_t *started;
    int n = 0;

    if (before || !after || str_is(status, "False") ||
        (str_is(status, "Unknown") && (str_is(reason, "Started") || str_is(reason, "Pending"))))
        return events_plan(before, after, &ret_events[0]) ? 1 : 0;
    if (!events_plan(NULL, after, &ret_events[0]))
        return 0;
    n = 1;
    ret_events[0] = (struct events_event){"Normal", "Started", ""};
    started =
        json_pack("{s:s, s:s, s:s}", "type", "Succeeded", "status", "Unknown", "reason", "Started");
    if (events_plan(started, after, &ret_events[1]))
        n = 2;
    json_decref(started);
    return n;
}

json_t *events_object(const json_t *involved, const char *api_version, const char *kind,
                      const char *component, const struct events_event *ev, int64_t now_ns)
{
    const json_t *meta = json_object_get(involved, "metadata");
    const char *name = str_at(meta, "name") ? str_at(meta, "name") : "";
    char *event_name = xasprintf("%s.%llx", name, (unsigned long long)now_ns);
    char ts[21];
    json_t *ev_obj;

    taskrun_status_format_time((time_t)(now_ns / 1000000000), ts);
    ev_obj =
        json_pack("{s:s, s:s, s:{s:s, s:s*}, s:{s:s, s:s, s:s, s:s*, s:s*, s:s*}, s:s, s:s, s:s, "
                  "s:{s:s}, s:s, s:s, s:i, s:n, s:s, s:s}",
                  "apiVersion", "v1", "kind", "Event", "metadata", "name", event_name, "namespace",
                  str_at(meta, "namespace"), "involvedObject", "apiVersion", api_version, "kind",
                  kind, "name", name, "namespace", str_at(meta, "namespace"), "uid",
                  str_at(meta, "uid"), "resourceVersion", str_at(meta, "resourceVersion"), "reason",
                  ev->reason, "message", ev->message ? ev->message : "", "type", ev->type, "source",
                  "component", component, "firstTimestamp", ts, "lastTimestamp", ts, "count", 1,
                  "eventTime", "reportingComponent", "", "reportingInstance", "");
    free(event_name);
    return ev_obj;
}

struct post {
    char *what; /* "<ns>/<name> <reason>" for the log */
};

static void on_posted(void *ctx, int rc, const json_t *obj, const struct kube_status *st)
{
    struct post *post = ctx;

    if (rc < 0 && rc != -ECANCELED)
        log_warn("cannot record event, ignoring",
                 json_pack("{s:s, s:i, s:s*}", "event", post->what, "code", st ? st->http_code : 0,
                           "error", st && st->message ? st->message : strerror(-rc)));
    free(post->what);
    free(post);
}

/* Post 'ev' about 'involved'. Returns 1 with the request started, or < 0 (logged). */
static int post_event(struct kube_client *kc, const json_t *involved, const char *api_version,
                      const char *kind, const char *component, const struct events_event *ev)
{
    const json_t *meta = json_object_get(involved, "metadata");
    struct timespec now;
    struct post *post;
    json_t *obj;
    char *path;
    int r;

    clock_gettime(CLOCK_REALTIME, &now);
    obj = events_object(involved, api_version, kind, component, ev,
                        (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    path = kube_path("/api/v1", str_at(meta, "namespace"), "events", NULL, NULL);
    post = xcalloc(1, sizeof(*post));
    post->what = xasprintf("%s/%s %s", str_at(meta, "namespace") ? str_at(meta, "namespace") : "",
                           str_at(meta, "name") ? str_at(meta, "name") : "", ev->reason);
    r = kube_create(kc, path, obj, on_posted, post);
    if (r < 0) {
        log_warn("cannot record event, ignoring",
                 json_pack("{s:s, s:s}", "event", post->what, "error", strerror(-r)));
        free(post->what);
        free(post);
    }
    json_decref(obj);
    free(path);
    return r < 0 ? r : 1;
}

int events_record(struct kube_client *kc, const json_t *involved, const char *api_version,
                  const char *kind, const char *component, const json_t *before,
                  const json_t *after)
{
    struct events_event ev;

    if (!events_plan(before, after, &ev))
        return 0;
    return post_event(kc, involved, api_version, kind, component, &ev);
}

int events_record_all(struct kube_client *kc, const json_t *involved, const char *api_version,
                      const char *kind, const char *component, const json_t *before,
                      const json_t *after)
{
    struct events_event evs[2];
    int n = events_plan_all(before, after, evs);
    int posted = 0;

    for (int i = 0; i < n; i++) {
        int r = post_event(kc, involved, api_version, kind, component, &evs[i]);

        if (r < 0)
            return posted > 0 ? posted : r;
        posted += r;
    }
    return posted;
}
