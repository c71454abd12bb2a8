/*
 * Termination-message entries: encoding compatible with Tekton's Go writer, parsing of what
 * an earlier write left, and the size-checked write. Compression (alpha "tknz:") is left
 * out: a plain message is always valid for readers.
 */
#include "controller/entrypoint/termmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/minijson.h"

void termmsg_init(struct termmsg *m)
{
    m->entries = NULL;
    m->len = 0;
    m->cap = 0;
}

void termmsg_done(struct termmsg *m)
{
    for (size_t i = 0; i < m->len; i++) {
        free(m->entries[i].key);
        free(m->entries[i].value);
    }
    free(m->entries);
    termmsg_init(m);
}

void termmsg_add(struct termmsg *m, const char *key, const char *value, size_t value_len, int type)
{
    struct termmsg_entry *e;

    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->entries = estr_realloc(m->entries, m->cap * sizeof(*m->entries));
    }
    e = &m->entries[m->len++];
    e->key = estr_dup(key);
    e->value = estr_ndup(value, value_len);
    e->value_len = value_len;
    e->type = type;
}

void termmsg_extend(struct termmsg *m, const struct termmsg *src)
{
    for (size_t i = 0; i < src->len; i++)
        termmsg_add(m, src->entries[i].key, src->entries[i].value, src->entries[i].value_len,
                    src->entries[i].type);
}

/*
 * Length of the valid UTF-8 sequence at p (at most 'avail' bytes), or 0 if invalid; the
 * same acceptance as Go's utf8.DecodeRune (no overlongs, surrogates or > U+10FFFF).
 */
static size_t utf8_valid_len(const unsigned char *p, size_t avail, uint32_t *ret_cp)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    uint32_t cp;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    cp = (cp << 6) | (p[1] & 0x3f);
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    *ret_cp = cp;
    return n;
}

static void encode_string(const char *s, size_t len, struct estr *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    estr_putc(out, '"');
    while (i < len) {
        unsigned char c = p[i];
        uint32_t cp = 0;
        size_t n;

        if (c < 0x80) {
            switch (c) {
            case '"':
                estr_append(out, "\\\"", 2);
                break;
            case '\\':
                estr_append(out, "\\\\", 2);
                break;
            case '\b':
                estr_append(out, "\\b", 2);
                break;
            case '\f':
                estr_append(out, "\\f", 2);
                break;
            case '\n':
                estr_append(out, "\\n", 2);
                break;
            case '\r':
                estr_append(out, "\\r", 2);
                break;
            case '\t':
                estr_append(out, "\\t", 2);
                break;
            case '<':
            case '>':
            case '&':
                /* Go's json.Marshal escapes HTML-significant bytes by default */
                estr_append(out, "\\u00", 4);
                estr_putc(out, hex[c >> 4]);
                estr_putc(out, hex[c & 15]);
                break;
            default:
                if (c < 0x20) {
                    estr_append(out, "\\u00", 4);
                    estr_putc(out, hex[c >> 4]);
                    estr_putc(out, hex[c & 15]);
                } else {
                    estr_putc(out, (char)c);
                }
            }
            i++;
            continue;
        }
        n = utf8_valid_len(p + i, len - i, &cp);
        if (n == 0) {
            estr_append(out, "\\ufffd", 6);
            i++;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            estr_append(out, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
        } else {
            estr_append(out, p + i, n);
        }
        i += n;
    }
    estr_putc(out, '"');
}

void termmsg_encode(const struct termmsg *m, struct estr *out)
{
    estr_putc(out, '[');
    for (size_t i = 0; i < m->len; i++) {
        const struct termmsg_entry *e = &m->entries[i];

        if (i > 0)
            estr_putc(out, ',');
        estr_append_str(out, "{\"key\":");
        encode_string(e->key, strlen(e->key), out);
        estr_append_str(out, ",\"value\":");
        encode_string(e->value, e->value_len, out);
        if (e->type != 0)
            estr_printf(out, ",\"type\":%d", e->type);
        estr_putc(out, '}');
    }
    estr_putc(out, ']');
}

static int type_from_json(const struct minijson *v, int *ret)
{
    static const struct {
        const char *name;
        int type;
    } legacy[] = {
        {"TaskRunResult", TERMMSG_TASK_RESULT},
        {"InternalTektonResult", TERMMSG_INTERNAL},
        {"StepResult", TERMMSG_STEP_RESULT},
        {"StepArtifactsResult", TERMMSG_STEP_ARTIFACTS},
        {"TaskRunArtifactsResult", TERMMSG_TASK_ARTIFACTS},
    };
    char *end;
    long n;

    if (!v || v->kind == MINIJSON_NULL) {
        *ret = 0;
        return 0;
    }
    if (v->kind == MINIJSON_STRING) {
        *ret = TERMMSG_UNKNOWN;
        for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
            if (strcmp(v->str, legacy[i].name) == 0)
                *ret = legacy[i].type;
        }
        return 0;
    }
    if (v->kind != MINIJSON_NUMBER)
        return -EINVAL;
    errno = 0;
    n = strtol(v->str, &end, 10);
    if (errno != 0 || *end != '\0' || n < INT32_MIN || n > INT32_MAX)
        return -EINVAL; /* Go refuses fractions and exponents for an int field */
    *ret = (int)n;
    return 0;
}

