#ifndef CONTROLLER_ENTRYPOINT_STEPSUBST_H
#define CONTROLLER_ENTRYPOINT_STEPSUBST_H

#include <stddef.h>

struct estr;

/*
 * In-Pod substitution of step results (tekton-taskrun.md §4.6): every match of Tekton's
 * regex \$\(steps\..*?\.results\..*?\) is replaced by the result that an earlier step
 * wrote to <steps_dir>/step-<step>/results/<result>, decoded leniently: a JSON array of
 * strings is an array, a JSON object of strings an object, a JSON string its text, and
 * anything else the raw bytes. Supported forms: steps.<s>.results.<r> (string),
 * <r>[<i>] (array element), <r>.<key> (object value) and, in argument lists only, an
 * argument that is exactly $(steps.<s>.results.<r>[*]), which expands to the elements.
 */

/*
 * Append 'in' with every step-result reference replaced to 'out'. References that cannot
 * be resolved stay as they are; for each, a line naming it is appended to 'errors'.
 * Returns the number of references that failed (0 when all resolved).
 */
int stepsubst_string(const char *in, const char *steps_dir, struct estr *out, struct estr *errors);

/*
 * Substitute in an argument vector of 'argc' strings. Returns the number of failed
 * references (reported in 'errors' as above) and a new NULL-terminated vector in *ret_argv
 * (free with stepcmd_free_argv) with its length in *ret_argc.
 */
int stepsubst_argv(char *const *argv, size_t argc, const char *steps_dir, char ***ret_argv,
                   size_t *ret_argc, struct estr *errors);

#endif
