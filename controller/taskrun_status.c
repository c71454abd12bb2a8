#include "controller/taskrun_status.h"

/*
 * The TaskRun status planner, following Tekton v1.15.0's reconcile steps that decide status:
 * start, done, cancel, pending, timeout, fatal waiting reasons, Pod -> status conversion with
 * termination-message results, failure classification and retries. Leaves out: sidecar-logs
 * results, compressed termination messages, artifacts content, provenance, native sidecars,
 * and the grace timeouts for image pulls. Stopping sidecars after completion is sidecarstop's.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/childname.h"
#include "controller/goduration.h"
#include "controller/podspec.h"
#include "lib/xalloc.h"

/* termination message entry types (§7.1.2) */
enum result_type {
    RESULT_TASK = 1,
    RESULT_INTERNAL = 3,
    RESULT_STEP = 4,
    RESULT_STEP_ARTIFACTS = 5,
    RESULT_TASK_ARTIFACTS = 6,
    RESULT_UNKNOWN = 10,
};

struct plan_ctx {
    const struct taskrun_status_input *in;
    const struct taskrun_status_options *opts;
    struct taskrun_status_plan *plan;
    json_t *st;             /* the status being built (owned by plan->status) */
    json_t *before;         /* copy of the Succeeded condition at entry, or NULL */
    const json_t *taskspec; /* types: input spec, else status.taskSpec (borrowed) */
    const char *name;
    char now[21];
};

static json_t *unconst(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u = {.c = v};

    return u.m;
}

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *format, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, format);
    if (vasprintf(&s, format, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* the compact JSON text of 'v' as a JSON string (Go's json.Marshal spacing) */
static json_t *dump_compact(const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_t *s = json_string(text ? text : "");

    free(text);
    return s;
}

/* ---- time ---- */

void taskrun_status_format_time(time_t t, char out[21])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int taskrun_status_parse_time(const char *text, time_t *ret_t)
{
    struct tm tm = {0};
    const char *p;
    long offset = 0;
    time_t t;

    if (!text)
        return -EINVAL;
    p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -EINVAL;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int sign = *p == '-' ? -1 : 1;
        int hh = (p[1] - '0') * 10 + (p[2] - '0');
        int mm = (p[4] - '0') * 10 + (p[5] - '0');

        offset = sign * (hh * 3600L + mm * 60L);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret_t = t - offset;
    return 0;
}

/* ---- conditions ---- */

const json_t *taskrun_status_condition(const json_t *status)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(status, "conditions"), i, c) {
        if (str_is(str_at(c, "type"), "Succeeded"))
            return c;
    }
    return NULL;
}

bool taskrun_status_is_done(const json_t *status)
{
    const json_t *c = taskrun_status_condition(status);
    const char *s = str_at(c, "status");

    return s && (strcmp(s, "True") == 0 || strcmp(s, "False") == 0);
}

bool taskrun_status_changed(const json_t *old_status, const json_t *new_status)
{
    if (!old_status || !new_status)
        return old_status != new_status;
    return !json_equal(old_status, new_status);
}

/* Set the Succeeded condition; lastTransitionTime moves only when something changed. */
static void set_condition(struct plan_ctx *c, const char *status, const char *reason,
                          const char *message)
{
    json_t *conds = json_object_get(c->st, "conditions");
    const json_t *old = taskrun_status_condition(c->st);
    json_t *cond;
    const char *ltt = c->now;
    size_t i;
    json_t *item;

    if (old && str_is(str_at(old, "status"), status) && str_is(str_at(old, "reason"), reason) &&
        strcmp(str_at(old, "message") ? str_at(old, "message") : "", message ? message : "") == 0 &&
        str_at(old, "lastTransitionTime"))
        ltt = str_at(old, "lastTransitionTime");
    cond = json_pack("{s:s, s:s, s:s, s:s}", "type", "Succeeded", "status", status,
                     "lastTransitionTime", ltt, "reason", reason);
    if (message && *message)
        json_object_set_new(cond, "message", json_string(message));
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(c->st, "conditions", conds);
    }
    json_array_foreach(conds, i, item) {
        if (str_is(str_at(item, "type"), "Succeeded")) {
            json_array_set_new(conds, i, cond);
            return;
        }
    }
    json_array_append_new(conds, cond);
}

static const char *cond_field(const json_t *status, const char *field)
{
    return str_at(taskrun_status_condition(status), field);
}

/* "\nPrevious status: [<reason>] <message>" for cancel and timeout messages, or "" */
static char *previous_status_suffix(const struct plan_ctx *c)
{
    const char *reason = str_at(c->before, "reason");
    const char *message = str_at(c->before, "message");

    if (!reason || str_is(reason, "Started") || str_is(reason, "Running") ||
        str_is(reason, "TaskRunPending") || !message || !*message)
        return xstrdup("");
    return fmt("\nPrevious status: [%s] %s", reason, message);
}

/* ---- the fail routine (§3.6) ---- */

static void terminate_step(json_t *step, const char *state_key, const char *started,
                           const char *reason, const char *finished, const char *pod)
{
    char *msg = fmt("Step %s terminated as pod %s is terminated",
                    str_at(step, "name") ? str_at(step, "name") : "", pod);
    json_t *term = json_pack("{s:i, s:s, s:s, s:s, s:s}", "exitCode", 1, "reason", reason,
                             "message", msg, "startedAt", started, "finishedAt", finished);

    json_object_del(step, state_key);
    json_object_set_new(step, "terminated", term);
    json_object_set_new(step, "terminationReason", json_string(reason));
    free(msg);
}

