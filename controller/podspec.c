#include "controller/podspec.h"

/*
 * The Pod planner: TaskRun + resolved TaskSpec -> Pod JSON, following Tekton v1.15.0's pod
 * builder (workspaces, stepTemplate merge, scripts, entrypoint args, mounts, volumes, pod
 * template, credential secrets, default container resources, TaskRun-level computeResources
 * and LimitRange step requests through controller/resources). Leaves out, on purpose: native
 * Kubernetes sidecars, sidecar-logs results, debug and Windows scripts.
 */

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/childname.h"
#include "controller/goduration.h"
#include "controller/resources.h"
#include "lib/buf.h"
#include "lib/jsonget.h"
#include "lib/xalloc.h"

#define ENTRYPOINT_BIN     "/tekton/bin/entrypoint"
#define SCRIPTS_DIR        "/tekton/scripts"
#define DEFAULT_MANAGED_BY "tekton-pipelines"
#define SCRIPT_ALPHABET    "bcdfghjklmnpqrstvwxz2456789"
#define MAX_DEADLINE       2147483647LL

struct build {
    const json_t *tr;
    const json_t *ts;
    const struct podspec_options *opts;
    const char *tr_name;
    const char *ns;
    const char *uid;
    char *err;             /* first failure message */
    json_t *missing;       /* images absent from opts->image_configs */
    json_t *step_template; /* working copy, gains shared workspace mounts */
    json_t *steps;         /* working copy of ts.steps, gains isolated workspace mounts */
    json_t *sidecars;      /* working copy of ts.sidecars */
    json_t *task_volumes;  /* ts.volumes + workspace volumes */
    json_t *pod_template;  /* TaskRun podTemplate merged over the default */
    json_t *init_args;     /* --script/--workdir args of the prepare container */
    json_t *workdirs;      /* cleaned working dirs for --workdir (unsorted) */
    json_t *cred_flags;    /* creds-init entrypoint flags, the same on every step */
    json_t *cred_volumes;  /* tekton-creds-<hash> secret volumes */
    json_t *cred_mounts;   /* their /tekton/creds-secrets/<name> mounts */
    bool any_script;
    bool waits;
};

static int fail(struct build *b, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct build *b, int r, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    if (b->err)
        return r;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    b->err = msg;
    return r;
}

void podspec_error_done(struct podspec_error *e)
{
    if (!e)
        return;
    free(e->message);
    e->message = NULL;
    json_decref(e->missing_images);
    e->missing_images = NULL;
}

/* ---- small JSON helpers ---- */

/* jansson's iterators and setters take non-const pointers even where they only read */
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

static bool has_str(const json_t *obj, const char *key)
{
    const char *s = str_at(obj, key);

    return s && *s;
}

static bool nonempty_array(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0;
}

static bool nonempty_object(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) > 0;
}

static void append_str(json_t *arr, const char *s)
{
    json_array_append_new(arr, json_string(s));
}

/* append a string built like printf */
static void append_fmt(json_t *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append_fmt(json_t *arr, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    json_array_append_new(arr, json_string(s));
    free(s);
}

static json_t *mount_new(const char *name, const char *path, bool read_only)
{
    json_t *m = json_pack("{s:s, s:s}", "name", name, "mountPath", path);

    if (read_only)
        json_object_set_new(m, "readOnly", json_true());
    return m;
}

static json_t *empty_dir_volume(const char *name)
{
    return json_pack("{s:s, s:{}}", "name", name, "emptyDir");
}

/* Go's filepath.Clean for '/'-separated paths. Returns a new string. */
static char *clean_path(const char *path)
{
    size_t len = strlen(path);
    bool rooted = len > 0 && path[0] == '/';
    char *out = xmalloc(len + 2);
    size_t n = 0;
    size_t dotdot; /* where ".." may no longer backtrack */
    size_t r = 0;

    if (len == 0) {
        free(out);
        return xstrdup(".");
    }
    if (rooted) {
        out[n++] = '/';
        r = 1;
    }
    dotdot = n;
    while (r < len) {
        if (path[r] == '/') {
            r++;
        } else if (path[r] == '.' && (r + 1 == len || path[r + 1] == '/')) {
            r++;
        } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == len || path[r + 2] == '/')) {
            r += 2;
            if (n > dotdot) {
                n--;
                while (n > dotdot && out[n] != '/')
                    n--;
            } else if (!rooted) {
                if (n > 0)
                    out[n++] = '/';
                out[n++] = '.';
                out[n++] = '.';
                dotdot = n;
            }
        } else {
            if ((rooted && n != 1) || (!rooted && n != 0))
                out[n++] = '/';
            while (r < len && path[r] != '/')
                out[n++] = path[r++];
        }
    }
    if (n == 0)
        out[n++] = '.';
    out[n] = '\0';
    return out;
}

static bool same_clean_path(const char *a, const char *b)
{
    char *ca = clean_path(a);
    char *cb = clean_path(b);
    bool same = strcmp(ca, cb) == 0;

    free(ca);
    free(cb);
    return same;
}

static bool has_mount_at(const json_t *mounts, const char *path)
{
    size_t i;
    const json_t *m;

    json_array_foreach(mounts, i, m) {
        const char *p = str_at(m, "mountPath");

        if (p && same_clean_path(p, path))
            return true;
    }
    return false;
}

static bool array_has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;

    if (!s)
        return false;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* qsort comparator for an array of C strings */
static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- strategic merge (Kubernetes semantics for Container, template as base) ---- */

/* Recursive object merge: 'patch' wins, nested objects merge, null deletes. New reference. */
static json_t *merge_objects(const json_t *base, const json_t *patch)
{
    json_t *out = json_is_object(base) ? json_deep_copy(base) : json_object();
    const char *key;
    json_t *v;

    json_object_foreach(unconst(patch), key, v) {
        json_t *old = json_object_get(out, key);

        if (json_is_null(v))
            json_object_del(out, key);
        else if (json_is_object(v) && json_is_object(old))
            json_object_set_new(out, key, merge_objects(old, v));
        else
            json_object_set_new(out, key, json_deep_copy(v));
    }
    return out;
}

