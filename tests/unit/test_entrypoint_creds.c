/*
 * Tests for the entrypoint's creds-init (controller/entrypoint/creds.c): each Secret type
 * rendered into a temp credentials dir, merging, modes, malformed Secrets writing nothing,
 * the copy into $HOME; then the built binary ($BUILD/tektite-entrypoint) run as a process
 * with the credential flags, as a step in a Pod would run it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "controller/entrypoint/creds.h"
#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/stepflags.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
    char dir[256];
    char secrets[300];
    char creds[300];
};

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
    const char *tmp = getenv("TMPDIR");

    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "%s/tektite-creds-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->secrets, sizeof(fx->secrets), "%s/secrets", fx->dir);
    snprintf(fx->creds, sizeof(fx->creds), "%s/creds", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* "<dir>/<rel>" into a static rotating buffer (tests only). */
static const char *at(const char *dir, const char *fmt, ...)
{
    static char bufs[16][600];
    static int next;
    char rel[300];
    char *b = bufs[next++ % 16];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, rel);
    return b;
}

static void put_file(const char *path, const char *content)
{
    char parent[600];
    char *slash;
    int fd;

    snprintf(parent, sizeof(parent), "%s", path);
    slash = strrchr(parent, '/');
    *slash = '\0';
    for (char *p = parent + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(parent, 0755);
            *p = '/';
        }
    }
    mkdir(parent, 0755);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

/* A mounted Secret key: <secrets>/<secret>/<key>. */
static void put_secret(const struct fixture *fx, const char *secret, const char *key,
                       const char *content)
{
    put_file(at(fx->secrets, "%s/%s", secret, key), content);
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

static void assert_file(const char *path, const char *content)
{
    const char *got = slurp(path);

    if (!got)
        fail_msg("'%s' was not written", path);
    assert_string_equal(got, content);
}

static void assert_mode(const char *path, mode_t mode)
{
    struct stat st;

    if (stat(path, &st) < 0)
        fail_msg("'%s' does not exist", path);
    if ((st.st_mode & 07777) != mode)
        fail_msg("'%s' has mode %04o, want %04o", path, st.st_mode & 07777, mode);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle))
        fail_msg("'%s' does not contain '%s'", haystack ? haystack : "(none)", needle);
}

/* Parse the "name value" pairs in 'flags' (NULL-terminated) and write into fx->creds. */
static int write_flags(const struct fixture *fx, const char *const *flags, struct estr *err)
{
    struct creds *c = creds_new();
    int r = 0;

    for (size_t i = 0; flags[i] && r == 0; i += 2)
        r = creds_add_flag(c, flags[i], flags[i + 1], err);
    assert_int_equal(r, 0);
    r = creds_write(c, fx->secrets, fx->creds, err);
    creds_free(c);
    return r;
}

static void write_ok(const struct fixture *fx, const char *const *flags)
{
    struct estr err;
    int r;

    estr_init(&err);
    r = write_flags(fx, flags, &err);
    if (r != 0)
        fail_msg("creds_write: %d %s", r, estr_str(&err));
    estr_done(&err);
}

/* Run 'cmd' with /bin/sh; returns its exit code. */
static int run_shell(const char *cmd)
{
    char *argv[] = {(char *)(uintptr_t) "/bin/sh", (char *)(uintptr_t) "-c", (char *)(uintptr_t)cmd,
                    NULL};
    extern char **environ;
    int status;
    pid_t pid;

    assert_int_equal(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static bool system_has_git(void)
{
    return run_shell("command -v git >/dev/null 2>&1") == 0;
}

/* ---- basic-auth git ------------------------------------------------------------------ */

static void test_creds_basic_git_writes_store_helper_and_encoded_credentials(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"basic-git", "git-basic=https://github.com", NULL};

    put_secret(fx, "git-basic", "username", "dev user@corp");
    put_secret(fx, "git-basic", "password", "p:a/s?s#%$&+,;=~é");
    write_ok(fx, flags);
    assert_file(at(fx->creds, ".gitconfig"), "[credential]\n\thelper = store\n"
                                             "[credential \"https://github.com\"]\n"
                                             "\tusername = dev user@corp\n");
    /* user info escaped as Go's url.UserPassword: ':' '/' '?' '#' '@' '%' ' ' and UTF-8 */
    assert_file(at(fx->creds, ".git-credentials"),
                "https://dev%20user%40corp:p%3Aa%2Fs%3Fs%23%25$&+,;=~%C3%A9@github.com\n");
    assert_mode(at(fx->creds, ".gitconfig"), 0600);
    assert_mode(at(fx->creds, ".git-credentials"), 0600);
    assert_false(exists(at(fx->creds, ".ssh")));
    assert_false(exists(at(fx->creds, ".docker")));
}

static void test_creds_basic_git_host_wide_first_and_repo_urls_use_http_path(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"basic-git", "repo=https://github.com/org/private.git", "basic-git",
                           "org=https://github.com", NULL};

    put_secret(fx, "repo", "username", "deploy");
    put_secret(fx, "repo", "password", "r");
    put_secret(fx, "org", "username", "bot\\ci");
    put_secret(fx, "org", "password", "o");
    write_ok(fx, flags);
    assert_file(at(fx->creds, ".gitconfig"), "[credential]\n\thelper = store\n"
                                             "[credential \"https://github.com/org/private.git\"]\n"
                                             "\tusername = deploy\n"
                                             "\tuseHttpPath = true\n"
                                             "[credential \"https://github.com\"]\n"
                                             "\tusername = bot\\\\ci\n");
    assert_file(at(fx->creds, ".git-credentials"), "https://bot%5Cci:o@github.com\n"
                                                   "https://deploy:r@github.com/org/private.git\n");
}

