#ifndef CONTROLLER_ENTRYPOINT_STEPRUN_H
#define CONTROLLER_ENTRYPOINT_STEPRUN_H

#include <stdbool.h>

struct stepflags;

/*
 * Step mode of the entrypoint (tekton-taskrun.md §6.3): wait for the previous step, run the
 * command, write the post file, exitCode file and termination message, and return the exit
 * status the entrypoint process must exit with (§6.4). Errors are reported on stderr and
 * turned into that status; this never returns < 0.
 */
int steprun_main(const struct stepflags *f);

/*
 * Block until 'file' exists (and, with 'want_content', is non-empty), woken by inotify on
 * its directory. Returns 0 when it is there, 1 when "<file>.err" appeared instead (a
 * previous step failed), or -errno when stat fails for another reason than ENOENT. When
 * the directory cannot be watched, or with 'want_content' (the kubelet's downward-API
 * files change by symlink swaps), it also re-checks once a second. "" returns 0 at once.
 */
int steprun_wait_file(const char *file, bool want_content);

#endif