static ssize_t index_by_key(const json_t *list, const char *key, const char *value)
{
    size_t i;
    const json_t *item;

    if (!value)
        return -1;
    json_array_foreach(list, i, item) {
        const char *k = str_at(item, key);

        if (k && strcmp(k, value) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/*
 * Merge two lists keyed by 'key' the way a strategic merge patch does: same-key items merge
 * (step wins), and the order interleaves template-only items with the step's items by their
 * template positions. With 'env_rule', an item left with both value and valueFrom is replaced by
 * the step's item.
 */
static json_t *merge_keyed_lists(const json_t *tmpl, const json_t *step, const char *key,
                                 bool env_rule)
{
    json_t *right = json_array(); /* step items, merged */
    json_t *left = json_array();  /* template-only items */
    json_t *out = json_array();
    size_t i, li = 0, ri = 0;
    json_t *item;

    json_array_foreach(unconst(step), i, item) {
        ssize_t t = index_by_key(tmpl, key, str_at(item, key));
        json_t *merged;

        if (t < 0) {
            json_array_append_new(right, json_deep_copy(item));
            continue;
        }
        merged = merge_objects(json_array_get(tmpl, (size_t)t), item);
        if (env_rule && json_object_get(merged, "value") && json_object_get(merged, "valueFrom")) {
            json_decref(merged);
            merged = json_deep_copy(item);
        }
        json_array_append_new(right, merged);
    }
    json_array_foreach(unconst(tmpl), i, item) {
        if (index_by_key(step, key, str_at(item, key)) < 0)
            json_array_append_new(left, json_deep_copy(item));
    }
    while (li < json_array_size(left) || ri < json_array_size(right)) {
        json_t *l = json_array_get(left, li);
        json_t *r = json_array_get(right, ri);

        if (l && r) {
            ssize_t lt = index_by_key(tmpl, key, str_at(l, key));
            ssize_t rt = index_by_key(tmpl, key, str_at(r, key));

            if (rt >= 0 && lt < rt) {
                json_array_append(out, l);
                li++;
            } else {
                json_array_append(out, r);
                ri++;
            }
        } else if (l) {
            json_array_append(out, l);
            li++;
        } else {
            json_array_append(out, r);
            ri++;
        }
    }
    json_decref(left);
    json_decref(right);
    return out;
}

/*
 * The container fields of a step after merging it over the stepTemplate, in Container field
 * order. New reference. Tekton-only step fields (script, timeout, onError, ...) are not copied.
 */
static void merge_scalar(json_t *c, const json_t *tmpl, const json_t *step, const char *field)
{
    const char *s = has_str(step, field) ? str_at(step, field) : str_at(tmpl, field);

    if (s && *s)
        json_object_set_new(c, field, json_string(s));
}

/* command, args, envFrom: the step's list replaces the template's */
static void merge_replace_list(json_t *c, const json_t *tmpl, const json_t *step, const char *field)
{
    const json_t *v = json_object_get(step, field);

    if (!nonempty_array(v))
        v = json_object_get(tmpl, field);
    if (nonempty_array(v))
        json_object_set_new(c, field, json_deep_copy(v));
}

static void merge_keyed_field(json_t *c, const json_t *tmpl, const json_t *step, const char *field,
                              const char *key)
{
    const json_t *t = json_object_get(tmpl, field);
    const json_t *s = json_object_get(step, field);

    if (!nonempty_array(t) && !nonempty_array(s))
        return;
    json_object_set_new(c, field,
                        merge_keyed_lists(json_is_array(t) ? t : NULL, json_is_array(s) ? s : NULL,
                                          key, strcmp(field, "env") == 0));
}

static void merge_object_field(json_t *c, const json_t *tmpl, const json_t *step, const char *from,
                               const char *to)
{
    json_t *merged;

    if (!json_is_object(json_object_get(tmpl, from)) &&
        !json_is_object(json_object_get(step, from)))
        return;
    merged = merge_objects(json_object_get(tmpl, from), json_object_get(step, from));
    json_object_set_new(c, to, merged);
}

/*
 * The container fields of a step after merging it over the stepTemplate, in Container field
 * order. New reference. Tekton-only step fields (script, timeout, onError, ...) are not copied.
 */
static json_t *merge_step(const json_t *tmpl, const json_t *step)
{
    json_t *c = json_object();

    merge_scalar(c, tmpl, step, "image");
    merge_replace_list(c, tmpl, step, "command");
    merge_replace_list(c, tmpl, step, "args");
    merge_scalar(c, tmpl, step, "workingDir");
    merge_replace_list(c, tmpl, step, "envFrom");
    merge_keyed_field(c, tmpl, step, "env", "name");
    merge_object_field(c, tmpl, step, "computeResources", "resources");
    if (json_object_size(json_object_get(c, "resources")) == 0)
        json_object_del(c, "resources");
    merge_keyed_field(c, tmpl, step, "volumeMounts", "mountPath");
    merge_keyed_field(c, tmpl, step, "volumeDevices", "devicePath");
    merge_scalar(c, tmpl, step, "imagePullPolicy");
    merge_object_field(c, tmpl, step, "securityContext", "securityContext");
    return c;
}

/* requests/limits of 'over' merged per resource name over the container's resources */
static void merge_resources(json_t *container, const json_t *over)
{
    json_t *merged;

    if (!nonempty_object(over))
        return;
    merged = merge_objects(json_object_get(container, "resources"), over);
    json_object_set_new(container, "resources", merged);
}

static const json_t *find_named(const json_t *list, const char *name)
{
    size_t i;
    const json_t *item;

    if (!name)
        return NULL;
    json_array_foreach(list, i, item) {
        const char *n = str_at(item, "name");

        if (n && strcmp(n, name) == 0)
            return item;
    }
    return NULL;
}

/* ---- pod template ---- */

/* TaskRun template over the default: set fields win, hostNetwork ORs, env/volumes by name */
static json_t *merge_pod_template(const json_t *tpl, const json_t *def)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;

    json_object_foreach(unconst(def), key, v) {
        json_object_set(out, key, v);
    }
    json_object_foreach(unconst(tpl), key, v) {
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
            (json_is_string(v) && !*json_string_value(v)))
            continue;
        json_object_set(out, key, v);
    }
    if (json_is_true(json_object_get(tpl, "hostNetwork")) ||
        json_is_true(json_object_get(def, "hostNetwork")))
        json_object_set_new(out, "hostNetwork", json_true());
    for (int f = 0; f < 2; f++) {
        const char *field = f == 0 ? "env" : "volumes";
        const json_t *a = json_object_get(tpl, field);
        const json_t *b = json_object_get(def, field);
        json_t *merged;
        size_t i;
        json_t *item;

        if (!nonempty_array(a) && !nonempty_array(b))
            continue;
        merged = json_array();
        json_array_foreach(unconst(a), i, item) {
            if (has_str(item, "name"))
                json_array_append(merged, item);
        }
        json_array_foreach(unconst(b), i, item) {
            if (has_str(item, "name") && !find_named(a, str_at(item, "name")))
                json_array_append(merged, item);
        }
        json_object_set_new(out, field, merged);
    }
    return out;
}

/* ---- workspaces ---- */

static const char *const binding_sources[] = {
    "persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected", "csi",
};

static int binding_volume_source(struct build *b, const json_t *binding, const char *ws,
                                 json_t **ret_source_key, json_t **ret_source)
{
    const json_t *vct = json_object_get(binding, "volumeClaimTemplate");

    if (json_is_object(vct)) {
        char *claim = childname_pvc(str_at(json_object_get(vct, "metadata"), "name"), ws, b->uid);

        *ret_source_key = json_string("persistentVolumeClaim");
        *ret_source = json_pack("{s:s}", "claimName", claim);
        free(claim);
        return 0;
    }
    for (size_t i = 0; i < sizeof(binding_sources) / sizeof(binding_sources[0]); i++) {
        const json_t *src = json_object_get(binding, binding_sources[i]);

        if (json_is_object(src)) {
            *ret_source_key = json_string(binding_sources[i]);
            *ret_source = json_deep_copy(src);
            return 0;
        }
    }
    return fail(b, -EINVAL, "workspace binding '%s' of taskrun '%s/%s' has no volume source", ws,
                b->ns, b->tr_name);
}

static bool workspace_is_isolated(const json_t *steps, const json_t *sidecars, const char *ws)
{
    for (int pass = 0; pass < 2; pass++) {
        const json_t *list = pass == 0 ? steps : sidecars;
        size_t i;
        const json_t *c;

        json_array_foreach(list, i, c) {
            if (find_named(json_object_get(c, "workspaces"), ws))
                return true;
        }
    }
    return false;
}

static void mount_isolated(json_t *list, const char *ws, const json_t *mount)
{
    size_t i;
    json_t *c;

    json_array_foreach(list, i, c) {
        const json_t *usage = find_named(json_object_get(c, "workspaces"), ws);
        json_t *mounts;
        json_t *m;

        if (!usage)
            continue;
        m = json_deep_copy(mount);
        if (has_str(usage, "mountPath"))
            json_object_set(m, "mountPath", json_object_get(usage, "mountPath"));
        mounts = json_object_get(c, "volumeMounts");
        if (!json_is_array(mounts)) {
            mounts = json_array();
            json_object_set_new(c, "volumeMounts", mounts);
        }
        json_array_append_new(mounts, m);
    }
}

static void mount_shared(struct build *b, const json_t *mount)
{
    json_t *mounts = json_object_get(b->step_template, "volumeMounts");
    size_t i;
    json_t *sc;

    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(b->step_template, "volumeMounts", mounts);
    }
    json_array_append(mounts, unconst(mount));
    json_array_foreach(b->sidecars, i, sc) {
        json_t *sm = json_object_get(sc, "volumeMounts");

        if (!json_is_object(sc))
            continue; /* refused later, with a message */
        if (!json_is_array(sm)) {
            sm = json_array();
            json_object_set_new(sc, "volumeMounts", sm);
        }
        if (index_by_key(sm, "mountPath", str_at(mount, "mountPath")) < 0)
            json_array_append_new(sm, json_deep_copy(mount));
    }
}