static void test_creds_basic_git_url_without_scheme_is_written_as_go_does(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"basic-git", "s=github.com", "basic-git", "t=https://old:x@gitlab.com/",
                           NULL};

    put_secret(fx, "s", "username", "u");
    put_secret(fx, "s", "password", "p");
    put_secret(fx, "t", "username", "v");
    put_secret(fx, "t", "password", "q");
    write_ok(fx, flags);
    /* Go's url.URL.String() of a scheme-less URL; user info in the annotation is replaced */
    assert_file(at(fx->creds, ".git-credentials"), "//u:p@github.com\nhttps://v:q@gitlab.com/\n");
}

/* ---- ssh-auth git -------------------------------------------------------------------- */

static void test_creds_ssh_git_writes_private_key_config_and_known_hosts(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"ssh-git", "ssh-key-for-git=localhost", NULL};
    char config[1024];

    put_secret(fx, "ssh-key-for-git", "ssh-privatekey", "-----BEGIN KEY-----\nabc\n");
    put_secret(fx, "ssh-key-for-git", "known_hosts", "localhost ssh-rsa AAAA");
    write_ok(fx, flags);
    assert_file(at(fx->creds, ".ssh/id_ssh-key-for-git"), "-----BEGIN KEY-----\nabc\n");
    snprintf(config, sizeof(config),
             "Host localhost\n    HostName localhost\n    Port 22\n"
             "    IdentityFile %s/.ssh/id_ssh-key-for-git\n",
             fx->creds);
    assert_file(at(fx->creds, ".ssh/config"), config);
    assert_file(at(fx->creds, ".ssh/known_hosts"), "localhost ssh-rsa AAAA");
    assert_mode(at(fx->creds, ".ssh"), 0700);
    assert_mode(at(fx->creds, ".ssh/id_ssh-key-for-git"), 0600);
    assert_mode(at(fx->creds, ".ssh/config"), 0600);
    assert_mode(at(fx->creds, ".ssh/known_hosts"), 0600);
    assert_false(exists(at(fx->creds, ".gitconfig")));
    assert_false(exists(at(fx->creds, ".docker")));
}

static void test_creds_ssh_git_without_known_hosts_writes_no_known_hosts(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"ssh-git", "k=github.com", NULL};

    put_secret(fx, "k", "ssh-privatekey", "key");
    write_ok(fx, flags);
    assert_true(exists(at(fx->creds, ".ssh/config")));
    assert_false(exists(at(fx->creds, ".ssh/known_hosts")));
}

