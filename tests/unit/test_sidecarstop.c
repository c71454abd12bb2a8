/* Unit tests for controller/sidecarstop: a finished TaskRun and its Pod -> patch and status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/sidecarstop.h"
#include "controller/taskrun_status.h"

#define NOP "reg/tektite/entrypoint@sha256:nop"

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s at %d:%d in %s", err.text, err.line, err.column, text);
    return v;
}

static void assert_json_equal_msg(const json_t *got, const json_t *want, const char *what)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_INDENT(2) | JSON_SORT_KEYS);

        print_error("%s\n--- got:\n%s\n--- want:\n%s\n", what, g ? g : "(null)", w ? w : "(null)");
        free(g);
        free(w);
        fail_msg("%s differs", what);
    }
}

#define COND(status, reason)                                                                       \
    "\"conditions\":[{\"type\":\"Succeeded\",\"status\":\"" status "\",\"reason\":\"" reason       \
    "\",\"lastTransitionTime\":\"2025-01-02T03:04:20Z\"}]"
#define SC_RUNNING                                                                                 \
    "{\"name\":\"db\",\"container\":\"sidecar-db\",\"imageID\":\"i\",\"running\":{"                \
    "\"startedAt\":\"2025-01-02T03:04:08Z\"}}"
#define SC_DONE                                                                                    \
    "{\"name\":\"db\",\"container\":\"sidecar-db\",\"imageID\":\"i\",\"terminated\":{"             \
    "\"exitCode\":0}}"
/* what the rebuild makes of CS_RESTARTED("sidecar-db") */
#define SC_STOPPED                                                                                 \
    "{\"name\":\"db\",\"container\":\"sidecar-db\",\"imageID\":\"n\",\"terminated\":{"             \
    "\"exitCode\":137,\"reason\":\"Completed\",\"message\":\"Sidecar container successfully "      \
    "stopped by nop image\",\"startedAt\":\"2025-01-02T03:04:08Z\",\"finishedAt\":"                \
    "\"2025-01-02T03:04:40Z\",\"containerID\":\"containerd://abc\"}}"
/* the kubelet's report of the nop-image start before it adds lastState */
#define SC_START_ERROR                                                                             \
    "{\"name\":\"db\",\"container\":\"sidecar-db\",\"imageID\":\"n\",\"terminated\":{"             \
    "\"exitCode\":128,\"reason\":\"StartError\"}}"
#define STATUS(cond, sidecars) "{\"podName\":\"demo-pod\"," cond ",\"sidecars\":[" sidecars "]}"

/* containers: step-a, sidecar-db (image postgres), istio-proxy (injected, image envoy) */
#define POD(phase, statuses)                                                                       \
    "{\"metadata\":{\"name\":\"demo-pod\"},\"spec\":{\"containers\":["                             \
    "{\"name\":\"step-a\",\"image\":\"alpine\"},{\"name\":\"sidecar-db\",\"image\":\"postgres\"}," \
    "{\"name\":\"istio-proxy\",\"image\":\"envoy\"}]},\"status\":{\"phase\":\"" phase              \
    "\",\"containerStatuses\":[" statuses "]}}"
#define CS_TERM(name)                                                                              \
    "{\"name\":\"" name "\",\"imageID\":\"i\",\"state\":{\"terminated\":{\"exitCode\":0}}}"
#define CS_RUN(name)                                                                               \
    "{\"name\":\"" name "\",\"imageID\":\"i\",\"state\":{\"running\":{\"startedAt\":"              \
    "\"2025-01-02T03:04:08Z\"}}}"
#define CS_RESTARTED(name)                                                                         \
    "{\"name\":\"" name "\",\"imageID\":\"n\",\"state\":{\"terminated\":{\"exitCode\":128,"        \
    "\"reason\":\"StartError\"}},\"lastState\":{\"terminated\":{\"exitCode\":137,\"reason\":"      \
    "\"Error\",\"startedAt\":\"2025-01-02T03:04:08Z\",\"finishedAt\":\"2025-01-02T03:04:40Z\","    \
    "\"containerID\":\"containerd://abc\"}}}"

