/*
 * Recursive-descent JSON reader producing a small tree. It only reads: the entrypoint's one
 * writer (the termination message) has its own encoder in termmsg.c.
 */
#include "controller/entrypoint/minijson.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "controller/entrypoint/estr.h"

struct parser {
    const char *p;
    const char *end;
    int depth;
};

static void value_done(struct minijson *v)
{
    for (size_t i = 0; i < v->count; i++) {
        value_done(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void minijson_free(struct minijson *v)
{
    if (!v)
        return;
    value_done(v);
    free(v);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *p, uint32_t *ret)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -EINVAL;
    }
    *ret = v;
    return 0;
}

static void put_utf8(struct estr *out, uint32_t cp)
{
    char b[4];

    if (cp < 0x80) {
        b[0] = (char)cp;
        estr_append(out, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        estr_append(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        estr_append(out, b, 3);
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        estr_append(out, b, 4);
    }
}

/* Parse a string starting at the opening quote into 'out'. */
static int parse_string(struct parser *ps, struct estr *out)
{
    ps->p++; /* opening quote */
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;

        if (c == '"') {
            ps->p++;
            return 0;
        }
        if (c < 0x20)
            return -EINVAL;
        if (c != '\\') {
            estr_putc(out, (char)c);
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2)
            return -EINVAL;
        c = (unsigned char)ps->p[1];
        ps->p += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            estr_putc(out, (char)c);
            break;
        case 'b':
            estr_putc(out, '\b');
            break;
        case 'f':
            estr_putc(out, '\f');
            break;
        case 'n':
            estr_putc(out, '\n');
            break;
        case 'r':
            estr_putc(out, '\r');
            break;
        case 't':
            estr_putc(out, '\t');
            break;
        case 'u': {
            uint32_t cp, lo;

            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
                return -EINVAL;
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u' && hex4(ps->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;
            }
            put_utf8(out, cp);
            break;
        }
        default:
            return -EINVAL;
        }
    }
    return -EINVAL;
}

static int parse_value(struct parser *ps, struct minijson *v);

static int parse_number(struct parser *ps, struct minijson *v)
{
    const char *start = ps->p;
    const char *p = ps->p;

    if (p < ps->end && *p == '-')
        p++;
    if (p >= ps->end)
        return -EINVAL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return -EINVAL;
    }
    if (p < ps->end && *p == '.') {
        p++;
        if (p >= ps->end || !(*p >= '0' && *p <= '9'))
            return -EINVAL;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || !(*p >= '0' && *p <= '9'))
            return -EINVAL;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    v->kind = MINIJSON_NUMBER;
    v->str = estr_ndup(start, (size_t)(p - start));
    v->str_len = (size_t)(p - start);
    ps->p = p;
    return 0;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

/* Grow v->items (and v->keys for objects) by one zeroed slot; returns it. */
static struct minijson *add_item(struct minijson *v, size_t *cap)
{
    if (v->count == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        v->items = estr_realloc(v->items, *cap * sizeof(*v->items));
        if (v->kind == MINIJSON_OBJECT)
            v->keys = estr_realloc(v->keys, *cap * sizeof(*v->keys));
    }
    memset(&v->items[v->count], 0, sizeof(v->items[0]));
    if (v->kind == MINIJSON_OBJECT)
        v->keys[v->count] = NULL;
    return &v->items[v->count++];
}

static int parse_container(struct parser *ps, struct minijson *v, bool is_object)
{
    char close = is_object ? '}' : ']';
    size_t cap = 0;
    int r;

    if (++ps->depth > MINIJSON_MAX_DEPTH)
        return -EINVAL;
    v->kind = is_object ? MINIJSON_OBJECT : MINIJSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        struct minijson *item;

        skip_ws(ps);
        item = add_item(v, &cap);
        if (is_object) {
            struct estr key;

            if (ps->p >= ps->end || *ps->p != '"')
                return -EINVAL;
            estr_init(&key);
            r = parse_string(ps, &key);
            v->keys[v->count - 1] = estr_take(&key);
            if (r < 0)
                return r;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return -EINVAL;
            ps->p++;
        }
        r = parse_value(ps, item);
        if (r < 0)
            return r;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return -EINVAL;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return -EINVAL;
    }
}

static int parse_value(struct parser *ps, struct minijson *v)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return -EINVAL;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, v, true);
    case '[':
        return parse_container(ps, v, false);
    case '"': {
        struct estr s;
        int r;

        estr_init(&s);
        v->kind = MINIJSON_STRING;
        r = parse_string(ps, &s);
        v->str_len = s.len;
        v->str = estr_take(&s);
        return r;
    }
    case 't':
        v->kind = MINIJSON_BOOL;
        v->boolean = true;
        return literal(ps, "true") ? 0 : -EINVAL;
    case 'f':
        v->kind = MINIJSON_BOOL;
        return literal(ps, "false") ? 0 : -EINVAL;
    case 'n':
        v->kind = MINIJSON_NULL;
        return literal(ps, "null") ? 0 : -EINVAL;
    default:
        return parse_number(ps, v);
    }
}

int minijson_parse(const char *text, size_t len, struct minijson **ret_value)
{
    struct parser ps = {.p = text, .end = text + len, .depth = 0};
    struct minijson *v = estr_malloc(sizeof(*v));
    int r;

    memset(v, 0, sizeof(*v));
    r = parse_value(&ps, v);
    if (r == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            r = -EINVAL;
    }
    if (r < 0) {
        minijson_free(v);
        return r;
    }
    *ret_value = v;
    return 0;
}

const struct minijson *minijson_get(const struct minijson *obj, const char *key, bool fold_case)
{
    const struct minijson *found = NULL;

    if (!obj || obj->kind != MINIJSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->count; i++) {
        bool same = fold_case ? strcasecmp(obj->keys[i], key) == 0 : strcmp(obj->keys[i], key) == 0;

        if (same)
            found = &obj->items[i];
    }
    return found;
}

bool minijson_is_string(const struct minijson *v)
{
    return v && v->kind == MINIJSON_STRING;
}