/* Volume name for 'ws', unique among the names already in 'used' (re-hash "<name>$"). */
static char *workspace_volume_name(const char *ws, const json_t *used)
{
    char *seed = xstrdup(ws);

    for (;;) {
        char *name = childname_fnv("ws-", seed, 5);
        char *next;

        if (!array_has_string(used, name)) {
            free(seed);
            return name;
        }
        free(name);
        next = xasprintf("%s$", seed);
        free(seed);
        seed = next;
    }
}

/* §9.2: volumes for the bindings and their mounts on the stepTemplate, steps and sidecars */
static int apply_workspaces(struct build *b)
{
    const json_t *bindings = json_object_get(json_object_get(b->tr, "spec"), "workspaces");
    const json_t *decls = json_object_get(b->ts, "workspaces");
    json_t *used = json_array();    /* volume names taken */
    json_t *claims = json_object(); /* claimName -> volume name */
    size_t i;
    const json_t *wb;
    int r = 0;

    json_array_foreach(bindings, i, wb) {
        const char *ws = str_at(wb, "name");
        const json_t *decl;
        json_t *source_key = NULL;
        json_t *source = NULL;
        char *vol_name = NULL;
        char *mount_path = NULL;
        json_t *mount;
        const char *claim;
        bool new_volume = true;

        if (!ws || !*ws) {
            r = fail(b, -EINVAL, "spec.workspaces[%zu] of taskrun '%s/%s' has no name", i, b->ns,
                     b->tr_name);
            break;
        }
        r = binding_volume_source(b, wb, ws, &source_key, &source);
        if (r < 0)
            break;
        claim = strcmp(json_string_value(source_key), "persistentVolumeClaim") == 0
                    ? str_at(source, "claimName")
                    : NULL;
        if (claim && json_object_get(claims, claim)) {
            vol_name = xstrdup(json_string_value(json_object_get(claims, claim)));
            new_volume = false;
        } else {
            /* taskrun_resolve's effective bindings already name their volume */
            vol_name = has_str(wb, "volume") ? xstrdup(str_at(wb, "volume"))
                                             : workspace_volume_name(ws, used);
            append_str(used, vol_name);
            if (claim)
                json_object_set_new(claims, claim, json_string(vol_name));
        }
        /* a binding the spec does not declare was propagated: default mount path */
        decl = find_named(decls, ws);
        if (decl && has_str(decl, "mountPath"))
            mount_path = xstrdup(str_at(decl, "mountPath"));
        else
            mount_path = xasprintf("/workspace/%s", ws);
        mount = json_pack("{s:s, s:s}", "name", vol_name, "mountPath", mount_path);
        if (has_str(wb, "subPath"))
            json_object_set(mount, "subPath", json_object_get(wb, "subPath"));
        if (decl && json_is_true(json_object_get(decl, "readOnly")))
            json_object_set_new(mount, "readOnly", json_true());
        if (workspace_is_isolated(b->steps, b->sidecars, ws)) {
            mount_isolated(b->steps, ws, mount);
            mount_isolated(b->sidecars, ws, mount);
        } else {
            mount_shared(b, mount);
        }
        if (new_volume) {
            json_t *vol = json_pack("{s:s}", "name", vol_name);

            json_object_set_new(vol, json_string_value(source_key), source);
            source = NULL;
            json_array_append_new(b->task_volumes, vol);
        }
        json_decref(mount);
        json_decref(source);
        json_decref(source_key);
        free(vol_name);
        free(mount_path);
    }
    json_decref(used);
    json_decref(claims);
    return r;
}

/* ---- scripts ---- */

/* 5 characters from Tekton's alphabet, derived from the TaskRun uid and the script's slot */
static void script_suffix(const char *uid, const char *kind, size_t index, char out[6])
{
    char *seed = xasprintf("%s/%s/%zu", uid, kind, index);
    char hex[33];

    childname_md5_hex(seed, strlen(seed), hex);
    free(seed);
    for (int i = 0; i < 5; i++) {
        /* one md5 byte (two hex digits) per character */
        unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
        unsigned lo =
            (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);

        out[i] = SCRIPT_ALPHABET[(hi * 16 + lo) % (sizeof(SCRIPT_ALPHABET) - 1)];
    }
    out[5] = '\0';
}

/* The script as written to disk: unchanged when it starts with "#!" after trimming, else with
 * the "#!/bin/sh" + "set -e" preamble. New string. */
static char *script_with_preamble(const char *script)
{
    const char *p = script;

    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
        p++;
    if (p[0] == '#' && p[1] == '!')
        return xstrdup(script);
    return xasprintf("#!/bin/sh\nset -e\n%s", script);
}

static char *base64_std(const char *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

/*
 * Register the script of 'spec' (a step or sidecar) for the prepare container and point 'c' at
 * it; a stepTemplate command is replaced, a command of the step itself is refused.
 */
static int convert_script(struct build *b, json_t *c, const json_t *spec, const char *kind,
                          size_t index)
{
    const char *script = str_at(spec, "script");
    char suffix[6];
    char *path;
    char *body;
    char *encoded;
    json_t *mounts;

    if (nonempty_array(json_object_get(spec, "command")))
        return fail(b, -EINVAL, "%s %zu of taskrun '%s/%s' sets both script and command", kind,
                    index, b->ns, b->tr_name);
    script_suffix(b->uid, kind, index, suffix);
    path = xasprintf(SCRIPTS_DIR "/%s-%zu-%s",
                     strcmp(kind, "step") == 0 ? "script" : "sidecar-script", index, suffix);
    body = script_with_preamble(script);
    encoded = base64_std(body, strlen(body));
    append_str(b->init_args, "--script");
    append_str(b->init_args, path);
    append_str(b->init_args, encoded);
    json_object_set_new(c, "command", json_pack("[s]", path));
    mounts = json_object_get(c, "volumeMounts");
    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(c, "volumeMounts", mounts);
    }
    json_array_append_new(mounts, mount_new("tekton-internal-scripts", SCRIPTS_DIR, true));
    b->any_script = true;
    free(path);
    free(body);
    free(encoded);
    return 0;
}

/* ---- image entrypoint lookup ---- */