static void test_creds_ssh_git_host_and_port_from_annotation(void **state)
{
    static const struct {
        const char *url, *host, *port;
        bool repo; /* a repository gets a Host alias of its own */
    } cases[] = {
        {"github.com", "github.com", "22", false},
        {"git.example.com:2222", "git.example.com", "2222", false},
        {"[::1]:2200", "::1", "2200", false},
        {"[fe80::1]", "fe80::1", "22", false},
        {"ssh://git@example.com:7999", "example.com", "7999", false},
        {"ssh://git@example.com:7999/org/repo.git", "example.com", "7999", true},
        {"git@github.com:org/repo.git", "github.com", "22", true},
        {"gitlab.com/org/repo", "gitlab.com", "22", true},
        {"gitlab.com/", "gitlab.com", "22", false},
    };
    struct fixture *fx = *state;

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char value[200], want[1024], alias[200];
        const char *flags[] = {"ssh-git", value, NULL};
        const char *got;
        size_t len;

        snprintf(value, sizeof(value), "k=%s", cases[i].url);
        put_secret(fx, "k", "ssh-privatekey", "key");
        write_ok(fx, flags);
        got = slurp(at(fx->creds, ".ssh/config"));
        assert_true(strncmp(got, "Host ", 5) == 0);
        len = strcspn(got + 5, "\n");
        snprintf(alias, sizeof(alias), "%.*s", (int)len, got + 5);
        if (cases[i].repo) {
            /* "<host>-<8 hex digits>" */
            if (strncmp(alias, cases[i].host, strlen(cases[i].host)) != 0 ||
                alias[strlen(cases[i].host)] != '-' || strlen(alias) != strlen(cases[i].host) + 9 ||
                strspn(alias + strlen(cases[i].host) + 1, "0123456789abcdef") != 8)
                fail_msg("url '%s': Host '%s' is not an alias of '%s'", cases[i].url, alias,
                         cases[i].host);
        } else {
            assert_string_equal(alias, cases[i].host);
        }
        snprintf(want, sizeof(want),
                 "Host %s\n    HostName %s\n    Port %s\n    IdentityFile %s/.ssh/id_k\n", alias,
                 cases[i].host, cases[i].port, fx->creds);
        if (strcmp(got, want) != 0)
            fail_msg("url '%s': got\n%s\nwant\n%s", cases[i].url, got, want);
    }
}

/* "Host <alias>" of the n-th (0-based) Host entry of 'config'. */
static const char *nth_host(const char *config, int n, char *buf, size_t len)
{
    const char *p = config;

    for (int i = 0; i <= n; i++) {
        p = strstr(p, "Host ");
        assert_non_null(p);
        p += 5;
    }
    snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
    return buf;
}

static void test_creds_ssh_git_repositories_get_aliases_and_insteadof(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"ssh-git", "deploy=git@github.com:org/private.git",
                           "ssh-git", "app=ssh://git@git.corp:2222/team/app",
                           "ssh-git", "org=github.com",
                           NULL};
    char config[16384], gitconfig[4096], a1[100], a2[100];

    put_secret(fx, "deploy", "ssh-privatekey", "key-d");
    put_secret(fx, "app", "ssh-privatekey", "key-a");
    put_secret(fx, "org", "ssh-privatekey", "key-o");
    write_ok(fx, flags);
    snprintf(config, sizeof(config), "%s", slurp(at(fx->creds, ".ssh/config")));
    /* the host-wide entry first, then the repositories in flag order */
    assert_string_equal(nth_host(config, 0, a1, sizeof(a1)), "github.com");
    nth_host(config, 1, a1, sizeof(a1));
    nth_host(config, 2, a2, sizeof(a2));
    assert_true(strncmp(a1, "github.com-", 11) == 0);
    assert_true(strncmp(a2, "git.corp-", 9) == 0);
    snprintf(gitconfig, sizeof(gitconfig),
             "Host github.com\n    HostName github.com\n    Port 22\n"
             "    IdentityFile %s/.ssh/id_org\n"
             "Host %s\n    HostName github.com\n    Port 22\n"
             "    IdentityFile %s/.ssh/id_deploy\n"
             "Host %s\n    HostName git.corp\n    Port 2222\n"
             "    IdentityFile %s/.ssh/id_app\n",
             fx->creds, a1, fx->creds, a2, fx->creds);
    assert_string_equal(config, gitconfig);
    /* scp form only where the port is 22; no basic-auth, so no helper and no credentials */
    snprintf(
        gitconfig, sizeof(gitconfig),
        "[url \"git@%s:org/private\"]\n\tinsteadOf = \"git@github.com:org/private\"\n"
        "[url \"ssh://git@%s/org/private\"]\n"
        "\tinsteadOf = \"ssh://git@github.com/org/private\"\n"
        "[url \"ssh://git@%s/team/app\"]\n\tinsteadOf = \"ssh://git@git.corp:2222/team/app\"\n",
        a1, a1, a2);
    assert_file(at(fx->creds, ".gitconfig"), gitconfig);
    assert_false(exists(at(fx->creds, ".git-credentials")));
}

/* git itself resolves the rewrite: the ssh command it runs is given the alias. */
static void test_creds_ssh_git_insteadof_is_applied_by_git(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"ssh-git", "deploy=github.com/org/private", NULL};
    char cmd[2048], alias[100];
    const char *args;

    if (system_has_git() == false)
        skip();
    put_secret(fx, "deploy", "ssh-privatekey", "key");
    write_ok(fx, flags);
    nth_host(slurp(at(fx->creds, ".ssh/config")), 0, alias, sizeof(alias));
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && HOME='%s' GIT_CONFIG_NOSYSTEM=1 GIT_SSH_COMMAND='echo >%s/args' "
             "git ls-remote git@github.com:org/private.git >/dev/null 2>&1; true",
             fx->dir, fx->creds, fx->dir);
    assert_int_equal(run_shell(cmd), 0);
    args = slurp(at(fx->dir, "args"));
    assert_contains(args, alias);
    assert_contains(args, "org/private.git");
}

