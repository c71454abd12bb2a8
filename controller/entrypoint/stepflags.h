#ifndef CONTROLLER_ENTRYPOINT_STEPFLAGS_H
#define CONTROLLER_ENTRYPOINT_STEPFLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct estr;

/*
 * The entrypoint's command line, parsed the way Tekton's Go entrypoint parses it (Go's
 * flag package): '-name value', '-name=value', one or two leading dashes, boolean flags
 * take no separate value ('-name=false' to unset), parsing stops at the first argument
 * that is not a flag or at a bare '--'. Before that, the whole argv is split at the first
 * '--' unless it is the very first argument: what follows is the command's arguments.
 *
 * String fields borrow from the argv passed to stepflags_parse (or are static defaults),
 * so argv must outlive the struct. Only 'positional', 'command_args' and 'credential_args'
 * are allocated.
 */
struct stepflags {
    const char *entrypoint;
    const char *wait_file; /* comma-separated */
    bool wait_file_content;
    const char *post_file;
    const char *termination_path; /* default /tekton/termination */
    const char *step_metadata_dir;
    const char *results;      /* comma-separated task result names */
    const char *step_results; /* comma-separated step result names */
    const char *when_expressions;
    bool has_timeout;
    int64_t timeout_ns; /* valid when has_timeout; may be negative (an error at run time) */
    const char *stdout_path;
    const char *stderr_path;
    bool breakpoint_on_failure;
    bool debug_before_step;
    const char *on_error;    /* "", "continue" or "stopAndFail" (checked by the caller) */
    const char *result_from; /* default "termination-message" */
    bool compress_termination_message;
    bool enable_spire;
    size_t credential_flags; /* -basic-git and friends seen */
    /* their names (no dashes) and values: name, value, name, value, ... (2 * credential_flags) */
    const char **credential_args;

    char **positional; /* non-flag arguments before '--': a subcommand and its arguments */
    size_t n_positional;
    char **command_args; /* everything after the first '--' */
    size_t n_command_args;
};

/* Fill 'f' with Tekton's defaults. */
void stepflags_init(struct stepflags *f);

/* Free the argument vectors; the string fields were borrowed and stay valid. */
void stepflags_done(struct stepflags *f);

/*
 * Parse 'argc' arguments (argv[0] is the first argument, not the program name) into 'f',
 * which stepflags_init prepared. Returns 0, or -EINVAL and appends a one-line reason naming
 * the flag to 'reterr' (e.g. "flag provided but not defined: -nope"). After a failure 'f'
 * still needs stepflags_done.
 */
int stepflags_parse(struct stepflags *f, int argc, char **argv, struct estr *reterr);

/*
 * Parse a Go duration string ("1h0m0s", "500ms", "1.5s", "-2m", "0") into nanoseconds,
 * exactly as Go's time.ParseDuration. Returns 0 and writes *ret_ns, or -EINVAL for syntax
 * errors and unknown units, -ERANGE on overflow.
 */
int stepflags_parse_duration(const char *s, int64_t *ret_ns);

/* Parse a Go boolean ("1", "t", "true", "TRUE", "True", "0", "f", ...). Returns 0 or -EINVAL. */
int stepflags_parse_bool(const char *s, bool *ret);

#endif