static void fail_run(struct plan_ctx *c, const char *reason, const char *message)
{
    const char *pod = str_at(c->st, "podName");
    const json_t *meta = json_object_get(c->in->taskrun, "metadata");
    const char *created = str_at(meta, "creationTimestamp");
    size_t i;
    json_t *step;

    set_condition(c, "False", reason, message);
    json_object_set_new(c->st, "completionTime", json_string(c->now));
    if (!pod || !*pod)
        return;
    json_array_foreach(json_object_get(c->st, "steps"), i, step) {
        const json_t *running = json_object_get(step, "running");

        if (running)
            terminate_step(step, "running",
                           str_at(running, "startedAt") ? str_at(running, "startedAt") : c->now,
                           reason, c->now, pod);
        else if (json_object_get(step, "waiting"))
            terminate_step(step, "waiting", created ? created : c->now, reason, c->now, pod);
    }
    if (c->opts->keep_pod_on_cancel &&
        (str_is(reason, "TaskRunCancelled") || str_is(reason, "TaskRunTimeout")))
        c->plan->cancel_pod = true;
    else
        c->plan->delete_pod = true;
}

/* ---- termination messages (§7.1.3) ---- */

static int entry_type(const json_t *t)
{
    static const struct {
        const char *name;
        int type;
    } legacy[] = {
        {"TaskRunResult", RESULT_TASK},
        {"InternalTektonResult", RESULT_INTERNAL},
        {"StepResult", RESULT_STEP},
        {"StepArtifactsResult", RESULT_STEP_ARTIFACTS},
        {"TaskRunArtifactsResult", RESULT_TASK_ARTIFACTS},
    };

    if (json_is_integer(t))
        return (int)json_integer_value(t);
    if (json_is_string(t)) {
        for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
            if (strcmp(json_string_value(t), legacy[i].name) == 0)
                return legacy[i].type;
        }
        return RESULT_UNKNOWN;
    }
    return 0;
}

static int compare_keys(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a;
    const json_t *y = *(const json_t *const *)b;

    return strcmp(str_at(x, "key"), str_at(y, "key"));
}

/*
 * Parse a termination message into entries {key, value, type(int)}: empty entries dropped,
 * de-duplicated by key (last wins), sorted by key. Returns 0 or -EINVAL.
 */
static int parse_message(const char *message, json_t **ret_entries)
{
    json_t *raw = json_loads(message, 0, NULL);
    json_t *dedup = json_object(); /* key -> entry */
    json_t *sorted = json_array();
    const json_t **list = NULL;
    size_t i, n = 0;
    const json_t *e;
    const char *key;
    json_t *v;

    if (!json_is_array(raw)) {
        json_decref(raw);
        json_decref(dedup);
        json_decref(sorted);
        return -EINVAL;
    }
    json_array_foreach(raw, i, e) {
        const char *k = str_at(e, "key");
        const char *val = str_at(e, "value");
        int type = entry_type(json_object_get(e, "type"));

        if (!json_is_object(e) || ((!k || !*k) && (!val || !*val) && type == 0))
            continue;
        json_object_set_new(
            dedup, k ? k : "",
            json_pack("{s:s, s:s, s:i}", "key", k ? k : "", "value", val ? val : "", "type", type));
    }
    json_decref(raw);
    list = xcalloc(json_object_size(dedup) + 1, sizeof(*list));
    json_object_foreach(dedup, key, v) {
        list[n++] = v;
    }
    qsort(list, n, sizeof(*list), compare_keys);
    for (i = 0; i < n; i++)
        json_array_append(sorted, unconst(list[i]));
    free(list);
    json_decref(dedup);
    *ret_entries = sorted;
    return 0;
}

static const json_t *find_entry(const json_t *entries, int type, const char *key)
{
    size_t i;
    const json_t *e;

    json_array_foreach(entries, i, e) {
        if (json_integer_value(json_object_get(e, "type")) == type && str_is(str_at(e, "key"), key))
            return e;
    }
    return NULL;
}

/* Whether a container status's termination message says the step timed out. */
static bool message_says_timeout(const json_t *terminated)
{
    const char *msg = str_at(terminated, "message");
    json_t *entries = NULL;
    bool timeout;

    if (!msg || !*msg || parse_message(msg, &entries) < 0)
        return false;
    timeout =
        str_is(str_at(find_entry(entries, RESULT_INTERNAL, "Reason"), "value"), "TimeoutExceeded");
    json_decref(entries);
    return timeout;
}

/* Tekton's lenient ParamValue decoding: JSON string/array/object, else the raw text. */
static json_t *lenient_value(const char *raw, const char **ret_type)
{
    json_t *v = json_loads(raw, JSON_DECODE_ANY, NULL);

    if (json_is_string(v)) {
        *ret_type = "string";
        return v;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        bool strings = true;

        json_array_foreach(v, i, item) {
            strings = strings && json_is_string(item);
        }
        if (strings) {
            *ret_type = "array";
            return v;
        }
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *item;
        bool strings = true;

        json_object_foreach(v, k, item) {
            strings = strings && json_is_string(item);
        }
        if (strings) {
            *ret_type = "object";
            return v;
        }
    }
    json_decref(v);
    *ret_type = "string";
    return json_string(raw);
}

static const char *declared_type(const json_t *results, const char *name)
{
    size_t i;
    const json_t *r;

    json_array_foreach(results, i, r) {
        if (str_is(str_at(r, "name"), name)) {
            const char *t = str_at(r, "type");

            if (t && *t)
                return t;
            return json_object_get(r, "properties") ? "object" : "string";
        }
    }
    return NULL;
}

/* {name, type, value} decoded against the declared type (string stays raw) */
static json_t *make_result(const char *name, const char *raw, const char *declared)
{
    const char *type = "string";
    json_t *value;

    if (str_is(declared, "string"))
        value = json_string(raw);
    else
        value = lenient_value(raw, &type);
    return json_pack("{s:s, s:s, s:o}", "name", name, "type", type, "value", value);
}

/* Add or replace by name: position of the first occurrence, value of the last. */
static void upsert_result(json_t *list, json_t *result)
{
    size_t i;
    json_t *r;

    json_array_foreach(list, i, r) {
        if (str_is(str_at(r, "name"), str_at(result, "name"))) {
            json_array_set_new(list, i, result);
            return;
        }
    }
    json_array_append_new(list, result);
}