static const char *const patch_db_at_1 =
    "[{\"op\":\"replace\",\"path\":\"/spec/containers/1/image\",\"value\":\"" NOP "\"}]";
static const char *const patch_db_and_proxy =
    "[{\"op\":\"replace\",\"path\":\"/spec/containers/1/image\",\"value\":\"" NOP "\"},"
    "{\"op\":\"replace\",\"path\":\"/spec/containers/2/image\",\"value\":\"" NOP "\"}]";

static void test_sidecarstop_plan_table(void **state)
{
    static const struct {
        const char *name;
        const char *status;
        const char *pod; /* NULL: no Pod in the cache */
        const char *want_patch;
        bool want_sidecars;
    } cases[] = {
        {"running run: sidecars are left alone", STATUS(COND("Unknown", "Running"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")), NULL, false},
        {"succeeded, sidecar running: patch its image",
         STATUS(COND("True", "Succeeded"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")), patch_db_at_1, false},
        {"failed run stops sidecars too", STATUS(COND("False", "StepFailed"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")), patch_db_at_1, false},
        {"an injected container without the prefix is stopped as well",
         STATUS(COND("True", "Succeeded"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db") "," CS_RUN("istio-proxy")),
         patch_db_and_proxy, true},
        {"a terminated sidecar needs no patch", STATUS(COND("True", "Succeeded"), SC_DONE),
         POD("Running", CS_TERM("step-a") "," CS_TERM("sidecar-db")), NULL, false},
        {"a step never gets the nop image", STATUS(COND("True", "Succeeded"), ""),
         POD("Running", CS_RUN("step-a")), NULL, false},
        {"cancelled: the fail routine deleted the Pod",
         STATUS(COND("False", "TaskRunCancelled"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")), NULL, false},
        {"timed out: same", STATUS(COND("False", "TaskRunTimeout"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")), NULL, false},
        {"no Pod in the cache", STATUS(COND("True", "Succeeded"), SC_RUNNING), NULL, NULL, false},
        {"Pod no longer Running: no patch, but the status catches up",
         STATUS(COND("True", "Succeeded"), SC_RUNNING),
         POD("Failed", CS_TERM("step-a") "," CS_RESTARTED("sidecar-db")), NULL, true},
        {"Pod still Running after the restart: status rebuilt",
         STATUS(COND("True", "Succeeded"), SC_RUNNING),
         POD("Running", CS_TERM("step-a") "," CS_RESTARTED("sidecar-db")), NULL, true},
        {"status already says what the Pod says: nothing to rewrite",
         STATUS(COND("True", "Succeeded"), SC_STOPPED),
         POD("Failed", CS_TERM("step-a") "," CS_RESTARTED("sidecar-db")), NULL, false},
        {"terminated entry written before the kubelet's lastState: rewritten",
         STATUS(COND("True", "Succeeded"), SC_START_ERROR),
         POD("Failed", CS_TERM("step-a") "," CS_RESTARTED("sidecar-db")), NULL, true},
        {"pod of another attempt (retry) is not touched",
         "{\"podName\":\"demo-pod-retry1\"," COND("True", "Succeeded") ",\"sidecars\":[" SC_RUNNING
                                                                       "]}",
         POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")), NULL, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *status = J(cases[i].status);
        json_t *pod = cases[i].pod ? J(cases[i].pod) : NULL;
        struct sidecarstop_plan plan;

        sidecarstop_plan(status, pod, NOP, &plan);
        if (cases[i].want_patch) {
            json_t *want = J(cases[i].want_patch);

            if (!plan.patch)
                fail_msg("case '%s': no patch, want one", cases[i].name);
            assert_json_equal_msg(plan.patch, want, cases[i].name);
            json_decref(want);
        } else if (plan.patch) {
            fail_msg("case '%s': unexpected patch", cases[i].name);
        }
        if ((plan.sidecars != NULL) != cases[i].want_sidecars)
            fail_msg("case '%s': sidecars %s, want %s", cases[i].name,
                     plan.sidecars ? "rebuilt" : "kept",
                     cases[i].want_sidecars ? "rebuilt" : "kept");
        sidecarstop_plan_done(&plan);
        json_decref(pod);
        json_decref(status);
    }
}

/* Already nop: a second pass while the kubelet restarts the container writes nothing. */
static void test_sidecarstop_plan_already_patched_container_is_not_patched_again(void **state)
{
    json_t *status = J(STATUS(COND("True", "Succeeded"), SC_RUNNING));
    json_t *pod = J(POD("Running", CS_TERM("step-a") "," CS_RUN("sidecar-db")));
    struct sidecarstop_plan plan;

    json_object_set_new(
        json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 1), "image",
        json_string(NOP));
    sidecarstop_plan(status, pod, NOP, &plan);
    assert_null(plan.patch);
    assert_null(plan.sidecars); /* still running: the rebuilt list equals the stored one */
    sidecarstop_plan_done(&plan);
    json_decref(pod);
    json_decref(status);
}

/* The rebuilt entry reports the stopped run as Tekton does, from lastState. */
static void test_sidecarstop_plan_rebuilds_stopped_sidecar_from_last_state(void **state)
{
    json_t *status = J(STATUS(COND("True", "Succeeded"), SC_RUNNING));
    json_t *pod = J(
        POD("Failed", CS_TERM("step-a") "," CS_RESTARTED("sidecar-db") "," CS_TERM("istio-proxy")));
    json_t *want = J("[{\"name\":\"db\",\"container\":\"sidecar-db\",\"imageID\":\"n\","
                     "\"terminated\":{\"exitCode\":137,\"reason\":\"Completed\",\"message\":"
                     "\"Sidecar container successfully stopped by nop image\",\"startedAt\":"
                     "\"2025-01-02T03:04:08Z\",\"finishedAt\":\"2025-01-02T03:04:40Z\","
                     "\"containerID\":\"containerd://abc\"}},"
                     "{\"name\":\"istio-proxy\",\"container\":\"istio-proxy\",\"imageID\":\"i\","
                     "\"terminated\":{\"exitCode\":0}}]");
    struct sidecarstop_plan plan;

    sidecarstop_plan(status, pod, NOP, &plan);
    assert_null(plan.patch);
    assert_json_equal_msg(plan.sidecars, want, "rebuilt sidecars");
    sidecarstop_plan_done(&plan);
    json_decref(want);
    json_decref(pod);
    json_decref(status);
}

static void test_sidecarstop_failed_status_overwrites_success(void **state)
{
    json_t *status = J(STATUS(COND("True", "Succeeded"), SC_RUNNING));
    json_t *got = sidecarstop_failed_status(status, "error stopping sidecars of TaskRun \"p\": x",
                                            1735787100); /* 2025-01-02T03:05:00Z */
    const json_t *cond = taskrun_status_condition(got);

    assert_non_null(cond);
    assert_string_equal(json_string_value(json_object_get(cond, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(cond, "reason")),
                        "TaskRunStopSidecarFailed");
    assert_string_equal(json_string_value(json_object_get(cond, "message")),
                        "error stopping sidecars of TaskRun \"p\": x");
    assert_string_equal(json_string_value(json_object_get(cond, "lastTransitionTime")),
                        "2025-01-02T03:05:00Z");
    assert_string_equal(json_string_value(json_object_get(got, "completionTime")),
                        "2025-01-02T03:05:00Z");
    assert_int_equal(json_array_size(json_object_get(got, "conditions")), 1);
    /* the input is untouched */
    assert_string_equal(
        json_string_value(json_object_get(taskrun_status_condition(status), "status")), "True");
    json_decref(got);
    json_decref(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sidecarstop_plan_table),
        cmocka_unit_test(test_sidecarstop_plan_already_patched_container_is_not_patched_again),
        cmocka_unit_test(test_sidecarstop_plan_rebuilds_stopped_sidecar_from_last_state),
        cmocka_unit_test(test_sidecarstop_failed_status_overwrites_success),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