static void test_creds_ssh_git_several_secrets_merge_per_host(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"ssh-git", "a=github.com", "ssh-git", "b=gitlab.com:2022",
                           "ssh-git", "c=github.com", NULL};
    char config[2048];

    put_secret(fx, "a", "ssh-privatekey", "key-a");
    put_secret(fx, "a", "known_hosts", "github.com ssh-ed25519 A");
    put_secret(fx, "b", "ssh-privatekey", "key-b");
    put_secret(fx, "c", "ssh-privatekey", "key-c");
    put_secret(fx, "c", "known_hosts", "github.com ssh-ed25519 C\n");
    write_ok(fx, flags);
    snprintf(config, sizeof(config),
             "Host github.com\n    HostName github.com\n    Port 22\n"
             "    IdentityFile %s/.ssh/id_a\n    IdentityFile %s/.ssh/id_c\n"
             "Host gitlab.com\n    HostName gitlab.com\n    Port 2022\n"
             "    IdentityFile %s/.ssh/id_b\n",
             fx->creds, fx->creds, fx->creds);
    assert_file(at(fx->creds, ".ssh/config"), config);
    assert_file(at(fx->creds, ".ssh/id_a"), "key-a");
    assert_file(at(fx->creds, ".ssh/id_b"), "key-b");
    assert_file(at(fx->creds, ".ssh/id_c"), "key-c");
    /* joined in the order of the config entries */
    assert_file(at(fx->creds, ".ssh/known_hosts"),
                "github.com ssh-ed25519 A\ngithub.com ssh-ed25519 C\n");
}

/* ---- docker -------------------------------------------------------------------------- */

static void test_creds_basic_docker_writes_config_json_with_auth(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"basic-docker", "reg=https://gcr.io", NULL};

    put_secret(fx, "reg", "username", "_json_key");
    put_secret(fx, "reg", "password", "s3cr3t");
    write_ok(fx, flags);
    /* auth = base64("_json_key:s3cr3t"); Tekton's placeholder email */
    assert_file(at(fx->creds, ".docker/config.json"),
                "{\"auths\":{\"https://gcr.io\":{\"username\":\"_json_key\",\"password\":"
                "\"s3cr3t\",\"auth\":\"X2pzb25fa2V5OnMzY3IzdA==\",\"email\":\"not@val.id\"}}}");
    assert_mode(at(fx->creds, ".docker"), 0700);
    assert_mode(at(fx->creds, ".docker/config.json"), 0600);
    assert_false(exists(at(fx->creds, ".gitconfig")));
}

static void test_creds_docker_secrets_merge_basic_over_config_over_cfg(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {"basic-docker", "basic=b.io", "docker-config", "cfgjson", "docker-cfg",
                           "legacy",       NULL};

    put_secret(fx, "basic", "username", "ub");
    put_secret(fx, "basic", "password", "p<&>");
    put_secret(fx, "cfgjson", ".dockerconfigjson",
               "{\"auths\":{\"b.io\":{\"auth\":\"bG9zZXI=\"},"
               "\"a.io\":{\"Username\":\"ua\",\"auth\":\"YQ==\",\"identitytoken\":\"x\"},"
               "\"c.io\":{\"auth\":\"Yw==\",\"email\":null}},\"credsStore\":\"x\"}");
    put_secret(fx, "legacy", ".dockercfg",
               "{\"a.io\":{\"auth\":\"b2xk\"},\"d.io\":{\"auth\":\"ZA==\",\"email\":\"d@x\"}}");
    write_ok(fx, flags);
    /* keys sorted; unknown fields dropped; empty username/password/email left out */
    assert_file(at(fx->creds, ".docker/config.json"),
                "{\"auths\":{"
                "\"a.io\":{\"username\":\"ua\",\"auth\":\"YQ==\"},"
                "\"b.io\":{\"username\":\"ub\",\"password\":\"p\\u003c\\u0026\\u003e\","
                "\"auth\":\"dWI6cDwmPg==\",\"email\":\"not@val.id\"},"
                "\"c.io\":{\"auth\":\"Yw==\"},"
                "\"d.io\":{\"auth\":\"ZA==\",\"email\":\"d@x\"}}}");
}

