#ifndef LIB_IMAGEREF_H
#define LIB_IMAGEREF_H

#include <stdbool.h>

/*
 * Container image references parsed as Docker parses them: "ubuntu" is
 * docker.io/library/ubuntu:latest, a first component with '.' or ':' or "localhost" (or an
 * upper-case letter) is a registry host, and "name:tag@sha256:..." keeps both parts.
 */
struct imageref {
    char *registry; /* "docker.io" for Docker Hub (its aliases are folded into it), else host[:port]
                     */
    char *repository; /* path within the registry, "library/" added on Docker Hub */
    char *tag;        /* NULL when only a digest was given; "latest" when neither was */
    char *digest;     /* "sha256:<64 hex>" or NULL */
};

/*
 * Parse 's'. Returns 0 and fills *ret_ref (release with imageref_done), or -EINVAL with a
 * lower-case message in *reterr_message (caller frees) naming the reference and what is wrong.
 */
int imageref_parse(const char *s, struct imageref *ret_ref, char **reterr_message);

/* Free the strings of 'ref'; safe on a zeroed struct. */
void imageref_done(struct imageref *ref);

/* True for the names Docker Hub answers to: docker.io, index.docker.io, registry-1.docker.io. */
bool imageref_is_docker_hub(const char *host);

/*
 * The repository as Tekton names it in a digest rewrite: "<registry>/<repository>", with
 * Docker Hub spelled index.docker.io. A new string.
 */
char *imageref_context(const struct imageref *ref);

#endif