/* ---- Pod -> steps and sidecars (§8.2, §8.3) ---- */

static const json_t *spec_step_for(const json_t *taskspec, const char *container)
{
    size_t i;
    const json_t *s;

    json_array_foreach(json_object_get(taskspec, "steps"), i, s) {
        char *want = str_at(s, "name") && *str_at(s, "name") ? fmt("step-%s", str_at(s, "name"))
                                                             : fmt("step-unnamed-%zu", i);
        char *restricted = childname_restrict(want);
        bool match = strcmp(restricted, container) == 0;

        free(want);
        free(restricted);
        if (match)
            return s;
    }
    return NULL;
}

/* task results declared as $(steps.<s>.results.<r>) that this step result feeds */
static void results_from_step_result(const json_t *taskspec, const char *step_name,
                                     const json_t *entry, json_t *task_results)
{
    size_t i;
    const json_t *r;

    json_array_foreach(json_object_get(taskspec, "results"), i, r) {
        const char *v = str_at(r, "value");
        char *want = fmt("$(steps.%s.results.%s)", step_name, str_at(entry, "key"));

        if (str_is(v, want))
            upsert_result(task_results,
                          make_result(str_at(r, "name"), str_at(entry, "value"),
                                      declared_type(json_object_get(taskspec, "results"),
                                                    str_at(r, "name"))));
        free(want);
    }
}

/*
 * One status.steps[] entry from a step container status, adjusted by its termination message.
 * With 'harvest', results go to 'task_results' and the entry's "results".
 */
static json_t *step_entry(struct plan_ctx *c, const json_t *cs, bool harvest, json_t *task_results)
{
    const char *container = str_at(cs, "name");
    const json_t *state = json_object_get(cs, "state");
    json_t *entry = json_pack("{s:s, s:s, s:s}", "name", container + 5, "container", container,
                              "imageID", str_at(cs, "imageID") ? str_at(cs, "imageID") : "");
    const char *key;
    json_t *v;
    json_t *term;
    const char *msg;
    json_t *entries = NULL;
    const json_t *spec_step;
    json_t *step_results;
    json_t *visible;
    size_t i;
    const json_t *e;
    const json_t *exit_entry;
    const json_t *reason_entry;

    json_object_foreach(unconst(state), key, v) {
        json_object_set_new(entry, key, json_deep_copy(v));
    }
    term = json_object_get(entry, "terminated");
    msg = str_at(term, "message");
    if (msg && !*msg) {
        json_object_del(term, "message"); /* Go's omitempty; 'msg' is gone now */
        return entry;
    }
    if (!term || !msg)
        return entry;
    if (parse_message(msg, &entries) < 0) {
        c->plan->bad_message = true;
        if (str_at(term, "reason"))
            json_object_set_new(entry, "terminationReason", json_string(str_at(term, "reason")));
        return entry;
    }
    spec_step = spec_step_for(c->taskspec, container);
    step_results = json_array();
    visible = json_array();
    json_array_foreach(entries, i, e) {
        int type = (int)json_integer_value(json_object_get(e, "type"));

        if (type == RESULT_INTERNAL)
            continue;
        json_array_append_new(
            visible, json_pack("{s:O, s:O, s:O}", "key", json_object_get(e, "key"), "value",
                               json_object_get(e, "value"), "type", json_object_get(e, "type")));
        if (!harvest)
            continue;
        if (type == RESULT_TASK) {
            upsert_result(task_results,
                          make_result(str_at(e, "key"), str_at(e, "value"),
                                      declared_type(json_object_get(c->taskspec, "results"),
                                                    str_at(e, "key"))));
        } else if (type == RESULT_STEP) {
            upsert_result(step_results,
                          make_result(str_at(e, "key"), str_at(e, "value"),
                                      declared_type(json_object_get(spec_step, "results"),
                                                    str_at(e, "key"))));
            results_from_step_result(c->taskspec, container + 5, e, task_results);
        }
    }
    {
        const json_t *started = find_entry(entries, RESULT_INTERNAL, "StartedAt");
        time_t t;

        if (started && taskrun_status_parse_time(str_at(started, "value"), &t) == 0) {
            char buf[21];

            taskrun_status_format_time(t, buf);
            json_object_set_new(term, "startedAt", json_string(buf));
        }
    }
    exit_entry = find_entry(entries, RESULT_INTERNAL, "ExitCode");
    if (exit_entry) {
        char *end = NULL;
        long code = strtol(str_at(exit_entry, "value"), &end, 10);

        if (end && *end == '\0' && end != str_at(exit_entry, "value"))
            json_object_set_new(term, "exitCode", json_integer(code));
    }
    reason_entry = find_entry(entries, RESULT_INTERNAL, "Reason");
    if (reason_entry && *str_at(reason_entry, "value"))
        json_object_set_new(entry, "terminationReason", json_string(str_at(reason_entry, "value")));
    else if (exit_entry)
        json_object_set_new(entry, "terminationReason", json_string("Continued"));
    else if (str_at(term, "reason"))
        json_object_set_new(entry, "terminationReason", json_string(str_at(term, "reason")));
    if (json_array_size(visible) > 0)
        json_object_set_new(term, "message", dump_compact(visible));
    else
        json_object_del(term, "message");
    if (json_array_size(step_results) > 0)
        json_object_set(entry, "results", step_results);
    json_decref(step_results);
    json_decref(visible);
    json_decref(entries);
    return entry;
}

/* container statuses whose names start with 'prefix', in Pod spec order */
static json_t *statuses_in_spec_order(const json_t *pod, const char *prefix)
{
    const json_t *statuses = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
    json_t *out = json_array();
    size_t i, k;
    const json_t *c;
    const json_t *cs;

    json_array_foreach(containers, i, c) {
        json_array_foreach(statuses, k, cs) {
            if (has_prefix(str_at(cs, "name"), prefix) &&
                str_is(str_at(cs, "name"), str_at(c, "name")))
                json_array_append(out, unconst(cs));
        }
    }
    /* statuses the spec does not list (should not happen) keep their order at the end */
    json_array_foreach(statuses, k, cs) {
        bool listed = false;

        if (!has_prefix(str_at(cs, "name"), prefix))
            continue;
        json_array_foreach(containers, i, c) {
            listed = listed || str_is(str_at(cs, "name"), str_at(c, "name"));
        }
        if (!listed)
            json_array_append(out, unconst(cs));
    }
    return out;
}