static void test_creds_all_types_together_write_every_file(void **state)
{
    struct fixture *fx = *state;
    const char *flags[] = {
        "basic-git", "g=https://github.com", "ssh-git", "s=github.com", "docker-config", "d", NULL};

    put_secret(fx, "g", "username", "u");
    put_secret(fx, "g", "password", "p");
    put_secret(fx, "s", "ssh-privatekey", "key");
    put_secret(fx, "d", ".dockerconfigjson", "{\"auths\":{}}");
    write_ok(fx, flags);
    assert_true(exists(at(fx->creds, ".gitconfig")));
    assert_true(exists(at(fx->creds, ".git-credentials")));
    assert_true(exists(at(fx->creds, ".ssh/id_s")));
    /* an empty auths map has nothing to write, as in Tekton */
    assert_false(exists(at(fx->creds, ".docker")));
}

/* ---- bad input ----------------------------------------------------------------------- */

static void test_creds_add_flag_rejects_malformed_values(void **state)
{
    static const struct {
        const char *name, *value, *reason;
    } cases[] = {
        {"basic-git", "no-separator", "expect entries of the form secret=url"},
        {"ssh-git", "a=b=c", "expect entries of the form secret=url"},
        {"basic-docker", "s=", "expect entries of the form secret=url"},
        {"basic-git", "=https://x", "not a Secret name"},
        {"ssh-git", "../etc=x", "not a Secret name"},
        {"docker-config", "a/b", "not a Secret name"},
        {"docker-cfg", "", "not a Secret name"},
        {"basic-git", "s=https://x\n", "control character"},
        {"basic-token", "s=x", "unknown credential flag -basic-token"},
    };
    (void)state;

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct creds *c = creds_new();
        struct estr err;

        estr_init(&err);
        assert_int_equal(creds_add_flag(c, cases[i].name, cases[i].value, &err), -EINVAL);
        assert_contains(estr_str(&err), cases[i].reason);
        assert_int_equal(creds_count(c), 0);
        estr_done(&err);
        creds_free(c);
    }
}

static void test_creds_add_flag_rejects_second_basic_entry_for_a_url(void **state)
{
    struct creds *c = creds_new();
    struct estr err;
    (void)state;

    estr_init(&err);
    assert_int_equal(creds_add_flag(c, "basic-docker", "a=gcr.io", &err), 0);
    assert_int_equal(creds_add_flag(c, "basic-git", "a=gcr.io", &err), 0);
    assert_int_equal(creds_add_flag(c, "basic-docker", "b=gcr.io", &err), -EINVAL);
    assert_contains(estr_str(&err), "multiple entries for the URL");
    /* several ssh keys for one host are fine (several IdentityFile lines) */
    assert_int_equal(creds_add_flag(c, "ssh-git", "a=gcr.io", &err), 0);
    assert_int_equal(creds_add_flag(c, "ssh-git", "b=gcr.io", &err), 0);
    assert_int_equal(creds_count(c), 4);
    estr_done(&err);
    creds_free(c);
}

static void test_creds_unusable_secret_fails_naming_file_and_writes_nothing(void **state)
{
    static const struct {
        const char *flag, *value, *file, *content; /* content NULL: the file is missing */
        const char *extra;                         /* another file of "bad", content "p" */
        int r;
        const char *reason;
    } cases[] = {
        {"basic-git", "bad=https://x", "bad/password", NULL, NULL, -ENOENT, "bad/username'"},
        {"basic-docker", "bad=x.io", "bad/username", "u", NULL, -ENOENT, "bad/password'"},
        {"ssh-git", "bad=x", "bad/known_hosts", "h", NULL, -ENOENT, "bad/ssh-privatekey'"},
        {"docker-config", "bad", "bad/.dockerconfigjson", "{\"auths\":", NULL, -EINVAL,
         "bad/.dockerconfigjson': not valid JSON"},
        {"docker-config", "bad", "bad/.dockerconfigjson", "{\"auths\":[]}", NULL, -EINVAL,
         "\"auths\" is not an object"},
        {"docker-config", "bad", "bad/.dockerconfigjson", "[]", NULL, -EINVAL, "is not an object"},
        {"docker-cfg", "bad", "bad/.dockercfg", "{\"r.io\":{\"auth\":1}}", NULL, -EINVAL,
         "\"auth\" of registry \"r.io\" is not a string"},
        {"docker-cfg", "bad", "bad/.dockercfg", "{\"r.io\":\"x\"}", NULL, -EINVAL,
         "registry \"r.io\" is not an object"},
        {"basic-git", "bad=https://x", "bad/username", "line\nbreak", "bad/password", -EINVAL,
         "bad/username': control character"},
    };
    struct fixture *fx = *state;

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        /* a good Secret of every type comes first: it must not be written either */
        const char *flags[] = {"basic-git",    "g=https://github.com", "ssh-git",
                               "s=github.com", "basic-docker",         "d=gcr.io",
                               cases[i].flag,  cases[i].value,         NULL};
        struct estr err;

        nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        mkdir(fx->dir, 0700);
        put_secret(fx, "g", "username", "u");
        put_secret(fx, "g", "password", "p");
        put_secret(fx, "s", "ssh-privatekey", "k");
        put_secret(fx, "d", "username", "u");
        put_secret(fx, "d", "password", "p");
        mkdir(fx->secrets, 0755);
        mkdir(at(fx->secrets, "bad"), 0755);
        if (cases[i].content)
            put_file(at(fx->secrets, "%s", cases[i].file), cases[i].content);
        if (cases[i].extra)
            put_file(at(fx->secrets, "%s", cases[i].extra), "p");
        estr_init(&err);
        assert_int_equal(write_flags(fx, flags, &err), cases[i].r);
        assert_contains(estr_str(&err), cases[i].reason);
        assert_contains(estr_str(&err), fx->secrets);
        if (exists(fx->creds))
            fail_msg("case %zu wrote '%s'", i, fx->creds);
        estr_done(&err);
    }
}

