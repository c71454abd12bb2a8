/*
 * Step mode: wait, run, record. Hand-off between steps is inotify-driven (Tekton polls each
 * second). Credentials are set up by creds.c. Not implemented: hermetic namespaces, SPIRE
 * signing, compressed messages and breakpoints (see docs/entrypoint.md).
 */
#include "controller/entrypoint/steprun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controller/entrypoint/creds.h"
#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/fsutil.h"
#include "controller/entrypoint/stepcmd.h"
#include "controller/entrypoint/stepflags.h"
#include "controller/entrypoint/stepoutcome.h"
#include "controller/entrypoint/stepsubst.h"
#include "controller/entrypoint/termmsg.h"

/* Tekton's fixed paths inside the Pod (the cancel file is the downward-API annotation). */
#define CANCEL_FILE         "/tekton/downward/cancel"
#define TASK_RESULTS_DIR    "/tekton/results"
#define STEPS_DIR           "/tekton/steps"
#define TASK_ARTIFACTS_FILE "/tekton/artifacts/provenance.json"
#define DEFAULT_PATH        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A result file larger than this cannot fit a 4096-byte message anyway. */
#define RESULT_READ_MAX (64 * 1024)

#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |           \
     IN_MOVE_SELF)

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return estr_dup(".");
    if (slash == path)
        return estr_dup("/");
    return estr_ndup(path, (size_t)(slash - path));
}

/* 1 when 'file' is there (non-empty if asked), 0 when not yet, -errno on a stat failure. */
static int file_ready(const char *file, bool want_content)
{
    struct stat st;

    if (stat(file, &st) == 0)
        return (!want_content || st.st_size > 0) ? 1 : 0;
    return errno == ENOENT ? 0 : -errno;
}

/* Read and discard pending inotify events; returns false if our watch went away. */
static bool drain_inotify(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool alive = true;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n <= 0)
            return alive;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

            if (ev->mask & IN_IGNORED)
                alive = false;
            p += sizeof(*ev) + ev->len;
        }
    }
}

int steprun_wait_file(const char *file, bool want_content)
{
    struct estr err_file;
    char *dir;
    int fd, wd = -1;
    int r;

    if (file[0] == '\0')
        return 0;
    estr_init(&err_file);
    estr_printf(&err_file, "%s.err", file);
    dir = dir_of(file);
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0)
        wd = inotify_add_watch(fd, dir, WATCH_MASK);
    /* the watch exists before the first check, so no creation can slip between the two */
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int timeout_ms;

        r = file_ready(file, want_content);
        if (r != 0) {
            r = r > 0 ? 0 : r;
            break;
        }
        if (access(err_file.data, F_OK) == 0) {
            r = 1;
            break;
        }
        timeout_ms = (wd < 0 || want_content) ? 1000 : -1;
        if (poll(&pfd, fd >= 0 ? 1 : 0, timeout_ms) < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (fd >= 0 && !drain_inotify(fd))
            wd = -1;
        if (fd >= 0 && wd < 0)
            wd = inotify_add_watch(fd, dir, WATCH_MASK);
    }
    if (fd >= 0)
        close(fd);
    free(dir);
    estr_done(&err_file);
    return r;
}

/* Go's exec.LookPath: a name with a '/' is used as is, otherwise search $PATH. */
static int find_executable(const char *name, char **ret_path)
{
    const char *path = getenv("PATH");
    const char *p;
    int r = -ENOENT;

    if (strchr(name, '/')) {
        *ret_path = estr_dup(name);
        return 0;
    }
    if (!path)
        path = DEFAULT_PATH;
    for (p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        struct estr candidate;
        struct stat st;

        estr_init(&candidate);
        if (len == 0)
            estr_append_str(&candidate, ".");
        else
            estr_append(&candidate, p, len);
        estr_printf(&candidate, "/%s", name);
        if (stat(candidate.data, &st) == 0 && !S_ISDIR(st.st_mode)) {
            if (st.st_mode & 0111) {
                *ret_path = estr_take(&candidate);
                return 0;
            }
            r = -EACCES;
        }
        estr_done(&candidate);
        if (!colon)
            break;
        p = colon + 1;
    }
    return r;
}

