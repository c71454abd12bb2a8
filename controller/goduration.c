#include "controller/goduration.h"

/*
 * Parse and print Go durations. Only the text form: what a duration means (timeouts, deadlines)
 * is the caller's business.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int64_t ns;
} units[] = {
    {"ns", 1},           {"us", 1000},      {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000},                                         /* U+03BC Greek mu */
    {"ms", 1000000},     {"s", 1000000000}, {"m", 60LL * 1000000000}, {"h", 3600LL * 1000000000},
};

static int unit_lookup(const char *p, size_t len, int64_t *ret_ns)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == len && memcmp(units[i].name, p, len) == 0) {
            *ret_ns = units[i].ns;
            return 0;
        }
    }
    return -EINVAL;
}

int goduration_parse(const char *text, int64_t *ret_ns)
{
    const char *p = text;
    bool negative = false;
    /* accumulate in unsigned to detect overflow like Go does */
    uint64_t total = 0;

    if (!text || !*text)
        return -EINVAL;
    if (*p == '-' || *p == '+') {
        negative = *p == '-';
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *ret_ns = 0;
        return 0;
    }
    if (!*p)
        return -EINVAL;
    while (*p) {
        uint64_t whole = 0;
        uint64_t frac = 0;
        uint64_t scale = 1;
        bool digits = false;
        const char *unit_start;
        int64_t unit;
        uint64_t value;

        while (*p >= '0' && *p <= '9') {
            if (whole > (UINT64_MAX - 9) / 10)
                return -ERANGE;
            whole = whole * 10 + (uint64_t)(*p - '0');
            digits = true;
            p++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                /* digits past nanosecond precision of the largest unit are dropped */
                if (scale < 1000000000000000000ULL) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
                digits = true;
                p++;
            }
        }
        if (!digits)
            return -EINVAL;
        unit_start = p;
        while (*p && *p != '.' && !(*p >= '0' && *p <= '9'))
            p++;
        if (p == unit_start || unit_lookup(unit_start, (size_t)(p - unit_start), &unit) < 0)
            return -EINVAL;
        if (whole > (uint64_t)INT64_MAX / (uint64_t)unit)
            return -ERANGE;
        value = whole * (uint64_t)unit;
        value += (uint64_t)((double)frac * ((double)unit / (double)scale));
        if (value > (uint64_t)INT64_MAX || total > (uint64_t)INT64_MAX - value)
            return -ERANGE;
        total += value;
    }
    *ret_ns = negative ? -(int64_t)total : (int64_t)total;
    return 0;
}

/* "<int>[.<frac without trailing zeros>]" for 'v' in units of 10^'prec' */
static size_t fixed(char *out, size_t size, uint64_t v, int prec)
{
    uint64_t div = 1;
    char frac[24];
    int n;

    for (int i = 0; i < prec; i++)
        div *= 10;
    n = snprintf(frac, sizeof(frac), "%0*llu", prec, (unsigned long long)(v % div));
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    if (n > 0)
        n = snprintf(out, size, "%llu.%s", (unsigned long long)(v / div), frac);
    else
        n = snprintf(out, size, "%llu", (unsigned long long)(v / div));
    return n < 0 ? 0 : (size_t)n;
}

char *goduration_format(int64_t ns, char *out, size_t size)
{
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    const char *sign = ns < 0 ? "-" : "";
    char num[48];

    if (u == 0) {
        (void)snprintf(out, size, "0s");
    } else if (u < 1000) {
        (void)snprintf(out, size, "%s%lluns", sign, (unsigned long long)u);
    } else if (u < 1000000) {
        fixed(num, sizeof(num), u, 3);
        (void)snprintf(out, size, "%s%s\xc2\xb5s", sign, num);
    } else if (u < 1000000000) {
        fixed(num, sizeof(num), u, 6);
        (void)snprintf(out, size, "%s%sms", sign, num);
    } else {
        uint64_t secs_ns = u % (60ULL * 1000000000);
        uint64_t mins = u / (60ULL * 1000000000);
        uint64_t hours = mins / 60;

        fixed(num, sizeof(num), secs_ns, 9);
        mins %= 60;
        if (hours > 0)
            (void)snprintf(out, size, "%s%lluh%llum%ss", sign, (unsigned long long)hours,
                           (unsigned long long)mins, num);
        else if (mins > 0)
            (void)snprintf(out, size, "%s%llum%ss", sign, (unsigned long long)mins, num);
        else
            (void)snprintf(out, size, "%s%ss", sign, num);
    }
    return out;
}