/* ---- $HOME --------------------------------------------------------------------------- */

static void test_creds_copy_to_home_copies_tree_with_private_modes(void **state)
{
    struct fixture *fx = *state;
    const char *home = at(fx->dir, "home");

    put_file(at(fx->creds, ".ssh/id_k"), "key");
    put_file(at(fx->creds, ".ssh/config"), "Host x\n");
    put_file(at(fx->creds, ".gitconfig"), "[credential]\n");
    put_file(at(fx->creds, "unrelated"), "not copied");
    put_file(at(home, ".git-credentials"), "a much longer old content that must go\n");
    put_file(at(fx->creds, ".git-credentials"), "new\n");
    creds_copy_to_home(fx->creds, home);
    assert_file(at(home, ".ssh/id_k"), "key");
    assert_file(at(home, ".ssh/config"), "Host x\n");
    assert_file(at(home, ".gitconfig"), "[credential]\n");
    assert_file(at(home, ".git-credentials"), "new\n");
    assert_mode(at(home, ".ssh"), 0700);
    assert_mode(at(home, ".ssh/id_k"), 0600);
    assert_mode(at(home, ".gitconfig"), 0600);
    assert_false(exists(at(home, ".docker")));
    assert_false(exists(at(home, "unrelated")));
}

static void test_creds_copy_to_home_onto_itself_keeps_files(void **state)
{
    struct fixture *fx = *state;

    put_file(at(fx->creds, ".gitconfig"), "[credential]\n");
    creds_copy_to_home(fx->creds, fx->creds);
    assert_file(at(fx->creds, ".gitconfig"), "[credential]\n");
}

static void test_creds_home_dir_prefers_home_then_passwd_entry(void **state)
{
    struct fixture *fx = *state;
    const char *saved = getenv("HOME");
    char *keep = saved ? strdup(saved) : NULL;
    char passwd[512];
    char *home = NULL;

    snprintf(passwd, sizeof(passwd),
             "root:x:0:0:root:/root:/bin/sh\n"
             "other:x:%u1:1::/home/other:/bin/sh\n"
             "me:x:%u:1000:Me,,,:/home/me:/bin/sh\n",
             (unsigned)getuid(), (unsigned)getuid());
    put_file(at(fx->dir, "passwd"), passwd);
    setenv("HOME", "/from/env", 1);
    assert_int_equal(creds_home_dir(at(fx->dir, "passwd"), &home), 0);
    assert_string_equal(home, "/from/env");
    free(home);
    home = NULL;
    setenv("HOME", "", 1);
    assert_int_equal(creds_home_dir(at(fx->dir, "passwd"), &home), 0);
    assert_string_equal(home, getuid() == 0 ? "/root" : "/home/me");
    free(home);
    home = NULL;
    unsetenv("HOME");
    assert_int_equal(creds_home_dir(at(fx->dir, "missing"), &home), -ENOENT);
    assert_null(home);
    if (keep)
        setenv("HOME", keep, 1);
    free(keep);
}

/* ---- the command line ----------------------------------------------------------------- */

