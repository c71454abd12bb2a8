/* Unit tests for controller/taskrun_status: scripted Pod states -> TaskRun status. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/taskrun_status.h"

#define FIXTURES "tests/unit/fixtures/status/"

static json_t *unconst(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u = {.c = v};

    return u.m;
}

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s at %d:%d in %s", err.text, err.line, err.column, text);
    return v;
}

static time_t T(const char *text)
{
    time_t t = 0;

    assert_int_equal(taskrun_status_parse_time(text, &t), 0);
    return t;
}

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
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

/* A running TaskRun "demo" of two steps a and b (one result "digest"), started 03:04:00. */
#define TASKSPEC                                                                                   \
    "\"taskSpec\":{\"results\":[{\"name\":\"digest\",\"type\":\"string\"},"                        \
    "{\"name\":\"list\",\"type\":\"array\"},{\"name\":\"obj\",\"type\":\"object\","                \
    "\"properties\":{\"k\":{\"type\":\"string\"}}}],"                                              \
    "\"steps\":[{\"name\":\"a\",\"image\":\"x\",\"results\":[{\"name\":\"sr\"}]},"                 \
    "{\"name\":\"b\",\"image\":\"x\"}]}"
#define RUNNING_COND                                                                               \
    "{\"type\":\"Succeeded\",\"status\":\"Unknown\",\"reason\":\"Running\",\"message\":"           \
    "\"Not all Steps in the Task have finished executing\",\"lastTransitionTime\":"                \
    "\"2025-01-02T03:04:08Z\"}"
#define TR_WITH(spec, status_extra, conds)                                                         \
    "{\"metadata\":{\"name\":\"demo\",\"namespace\":\"ci\",\"uid\":\"u\",\"creationTimestamp\":"   \
    "\"2025-01-02T03:03:59Z\"},\"spec\":{\"timeout\":\"1h0m0s\"" spec "},\"status\":{"             \
    "\"podName\":\"demo-pod\",\"startTime\":\"2025-01-02T03:04:00Z\",\"conditions\":[" conds       \
    "]," TASKSPEC status_extra "}}"
#define TR_RUNNING TR_WITH("", "", RUNNING_COND)

#define POD(phase, statuses, extra)                                                                \
    "{\"metadata\":{\"name\":\"demo-pod\"},\"spec\":{\"containers\":[{\"name\":\"step-a\"},"       \
    "{\"name\":\"step-b\"},{\"name\":\"sidecar-db\"}]},\"status\":{\"phase\":\"" phase             \
    "\",\"containerStatuses\":[" statuses "]" extra "}}"

#define TERM(name, code, reason, msg)                                                              \
    "{\"name\":\"" name "\",\"imageID\":\"img\",\"state\":{\"terminated\":{\"exitCode\":" #code    \
    ",\"reason\":\"" reason "\",\"message\":" msg ",\"startedAt\":\"2025-01-02T03:04:08Z\","       \
    "\"finishedAt\":\"2025-01-02T03:04:20Z\"}}}"
#define RUN(name)                                                                                  \
    "{\"name\":\"" name "\",\"imageID\":\"img\",\"ready\":true,\"state\":{\"running\":{"           \
    "\"startedAt\":\"2025-01-02T03:04:08Z\"}}}"
#define WAIT(name, reason, msg)                                                                    \
    "{\"name\":\"" name "\",\"imageID\":\"\",\"state\":{\"waiting\":{\"reason\":\"" reason         \
    "\",\"message\":\"" msg "\"}}}"

#define STARTED_ONLY                                                                               \
    "\"[{\\\"key\\\":\\\"StartedAt\\\",\\\"value\\\":\\\"2025-01-02T03:04:09.5Z\\\",\\\"type\\\":" \
    "3}]\""
#define NOW "2025-01-02T03:05:00Z"

static struct taskrun_status_options default_options(void)
{
    struct taskrun_status_options o = {.default_timeout_minutes = 60};

    return o;
}

static void plan(const char *tr_text, const char *pod_text, const struct taskrun_status_options *o,
                 const char *now, struct taskrun_status_plan *ret)
{
    json_t *tr = J(tr_text);
    json_t *pod = pod_text ? J(pod_text) : NULL;
    struct taskrun_status_input in = {.taskrun = tr, .pod = pod, .now = T(now)};

    assert_int_equal(taskrun_status_plan(&in, o, ret), 0);
    assert_non_null(ret->status);
    json_decref(pod);
    json_decref(tr);
}

static const json_t *cond(const struct taskrun_status_plan *p)
{
    const json_t *c = taskrun_status_condition(p->status);

    assert_non_null(c);
    return c;
}

/* a step entry's string field; "" when absent, so string asserts never see NULL */
static const char *step_field(const struct taskrun_status_plan *p, size_t i, const char *key)
{
    const char *s = str_at(json_array_get(json_object_get(p->status, "steps"), i), key);

    return s ? s : "";
}

/* ---- the table: Pod state -> condition ---- */

