/*
 * The `$(...)` substitution engine of Tekton (tekton-taskrun.md §4.1, §4.4): a key table, a
 * single-pass string replacer, array-aware list expansion and a walker over the JSON fields
 * Tekton substitutes. It knows nothing of which variables exist: taskrun_resolve builds the
 * tables phase by phase.
 */
#include "controller/substitute.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

struct substitute_table {
    json_t *map;    /* key -> json string | array of strings | object of strings */
    size_t max_key; /* the longest key: longer candidates are not looked up (keeps it linear) */
};

static void note_key(struct substitute_table *t, const char *key)
{
    size_t n = strlen(key);

    if (n > t->max_key)
        t->max_key = n;
}

struct substitute_table *substitute_table_new(void)
{
    struct substitute_table *t = xcalloc(1, sizeof(*t));

    t->map = json_object();
    return t;
}

void substitute_table_free(struct substitute_table *t)
{
    if (!t)
        return;
    json_decref(t->map);
    free(t);
}

void substitute_table_set_string(struct substitute_table *t, const char *key, const char *value)
{
    /* jansson refuses invalid UTF-8; such a key can never match valid JSON text anyway */
    (void)json_object_set_new(t->map, key, json_string(value));
    note_key(t, key);
}

/* A deep copy of an array or object keeping only its string members. */
static json_t *strings_only_copy(const json_t *v)
{
    json_t *copy = json_deep_copy(v);
    json_t *item;
    const char *k;
    void *tmp;
    size_t i;

    if (json_is_array(copy)) {
        for (i = json_array_size(copy); i > 0; i--) {
            if (!json_is_string(json_array_get(copy, i - 1)))
                json_array_remove(copy, i - 1);
        }
        return copy;
    }
    json_object_foreach_safe(copy, tmp, k, item)
    {
        if (!json_is_string(item))
            json_object_del(copy, k);
    }
    return copy;
}

void substitute_table_set_array(struct substitute_table *t, const char *key, const json_t *array)
{
    if (json_is_array(array)) {
        (void)json_object_set_new(t->map, key, strings_only_copy(array));
        note_key(t, key);
    }
}

void substitute_table_set_object(struct substitute_table *t, const char *key, const json_t *object)
{
    if (json_is_object(object)) {
        (void)json_object_set_new(t->map, key, strings_only_copy(object));
        note_key(t, key);
    }
}

void substitute_table_merge(struct substitute_table *t, const struct substitute_table *from)
{
    (void)json_object_update(t->map, from->map);
    if (from->max_key > t->max_key)
        t->max_key = from->max_key;
}

const char *substitute_table_get_string(const struct substitute_table *t, const char *key)
{
    return json_string_value(json_object_get(t->map, key));
}

size_t substitute_table_size(const struct substitute_table *t)
{
    return json_object_size(t->map);
}

int substitute_string(const struct substitute_table *t, const char *s, char **ret)
{
    const char *end = s + strlen(s);
    const char *close = NULL; /* first ')' at or after the current "$(" + 2, cached */
    const char *p = s;
    const char *q = s;
    struct buf b;
    int r = 0;

    /* memchr over known lengths, not strstr: scanning stays linear even for "$($($(..." and
     * under ASan, whose string interceptors re-measure the whole tail on every call */
    buf_init(&b, SUBSTITUTE_MAX_STRING);
    while (r == 0 && (q = memchr(q, '$', (size_t)(end - q))) != NULL) {
        const char *value;
        size_t klen;

        if (q + 1 >= end || q[1] != '(') {
            q++;
            continue;
        }
        if (!close || close < q + 2)
            close = memchr(q + 2, ')', (size_t)(end - q - 2));
        if (!close)
            break; /* no ')' left: nothing further can match */
        klen = (size_t)(close - q - 2);
        value =
            klen <= t->max_key ? json_string_value(json_object_getn(t->map, q + 2, klen)) : NULL;
        if (!value) {
            /* no key here: keep the '$' and rescan from the next byte, as Go's Replacer does */
            q++;
            continue;
        }
        r = buf_append(&b, p, (size_t)(q - p));
        if (r == 0)
            r = buf_append_str(&b, value);
        p = q = close + 1;
    }
    if (r == 0)
        r = buf_append(&b, p, (size_t)(end - p));
    if (r < 0) {
        buf_done(&b);
        return r;
    }
    *ret = buf_take(&b);
    return 0;
}