struct tee {
    int pipe_rd;  /* our end of the child's stdout/stderr, -1 when not teeing or at EOF */
    int file_fd;  /* the -stdout_path / -stderr_path file */
    int out_fd;   /* where the stream goes anyway: our own stdout/stderr */
    int child_wr; /* the child's end, closed in the parent after fork */
};

static int tee_open(struct tee *t, const char *path, int out_fd)
{
    int fds[2];
    char *dir;
    int r;

    t->pipe_rd = -1;
    t->file_fd = -1;
    t->child_wr = -1;
    t->out_fd = out_fd;
    if (path[0] == '\0')
        return 0;
    dir = dir_of(path);
    r = fsutil_mkdir_p(dir, 0755);
    free(dir);
    if (r < 0)
        return r;
    t->file_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (t->file_fd < 0)
        return -errno;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    t->pipe_rd = fds[0];
    t->child_wr = fds[1];
    return 0;
}

static void tee_close(struct tee *t)
{
    if (t->pipe_rd >= 0)
        close(t->pipe_rd);
    if (t->file_fd >= 0)
        close(t->file_fd);
    if (t->child_wr >= 0)
        close(t->child_wr);
    t->pipe_rd = t->file_fd = t->child_wr = -1;
}

/* Copy what is readable; closes the pipe at EOF. */
static void tee_pump(struct tee *t)
{
    char buf[65536];
    ssize_t n = read(t->pipe_rd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(t->pipe_rd);
        t->pipe_rd = -1;
        return;
    }
    (void)estr_write_all(t->out_fd, buf, (size_t)n);
    (void)estr_write_all(t->file_fd, buf, (size_t)n);
}

struct run_result {
    enum stepoutcome_event event;
    int status; /* exit code, or -1 when killed by a signal */
};

/* Signals we cannot or must not forward: uncatchable ones and faults meant for us. */
static void forwardable_set(sigset_t *set)
{
    sigfillset(set);
    sigdelset(set, SIGKILL);
    sigdelset(set, SIGSTOP);
    sigdelset(set, SIGSEGV);
    sigdelset(set, SIGBUS);
    sigdelset(set, SIGFPE);
    sigdelset(set, SIGILL);
    sigdelset(set, SIGTRAP);
    sigdelset(set, SIGABRT);
    sigdelset(set, SIGSYS);
}

static void exec_child(const char *path, char **argv, const sigset_t *mask, const struct tee *out,
                       const struct tee *err, int report_fd)
{
    int e;

    (void)setpgid(0, 0);
    if (out->child_wr >= 0)
        (void)dup2(out->child_wr, STDOUT_FILENO);
    if (err->child_wr >= 0)
        (void)dup2(err->child_wr, STDERR_FILENO);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    execv(path, argv);
    e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
}