/* §5.3.4: the command per platform, as TEKTON_PLATFORM_COMMANDS JSON (keys sorted). */
static int platform_commands(struct build *b, const char *image, const json_t *config,
                             bool has_args, char **ret_json)
{
    const json_t *platforms = json_object_get(config, "platforms");
    json_t *out = json_object();
    const char *platform;
    json_t *pc;

    if (!nonempty_object(platforms)) {
        json_decref(out);
        return fail(b, -EINVAL, "image config of '%s' lists no platforms", image);
    }
    json_object_foreach(unconst(platforms), platform, pc) {
        const json_t *ep = json_object_get(pc, "entrypoint");
        const json_t *cmd = json_object_get(pc, "cmd");
        json_t *command = json_array();

        if (!nonempty_array(ep)) {
            if (json_is_array(cmd))
                json_array_extend(command, unconst(cmd));
        } else {
            json_array_extend(command, unconst(ep));
            if (!has_args && json_is_array(cmd))
                json_array_extend(command, unconst(cmd));
        }
        json_object_set_new(out, platform, command);
    }
    *ret_json = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    return 0;
}

static void note_missing(struct build *b, const char *image)
{
    if (!array_has_string(b->missing, image))
        append_str(b->missing, image);
}

/* ---- credentials (§10) ---- */

/* Values of the annotations whose key starts with 'prefix', sorted (Tekton sorts by value). */
static json_t *annotation_values(const json_t *secret, const char *prefix)
{
    const json_t *annotations = json_object_get(json_object_get(secret, "metadata"), "annotations");
    json_t *out = json_array();
    const char **vals;
    size_t n = 0;
    const char *key;
    json_t *v;

    vals = xcalloc(json_object_size(annotations) + 1, sizeof(*vals));
    json_object_foreach(unconst(annotations), key, v) {
        if (strncmp(key, prefix, strlen(prefix)) == 0 && json_is_string(v))
            vals[n++] = json_string_value(v);
    }
    qsort(vals, n, sizeof(*vals), compare_strings);
    for (size_t i = 0; i < n; i++)
        append_str(out, vals[i]);
    free(vals);
    return out;
}

static void append_annotation_flags(json_t *flags, const json_t *secret, const char *prefix,
                                    const char *flag)
{
    json_t *vals = annotation_values(secret, prefix);
    const char *name = str_at(json_object_get(secret, "metadata"), "name");
    size_t i;
    json_t *v;

    json_array_foreach(vals, i, v) {
        append_fmt(flags, "-%s=%s=%s", flag, name, json_string_value(v));
    }
    json_decref(vals);
}

/* Unique "tekton-creds-<8 hex>" for 'secret' (re-hash "<name>$" on collision). */
static char *creds_volume_name(const char *secret, const json_t *used)
{
    char *seed = xstrdup(secret);

    for (;;) {
        char *vol = childname_fnv("tekton-creds-", seed, 8);
        char *next;

        if (!array_has_string(used, vol)) {
            free(seed);
            return vol;
        }
        free(vol);
        next = xasprintf("%s$", seed);
        free(seed);
        seed = next;
    }
}

/* The flags, volumes and mounts for the ServiceAccount's annotated Secrets. */
static int collect_credentials(struct build *b)
{
    const json_t *secrets = b->opts->credential_secrets;
    json_t *seen = json_array();
    json_t *used = json_array(); /* volume names taken */
    size_t i;
    const json_t *secret;
    int r = 0;

    json_array_foreach(secrets, i, secret) {
        const char *name = str_at(json_object_get(secret, "metadata"), "name");
        const char *type = str_at(secret, "type");
        size_t before = json_array_size(b->cred_flags);
        char *vol;
        char *path;

        if (!name || !*name || array_has_string(seen, name))
            continue;
        append_str(seen, name);
        type = type ? type : "";
        if (b->opts->require_git_ssh_secret_known_hosts &&
            strcmp(type, "kubernetes.io/ssh-auth") == 0 &&
            !json_object_get(json_object_get(secret, "data"), "known_hosts")) {
            r = fail(b, -EINVAL,
                     "TaskRun validation failed. Git SSH Secret must have \"known_hosts\" "
                     "included when feature flag \"require-git-ssh-secret-known-hosts\" is set "
                     "to true");
            break;
        }
        /* upstream asks the docker builder first, then the git builder */
        if (strcmp(type, "kubernetes.io/basic-auth") == 0)
            append_annotation_flags(b->cred_flags, secret, "tekton.dev/docker-", "basic-docker");
        else if (strcmp(type, "kubernetes.io/dockerconfigjson") == 0)
            append_fmt(b->cred_flags, "-docker-config=%s", name);
        else if (strcmp(type, "kubernetes.io/dockercfg") == 0)
            append_fmt(b->cred_flags, "-docker-cfg=%s", name);
        if (strcmp(type, "kubernetes.io/basic-auth") == 0)
            append_annotation_flags(b->cred_flags, secret, "tekton.dev/git-", "basic-git");
        else if (strcmp(type, "kubernetes.io/ssh-auth") == 0)
            append_annotation_flags(b->cred_flags, secret, "tekton.dev/git-", "ssh-git");
        if (json_array_size(b->cred_flags) == before)
            continue;
        vol = creds_volume_name(name, used);
        append_str(used, vol);
        path = xasprintf("/tekton/creds-secrets/%s", name);
        json_array_append_new(b->cred_volumes, json_pack("{s:s, s:{s:s}}", "name", vol, "secret",
                                                         "secretName", name));
        json_array_append_new(b->cred_mounts, mount_new(vol, path, false));
        free(vol);
        free(path);
    }
    json_decref(used);
    json_decref(seen);
    return r;
}

/* ---- steps ---- */

static int step_timeout_arg(struct build *b, const json_t *step, size_t i, char *out, size_t size)
{
    const json_t *t = json_object_get(step, "timeout");
    int64_t ns;

    if (!json_is_string(t) || goduration_parse(json_string_value(t), &ns) < 0 || ns < 0)
        return fail(b, -EINVAL, "invalid timeout of step %zu in taskrun '%s/%s'", i, b->ns,
                    b->tr_name);
    goduration_format(ns, out, size);
    return 0;
}

static char *join_names(const json_t *list, bool skip_with_value)
{
    struct buf out;
    size_t i;
    const json_t *item;

    buf_init(&out, 1 << 20);
    json_array_foreach(list, i, item) {
        const char *n = str_at(item, "name");

        if (!n || (skip_with_value && json_object_get(item, "value")))
            continue;
        if (buf_len(&out) > 0)
            (void)buf_append_str(&out, ",");
        (void)buf_append_str(&out, n);
    }
    return buf_take(&out);
}

static char *when_expressions_json(const json_t *when)
{
    static const char *const keys[] = {"input", "operator", "values", "cel"};
    json_t *arr = json_array();
    size_t i;
    const json_t *w;
    char *s;

    json_array_foreach(when, i, w) {
        json_t *o = json_object();

        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            const json_t *v = json_object_get(w, keys[k]);

            if ((json_is_string(v) && *json_string_value(v)) || nonempty_array(v))
                json_object_set(o, keys[k], unconst(v));
        }
        json_array_append_new(arr, o);
    }
    s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

