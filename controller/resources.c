#include "controller/resources.h"

/*
 * Step compute resources: Kubernetes quantities held as int64 thousandths of a unit (enough
 * for 9.2 PB of memory), Tekton's task-level division (pkg/internal/computeresources/
 * tasklevel) and its LimitRange transformer (pkg/internal/limitrange). What the API server's
 * own LimitRanger admission does afterwards (limits, init containers, sidecars) is left to it.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonget.h"
#include "lib/xalloc.h"

#define MILLI_MAX INT64_MAX

static json_t *unconst(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u = {.c = v};

    return u.m;
}

static bool nonempty_object(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) > 0;
}

/* a * b, or -ERANGE past MILLI_MAX (both non-negative) */
static int mul(uint64_t a, uint64_t b, uint64_t *ret)
{
    if (a != 0 && b > (uint64_t)MILLI_MAX / a)
        return -ERANGE;
    *ret = a * b;
    return 0;
}

static int pow10_u(int e, uint64_t *ret)
{
    uint64_t v = 1;

    if (e > 18)
        return -ERANGE;
    for (int i = 0; i < e; i++)
        v *= 10;
    *ret = v;
    return 0;
}

/* the suffix's power: base 2 or 10, and the exponent */
static int parse_suffix(const char *s, int *ret_base, int *ret_exp, enum resources_format *ret_fmt)
{
    static const struct {
        const char *suffix;
        int base;
        int exp;
    } table[] = {
        {"Ki", 2, 10}, {"Mi", 2, 20}, {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
        {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"", 10, 0},   {"k", 10, 3},  {"M", 10, 6},
        {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(s, table[i].suffix) == 0) {
            *ret_base = table[i].base;
            *ret_exp = table[i].exp;
            *ret_fmt = table[i].base == 2 ? RESOURCES_BINARY_SI : RESOURCES_DECIMAL_SI;
            return 0;
        }
    }
    /* "e3", "E-2": a decimal exponent ("E" alone is exa, matched above) */
    if ((s[0] == 'e' || s[0] == 'E') && s[1]) {
        char *end = NULL;
        long e = strtol(s + 1, &end, 10);

        if (!end || *end || s[1] == ' ' || s[1] == '+' || e < -40 || e > 40)
            return -EINVAL;
        *ret_base = 10;
        *ret_exp = (int)e;
        *ret_fmt = RESOURCES_DECIMAL_EXPONENT;
        return 0;
    }
    return -EINVAL;
}

int resources_quantity_parse(const char *text, int64_t *ret_milli,
                             enum resources_format *ret_format)
{
    const char *p = text;
    uint64_t mant = 0;
    uint64_t milli = 0;
    uint64_t scale;
    int frac = 0, digits = 0, base, exp, r;
    bool negative = false, dot = false;
    enum resources_format format;

    if (!text)
        return -EINVAL;
    if (*p == '+' || *p == '-')
        negative = *p++ == '-';
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !dot); p++) {
        if (*p == '.') {
            dot = true;
            continue;
        }
        digits++;
        if (mant == 0 && *p == '0' && !dot)
            continue; /* leading zeros */
        if (mant > ((uint64_t)MILLI_MAX - 9) / 10) {
            if (dot)
                continue; /* digits beyond int64 precision after the point: dropped */
            return -ERANGE;
        }
        mant = mant * 10 + (uint64_t)(*p - '0');
        if (dot)
            frac++;
    }
    if (digits == 0)
        return -EINVAL;
    r = parse_suffix(p, &base, &exp, &format);
    if (r < 0)
        return r;
    while (frac > 0 && mant % 10 == 0) {
        mant /= 10;
        frac--;
    }
    if (base == 10) {
        int e10 = exp + 3 - frac;

        if (e10 >= 0) {
            r = pow10_u(e10, &scale);
            if (r == 0)
                r = mul(mant, scale, &milli);
            if (r < 0 && mant != 0)
                return -ERANGE;
        } else if (pow10_u(-e10, &scale) < 0) {
            milli = mant != 0; /* far below a thousandth: rounds up to one */
        } else {
            milli = mant / scale + (mant % scale != 0);
        }
    } else {
        uint64_t x;

        if (frac <= 3) {
            r = pow10_u(3 - frac, &scale);
            if (r == 0)
                r = mul(mant, scale, &x);
            if (r == 0)
                r = mul(x, (uint64_t)1 << exp, &milli);
        } else {
            r = mul(mant, (uint64_t)1 << exp, &x);
            if (r == 0)
                r = pow10_u(frac - 3, &scale);
            if (r == 0)
                milli = x / scale + (x % scale != 0);
        }
        if (r < 0)
            return -ERANGE;
    }
    *ret_milli = negative ? -(int64_t)milli : (int64_t)milli;
    if (ret_format)
        *ret_format = format;
    return 0;
}

