/*
 * Step-mode command line of the entrypoint, compatible with Tekton's flag set (tools parse
 * the Pod spec, so the flags are an interface). Only parsing lives here: whether a value
 * makes sense (on_error, negative timeout) is decided by the step runner.
 */
#include "controller/entrypoint/stepflags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/entrypoint/estr.h"

enum kind { KIND_STRING, KIND_BOOL, KIND_DURATION, KIND_IGNORED, KIND_CREDENTIAL };

struct flagdef {
    const char *name;
    enum kind kind;
    size_t offset;  /* of the field in struct stepflags */
    size_t offset2; /* KIND_DURATION: the has_ field */
};

#define STR(n, field)                                                                              \
    {                                                                                              \
        n, KIND_STRING, offsetof(struct stepflags, field), 0                                       \
    }
#define BOOL(n, field)                                                                             \
    {                                                                                              \
        n, KIND_BOOL, offsetof(struct stepflags, field), 0                                         \
    }

static const struct flagdef flagdefs[] = {
    STR("entrypoint", entrypoint),
    STR("wait_file", wait_file),
    BOOL("wait_file_content", wait_file_content),
    STR("post_file", post_file),
    STR("termination_path", termination_path),
    STR("step_metadata_dir", step_metadata_dir),
    STR("results", results),
    STR("step_results", step_results),
    STR("when_expressions", when_expressions),
    {"timeout", KIND_DURATION, offsetof(struct stepflags, timeout_ns),
     offsetof(struct stepflags, has_timeout)},
    STR("stdout_path", stdout_path),
    STR("stderr_path", stderr_path),
    BOOL("breakpoint_on_failure", breakpoint_on_failure),
    BOOL("debug_before_step", debug_before_step),
    STR("on_error", on_error),
    STR("result_from", result_from),
    BOOL("compress_termination_message", compress_termination_message),
    BOOL("enable_spire", enable_spire),
    /* accepted so that Pods built by other tools keep working; their effect is not ours */
    {"spire_socket_path", KIND_IGNORED, 0, 0},
    {"secret_mask_file", KIND_IGNORED, 0, 0},
    {"basic-git", KIND_CREDENTIAL, 0, 0},
    {"ssh-git", KIND_CREDENTIAL, 0, 0},
    {"basic-docker", KIND_CREDENTIAL, 0, 0},
    {"docker-config", KIND_CREDENTIAL, 0, 0},
    {"docker-cfg", KIND_CREDENTIAL, 0, 0},
};

void stepflags_init(struct stepflags *f)
{
    memset(f, 0, sizeof(*f));
    f->entrypoint = "";
    f->wait_file = "";
    f->post_file = "";
    f->termination_path = "/tekton/termination";
    f->step_metadata_dir = "";
    f->results = "";
    f->step_results = "";
    f->when_expressions = "";
    f->stdout_path = "";
    f->stderr_path = "";
    f->on_error = "";
    f->result_from = "termination-message";
}

void stepflags_done(struct stepflags *f)
{
    free(f->positional);
    free(f->command_args);
    free(f->credential_args);
    f->credential_args = NULL;
    f->credential_flags = 0;
    f->positional = NULL;
    f->command_args = NULL;
    f->n_positional = 0;
    f->n_command_args = 0;
}

int stepflags_parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

#define LIMIT (UINT64_C(1) << 63)

/* Go's leadingInt: consume digits; -ERANGE past 1<<63. */
static int leading_int(const char **s, uint64_t *ret)
{
    uint64_t x = 0;
    const char *p = *s;

    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > LIMIT / 10)
            return -ERANGE;
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > LIMIT)
            return -ERANGE;
    }
    *s = p;
    *ret = x;
    return 0;
}

/* Go's leadingFraction: digits after the point; precision beyond uint64 is dropped. */
static void leading_fraction(const char **s, uint64_t *ret_x, double *ret_scale)
{
    uint64_t x = 0;
    double scale = 1;
    bool overflow = false;
    const char *p = *s;

    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t y;

        if (overflow)
            continue;
        if (x > (LIMIT - 1) / 10) {
            overflow = true;
            continue;
        }
        y = x * 10 + (uint64_t)(*p - '0');
        if (y > LIMIT) {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10;
    }
    *s = p;
    *ret_x = x;
    *ret_scale = scale;
}

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", UINT64_C(60) * 1000000000},
    {"h", UINT64_C(3600) * 1000000000},
};