/* §5.3.5: command and args that run 'c' under the entrypoint */
static int entrypoint_args(struct build *b, json_t *c, const json_t *step, size_t i)
{
    json_t *args = json_array();
    const json_t *command = json_object_get(c, "command");
    const json_t *user_args = json_object_get(c, "args");
    const json_t *v;
    size_t k;
    json_t *item;
    int r = 0;

    if (i == 0 && b->waits) {
        append_str(args, "-wait_file");
        append_str(args, "/tekton/downward/ready");
        append_str(args, "-wait_file_content");
    }
    if (i > 0) {
        append_str(args, "-wait_file");
        append_fmt(args, "/tekton/run/%zu/out", i - 1);
    }
    append_str(args, "-post_file");
    append_fmt(args, "/tekton/run/%zu/out", i);
    append_str(args, "-termination_path");
    append_str(args, "/tekton/termination");
    append_str(args, "-step_metadata_dir");
    append_fmt(args, "/tekton/run/%zu/status", i);
    json_array_extend(args, b->cred_flags);
    v = json_object_get(step, "onError");
    if (v) {
        const char *e = json_string_value(v);

        if (!e || (strcmp(e, "continue") != 0 && strcmp(e, "stopAndFail") != 0)) {
            r = fail(b, -EINVAL,
                     "invalid onError of step %zu in taskrun '%s/%s': expected continue or "
                     "stopAndFail",
                     i, b->ns, b->tr_name);
            goto out;
        }
        append_str(args, "-on_error");
        append_str(args, e);
    }
    if (json_object_get(step, "timeout")) {
        char d[48];

        r = step_timeout_arg(b, step, i, d, sizeof(d));
        if (r < 0)
            goto out;
        append_str(args, "-timeout");
        append_str(args, d);
    }
    if (has_str(json_object_get(step, "stdoutConfig"), "path")) {
        append_str(args, "-stdout_path");
        append_str(args, str_at(json_object_get(step, "stdoutConfig"), "path"));
    }
    if (has_str(json_object_get(step, "stderrConfig"), "path")) {
        append_str(args, "-stderr_path");
        append_str(args, str_at(json_object_get(step, "stderrConfig"), "path"));
    }
    if (nonempty_array(json_object_get(step, "results"))) {
        char *names = join_names(json_object_get(step, "results"), false);

        append_str(args, "-step_results");
        append_str(args, names);
        free(names);
    }
    if (nonempty_array(json_object_get(step, "when"))) {
        char *w = when_expressions_json(json_object_get(step, "when"));

        append_str(args, "--when_expressions");
        append_str(args, w);
        free(w);
    }
    if (nonempty_array(json_object_get(b->ts, "results"))) {
        char *names = join_names(json_object_get(b->ts, "results"), true);

        append_str(args, "-results");
        append_str(args, names);
        free(names);
    }
    if (nonempty_array(command)) {
        append_str(args, "-entrypoint");
        json_array_append(args, json_array_get(command, 0));
    }
    append_str(args, "--");
    json_array_foreach(unconst(command), k, item) {
        if (k > 0)
            json_array_append(args, item);
    }
    json_array_foreach(unconst(user_args), k, item) {
        json_array_append(args, item);
    }
    json_object_set_new(c, "command", json_pack("[s]", ENTRYPOINT_BIN));
    json_object_set(c, "args", args);
out:
    json_decref(args);
    return r;
}

static bool env_forbidden(const struct podspec_options *opts, const char *name)
{
    return name && opts->forbidden_env && array_has_string(opts->forbidden_env, name);
}

/* §5.3.7: mounts after the step's own (and the scripts mount) */
static void step_internal_mounts(struct build *b, json_t *c, size_t i, size_t nsteps)
{
    static const struct {
        const char *name;
        const char *path;
        bool ro;
    } implicit[] = {
        {"tekton-internal-bin", "/tekton/bin", true},
        {"tekton-internal-workspace", "/workspace", false},
        {"tekton-internal-home", "/tekton/home", false},
        {"tekton-internal-results", "/tekton/results", false},
        {"tekton-internal-steps", "/tekton/steps", true},
        {"tekton-internal-artifacts", "/tekton/artifacts", false},
    };
    json_t *mounts = json_object_get(c, "volumeMounts");

    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(c, "volumeMounts", mounts);
    }
    if ((i == 0 && b->waits) || b->opts->keep_pod_on_cancel)
        json_array_append_new(mounts,
                              mount_new("tekton-internal-downward", "/tekton/downward", true));
    if (!b->opts->disable_creds_init) {
        char *name = xasprintf("tekton-creds-init-home-%zu", i);

        json_array_append_new(mounts, mount_new(name, "/tekton/creds", false));
        free(name);
    }
    for (size_t j = 0; j < nsteps; j++) {
        char *name = xasprintf("tekton-internal-run-%zu", j);
        char *path = xasprintf("/tekton/run/%zu", j);

        json_array_append_new(mounts, mount_new(name, path, j != i));
        free(name);
        free(path);
    }
    for (size_t k = 0; k < sizeof(implicit) / sizeof(implicit[0]); k++) {
        if (!has_mount_at(mounts, implicit[k].path))
            json_array_append_new(mounts,
                                  mount_new(implicit[k].name, implicit[k].path, implicit[k].ro));
    }
    {
        size_t k;
        json_t *m;

        json_array_foreach(b->cred_mounts, k, m) {
            if (!has_mount_at(mounts, str_at(m, "mountPath")))
                json_array_append_new(mounts, json_deep_copy(m));
        }
    }
}

static void note_workdir(struct build *b, const char *dir)
{
    char *clean;

    if (!dir || !*dir)
        return;
    clean = clean_path(dir);
    if ((clean[0] != '/' || strncmp(clean, "/workspace/", 11) == 0) &&
        !array_has_string(b->workdirs, clean))
        append_str(b->workdirs, clean);
    free(clean);
}

static int build_step(struct build *b, const json_t *step, size_t i, size_t nsteps,
                      json_t **ret_container)
{
    const json_t *spec = json_object_get(b->tr, "spec");
    json_t *merged = merge_step(b->step_template, step);
    json_t *c = json_object();
    char *base_name;
    char *platform_json = NULL;
    const char *image;
    json_t *env;
    int r = 0;

    base_name = has_str(step, "name") ? xasprintf("step-%s", str_at(step, "name"))
                                      : xasprintf("step-unnamed-%zu", i);
    json_object_set_new(c, "name", json_string(base_name)); /* restricted below */
    json_object_update(c, merged);
    json_decref(merged);
    image = str_at(c, "image");
    if (!image || !*image) {
        r = fail(b, -EINVAL, "step %zu of taskrun '%s/%s' has no image", i, b->ns, b->tr_name);
        goto out;
    }
    if (has_str(step, "name"))
        merge_resources(
            c, json_object_get(find_named(json_object_get(spec, "stepSpecs"), str_at(step, "name")),
                               "computeResources"));
    if (has_str(step, "script")) {
        r = convert_script(b, c, step, "step", i);
        if (r < 0)
            goto out;
    }
    if (!nonempty_array(json_object_get(c, "command"))) {
        const json_t *config =
            b->opts->image_configs ? json_object_get(b->opts->image_configs, image) : NULL;

        if (!config) {
            note_missing(b, image);
        } else {
            r = platform_commands(b, image, config, nonempty_array(json_object_get(c, "args")),
                                  &platform_json);
            if (r < 0)
                goto out;
            if (has_str(config, "image"))
                json_object_set(c, "image", json_object_get(config, "image"));
        }
    }
    note_workdir(b, str_at(c, "workingDir"));
    r = entrypoint_args(b, c, step, i);
    if (r < 0)
        goto out;

    env = json_object_get(c, "env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(c, "env", env);
    }
    if (platform_json)
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", "TEKTON_PLATFORM_COMMANDS",
                                             "value", platform_json));
    {
        size_t k;
        json_t *e;

        json_array_foreach(json_object_get(b->pod_template, "env"), k, e) {
            if (!env_forbidden(b->opts, str_at(e, "name")))
                json_array_append(env, e);
        }
    }
    if (json_array_size(env) == 0)
        json_object_del(c, "env");

    step_internal_mounts(b, c, i, nsteps);
    json_object_set_new(c, "terminationMessagePath", json_string("/tekton/termination"));
    {
        char *restricted = childname_restrict(base_name);

        json_object_set_new(c, "name", json_string(restricted));
        free(restricted);
    }
    *ret_container = c;
    c = NULL;
