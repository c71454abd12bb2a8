/*
 * Step-result references resolved inside the Pod just before a step runs. Files only: the
 * values come from /tekton/steps/step-<name>/results, written by earlier steps. Artifact
 * references ($(steps.<s>.outputs...)) are not handled.
 */
#include "controller/entrypoint/stepsubst.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/minijson.h"

/* A step result file larger than this is not a plausible value to put in an argument. */
#define VALUE_READ_MAX (1024 * 1024)

/* The next match of \$\(steps\..*?\.results\..*?\) at or after 'from' ('.' never matches \n). */
static bool find_ref(const char *s, size_t from, size_t *ret_start, size_t *ret_end)
{
    static const char open[] = "$(steps.";
    static const char mid[] = ".results.";

    for (const char *p = strstr(s + from, open); p; p = strstr(p + 1, open)) {
        const char *q = p + strlen(open);
        const char *m = strstr(q, mid);
        const char *close;
        const char *nl = strchr(q, '\n');

        if (!m || (nl && nl < m))
            continue;
        close = strchr(m + strlen(mid), ')');
        nl = strchr(m + strlen(mid), '\n');
        if (!close || (nl && nl < close))
            continue;
        *ret_start = (size_t)(p - s);
        *ret_end = (size_t)(close - s) + 1;
        return true;
    }
    return false;
}

struct ref {
    char *step;
    char *result;
    enum { REF_STRING, REF_INDEX, REF_STAR, REF_KEY } kind;
    long index;
    char *key;
};

static void ref_done(struct ref *r)
{
    free(r->step);
    free(r->result);
    free(r->key);
}

/* Parse "steps.<s>.results.<r>[...]" (without "$(" and ")"); Tekton's parseExpression. */
static int ref_parse(const char *expr, size_t len, struct ref *ret)
{
    char *copy = estr_ndup(expr, len);
    char *parts[6];
    size_t n = 0;
    char *p = copy;
    int r = -EINVAL;

    memset(ret, 0, sizeof(*ret));
    for (;;) {
        char *dot = strchr(p, '.');

        if (n == 6)
            goto out;
        parts[n++] = p;
        if (!dot)
            break;
        *dot = '\0';
        p = dot + 1;
    }
    if (n < 4 || n > 5 || strcmp(parts[0], "steps") != 0 || strcmp(parts[2], "results") != 0)
        goto out;
    ret->step = estr_dup(parts[1]);
    if (n == 5) {
        ret->kind = REF_KEY;
        ret->result = estr_dup(parts[3]);
        ret->key = estr_dup(parts[4]);
        r = 0;
        goto out;
    }
    {
        char *bracket = strchr(parts[3], '[');

        ret->kind = REF_STRING;
        if (bracket) {
            char *end;

            if (strcmp(bracket, "[*]") == 0) {
                ret->kind = REF_STAR;
            } else {
                ret->kind = REF_INDEX;
                errno = 0;
                ret->index = strtol(bracket + 1, &end, 10);
                if (errno != 0 || end == bracket + 1 || strcmp(end, "]") != 0 || ret->index < 0)
                    goto out;
            }
            *bracket = '\0';
        }
        ret->result = estr_dup(parts[3]);
    }
    r = 0;
out:
    if (r < 0)
        ref_done(ret);
    free(copy);
    return r;
}

/* Array or object whose members are all strings (Go's []string / map[string]string). */
static bool all_strings(const struct minijson *v)
{
    for (size_t i = 0; i < v->count; i++) {
        if (v->items[i].kind != MINIJSON_STRING && v->items[i].kind != MINIJSON_NULL)
            return false;
    }
    return true;
}

/*
 * Resolve 'ref' into either a string (*ret_string) or, for REF_STAR on an array, the array
 * (*ret_array, borrowed from *ret_tree which the caller frees). Returns 0 or -errno with a
 * reason in 'why'.
 */
static int resolve(const struct ref *ref, const char *steps_dir, struct estr *ret_string,
                   struct minijson **ret_tree, const struct minijson **ret_array, struct estr *why)
{
    struct estr path, raw;
    struct minijson *tree = NULL;
    const struct minijson *v = NULL;
    int r;

