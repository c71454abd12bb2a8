/* Unit tests for controller/events: which Event a condition change makes, and its object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/events.h"

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s at %d:%d in %s", err.text, err.line, err.column, text);
    return v;
}

#define C(status, reason, msg, ltt)                                                                \
    "{\"type\":\"Succeeded\",\"status\":\"" status "\",\"reason\":\"" reason                       \
    "\",\"message\":\"" msg "\",\"lastTransitionTime\":\"" ltt "\"}"

static void test_events_plan_table(void **state)
{
    static const struct {
        const char *name;
        const char *before; /* NULL: no condition */
        const char *after;
        const char *want_type; /* NULL: no Event */
        const char *want_reason;
        const char *want_message;
    } cases[] = {
        {"first condition: Started, empty message", NULL, C("Unknown", "Pending", "Pending", "t1"),
         "Normal", "Started", ""},
        {"Pending -> Running", C("Unknown", "Pending", "Pending", "t1"),
         C("Unknown", "Running", "Not all Steps in the Task have finished executing", "t2"),
         "Normal", "Running", "Not all Steps in the Task have finished executing"},
        {"same reason, new message", C("Unknown", "Pending", "Pending", "t1"),
         C("Unknown", "Pending", "pod status \\\"Initialized\\\":\\\"False\\\"", "t2"), "Normal",
         "Pending", "pod status \"Initialized\":\"False\""},
        {"unchanged: no Event", C("Unknown", "Running", "m", "t1"),
         C("Unknown", "Running", "m", "t1"), NULL, NULL, NULL},
        {"succeeded", C("Unknown", "Running", "m", "t1"),
         C("True", "Succeeded", "All Steps have completed executing", "t2"), "Normal", "Succeeded",
         "All Steps have completed executing"},
        {"failed: Warning Failed with the message", C("Unknown", "Running", "m", "t1"),
         C("False", "StepFailed", "\\\"step-a\\\" exited with code 1", "t2"), "Warning", "Failed",
         "\"step-a\" exited with code 1"},
        {"failed before any condition (PodCreationFailed)", NULL,
         C("False", "PodCreationFailed", "failed to create task run pod", "t1"), "Warning",
         "Failed", "failed to create task run pod"},
        {"retry: back to Unknown", C("False", "StepFailed", "x", "t1"),
         C("Unknown", "ToBeRetried", "x", "t2"), "Normal", "ToBeRetried", "x"},
        {"no condition after: nothing", C("Unknown", "Running", "m", "t1"), NULL, NULL, NULL, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *before = cases[i].before ? J(cases[i].before) : NULL;
        json_t *after = cases[i].after ? J(cases[i].after) : NULL;
        struct events_event ev = {0};
        bool due = events_plan(before, after, &ev);

        if (due != (cases[i].want_type != NULL))
            fail_msg("case '%s': event %s, want %s", cases[i].name, due ? "due" : "none",
                     cases[i].want_type ? "one" : "none");
        if (due && (strcmp(ev.type, cases[i].want_type) != 0 ||
                    strcmp(ev.reason, cases[i].want_reason) != 0 ||
                    strcmp(ev.message, cases[i].want_message) != 0))
            fail_msg("case '%s': got %s/%s/'%s', want %s/%s/'%s'", cases[i].name, ev.type,
                     ev.reason, ev.message, cases[i].want_type, cases[i].want_reason,
                     cases[i].want_message);
        json_decref(before);
        json_decref(after);
    }
}

/* A first status past the start gets Started before its own Event; others as events_plan. */
static void test_events_plan_all_table(void **state)
{
    static const struct {
        const char *name;
        const char *before;
        const char *after;
        int want_n;
        const char *want_reasons[2];
    } cases[] = {
        {"first condition Running: Started, then Running",
         NULL,
         C("Unknown", "Running", "Not all Steps", "t1"),
         2,
         {"Started", "Running"}},
        {"first condition Succeeded: Started, then Succeeded",
         NULL,
         C("True", "Succeeded", "done", "t1"),
         2,
         {"Started", "Succeeded"}},
        {"first condition Pending: Started only",
         NULL,
         C("Unknown", "Pending", "Pending", "t1"),
         1,
         {"Started", NULL}},
        {"first condition a failure: Failed only",
         NULL,
         C("False", "PodCreationFailed", "m", "t1"),
         1,
         {"Failed", NULL}},
        {"later change: one Event",
         C("Unknown", "Pending", "Pending", "t1"),
         C("Unknown", "Running", "m", "t2"),
         1,
         {"Running", NULL}},
        {"unchanged: none",
         C("Unknown", "Running", "m", "t1"),
         C("Unknown", "Running", "m", "t1"),
         0,
         {NULL, NULL}},
        {"no condition: none", NULL, NULL, 0, {NULL, NULL}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *before = cases[i].before ? J(cases[i].before) : NULL;
        json_t *after = cases[i].after ? J(cases[i].after) : NULL;
        struct events_event evs[2] = {{0}};
        int n = events_plan_all(before, after, evs);

        if (n != cases[i].want_n)
            fail_msg("case '%s': %d Events, want %d", cases[i].name, n, cases[i].want_n);
        for (int k = 0; k < n; k++) {
            if (strcmp(evs[k].reason, cases[i].want_reasons[k]) != 0)
                fail_msg("case '%s': Event %d is %s, want %s", cases[i].name, k, evs[k].reason,
                         cases[i].want_reasons[k]);
        }
        if (n == 2 && (strcmp(evs[0].message, "") != 0 || strcmp(evs[0].type, "Normal") != 0))
            fail_msg("case '%s': Started is %s/'%s'", cases[i].name, evs[0].type, evs[0].message);
        json_decref(before);
        json_decref(after);
    }
}

static void test_events_object_is_a_core_v1_event_like_client_go_makes(void **state)
{
    json_t *run = J("{\"metadata\":{\"name\":\"build\",\"namespace\":\"ci\",\"uid\":\"u-1\","
                    "\"resourceVersion\":\"42\"}}");
    struct events_event ev = {"Warning", "Failed", "boom"};
    /* 2025-01-02T03:05:00Z plus 5 ns */
    json_t *got = events_object(run, "tekton.dev/v1", "TaskRun", "TaskRun", &ev,
                                1735787100LL * 1000000000LL + 5);
    json_t *want = J("{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":"
                     "\"build.1816c12bbd349805\",\"namespace\":\"ci\"},\"involvedObject\":{"
                     "\"apiVersion\":\"tekton.dev/v1\",\"kind\":\"TaskRun\",\"name\":\"build\","
                     "\"namespace\":\"ci\",\"uid\":\"u-1\",\"resourceVersion\":\"42\"},"
                     "\"reason\":\"Failed\",\"message\":\"boom\",\"type\":\"Warning\","
                     "\"source\":{\"component\":\"TaskRun\"},\"firstTimestamp\":"
                     "\"2025-01-02T03:05:00Z\",\"lastTimestamp\":\"2025-01-02T03:05:00Z\","
                     "\"count\":1,\"eventTime\":null,\"reportingComponent\":\"\","
                     "\"reportingInstance\":\"\"}");

    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);

        fail_msg("event object: %s", g);
    }
    json_decref(want);
    json_decref(got);
    json_decref(run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_plan_table),
        cmocka_unit_test(test_events_plan_all_table),
        cmocka_unit_test(test_events_object_is_a_core_v1_event_like_client_go_makes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