const json_t *substitute_whole_ref(const struct substitute_table *t, const char *s)
{
    size_t len = strlen(s);
    const json_t *v;
    bool star;

    if (len < 3 || strncmp(s, "$(", 2) != 0 || s[len - 1] != ')')
        return NULL;
    if (len - 3 > t->max_key)
        return NULL;
    star = len >= 6 && strncmp(s + len - 4, "[*])", 4) == 0;
    if (star) {
        v = json_object_getn(t->map, s + 2, len - 6);
        if (json_is_array(v) || json_is_object(v))
            return v;
    }
    v = json_object_getn(t->map, s + 2, len - 3);
    return json_is_array(v) ? v : NULL;
}

bool substitute_find_ref(const char *s, const char *prefix, size_t *ret_start, size_t *ret_len)
{
    size_t plen = strlen(prefix);
    const char *end = s + strlen(s);
    const char *q = s;

    while ((q = memchr(q, '$', (size_t)(end - q))) != NULL) {
        const char *close;

        if (q + 1 >= end || q[1] != '(' || (size_t)(end - q - 2) < plen ||
            memcmp(q + 2, prefix, plen) != 0) {
            q++;
            continue;
        }
        close = memchr(q + 2, ')', (size_t)(end - q - 2));
        if (!close)
            return false;
        *ret_start = (size_t)(q - s);
        *ret_len = (size_t)(close - q) + 1;
        return true;
    }
    return false;
}

/* ---- the JSON walker ---- */

struct walk {
    const struct substitute_table *t;
    size_t growth;   /* bytes added so far by this call */
    struct buf path; /* the field being visited, for error messages */
    char *err_path;
};

enum seg_kind {
    SEG_MEMBER,
    SEG_EACH,
    SEG_EXPAND,
    SEG_PARAMS,
    SEG_VALUES,
    SEG_DEEP,
    SEG_JSON,
};

static const struct {
    const char *suffix;
    enum seg_kind kind;
} seg_suffixes[] = {
    {"[]*", SEG_EXPAND}, {"[]=", SEG_PARAMS}, {"[]", SEG_EACH},
    {"{}", SEG_VALUES},  {"**", SEG_DEEP},    {"~", SEG_JSON},
};

static void path_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

static int fail(struct walk *w)
{
    if (!w->err_path)
        w->err_path = xstrdup(buf_str(&w->path));
    return -E2BIG;
}

/* Substitute one JSON string value in place. */
static int subst_value(struct walk *w, json_t *v)
{
    const char *old = json_string_value(v);
    char *out = NULL;
    size_t oldlen;
    size_t newlen;
    int r;

    if (!old || !strstr(old, "$("))
        return 0;
    r = substitute_string(w->t, old, &out);
    if (r < 0)
        return fail(w);
    oldlen = strlen(old);
    newlen = strlen(out);
    if (newlen > oldlen)
        w->growth += newlen - oldlen;
    if (w->growth > SUBSTITUTE_MAX_GROWTH) {
        free(out);
        return fail(w);
    }
    (void)json_string_set(v, out); /* concatenated UTF-8 stays valid UTF-8 */
    free(out);
    return 0;
}

static int account_array(struct walk *w, const json_t *array)
{
    const json_t *item;
    size_t i;

    json_array_foreach(array, i, item) {
        w->growth += json_string_length(item);
    }
    return w->growth > SUBSTITUTE_MAX_GROWTH ? fail(w) : 0;
}

/* Array-aware substitution of a list of strings, in place. */
static int expand_list(struct walk *w, json_t *list)
{
    json_t *out = json_array();
    json_t *item;
    size_t i;
    int r = 0;

    json_array_foreach(list, i, item) {
        const json_t *whole =
            json_is_string(item) ? substitute_whole_ref(w->t, json_string_value(item)) : NULL;

        if (json_is_array(whole)) {
            const json_t *elem;
            size_t j;

            r = account_array(w, whole);
            json_array_foreach(whole, j, elem) {
                json_array_append_new(out, json_deep_copy(elem));
            }
        } else {
            r = subst_value(w, item);
            json_array_append(out, item);
        }
        if (r < 0)
            break;
    }
    if (r == 0) {
        json_array_clear(list);
        json_array_extend(list, out);
    }
    json_decref(out);
    return r;
}

static int deep(struct walk *w, json_t *v)
{
    json_t *item;
    const char *k;
    size_t i;
    int r = 0;

    if (json_is_string(v))
        return subst_value(w, v);
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            r = deep(w, item);
            if (r < 0)
                return r;
        }
    }
    if (json_is_object(v)) {
        json_object_foreach(v, k, item) {
            r = deep(w, item);
            if (r < 0)
                return r;
        }
    }
    return r;
}

