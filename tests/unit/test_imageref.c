/* Unit tests for lib/imageref: Docker's reference grammar, defaults and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/imageref.h"

#define D64 "c6166717f7fe0b7da44908c986137ecfeab21f31ec3992f6e128fff8a94be8a5"

static const char *str_or_null(const char *s)
{
    return s ? s : "(null)";
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_imageref_parse_valid_table(void **state)
{
    static const struct {
        const char *name, *in, *registry, *repository, *tag, *digest;
    } cases[] = {
        {"short name gets docker.io, library/ and latest", "ubuntu", "docker.io", "library/ubuntu",
         "latest", NULL},
        {"user repo on docker hub", "alpine/git:v2", "docker.io", "alpine/git", "v2", NULL},
        {"explicit docker.io", "docker.io/library/bash:5.1.4", "docker.io", "library/bash", "5.1.4",
         NULL},
        {"docker.io single component gets library/", "docker.io/busybox", "docker.io",
         "library/busybox", "latest", NULL},
        {"index.docker.io folds into docker.io", "index.docker.io/library/busybox", "docker.io",
         "library/busybox", "latest", NULL},
        {"registry-1.docker.io folds into docker.io", "registry-1.docker.io/ubuntu:22.04",
         "docker.io", "library/ubuntu", "22.04", NULL},
        {"tag and digest (kaniko 0.6)", "gcr.io/kaniko-project/executor:v1.5.1@sha256:" D64,
         "gcr.io", "kaniko-project/executor", "v1.5.1", "sha256:" D64},
        {"digest only has no tag", "mirror.gcr.io/ubuntu@sha256:" D64, "mirror.gcr.io", "ubuntu",
         NULL, "sha256:" D64},
        {"host with port", "127.0.0.1:5000/mirror.gcr.io/alpine:3", "127.0.0.1:5000",
         "mirror.gcr.io/alpine", "3", NULL},
        {"localhost is a registry", "localhost/foo", "localhost", "foo", "latest", NULL},
        {"localhost with port", "localhost:5000/a/b:c", "localhost:5000", "a/b", "c", NULL},
        {"a port-looking tag without a slash is a tag", "localhost:5000", "docker.io",
         "library/localhost", "5000", NULL},
        {"deep path", "ghcr.io/a/b/c/d:x_y.z-1", "ghcr.io", "a/b/c/d", "x_y.z-1", NULL},
        {"separators in components", "quay.io/a.b/c__d/e---f", "quay.io", "a.b/c__d/e---f",
         "latest", NULL},
        {"upper-case first component is a host", "Registry/x", "Registry", "x", "latest", NULL},
        {"bracketed IPv6 with port", "[::1]:5000/img", "[::1]:5000", "img", "latest", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct imageref ref = {0};
        char *msg = NULL;
        int r = imageref_parse(cases[i].in, &ref, &msg);

        if (r != 0)
            fail_msg("case '%s': rc %d: %s", cases[i].name, r, str_or_null(msg));
        if (!same(ref.registry, cases[i].registry) || !same(ref.repository, cases[i].repository) ||
            !same(ref.tag, cases[i].tag) || !same(ref.digest, cases[i].digest))
            fail_msg("case '%s': got %s %s %s %s", cases[i].name, str_or_null(ref.registry),
                     str_or_null(ref.repository), str_or_null(ref.tag), str_or_null(ref.digest));
        imageref_done(&ref);
    }
}

static void test_imageref_parse_invalid_table(void **state)
{
    static const struct {
        const char *name, *in, *why;
    } cases[] = {
        {"empty", "", "empty reference"},
        {"upper case repository", "docker.io/Ubuntu", "must be lowercase"},
        {"upper case short name", "Ubuntu", "must be lowercase"},
        {"image id", D64, "image ID"},
        {"short digest", "ubuntu@sha256:abc", "64 lower-case hex"},
        {"upper-case hex digest",
         "ubuntu@sha256:C6166717F7FE0B7DA44908C986137ECFEAB21F31EC3992F6E128FFF8A94BE8A5",
         "64 lower-case hex"},
        {"unknown digest algorithm", "ubuntu@md5:0123456789abcdef0123456789abcdef",
         "unsupported digest algorithm"},
        {"digest without algorithm", "ubuntu@abcdef", "invalid digest format"},
        {"empty tag", "ubuntu:", "invalid tag"},
        {"tag starting with a dot", "ubuntu:.x", "invalid tag"},
        {"plus sign in a tag", "ubuntu:a+b", "invalid tag"},
        {"double slash", "gcr.io//x", "invalid repository path component"},
        {"trailing slash", "gcr.io/x/", "invalid repository path component"},
        {"leading separator", "gcr.io/-x", "invalid repository path component"},
        {"three underscores", "gcr.io/a___b", "invalid repository path component"},
        {"bad host label", "-bad.io/x", "invalid registry host"},
        {"non-numeric port", "host.io:http/x", "invalid registry host"},
        {"missing name before tag", ":tag", "missing repository name"},
        {"space in a tag", "ubuntu:la test", "invalid tag"},
        {"space in name", "my image", "invalid repository path component"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct imageref ref = {0};
        char *msg = NULL;
        int r = imageref_parse(cases[i].in, &ref, &msg);

        if (r != -EINVAL)
            fail_msg("case '%s': rc %d, want -EINVAL", cases[i].name, r);
        if (!msg || !strstr(msg, cases[i].why) || strncmp(msg, "invalid image reference '", 25))
            fail_msg("case '%s': message '%s' lacks '%s'", cases[i].name, str_or_null(msg),
                     cases[i].why);
        assert_null(ref.registry);
        free(msg);
    }
}

static void test_imageref_parse_name_longer_than_255_is_refused(void **state)
{
    char name[300];
    struct imageref ref = {0};
    char *msg = NULL;

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(imageref_parse(name, &ref, &msg), -EINVAL);
    assert_non_null(strstr(msg, "longer than 255"));
    free(msg);
}

static void test_imageref_context_spells_docker_hub_as_tekton_does(void **state)
{
    struct imageref ref = {0};
    char *msg = NULL;
    char *ctx;

    assert_int_equal(imageref_parse("busybox", &ref, &msg), 0);
    ctx = imageref_context(&ref);
    assert_string_equal(ctx, "index.docker.io/library/busybox");
    free(ctx);
    imageref_done(&ref);
    assert_int_equal(imageref_parse("gcr.io/x/y:1", &ref, &msg), 0);
    ctx = imageref_context(&ref);
    assert_string_equal(ctx, "gcr.io/x/y");
    free(ctx);
    imageref_done(&ref);
}

static void test_imageref_is_docker_hub_knows_the_aliases(void **state)
{
    assert_true(imageref_is_docker_hub("docker.io"));
    assert_true(imageref_is_docker_hub("index.docker.io"));
    assert_true(imageref_is_docker_hub("registry-1.docker.io"));
    assert_false(imageref_is_docker_hub("docker.com"));
    assert_false(imageref_is_docker_hub("mirror.gcr.io"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imageref_parse_valid_table),
        cmocka_unit_test(test_imageref_parse_invalid_table),
        cmocka_unit_test(test_imageref_parse_name_longer_than_255_is_refused),
        cmocka_unit_test(test_imageref_context_spells_docker_hub_as_tekton_does),
        cmocka_unit_test(test_imageref_is_docker_hub_knows_the_aliases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