    estr_init(&path);
    estr_init(&raw);
    estr_printf(&path, "%s/step-%s/results/%s", steps_dir, ref->step, ref->result);
    r = estr_read_file(&raw, path.data, VALUE_READ_MAX);
    if (r < 0) {
        estr_printf(why, "cannot read '%s'", path.data);
        goto out;
    }
    /* Tekton's lenient ResultValue decoding */
    if (raw.len > 0 && minijson_parse(raw.data, raw.len, &tree) == 0) {
        if ((tree->kind == MINIJSON_ARRAY && raw.data[0] == '[' && all_strings(tree)) ||
            (tree->kind == MINIJSON_OBJECT && raw.data[0] == '{' && all_strings(tree)) ||
            tree->kind == MINIJSON_STRING)
            v = tree;
    }
    r = -EINVAL;
    switch (ref->kind) {
    case REF_STRING:
        if (v && v->kind == MINIJSON_STRING)
            estr_append(ret_string, v->str, v->str_len);
        else
            estr_append(ret_string, estr_str(&raw), raw.len);
        r = 0;
        break;
    case REF_INDEX:
        if (!v || v->kind != MINIJSON_ARRAY || (size_t)ref->index >= v->count) {
            estr_printf(why, "'%s' has no element %ld", path.data, ref->index);
            goto out;
        }
        if (v->items[ref->index].str)
            estr_append(ret_string, v->items[ref->index].str, v->items[ref->index].str_len);
        r = 0;
        break;
    case REF_KEY: {
        const struct minijson *member = minijson_get(v, ref->key, false);

        if (!v || v->kind != MINIJSON_OBJECT || !member) {
            estr_printf(why, "'%s' has no key '%s'", path.data, ref->key);
            goto out;
        }
        if (member->str)
            estr_append(ret_string, member->str, member->str_len);
        r = 0;
        break;
    }
    case REF_STAR:
        if (!v || v->kind != MINIJSON_ARRAY || !ret_tree) {
            estr_printf(why, "'%s' is not an array usable with [*] here", path.data);
            goto out;
        }
        *ret_array = v;
        *ret_tree = tree;
        tree = NULL;
        r = 0;
        break;
    }
out:
    minijson_free(tree);
    estr_done(&raw);
    estr_done(&path);
    return r;
}

static void report(struct estr *errors, const char *ref, size_t len, const struct estr *why)
{
    estr_printf(errors, "cannot substitute '%.*s': %s\n", (int)len, ref, estr_str(why));
}

int stepsubst_string(const char *in, const char *steps_dir, struct estr *out, struct estr *errors)
{
    size_t pos = 0, start, end;
    int failed = 0;

    while (find_ref(in, pos, &start, &end)) {
        struct ref ref;
        struct estr value, why;
        bool ok = false;

        estr_append(out, in + pos, start - pos);
        estr_init(&value);
        estr_init(&why);
        if (ref_parse(in + start + 2, end - start - 3, &ref) < 0) {
            estr_append_str(&why, "not of the form steps.<step>.results.<result>");
        } else {
            ok = resolve(&ref, steps_dir, &value, NULL, NULL, &why) == 0;
            ref_done(&ref);
        }
        if (ok) {
            estr_append(out, value.data ? value.data : "", value.len);
        } else {
            estr_append(out, in + start, end - start);
            report(errors, in + start, end - start, &why);
            failed++;
        }
        estr_done(&value);
        estr_done(&why);
        pos = end;
    }
    estr_append_str(out, in + pos);
    return failed;
}

/*
 * If 'arg' is exactly one [*] reference, append its elements (or, when it cannot be
 * resolved, the argument unchanged, reporting why) and return true; otherwise false.
 */
static bool expand_star(const char *arg, const char *steps_dir, char ***argv, size_t *n,
                        size_t *cap, int *failed, struct estr *errors)
{
    size_t start, end;
    struct ref ref;
    struct minijson *tree = NULL;
    const struct minijson *array = NULL;
    struct estr why;

    if (!find_ref(arg, 0, &start, &end) || start != 0 || arg[end] != '\0')
        return false;
    if (ref_parse(arg + 2, end - 3, &ref) < 0)
        return false;
    if (ref.kind != REF_STAR) {
        ref_done(&ref);
        return false;
    }
    estr_init(&why);
    if (resolve(&ref, steps_dir, NULL, &tree, &array, &why) == 0) {
        for (size_t i = 0; i < array->count; i++) {
            if (*n + 1 >= *cap) {
                *cap *= 2;
                *argv = estr_realloc(*argv, *cap * sizeof(char *));
            }
            (*argv)[(*n)++] = estr_dup(array->items[i].str ? array->items[i].str : "");
        }
    } else {
        if (*n + 1 >= *cap) {
            *cap *= 2;
            *argv = estr_realloc(*argv, *cap * sizeof(char *));
        }
        (*argv)[(*n)++] = estr_dup(arg);
        report(errors, arg, end, &why);
        (*failed)++;
    }
    minijson_free(tree);
    estr_done(&why);
    ref_done(&ref);
    return true;
}

int stepsubst_argv(char *const *argv, size_t argc, const char *steps_dir, char ***ret_argv,
                   size_t *ret_argc, struct estr *errors)
{
    size_t cap = argc + 8, n = 0;
    char **out = estr_malloc(cap * sizeof(char *));
    int failed = 0;

    for (size_t i = 0; i < argc; i++) {
        struct estr s;

        if (expand_star(argv[i], steps_dir, &out, &n, &cap, &failed, errors))
            continue;
        estr_init(&s);
        failed += stepsubst_string(argv[i], steps_dir, &s, errors);
        if (n + 1 >= cap) {
            cap *= 2;
            out = estr_realloc(out, cap * sizeof(char *));
        }
        out[n++] = estr_take(&s);
    }
    out[n] = NULL;
    *ret_argv = out;
    *ret_argc = n;
    return failed;
}
