/*
 * Watch stream framing: the API server writes one JSON object per line, and the network
 * splits and joins those lines at any byte. What an event means (ERROR, 410, bookmarks) is
 * lib/kube's business; this file only frames and decodes.
 */
#include "lib/watchlines.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lib/xalloc.h"

void watchlines_init(struct watchlines *wl, size_t max_line)
{
    buf_init(&wl->pending, max_line);
}

void watchlines_done(struct watchlines *wl)
{
    buf_done(&wl->pending);
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int deliver(const char *line, size_t len, watchlines_line_cb *cb, void *ctx)
{
    if (is_blank(line, len))
        return 0;
    return cb(ctx, line, len);
}

int watchlines_feed(struct watchlines *wl, const char *data, size_t len, watchlines_line_cb *cb,
                    void *ctx)
{
    const char *end = data + len;
    const char *nl;
    int r;

    /* Finish the pending line first; only its tail can be in this chunk. */
    if (buf_len(&wl->pending) > 0) {
        nl = memchr(data, '\n', len);
        if (!nl)
            return buf_append(&wl->pending, data, len);
        r = buf_append(&wl->pending, data, (size_t)(nl - data));
        if (r < 0)
            return r;
        r = deliver(wl->pending.data, buf_len(&wl->pending), cb, ctx);
        buf_reset(&wl->pending);
        if (r < 0)
            return r;
        data = nl + 1;
    }
    /* Whole lines straight from the chunk, without copying. */
    while (data < end) {
        nl = memchr(data, '\n', (size_t)(end - data));
        if (!nl)
            break;
        if ((size_t)(nl - data) > wl->pending.max)
            return -E2BIG;
        r = deliver(data, (size_t)(nl - data), cb, ctx);
        if (r < 0)
            return r;
        data = nl + 1;
    }
    return data < end ? buf_append(&wl->pending, data, (size_t)(end - data)) : 0;
}

int watchlines_finish(const struct watchlines *wl)
{
    return is_blank(buf_str(&wl->pending), buf_len(&wl->pending)) ? 0 : -EBADMSG;
}

int watchlines_parse_event(const char *line, size_t len, json_t **ret_event, const char **ret_type,
                           const json_t **ret_object, char **reterr_msg)
{
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *type, *obj;

    if (!ev) {
        *reterr_msg = xasprintf("watch event is not JSON: %s at column %d", jerr.text, jerr.column);
        return -EBADMSG;
    }
    type = json_object_get(ev, "type");
    obj = json_object_get(ev, "object");
    if (!json_is_string(type) || !json_is_object(obj)) {
        json_decref(ev);
        *reterr_msg = xstrdup("watch event lacks a string 'type' or an object 'object'");
        return -EBADMSG;
    }
    *ret_event = ev;
    *ret_type = json_string_value(type);
    *ret_object = obj;
    return 0;
}
