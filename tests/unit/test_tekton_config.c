/* Unit tests for controller/tekton_config: defaults, every value type, bad values named. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/tekton_config.h"

static json_t *cm(const char *data_json)
{
    json_t *data = json_loads(data_json, 0, NULL);

    assert_non_null(data);
    return json_pack("{s:s, s:{s:s}, s:o}", "kind", "ConfigMap", "metadata", "name", "x", "data",
                     data);
}

static void test_tekton_config_parse_null_gives_tekton_defaults(void **state)
{
    struct tekton_config *c = NULL;
    char *err = NULL;

    assert_int_equal(tekton_config_parse(NULL, NULL, &c, &err), 0);
    assert_int_equal(c->default_timeout_minutes, 60);
    assert_string_equal(c->default_service_account, "default");
    assert_string_equal(c->default_managed_by_label_value, "tekton-pipelines");
    assert_null(c->default_pod_template);
    assert_int_equal(json_array_size(c->default_forbidden_env), 0);
    assert_string_equal(c->default_sidecar_log_polling_interval, "100ms");
    assert_int_equal(c->default_sidecar_log_polling_interval_ns, 100000000);
    assert_int_equal(c->default_step_ref_concurrency_limit, 5);
    assert_int_equal(c->enable_api_fields, TEKTON_API_FIELDS_BETA);
    assert_true(c->await_sidecar_readiness);
    assert_true(c->running_in_environment_with_injected_sidecars);
    assert_true(c->enable_provenance_in_status);
    assert_false(c->disable_creds_init);
    assert_false(c->keep_pod_on_cancel);
    assert_int_equal(c->results_from, TEKTON_RESULTS_FROM_TERMINATION_MESSAGE);
    assert_int_equal(c->max_result_size, 4096);
    assert_int_equal(c->coschedule, TEKTON_COSCHEDULE_WORKSPACES);
    assert_string_equal(c->trusted_resources_verification_no_match_policy, "ignore");
    tekton_config_free(c);
    tekton_config_free(NULL);
}

static void test_tekton_config_parse_reads_every_kind_of_value(void **state)
{
    json_t *d = cm("{\"default-timeout-minutes\":\"5\",\"default-service-account\":\"builder\","
                   "\"default-pod-template\":\"nodeSelector:\\n  disk: ssd\\n\","
                   "\"default-task-run-workspace-binding\":\"emptyDir: {}\","
                   "\"default-forbidden-env\":\" B , A,B\",\"default-resolver-type\":\"git\","
                   "\"default-imagepullbackoff-timeout\":\"1m30s\"}");
    json_t *f = cm("{\"enable-api-fields\":\"ALPHA\",\"await-sidecar-readiness\":\"False\","
                   "\"results-from\":\"sidecar-logs\",\"max-result-size\":\"8192\","
                   "\"coschedule\":\"disabled\",\"disable-inline-spec\":\"pipeline,taskrun\","
                   "\"keep-pod-on-cancel\":\"1\",\"enable-param-enum\":\"t\"}");
    struct tekton_config *c = NULL;
    char *err = NULL;

    assert_int_equal(tekton_config_parse(d, f, &c, &err), 0);
    assert_int_equal(c->default_timeout_minutes, 5);
    assert_string_equal(c->default_service_account, "builder");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(c->default_pod_template, "nodeSelector"), "disk")),
                        "ssd");
    assert_true(json_is_object(json_object_get(c->default_task_run_workspace_binding, "emptyDir")));
    assert_int_equal(json_array_size(c->default_forbidden_env), 2);
    assert_string_equal(json_string_value(json_array_get(c->default_forbidden_env, 0)), "A");
    assert_string_equal(c->default_resolver_type, "git");
    assert_int_equal(c->default_imagepullbackoff_timeout_ns, INT64_C(90000000000));
    assert_int_equal(c->enable_api_fields, TEKTON_API_FIELDS_ALPHA);
    assert_false(c->await_sidecar_readiness);
    assert_int_equal(c->results_from, TEKTON_RESULTS_FROM_SIDECAR_LOGS);
    assert_int_equal(c->max_result_size, 8192);
    assert_int_equal(c->coschedule, TEKTON_COSCHEDULE_DISABLED);
    assert_true(c->disable_inline_spec_taskrun);
    assert_true(c->disable_inline_spec_pipeline);
    assert_false(c->disable_inline_spec_pipelinerun);
    assert_true(c->keep_pod_on_cancel);
    assert_true(c->enable_param_enum);
    tekton_config_free(c);
    json_decref(d);
    json_decref(f);
}

static void test_tekton_config_parse_bad_values_name_key_and_value(void **state)
{
    static const struct {
        const char *name;
        const char *defaults;
        const char *flags;
        const char *want; /* substring of the message */
    } cases[] = {
        {"timeout not a number", "{\"default-timeout-minutes\":\"sixty\"}", "{}",
         "\"sixty\" for key \"default-timeout-minutes\" in config map \"config-defaults\""},
        {"timeout negative", "{\"default-timeout-minutes\":\"-1\"}", "{}",
         "default-timeout-minutes"},
        {"timeout trailing junk", "{\"default-timeout-minutes\":\"5m\"}", "{}", "\"5m\""},
        {"duration without unit", "{\"default-imagepullbackoff-timeout\":\"5\"}", "{}",
         "\"5\" for key \"default-imagepullbackoff-timeout\""},
        {"pod template not a mapping", "{\"default-pod-template\":\"- a\\n- b\"}", "{}",
         "key \"default-pod-template\""},
        {"pod template bad yaml", "{\"default-pod-template\":\"a: [\"}", "{}",
         "default-pod-template"},
        {"value not a string", "{\"default-service-account\":5}", "{}",
         "key \"default-service-account\" in config map \"config-defaults\": not a string"},
        {"boolean flag", "{}", "{\"await-sidecar-readiness\":\"maybe\"}",
         "\"maybe\" for key \"await-sidecar-readiness\" in config map \"feature-flags\": expected "
         "a "
         "boolean"},
        {"api fields", "{}", "{\"enable-api-fields\":\"gamma\"}",
         "\"gamma\" for key \"enable-api-fields\""},
        {"results-from", "{}", "{\"results-from\":\"files\"}",
         "\"files\" for key \"results-from\""},
        {"coschedule", "{}", "{\"coschedule\":\"always\"}", "key \"coschedule\""},
        {"nonfalsifiability", "{}", "{\"enforce-nonfalsifiability\":\"yes\"}",
         "enforce-nonfalsifiability"},
        {"max-result-size too big", "{}", "{\"max-result-size\":\"1572864\"}",
         "\"1572864\" for key \"max-result-size\""},
        {"max-result-size not a number", "{}", "{\"max-result-size\":\"big\"}", "\"big\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *d = cm(cases[i].defaults);
        json_t *f = cm(cases[i].flags);
        struct tekton_config *c = NULL;
        char *err = NULL;
        int r = tekton_config_parse(d, f, &c, &err);

        if (r != -EINVAL || c)
            fail_msg("case '%s': got %d, want -EINVAL and no config", cases[i].name, r);
        if (!err || !strstr(err, cases[i].want))
            fail_msg("case '%s': message '%s' lacks '%s'", cases[i].name, err ? err : "(null)",
                     cases[i].want);
        free(err);
        json_decref(d);
        json_decref(f);
    }
}

static void test_tekton_config_parse_data_not_an_object_is_einval(void **state)
{
    json_t *d = json_pack("{s:[]}", "data");
    struct tekton_config *c = NULL;
    char *err = NULL;

    assert_int_equal(tekton_config_parse(d, NULL, &c, &err), -EINVAL);
    assert_non_null(strstr(err, "config map \"config-defaults\""));
    free(err);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tekton_config_parse_null_gives_tekton_defaults),
        cmocka_unit_test(test_tekton_config_parse_reads_every_kind_of_value),
        cmocka_unit_test(test_tekton_config_parse_bad_values_name_key_and_value),
        cmocka_unit_test(test_tekton_config_parse_data_not_an_object_is_einval),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