static void test_stepflags_keeps_credential_flags_in_order_for_creds(void **state)
{
    char *argv[] = {(char *)(uintptr_t) "-basic-git=g=https://github.com",
                    (char *)(uintptr_t) "--ssh-git",
                    (char *)(uintptr_t) "s=github.com",
                    (char *)(uintptr_t) "-docker-config=d",
                    (char *)(uintptr_t) "-entrypoint",
                    (char *)(uintptr_t) "sh",
                    (char *)(uintptr_t) "--",
                    (char *)(uintptr_t) "-basic-docker=not=a-flag"};
    struct stepflags f;
    struct estr err;
    (void)state;

    stepflags_init(&f);
    estr_init(&err);
    assert_int_equal(stepflags_parse(&f, (int)N_ELEMS(argv), argv, &err), 0);
    assert_int_equal(f.credential_flags, 3);
    assert_string_equal(f.credential_args[0], "basic-git");
    assert_string_equal(f.credential_args[1], "g=https://github.com");
    assert_string_equal(f.credential_args[2], "ssh-git");
    assert_string_equal(f.credential_args[3], "s=github.com");
    assert_string_equal(f.credential_args[4], "docker-config");
    assert_string_equal(f.credential_args[5], "d");
    stepflags_done(&f);
    assert_null(f.credential_args);
    estr_done(&err);
}

/* ---- the binary ---------------------------------------------------------------------- */

/*
 * Run the entrypoint as one step with 'flags' (NULL-terminated) and "sh -c 'script'", the
 * credential paths and HOME pointing into the fixture. Returns the exit code.
 */
