/*
 * Command selection and when-expression evaluation for a step. Runtime substitution of
 * $(steps.<s>.results.<r>) references is not done here (see docs/entrypoint.md).
 */
#include "controller/entrypoint/stepcmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/minijson.h"
#include "controller/entrypoint/stepsubst.h"

const char *stepcmd_platform(void)
{
#if defined(__x86_64__)
    return "linux/amd64";
#elif defined(__aarch64__)
    return "linux/arm64/v8";
#elif defined(__arm__)
    return "linux/arm/v7";
#elif defined(__i386__)
    return "linux/386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "linux/ppc64le";
#elif defined(__s390x__)
    return "linux/s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "linux/riscv64";
#else
    return "linux/unknown";
#endif
}

void stepcmd_free_argv(char **argv)
{
    if (!argv)
        return;
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static const struct minijson *lookup_platform(const struct minijson *root, const char *platform)
{
    const struct minijson *v = minijson_get(root, platform, false);
    const char *slash;
    char *shorter;

    if (v)
        return v;
    slash = strrchr(platform, '/');
    if (!slash)
        return NULL;
    shorter = estr_ndup(platform, (size_t)(slash - platform));
    v = minijson_get(root, shorter, false);
    free(shorter);
    return v;
}

int stepcmd_select(const char *json, const char *platform, char ***ret_argv, size_t *ret_argc,
                   struct estr *reterr)
{
    struct minijson *root = NULL;
    const struct minijson *cmd;
    char **argv = NULL;
    int r;

    r = minijson_parse(json, strlen(json), &root);
    if (r < 0 || root->kind != MINIJSON_OBJECT) {
        estr_append_str(reterr, "cannot parse TEKTON_PLATFORM_COMMANDS: not a JSON object");
        r = -EINVAL;
        goto out;
    }
    cmd = lookup_platform(root, platform);
    if (!cmd || cmd->kind == MINIJSON_NULL) {
        estr_printf(reterr, "could not find command for platform \"%s\"", platform);
        r = -ENOENT;
        goto out;
    }
    if (cmd->kind != MINIJSON_ARRAY) {
        estr_printf(reterr, "cannot parse TEKTON_PLATFORM_COMMANDS: \"%s\" is not an array",
                    platform);
        r = -EINVAL;
        goto out;
    }
    argv = estr_malloc(sizeof(char *) * (cmd->count + 1));
    argv[0] = NULL;
    for (size_t i = 0; i < cmd->count; i++) {
        if (!minijson_is_string(&cmd->items[i])) {
            estr_printf(reterr,
                        "cannot parse TEKTON_PLATFORM_COMMANDS: \"%s\"[%zu] is not a string",
                        platform, i);
            r = -EINVAL;
            goto out;
        }
        argv[i] = estr_dup(cmd->items[i].str);
        argv[i + 1] = NULL;
    }
    if (cmd->count == 0) {
        estr_printf(reterr, "could not find command for platform \"%s\"", platform);
        r = -ENOENT;
        goto out;
    }
    *ret_argv = argv;
    *ret_argc = cmd->count;
    argv = NULL;
    r = 0;
out:
    stepcmd_free_argv(argv);
    minijson_free(root);
    return r;
}

static int optional_string(const struct minijson *obj, const char *name, const char **ret)
{
    const struct minijson *v = minijson_get(obj, name, true);

    *ret = "";
    if (!v || v->kind == MINIJSON_NULL)
        return 0;
    if (v->kind != MINIJSON_STRING)
        return -EINVAL;
    *ret = v->str;
    return 0;
}

/* Whether 'input' is one of 'values' (strings), after step-result substitution. */
static bool input_in_values(const char *input, const struct minijson *values, const char *steps_dir,
                            struct estr *warnings)
{
    char **vals = NULL, **subst = NULL;
    size_t n = values ? values->count : 0, n_subst = 0;
    struct estr in;
    bool found = false;

    estr_init(&in);
    vals = estr_malloc((n + 1) * sizeof(char *));
    for (size_t j = 0; j < n; j++)
        vals[j] = values->items[j].str;
    vals[n] = NULL;
    if (steps_dir) {
        (void)stepsubst_string(input, steps_dir, &in, warnings);
        (void)stepsubst_argv(vals, n, steps_dir, &subst, &n_subst, warnings);
    } else {
        estr_append_str(&in, input);
    }
    for (size_t j = 0; j < (subst ? n_subst : n); j++) {
        if (strcmp(subst ? subst[j] : vals[j], estr_str(&in)) == 0)
            found = true;
    }
    stepcmd_free_argv(subst);
    free(vals);
    estr_done(&in);
    return found;
}

int stepcmd_when_allows(const char *json, const char *steps_dir, bool *ret_allowed,
                        struct estr *reterr)
{
    struct minijson *root = NULL;
    bool allowed = true;
    int r;

    if (json[0] == '\0') {
        *ret_allowed = true;
        return 0;
    }
    r = minijson_parse(json, strlen(json), &root);
    if (r < 0 || (root->kind != MINIJSON_ARRAY && root->kind != MINIJSON_NULL)) {
        estr_append_str(reterr, "cannot parse --when_expressions: not a JSON array");
        r = -EINVAL;
        goto out;
    }
    for (size_t i = 0; i < root->count; i++) {
        const struct minijson *we = &root->items[i];
        const struct minijson *values;
        const char *input, *operator, * cel;
        bool found = false;

        if (we->kind != MINIJSON_OBJECT || optional_string(we, "input", &input) < 0 ||
            optional_string(we, "operator", &operator) < 0 ||
            optional_string(we, "cel", &cel) < 0) {
            estr_printf(reterr, "cannot parse --when_expressions: entry %zu is malformed", i);
            r = -EINVAL;
            goto out;
        }
        if (cel[0] != '\0') {
            estr_printf(reterr,
                        "cannot evaluate --when_expressions entry %zu: CEL is not supported", i);
            r = -ENOTSUP;
            goto out;
        }
        values = minijson_get(we, "values", true);
        if (values && values->kind != MINIJSON_ARRAY && values->kind != MINIJSON_NULL) {
            estr_printf(reterr, "cannot parse --when_expressions: entry %zu values is not an array",
                        i);
            r = -EINVAL;
            goto out;
        }
        for (size_t j = 0; values && j < values->count; j++) {
            if (!minijson_is_string(&values->items[j])) {
                estr_printf(
                    reterr,
                    "cannot parse --when_expressions: entry %zu values[%zu] is not a string", i, j);
                r = -EINVAL;
                goto out;
            }
        }
        found = input_in_values(input, values, steps_dir, reterr);
        /* Tekton: "in" needs a match; every other operator is treated as "notin" */
        if (strcmp(operator, "in") == 0 ? !found : found)
            allowed = false;
    }
    *ret_allowed = allowed;
    r = 0;
out:
    minijson_free(root);
    return r;
}
