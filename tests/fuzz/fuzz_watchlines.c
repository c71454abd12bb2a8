/*
 * libFuzzer target for lib/watchlines: the first byte picks a chunk size; the rest is fed
 * whole and in chunks, and both must frame the same lines. Every line is decoded as an event.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/watchlines.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct lines {
    size_t n;
    uint64_t hash;
};

static int on_line(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    json_t *ev = NULL;
    const char *type = NULL;
    const json_t *obj = NULL;
    char *err = NULL;

    l->n++;
    for (size_t i = 0; i < len; i++)
        l->hash = (l->hash ^ (uint8_t)line[i]) * 1099511628211u;
    l->hash = (l->hash ^ 0x0a) * 1099511628211u;
    if (watchlines_parse_event(line, len, &ev, &type, &obj, &err) == 0)
        json_decref(ev);
    else
        free(err);
    return 0;
}

static int feed(const char *text, size_t len, size_t chunk, struct lines *out)
{
    struct watchlines wl;
    int r = 0;

    watchlines_init(&wl, 4096);
    for (size_t at = 0; at < len && r == 0; at += chunk)
        r = watchlines_feed(&wl, text + at, len - at < chunk ? len - at : chunk, on_line, out);
    if (r == 0)
        r = watchlines_finish(&wl);
    watchlines_done(&wl);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lines whole = {0, 14695981039346656037u}, pieces = {0, 14695981039346656037u};
    int r1, r2;

    if (size < 1)
        return 0;
    r1 = feed((const char *)data + 1, size - 1, size, &whole);
    r2 = feed((const char *)data + 1, size - 1, 1 + data[0] % 64, &pieces);
    /* a line past the limit may be caught at a different line when chunked; else identical */
    if (r1 != -E2BIG && r2 != -E2BIG &&
        (r1 != r2 || whole.n != pieces.n || whole.hash != pieces.hash))
        abort();
    return 0;
}