static void test_taskrun_status_condition_table(void **state)
{
    static const struct {
        const char *name;
        const char *tr;
        const char *pod;
        const char *status;
        const char *reason;
        const char *message;
        bool completion;
    } cases[] = {
        {"pod just created", TR_RUNNING, POD("Pending", "", ""), "Unknown", "Pending", "Pending",
         false},
        {"pending on a pod condition", TR_RUNNING,
         POD("Pending", WAIT("step-a", "PodInitializing", ""),
             ",\"conditions\":[{\"type\":\"Initialized\",\"status\":\"False\",\"message\":"
             "\"containers with incomplete status: [prepare]\"}]"),
         "Unknown", "Pending",
         "pod status \"Initialized\":\"False\"; message: \"containers with incomplete status: "
         "[prepare]\"",
         false},
        {"image pull backoff while pending", TR_RUNNING,
         POD("Pending", WAIT("step-a", "ImagePullBackOff", "Back-off pulling image nope"), ""),
         "Unknown", "PullImageFailed",
         "build step \"step-a\" is pending with reason \"Back-off pulling image nope\"", false},
        {"unschedulable for resources", TR_RUNNING,
         POD("Pending", "",
             ",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":"
             "\"Unschedulable\",\"message\":\"0/1 nodes are available: 1 Insufficient cpu.\"}]"),
         "Unknown", "ExceededNodeResources", "TaskRun Pod exceeded available resources", false},
        {"subPath creation is transient", TR_RUNNING,
         POD("Pending",
             WAIT("step-a", "CreateContainerConfigError",
                  "failed to create subPath directory for volumeMount"),
             ""),
         "Unknown", "Pending", "Waiting for subPath directory creation to complete", false},
        {"config error fails without completion", TR_RUNNING,
         POD("Pending", WAIT("step-a", "CreateContainerConfigError", "secret \\\"s\\\" not found"),
             ""),
         "False", "CreateContainerConfigError", "Failed to create pod due to config error", false},
        {"running", TR_RUNNING, POD("Running", RUN("step-a") "," RUN("step-b"), ""), "Unknown",
         "Running", "Not all Steps in the Task have finished executing", false},
        {"all steps succeeded, sidecar still running", TR_RUNNING,
         POD("Running",
             TERM("step-a", 0, "Completed", STARTED_ONLY) "," TERM(
                 "step-b", 0, "Completed", STARTED_ONLY) "," RUN("sidecar-db"),
             ""),
         "True", "Succeeded", "All Steps have completed executing", true},
        {"step failed, next skipped", TR_RUNNING,
         POD("Failed",
             TERM("step-a", 1, "Error", STARTED_ONLY) "," TERM(
                 "step-b", 1, "Error",
                 "\"[{\\\"key\\\":\\\"Reason\\\",\\\"value\\\":\\\"Skipped\\\",\\\"type\\\":3}]\""),
             ""),
         "False", "StepFailed", "\"step-a\" exited with code 1: Error", true},
        {"step failed without reason", TR_RUNNING,
         POD("Failed", TERM("step-a", 0, "Completed", "\"\"") "," TERM("step-b", 2, "", "\"\""),
             ""),
         "False", "StepFailed", "\"step-b\" exited with code 2", true},
        {"oom completes early", TR_RUNNING,
         POD("Running", TERM("step-a", 137, "OOMKilled", "\"\"") "," RUN("step-b"), ""), "False",
         "StepOOM", "\"step-a\" exited with code 137: OOMKilled", true},
        {"sidecar failure outranks step failure", TR_RUNNING,
         POD("Failed",
             TERM("step-a", 1, "Error", "\"\"") "," TERM("step-b", 1, "Error", "\"\"") "," TERM(
                 "sidecar-db", 3, "Error", "\"\""),
             ""),
         "False", "SidecarFailed", "\"sidecar-db\" exited with code 3: Error", true},
        {"step timeout", TR_RUNNING,
         POD("Failed",
             TERM("step-a", 1, "Error",
                  "\"[{\\\"key\\\":\\\"Reason\\\",\\\"value\\\":\\\"TimeoutExceeded\\\","
                  "\\\"type\\\":3}]\"") "," TERM("step-b", 1, "Error", "\"\""),
             ""),
         "False", "StepFailed",
         "\"step-a\" exited because the step exceeded the specified timeout limit", true},
        {"evicted", TR_RUNNING,
         POD("Failed", RUN("step-a"),
             ",\"reason\":\"Evicted\",\"message\":\"The node was low on resource: memory.\""),
         "False", "PodEvicted", "The node was low on resource: memory.", true},
        {"init container failed", TR_RUNNING,
         POD("Failed", WAIT("step-a", "PodInitializing", ""),
             ",\"initContainerStatuses\":[" TERM("prepare", 1, "Error", "\"\"") "]"),
         "False", "InitContainerFailed",
         "init container failed, \"prepare\" exited with code 1: "
         "Error",
         true},
        {"failed pod without container detail", TR_RUNNING,
         POD("Failed", RUN("step-a"), ",\"message\":\"Pod was active on the node longer\""),
         "False", "Failed", "Pod was active on the node longer", true},
        {"failed pod without any detail", TR_RUNNING, POD("Failed", RUN("step-a"), ""), "False",
         "Failed", "build failed for unspecified reasons.", true},
    };
    struct taskrun_status_options o = default_options();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct taskrun_status_plan p = {0};
        const json_t *c;

        plan(cases[i].tr, cases[i].pod, &o, NOW, &p);
        c = cond(&p);
        if (strcmp(str_at(c, "status"), cases[i].status) != 0 ||
            strcmp(str_at(c, "reason"), cases[i].reason) != 0 ||
            strcmp(str_at(c, "message") ? str_at(c, "message") : "", cases[i].message) != 0)
            fail_msg("case '%s': got %s/%s/'%s', want %s/%s/'%s'", cases[i].name,
                     str_at(c, "status"), str_at(c, "reason"), str_at(c, "message"),
                     cases[i].status, cases[i].reason, cases[i].message);
        if ((json_object_get(p.status, "completionTime") != NULL) != cases[i].completion)
            fail_msg("case '%s': completionTime presence wrong", cases[i].name);
        if (strcmp(str_at(c, "status"), "Unknown") != 0 && !p.done)
            fail_msg("case '%s': final condition but not done", cases[i].name);
        if (p.delete_pod || p.create_pod)
            fail_msg("case '%s': pod conversion must not create or delete pods", cases[i].name);
        taskrun_status_plan_done(&p);
    }
}

static void test_taskrun_status_failure_ignored_by_pipeline_annotation(void **state)
{
    const char *tr =
        "{\"metadata\":{\"name\":\"demo\",\"annotations\":{"
        "\"pipeline.tekton.dev/pipeline-task-on-error\":\"continue\"}},\"spec\":{},\"status\":{"
        "\"podName\":\"demo-pod\",\"startTime\":\"2025-01-02T03:04:00Z\"}}";
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan(tr, POD("Failed", TERM("step-a", 1, "Error", "\"\""), ""), &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "status"), "False");
    assert_string_equal(str_at(cond(&p), "reason"), "FailureIgnored");
    assert_string_equal(str_at(cond(&p), "message"), "\"step-a\" exited with code 1: Error");
    taskrun_status_plan_done(&p);
}

/* ---- golden: the spec's successful status ---- */

static void test_taskrun_status_succeeded_matches_golden(void **state)
{
    json_t *tr = json_load_file(FIXTURES "succeeded/taskrun.json", 0, NULL);
    json_t *pod = json_load_file(FIXTURES "succeeded/pod.json", 0, NULL);
    json_t *want = json_load_file(FIXTURES "succeeded/status.json", 0, NULL);
    struct taskrun_status_input in = {.taskrun = tr, .pod = pod, .now = T("2025-01-02T03:04:21Z")};
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    assert_non_null(tr);
    assert_non_null(pod);
    assert_non_null(want);
    assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
    assert_json_equal_msg(p.status, want, "succeeded status");
    assert_true(p.done);
    assert_false(p.mark_ready);
    assert_false(p.bad_message);
    assert_int_equal(p.requeue_after_ns, 0);
    assert_true(taskrun_status_changed(json_object_get(tr, "status"), p.status));
    taskrun_status_plan_done(&p);

    /* a finished run plans to exactly the status it has: nothing to write */
    json_object_set(tr, "status", want);
    in.now = T("2025-01-02T05:00:00Z");
    assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
    assert_false(taskrun_status_changed(want, p.status));
    assert_true(p.done);
    taskrun_status_plan_done(&p);
    json_decref(want);
    json_decref(pod);
    json_decref(tr);
}