static json_t *step_statuses_in_spec_order(const json_t *pod)
{
    return statuses_in_spec_order(pod, "step-");
}

static void update_sidecars(struct plan_ctx *c, const json_t *pod)
{
    json_t *statuses = statuses_in_spec_order(pod, "sidecar-");
    json_t *sidecars = json_array();
    size_t i;
    const json_t *cs;

    json_array_foreach(statuses, i, cs) {
        const char *name = str_at(cs, "name");
        json_t *entry;
        const char *key;
        json_t *v;

        entry = json_pack("{s:s, s:s, s:s}", "name", name + 8, "container", name, "imageID",
                          str_at(cs, "imageID") ? str_at(cs, "imageID") : "");
        json_object_foreach(json_object_get(cs, "state"), key, v) {
            json_object_set_new(entry, key, json_deep_copy(v));
        }
        json_array_append_new(sidecars, entry);
    }
    json_decref(statuses);
    /* rebuilt from scratch at every conversion, like upstream */
    if (json_array_size(sidecars) > 0) {
        json_object_set_new(c->st, "sidecars", sidecars);
    } else {
        json_decref(sidecars);
        json_object_del(c->st, "sidecars");
    }
}

/* Refresh status.steps from the Pod; with 'harvest' also fill 'task_results'. */
static void update_steps(struct plan_ctx *c, const json_t *pod, bool harvest, json_t *task_results)
{
    json_t *statuses = step_statuses_in_spec_order(pod);
    json_t *steps;
    size_t i;
    const json_t *cs;

    if (json_array_size(statuses) == 0) {
        json_decref(statuses);
        return; /* keep what was recorded */
    }
    steps = json_array();
    json_array_foreach(statuses, i, cs) {
        json_array_append_new(steps, step_entry(c, cs, harvest, task_results));
    }
    json_object_set_new(c->st, "steps", steps);
    json_decref(statuses);
}

/* ---- condition from Pod state (§8.4, §8.5) ---- */

static const json_t *terminated_of(const json_t *cs)
{
    return json_object_get(json_object_get(cs, "state"), "terminated");
}

static bool is_oom(const json_t *cs)
{
    return str_is(str_at(terminated_of(cs), "reason"), "OOMKilled");
}

static bool exited_nonzero(const json_t *cs)
{
    const json_t *t = terminated_of(cs);

    return t && json_integer_value(json_object_get(t, "exitCode")) != 0;
}

bool taskrun_status_pod_complete(const json_t *pod)
{
    const json_t *status = json_object_get(pod, "status");
    const char *phase = str_at(status, "phase");
    const json_t *statuses = json_object_get(status, "containerStatuses");
    bool all_terminated = true;
    size_t i;
    const json_t *cs;

    if (str_is(phase, "Succeeded") || str_is(phase, "Failed"))
        return true;
    json_array_foreach(statuses, i, cs) {
        if (!has_prefix(str_at(cs, "name"), "step-"))
            continue;
        if (is_oom(cs))
            return true;
        if (!terminated_of(cs))
            all_terminated = false;
    }
    return (str_is(phase, "Running") || str_is(phase, "Succeeded")) &&
           json_array_size(statuses) > 0 && all_terminated;
}

static bool member_equal(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key);
    const json_t *y = json_object_get(b, key);

    return (!x && !y) || (x && y && json_equal(x, y));
}

/* 'annotations' of two Pods equal but for tekton.dev/ready */
static bool annotations_equal_but_ready(const json_t *a, const json_t *b)
{
    const char *key;
    const json_t *v;

    json_object_foreach(unconst(a), key, v) {
        if (strcmp(key, "tekton.dev/ready") != 0 && !member_equal(a, b, key))
            return false;
    }
    json_object_foreach(unconst(b), key, v) {
        if (strcmp(key, "tekton.dev/ready") != 0 && !json_object_get(a, key))
            return false;
    }
    return true;
}

/* the containers' names and images in order (a sidecar stop patches the image) */
static bool images_equal(const json_t *a, const json_t *b)
{
    const json_t *ca = json_object_get(json_object_get(a, "spec"), "containers");
    const json_t *cb = json_object_get(json_object_get(b, "spec"), "containers");
    size_t i;

    if (json_array_size(ca) != json_array_size(cb))
        return false;
    for (i = 0; i < json_array_size(ca); i++) {
        if (!member_equal(json_array_get(ca, i), json_array_get(cb, i), "image"))
            return false;
    }
    return true;
}

bool taskrun_status_pod_inputs_equal(const json_t *a, const json_t *b)
{
    static const char *const status_keys[] = {"phase", "reason", "message", "containerStatuses",
                                              "initContainerStatuses"};
    const json_t *ma = json_object_get(a, "metadata");
    const json_t *mb = json_object_get(b, "metadata");
    const json_t *sa = json_object_get(a, "status");
    const json_t *sb = json_object_get(b, "status");

    for (size_t i = 0; i < sizeof(status_keys) / sizeof(status_keys[0]); i++) {
        if (!member_equal(sa, sb, status_keys[i]))
            return false;
    }
    if (str_is(str_at(sb, "phase"), "Pending") && !member_equal(sa, sb, "conditions"))
        return false;
    return member_equal(ma, mb, "deletionTimestamp") && member_equal(ma, mb, "name") &&
           annotations_equal_but_ready(json_object_get(ma, "annotations"),
                                       json_object_get(mb, "annotations")) &&
           images_equal(a, b);
}

