#ifndef CONTROLLER_ENTRYPOINT_CREDS_H
#define CONTROLLER_ENTRYPOINT_CREDS_H

#include <stddef.h>

struct estr;

/*
 * Tekton's credential initialisation ("creds-init", tekton-taskrun.md §10) inside the step:
 * the controller passes -basic-git, -ssh-git, -basic-docker, -docker-config and -docker-cfg
 * and mounts each Secret at <secrets_dir>/<name>; the step writes .gitconfig,
 * .git-credentials, .ssh/ and .docker/config.json into the credentials directory
 * ($(credentials.path), /tekton/creds) and copies them into $HOME.
 */
#define CREDS_DIR         "/tekton/creds"
#define CREDS_SECRETS_DIR "/tekton/creds-secrets"

/* The paths creds_copy_to_home copies, relative to the credentials directory. */
#define CREDS_COPIED ".docker", ".gitconfig", ".git-credentials", ".ssh"

/* Largest secret file read (a Secret is at most 1 MiB in Kubernetes). */
#define CREDS_FILE_MAX (1024 * 1024)

/* The credential flags of one step, in command-line order. */
struct creds;

/* A new, empty set; free with creds_free. */
struct creds *creds_new(void);

/* Free 'c'; NULL is fine. */
void creds_free(struct creds *c);

/*
 * Record one flag: 'name' without dashes ("basic-git", "ssh-git", "basic-docker",
 * "docker-config", "docker-cfg") and its value ("<secret>=<url>" for the first three, a
 * Secret name for the others). Reads nothing. Returns 0, or -EINVAL and appends a one-line
 * reason naming the flag to 'reterr': a value that is not exactly "<secret>=<url>", a
 * Secret name that is not a single path component, a second -basic-git or -basic-docker
 * for the same URL, or an unknown name.
 */
int creds_add_flag(struct creds *c, const char *name, const char *value, struct estr *reterr);

/* The number of flags recorded. */
size_t creds_count(const struct creds *c);

/*
 * Read every Secret named by the flags from '<secrets_dir>/<secret>/<key>' and write the
 * credential files under 'dir' (created if missing): '.gitconfig' and '.git-credentials'
 * (basic-auth git), '.ssh/id_<secret>', '.ssh/config' and '.ssh/known_hosts' (ssh-auth git),
 * '.docker/config.json' (basic-auth docker merged with dockercfg and dockerconfigjson
 * Secrets). Directories are 0700, files 0600, each file written atomically. Everything is
 * read and checked before the first write, so a missing or malformed Secret file writes
 * nothing. Returns 0, or -errno and appends one line naming the file and the cause to
 * 'reterr' (-EINVAL for malformed content).
 */
int creds_write(const struct creds *c, const char *secrets_dir, const char *dir,
                struct estr *reterr);

/*
 * Copy CREDS_COPIED from 'dir' into 'home' as Tekton does: directories are created 0700
 * (an existing one keeps its mode), files are truncated and rewritten (new ones 0600),
 * missing sources are skipped. Failures are logged with ", ignoring"; never fails.
 */
void creds_copy_to_home(const char *dir, const char *home);

/*
 * The step user's home directory: $HOME when set and non-empty, otherwise the entry of
 * the current uid in 'passwd_path' (normally /etc/passwd; the binary is static, so no NSS).
 * Returns 0 and a new string, or -ENOENT when neither gives one.
 */
int creds_home_dir(const char *passwd_path, char **ret_home);

/*
 * Step start: parse the 'n' credential flags in 'pairs' (name, value, name, value, ...),
 * write them into CREDS_DIR from CREDS_SECRETS_DIR, then copy CREDS_DIR into $HOME.
 * The environment variables TEKTITE_CREDS_DIR and TEKTITE_CREDS_SECRETS_DIR replace the
 * two paths (tests). Logs its own errors. Returns 0, or -errno when the flags or a Secret
 * are unusable: the step must then fail without running its command.
 */
int creds_setup(const char *const *pairs, size_t n);

#endif