out:
    json_decref(c);
    free(base_name);
    free(platform_json);
    return r;
}

/* §5.5: a sidecar is its Container fields verbatim, renamed, with workspace and script mounts */
static int build_sidecar(struct build *b, const json_t *sc, size_t i, json_t **ret_container)
{
    const json_t *spec = json_object_get(b->tr, "spec");
    json_t *c = json_deep_copy(sc);
    char *base_name;
    char *restricted;
    int r = 0;

    json_object_del(c, "script");
    json_object_del(c, "workspaces");
    if (json_object_get(c, "computeResources")) {
        json_object_set(c, "resources", json_object_get(c, "computeResources"));
        json_object_del(c, "computeResources");
    }
    if (!has_str(sc, "image")) {
        r = fail(b, -EINVAL, "sidecar %zu of taskrun '%s/%s' has no image", i, b->ns, b->tr_name);
        goto out;
    }
    if (has_str(sc, "name"))
        merge_resources(c, json_object_get(find_named(json_object_get(spec, "sidecarSpecs"),
                                                      str_at(sc, "name")),
                                           "computeResources"));
    if (has_str(sc, "script")) {
        r = convert_script(b, c, sc, "sidecar", i);
        if (r < 0)
            goto out;
    }
    if (json_is_array(json_object_get(c, "volumeMounts")) &&
        json_array_size(json_object_get(c, "volumeMounts")) == 0)
        json_object_del(c, "volumeMounts");
    base_name = xasprintf("sidecar-%s", has_str(sc, "name") ? str_at(sc, "name") : "");
    restricted = childname_restrict(base_name);
    json_object_set_new(c, "name", json_string(restricted));
    free(base_name);
    free(restricted);
    *ret_container = c;
    c = NULL;
out:
    json_decref(c);
    return r;
}

static json_t *restricted_security_context(const struct build *b)
{
    const json_t *node_selector = json_object_get(b->pod_template, "nodeSelector");
    const char *os = str_at(node_selector, "kubernetes.io/os");
    json_t *sc;

    if (os && strcmp(os, "windows") == 0)
        return json_pack("{s:b}", "runAsNonRoot", 1);
    sc = json_pack("{s:b, s:{s:[s]}, s:b, s:{s:s}}", "allowPrivilegeEscalation", 0, "capabilities",
                   "drop", "ALL", "runAsNonRoot", 1, "seccompProfile", "type", "RuntimeDefault");
    if (b->opts->set_security_context_read_only_root_filesystem)
        json_object_set_new(sc, "readOnlyRootFilesystem", json_true());
    return sc;
}

static json_t *build_prepare(struct build *b, const json_t *steps)
{
    json_t *c;
    json_t *command = json_pack("[s, s, s, s]", "/ko-app/entrypoint", "init", "/ko-app/entrypoint",
                                ENTRYPOINT_BIN);
    json_t *mounts = json_array();
    size_t i;
    const json_t *step;
    size_t nwd = json_array_size(b->workdirs);

    json_array_foreach(steps, i, step) {
        if (has_str(step, "name"))
            append_fmt(command, "step-%s", str_at(step, "name"));
        else
            append_fmt(command, "step-unnamed-%zu", i);
    }
    if (nwd > 0) {
        const char **dirs = xcalloc(nwd, sizeof(*dirs));

        for (i = 0; i < nwd; i++)
            dirs[i] = json_string_value(json_array_get(b->workdirs, i));
        qsort(dirs, nwd, sizeof(*dirs), compare_strings);
        for (i = 0; i < nwd; i++) {
            append_str(b->init_args, "--workdir");
            append_str(b->init_args, dirs[i]);
        }
        free(dirs);
    }
    json_array_append_new(mounts, mount_new("tekton-internal-bin", "/tekton/bin", false));
    json_array_append_new(mounts, mount_new("tekton-internal-steps", "/tekton/steps", false));
    if (b->any_script)
        json_array_append_new(mounts, mount_new("tekton-internal-scripts", SCRIPTS_DIR, false));
    if (nwd > 0)
        json_array_append_new(mounts, mount_new("tekton-internal-workspace", "/workspace", false));
    c = json_pack("{s:s, s:s, s:s, s:o}", "name", "prepare", "image", b->opts->entrypoint_image,
                  "workingDir", "/", "command", command);
    if (json_array_size(b->init_args) > 0)
        json_object_set(c, "args", b->init_args);
    json_object_set_new(c, "volumeMounts", mounts);
    if (b->opts->set_security_context)
        json_object_set_new(c, "securityContext", restricted_security_context(b));
    return c;
}

/* §5.7 */
static int build_volumes(struct build *b, size_t nsteps, json_t **ret_volumes)
{
    static const char *const always[] = {
        "tekton-internal-workspace", "tekton-internal-home",      "tekton-internal-results",
        "tekton-internal-steps",     "tekton-internal-artifacts",
    };
    json_t *vols = json_array();
    json_t *names = json_array();
    size_t i;
    json_t *v;

    for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        json_array_append_new(vols, empty_dir_volume(always[i]));
    json_array_extend(vols, b->cred_volumes);
    if (b->any_script)
        json_array_append_new(vols, empty_dir_volume("tekton-internal-scripts"));
    json_array_append_new(vols, empty_dir_volume("tekton-internal-bin"));
    if (b->waits || b->opts->keep_pod_on_cancel) {
        json_t *items = json_array();

        json_array_append_new(items,
                              json_pack("{s:s, s:{s:s}}", "path", "ready", "fieldRef", "fieldPath",
                                        "metadata.annotations['tekton.dev/ready']"));
        if (b->opts->keep_pod_on_cancel)
            json_array_append_new(items, json_pack("{s:s, s:{s:s}}", "path", "cancel", "fieldRef",
                                                   "fieldPath",
                                                   "metadata.annotations['tekton.dev/cancel']"));
        json_array_append_new(vols, json_pack("{s:s, s:{s:o}}", "name", "tekton-internal-downward",
                                              "downwardAPI", "items", items));
    }
    for (i = 0; i < nsteps; i++) {
        char *name;

        if (!b->opts->disable_creds_init) {
            name = xasprintf("tekton-creds-init-home-%zu", i);
            json_array_append_new(
                vols, json_pack("{s:s, s:{s:s}}", "name", name, "emptyDir", "medium", "Memory"));
            free(name);
        }
        name = xasprintf("tekton-internal-run-%zu", i);
        json_array_append_new(vols, empty_dir_volume(name));
        free(name);
    }
    json_array_extend(vols, b->task_volumes);
    if (json_is_array(json_object_get(b->pod_template, "volumes")))
        json_array_extend(vols, json_object_get(b->pod_template, "volumes"));

    json_array_foreach(vols, i, v) {
        const char *n = str_at(v, "name");

        if (!n || !*n || array_has_string(names, n)) {
            json_decref(names);
            json_decref(vols);
            return fail(b, -EINVAL,
                        "duplicate or missing volume name '%s' in pod of taskrun '%s/%s'",
                        n ? n : "", b->ns, b->tr_name);
        }
        append_str(names, n);
    }
    json_decref(names);
    *ret_volumes = vols;
    return 0;
}