/* ---- results ---- */

static void test_taskrun_status_results_typed_and_deduplicated(void **state)
{
    /* step a reports digest twice (last wins), list, obj, sr and an undeclared quoted value;
     * step b re-reports digest with a new value: position of first, value of last */
#define MSG_A                                                                                      \
    "\"[{\\\"key\\\":\\\"digest\\\",\\\"value\\\":\\\"old\\\",\\\"type\\\":1},"                    \
    "{\\\"key\\\":\\\"list\\\",\\\"value\\\":\\\"[\\\\\\\"a\\\\\\\",\\\\\\\"b\\\\\\\"]\\\","       \
    "\\\"type\\\":1},"                                                                             \
    "{\\\"key\\\":\\\"obj\\\",\\\"value\\\":\\\"{\\\\\\\"k\\\\\\\":\\\\\\\"v\\\\\\\"}\\\","        \
    "\\\"type\\\":1},"                                                                             \
    "{\\\"key\\\":\\\"extra\\\",\\\"value\\\":\\\"\\\\\\\"x\\\\\\\"\\\",\\\"type\\\":1},"          \
    "{\\\"key\\\":\\\"sr\\\",\\\"value\\\":\\\"step-value\\\",\\\"type\\\":4},"                    \
    "{\\\"key\\\":\\\"ExitCode\\\",\\\"value\\\":\\\"3\\\",\\\"type\\\":3},"                       \
    "{\\\"key\\\":\\\"StartedAt\\\",\\\"value\\\":\\\"2025-01-02T04:04:09.5+01:00\\\","            \
    "\\\"type\\\":\\\"InternalTektonResult\\\"}]\""
#define MSG_B "\"[{\\\"key\\\":\\\"digest\\\",\\\"value\\\":\\\"new\\\",\\\"type\\\":1}]\""
    json_t *want_results = J("[{\"name\":\"digest\",\"type\":\"string\",\"value\":\"new\"},"
                             "{\"name\":\"extra\",\"type\":\"string\",\"value\":\"x\"},"
                             "{\"name\":\"list\",\"type\":\"array\",\"value\":[\"a\",\"b\"]},"
                             "{\"name\":\"obj\",\"type\":\"object\",\"value\":{\"k\":\"v\"}}]");
    json_t *want_step_results =
        J("[{\"name\":\"sr\",\"type\":\"string\",\"value\":\"step-value\"}]");
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};
    const json_t *a;
    const json_t *term;
    json_t *visible;

    plan(TR_RUNNING,
         POD("Succeeded",
             TERM("step-a", 0, "Completed", MSG_A) "," TERM("step-b", 0, "Completed", MSG_B), ""),
         &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "reason"), "Succeeded");
    assert_json_equal_msg(json_object_get(p.status, "results"), want_results, "task results");
    a = json_array_get(json_object_get(p.status, "steps"), 0);
    assert_json_equal_msg(json_object_get(a, "results"), want_step_results, "step results");
    /* onError: continue: the real exit code comes from the message */
    assert_string_equal(str_at(a, "terminationReason"), "Continued");
    term = json_object_get(a, "terminated");
    assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 3);
    assert_string_equal(str_at(term, "startedAt"), "2025-01-02T03:04:09Z");
    /* the message keeps only non-internal entries, sorted by key, deduplicated */
    visible = J(str_at(term, "message"));
    assert_int_equal(json_array_size(visible), 5);
    assert_string_equal(str_at(json_array_get(visible, 0), "key"), "digest");
    assert_string_equal(str_at(json_array_get(visible, 4), "key"), "sr");
    json_decref(visible);
    taskrun_status_plan_done(&p);
    json_decref(want_step_results);
    json_decref(want_results);
}

static void test_taskrun_status_results_only_when_done(void **state)
{
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan(TR_RUNNING, POD("Running", TERM("step-a", 0, "Completed", MSG_B) "," RUN("step-b"), ""),
         &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "reason"), "Running");
    assert_null(json_object_get(p.status, "results"));
    assert_null(json_object_get(p.status, "completionTime"));
    assert_string_equal(step_field(&p, 0, "terminationReason"), "Completed");
    assert_non_null(
        json_object_get(json_array_get(json_object_get(p.status, "steps"), 1), "running"));
    /* one hour from the start, minus the minute gone */
    assert_true(p.requeue_after_ns == 59LL * 60 * 1000000000LL);
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_result_type_mismatch_fails_validation(void **state)
{
#define MSG_BAD                                                                                    \
    "\"[{\\\"key\\\":\\\"list\\\",\\\"value\\\":\\\"not-json\\\",\\\"type\\\":1},"                 \
    "{\\\"key\\\":\\\"digest\\\",\\\"value\\\":\\\"[\\\\\\\"raw\\\\\\\"]\\\",\\\"type\\\":1}]\""
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};
    const json_t *results;

    plan(TR_RUNNING,
         POD("Succeeded",
             TERM("step-a", 0, "Completed", MSG_BAD) "," TERM("step-b", 0, "Completed", "\"\""),
             ""),
         &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "status"), "False");
    assert_string_equal(str_at(cond(&p), "reason"), "TaskRunValidationFailed");
    assert_string_equal(str_at(cond(&p), "message"),
                        "[User error] Provided results don't match declared results; may be "
                        "invalid JSON or missing result declaration:  \"list\": task result is "
                        "expected to be \"array\" type but was initialized to a different type "
                        "\"string\"");
    /* the mismatched result is dropped; a declared string stays raw even if it looks like JSON */
    results = json_object_get(p.status, "results");
    assert_int_equal(json_array_size(results), 1);
    assert_string_equal(str_at(json_array_get(results, 0), "value"), "[\"raw\"]");
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_object_result_missing_keys_fails_validation(void **state)
{
#define MSG_OBJ                                                                                    \
    "\"[{\\\"key\\\":\\\"obj\\\",\\\"value\\\":\\\"{\\\\\\\"other\\\\\\\":\\\\\\\"v\\\\\\\"}\\\"," \
    "\\\"type\\\":1}]\""
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan(TR_RUNNING,
         POD("Succeeded",
             TERM("step-a", 0, "Completed", MSG_OBJ) "," TERM("step-b", 0, "Completed", "\"\""),
             ""),
         &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "reason"), "TaskRunValidationFailed");
    assert_string_equal(str_at(cond(&p), "message"),
                        "[User error] missing keys for these results which are required in "
                        "TaskResult's properties map[obj:[k]]");
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_malformed_and_oversized_messages_lose_results(void **state)
{
    static const struct {
        const char *name;
        const char *pod;
        const char *reason;
        const char *message;
    } cases[] = {
        {"malformed message",
         POD("Succeeded",
             TERM("step-a", 0, "Completed", "\"not json\"") "," TERM("step-b", 0, "Completed",
                                                                     "\"\""),
             ""),
         "Succeeded", "All Steps have completed executing"},
        /* kubelet cut a message past 4096 bytes: unparsable; the step itself exited 1 */
        {"truncated oversized message",
         POD("Failed",
             TERM(
                 "step-a", 1, "Error",
                 "\"[{\\\"key\\\":\\\"digest\\\",\\\"value\\\":\\\"aaaaaaaaaaaaaaaa\"") "," TERM("s"
                                                                                                 "t"
                                                                                                 "e"
                                                                                                 "p"
                                                                                                 "-"
                                                                                                 "b",
                                                                                                 1,
                                                                                                 "E"
                                                                                                 "r"
                                                                                                 "r"
                                                                                                 "o"
                                                                                                 "r",
                                                                                                 "\"\""),
             ""),
         "StepFailed", "\"step-a\" exited with code 1: Error"},
    };
    struct taskrun_status_options o = default_options();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct taskrun_status_plan p = {0};
        const json_t *term;

        plan(TR_RUNNING, cases[i].pod, &o, NOW, &p);
        if (!p.bad_message)
            fail_msg("case '%s': bad message not reported", cases[i].name);
        assert_string_equal(str_at(cond(&p), "reason"), cases[i].reason);
        assert_string_equal(str_at(cond(&p), "message"), cases[i].message);
        assert_null(json_object_get(p.status, "results"));
        /* the raw message stays visible and the container reason stands in */
        term = json_object_get(json_array_get(json_object_get(p.status, "steps"), 0), "terminated");
        assert_non_null(str_at(term, "message"));
        assert_string_equal(step_field(&p, 0, "terminationReason"), str_at(term, "reason"));
        taskrun_status_plan_done(&p);
    }
}

