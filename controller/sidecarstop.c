#include "controller/sidecarstop.h"

/*
 * Tekton v1.15.0's stopSidecars/StopSidecars/updateStoppedSidecarStatus as a pure decision:
 * which Pod containers get the nop image, and what status.sidecars then says. The caller
 * issues the patch or the status write (one per pass); the kubelet does the stopping.
 * Native Kubernetes sidecars and the sidecar-logs results container are not built here, so
 * their exceptions are left out.
 */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "controller/taskrun_status.h"
#include "lib/xalloc.h"

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

/* Tekton's IsContainerStep: only the "step-" prefix counts; injected containers are sidecars */
static bool is_step(const char *name)
{
    return name && strncmp(name, "step-", 5) == 0;
}

/* The JSON patch replacing the image of every running non-step container, or NULL. */
static json_t *image_patch(const json_t *pod, const char *nop_image)
{
    const json_t *statuses = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
    json_t *ops = json_array();
    const json_t *cs;
    const json_t *c;
    size_t i, j;

    json_array_foreach(statuses, i, cs) {
        const char *name = str_at(cs, "name");

        if (!name || is_step(name) || !json_object_get(json_object_get(cs, "state"), "running"))
            continue;
        json_array_foreach(containers, j, c) {
            if (!str_is(str_at(c, "name"), name) || str_is(str_at(c, "image"), nop_image))
                continue;
            char *path = xasprintf("/spec/containers/%zu/image", j);

            /* a Pod's container list is immutable, so the index stays right for this Pod */
            json_array_append_new(ops, json_pack("{s:s, s:s, s:s}", "op", "replace", "path", path,
                                                 "value", nop_image));
            free(path);
        }
    }
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        return NULL;
    }
    return ops;
}

/* Tekton's IsSidecarStatusRunning: a status.sidecars entry that has not terminated */
static bool sidecar_status_running(const json_t *status)
{
    const json_t *e;
    size_t i;

    json_array_foreach(json_object_get(status, "sidecars"), i, e) {
        if (!json_object_get(e, "terminated"))
            return true;
    }
    return false;
}

/* Tekton's updateStoppedSidecarStatus: every non-step container status, in the Pod's order. */
static json_t *rebuilt_sidecars(const json_t *pod)
{
    const json_t *statuses = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    json_t *out = json_array();
    const json_t *cs;
    size_t i;

    json_array_foreach(statuses, i, cs) {
        const char *name = str_at(cs, "name");
        const json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");
        const char *key;
        json_t *value;
        json_t *entry;

        if (!name || is_step(name))
            continue;
        entry = json_pack("{s:s, s:s, s:s}", "name",
                          strncmp(name, "sidecar-", 8) == 0 ? name + 8 : name, "container", name,
                          "imageID", str_at(cs, "imageID") ? str_at(cs, "imageID") : "");
        if (last) {
            /* the container the nop image restarted: its previous run is the sidecar's end */
            json_t *t = json_pack("{s:s, s:s}", "reason", "Completed", "message",
                                  "Sidecar container successfully stopped by nop image");
            static const char *const copied[] = {"startedAt", "finishedAt", "containerID"};
            const json_t *code = json_object_get(last, "exitCode");

            json_object_set_new(t, "exitCode", json_integer(json_integer_value(code)));
            for (size_t k = 0; k < sizeof(copied) / sizeof(copied[0]); k++) {
                if (json_object_get(last, copied[k]))
                    json_object_set(t, copied[k], json_object_get(last, copied[k]));
            }
            json_object_set_new(entry, "terminated", t);
        } else {
            json_object_foreach(json_object_get(cs, "state"), key, value) {
                json_object_set(entry, key, value);
            }
        }
        json_array_append_new(out, entry);
    }
    return out;
}

void sidecarstop_plan(const json_t *status, const json_t *pod, const char *nop_image,
                      struct sidecarstop_plan *ret_plan)
{
    struct sidecarstop_plan plan = {0};
    const char *reason = str_at(taskrun_status_condition(status), "reason");
    const char *pod_name = str_at(status, "podName");

    *ret_plan = plan;
    if (!taskrun_status_is_done(status) || !pod || !pod_name || !*pod_name || !nop_image)
        return;
    /* the fail routine deleted (or asked the entrypoint to kill) these Pods already */
    if (str_is(reason, "TaskRunCancelled") || str_is(reason, "TaskRunTimeout"))
        return;
    if (!str_is(str_at(json_object_get(pod, "metadata"), "name"), pod_name))
        return;
    if (str_is(str_at(json_object_get(pod, "status"), "phase"), "Running"))
        plan.patch = image_patch(pod, nop_image);
    /* Not only while one still runs (Tekton's condition): the kubelet can report a stopped
     * sidecar as terminated (StartError under the nop image) before it adds the lastState
     * that says how its own run ended, and the entry must follow that last update too. */
    if (sidecar_status_running(status) || json_array_size(json_object_get(status, "sidecars"))) {
        json_t *sidecars = rebuilt_sidecars(pod);

        if (json_equal(sidecars, json_object_get(status, "sidecars")))
            json_decref(sidecars);
        else
            plan.sidecars = sidecars;
    }
    *ret_plan = plan;
}

json_t *sidecarstop_failed_status(const json_t *status, const char *why, time_t now)
{
    json_t *st = json_is_object(status) ? json_deep_copy(status) : json_object();
    json_t *conds = json_object_get(st, "conditions");
    json_t *cond;
    json_t *item;
    char ts[21];
    size_t i;

    taskrun_status_format_time(now, ts);
    cond = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "Succeeded", "status", "False",
                     "lastTransitionTime", ts, "reason", "TaskRunStopSidecarFailed", "message",
                     why ? why : "");
    json_object_set_new(st, "completionTime", json_string(ts)); /* MarkResourceFailed */
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    json_array_foreach(conds, i, item) {
        if (str_is(str_at(item, "type"), "Succeeded")) {
            json_array_set_new(conds, i, cond);
            return st;
        }
    }
    json_array_append_new(conds, cond);
    return st;
}

void sidecarstop_plan_done(struct sidecarstop_plan *plan)
{
    if (!plan)
        return;
    json_decref(plan->patch);
    json_decref(plan->sidecars);
    plan->patch = NULL;
    plan->sidecars = NULL;
}