bool podspec_waits_for_ready(const json_t *taskspec, const struct podspec_options *opts)
{
    bool sidecars = nonempty_array(json_object_get(taskspec, "sidecars"));

    return (sidecars || opts->running_in_environment_with_injected_sidecars) &&
           opts->await_sidecar_readiness;
}

int podspec_timeout_ns(const json_t *taskrun, int64_t default_timeout_minutes, int64_t *ret_ns)
{
    const json_t *t = json_object_get(json_object_get(taskrun, "spec"), "timeout");
    int64_t ns;

    if (!t || json_is_null(t)) {
        *ret_ns = default_timeout_minutes * 60 * 1000000000LL;
        return 0;
    }
    if (!json_is_string(t) || goduration_parse(json_string_value(t), &ns) < 0 || ns < 0)
        return -EINVAL;
    *ret_ns = ns;
    return 0;
}

/* §11.2: the most specific default-container-resource-requirements entry for 'name' */
static const json_t *default_resources_for(const json_t *defaults, const char *name)
{
    const json_t *best = json_object_get(defaults, name);
    const char *best_key = NULL;
    const char *key;
    json_t *v;

    if (best)
        return best;
    /* the alphabetically first matching prefix, so the choice never depends on map order */
    json_object_foreach(unconst(defaults), key, v) {
        size_t plen;

        if (strncmp(key, "prefix-", 7) != 0)
            continue;
        plen = strlen(key + 7);
        if (strncmp(name, key + 7, plen) == 0 && name[plen] == '-' &&
            (!best_key || strcmp(key, best_key) < 0)) {
            best = v;
            best_key = key;
        }
    }
    return best ? best : json_object_get(defaults, "default");
}

static void apply_default_resources(const json_t *defaults, json_t *containers, bool internal)
{
    size_t i;
    json_t *c;

    json_array_foreach(containers, i, c) {
        const char *name = str_at(c, "name");
        const json_t *d = name ? default_resources_for(defaults, name) : NULL;

        if (!json_is_object(d) || (!internal && nonempty_object(json_object_get(c, "resources"))))
            continue;
        json_object_set_new(c, "resources", json_deep_copy(d));
    }
}

static json_t *owner_reference(const char *name, const char *uid)
{
    return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "tekton.dev/v1", "kind",
                     "TaskRun", "name", name, "uid", uid, "controller", 1, "blockOwnerDeletion", 1);
}

static json_t *build_metadata(struct build *b, const char *pod_name)
{
    const json_t *meta = json_object_get(b->tr, "metadata");
    json_t *labels = json_object();
    json_t *annotations = json_object();
    const char *key;
    json_t *v;

    json_object_foreach(json_object_get(meta, "labels"), key, v) {
        json_object_set(labels, key, v);
    }
    json_object_set_new(labels, "tekton.dev/taskRun", json_string(b->tr_name));
    json_object_set_new(labels, "tekton.dev/taskRunUID", json_string(b->uid));
    json_object_set_new(
        labels, "app.kubernetes.io/managed-by",
        json_string(b->opts->managed_by ? b->opts->managed_by : DEFAULT_MANAGED_BY));
    json_object_foreach(json_object_get(meta, "annotations"), key, v) {
        if (strcmp(key, "app.kubernetes.io/managed-by") == 0 ||
            strcmp(key, "kubectl.kubernetes.io/last-applied-configuration") == 0)
            continue;
        json_object_set(annotations, key, v);
    }
    json_object_set_new(annotations, "pipeline.tekton.dev/release",
                        json_string(b->opts->release ? b->opts->release : "unknown"));
    if (!b->waits)
        json_object_set_new(annotations, "tekton.dev/ready", json_string("READY"));
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", pod_name, "namespace", b->ns, "labels",
                     labels, "annotations", annotations, "ownerReferences",
                     owner_reference(b->tr_name, b->uid));
}

static void copy_pod_template_fields(const json_t *tpl, json_t *spec)
{
    static const char *const fields[] = {
        "nodeSelector",       "tolerations",
        "affinity",           "securityContext",
        "runtimeClassName",   "automountServiceAccountToken",
        "schedulerName",      "hostNetwork",
        "hostUsers",          "dnsConfig",
        "enableServiceLinks", "imagePullSecrets",
        "hostAliases",        "topologySpreadConstraints",
        "dnsPolicy",          "priorityClassName",
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(tpl, fields[i]);

        if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
            continue;
        if (strcmp(fields[i], "hostNetwork") == 0 && !json_is_true(v))
            continue;
        json_object_set(spec, fields[i], v);
    }
}

/* §5.11 step 3: pin the Pod next to the PipelineRun's affinity assistant */
static void apply_affinity_assistant(const json_t *tr, json_t *spec)
{
    const char *aa = str_at(json_object_get(json_object_get(tr, "metadata"), "annotations"),
                            "pipeline.tekton.dev/affinity-assistant");
    json_t *affinity, *pod_affinity, *terms;

    if (!aa || !*aa)
        return;
    affinity = json_object_get(spec, "affinity");
    affinity = json_is_object(affinity) ? json_deep_copy(affinity) : json_object();
    pod_affinity = jget_child_object(affinity, "podAffinity");
    terms = json_object_get(pod_affinity, "requiredDuringSchedulingIgnoredDuringExecution");
    if (!json_is_array(terms)) {
        terms = json_array();
        json_object_set_new(pod_affinity, "requiredDuringSchedulingIgnoredDuringExecution", terms);
    }
    json_array_append_new(terms,
                          json_pack("{s:{s:{s:s, s:s}}, s:s}", "labelSelector", "matchLabels",
                                    "app.kubernetes.io/instance", aa, "app.kubernetes.io/component",
                                    "affinity-assistant", "topologyKey", "kubernetes.io/hostname"));
    json_object_set_new(spec, "affinity", affinity);
}

static int check_inputs(struct build *b)
{
    const json_t *meta = json_object_get(b->tr, "metadata");

    b->tr_name = str_at(meta, "name");
    b->ns = str_at(meta, "namespace");
    b->uid = str_at(meta, "uid");
    if (!b->tr_name || !*b->tr_name || !b->ns || !*b->ns || !b->uid || !*b->uid)
        return fail(b, -EINVAL, "taskrun lacks metadata.name, metadata.namespace or metadata.uid");
    if (!json_is_object(b->ts))
        return fail(b, -EINVAL, "taskrun '%s/%s' has no resolved task spec", b->ns, b->tr_name);
    if (!nonempty_array(json_object_get(b->ts, "steps")))
        return fail(b, -EINVAL, "task spec of taskrun '%s/%s' has no steps", b->ns, b->tr_name);
    if (!b->opts || !b->opts->entrypoint_image)
        return fail(b, -EINVAL, "no entrypoint image configured");
    return 0;
}

static void build_done(struct build *b)
{
    json_decref(b->missing);
    json_decref(b->step_template);
    json_decref(b->steps);
    json_decref(b->sidecars);
    json_decref(b->task_volumes);
    json_decref(b->pod_template);
    json_decref(b->init_args);
    json_decref(b->workdirs);
    json_decref(b->cred_flags);
    json_decref(b->cred_volumes);
    json_decref(b->cred_mounts);
    free(b->err);
}