int stepflags_parse_duration(const char *s, int64_t *ret_ns)
{
    uint64_t d = 0;
    bool neg = false;

    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *ret_ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -EINVAL;
    while (*s != '\0') {
        uint64_t v = 0, f = 0, unit = 0;
        double scale = 1;
        const char *start;
        bool pre, post = false;
        size_t i, u;
        int r;

        if (!(*s == '.' || (*s >= '0' && *s <= '9')))
            return -EINVAL;
        start = s;
        r = leading_int(&s, &v);
        if (r < 0)
            return r;
        pre = s != start;
        if (*s == '.') {
            s++;
            start = s;
            leading_fraction(&s, &f, &scale);
            post = s != start;
        }
        if (!pre && !post)
            return -EINVAL;
        for (i = 0; s[i] != '\0' && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'); i++)
            ;
        if (i == 0)
            return -EINVAL; /* missing unit */
        for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            if (strlen(units[u].name) == i && memcmp(units[u].name, s, i) == 0) {
                unit = units[u].ns;
                break;
            }
        }
        if (unit == 0)
            return -EINVAL; /* unknown unit */
        s += i;
        if (v > LIMIT / unit)
            return -ERANGE;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > LIMIT)
                return -ERANGE;
        }
        d += v;
        if (d > LIMIT)
            return -ERANGE;
    }
    if (neg) {
        *ret_ns = d == LIMIT ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > LIMIT - 1)
        return -ERANGE;
    *ret_ns = (int64_t)d;
    return 0;
}

static const struct flagdef *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(flagdefs) / sizeof(flagdefs[0]); i++) {
        if (strlen(flagdefs[i].name) == len && memcmp(flagdefs[i].name, name, len) == 0)
            return &flagdefs[i];
    }
    return NULL;
}

static int set_flag(struct stepflags *f, const struct flagdef *def, const char *value,
                    struct estr *reterr)
{
    char *base = (char *)f;

    switch (def->kind) {
    case KIND_STRING:
        *(const char **)(base + def->offset) = value;
        return 0;
    case KIND_BOOL: {
        bool b;

        if (stepflags_parse_bool(value, &b) < 0) {
            estr_printf(reterr, "invalid boolean value \"%s\" for -%s: parse error", value,
                        def->name);
            return -EINVAL;
        }
        *(bool *)(base + def->offset) = b;
        return 0;
    }
    case KIND_DURATION: {
        int64_t ns;

        if (stepflags_parse_duration(value, &ns) < 0) {
            estr_printf(reterr, "invalid value \"%s\" for flag -%s: parse error", value, def->name);
            return -EINVAL;
        }
        *(int64_t *)(base + def->offset) = ns;
        *(bool *)(base + def->offset2) = true;
        return 0;
    }
    case KIND_IGNORED:
        return 0;
    case KIND_CREDENTIAL:
        f->credential_args =
            estr_realloc(f->credential_args, sizeof(char *) * 2 * (f->credential_flags + 1));
        f->credential_args[2 * f->credential_flags] = def->name;
        f->credential_args[2 * f->credential_flags + 1] = value;
        f->credential_flags++;
        return 0;
    }
    return 0;
}

int stepflags_parse(struct stepflags *f, int argc, char **argv, struct estr *reterr)
{
    int end = argc; /* flags and positional arguments live in [0, end) */
    int i;

    /* split at the first '--', unless it is the very first argument (Tekton's extractArgs) */
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            if (i > 0) {
                end = i;
                f->n_command_args = (size_t)(argc - i - 1);
                f->command_args = estr_malloc(sizeof(char *) * (f->n_command_args + 1));
                for (int j = i + 1; j < argc; j++)
                    f->command_args[j - i - 1] = argv[j];
                f->command_args[f->n_command_args] = NULL;
            }
            break;
        }
    }

    for (i = 0; i < end; i++) {
        const char *s = argv[i];
        const char *name, *eq;
        const struct flagdef *def;
        size_t name_len;
        int r;

        if (strlen(s) < 2 || s[0] != '-')
            break;
        name = s + 1;
        if (s[1] == '-') {
            if (s[2] == '\0') {
                i++; /* a bare '--' ends the flags and is consumed */
                break;
            }
            name = s + 2;
        }
        if (name[0] == '\0' || name[0] == '-' || name[0] == '=') {
            estr_printf(reterr, "bad flag syntax: %s", s);
            return -EINVAL;
        }
        eq = strchr(name, '=');
        name_len = eq ? (size_t)(eq - name) : strlen(name);
        def = find_flag(name, name_len);
        if (!def) {
            estr_printf(reterr, "flag provided but not defined: -%.*s", (int)name_len, name);
            return -EINVAL;
        }
        if (eq) {
            r = set_flag(f, def, eq + 1, reterr);
        } else if (def->kind == KIND_BOOL) {
            r = set_flag(f, def, "true", reterr);
        } else if (i + 1 < end) {
            r = set_flag(f, def, argv[++i], reterr);
        } else {
            estr_printf(reterr, "flag needs an argument: -%s", def->name);
            return -EINVAL;
        }
        if (r < 0)
            return r;
    }

    f->n_positional = (size_t)(end - i);
    f->positional = estr_malloc(sizeof(char *) * (f->n_positional + 1));
    for (int j = i; j < end; j++)
        f->positional[j - i] = argv[j];
    f->positional[f->n_positional] = NULL;
    return 0;
}