static void test_taskrun_status_termination_reason_table(void **state)
{
    static const struct {
        const char *name;
        const char *step_a;
        const char *want; /* "" = no terminationReason */
        int exit_code;
    } cases[] = {
        {"completed", TERM("step-a", 0, "Completed", STARTED_ONLY), "Completed", 0},
        {"error", TERM("step-a", 1, "Error", STARTED_ONLY), "Error", 1},
        {"skipped after a failure",
         TERM("step-a", 1, "Error",
              "\"[{\\\"key\\\":\\\"Reason\\\",\\\"value\\\":\\\"Skipped\\\",\\\"type\\\":3}]\""),
         "Skipped", 1},
        {"step timeout",
         TERM("step-a", 1, "Error",
              "\"[{\\\"key\\\":\\\"Reason\\\",\\\"value\\\":\\\"TimeoutExceeded\\\","
              "\\\"type\\\":3}]\""),
         "TimeoutExceeded", 1},
        {"onError continue",
         TERM("step-a", 0, "Completed",
              "\"[{\\\"key\\\":\\\"ExitCode\\\",\\\"value\\\":\\\"7\\\",\\\"type\\\":3}]\""),
         "Continued", 7},
        {"no termination message", TERM("step-a", 137, "OOMKilled", "\"\""), "", 137},
    };
    struct taskrun_status_options o = default_options();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct taskrun_status_plan p = {0};
        char *pod = NULL;
        const json_t *term;

        if (asprintf(&pod, POD("Running", "%s," RUN("step-b"), ""), cases[i].step_a) < 0)
            fail();
        plan(TR_RUNNING, pod, &o, NOW, &p);
        if (strcmp(step_field(&p, 0, "terminationReason"), cases[i].want) != 0)
            fail_msg("case '%s': got '%s'", cases[i].name, step_field(&p, 0, "terminationReason"));
        term = json_object_get(json_array_get(json_object_get(p.status, "steps"), 0), "terminated");
        if (json_integer_value(json_object_get(term, "exitCode")) != cases[i].exit_code)
            fail_msg("case '%s': exit code %lld", cases[i].name,
                     (long long)json_integer_value(json_object_get(term, "exitCode")));
        /* internal entries never show in the message */
        assert_null(json_object_get(term, "message"));
        taskrun_status_plan_done(&p);
        free(pod);
    }
}

/* ---- run-level transitions ---- */

static void test_taskrun_status_new_run_starts_and_asks_for_its_pod(void **state)
{
    const char *tr = "{\"metadata\":{\"name\":\"demo\",\"creationTimestamp\":"
                     "\"2025-01-02T03:03:59Z\"},\"spec\":{}}";
    json_t *ts = J("{\"steps\":[{\"image\":\"x\"}]}");
    json_t *trj = J(tr);
    struct taskrun_status_input in = {.taskrun = trj, .taskspec = ts, .now = T(NOW)};
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
    assert_true(p.create_pod);
    assert_false(p.done);
    assert_string_equal(str_at(p.status, "podName"), "demo-pod");
    assert_string_equal(str_at(p.status, "startTime"), NOW);
    assert_string_equal(str_at(cond(&p), "reason"), "Pending");
    assert_string_equal(str_at(cond(&p), "lastTransitionTime"), NOW);
    assert_json_equal_msg(json_object_get(p.status, "taskSpec"), ts, "stored taskSpec");
    assert_true(p.requeue_after_ns == 3600LL * 1000000000LL);
    taskrun_status_plan_done(&p);
    json_decref(trj);
    json_decref(ts);
}

