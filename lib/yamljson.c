/*
 * YAML -> jansson through libyaml's event parser, with the limits a config reader needs:
 * input size, nesting depth, no aliases. Scalars resolve as kubectl's YAML library does
 * (YAML 1.1 booleans such as 'yes'/'off' included). Writing YAML is left out.
 */
#include "lib/yamljson.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/xalloc.h"

struct parser {
    yaml_parser_t yp;
    char *err; /* first error, owned */
};

static int fail_at(struct parser *p, const yaml_mark_t *mark, int r, const char *what)
{
    if (!p->err)
        p->err = xasprintf("line %zu, column %zu: %s", mark->line + 1, mark->column + 1, what);
    return r;
}

static int next_event(struct parser *p, yaml_event_t *ev)
{
    if (yaml_parser_parse(&p->yp, ev))
        return 0;
    if (!p->err)
        p->err = xasprintf("line %zu, column %zu: %s", p->yp.problem_mark.line + 1,
                           p->yp.problem_mark.column + 1,
                           p->yp.problem ? p->yp.problem : "malformed YAML");
    return -EINVAL;
}

static bool word_in(const char *s, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    return false;
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                         "y",    "Y",    "on",   "On",  "ON",  NULL};
static const char *const false_words[] = {"false", "False", "FALSE", "no",  "No",  "NO",
                                          "n",     "N",     "off",   "Off", "OFF", NULL};

static bool is_float_text(const char *s)
{
    const char *c = s;
    bool digits = false;

    if (*c == '+' || *c == '-')
        c++;
    while (isdigit((unsigned char)*c)) {
        c++;
        digits = true;
    }
    if (*c == '.') {
        c++;
        while (isdigit((unsigned char)*c)) {
            c++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*c == 'e' || *c == 'E') {
        c++;
        if (*c == '+' || *c == '-')
            c++;
        if (!isdigit((unsigned char)*c))
            return false;
        while (isdigit((unsigned char)*c))
            c++;
    }
    return *c == '\0';
}

/* A plain scalar as a number, or NULL if it is not one. */
static json_t *plain_number(const char *s)
{
    const char *digits = (*s == '+' || *s == '-') ? s + 1 : s;
    char *end = NULL;
    long long v;
    int base = 10;

    if (*digits == '\0')
        return NULL;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
        base = digits[1] == 'x' ? 16 : 8;
        digits += 2;
    } else if (digits[0] == '0' && digits[1] != '\0' && digits[1] != '.' && digits[1] != 'e' &&
               digits[1] != 'E') {
        base = 8; /* YAML 1.1 octal, as kubectl reads it */
    }
    if (isxdigit((unsigned char)*digits)) {
        errno = 0;
        v = strtoll(digits, &end, base);
        if (*end == '\0' && errno == 0)
            return json_integer(*s == '-' ? -v : v);
    }
    if (is_float_text(s))
        return json_real(strtod(s, NULL));
    return NULL;
}

static json_t *scalar_value(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    json_t *num;

    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, YAML_STR_TAG) == 0))
        return json_stringn(s, ev->data.scalar.length);
    if (word_in(s, null_words))
        return json_null();
    if (word_in(s, true_words))
        return json_true();
    if (word_in(s, false_words))
        return json_false();
    num = plain_number(s);
    return num ? num : json_stringn(s, ev->data.scalar.length);
}

static int parse_node(struct parser *p, yaml_event_t *ev, unsigned depth, json_t **ret);

static int parse_children(struct parser *p, json_t *parent, unsigned depth)
{
    bool is_map = json_is_object(parent);
    yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;

    for (;;) {
        yaml_event_t ev;
        json_t *child = NULL;
        char *key = NULL;
        int r;

        r = next_event(p, &ev);
        if (r < 0)
            return r;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (is_map) {
            if (ev.type != YAML_SCALAR_EVENT) {
                r = fail_at(p, &ev.start_mark, -EINVAL, "mapping key is not a scalar");
                yaml_event_delete(&ev);
                return r;
            }
            key = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            yaml_event_delete(&ev);
            r = next_event(p, &ev);
            if (r < 0) {
                free(key);
                return r;
            }
        }
        r = parse_node(p, &ev, depth + 1, &child);
        if (r == 0 && is_map && json_object_set_new(parent, key, child) < 0)
            r = fail_at(p, &p->yp.mark, -EINVAL, "mapping key is not valid UTF-8");
        else if (r == 0 && !is_map)
            json_array_append_new(parent, child);
        free(key);
        if (r < 0)
            return r;
    }
}

/* Consumes 'ev'. */
static int parse_node(struct parser *p, yaml_event_t *ev, unsigned depth, json_t **ret)
{
    json_t *node = NULL;
    int r = 0;

    if (depth > YAMLJSON_MAX_DEPTH) {
        r = fail_at(p, &ev->start_mark, -EINVAL, "nesting deeper than the limit");
        goto out;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        node = scalar_value(ev);
        if (!node)
            r = fail_at(p, &ev->start_mark, -EINVAL, "scalar is not valid UTF-8");
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        node = ev->type == YAML_MAPPING_START_EVENT ? json_object() : json_array();
        r = parse_children(p, node, depth);
        break;
    case YAML_ALIAS_EVENT:
        r = fail_at(p, &ev->start_mark, -EINVAL, "aliases are not supported");
        break;
    default:
        r = fail_at(p, &ev->start_mark, -EINVAL, "unexpected YAML event");
        break;
    }
out:
    yaml_event_delete(ev);
    if (r < 0) {
        json_decref(node);
        return r;
    }
    *ret = node;
    return 0;
}

/* Skip to the first node: STREAM-START, then DOCUMENT-START or STREAM-END. */
static int first_document(struct parser *p, bool *ret_empty)
{
    for (;;) {
        yaml_event_t ev;
        yaml_event_type_t type;
        int r = next_event(p, &ev);

        if (r < 0)
            return r;
        type = ev.type;
        yaml_event_delete(&ev);
        if (type == YAML_DOCUMENT_START_EVENT || type == YAML_STREAM_END_EVENT) {
            *ret_empty = type == YAML_STREAM_END_EVENT;
            return 0;
        }
    }
}

int yamljson_parse(const char *data, size_t len, json_t **ret_json, char **reterr_msg)
{
    struct parser p = {.err = NULL};
    yaml_event_t ev;
    json_t *root = NULL;
    bool empty = false;
    int r;

    if (len > YAMLJSON_MAX_SIZE) {
        *reterr_msg =
            xasprintf("document is %zu bytes, more than the %u-byte limit", len, YAMLJSON_MAX_SIZE);
        return -E2BIG;
    }
    if (!yaml_parser_initialize(&p.yp)) {
        *reterr_msg = xstrdup("cannot initialise the YAML parser");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)data, len);
    r = first_document(&p, &empty);
    if (r < 0 || empty)
        goto out;
    r = next_event(&p, &ev);
    if (r < 0)
        goto out;
    r = parse_node(&p, &ev, 0, &root);
    if (r < 0)
        goto out;
    /* Reading DOCUMENT-END surfaces errors after the root node ("a: 1\n]"). */
    r = next_event(&p, &ev);
    if (r == 0)
        yaml_event_delete(&ev);
out:
    yaml_parser_delete(&p.yp);
    if (r < 0) {
        json_decref(root);
        *reterr_msg = p.err ? p.err : xstrdup("malformed YAML");
        return r;
    }
    free(p.err);
    *ret_json = root ? root : json_null();
    return 0;
}