int podspec_build(const json_t *taskrun, const json_t *taskspec, const struct podspec_options *opts,
                  json_t **ret_pod, struct podspec_error *reterr)
{
    struct build b = {.tr = taskrun, .ts = taskspec, .opts = opts};
    json_t *containers = json_array();
    json_t *init_containers = json_array();
    json_t *volumes = NULL;
    json_t *pod = NULL;
    json_t *spec;
    const json_t *tr_spec;
    const json_t *item;
    char *pod_name = NULL;
    int64_t timeout_ns;
    size_t i, nsteps;
    int r;

    b.missing = json_array();
    b.init_args = json_array();
    b.workdirs = json_array();
    b.cred_flags = json_array();
    b.cred_volumes = json_array();
    b.cred_mounts = json_array();
    r = check_inputs(&b);
    if (r < 0)
        goto out;
    if (!opts->disable_creds_init) {
        r = collect_credentials(&b);
        if (r < 0)
            goto out;
    }
    tr_spec = json_object_get(taskrun, "spec");
    b.step_template = json_is_object(json_object_get(taskspec, "stepTemplate"))
                          ? json_deep_copy(json_object_get(taskspec, "stepTemplate"))
                          : json_object();
    b.steps = json_deep_copy(json_object_get(taskspec, "steps"));
    b.sidecars = json_is_array(json_object_get(taskspec, "sidecars"))
                     ? json_deep_copy(json_object_get(taskspec, "sidecars"))
                     : json_array();
    b.task_volumes = json_is_array(json_object_get(taskspec, "volumes"))
                         ? json_deep_copy(json_object_get(taskspec, "volumes"))
                         : json_array();
    b.pod_template =
        merge_pod_template(json_object_get(tr_spec, "podTemplate"), opts->default_pod_template);
    b.waits = podspec_waits_for_ready(taskspec, opts);

    r = podspec_timeout_ns(taskrun, opts->default_timeout_minutes, &timeout_ns);
    if (r < 0) {
        r = fail(&b, r, "invalid spec.timeout of taskrun '%s/%s'", b.ns, b.tr_name);
        goto out;
    }
    r = apply_workspaces(&b);
    if (r < 0)
        goto out;

    nsteps = json_array_size(b.steps);
    json_array_foreach(b.steps, i, item) {
        json_t *c = NULL;

        if (!json_is_object(item)) {
            r = fail(&b, -EINVAL, "step %zu of taskrun '%s/%s' is not an object", i, b.ns,
                     b.tr_name);
            goto out;
        }
        r = build_step(&b, item, i, nsteps, &c);
        if (r < 0)
            goto out;
        json_array_append_new(containers, c);
    }
    /* TaskRun-level computeResources, shared out among the steps (§11.1) */
    resources_apply_taskrun(containers,
                            json_object_get(json_object_get(taskrun, "spec"), "computeResources"));
    json_array_foreach(b.sidecars, i, item) {
        json_t *c = NULL;

        r = build_sidecar(&b, item, i, &c);
        if (r < 0)
            goto out;
        json_array_append_new(containers, c);
    }
    if (json_array_size(b.missing) > 0) {
        r = fail(&b, -ENOENT, "taskrun '%s/%s' needs the entrypoint of %zu image(s)", b.ns,
                 b.tr_name, json_array_size(b.missing));
        goto out;
    }
    json_array_append_new(init_containers, build_prepare(&b, b.steps));
    r = build_volumes(&b, nsteps, &volumes);
    if (r < 0)
        goto out;

    pod_name = childname_pod(b.tr_name, json_array_size(json_object_get(
                                            json_object_get(taskrun, "status"), "retriesStatus")));
    spec = json_object();
    json_object_set_new(spec, "restartPolicy", json_string("Never"));
    json_object_set_new(spec, "serviceAccountName",
                        json_string(has_str(tr_spec, "serviceAccountName")
                                        ? str_at(tr_spec, "serviceAccountName")
                                        : "default"));
    json_object_set_new(spec, "activeDeadlineSeconds",
                        json_integer(timeout_ns == 0
                                         ? MAX_DEADLINE
                                         : (json_int_t)((double)timeout_ns / 1e9 * 1.5)));
    if (nonempty_object(opts->default_container_resources)) {
        apply_default_resources(opts->default_container_resources, init_containers, true);
        apply_default_resources(opts->default_container_resources, containers, false);
    }
    json_object_set_new(spec, "initContainers", init_containers);
    init_containers = NULL;
    json_object_set_new(spec, "containers", containers);
    containers = NULL;
    json_object_set_new(spec, "volumes", volumes);
    volumes = NULL;
    copy_pod_template_fields(b.pod_template, spec);
    apply_affinity_assistant(taskrun, spec);

    pod = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                    build_metadata(&b, pod_name), "spec", spec);
    /* Tekton's LimitRange transformer runs on the assembled Pod */
    resources_apply_limitranges(pod, opts->limit_ranges);
    *ret_pod = pod;
    r = 0;
out:
    if (r < 0 && reterr) {
        reterr->message = b.err ? b.err : xstrdup("cannot build pod");
        b.err = NULL;
        reterr->missing_images = NULL;
        if (r == -ENOENT) {
            reterr->missing_images = b.missing;
            b.missing = NULL;
        }
    }
    free(pod_name);
    json_decref(containers);
    json_decref(init_containers);
    json_decref(volumes);
    build_done(&b);
    return r;
}

int podspec_build_pvcs(const json_t *taskrun, json_t **ret_pvcs, char **reterr_message)
{
    const json_t *meta = json_object_get(taskrun, "metadata");
    const char *name = str_at(meta, "name");
    const char *ns = str_at(meta, "namespace");
    const char *uid = str_at(meta, "uid");
    json_t *pvcs;
    size_t i;
    const json_t *wb;

    if (!name || !ns || !uid) {
        if (reterr_message)
            *reterr_message =
                xstrdup("taskrun lacks metadata.name, metadata.namespace or metadata.uid");
        return -EINVAL;
    }
    pvcs = json_array();
    json_array_foreach(json_object_get(json_object_get(taskrun, "spec"), "workspaces"), i, wb) {
        const json_t *vct = json_object_get(wb, "volumeClaimTemplate");
        const json_t *vmeta;
        json_t *pvc_meta;
        char *claim;

        if (!vct)
            continue;
        if (!json_is_object(vct) || !has_str(wb, "name")) {
            if (reterr_message)
                *reterr_message = xasprintf(
                    "invalid volumeClaimTemplate in spec.workspaces[%zu] of taskrun '%s/%s'", i, ns,
                    name);
            json_decref(pvcs);
            return -EINVAL;
        }
        vmeta = json_object_get(vct, "metadata");
        claim = childname_pvc(str_at(vmeta, "name"), str_at(wb, "name"), uid);
        pvc_meta = json_pack("{s:s, s:s}", "name", claim, "namespace", ns);
        if (nonempty_object(json_object_get(vmeta, "labels")))
            json_object_set(pvc_meta, "labels", json_object_get(vmeta, "labels"));
        if (nonempty_object(json_object_get(vmeta, "annotations")))
            json_object_set(pvc_meta, "annotations", json_object_get(vmeta, "annotations"));
        json_object_set_new(pvc_meta, "ownerReferences", owner_reference(name, uid));
        json_array_append_new(pvcs, json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind",
                                              "PersistentVolumeClaim", "metadata", pvc_meta, "spec",
                                              json_is_object(json_object_get(vct, "spec"))
                                                  ? json_deep_copy(json_object_get(vct, "spec"))
                                                  : json_object()));
        free(claim);
    }
    *ret_pvcs = pvcs;
    return 0;
}