char *resources_quantity_format(int64_t milli, enum resources_format format)
{
    static const char *const binary[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    static const char *const decimal[] = {"m", "", "k", "M", "G", "T", "P", "E"};
    const char *sign = milli < 0 ? "-" : "";
    uint64_t v = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
    int k = 0;

    if (v == 0)
        return xstrdup("0");
    /* Kubernetes writes binary quantities below 1024 or with a fraction in decimal */
    if (format == RESOURCES_BINARY_SI && v % 1000 == 0 && v / 1000 >= 1024) {
        v /= 1000;
        while (k < 6 && v % 1024 == 0) {
            v /= 1024;
            k++;
        }
        return xasprintf("%s%llu%s", sign, (unsigned long long)v, binary[k]);
    }
    while (k < 7 && v % 1000 == 0) {
        v /= 1000;
        k++;
    }
    if (format == RESOURCES_DECIMAL_EXPONENT)
        return k == 1 ? xasprintf("%s%llu", sign, (unsigned long long)v)
                      : xasprintf("%s%llue%d", sign, (unsigned long long)v, (k - 1) * 3);
    return xasprintf("%s%llu%s", sign, (unsigned long long)v, decimal[k]);
}

/* a parsed quantity: its value, and how to write it */
struct qty {
    int64_t milli;
    enum resources_format format;
};

/* 'list'[name] parsed; a missing or unparsable entry is zero (Go's zero Quantity) */
static struct qty qty_at(const json_t *list, const char *name)
{
    struct qty q = {0, RESOURCES_DECIMAL_SI};

    if (resources_quantity_parse(json_string_value(json_object_get(list, name)), &q.milli,
                                 &q.format) < 0)
        q.milli = 0;
    return q;
}

static json_t *qty_json(struct qty q)
{
    char *s = resources_quantity_format(q.milli, q.format);
    json_t *v = json_string(s);

    free(s);
    return v;
}

static bool counts_bytes(const char *name)
{
    return strcmp(name, "memory") == 0 || strcmp(name, "ephemeral-storage") == 0;
}

/* Tekton's share of 'q' for one of 'n' steps: whole bytes for memory and storage */
static struct qty share(const char *name, struct qty q, size_t n)
{
    struct qty out = {0, q.format};

    if (counts_bytes(name)) {
        int64_t bytes = q.milli / 1000 + (q.milli % 1000 > 0); /* Value() rounds up */

        out.milli = bytes / (int64_t)n * 1000;
    } else {
        out.milli = q.milli / (int64_t)n;
    }
    return out;
}

/* Tekton's computeAverageRequests: every entry of 'list' divided among 'n'; NULL if empty */
static json_t *average(const json_t *list, size_t n)
{
    json_t *out;
    const char *name;
    json_t *v;

    if (!nonempty_object(list) || n == 0)
        return NULL;
    out = json_object();
    json_object_foreach(unconst(list), name, v) {
        struct qty q;

        if (resources_quantity_parse(json_string_value(v), &q.milli, &q.format) < 0)
            continue;
        json_object_set_new(out, name, qty_json(share(name, q, n)));
    }
    return out;
}

/* resources.<key> := 'value' (a new reference, or NULL to remove the key) */
static void set_or_del(json_t *resources, const char *key, json_t *value)
{
    if (value)
        json_object_set_new(resources, key, value);
    else
        json_object_del(resources, key);
}

void resources_apply_taskrun(json_t *steps, const json_t *compute)
{
    const json_t *requests = json_object_get(compute, "requests");
    const json_t *limits = json_object_get(compute, "limits");
    size_t n = json_array_size(steps);
    json_t *avg_requests;
    json_t *avg_limits;
    json_t *step;
    size_t i;

    if (!nonempty_object(requests) && !nonempty_object(limits))
        return;
    avg_requests = average(requests, n);
    avg_limits = average(limits, n);
    json_array_foreach(steps, i, step) {
        json_t *res = json_object_get(step, "resources");
        bool step_requests;

        if (!json_is_object(res)) {
            res = json_object();
            json_object_set_new(step, "resources", res);
        }
        step_requests = nonempty_object(json_object_get(res, "requests"));
        /* with no requests anywhere, the limits' share keeps Kubernetes from requesting all */
        if (!step_requests && !nonempty_object(requests))
            set_or_del(res, "requests", avg_limits ? json_deep_copy(avg_limits) : NULL);
        else
            set_or_del(res, "requests", avg_requests ? json_deep_copy(avg_requests) : NULL);
        set_or_del(res, "limits", nonempty_object(limits) ? json_deep_copy(limits) : NULL);
        if (json_object_size(res) == 0)
            json_object_del(step, "resources");
    }
    json_decref(avg_requests);
    json_decref(avg_limits);
}

static const char *const limited[] = {"cpu", "memory", "ephemeral-storage"};
#define N_LIMITED (sizeof(limited) / sizeof(limited[0]))

/* the Container item of the virtual range: min and defaultRequest per resource */
struct range_item {
    struct qty min[N_LIMITED];
    struct qty default_request[N_LIMITED];
};

static bool is_container_item(const json_t *item)
{
    const char *type = json_string_value(json_object_get(item, "type"));

    return type && strcmp(type, "Container") == 0;
}

/*
 * Tekton's getVirtualLimitRange for the Container type: one range is used as it is (each of
 * its Container items on its own); several are folded into one item with the largest min and,
 * for defaultRequest, Tekton's minOfBetween (a later range without one resets it to zero, as
 * upstream does). Returns the number of items written to 'out' (at most 'max').
 */
static size_t virtual_items(const json_t *limitranges, struct range_item *out, size_t max)
{
    const json_t *lr;
    const json_t *item;
    size_t i, j, n = 0;
    bool seen = false;

    if (json_array_size(limitranges) == 1) {
        json_array_foreach(
            json_object_get(json_object_get(json_array_get(limitranges, 0), "spec"), "limits"), j,
            item) {
            if (!is_container_item(item) || n == max)
                continue;
            for (size_t k = 0; k < N_LIMITED; k++) {
                out[n].min[k] = qty_at(json_object_get(item, "min"), limited[k]);
                out[n].default_request[k] =
                    qty_at(json_object_get(item, "defaultRequest"), limited[k]);
            }
            n++;
        }
        return n;
    }
    memset(out, 0, sizeof(*out));
    json_array_foreach(limitranges, i, lr) {
        json_array_foreach(json_object_get(json_object_get(lr, "spec"), "limits"), j, item) {
            if (!is_container_item(item))
                continue;
            seen = true;
            for (size_t k = 0; k < N_LIMITED; k++) {
                struct qty m = qty_at(json_object_get(item, "min"), limited[k]);

                if (m.milli > out->min[k].milli) /* maxOf */
                    out->min[k] = m;
            }
        }
    }
    json_array_foreach(limitranges, i, lr) {
        json_array_foreach(json_object_get(json_object_get(lr, "spec"), "limits"), j, item) {
            if (!is_container_item(item))
                continue;
            for (size_t k = 0; k < N_LIMITED; k++) {
                struct qty d = qty_at(json_object_get(item, "defaultRequest"), limited[k]);
                struct qty *a = &out->default_request[k];

                if (a->milli == 0 || a->milli > d.milli) /* minOfBetween */
                    *a = d;
            }
        }
    }
    return seen ? 1 : 0;
}

void resources_apply_limitranges(json_t *pod, const json_t *limitranges)
{
    json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
    struct range_item items[16];
    struct qty defaults[N_LIMITED] = {{0, RESOURCES_DECIMAL_SI}};
    size_t n_items, n_steps = 0;
    json_t *c;
    size_t i;
    bool any = false;

    if (json_array_size(limitranges) == 0)
        return;
    json_array_foreach(containers, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));

        n_steps += name && strncmp(name, "step-", 5) == 0;
    }
    if (n_steps == 0)
        return;
    n_items = virtual_items(limitranges, items, sizeof(items) / sizeof(items[0]));
    /* getDefaultStepContainerRequest: max(earlier items, defaultRequest / steps, min) */
    for (size_t it = 0; it < n_items; it++) {
        for (size_t k = 0; k < N_LIMITED; k++) {
            struct qty want = defaults[k];
            struct qty part = share(limited[k], items[it].default_request[k], n_steps);

            if (part.milli > want.milli)
                want = part;
            if (items[it].min[k].milli > want.milli)
                want = items[it].min[k];
            if (want.milli != 0) {
                defaults[k] = want;
                any = true;
            }
        }
    }
    if (!any)
        return;
    json_array_foreach(containers, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *res;
        json_t *requests;

        if (!name || strncmp(name, "step-", 5) != 0)
            continue;
        res = jget_child_object(c, "resources");
        requests = jget_child_object(res, "requests");
        /* only missing or zero entries are filled; a step's own request stays */
        for (size_t k = 0; k < N_LIMITED; k++) {
            if (defaults[k].milli != 0 && qty_at(requests, limited[k]).milli == 0)
                json_object_set_new(requests, limited[k], qty_json(defaults[k]));
        }
    }
}

static const char *name_of(const json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

    return name ? name : "";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(name_of(*(json_t *const *)a), name_of(*(json_t *const *)b));
}

json_t *resources_limitranges_in(const json_t *limitranges, const char *ns)
{
    json_t *out = json_array();
    json_t **found = xcalloc(json_array_size(limitranges) + 1, sizeof(*found));
    json_t *lr; /* borrowed from 'limitranges' */
    size_t i, n = 0;

    json_array_foreach(limitranges, i, lr) {
        const char *lr_ns =
            json_string_value(json_object_get(json_object_get(lr, "metadata"), "namespace"));

        if (lr_ns && strcmp(lr_ns, ns) == 0)
            found[n++] = lr;
    }
    qsort(found, n, sizeof(*found), by_name);
    for (i = 0; i < n; i++)
        json_array_append(out, found[i]);
    free(found);
    return out;
}
