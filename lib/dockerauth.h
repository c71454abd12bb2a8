#ifndef LIB_DOCKERAUTH_H
#define LIB_DOCKERAUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Registry credentials from Docker config files and Kubernetes image pull Secrets, matched to
 * an image the way the kubelet's keyring matches them: keys without scheme, "/v1/" and "/v2/"
 * treated as the bare host, '*' wildcards per host label, equal ports, path prefixes, the most
 * specific (reverse-sorted) key first. Docker Hub's names (index.docker.io, registry-1.docker.io,
 * docker.io) are one host.
 */
struct dockerauth;

struct dockerauth_cred {
    const char *username; /* borrowed from the keyring until it is next changed or freed */
    const char *password;
};

struct dockerauth *dockerauth_new(void);
void dockerauth_free(struct dockerauth *da);

/*
 * Add the entries of a Docker config: the {"auths": {...}} form, or with 'legacy' the .dockercfg
 * form (the map itself). Each entry's "auth" (base64 of "user:password") wins over its
 * "username"/"password". Returns 0, or -EINVAL with *reterr_message (caller frees) naming
 * 'source' and the entry at fault; nothing is added then.
 */
int dockerauth_add_config(struct dockerauth *da, const char *json, size_t len, bool legacy,
                          const char *source, char **reterr_message);

/*
 * Add a Kubernetes Secret object: kubernetes.io/dockerconfigjson (data[".dockerconfigjson"]) or
 * kubernetes.io/dockercfg (data[".dockercfg"]), base64 in data as the API serves it. For a
 * TaskRun add the pod template's imagePullSecrets, then the ServiceAccount's, as Tekton's
 * keychain reads them; for equal keys the first added wins. Returns 1 when added, 0 for a
 * Secret of another type or without its key (the kubelet ignores those), or -EINVAL with
 * *reterr_message naming the Secret.
 */
int dockerauth_add_secret(struct dockerauth *da, const json_t *secret, char **reterr_message);

/*
 * The first credential matching 'registry' (host[:port], Docker Hub as docker.io) and
 * 'repository'. Returns 0 and *ret_cred, or -ENOENT when none matches (pull anonymously).
 * 'da' may be NULL (no credentials).
 */
int dockerauth_lookup(const struct dockerauth *da, const char *registry, const char *repository,
                      struct dockerauth_cred *ret_cred);

/*
 * Decode standard base64 (padding optional, no line breaks). Returns 0 with a new
 * NUL-terminated buffer in *ret_data and its length, or -EINVAL.
 */
int dockerauth_base64_decode(const char *in, size_t len, char **ret_data, size_t *ret_len);

#endif