static int run_step(const struct fixture *fx, const char *const *flags, const char *script,
                    const char *home)
{
    const char *build = getenv("BUILD");
    char binary[512], env_creds[400], env_secrets[400], env_home[700], env_path[1200];
    char *argv[40], *envp[5];
    posix_spawn_file_actions_t fa;
    size_t n = 0;
    int status;
    pid_t pid;

    snprintf(binary, sizeof(binary), "%s/tektite-entrypoint", build ? build : "build");
    snprintf(env_creds, sizeof(env_creds), "TEKTITE_CREDS_DIR=%s", fx->creds);
    snprintf(env_secrets, sizeof(env_secrets), "TEKTITE_CREDS_SECRETS_DIR=%s", fx->secrets);
    snprintf(env_home, sizeof(env_home), "HOME=%s", home);
    snprintf(env_path, sizeof(env_path), "PATH=%s", getenv("PATH") ? getenv("PATH") : "/bin");
    envp[0] = env_creds;
    envp[1] = env_secrets;
    envp[2] = env_home;
    envp[3] = env_path;
    envp[4] = NULL;
    argv[n++] = binary;
    argv[n++] = (char *)(uintptr_t) "-post_file";
    argv[n++] = (char *)(uintptr_t)at(fx->dir, "out");
    argv[n++] = (char *)(uintptr_t) "-termination_path";
    argv[n++] = (char *)(uintptr_t)at(fx->dir, "termination");
    for (size_t i = 0; flags[i] && n < 30; i++)
        argv[n++] = (char *)(uintptr_t)flags[i];
    argv[n++] = (char *)(uintptr_t) "-entrypoint";
    argv[n++] = (char *)(uintptr_t) "sh";
    argv[n++] = (char *)(uintptr_t) "--";
    argv[n++] = (char *)(uintptr_t) "-c";
    argv[n++] = (char *)(uintptr_t)script;
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, at(fx->dir, "stderr"),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(posix_spawn(&pid, binary, &fa, NULL, argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_entrypoint_creds_step_finds_ssh_and_git_credentials(void **state)
{
    struct fixture *fx = *state;
    const char *home = at(fx->dir, "home");
    const char *flags[] = {"-ssh-git=ssh-key-for-git=localhost", "-basic-git",
                           "git=https://github.com", NULL};
    char script[2048];

    put_secret(fx, "ssh-key-for-git", "ssh-privatekey", "KEY\n");
    put_secret(fx, "git", "username", "u");
    put_secret(fx, "git", "password", "p w");
    mkdir(home, 0755);
    /* what authenticating-git-commands.yaml does: read the key, add a known_hosts file */
    snprintf(
        script, sizeof(script),
        "set -e; test \"$(cat '%s/.ssh/id_ssh-key-for-git')\" = KEY; "
        "test -f \"$HOME/.ssh/id_ssh-key-for-git\"; test -f \"$HOME/.ssh/config\"; "
        "test ! -e \"$HOME/.docker\"; grep -q 'u:p%%20w@github.com' \"$HOME/.git-credentials\"; "
        "echo 'localhost ssh-rsa X' > '%s/.ssh/known_hosts'; "
        "cp '%s/.ssh/known_hosts' \"$HOME/.ssh/known_hosts\"; touch '%s/ran'",
        fx->creds, fx->creds, fx->creds, fx->dir);
    if (run_step(fx, flags, script, home) != 0)
        fail_msg("step failed: %s", slurp(at(fx->dir, "stderr")));
    assert_true(exists(at(fx->dir, "ran")));
    assert_true(exists(at(fx->dir, "out")));
    assert_file(at(home, ".ssh/known_hosts"), "localhost ssh-rsa X\n");
    assert_mode(at(home, ".ssh"), 0700);
    assert_mode(at(home, ".ssh/id_ssh-key-for-git"), 0600);
    assert_file(at(fx->creds, ".gitconfig"), "[credential]\n\thelper = store\n"
                                             "[credential \"https://github.com\"]\n"
                                             "\tusername = u\n");
}

static void test_entrypoint_creds_docker_config_reaches_home(void **state)
{
    struct fixture *fx = *state;
    const char *home = at(fx->dir, "home");
    const char *flags[] = {"-docker-config", "regcred", NULL};

    put_secret(fx, "regcred", ".dockerconfigjson", "{\"auths\":{\"r.io\":{\"auth\":\"eDp5\"}}}");
    mkdir(home, 0755);
    assert_int_equal(run_step(fx, flags, "test -f \"$HOME/.docker/config.json\"", home), 0);
    assert_file(at(home, ".docker/config.json"), "{\"auths\":{\"r.io\":{\"auth\":\"eDp5\"}}}");
    assert_false(exists(at(home, ".ssh")));
    assert_false(exists(at(home, ".gitconfig")));
}

static void test_entrypoint_creds_bad_secret_fails_step_without_running(void **state)
{
    struct fixture *fx = *state;
    const char *home = at(fx->dir, "home");
    const char *flags[] = {"-basic-git=gone=https://github.com", NULL};
    char script[600];

    mkdir(home, 0755);
    snprintf(script, sizeof(script), "touch '%s/ran'", fx->dir);
    assert_int_equal(run_step(fx, flags, script, home), 1);
    assert_false(exists(at(fx->dir, "ran")));
    assert_true(exists(at(fx->dir, "out.err")));
    assert_false(exists(at(fx->dir, "out")));
    assert_contains(slurp(at(fx->dir, "stderr")), "gone/username'");
    assert_false(exists(at(home, ".gitconfig")));
}

static void test_entrypoint_creds_malformed_flag_fails_step(void **state)
{
    struct fixture *fx = *state;
    const char *home = at(fx->dir, "home");
    const char *flags[] = {"-basic-docker=nourl", NULL};
    char script[600];

    mkdir(home, 0755);
    snprintf(script, sizeof(script), "touch '%s/ran'", fx->dir);
    assert_int_equal(run_step(fx, flags, script, home), 1);
    assert_false(exists(at(fx->dir, "ran")));
    assert_contains(slurp(at(fx->dir, "stderr")), "-basic-docker: expect entries of the form");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_creds_basic_git_writes_store_helper_and_encoded_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_creds_basic_git_host_wide_first_and_repo_urls_use_http_path, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_creds_basic_git_url_without_scheme_is_written_as_go_does, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_creds_ssh_git_writes_private_key_config_and_known_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_creds_ssh_git_without_known_hosts_writes_no_known_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_ssh_git_host_and_port_from_annotation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_creds_ssh_git_repositories_get_aliases_and_insteadof,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_ssh_git_insteadof_is_applied_by_git, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_creds_ssh_git_several_secrets_merge_per_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_creds_basic_docker_writes_config_json_with_auth, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_creds_docker_secrets_merge_basic_over_config_over_cfg,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_all_types_together_write_every_file, setup,
                                        teardown),
        cmocka_unit_test(test_creds_add_flag_rejects_malformed_values),
        cmocka_unit_test(test_creds_add_flag_rejects_second_basic_entry_for_a_url),
        cmocka_unit_test_setup_teardown(
            test_creds_unusable_secret_fails_naming_file_and_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_copy_to_home_copies_tree_with_private_modes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds_copy_to_home_onto_itself_keeps_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_creds_home_dir_prefers_home_then_passwd_entry, setup,
                                        teardown),
        cmocka_unit_test(test_stepflags_keeps_credential_flags_in_order_for_creds),
        cmocka_unit_test_setup_teardown(test_entrypoint_creds_step_finds_ssh_and_git_credentials,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_creds_docker_config_reaches_home, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_creds_bad_secret_fails_step_without_running,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_entrypoint_creds_malformed_flag_fails_step, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