bool taskrun_status_pod_pending_routine(const json_t *pod)
{
    static const char *const keys[] = {"initContainerStatuses", "containerStatuses"};
    const json_t *status = json_object_get(pod, "status");
    size_t i;
    const json_t *v;

    if (!str_is(str_at(status, "phase"), "Pending"))
        return false;
    json_array_foreach(json_object_get(status, "conditions"), i, v) {
        if (str_is(str_at(v, "reason"), "Unschedulable"))
            return false;
    }
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_array_foreach(json_object_get(status, keys[k]), i, v) {
            const json_t *state = json_object_get(v, "state");
            const json_t *w = json_object_get(state, "waiting");
            const json_t *t = json_object_get(state, "terminated");

            if (w && !str_is(str_at(w, "reason"), "ContainerCreating") &&
                !str_is(str_at(w, "reason"), "PodInitializing"))
                return false;
            if (t && json_integer_value(json_object_get(t, "exitCode")) != 0)
                return false;
        }
    }
    return true;
}

static bool pod_failed(const json_t *pod)
{
    const json_t *status = json_object_get(pod, "status");
    size_t i;
    const json_t *cs;

    if (str_is(str_at(status, "phase"), "Failed"))
        return true;
    json_array_foreach(json_object_get(status, "containerStatuses"), i, cs) {
        if (has_prefix(str_at(cs, "name"), "step-") && (exited_nonzero(cs) || is_oom(cs)))
            return true;
    }
    return false;
}

/* the message of §8.5 for a matched container, or NULL when it has nothing to say */
static char *container_failure_message(const json_t *cs, bool init)
{
    const json_t *t = terminated_of(cs);
    const char *name = str_at(cs, "name");
    const char *prefix = init ? "init container failed, " : "";
    const char *reason = str_at(t, "reason");
    json_int_t code = json_integer_value(json_object_get(t, "exitCode"));

    if (message_says_timeout(t))
        return fmt("%s\"%s\" exited because the step exceeded the specified timeout limit", prefix,
                   name);
    if (code != 0 && reason && *reason)
        return fmt("%s\"%s\" exited with code %lld: %s", prefix, name, (long long)code, reason);
    if (code != 0)
        return fmt("%s\"%s\" exited with code %lld", prefix, name, (long long)code);
    return NULL;
}

/* §8.5: reason and message of a failed Pod. 'steps' are the step statuses in spec order. */
static void classify_failure(const json_t *pod, const json_t *steps, const char **ret_reason,
                             char **ret_message)
{
    const json_t *status = json_object_get(pod, "status");
    const json_t *inits = json_object_get(status, "initContainerStatuses");
    const json_t *all = json_object_get(status, "containerStatuses");
    const json_t *match = NULL;
    bool match_init = false;
    const char *reason = "Failed";
    bool any_oom = false;
    size_t i;
    const json_t *cs;
    char *message = NULL;

    if (str_is(str_at(status, "reason"), "Evicted")) {
        *ret_reason = "PodEvicted";
        *ret_message = xstrdup(str_at(status, "message") ? str_at(status, "message") : "");
        return;
    }
    json_array_foreach(all, i, cs) {
        any_oom = any_oom || is_oom(cs);
    }
    /* the table's order: init OOM, init exit, sidecar OOM, step OOM, sidecar exit, step exit */
    json_array_foreach(inits, i, cs) {
        if (!match && is_oom(cs)) {
            match = cs;
            reason = "InitContainerOOM";
            match_init = true;
        }
    }
    json_array_foreach(inits, i, cs) {
        if (!match && exited_nonzero(cs)) {
            match = cs;
            reason = "InitContainerFailed";
            match_init = true;
        }
    }
    json_array_foreach(all, i, cs) {
        if (!match && has_prefix(str_at(cs, "name"), "sidecar-") && is_oom(cs)) {
            match = cs;
            reason = "SidecarOOM";
        }
    }
    json_array_foreach(steps, i, cs) {
        if (!match && is_oom(cs)) {
            match = cs;
            reason = "StepOOM";
        }
    }
    json_array_foreach(all, i, cs) {
        if (!match && has_prefix(str_at(cs, "name"), "sidecar-") && exited_nonzero(cs)) {
            match = cs;
            reason = "SidecarFailed";
        }
    }
    json_array_foreach(steps, i, cs) {
        if (!match && exited_nonzero(cs)) {
            match = cs;
            reason = "StepFailed";
        }
    }
    if (match)
        message = container_failure_message(match, match_init);
    if (!message && str_at(status, "message") && *str_at(status, "message"))
        message = xstrdup(str_at(status, "message"));
    if (!message)
        message = xstrdup(any_oom ? "OOMKilled" : "build failed for unspecified reasons.");
    *ret_reason = reason;
    *ret_message = message;
}

static bool waiting_with(const json_t *cs, const char *reason)
{
    return str_is(str_at(json_object_get(json_object_get(cs, "state"), "waiting"), "reason"),
                  reason);
}

/* §8.4 waiting message */
static char *waiting_message(const json_t *pod)
{
    const json_t *status = json_object_get(pod, "status");
    size_t i;
    const json_t *v;

    json_array_foreach(json_object_get(status, "containerStatuses"), i, v) {
        const json_t *w = json_object_get(json_object_get(v, "state"), "waiting");

        if (w && str_at(w, "message") && *str_at(w, "message"))
            return fmt("build step \"%s\" is pending with reason \"%s\"", str_at(v, "name"),
                       str_at(w, "message"));
    }
    json_array_foreach(json_object_get(status, "conditions"), i, v) {
        if (!str_is(str_at(v, "status"), "True"))
            return fmt("pod status \"%s\":\"%s\"; message: \"%s\"",
                       str_at(v, "type") ? str_at(v, "type") : "",
                       str_at(v, "status") ? str_at(v, "status") : "",
                       str_at(v, "message") ? str_at(v, "message") : "");
    }
    if (str_at(status, "message") && *str_at(status, "message"))
        return xstrdup(str_at(status, "message"));
    return xstrdup("Pending");
}

