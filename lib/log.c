/*
 * JSON-lines logger. Keeps only the level and the fd as global state (style.md §7);
 * never logs secrets because callers never pass them.
 */
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_level_parse(const char *name, enum log_level *ret_level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *ret_level = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

static void format_timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

void log_write(enum log_level level, const char *module, const char *msg, json_t *fields)
{
    json_t *line;
    char ts[48];
    char *text;

    if (!log_enabled(level)) {
        json_decref(fields);
        return;
    }
    format_timestamp(ts, sizeof(ts));
    line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "module",
                     module, "msg", msg);
    if (!line) {
        json_decref(fields);
        return;
    }
    if (fields)
        json_object_update_missing(line, fields);
    json_decref(fields);
    text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text)
        return;
    {
        size_t len = strlen(text);

        text[len] = '\n'; /* replace the NUL: one write(2) per line */
        (void)!write(log_fd, text, len + 1);
    }
    free(text);
}
