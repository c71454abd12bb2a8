#ifndef CONTROLLER_ENTRYPOINT_INITMODE_H
#define CONTROLLER_ENTRYPOINT_INITMODE_H

#include <stddef.h>

/*
 * The entrypoint's subcommands, run by init containers rather than steps. Each returns the
 * process exit status (0 or 1) after reporting any failure on stderr.
 */

/* Tekton's fixed locations, the defaults of the options below. */
#define INITMODE_STEPS_DIR     "/tekton/steps"
#define INITMODE_RUN_DIR       "/tekton/run"
#define INITMODE_WORKSPACE_DIR "/workspace"

/*
 * init <src> <dst> [<step-name>...] [--script <path> <base64>]... [--workdir <dir>]...
 *      [--steps-dir <dir>]
 * Our single "prepare" init container: copy the entrypoint binary from src to dst (mode
 * 0311, atomically), create /tekton/steps/<name> and /tekton/steps/<i> symlinks to
 * /tekton/run/<i>/status (existing links tolerated), write each script decoded from
 * standard base64 with mode 0755 (Tekton's place-scripts), and mkdir -p (0755) each workdir,
 * relative ones under /workspace (Tekton's working-dir-initializer). Step names are the
 * arguments before the first one starting with "--". 'args' excludes "init" itself.
 */
int initmode_init(char **args, size_t n);

/* step-init [<step-name>...]: only the /tekton/steps symlinks. */
int initmode_step_init(char **args, size_t n);

/* cp <src> <dst>: only the copy (mode 0311). */
int initmode_cp(char **args, size_t n);

/* decode-script <file>: base64-decode the file in place, keeping its permissions. */
int initmode_decode_script(char **args, size_t n);

#endif