static bool any_waiting_with(const json_t *pod, const char *const *reasons, size_t n, bool inits)
{
    const json_t *status = json_object_get(pod, "status");

    for (int pass = 0; pass < (inits ? 2 : 1); pass++) {
        const json_t *list =
            json_object_get(status, pass == 0 ? "containerStatuses" : "initContainerStatuses");
        size_t i;
        const json_t *cs;

        json_array_foreach(list, i, cs) {
            for (size_t r = 0; r < n; r++) {
                if (waiting_with(cs, reasons[r]))
                    return true;
            }
        }
    }
    return false;
}

static void pending_condition(struct plan_ctx *c, const json_t *pod)
{
    static const char *const image_reasons[] = {
        "ImagePullBackOff",  "ImageInspectError",   "ErrImagePull",
        "ErrImageNeverPull", "RegistryUnavailable", "InvalidImageName",
    };
    static const char *const config_error[] = {"CreateContainerConfigError"};
    const json_t *status = json_object_get(pod, "status");
    size_t i;
    const json_t *v;
    char *msg;

    json_array_foreach(json_object_get(status, "conditions"), i, v) {
        const char *m = str_at(v, "message");

        if (str_is(str_at(v, "reason"), "Unschedulable") && m && strstr(m, "Insufficient")) {
            set_condition(c, "Unknown", "ExceededNodeResources",
                          "TaskRun Pod exceeded available resources");
            return;
        }
    }
    json_array_foreach(json_object_get(status, "containerStatuses"), i, v) {
        const char *m = str_at(json_object_get(json_object_get(v, "state"), "waiting"), "message");

        if (waiting_with(v, "CreateContainerConfigError") && m &&
            strstr(m, "failed to create subPath directory")) {
            set_condition(c, "Unknown", "Pending",
                          "Waiting for subPath directory creation to complete");
            return;
        }
    }
    if (any_waiting_with(pod, config_error, 1, true)) {
        set_condition(c, "False", "CreateContainerConfigError",
                      "Failed to create pod due to config error");
        return;
    }
    msg = waiting_message(pod);
    if (any_waiting_with(pod, image_reasons, sizeof(image_reasons) / sizeof(image_reasons[0]),
                         true))
        set_condition(c, "Unknown", "PullImageFailed", msg);
    else
        set_condition(c, "Unknown", "Pending", msg);
    free(msg);
}

/* ' "<name>": task result is expected to be "<want>" type but was initialized to ...' */
static json_t *mismatch_text(const char *name, const char *want, const char *got)
{
    char *text = fmt(" \"%s\": task result is expected to be \"%s\" type but was initialized "
                     "to a different type \"%s\"",
                     name ? name : "", want, got ? got : "");
    json_t *s = json_string(text);

    free(text);
    return s;
}

static int compare_cstrings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 'parts' sorted and joined with 'sep'; a new string */
static char *join_sorted(json_t *parts, const char *sep)
{
    size_t n = json_array_size(parts);
    const char **list = xcalloc(n + 1, sizeof(*list));
    char *out = xstrdup("");

    for (size_t i = 0; i < n; i++)
        list[i] = json_string_value(json_array_get(parts, i));
    qsort(list, n, sizeof(*list), compare_cstrings);
    for (size_t i = 0; i < n; i++) {
        char *next = fmt("%s%s%s", out, i > 0 ? sep : "", list[i]);

        free(out);
        out = next;
    }
    free(list);
    return out;
}

/* "name:[k1 k2]" when a declared object result lacks property keys, else NULL */
static char *missing_keys(const json_t *declared, const json_t *result)
{
    const json_t *decl = NULL;
    const json_t *value = json_object_get(result, "value");
    json_t *missing = json_array();
    size_t i;
    const json_t *d;
    const char *key;
    json_t *v;
    char *keys;
    char *out = NULL;

    json_array_foreach(declared, i, d) {
        if (str_is(str_at(d, "name"), str_at(result, "name")))
            decl = d;
    }
    json_object_foreach(json_object_get(decl, "properties"), key, v) {
        if (!json_object_get(value, key))
            json_array_append_new(missing, json_string(key));
    }
    if (json_array_size(missing) > 0) {
        keys = join_sorted(missing, " ");
        out = fmt("%s:[%s]", str_at(result, "name"), keys);
        free(keys);
    }
    json_decref(missing);
    return out;
}

/*
 * §7.1.3 step 7: results whose decoded type differs from the declaration are dropped and fail
 * the run; so do object results that lack declared properties.
 */
static void validate_results(struct plan_ctx *c)
{
    json_t *results = json_object_get(c->st, "results");
    const json_t *declared = json_object_get(c->taskspec, "results");
    json_t *mismatches = json_array();
    json_t *lacking = json_array();
    size_t i = 0;

    while (i < json_array_size(results)) {
        const json_t *r = json_array_get(results, i);
        const char *want = declared_type(declared, str_at(r, "name"));
        const char *got = str_at(r, "type");

        if (want && !str_is(want, got)) {
            json_array_append_new(mismatches, mismatch_text(str_at(r, "name"), want, got));
            json_array_remove(results, i);
            continue;
        }
        if (str_is(got, "object")) {
            char *m = missing_keys(declared, r);

            if (m)
                json_array_append_new(lacking, json_string(m));
            free(m);
        }
        i++;
    }
    if (json_array_size(mismatches) > 0) {
        char *joined = join_sorted(mismatches, ",");
        char *msg = fmt("[User error] Provided results don't match declared results; may be "
                        "invalid JSON or missing result declaration: %s",
                        joined);

        set_condition(c, "False", "TaskRunValidationFailed", msg);
        free(msg);
        free(joined);
    } else if (json_array_size(lacking) > 0) {
        char *joined = join_sorted(lacking, " ");
        char *msg = fmt("[User error] missing keys for these results which are required in "
                        "TaskResult's properties map[%s]",
                        joined);

        set_condition(c, "False", "TaskRunValidationFailed", msg);
        free(msg);
        free(joined);
    }
    if (json_array_size(results) == 0)
        json_object_del(c->st, "results");
    json_decref(lacking);
    json_decref(mismatches);
}