static void test_taskrun_status_spec_pending_has_no_start(void **state)
{
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan("{\"metadata\":{\"name\":\"demo\"},\"spec\":{\"status\":\"TaskRunPending\"}}", NULL, &o,
         NOW, &p);
    assert_string_equal(str_at(cond(&p), "status"), "Unknown");
    assert_string_equal(str_at(cond(&p), "reason"), "TaskRunPending");
    assert_string_equal(str_at(cond(&p), "message"), "TaskRun \"demo\" is pending");
    assert_null(json_object_get(p.status, "startTime"));
    assert_false(p.create_pod);
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_cancel_messages_and_pod_handling(void **state)
{
    static const struct {
        const char *name;
        const char *tr;
        bool keep;
        const char *message;
    } cases[] = {
        {"no status message keeps the trailing space",
         TR_WITH(",\"status\":\"TaskRunCancelled\"", "", RUNNING_COND), false,
         "TaskRun \"demo\" was cancelled. "},
        {"status message appended",
         TR_WITH(",\"status\":\"TaskRunCancelled\",\"statusMessage\":\"by user\"", "",
                 RUNNING_COND),
         true, "TaskRun \"demo\" was cancelled. by user"},
        {"previous pending status appended",
         TR_WITH(",\"status\":\"TaskRunCancelled\"", "",
                 "{\"type\":\"Succeeded\",\"status\":\"Unknown\",\"reason\":\"Pending\","
                 "\"message\":\"Pending\"}"),
         false, "TaskRun \"demo\" was cancelled. \nPrevious status: [Pending] Pending"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct taskrun_status_options o = default_options();
        struct taskrun_status_plan p = {0};

        o.keep_pod_on_cancel = cases[i].keep;
        plan(cases[i].tr,
             POD("Running", RUN("step-a") "," WAIT("step-b", "PodInitializing", ""), ""), &o, NOW,
             &p);
        if (strcmp(str_at(cond(&p), "message"), cases[i].message) != 0)
            fail_msg("case '%s': got '%s'", cases[i].name, str_at(cond(&p), "message"));
        assert_string_equal(str_at(cond(&p), "reason"), "TaskRunCancelled");
        assert_string_equal(str_at(p.status, "completionTime"), NOW);
        assert_int_equal(p.delete_pod, !cases[i].keep);
        assert_int_equal(p.cancel_pod, cases[i].keep);
        assert_true(p.done);
        /* a cancel does not wait for or read the Pod's state */
        assert_null(json_object_get(p.status, "steps"));
        taskrun_status_plan_done(&p);
    }
}

static void test_taskrun_status_cancel_rewrites_recorded_steps(void **state)
{
    const char *tr = TR_WITH(",\"status\":\"TaskRunCancelled\"",
                             ",\"steps\":[{\"name\":\"a\",\"container\":\"step-a\","
                             "\"running\":{\"startedAt\":\"2025-01-02T03:04:08Z\"}},"
                             "{\"name\":\"b\",\"container\":\"step-b\",\"waiting\":{"
                             "\"reason\":\"PodInitializing\"}}]",
                             RUNNING_COND);
    json_t *want_a = J("{\"exitCode\":1,\"reason\":\"TaskRunCancelled\",\"message\":\"Step a "
                       "terminated as pod demo-pod is terminated\",\"startedAt\":"
                       "\"2025-01-02T03:04:08Z\",\"finishedAt\":\"" NOW "\"}");
    json_t *want_b = J("{\"exitCode\":1,\"reason\":\"TaskRunCancelled\",\"message\":\"Step b "
                       "terminated as pod demo-pod is terminated\",\"startedAt\":"
                       "\"2025-01-02T03:03:59Z\",\"finishedAt\":\"" NOW "\"}");
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};
    const json_t *steps;

    plan(tr, NULL, &o, NOW, &p);
    steps = json_object_get(p.status, "steps");
    assert_json_equal_msg(json_object_get(json_array_get(steps, 0), "terminated"), want_a,
                          "running step");
    assert_json_equal_msg(json_object_get(json_array_get(steps, 1), "terminated"), want_b,
                          "waiting step");
    assert_null(json_object_get(json_array_get(steps, 0), "running"));
    assert_string_equal(step_field(&p, 1, "terminationReason"), "TaskRunCancelled");
    assert_false(p.create_pod);
    taskrun_status_plan_done(&p);
    json_decref(want_b);
    json_decref(want_a);
}

static void test_taskrun_status_timeout(void **state)
{
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan(TR_RUNNING,
         POD("Running", TERM("step-a", 0, "Completed", STARTED_ONLY) "," RUN("step-b"), ""), &o,
         "2025-01-02T05:04:00Z", &p);
    assert_string_equal(str_at(cond(&p), "status"), "False");
    assert_string_equal(str_at(cond(&p), "reason"), "TaskRunTimeout");
    assert_string_equal(str_at(cond(&p), "message"),
                        "TaskRun \"demo\" failed to finish within \"1h0m0s\"");
    assert_true(p.delete_pod);
    /* steps refreshed from the Pod first: a stays Completed, b is cut off */
    assert_string_equal(step_field(&p, 0, "terminationReason"), "Completed");
    assert_string_equal(step_field(&p, 1, "terminationReason"), "TaskRunTimeout");
    taskrun_status_plan_done(&p);

    /* spec.timeout 0 never times out and schedules no deadline */
    plan(TR_WITH(",\"timeout\":\"0s\"", "", RUNNING_COND),
         POD("Running", RUN("step-a") "," RUN("step-b"), ""), &o, "2026-01-02T05:04:00Z", &p);
    assert_string_equal(str_at(cond(&p), "reason"), "Running");
    assert_int_equal(p.requeue_after_ns, 0);
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_fatal_image_pull_recorded_last_pass(void **state)
{
    const char *tr = TR_WITH("",
                             ",\"steps\":[{\"name\":\"a\",\"container\":\"step-a\",\"imageID\":"
                             "\"\",\"waiting\":{\"reason\":\"ImagePullBackOff\",\"message\":"
                             "\"Back-off pulling image nope\"}}]",
                             "{\"type\":\"Succeeded\",\"status\":\"Unknown\",\"reason\":"
                             "\"PullImageFailed\",\"message\":\"x\"}");
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan(tr, POD("Pending", WAIT("step-a", "ImagePullBackOff", "Back-off pulling image nope"), ""),
         &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "reason"), "TaskRunImagePullFailed");
    assert_string_equal(str_at(cond(&p), "message"),
                        "the step \"a\" in TaskRun \"demo\" failed to pull the image \"\". The pod "
                        "errored with the message: \"Back-off pulling image nope.\"");
    assert_true(p.delete_pod);
    assert_string_equal(
        str_at(json_object_get(json_array_get(json_object_get(p.status, "steps"), 0), "terminated"),
               "startedAt"),
        "2025-01-02T03:03:59Z");
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_retry_archives_and_renames_pod(void **state)
{
    const char *tr = TR_WITH(",\"retries\":1", "", RUNNING_COND);
    json_t *trj;
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};
    struct taskrun_status_plan p2 = {0};
    struct taskrun_status_input in = {0};
    const json_t *archived;

    plan(tr, POD("Failed", TERM("step-a", 1, "Error", "\"\""), ""), &o, NOW, &p);
    assert_string_equal(str_at(cond(&p), "status"), "Unknown");
    assert_string_equal(str_at(cond(&p), "reason"), "ToBeRetried");
    assert_string_equal(str_at(cond(&p), "message"), "\"step-a\" exited with code 1: Error");
    assert_string_equal(str_at(p.status, "podName"), "");
    assert_null(json_object_get(p.status, "startTime"));
    assert_null(json_object_get(p.status, "completionTime"));
    assert_false(p.done);
    archived = json_array_get(json_object_get(p.status, "retriesStatus"), 0);
    assert_string_equal(str_at(taskrun_status_condition(archived), "reason"), "StepFailed");
    assert_string_equal(str_at(archived, "podName"), "demo-pod");
    assert_null(json_object_get(archived, "retriesStatus"));

    /* the next pass starts attempt 1 with a new Pod name */
    trj = J(tr);
    json_object_set(trj, "status", p.status);
    in.taskrun = trj;
    in.now = T("2025-01-02T03:06:00Z");
    assert_int_equal(taskrun_status_plan(&in, &o, &p2), 0);
    assert_true(p2.create_pod);
    assert_string_equal(str_at(p2.status, "podName"), "demo-pod-retry1");
    assert_string_equal(str_at(p2.status, "startTime"), "2025-01-02T03:06:00Z");
    taskrun_status_plan_done(&p2);

    /* with the retry used up the failure is final */
    json_object_set_new(trj, "status", json_deep_copy(p.status));
    json_object_set_new(json_object_get(trj, "status"), "podName", json_string("demo-pod-retry1"));
    json_object_set_new(json_object_get(trj, "status"), "startTime",
                        json_string("2025-01-02T03:06:00Z"));
    assert_int_equal(taskrun_status_plan(&in, &o, &p2), 0);
    taskrun_status_plan_done(&p2);
    {
        json_t *pod = J(POD("Failed", TERM("step-a", 1, "Error", "\"\""), ""));

        in.pod = pod;
        assert_int_equal(taskrun_status_plan(&in, &o, &p2), 0);
        assert_string_equal(str_at(cond(&p2), "reason"), "StepFailed");
        assert_true(p2.done);
        taskrun_status_plan_done(&p2);
        json_decref(pod);
    }
    json_decref(trj);
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_cancelled_run_is_never_retried(void **state)
{
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    plan(TR_WITH(",\"retries\":3,\"status\":\"TaskRunCancelled\"", "", RUNNING_COND), NULL, &o, NOW,
         &p);
    assert_string_equal(str_at(cond(&p), "reason"), "TaskRunCancelled");
    assert_null(json_object_get(p.status, "retriesStatus"));
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_external_failure_and_transition_time(void **state)
{
    json_t *tr = J(TR_RUNNING);
    struct taskrun_status_input in = {
        .taskrun = tr,
        .now = T(NOW),
        .fail_reason = "PodCreationFailed",
        .fail_message = "failed to create task run pod \"demo\": boom. Maybe invalid TaskSpec",
    };
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
    assert_string_equal(str_at(cond(&p), "reason"), "PodCreationFailed");
    assert_string_equal(str_at(cond(&p), "message"), in.fail_message);
    assert_string_equal(str_at(cond(&p), "lastTransitionTime"), NOW);
    taskrun_status_plan_done(&p);

    /* an unchanged condition keeps its lastTransitionTime */
    {
        json_t *pod = J(POD("Running", RUN("step-a") "," RUN("step-b"), ""));

        in.fail_reason = NULL;
        in.pod = pod;
        assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
        assert_string_equal(str_at(cond(&p), "lastTransitionTime"), "2025-01-02T03:04:08Z");
        taskrun_status_plan_done(&p);
        json_decref(pod);
    }
    json_decref(tr);
}

static void test_taskrun_status_sidecars_and_ready_annotation(void **state)
{
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};
    const json_t *sc;
    json_t *pod;

    plan(TR_RUNNING, POD("Running", RUN("step-a") "," RUN("step-b") "," RUN("sidecar-db"), ""), &o,
         NOW, &p);
    assert_true(p.mark_ready);
    sc = json_array_get(json_object_get(p.status, "sidecars"), 0);
    assert_string_equal(str_at(sc, "name"), "db");
    assert_string_equal(str_at(sc, "container"), "sidecar-db");
    assert_non_null(json_object_get(sc, "running"));
    taskrun_status_plan_done(&p);

    /* sidecars are listed in Pod spec order, whatever order the kubelet reports */
    plan(TR_RUNNING,
         "{\"metadata\":{\"name\":\"demo-pod\"},\"spec\":{\"containers\":[{\"name\":"
         "\"step-a\"},{\"name\":\"sidecar-z\"},{\"name\":\"sidecar-b\"}]},\"status\":{"
         "\"phase\":\"Running\",\"containerStatuses\":[" RUN("sidecar-b") "," RUN(
             "sidecar-z") "," RUN("step-a") "]}}",
         &o, NOW, &p);
    assert_string_equal(str_at(json_array_get(json_object_get(p.status, "sidecars"), 0), "name"),
                        "z");
    assert_string_equal(str_at(json_array_get(json_object_get(p.status, "sidecars"), 1), "name"),
                        "b");
    taskrun_status_plan_done(&p);

    /* a sidecar not ready yet holds the annotation back */
    pod = J(POD(
        "Running",
        RUN("step-a") ",{\"name\":\"sidecar-db\",\"ready\":false,\"state\":{\"running\":{}}}", ""));
    assert_false(taskrun_status_sidecars_ready(pod));
    json_decref(pod);
    /* already annotated: nothing to patch */
    plan(TR_RUNNING,
         "{\"metadata\":{\"name\":\"demo-pod\",\"annotations\":{\"tekton.dev/ready\":\"READY\"}},"
         "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[" RUN("step-a") "]}}",
         &o, NOW, &p);
    assert_false(p.mark_ready);
    taskrun_status_plan_done(&p);
}

static void test_taskrun_status_time_parse_and_format(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"2025-01-02T03:04:05Z", "2025-01-02T03:04:05Z"},
        {"2025-01-02T03:04:05.678Z", "2025-01-02T03:04:05Z"},
        {"2025-01-02T04:04:05+01:00", "2025-01-02T03:04:05Z"},
        {"2025-01-01T23:04:05.1-04:00", "2025-01-02T03:04:05Z"},
    };
    static const char *const bad[] = {"", "2025-01-02", "2025-01-02T03:04:05",
                                      "2025-01-02T03:04:05Zx", "2025-01-02T03:04:05.Z"};
    time_t t;
    char buf[21];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (taskrun_status_parse_time(cases[i].in, &t) != 0)
            fail_msg("case '%s' rejected", cases[i].in);
        taskrun_status_format_time(t, buf);
        if (strcmp(buf, cases[i].out) != 0)
            fail_msg("case '%s': got '%s'", cases[i].in, buf);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (taskrun_status_parse_time(bad[i], &t) == 0)
            fail_msg("case '%s' accepted", bad[i]);
    }
}