/* A param's "value": string, array or object (tekton-taskrun.md §4.1 on param lists). */
static int subst_param(struct walk *w, json_t *param)
{
    json_t *value = json_object_get(param, "value");
    const json_t *whole;

    if (json_is_array(value))
        return expand_list(w, value);
    if (json_is_object(value))
        return deep(w, value);
    if (!json_is_string(value))
        return 0;
    whole = substitute_whole_ref(w->t, json_string_value(value));
    if (!whole)
        return subst_value(w, value);
    if (json_is_array(whole) && account_array(w, whole) < 0)
        return -E2BIG;
    return json_object_set_new(param, "value", json_deep_copy(whole)) ? -EINVAL : 0;
}

/* A string that is exactly a whole-array reference becomes the array's JSON text (when.input);
 * anything else is substituted as usual. */
static int subst_json_text(struct walk *w, json_t *v)
{
    const json_t *whole =
        json_is_string(v) ? substitute_whole_ref(w->t, json_string_value(v)) : NULL;
    char *text;
    int r;

    if (!json_is_array(whole))
        return subst_value(w, v);
    text = json_dumps(whole, JSON_COMPACT);
    if (!text)
        return 0;
    w->growth += strlen(text);
    r = w->growth > SUBSTITUTE_MAX_GROWTH ? fail(w) : 0;
    if (r == 0)
        (void)json_string_set(v, text);
    free(text);
    return r;
}

static int walk_path(struct walk *w, json_t *node, const char *path);

