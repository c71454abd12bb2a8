#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <jansson.h>
#include <stdbool.h>

/*
 * JSON-lines logging to stderr: one object per line, one write(2) per line, with the
 * fields ts, level, module, msg, then the caller's fields. 'msg' is a constant string;
 * everything that varies goes in 'fields', which the call steals (NULL is fine).
 * Define LOG_MODULE before using the macros.
 */
enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
};

/* Set the lowest level written. The default is LOG_INFO. */
void log_set_level(enum log_level level);

/* Parse "debug", "info", "warn" or "error". Returns 0, or -EINVAL for anything else. */
int log_level_parse(const char *name, enum log_level *ret_level);

/* Redirect output to 'fd' (tests); the default is 2. */
void log_set_fd(int fd);

bool log_enabled(enum log_level level);

/* Write one line. Steals 'fields' even when the level is filtered out. */
void log_write(enum log_level level, const char *module, const char *msg, json_t *fields);

#define log_debug(msg, fields) log_write(LOG_DEBUG, LOG_MODULE, (msg), (fields))
#define log_info(msg, fields)  log_write(LOG_INFO, LOG_MODULE, (msg), (fields))
#define log_warn(msg, fields)  log_write(LOG_WARN, LOG_MODULE, (msg), (fields))
#define log_error(msg, fields) log_write(LOG_ERROR, LOG_MODULE, (msg), (fields))

#endif
