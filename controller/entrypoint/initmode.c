/*
 * Init-container subcommands of the entrypoint. One "init" call does the work of Tekton's
 * prepare, place-scripts and working-dir-initializer containers, each of which would cost a
 * container start. Credentials and debug scripts are not handled here.
 */
#include "controller/entrypoint/initmode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/entrypoint/b64.h"
#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/fsutil.h"

/* Tekton copies the binary execute-only: steps may run it but not read or change it. */
#define BINARY_MODE 0311

static int copy_binary(const char *src, const char *dst)
{
    int r = fsutil_copy_file(src, dst, BINARY_MODE);

    if (r < 0)
        fsutil_log("cannot copy '%s' to '%s': %s", src, dst, strerror(-r));
    return r;
}

static int make_link(const char *target, const char *steps_dir, const char *name)
{
    struct estr link;
    int r = 0;

    estr_init(&link);
    estr_printf(&link, "%s/%s", steps_dir, name);
    if (symlink(target, link.data) < 0 && errno != EEXIST) {
        r = -errno;
        fsutil_log("cannot create symlink '%s': %s", link.data, strerror(errno));
    }
    estr_done(&link);
    return r;
}

static int step_links(char **names, size_t n, const char *steps_dir)
{
    int r = fsutil_mkdir_p(steps_dir, 0755);

    if (r < 0) {
        fsutil_log("cannot create '%s': %s", steps_dir, strerror(-r));
        return r;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        struct estr target, index;

        estr_init(&target);
        estr_init(&index);
        estr_printf(&target, "%s/%zu/status", INITMODE_RUN_DIR, i);
        estr_printf(&index, "%zu", i);
        r = make_link(target.data, steps_dir, names[i]);
        if (r == 0)
            r = make_link(target.data, steps_dir, index.data);
        estr_done(&index);
        estr_done(&target);
    }
    return r;
}

static int write_script(const char *path, const char *encoded)
{
    struct estr script;
    size_t bad = 0;
    int r;

    estr_init(&script);
    r = b64_decode(encoded, strlen(encoded), &script, &bad);
    if (r < 0) {
        fsutil_log("cannot decode script '%s': illegal base64 data at input byte %zu", path, bad);
        goto out;
    }
    r = fsutil_write_file(path, script.data, script.len, 0755, true);
    if (r < 0)
        fsutil_log("cannot write script '%s': %s", path, strerror(-r));
out:
    estr_done(&script);
    return r;
}

static int make_workdir(const char *dir)
{
    struct estr path;
    int r;

    estr_init(&path);
    /* Tekton's working-dir-initializer runs in /workspace, so relative dirs land there */
    if (dir[0] == '/')
        estr_append_str(&path, dir);
    else
        estr_printf(&path, "%s/%s", INITMODE_WORKSPACE_DIR, dir);
    r = fsutil_mkdir_p(path.data, 0755);
    if (r < 0)
        fsutil_log("cannot create working directory '%s': %s", path.data, strerror(-r));
    estr_done(&path);
    return r;
}

static bool is_option(const char *arg)
{
    return strncmp(arg, "--", 2) == 0;
}

int initmode_init(char **args, size_t n)
{
    const char *steps_dir = INITMODE_STEPS_DIR;
    size_t n_steps = 0;
    size_t i;

    if (n < 2) {
        fsutil_log("init needs <src> <dst>");
        return 1;
    }
    while (2 + n_steps < n && !is_option(args[2 + n_steps]))
        n_steps++;
    /* check every option before touching the filesystem, so a typo changes nothing */
    for (i = 2 + n_steps; i < n; i++) {
        size_t need;

        if (strcmp(args[i], "--script") == 0) {
            need = 2;
        } else if (strcmp(args[i], "--workdir") == 0 || strcmp(args[i], "--steps-dir") == 0) {
            need = 1;
        } else {
            fsutil_log("init: unknown option '%s'", args[i]);
            return 1;
        }
        if (i + need >= n) {
            fsutil_log("init: option '%s' needs %zu argument%s", args[i], need,
                       need > 1 ? "s" : "");
            return 1;
        }
        if (strcmp(args[i], "--steps-dir") == 0)
            steps_dir = args[i + 1];
        i += need;
    }

    if (copy_binary(args[0], args[1]) < 0)
        return 1;
    if (step_links(args + 2, n_steps, steps_dir) < 0)
        return 1;
    for (i = 2 + n_steps; i < n; i++) {
        if (strcmp(args[i], "--script") == 0) {
            if (write_script(args[i + 1], args[i + 2]) < 0)
                return 1;
            i += 2;
        } else if (strcmp(args[i], "--workdir") == 0) {
            if (make_workdir(args[i + 1]) < 0)
                return 1;
            i++;
        } else {
            i++; /* --steps-dir, already applied */
        }
    }
    return 0;
}

int initmode_step_init(char **args, size_t n)
{
    return step_links(args, n, INITMODE_STEPS_DIR) < 0 ? 1 : 0;
}

int initmode_cp(char **args, size_t n)
{
    if (n != 2) {
        fsutil_log("cp needs <src> <dst>");
        return 1;
    }
    return copy_binary(args[0], args[1]) < 0 ? 1 : 0;
}

int initmode_decode_script(char **args, size_t n)
{
    struct estr encoded, script;
    size_t bad = 0;
    int fd = -1;
    int r;

    if (n != 1) {
        fsutil_log("decode-script needs <file>");
        return 1;
    }
    estr_init(&encoded);
    estr_init(&script);
    r = estr_read_file(&encoded, args[0], 16 * 1024 * 1024);
    if (r < 0) {
        fsutil_log("cannot read script '%s': %s", args[0], strerror(-r));
        goto out;
    }
    r = b64_decode(estr_str(&encoded), encoded.len, &script, &bad);
    if (r < 0) {
        fsutil_log("cannot decode script '%s': illegal base64 data at input byte %zu", args[0],
                   bad);
        goto out;
    }
    /* rewrite in place: the file keeps the mode place-scripts gave it */
    fd = open(args[0], O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        fsutil_log("cannot write script '%s': %s", args[0], strerror(errno));
        goto out;
    }
    r = estr_write_all(fd, script.data, script.len);
    if (r < 0)
        fsutil_log("cannot write script '%s': %s", args[0], strerror(-r));
out:
    if (fd >= 0)
        close(fd);
    estr_done(&script);
    estr_done(&encoded);
    return r < 0 ? 1 : 0;
}