/* Arm a one-shot CLOCK_MONOTONIC timer; returns the fd or -1. */
static int timer_start(int64_t ns)
{
    struct itimerspec its;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

    if (fd < 0)
        return -1;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(ns / 1000000000);
    its.it_value.tv_nsec = (long)(ns % 1000000000);
    if (timerfd_settime(fd, 0, &its, NULL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Watch the cancel file's directory if it exists (only with keep-pod-on-cancel). */
static int cancel_watch_start(const char *cancel_file)
{
    char *dir = dir_of(cancel_file);
    int fd = -1;

    if (access(dir, F_OK) == 0) {
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd >= 0 && inotify_add_watch(fd, dir, WATCH_MASK) < 0) {
            close(fd);
            fd = -1;
        }
    }
    free(dir);
    return fd;
}

/*
 * Run argv as a child in its own process group, forwarding signals to the group, killing
 * the child on timeout or cancellation, teeing output if asked. Fills *ret.
 */
static void run_command(char **argv, const struct stepflags *f, struct run_result *ret)
{
    struct tee out, err;
    sigset_t block, old;
    char *path = NULL;
    int report[2] = {-1, -1};
    int sfd = -1, tfd = -1, cfd = -1;
    bool reaped = false, timed_out = false, cancelled = false;
    int wstatus = 0, exec_errno = 0;
    pid_t pid;
    int r;

    ret->event = STEPOUTCOME_START_FAILED;
    ret->status = 1;
    tee_open(&out, "", STDOUT_FILENO);
    tee_open(&err, "", STDERR_FILENO);

    r = find_executable(argv[0], &path);
    if (r < 0) {
        fsutil_log("cannot run \"%s\": %s", argv[0],
                   r == -ENOENT ? "executable file not found in $PATH" : strerror(-r));
        return;
    }
    r = tee_open(&out, f->stdout_path, STDOUT_FILENO);
    if (r == 0)
        r = tee_open(&err, f->stderr_path, STDERR_FILENO);
    if (r < 0) {
        fsutil_log("cannot open output file: %s", strerror(-r));
        goto out;
    }

    forwardable_set(&block);
    sigprocmask(SIG_BLOCK, &block, &old);
    sfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || pipe2(report, O_CLOEXEC) < 0) {
        fsutil_log("cannot run \"%s\": %s", argv[0], strerror(errno));
        goto out_mask;
    }
    pid = fork();
    if (pid < 0) {
        fsutil_log("cannot run \"%s\": fork: %s", argv[0], strerror(errno));
        goto out_mask;
    }
    if (pid == 0)
        exec_child(path, argv, &old, &out, &err, report[1]);
    (void)setpgid(pid, pid); /* also from here, so signals reach the group from the start */
    close(report[1]);
    report[1] = -1;
    if (out.child_wr >= 0) {
        close(out.child_wr);
        out.child_wr = -1;
    }
    if (err.child_wr >= 0) {
        close(err.child_wr);
        err.child_wr = -1;
    }
    /* EOF means execv succeeded (the pipe is close-on-exec); an int is its errno */
    while ((r = (int)read(report[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
        ;
    if (r == (int)sizeof(exec_errno)) {
        (void)waitpid(pid, NULL, 0);
        fsutil_log("cannot run \"%s\": %s", argv[0], strerror(exec_errno));
        goto out_mask;
    }

    if (f->has_timeout && f->timeout_ns > 0)
        tfd = timer_start(f->timeout_ns);
    cfd = cancel_watch_start(CANCEL_FILE);
    if (cfd >= 0 && file_ready(CANCEL_FILE, true) == 1) {
        kill(pid, SIGKILL);
        cancelled = true;
    }

    while (!reaped || out.pipe_rd >= 0 || err.pipe_rd >= 0) {
        struct pollfd pfd[5];
        int n = 0, i_sig, i_timer = -1, i_cancel = -1, i_out = -1, i_err = -1;
        int timeout_ms = cfd >= 0 ? 1000 : -1;

        if (reaped && (timed_out || cancelled))
            timeout_ms = 0; /* killed: take what is buffered, don't wait for grandchildren */
        pfd[i_sig = n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        if (tfd >= 0)
            pfd[i_timer = n++] = (struct pollfd){.fd = tfd, .events = POLLIN};
        if (cfd >= 0)
            pfd[i_cancel = n++] = (struct pollfd){.fd = cfd, .events = POLLIN};
        if (out.pipe_rd >= 0)
            pfd[i_out = n++] = (struct pollfd){.fd = out.pipe_rd, .events = POLLIN};
        if (err.pipe_rd >= 0)
            pfd[i_err = n++] = (struct pollfd){.fd = err.pipe_rd, .events = POLLIN};
        r = poll(pfd, (nfds_t)n, timeout_ms);
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 && timeout_ms == 0)
            break;
        if (pfd[i_sig].revents & POLLIN) {
            struct signalfd_siginfo si;

            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo != SIGCHLD && !reaped)
                    kill(-pid, (int)si.ssi_signo);
            }
        }
        /*
         * Reap every exited child, not only ours: as a container's PID 1 the entrypoint
         * inherits the command's orphans and must not leave them as zombies.
         */
        for (;;) {
            int st;
            pid_t w = waitpid(-1, &st, WNOHANG);

            if (w <= 0)
                break;
            if (w == pid) {
                wstatus = st;
                reaped = true;
            }
        }
        if (i_timer >= 0 && (pfd[i_timer].revents & POLLIN)) {
            close(tfd);
            tfd = -1;
            if (!reaped) {
                /*
                 * Tekton kills only the direct child; we take the whole group, so nothing
                 * outlives the step when the Pod shares one PID namespace.
                 */
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                timed_out = true;
            }
        }
        if (cfd >= 0 && (i_cancel < 0 || pfd[i_cancel].revents || r == 0)) {
            (void)drain_inotify(cfd);
            if (!reaped && !cancelled && file_ready(CANCEL_FILE, true) == 1) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                cancelled = true;
            }
        }
        if (i_out >= 0 && pfd[i_out].revents)
            tee_pump(&out);
        if (i_err >= 0 && pfd[i_err].revents)
            tee_pump(&err);
    }
    if (!reaped)
        (void)waitpid(pid, &wstatus, 0);

    if (cancelled) {
        ret->event = STEPOUTCOME_CANCELLED;
    } else if (timed_out) {
        ret->event = STEPOUTCOME_TIMEOUT;
        fsutil_log("step timed out after %.3fs", (double)f->timeout_ns / 1e9);
    } else {
        ret->event = STEPOUTCOME_EXITED;
        ret->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    }
out_mask:
    sigprocmask(SIG_SETMASK, &old, NULL);
out:
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    if (sfd >= 0)
        close(sfd);
    if (tfd >= 0)
        close(tfd);
    if (cfd >= 0)
        close(cfd);
    tee_close(&out);
    tee_close(&err);
    free(path);
}

/*
 * RFC 3339 with milliseconds, as Tekton's "2006-01-02T15:04:05.000Z07:00", always in UTC.
 * Formatted by hand: strftime would call tzset() and read /etc/localtime on the hand-off path.
 */
static void started_at(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

static void write_marker(const char *path, const char *content)
{
    int r = fsutil_write_file(path, content, strlen(content), 0666, false);

    if (r < 0)
        fsutil_log("cannot write '%s': %s", path, strerror(-r));
}

/*
 * Read each comma-separated result name from 'dir' into 'm' with 'type'. Missing files are
 * skipped. Returns 0, -EMSGSIZE when a file is too large to ever fit, or -errno.
 */
static int read_results(const char *names, const char *dir, int type, struct termmsg *m)
{
    const char *p = names;
    int r = 0;

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct estr path, content;

        estr_init(&path);
        estr_init(&content);
        if (len > 0) {
            char *name = estr_ndup(p, len);

            estr_printf(&path, "%s/%s", dir, name);
            r = estr_read_file(&content, path.data, RESULT_READ_MAX);
            if (r == 0)
                termmsg_add(m, name, estr_str(&content), content.len, type);
            else if (r == -ENOENT)
                r = 0;
            else if (r == -E2BIG)
                r = -EMSGSIZE;
            else
                fsutil_log("cannot read result '%s': %s", path.data, strerror(-r));
            free(name);
        }
        estr_done(&content);
        estr_done(&path);
        if (r < 0)
            return r;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static void add_file_entry(struct termmsg *m, const char *path, int type)
{
    struct estr content;

    estr_init(&content);
    if (estr_read_file(&content, path, RESULT_READ_MAX) == 0)
        termmsg_add(m, path, estr_str(&content), content.len, type);
    estr_done(&content);
}

/* Results and artifacts into the message; returns false if the step must fail (exit 1). */
static bool write_results(const struct stepflags *f)
{
    struct termmsg m;
    struct estr dir;
    bool ok = true;
    int r = 0;

    if (strcmp(f->result_from, "sidecar-logs") == 0)
        return true;
    termmsg_init(&m);
    estr_init(&dir);
    if (f->results[0] != '\0')
        r = read_results(f->results, TASK_RESULTS_DIR, TERMMSG_TASK_RESULT, &m);
    if (r == 0 && f->step_results[0] != '\0') {
        estr_printf(&dir, "%s/results", f->step_metadata_dir);
        r = read_results(f->step_results, dir.data, TERMMSG_STEP_RESULT, &m);
    }
    if (r == 0) {
        estr_done(&dir);
        estr_printf(&dir, "%s/artifacts/provenance.json", f->step_metadata_dir);
        if (f->step_metadata_dir[0] != '\0')
            add_file_entry(&m, dir.data, TERMMSG_STEP_ARTIFACTS);
        add_file_entry(&m, TASK_ARTIFACTS_FILE, TERMMSG_TASK_ARTIFACTS);
    }
    if (r == 0 && m.len > 0)
        r = termmsg_write(f->termination_path, &m);
    if (r == -EMSGSIZE) {
        fsutil_log("%s", TERMMSG_TOO_LONG);
        ok = false;
    } else if (r < 0) {
        fsutil_log("cannot write termination message '%s': %s", f->termination_path, strerror(-r));
        ok = false;
    }
    estr_done(&dir);
    termmsg_done(&m);
    return ok;
}

/* Build the command vector: -entrypoint or TEKTON_PLATFORM_COMMANDS, then the '--' args. */
static int build_command(const struct stepflags *f, char ***ret_argv)
{
    char **base = NULL;
    size_t n_base = 0;
    char **argv;
    struct estr why;
    int r;

    estr_init(&why);
    if (f->entrypoint[0] != '\0') {
        base = estr_malloc(sizeof(char *) * 2);
        base[0] = estr_dup(f->entrypoint);
        base[1] = NULL;
        n_base = 1;
    } else {
        const char *env = getenv("TEKTON_PLATFORM_COMMANDS");

        r = stepcmd_select(env ? env : "", stepcmd_platform(), &base, &n_base, &why);
        if (r < 0) {
            fsutil_log("%s", why.data);
            estr_done(&why);
            return r;
        }
    }
    argv = estr_realloc(base, sizeof(char *) * (n_base + f->n_command_args + 1));
    for (size_t i = 0; i < f->n_command_args; i++)
        argv[n_base + i] = estr_dup(f->command_args[i]);
    argv[n_base + f->n_command_args] = NULL;
    estr_done(&why);
    *ret_argv = argv;
    return 0;
}

/* Log each line of 'lines' (substitution warnings), ignoring failures as Tekton does. */
static void log_lines(const struct estr *lines)
{
    const char *p = estr_str(lines);

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        fsutil_log("%.*s, ignoring", (int)len, p);
        if (!nl)
            break;
        p = nl + 1;
    }
}

/*
 * Tekton's runtime substitution of $(steps.<s>.results.<r>) in the environment and the
 * command (§4.6). A reference that cannot be resolved is logged and left as it is.
 */
static void substitute_step_results(char ***argv)
{
    struct estr errors;
    char **names = NULL, **values = NULL;
    char **subst = NULL;
    size_t n = 0, count = 0;

    estr_init(&errors);
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        struct estr v;

        if (!eq || !strstr(eq, "$(steps."))
            continue;
        estr_init(&v);
        (void)stepsubst_string(eq + 1, STEPS_DIR, &v, &errors);
        names = estr_realloc(names, (n + 1) * sizeof(char *));
        values = estr_realloc(values, (n + 1) * sizeof(char *));
        names[n] = estr_ndup(*e, (size_t)(eq - *e));
        values[n++] = estr_take(&v);
    }
    /* set after the walk: setenv may move environ */
    for (size_t i = 0; i < n; i++) {
        setenv(names[i], values[i], 1);
        free(names[i]);
        free(values[i]);
    }
    free(names);
    free(values);

    while ((*argv)[count])
        count++;
    (void)stepsubst_argv(*argv, count, STEPS_DIR, &subst, &count, &errors);
    stepcmd_free_argv(*argv);
    *argv = subst;
    log_lines(&errors);
    estr_done(&errors);
}

static void post(const struct stepflags *f, bool err)
{
    struct estr path;

    if (f->post_file[0] == '\0')
        return;
    estr_init(&path);
    estr_printf(&path, "%s%s", f->post_file, err ? ".err" : "");
    write_marker(path.data, "");
    estr_done(&path);
}

int steprun_main(const struct stepflags *f)
{
    struct stepoutcome o;
    struct run_result run = {STEPOUTCOME_START_FAILED, 1};
    struct termmsg internal;
    struct estr buf;
    char **argv = NULL;
    char started[64] = "";
    bool on_error_continue = strcmp(f->on_error, "continue") == 0;
    bool prepared = true;
    int exit_code;
    int r;

    termmsg_init(&internal);
    estr_init(&buf);
    if (f->on_error[0] != '\0' && !on_error_continue && strcmp(f->on_error, "stopAndFail") != 0)
        fsutil_log("unknown -on_error value '%s', treating it as stopAndFail", f->on_error);

    /* problems found before waiting still wait, so that steps keep their order */
    if (build_command(f, &argv) < 0)
        prepared = false;
    /* Tekton's creds-init, at process start: a Secret that cannot be used fails the step */
    if (creds_setup(f->credential_args, f->credential_flags) < 0)
        prepared = false;
    if (f->step_metadata_dir[0] != '\0') {
        const char *sub[] = {"results", "artifacts"};

        for (size_t i = 0; i < 2; i++) {
            estr_done(&buf);
            estr_printf(&buf, "%s/%s", f->step_metadata_dir, sub[i]);
            r = fsutil_mkdir_p(buf.data, 0777);
            if (r < 0)
                fsutil_log("cannot create '%s': %s, ignoring", buf.data, strerror(-r));
        }
    }

    /*
     * libc reads /etc/localtime on its first time conversion, even gmtime_r's: do it now,
     * not between the previous step's end and this one's start (the hand-off)
     */
    started_at(started, sizeof(started));
    started[0] = '\0';

    /* wait for each file in order; an ".err" twin means a previous step failed */
    for (const char *p = f->wait_file; *p;) {
        const char *comma = strchr(p, ',');
        char *file = comma ? estr_ndup(p, (size_t)(comma - p)) : estr_dup(p);

        r = steprun_wait_file(file, f->wait_file_content);
        if (r < 0)
            fsutil_log("cannot wait for '%s': %s", file, strerror(-r));
        free(file);
        if (r != 0) {
            run.event = r > 0 ? STEPOUTCOME_SKIPPED : STEPOUTCOME_START_FAILED;
            if (r > 0)
                fsutil_log("skipping step because a previous step failed");
            goto decided;
        }
        if (!comma)
            break;
        p = comma + 1;
    }

    /* Tekton's StartedAt: once the wait is over, before substitution and when expressions */
    started_at(started, sizeof(started));
    if (!prepared)
        goto decided;
    if (f->has_timeout && f->timeout_ns < 0) {
        fsutil_log("negative timeout specified");
        goto decided;
    }
    substitute_step_results(&argv);
    estr_done(&buf);
    {
        bool allowed = true;

        r = stepcmd_when_allows(f->when_expressions, STEPS_DIR, &allowed, &buf);
        if (r < 0) {
            fsutil_log("%s", buf.data);
            goto decided;
        }
        log_lines(&buf);
        if (!allowed) {
            run.event = STEPOUTCOME_WHEN_FALSE;
            goto decided;
        }
    }
    run_command(argv, f, &run);

decided:
    if (started[0] == '\0')
        started_at(started, sizeof(started));
    stepoutcome_decide(run.event, run.status, on_error_continue, &o);
    exit_code = o.exit_code;
    /* the post file first: it releases the next step */
    post(f, o.post_err);
    if (o.exit_code_file[0] != '\0' && f->step_metadata_dir[0] != '\0') {
        estr_done(&buf);
        estr_printf(&buf, "%s/exitCode", f->step_metadata_dir);
        write_marker(buf.data, o.exit_code_file);
    }
    if (o.collect_results && !write_results(f))
        exit_code = 1;

    termmsg_add(&internal, "StartedAt", started, strlen(started), TERMMSG_INTERNAL);
    if (o.exit_code_entry[0] != '\0')
        termmsg_add(&internal, "ExitCode", o.exit_code_entry, strlen(o.exit_code_entry),
                    TERMMSG_INTERNAL);
    if (o.reason)
        termmsg_add(&internal, "Reason", o.reason, strlen(o.reason), TERMMSG_INTERNAL);
    r = termmsg_write(f->termination_path, &internal);
    if (r < 0) {
        fsutil_log("cannot write termination message '%s': %s", f->termination_path,
                   r == -EMSGSIZE ? TERMMSG_TOO_LONG : strerror(-r));
        exit_code = 1;
    }

    stepcmd_free_argv(argv);
    termmsg_done(&internal);
    estr_done(&buf);
    return exit_code;
}
