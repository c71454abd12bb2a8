#ifndef CONTROLLER_ENTRYPOINT_STEPOUTCOME_H
#define CONTROLLER_ENTRYPOINT_STEPOUTCOME_H

#include <stdbool.h>

/*
 * Tekton's outcome table (tekton-taskrun.md §6.4) as a pure function: what happened to the
 * step in, the files and entries the entrypoint must write and its exit code out.
 */
enum stepoutcome_event {
    STEPOUTCOME_EXITED,       /* the command ran and exited, or was killed by a signal */
    STEPOUTCOME_START_FAILED, /* the command could not be started (not found, bad flags...) */
    STEPOUTCOME_SKIPPED,      /* a previous step failed: a wait file's ".err" twin appeared */
    STEPOUTCOME_WHEN_FALSE,   /* the step's when expressions do not hold */
    STEPOUTCOME_TIMEOUT,      /* -timeout passed and the command was killed */
    STEPOUTCOME_CANCELLED,    /* /tekton/downward/cancel became non-empty */
};

struct stepoutcome {
    int exit_code;            /* the entrypoint's own exit status, 0..255 */
    bool post_err;            /* write "<post_file>.err" instead of "<post_file>" */
    char exit_code_file[16];  /* content of <step_metadata_dir>/exitCode; "" = write none */
    const char *reason;       /* internal "Reason" entry (static string), or NULL */
    char exit_code_entry[16]; /* internal "ExitCode" entry; "" = none */
    bool collect_results;     /* read -results / -step_results into the message */
};

/*
 * Decide the outcome of 'event'. 'status' matters for STEPOUTCOME_EXITED only: the
 * command's exit code (0..255), or -1 when a signal killed it (Go's ExitCode()). With
 * 'on_error_continue' (-on_error continue) a non-zero exit is reported, not failed;
 * continue never covers timeouts, cancellation, start failures or skips. Writes *ret.
 */
void stepoutcome_decide(enum stepoutcome_event event, int status, bool on_error_continue,
                        struct stepoutcome *ret);

#endif
