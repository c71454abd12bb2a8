#ifndef CONTROLLER_ENTRYPOINT_STEPCMD_H
#define CONTROLLER_ENTRYPOINT_STEPCMD_H

#include <stdbool.h>
#include <stddef.h>

struct estr;

/*
 * Pure decisions before a step's command runs: which command (TEKTON_PLATFORM_COMMANDS)
 * and whether it runs at all (--when_expressions).
 */

/*
 * The runtime platform in Tekton's form: "<os>/<arch>[/<variant>]", e.g. "linux/amd64",
 * "linux/arm64/v8". Static string.
 */
const char *stepcmd_platform(void);

/*
 * Pick the command for 'platform' from the JSON object 'json' (platform -> array of
 * strings), falling back to the platform without its last "/..." segment. Returns 0 and a
 * new NULL-terminated vector in *ret_argv (free each string, then the vector; see
 * stepcmd_free_argv) with its length in *ret_argc; or -EINVAL (bad JSON, wrong shape) or
 * -ENOENT (no entry) with a reason appended to 'reterr'.
 */
int stepcmd_select(const char *json, const char *platform, char ***ret_argv, size_t *ret_argc,
                   struct estr *reterr);

/* Free a vector from stepcmd_select; NULL is fine. */
void stepcmd_free_argv(char **argv);

/*
 * Evaluate Tekton step when expressions: a JSON array of {input, operator, values, cel}.
 * All must hold: "in" holds when input is one of values; any other operator ("notin") when
 * it is not. With 'steps_dir' (may be NULL), step-result references in input and values are
 * substituted first (stepsubst.h; failures are appended to 'reterr' as warnings and the
 * reference stays literal). Returns 0 and *ret_allowed, or -EINVAL (bad JSON) / -ENOTSUP (a
 * CEL expression, which this entrypoint cannot evaluate) with a reason appended to 'reterr'.
 * An empty string allows execution.
 */
int stepcmd_when_allows(const char *json, const char *steps_dir, bool *ret_allowed,
                        struct estr *reterr);

#endif
