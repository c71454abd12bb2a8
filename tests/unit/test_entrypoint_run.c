/*
 * Process-level tests of the built entrypoint binary ($BUILD/tektite-entrypoint): chained
 * steps in a temp dir standing in for /tekton, checking order, exit codes, post and .err
 * files, timeouts, onError continue, signals, results and the init subcommand.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/entrypoint/stepcmd.h"

extern char **environ;

struct fixture {
    char dir[256];
    char binary[512];
};

/* Processes a test started and has not reaped yet; teardown kills what a failure left. */
static pid_t live[64];
static size_t n_live;

static void track(pid_t pid)
{
    if (n_live < sizeof(live) / sizeof(live[0]))
        live[n_live++] = pid;
}

static void untrack(pid_t pid)
{
    for (size_t i = 0; i < n_live; i++) {
        if (live[i] == pid)
            live[i] = 0;
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *build = getenv("BUILD");
    const char *tmp = getenv("TMPDIR");

    if (!fx)
        return -1;
    snprintf(fx->binary, sizeof(fx->binary), "%s/tektite-entrypoint", build ? build : "build");
    snprintf(fx->dir, sizeof(fx->dir), "%s/tektite-ep-run-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    for (size_t i = 0; i < n_live; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
        }
    }
    n_live = 0;
    nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* "<dir>/<rel>" into a static rotating buffer (tests only). */
static const char *at(const struct fixture *fx, const char *fmt, ...)
{
    static char bufs[16][512];
    static int next;
    char rel[256];
    char *b = bufs[next++ % 16];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    snprintf(b, sizeof(bufs[0]), "%s/%s", fx->dir, rel);
    return b;
}

/* posix_spawn 'argv' (at most 39 entries) with stderr to 'errlog' unless NULL, and 'env'. */
static pid_t spawn_env(const char *const *argv, const char *errlog, char *const *env)
{
    posix_spawn_file_actions_t fa;
    char *v[40];
    size_t n = 0;
    pid_t pid;

    while (n < 39 && argv[n])
        n++;
    memcpy(v, argv, n * sizeof(v[0])); /* posix_spawn's argv is not const-qualified */
    v[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    if (errlog)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errlog, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    assert_int_equal(posix_spawn(&pid, v[0], &fa, NULL, v, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    track(pid);
    return pid;
}

static pid_t spawn(const char *const *argv, const char *errlog)
{
    return spawn_env(argv, errlog, environ);
}

/*
 * Start the entrypoint for step 'i' of a chain with extra flags, then "-entrypoint sh --
 * -c <script>". The step's stderr goes to <dir>/stderr-<i>.
 */
static pid_t start_step(const struct fixture *fx, int i, const char *const *extra,
                        const char *script)
{
    const char *argv[40];
    char wait[512], post[512], term[512], meta[512], errlog[512];
    size_t n = 0;

    snprintf(wait, sizeof(wait), "%s/run/%d/out", fx->dir, i - 1);
    snprintf(post, sizeof(post), "%s/run/%d/out", fx->dir, i);
    snprintf(term, sizeof(term), "%s/termination-%d", fx->dir, i);
    snprintf(meta, sizeof(meta), "%s/run/%d/status", fx->dir, i);
    snprintf(errlog, sizeof(errlog), "%s/stderr-%d", fx->dir, i);
    argv[n++] = fx->binary;
    if (i > 0) {
        argv[n++] = "-wait_file";
        argv[n++] = wait;
    }
    argv[n++] = "-post_file";
    argv[n++] = post;
    argv[n++] = "-termination_path";
    argv[n++] = term;
    argv[n++] = "-step_metadata_dir";
    argv[n++] = meta;
    for (size_t k = 0; extra && extra[k]; k++)
        argv[n++] = extra[k];
    argv[n++] = "-entrypoint";
    argv[n++] = "sh";
    argv[n++] = "--";
    argv[n++] = "-c";
    argv[n++] = script;
    argv[n] = NULL;

    /* in a Pod every /tekton/run/<i> is a volume that exists before any step starts */
    mkdir(at(fx, "run"), 0755);
    for (int k = 0; k <= i; k++)
        mkdir(at(fx, "run/%d", k), 0755);
    return spawn(argv, errlog);
}

/* Wait for 'pid' at most 'seconds'; returns its exit code (128+sig if signalled). */
static int wait_exit(pid_t pid, int seconds)
{
    struct timespec nap = {0, 5 * 1000 * 1000};
    int status = 0;

    for (int waited = 0; waited < seconds * 200; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            untrack(pid);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    untrack(pid);
    fail_msg("entrypoint %ld did not exit within %ds", (long)pid, seconds);
    return -1;
}

static char *slurp(const char *path)
{
    static char buf[16384];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle))
        fail_msg("'%s' does not contain '%s'", haystack ? haystack : "(no file)", needle);
}

static void test_entrypoint_chain_runs_steps_in_order(void **state)
{
    struct fixture *fx = *state;
    char script[3][600];
    pid_t pid[3];

    struct timespec t0, t1;
    long ms;

    for (int i = 0; i < 3; i++)
        snprintf(script[i], sizeof(script[i]), "echo %d >> '%s'", i, at(fx, "order"));
    /* started last-first: only the post files can put them in order */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 2; i >= 0; i--)
        pid[i] = start_step(fx, i, NULL, script[i]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wait_exit(pid[i], 20), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* woken by inotify, not by a once-a-second poll (two hand-offs would take about 2s) */
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms >= 1500)
        fail_msg("three chained steps took %ldms", ms);
    assert_string_equal(slurp(at(fx, "order")), "0\n1\n2\n");
    for (int i = 0; i < 3; i++) {
        assert_true(exists(at(fx, "run/%d/out", i)));
        assert_false(exists(at(fx, "run/%d/out.err", i)));
        assert_string_equal(slurp(at(fx, "run/%d/status/exitCode", i)), "0");
        assert_true(exists(at(fx, "run/%d/status/results", i)));
        assert_true(exists(at(fx, "run/%d/status/artifacts", i)));
        assert_contains(slurp(at(fx, "termination-%d", i)), "[{\"key\":\"StartedAt\",\"value\":\"");
        assert_contains(slurp(at(fx, "termination-%d", i)), "Z\",\"type\":3}]");
    }
}

static void test_entrypoint_failure_skips_later_steps_with_err_files(void **state)
{
    struct fixture *fx = *state;
    char ran[600];
    pid_t pid[3];

    snprintf(ran, sizeof(ran), "touch '%s'", at(fx, "later-ran"));
    pid[2] = start_step(fx, 2, NULL, ran);
    pid[1] = start_step(fx, 1, NULL, ran);
    pid[0] = start_step(fx, 0, NULL, "exit 3");
    assert_int_equal(wait_exit(pid[0], 20), 3);
    assert_int_equal(wait_exit(pid[1], 20), 1);
    assert_int_equal(wait_exit(pid[2], 20), 1);
    assert_false(exists(at(fx, "later-ran")));
    for (int i = 0; i < 3; i++) {
        assert_true(exists(at(fx, "run/%d/out.err", i)));
        assert_false(exists(at(fx, "run/%d/out", i)));
        assert_false(exists(at(fx, "run/%d/status/exitCode", i)));
    }
    assert_false(strstr(slurp(at(fx, "termination-0")), "Reason"));
    assert_contains(slurp(at(fx, "termination-1")),
                    "{\"key\":\"Reason\",\"value\":\"Skipped\",\"type\":3}]");
    assert_contains(slurp(at(fx, "termination-2")), "\"Skipped\"");
    assert_contains(slurp(at(fx, "stderr-1")), "previous step failed");
}

static void test_entrypoint_on_error_continue_reports_code_and_continues(void **state)
{
    struct fixture *fx = *state;
    const char *const cont[] = {"-on_error", "continue", NULL};
    char ran[600];
    pid_t pid[2];

    snprintf(ran, sizeof(ran), "touch '%s'", at(fx, "next-ran"));
    pid[0] = start_step(fx, 0, cont, "exit 5");
    pid[1] = start_step(fx, 1, NULL, ran);
    assert_int_equal(wait_exit(pid[0], 20), 0);
    assert_int_equal(wait_exit(pid[1], 20), 0);
    assert_true(exists(at(fx, "next-ran")));
    assert_true(exists(at(fx, "run/0/out")));
    assert_string_equal(slurp(at(fx, "run/0/status/exitCode")), "5");
    assert_contains(slurp(at(fx, "termination-0")),
                    "{\"key\":\"ExitCode\",\"value\":\"5\",\"type\":3}]");
}

static void test_entrypoint_timeout_kills_command_and_fails_step(void **state)
{
    struct fixture *fx = *state;
    const char *const timeout[] = {"-timeout", "300ms", "-on_error", "continue", NULL};
    struct timespec t0, t1;
    pid_t pid[2];
    double took;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid[0] = start_step(fx, 0, timeout, "sleep 30; true");
    pid[1] = start_step(fx, 1, NULL, "true");
    assert_int_equal(wait_exit(pid[0], 20), 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(took >= 0.3);
    assert_true(took < 10);
    assert_int_equal(wait_exit(pid[1], 20), 1); /* skipped: continue does not cover timeouts */
    assert_true(exists(at(fx, "run/0/out.err")));
    assert_contains(slurp(at(fx, "termination-0")),
                    "{\"key\":\"Reason\",\"value\":\"TimeoutExceeded\",\"type\":3}]");
}

static void test_entrypoint_forwards_sigterm_to_command(void **state)
{
    struct fixture *fx = *state;
    char script[700];
    pid_t pid;
    int tries = 0;

    snprintf(script, sizeof(script), "trap 'exit 7' TERM; touch '%s'; while :; do sleep 0.05; done",
             at(fx, "started"));
    pid = start_step(fx, 0, NULL, script);
    while (!exists(at(fx, "started")) && tries++ < 2000)
        usleep(5000);
    assert_true(exists(at(fx, "started")));
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 20), 7);
    assert_true(exists(at(fx, "run/0/out.err")));
}

static void test_entrypoint_step_results_reach_termination_message(void **state)
{
    struct fixture *fx = *state;
    const char *const results[] = {"-step_results", "digest,missing,url", NULL};
    char script[900];
    pid_t pid;

    snprintf(script, sizeof(script), "printf 'sha256:<1>' > '%s'; printf 'a\\nb' > '%s'",
             at(fx, "run/0/status/results/digest"), at(fx, "run/0/status/results/url"));
    pid = start_step(fx, 0, results, script);
    assert_int_equal(wait_exit(pid, 20), 0);
    assert_contains(slurp(at(fx, "termination-0")),
                    "[{\"key\":\"digest\",\"value\":\"sha256:\\u003c1\\u003e\",\"type\":4},"
                    "{\"key\":\"url\",\"value\":\"a\\nb\",\"type\":4},"
                    "{\"key\":\"StartedAt\"");
}

static void test_entrypoint_oversized_results_fail_step_but_release_next(void **state)
{
    struct fixture *fx = *state;
    const char *const results[] = {"-step_results", "big", NULL};
    char script[700];
    pid_t pid[2];

    snprintf(script, sizeof(script), "head -c 5000 /dev/zero | tr '\\0' x > '%s'",
             at(fx, "run/0/status/results/big"));
    pid[0] = start_step(fx, 0, results, script);
    pid[1] = start_step(fx, 1, NULL, "true");
    assert_int_equal(wait_exit(pid[0], 20), 1);
    assert_int_equal(wait_exit(pid[1], 20), 0);
    assert_true(exists(at(fx, "run/0/out")));
    assert_string_equal(slurp(at(fx, "run/0/status/exitCode")), "0");
    assert_contains(slurp(at(fx, "stderr-0")),
                    "Termination message is above max allowed size 4096, caused by large task "
                    "result.");
    assert_false(strstr(slurp(at(fx, "termination-0")), "big"));
    assert_contains(slurp(at(fx, "termination-0")), "StartedAt");
}

static void test_entrypoint_wait_file_content_waits_for_non_empty(void **state)
{
    struct fixture *fx = *state;
    char wait_flag[512];
    const char *extra[] = {"-wait_file", wait_flag, "-wait_file_content", NULL};
    struct timespec t0, t1;
    pid_t pid;
    int fd;

    /* the kubelet's downward-API layout: ready -> ..data/ready, ..data -> ..<timestamp> */
    mkdir(at(fx, "downward"), 0755);
    mkdir(at(fx, "downward/..t1"), 0755);
    fd = open(at(fx, "downward/..t1/ready"), O_WRONLY | O_CREAT, 0644);
    close(fd);
    assert_int_equal(symlink("..t1", at(fx, "downward/..data")), 0);
    assert_int_equal(symlink("..data/ready", at(fx, "downward/ready")), 0);
    snprintf(wait_flag, sizeof(wait_flag), "%s", at(fx, "downward/ready"));
    pid = start_step(fx, 0, extra, "true");
    usleep(200 * 1000);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still waiting on the empty file */

    /* the annotation arrives: a new timestamped dir, then ..data swapped by rename */
    mkdir(at(fx, "downward/..t2"), 0755);
    fd = open(at(fx, "downward/..t2/ready"), O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write(fd, "READY", 5), 5);
    close(fd);
    assert_int_equal(symlink("..t2", at(fx, "downward/..data_tmp")), 0);
    usleep(100 * 1000); /* let the step settle after the events above */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(rename(at(fx, "downward/..data_tmp"), at(fx, "downward/..data")), 0);
    assert_int_equal(wait_exit(pid, 20), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* inotify saw the swap: well before the one-second fallback re-check */
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 700);
}

static void test_entrypoint_unknown_flag_exits_1(void **state)
{
    struct fixture *fx = *state;
    const char *argv[] = {fx->binary, "-no_such_flag", "x", NULL};
    pid_t pid = spawn(argv, at(fx, "stderr"));

    assert_int_equal(wait_exit(pid, 20), 1);
    assert_contains(slurp(at(fx, "stderr")), "flag provided but not defined: -no_such_flag");
}

static void test_entrypoint_init_copies_binary_links_steps_writes_scripts(void **state)
{
    struct fixture *fx = *state;
    char dst[512], steps[512], script[512], wd[512], encoded_path[512];
    const char *argv[20];
    char link[512];
    struct stat st;
    ssize_t n;
    pid_t pid;
    int fd;

    snprintf(dst, sizeof(dst), "%s", at(fx, "bin/entrypoint"));
    snprintf(steps, sizeof(steps), "%s", at(fx, "steps"));
    snprintf(script, sizeof(script), "%s", at(fx, "scripts/script-0-abcde"));
    snprintf(wd, sizeof(wd), "%s", at(fx, "workspace/src/sub"));
    {
        const char *v[] = {fx->binary,  "init",       fx->binary,
                           dst,         "step-build", "step-unnamed-1",
                           "--script",  script,       "IyEvYmluL3NoCnNldCAtZQplY2hvIGhpCg==",
                           "--workdir", wd,           "--steps-dir",
                           steps,       NULL};
        memcpy(argv, v, sizeof(v));
    }
    pid = spawn(argv, NULL);
    assert_int_equal(wait_exit(pid, 20), 0);

    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0311);
    assert_int_equal(stat(fx->binary, &st) == 0 ? st.st_size : -1, (stat(dst, &st), st.st_size));
    n = readlink(at(fx, "steps/step-build"), link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, "/tekton/run/0/status");
    n = readlink(at(fx, "steps/1"), link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, "/tekton/run/1/status");
    assert_string_equal(slurp(script), "#!/bin/sh\nset -e\necho hi\n");
    assert_int_equal(stat(script, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(stat(wd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* running it again tolerates the existing links */
    pid = spawn(argv, NULL);
    assert_int_equal(wait_exit(pid, 20), 0);

    /* decode-script, Tekton's place-scripts helper, rewrites in place keeping the mode */
    snprintf(encoded_path, sizeof(encoded_path), "%s", at(fx, "scripts/legacy"));
    fd = open(encoded_path, O_WRONLY | O_CREAT, 0700);
    assert_int_equal(write(fd, "ZWNobyBvawo=\n", 13), 13);
    close(fd);
    {
        const char *v[] = {fx->binary, "decode-script", encoded_path, NULL};

        pid = spawn(v, NULL);
    }
    assert_int_equal(wait_exit(pid, 20), 0);
    assert_string_equal(slurp(encoded_path), "echo ok\n");
    assert_int_equal(stat(encoded_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_entrypoint_init_bad_base64_fails_naming_script(void **state)
{
    struct fixture *fx = *state;
    char dst[512], script[512];
    pid_t pid;

    snprintf(dst, sizeof(dst), "%s", at(fx, "bin/entrypoint"));
    snprintf(script, sizeof(script), "%s", at(fx, "scripts/s"));
    {
        const char *v[] = {fx->binary,      "init",     fx->binary, dst,          "--steps-dir",
                           at(fx, "steps"), "--script", script,     "not*base64", NULL};

        pid = spawn(v, at(fx, "stderr"));
    }
    assert_int_equal(wait_exit(pid, 20), 1);
    assert_contains(slurp(at(fx, "stderr")), "cannot decode script '");
    assert_contains(slurp(at(fx, "stderr")), "illegal base64 data at input byte 3");
    assert_false(exists(script));
}

/* The image's default command "nop" (what a stopped sidecar restarts into) exits 0 at once,
 * whatever the sidecar's own args are, and writes nothing. */
static void test_entrypoint_nop_exits_zero_with_any_args(void **state)
{
    struct fixture *fx = *state;
    const char *v[] = {fx->binary, "nop", "--port=8080", "-unknown-flag", "serve", NULL};
    const char *bare[] = {fx->binary, "nop", NULL};

    assert_int_equal(wait_exit(spawn(v, at(fx, "stderr")), 20), 0);
    assert_string_equal(slurp(at(fx, "stderr")), "");
    assert_int_equal(wait_exit(spawn(bare, at(fx, "stderr")), 20), 0);
}

static void test_entrypoint_stdout_path_tees_output_to_file(void **state)
{
    struct fixture *fx = *state;
    char out_path[512], err_path[512];
    const char *extra[] = {"-stdout_path", out_path, "-stderr_path", err_path, NULL};
    pid_t pid;

    snprintf(out_path, sizeof(out_path), "%s", at(fx, "logs/deep/stdout"));
    snprintf(err_path, sizeof(err_path), "%s", at(fx, "logs/stderr"));
    pid = start_step(fx, 0, extra, "echo to-out; echo to-err >&2; exit 4");
    assert_int_equal(wait_exit(pid, 20), 4);
    assert_string_equal(slurp(out_path), "to-out\n");
    assert_string_equal(slurp(err_path), "to-err\n");
    /* the step's own stderr still gets the stream */
    assert_contains(slurp(at(fx, "stderr-0")), "to-err");
}

static void test_entrypoint_platform_commands_env_selects_command(void **state)
{
    struct fixture *fx = *state;
    char env_var[256], path_var[] = "PATH=/usr/bin:/bin", marker[512], script[600];
    char *env[] = {env_var, path_var, NULL};
    const char *argv[] = {fx->binary, "-post_file", NULL, "-termination_path", NULL, "--",
                          "-c",       script,       NULL};
    pid_t pid;

    snprintf(env_var, sizeof(env_var), "TEKTON_PLATFORM_COMMANDS={\"%s\":[\"sh\"]}",
             stepcmd_platform());
    snprintf(marker, sizeof(marker), "%s", at(fx, "ran"));
    snprintf(script, sizeof(script), "touch '%s'", marker);
    argv[2] = at(fx, "out");
    argv[4] = at(fx, "termination");
    pid = spawn_env(argv, at(fx, "stderr"), env);
    assert_int_equal(wait_exit(pid, 20), 0);
    assert_true(exists(marker));

    /* no entry for this platform: exit 1, .err so later steps skip */
    snprintf(env_var, sizeof(env_var), "TEKTON_PLATFORM_COMMANDS={\"plan9/mips\":[\"sh\"]}");
    pid = spawn_env(argv, at(fx, "stderr"), env);
    assert_int_equal(wait_exit(pid, 20), 1);
    assert_true(exists(at(fx, "out.err")));
    assert_contains(slurp(at(fx, "stderr")), "could not find command for platform");
}

static void test_entrypoint_when_false_skips_command_but_succeeds(void **state)
{
    struct fixture *fx = *state;
    const char *const when[] = {"--when_expressions",
                                "[{\"input\":\"a\",\"operator\":\"in\",\"values\":[\"b\"]}]", NULL};
    char ran[600];
    pid_t pid[2];

    snprintf(ran, sizeof(ran), "touch '%s'", at(fx, "ran"));
    pid[0] = start_step(fx, 0, when, ran);
    pid[1] = start_step(fx, 1, NULL, "true");
    assert_int_equal(wait_exit(pid[0], 20), 0);
    assert_int_equal(wait_exit(pid[1], 20), 0);
    assert_false(exists(at(fx, "ran")));
    assert_true(exists(at(fx, "run/0/out")));
    assert_string_equal(slurp(at(fx, "run/0/status/exitCode")), "0");
    assert_contains(slurp(at(fx, "termination-0")),
                    "{\"key\":\"Reason\",\"value\":\"Skipped\",\"type\":3}]");
}

static void test_entrypoint_negative_timeout_fails_without_running(void **state)
{
    struct fixture *fx = *state;
    const char *const timeout[] = {"-timeout", "-1s", NULL};
    char ran[600];
    pid_t pid;

    snprintf(ran, sizeof(ran), "touch '%s'", at(fx, "ran"));
    pid = start_step(fx, 0, timeout, ran);
    assert_int_equal(wait_exit(pid, 20), 1);
    assert_false(exists(at(fx, "ran")));
    assert_true(exists(at(fx, "run/0/out.err")));
    assert_contains(slurp(at(fx, "stderr-0")), "negative timeout specified");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entrypoint_chain_runs_steps_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_failure_skips_later_steps_with_err_files,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_entrypoint_on_error_continue_reports_code_and_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_timeout_kills_command_and_fails_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_forwards_sigterm_to_command, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_step_results_reach_termination_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_entrypoint_oversized_results_fail_step_but_release_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_wait_file_content_waits_for_non_empty,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_unknown_flag_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_when_false_skips_command_but_succeeds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_negative_timeout_fails_without_running,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_stdout_path_tees_output_to_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_platform_commands_env_selects_command,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_entrypoint_init_copies_binary_links_steps_writes_scripts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_init_bad_base64_fails_naming_script, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_nop_exits_zero_with_any_args, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