/* A string field, or NULL (absent) meaning ""; any other JSON kind is an error. */
static int string_field(const struct minijson *obj, const char *name, const struct minijson **ret)
{
    const struct minijson *v = minijson_get(obj, name, true);

    if (v && v->kind == MINIJSON_NULL)
        v = NULL;
    if (v && v->kind != MINIJSON_STRING)
        return -EINVAL;
    *ret = v;
    return 0;
}

int termmsg_parse(const char *text, size_t len, struct termmsg *m)
{
    struct minijson *root = NULL;
    struct termmsg parsed;
    int r;

    termmsg_init(&parsed);
    r = minijson_parse(text, len, &root);
    if (r < 0)
        goto out;
    if (root->kind != MINIJSON_ARRAY) {
        r = -EINVAL;
        goto out;
    }
    for (size_t i = 0; i < root->count; i++) {
        const struct minijson *item = &root->items[i];
        const struct minijson *key, *value;
        int type;

        if (item->kind == MINIJSON_NULL) {
            termmsg_add(&parsed, "", "", 0, 0);
            continue;
        }
        if (item->kind != MINIJSON_OBJECT) {
            r = -EINVAL;
            goto out;
        }
        r = string_field(item, "key", &key);
        if (r == 0)
            r = string_field(item, "value", &value);
        if (r == 0)
            r = type_from_json(minijson_get(item, "type", true), &type);
        if (r < 0)
            goto out;
        termmsg_add(&parsed, key ? key->str : "", value ? value->str : "",
                    value ? value->str_len : 0, type);
    }
    termmsg_extend(m, &parsed);
    r = 0;
out:
    termmsg_done(&parsed);
    minijson_free(root);
    return r;
}

int termmsg_write(const char *path, const struct termmsg *add)
{
    struct estr old, out;
    struct termmsg all;
    int fd = -1;
    int r;

    estr_init(&old);
    estr_init(&out);
    termmsg_init(&all);

    /* an earlier write by this step is the only expected content; bound what we read */
    r = estr_read_file(&old, path, 1024 * 1024);
    if (r < 0 && r != -ENOENT && r != -E2BIG)
        goto out;
    if (r == 0 && old.len > 0)
        (void)termmsg_parse(old.data, old.len, &all); /* unparseable: overwrite, as Tekton */
    termmsg_extend(&all, add);
    termmsg_encode(&all, &out);
    if (out.len > TERMMSG_MAX_BYTES) {
        r = -EMSGSIZE;
        goto out;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = estr_write_all(fd, out.data, out.len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
out:
    if (fd >= 0)
        close(fd);
    termmsg_done(&all);
    estr_done(&out);
    estr_done(&old);
    return r;
}