static void convert_pod(struct plan_ctx *c, const json_t *pod)
{
    const json_t *annotations =
        json_object_get(json_object_get(c->in->taskrun, "metadata"), "annotations");
    const char *phase = str_at(json_object_get(pod, "status"), "phase");
    json_t *task_results = json_array();
    json_t *steps = step_statuses_in_spec_order(pod);
    bool complete = taskrun_status_pod_complete(pod);

    update_steps(c, pod, complete, task_results);
    update_sidecars(c, pod);
    if (complete) {
        if (pod_failed(pod)) {
            const char *reason = NULL;
            char *message = NULL;

            classify_failure(pod, steps, &reason, &message);
            if (str_is(str_at(annotations, "pipeline.tekton.dev/pipeline-task-on-error"),
                       "continue"))
                reason = "FailureIgnored";
            set_condition(c, "False", reason, message);
            free(message);
        } else {
            set_condition(c, "True", "Succeeded", "All Steps have completed executing");
        }
        json_object_set_new(c->st, "completionTime", json_string(c->now));
        json_object_set_new(c->st, "artifacts", json_object());
        if (json_array_size(task_results) > 0)
            json_object_set(c->st, "results", task_results);
        validate_results(c);
    } else if (str_is(phase, "Pending")) {
        pending_condition(c, pod);
    } else {
        set_condition(c, "Unknown", "Running", "Not all Steps in the Task have finished executing");
    }
    json_decref(steps);
    json_decref(task_results);
}

/* ---- fatal waiting reasons recorded by the previous pass (§3.8) ---- */

static bool fatal_waiting(struct plan_ctx *c)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *kind = pass == 0 ? "step" : "sidecar";
        size_t i;
        const json_t *e;

        json_array_foreach(json_object_get(c->st, pass == 0 ? "steps" : "sidecars"), i, e) {
            const json_t *w = json_object_get(e, "waiting");
            const char *reason = str_at(w, "reason");
            const char *m = str_at(w, "message") ? str_at(w, "message") : "";
            const char *name = str_at(e, "name") ? str_at(e, "name") : "";
            const char *image = str_at(e, "imageID") ? str_at(e, "imageID") : "";
            char *msg = NULL;
            const char *run_reason = NULL;

            if (str_is(reason, "ImagePullBackOff") || str_is(reason, "InvalidImageName")) {
                run_reason = "TaskRunImagePullFailed";
                msg = fmt("the %s \"%s\" in TaskRun \"%s\" failed to pull the image \"%s\". The "
                          "pod errored with the message: \"%s.\"",
                          kind, name, c->name, image, m);
            } else if (str_is(reason, "CreateContainerConfigError") ||
                       str_is(reason, "CreateContainerError")) {
                run_reason = str_is(reason, "CreateContainerError") ? "PodCreationFailed"
                                                                    : "CreateContainerConfigError";
                msg = fmt("the %s \"%s\" in TaskRun \"%s\" failed to start. The pod errored with "
                          "the message: \"%s.\"",
                          kind, name, c->name, m);
            }
            if (run_reason) {
                fail_run(c, run_reason, msg);
                free(msg);
                return true;
            }
        }
    }
    return false;
}

/* ---- retries (§3.7) ---- */

static void maybe_retry(struct plan_ctx *c)
{
    const json_t *spec = json_object_get(c->in->taskrun, "spec");
    json_int_t retries = json_integer_value(json_object_get(spec, "retries"));
    json_t *history = json_object_get(c->st, "retriesStatus");
    json_t *archived;
    char *message;

    if (!str_is(cond_field(c->st, "status"), "False") ||
        str_is(str_at(spec, "status"), "TaskRunCancelled"))
        return;
    if ((json_int_t)json_array_size(history) >= retries)
        return;
    archived = json_deep_copy(c->st);
    json_object_del(archived, "retriesStatus");
    if (!json_is_array(history)) {
        history = json_array();
        json_object_set_new(c->st, "retriesStatus", history);
    }
    json_array_append_new(history, archived);
    json_object_del(c->st, "startTime");
    json_object_del(c->st, "completionTime");
    json_object_del(c->st, "results");
    json_object_set_new(c->st, "podName", json_string(""));
    message = xstrdup(cond_field(c->st, "message") ? cond_field(c->st, "message") : "");
    set_condition(c, "Unknown", "ToBeRetried", message);
    free(message);
}

/* ---- the plan ---- */

bool taskrun_status_sidecars_ready(const json_t *pod)
{
    const json_t *status = json_object_get(pod, "status");
    size_t i;
    const json_t *cs;

    if (!str_is(str_at(status, "phase"), "Running"))
        return false;
    json_array_foreach(json_object_get(status, "containerStatuses"), i, cs) {
        const json_t *state = json_object_get(cs, "state");

        if (has_prefix(str_at(cs, "name"), "step-"))
            continue;
        if (json_object_get(state, "terminated"))
            continue;
        if (!json_object_get(state, "running") || !json_is_true(json_object_get(cs, "ready")))
            return false;
    }
    return true;
}

void taskrun_status_plan_done(struct taskrun_status_plan *plan)
{
    if (!plan)
        return;
    json_decref(plan->status);
    plan->status = NULL;
}