static int walk_child(struct walk *w, json_t *child, enum seg_kind kind, const char *rest)
{
    json_t *item;
    const char *k;
    size_t mark = buf_len(&w->path);
    size_t i;
    int r = 0;

    if (kind == SEG_MEMBER)
        return rest ? walk_path(w, child, rest) : subst_value(w, child);
    if (kind == SEG_DEEP)
        return deep(w, child);
    if (kind == SEG_JSON)
        return subst_json_text(w, child);
    if (kind == SEG_EXPAND)
        return json_is_array(child) ? expand_list(w, child) : 0;
    if (json_is_array(child) && kind != SEG_VALUES) {
        json_array_foreach(child, i, item) {
            (void)buf_printf(&w->path, "[%zu]", i);
            if (kind == SEG_PARAMS)
                r = subst_param(w, item);
            else
                r = rest ? walk_path(w, item, rest) : subst_value(w, item);
            path_truncate(&w->path, mark);
            if (r < 0)
                return r;
        }
    }
    if (json_is_object(child) && kind == SEG_VALUES) {
        json_object_foreach(child, k, item) {
            (void)buf_printf(&w->path, ".%s", k);
            r = rest ? walk_path(w, item, rest) : subst_value(w, item);
            path_truncate(&w->path, mark);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int walk_path(struct walk *w, json_t *node, const char *path)
{
    const char *dot = strchr(path, '.');
    size_t seg_len = dot ? (size_t)(dot - path) : strlen(path);
    enum seg_kind kind = SEG_MEMBER;
    size_t mark = buf_len(&w->path);
    json_t *child;
    int r;

    for (size_t i = 0; i < sizeof(seg_suffixes) / sizeof(seg_suffixes[0]); i++) {
        size_t sl = strlen(seg_suffixes[i].suffix);

        if (seg_len > sl && memcmp(path + seg_len - sl, seg_suffixes[i].suffix, sl) == 0) {
            kind = seg_suffixes[i].kind;
            seg_len -= sl;
            break;
        }
    }
    child = json_object_getn(node, path, seg_len);
    if (!child)
        return 0;
    (void)buf_printf(&w->path, "%s%.*s", mark ? "." : "", (int)seg_len, path);
    r = walk_child(w, child, kind, dot ? dot + 1 : NULL);
    path_truncate(&w->path, mark);
    return r;
}

static int walk_paths(struct walk *w, json_t *node, const char *const *paths)
{
    int r;

    for (size_t i = 0; paths[i]; i++) {
        r = walk_path(w, node, paths[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static void walk_init(struct walk *w, const struct substitute_table *t)
{
    w->t = t;
    w->growth = 0;
    buf_init(&w->path, 4096);
    w->err_path = NULL;
}

static int walk_done(struct walk *w, int r, char **reterr_path)
{
    if (r < 0 && reterr_path)
        *reterr_path = w->err_path ? w->err_path : xstrdup("");
    else
        free(w->err_path);
    buf_done(&w->path);
    return r;
}

int substitute_json(json_t *root, const char *const *paths, const struct substitute_table *t,
                    char **reterr_path)
{
    struct walk w;

    walk_init(&w, t);
    return walk_done(&w, walk_paths(&w, root, paths), reterr_path);
}

/* Walk each element of the array member 'name' of 'spec' with 'paths'. */
static int walk_list(struct walk *w, json_t *spec, const char *name, const char *const *paths)
{
    json_t *list = json_object_get(spec, name);
    json_t *item;
    size_t i;
    int r;

    json_array_foreach(list, i, item) {
        (void)buf_printf(&w->path, "%s[%zu]", name, i);
        r = walk_paths(w, item, paths);
        path_truncate(&w->path, 0);
        if (r < 0)
            return r;
    }
    return 0;
}

int substitute_taskspec(json_t *spec, const struct substitute_table *t, char **reterr_path)
{
    static const char *const workspace_fields[] = {"mountPath", NULL};
    json_t *tmpl = json_object_get(spec, "stepTemplate");
    struct walk w;
    int r;

    walk_init(&w, t);
    r = walk_list(&w, spec, "steps", substitute_step_fields);
    if (r == 0 && json_is_object(tmpl)) {
        (void)buf_append_str(&w.path, "stepTemplate");
        r = walk_paths(&w, tmpl, substitute_step_template_fields);
        path_truncate(&w.path, 0);
    }
    if (r == 0)
        r = walk_list(&w, spec, "volumes", substitute_volume_fields);
    if (r == 0)
        r = walk_list(&w, spec, "workspaces", workspace_fields);
    if (r == 0)
        r = walk_list(&w, spec, "sidecars", substitute_sidecar_fields);
    return walk_done(&w, r, reterr_path);
}

#define CONTAINER_FIELDS                                                                           \
    "name", "image", "imagePullPolicy", "command[]*", "args[]*", "workingDir", "env[].value",      \
        "env[].valueFrom.secretKeyRef.name", "env[].valueFrom.secretKeyRef.key",                   \
        "env[].valueFrom.configMapKeyRef.name", "env[].valueFrom.configMapKeyRef.key",             \
        "envFrom[].prefix", "envFrom[].configMapRef.name", "envFrom[].secretRef.name",             \
        "volumeMounts[].name", "volumeMounts[].mountPath", "volumeMounts[].subPath"

const char *const substitute_step_fields[] = {
    CONTAINER_FIELDS, "script",           "onError",    "stdoutConfig.path", "stderrConfig.path",
    "when[].input~",  "when[].values[]*", "when[].cel", "params[]=",         NULL,
};

const char *const substitute_step_template_fields[] = {CONTAINER_FIELDS, NULL};

const char *const substitute_sidecar_fields[] = {CONTAINER_FIELDS, "script", NULL};

const char *const substitute_volume_fields[] = {
    "name",
    "configMap.name",
    "configMap.items[].key",
    "configMap.items[].path",
    "secret.secretName",
    "secret.items[].key",
    "secret.items[].path",
    "persistentVolumeClaim.claimName",
    "projected.sources[].configMap.name",
    "projected.sources[].secret.name",
    "projected.sources[].serviceAccountToken.audience",
    "csi.nodePublishSecretRef.name",
    "csi.volumeAttributes{}",
    NULL,
};

const char *const substitute_binding_fields[] = {
    "subPath",
    "persistentVolumeClaim.claimName",
    "configMap.name",
    "configMap.items[].key",
    "configMap.items[].path",
    "secret.secretName",
    "secret.items[].key",
    "secret.items[].path",
    "projected.sources[].configMap.name",
    "projected.sources[].configMap.items[].key",
    "projected.sources[].configMap.items[].path",
    "projected.sources[].secret.name",
    "projected.sources[].secret.items[].key",
    "projected.sources[].secret.items[].path",
    "csi.driver",
    "csi.nodePublishSecretRef.name",
    NULL,
};

const char *const substitute_pod_template_fields[] = {
    "nodeSelector{}",
    "tolerations[].key",
    "tolerations[].value",
    "tolerations[].operator",
    "tolerations[].effect",
    "affinity**",
    "securityContext.seLinuxOptions**",
    "securityContext.windowsOptions**",
    "securityContext.supplementalGroupsPolicy",
    "securityContext.sysctls**",
    "securityContext.fsGroupChangePolicy",
    "securityContext.seccompProfile**",
    "runtimeClassName",
    "schedulerName",
    "priorityClassName",
    "imagePullSecrets[].name",
    "hostAliases[].ip",
    "hostAliases[].hostnames[]",
    "topologySpreadConstraints[].topologyKey",
    "topologySpreadConstraints[].labelSelector**",
    "dnsPolicy",
    "dnsConfig**",
    "volumes**",
    "env**",
    NULL,
};