static void test_taskrun_status_rejects_taskrun_without_name(void **state)
{
    json_t *tr = J("{\"metadata\":{}}");
    struct taskrun_status_input in = {.taskrun = tr, .now = T(NOW)};
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    assert_int_equal(taskrun_status_plan(&in, &o, &p), -EINVAL);
    assert_null(p.status);
    json_decref(tr);
    (void)unconst;
}

static void test_taskrun_status_hostile_shapes_never_crash(void **state)
{
    static const struct {
        const char *tr;
        const char *pod;
    } cases[] = {
        {"{\"metadata\":{\"name\":\"x\"},\"status\":[]}", NULL},
        {"{\"metadata\":{\"name\":\"x\"},\"spec\":[],\"status\":{\"conditions\":\"c\"}}", "[]"},
        {"{\"metadata\":{\"name\":\"x\",\"creationTimestamp\":5},\"spec\":{\"timeout\":3,"
         "\"retries\":\"2\"},\"status\":{\"startTime\":\"garbage\",\"conditions\":[1,{\"type\":"
         "\"Succeeded\",\"status\":7}],\"steps\":[1,{\"waiting\":{\"reason\":"
         "\"ImagePullBackOff\"}}]}}",
         NULL},
        {TR_RUNNING,
         "{\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[1,{\"name\":"
         "\"step-\"},{\"name\":\"step-a\",\"state\":{\"terminated\":\"t\"}},{\"name\":"
         "\"step-b\",\"state\":{\"terminated\":{\"exitCode\":\"1\",\"message\":"
         "\"[1,{\\\"key\\\":3},{\\\"type\\\":\\\"Weird\\\",\\\"value\\\":\\\"v\\\"}]\"}}}],"
         "\"initContainerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":2}}}]}}"},
        {TR_RUNNING, "{\"spec\":{\"containers\":\"c\"},\"status\":{\"phase\":\"Pending\","
                     "\"conditions\":[1,{\"reason\":\"Unschedulable\",\"message\":5}],"
                     "\"containerStatuses\":[{\"name\":\"step-a\",\"state\":{\"waiting\":{"
                     "\"reason\":\"CreateContainerConfigError\",\"message\":[]}}}]}}"},
        {TR_RUNNING,
         "{\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":"
         "\"step-a\",\"state\":{\"terminated\":{\"exitCode\":0,\"message\":"
         "\"[{\\\"key\\\":\\\"list\\\",\\\"value\\\":\\\"[1,2]\\\",\\\"type\\\":1},"
         "{\\\"key\\\":\\\"ExitCode\\\",\\\"value\\\":\\\"x\\\",\\\"type\\\":3},"
         "{\\\"key\\\":\\\"StartedAt\\\",\\\"value\\\":\\\"never\\\",\\\"type\\\":3}]\"}}}]}}"},
    };
    struct taskrun_status_options o = default_options();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct taskrun_status_plan p = {0};
        json_t *tr = J(cases[i].tr);
        json_t *pod = cases[i].pod ? J(cases[i].pod) : NULL;
        struct taskrun_status_input in = {.taskrun = tr, .pod = pod, .now = T(NOW)};

        if (taskrun_status_plan(&in, &o, &p) == 0 && !json_is_object(p.status))
            fail_msg("case %zu: success without a status", i);
        taskrun_status_plan_done(&p);
        json_decref(pod);
        json_decref(tr);
    }
}