/* §3.2 step 1: the first pass of an attempt */
static void start_attempt(struct plan_ctx *c)
{
    const json_t *meta = json_object_get(c->in->taskrun, "metadata");
    const json_t *cond = taskrun_status_condition(c->st);
    time_t created;
    time_t start = c->in->now;
    char buf[21];

    /*
     * The Pod exists before the status says so when the first status write waited for its
     * start (taskrun.c): the attempt started when the pass that created it ran.
     */
    if (c->in->pod &&
        taskrun_status_parse_time(
            str_at(json_object_get(c->in->pod, "metadata"), "creationTimestamp"), &created) == 0 &&
        created < start)
        start = created;
    if (taskrun_status_parse_time(str_at(meta, "creationTimestamp"), &created) == 0 &&
        created > start)
        start = created; /* clock skew: never start before creation */
    taskrun_status_format_time(start, buf);
    json_object_set_new(c->st, "startTime", json_string(buf));
    if (!cond) {
        set_condition(c, "Unknown", "Started", "");
    } else if (str_is(str_at(cond, "status"), "Unknown")) {
        char *message = xstrdup(str_at(cond, "message") ? str_at(cond, "message") : "");

        set_condition(c, "Unknown", "Started", message);
        free(message);
    }
}

/* steps of the plan after start; returns when the status is decided for this pass */
static void plan_attempt(struct plan_ctx *c, int64_t timeout_ns)
{
    const struct taskrun_status_input *in = c->in;
    const json_t *spec = json_object_get(in->taskrun, "spec");
    const char *spec_status = str_at(spec, "status");
    time_t start;

    if (str_is(spec_status, "TaskRunCancelled")) {
        const char *extra = str_at(spec, "statusMessage");
        char *suffix = previous_status_suffix(c);
        char *msg = fmt("TaskRun \"%s\" was cancelled. %s%s", c->name, extra ? extra : "", suffix);

        fail_run(c, "TaskRunCancelled", msg);
        free(msg);
        free(suffix);
        return;
    }
    if (str_is(spec_status, "TaskRunPending")) {
        char *msg = fmt("TaskRun \"%s\" is pending", c->name);

        set_condition(c, "Unknown", "TaskRunPending", msg);
        free(msg);
        return;
    }
    if (timeout_ns > 0 && taskrun_status_parse_time(str_at(c->st, "startTime"), &start) == 0 &&
        (int64_t)(in->now - start) * 1000000000LL >= timeout_ns) {
        char d[48];
        char *suffix = previous_status_suffix(c);
        char *msg = fmt("TaskRun \"%s\" failed to finish within \"%s\"%s", c->name,
                        goduration_format(timeout_ns, d, sizeof(d)), suffix);

        if (in->pod)
            update_steps(c, in->pod, false, NULL);
        fail_run(c, "TaskRunTimeout", msg);
        free(msg);
        free(suffix);
        return;
    }
    if (fatal_waiting(c))
        return;
    if (in->fail_reason) {
        fail_run(c, in->fail_reason, in->fail_message ? in->fail_message : "");
        return;
    }
    if (!in->pod) {
        const char *pod_name = str_at(c->st, "podName");

        if (!pod_name || !*pod_name) {
            char *name =
                childname_pod(c->name, json_array_size(json_object_get(c->st, "retriesStatus")));

            json_object_set_new(c->st, "podName", json_string(name));
            free(name);
        }
        c->plan->create_pod = true;
        /* what the API server's answer to the create (phase Pending, no statuses) converts to */
        set_condition(c, "Unknown", "Pending", "Pending");
        return;
    }
    json_object_set(c->st, "podName",
                    json_object_get(json_object_get(in->pod, "metadata"), "name"));
    if (!str_is(str_at(json_object_get(json_object_get(in->pod, "metadata"), "annotations"),
                       "tekton.dev/ready"),
                "READY") &&
        taskrun_status_sidecars_ready(in->pod))
        c->plan->mark_ready = true;
    convert_pod(c, in->pod);
}

int taskrun_status_plan(const struct taskrun_status_input *in,
                        const struct taskrun_status_options *opts,
                        struct taskrun_status_plan *ret_plan)
{
    struct taskrun_status_plan plan = {0};
    struct plan_ctx c = {.in = in, .opts = opts, .plan = &plan};
    const json_t *tr = in ? in->taskrun : NULL;
    const json_t *old = json_object_get(tr, "status");
    const char *spec_status;
    int64_t timeout_ns = 0;
    time_t start;

    c.name = str_at(json_object_get(tr, "metadata"), "name");
    if (!json_is_object(tr) || !c.name || !*c.name)
        return -EINVAL;
    spec_status = str_at(json_object_get(tr, "spec"), "status");
    c.st = json_is_object(old) ? json_deep_copy(old) : json_object();
    plan.status = c.st;
    if (taskrun_status_condition(c.st))
        c.before = json_deep_copy(taskrun_status_condition(c.st));
    taskrun_status_format_time(in->now, c.now);
    if (taskrun_status_is_done(c.st)) {
        /* §3.2 step 2: nothing changes on a finished run */
        plan.done = true;
        json_decref(c.before);
        *ret_plan = plan;
        return 0;
    }
    if (!json_object_get(c.st, "podName"))
        json_object_set_new(c.st, "podName", json_string(""));
    if (in->taskspec)
        json_object_set(c.st, "taskSpec", unconst(in->taskspec));
    c.taskspec = in->taskspec ? in->taskspec : json_object_get(c.st, "taskSpec");

    if (!str_at(c.st, "startTime") && !str_is(spec_status, "TaskRunPending"))
        start_attempt(&c);
    if (podspec_timeout_ns(tr, opts->default_timeout_minutes, &timeout_ns) < 0) {
        char *msg = fmt("[User error] invalid spec.timeout of TaskRun \"%s\"", c.name);

        fail_run(&c, "TaskRunValidationFailed", msg);
        free(msg);
    } else {
        plan_attempt(&c, timeout_ns);
    }
    maybe_retry(&c);
    plan.done = taskrun_status_is_done(c.st);
    if (!plan.done && timeout_ns > 0 &&
        taskrun_status_parse_time(str_at(c.st, "startTime"), &start) == 0) {
        int64_t left = timeout_ns - (int64_t)(in->now - start) * 1000000000LL;

        plan.requeue_after_ns = left > 0 ? left : 1;
    }
    json_decref(c.before);
    *ret_plan = plan;
    return 0;
}
