/*
 * The step outcome table. Only decisions live here; steprun.c writes the files. Breakpoint
 * debugging (-breakpoint_on_failure) is not modelled: the flag is accepted and ignored.
 */
#include "controller/entrypoint/stepoutcome.h"

#include <stdio.h>
#include <string.h>

void stepoutcome_decide(enum stepoutcome_event event, int status, bool on_error_continue,
                        struct stepoutcome *ret)
{
    struct stepoutcome o;

    memset(&o, 0, sizeof(o));
    o.collect_results = true;
    switch (event) {
    case STEPOUTCOME_EXITED:
        if (status == 0) {
            snprintf(o.exit_code_file, sizeof(o.exit_code_file), "0");
        } else if (on_error_continue) {
            /* the container succeeds; the real code travels in the message (Continued) */
            snprintf(o.exit_code_file, sizeof(o.exit_code_file), "%d", status);
            snprintf(o.exit_code_entry, sizeof(o.exit_code_entry), "%d", status);
        } else {
            o.post_err = true;
            o.exit_code = status < 0 ? 255 : status; /* Go's os.Exit(-1) */
        }
        break;
    case STEPOUTCOME_START_FAILED:
        o.post_err = true;
        o.exit_code = 1;
        break;
    case STEPOUTCOME_SKIPPED:
        o.post_err = true;
        o.exit_code = 1;
        o.reason = "Skipped";
        o.collect_results = false;
        break;
    case STEPOUTCOME_WHEN_FALSE:
        snprintf(o.exit_code_file, sizeof(o.exit_code_file), "0");
        o.reason = "Skipped";
        o.collect_results = false;
        break;
    case STEPOUTCOME_TIMEOUT:
        o.post_err = true;
        o.exit_code = 1;
        o.reason = "TimeoutExceeded";
        break;
    case STEPOUTCOME_CANCELLED:
        o.post_err = true;
        o.exit_code = 9; /* SIGKILL's number, as Tekton exits */
        snprintf(o.exit_code_file, sizeof(o.exit_code_file), "killed");
        o.reason = "Cancelled";
        break;
    }
    *ret = o;
}