/*
 * A first status written after the Pod exists (taskrun.c waits for the Pod's start) still
 * starts when the Pod was created, and says what the Pod says, not Pending.
 */
static void test_taskrun_status_start_from_existing_pod(void **state)
{
    json_t *trj = J("{\"metadata\":{\"name\":\"demo\",\"creationTimestamp\":"
                    "\"2025-01-02T03:03:59Z\"},\"spec\":{}}");
    json_t *ts = J("{\"steps\":[{\"name\":\"a\",\"image\":\"x\"}]}");
    json_t *pod =
        J("{\"metadata\":{\"name\":\"demo-pod\",\"creationTimestamp\":"
          "\"2025-01-02T03:04:00Z\",\"annotations\":{\"tekton.dev/ready\":\"READY\"}},"
          "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":"
          "\"step-a\",\"state\":{\"running\":{\"startedAt\":\"2025-01-02T03:04:02Z\"}}}]}}");
    struct taskrun_status_input in = {.taskrun = trj, .taskspec = ts, .pod = pod, .now = T(NOW)};
    struct taskrun_status_options o = default_options();
    struct taskrun_status_plan p = {0};

    assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
    assert_false(p.create_pod);
    assert_string_equal(str_at(p.status, "startTime"), "2025-01-02T03:04:00Z");
    assert_string_equal(str_at(p.status, "podName"), "demo-pod");
    assert_string_equal(str_at(cond(&p), "reason"), "Running");
    taskrun_status_plan_done(&p);

    /* a Pod stamped before its TaskRun (clock skew) never moves the start before creation */
    json_object_set_new(json_object_get(pod, "metadata"), "creationTimestamp",
                        json_string("2025-01-02T03:00:00Z"));
    assert_int_equal(taskrun_status_plan(&in, &o, &p), 0);
    assert_string_equal(str_at(p.status, "startTime"), "2025-01-02T03:03:59Z");
    taskrun_status_plan_done(&p);
    json_decref(pod);
    json_decref(ts);
    json_decref(trj);
}

/* Which Pod updates can change the plan: the rest cost no reconcile pass. */
static void test_taskrun_status_pod_inputs_equal_table(void **state)
{
#define RUNNING_CS "\"containerStatuses\":[{\"name\":\"step-a\",\"state\":{\"running\":{}}}]"
    static const struct {
        const char *a, *b;
        bool equal;
    } rows[] = {
        /* a Running Pod's conditions and IPs: not read */
        {"{\"status\":{\"phase\":\"Running\"," RUNNING_CS "}}",
         "{\"status\":{\"phase\":\"Running\"," RUNNING_CS ",\"podIP\":\"10.0.0.1\","
         "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
         true},
        /* a Pending Pod's conditions feed its Pending message */
        {"{\"status\":{\"phase\":\"Pending\"}}",
         "{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\"}]}}",
         false},
        {"{\"status\":{\"phase\":\"Pending\"}}", "{\"status\":{\"phase\":\"Running\"}}", false},
        {"{\"status\":{\"phase\":\"Running\"," RUNNING_CS "}}",
         "{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"step-a\","
         "\"state\":{\"terminated\":{\"exitCode\":0}}}]}}",
         false},
        /* the ready annotation alone (our own patch) */
        {"{\"metadata\":{\"annotations\":{\"x\":\"1\"}}}",
         "{\"metadata\":{\"annotations\":{\"x\":\"1\",\"tekton.dev/ready\":\"READY\"}}}", true},
        {"{\"metadata\":{}}", "{\"metadata\":{\"annotations\":{\"tekton.dev/ready\":\"READY\"}}}",
         true},
        {"{\"metadata\":{\"annotations\":{\"x\":\"1\"}}}",
         "{\"metadata\":{\"annotations\":{\"x\":\"2\"}}}", false},
        {"{\"metadata\":{}}", "{\"metadata\":{\"annotations\":{\"x\":\"1\"}}}", false},
        {"{\"metadata\":{}}", "{\"metadata\":{\"deletionTimestamp\":\"t\"}}", false},
        /* a sidecar's image replaced by the nop image */
        {"{\"spec\":{\"containers\":[{\"name\":\"s\",\"image\":\"a\"}]}}",
         "{\"spec\":{\"containers\":[{\"name\":\"s\",\"image\":\"nop\"}]}}", false},
        {"{\"spec\":{\"containers\":[{\"name\":\"s\",\"image\":\"a\"}]}}",
         "{\"spec\":{\"containers\":[{\"name\":\"s\",\"image\":\"a\",\"x\":1}]}}", true},
        {"{}", "{}", true},
    };
#undef RUNNING_CS

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *a = J(rows[i].a);
        json_t *b = J(rows[i].b);

        if (taskrun_status_pod_inputs_equal(a, b) != rows[i].equal)
            fail_msg("row %zu: expected %s", i, rows[i].equal ? "equal" : "different");
        json_decref(a);
        json_decref(b);
    }
}

/* Routine Pending progress is gathered for longer; trouble is not routine. */
static void test_taskrun_status_pod_pending_routine_table(void **state)
{
    static const struct {
        const char *pod;
        bool routine;
    } rows[] = {
        {"{\"status\":{\"phase\":\"Pending\"}}", true},
        {"{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
         "\"status\":\"True\"}],\"initContainerStatuses\":[{\"name\":\"prepare\",\"state\":"
         "{\"terminated\":{\"exitCode\":0}}}],\"containerStatuses\":[{\"name\":\"step-a\","
         "\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
         true},
        {"{\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"step-a\","
         "\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}",
         true},
        {"{\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"step-a\","
         "\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}}",
         false},
        {"{\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"prepare\","
         "\"state\":{\"terminated\":{\"exitCode\":1}}}]}}",
         false},
        {"{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
         "\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}",
         false},
        {"{\"status\":{\"phase\":\"Running\"}}", false},
        {"{}", false},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *pod = J(rows[i].pod);

        if (taskrun_status_pod_pending_routine(pod) != rows[i].routine)
            fail_msg("row %zu: expected %s", i, rows[i].routine ? "routine" : "not routine");
        json_decref(pod);
    }
}

/* The run's outcome is known when the steps have ended, before the Pod's phase follows. */
static void test_taskrun_status_pod_complete_table(void **state)
{
    static const struct {
        const char *pod;
        bool complete;
    } rows[] = {
        {"{\"status\":{\"phase\":\"Succeeded\"}}", true},
        {"{\"status\":{\"phase\":\"Failed\"}}", true},
        {"{\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
         "{\"name\":\"step-a\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
         "{\"name\":\"sidecar-s\",\"state\":{\"running\":{}}}]}}",
         true},
        {"{\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
         "{\"name\":\"step-a\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
         "{\"name\":\"step-b\",\"state\":{\"running\":{}}}]}}",
         false},
        {"{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[]}}", false},
        {"{\"status\":{\"phase\":\"Pending\",\"containerStatuses\":["
         "{\"name\":\"step-a\",\"state\":{\"terminated\":{\"exitCode\":0}}}]}}",
         false},
        {"{}", false},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *pod = J(rows[i].pod);

        assert_int_equal(taskrun_status_pod_complete(pod), rows[i].complete);
        json_decref(pod);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taskrun_status_condition_table),
        cmocka_unit_test(test_taskrun_status_failure_ignored_by_pipeline_annotation),
        cmocka_unit_test(test_taskrun_status_succeeded_matches_golden),
        cmocka_unit_test(test_taskrun_status_results_typed_and_deduplicated),
        cmocka_unit_test(test_taskrun_status_results_only_when_done),
        cmocka_unit_test(test_taskrun_status_result_type_mismatch_fails_validation),
        cmocka_unit_test(test_taskrun_status_object_result_missing_keys_fails_validation),
        cmocka_unit_test(test_taskrun_status_malformed_and_oversized_messages_lose_results),
        cmocka_unit_test(test_taskrun_status_termination_reason_table),
        cmocka_unit_test(test_taskrun_status_new_run_starts_and_asks_for_its_pod),
        cmocka_unit_test(test_taskrun_status_spec_pending_has_no_start),
        cmocka_unit_test(test_taskrun_status_cancel_messages_and_pod_handling),
        cmocka_unit_test(test_taskrun_status_cancel_rewrites_recorded_steps),
        cmocka_unit_test(test_taskrun_status_timeout),
        cmocka_unit_test(test_taskrun_status_fatal_image_pull_recorded_last_pass),
        cmocka_unit_test(test_taskrun_status_retry_archives_and_renames_pod),
        cmocka_unit_test(test_taskrun_status_cancelled_run_is_never_retried),
        cmocka_unit_test(test_taskrun_status_external_failure_and_transition_time),
        cmocka_unit_test(test_taskrun_status_sidecars_and_ready_annotation),
        cmocka_unit_test(test_taskrun_status_time_parse_and_format),
        cmocka_unit_test(test_taskrun_status_rejects_taskrun_without_name),
        cmocka_unit_test(test_taskrun_status_hostile_shapes_never_crash),
        cmocka_unit_test(test_taskrun_status_pod_complete_table),
        cmocka_unit_test(test_taskrun_status_start_from_existing_pod),
        cmocka_unit_test(test_taskrun_status_pod_inputs_equal_table),
        cmocka_unit_test(test_taskrun_status_pod_pending_routine_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
