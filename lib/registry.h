#ifndef LIB_REGISTRY_H
#define LIB_REGISTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * Image entrypoint lookup over the OCI distribution API: resolve a reference to its manifest
 * or index, fetch the config blob of each platform and report ENTRYPOINT/CMD in the table
 * shape controller/podspec takes as 'image_configs'. Docker v2 schema 2 and OCI media types,
 * anonymous, Basic and Bearer-token auth, containerd-style mirrors, results cached by digest
 * (and tag -> digest for a short TTL). Everything runs on the loop through lib/http.
 */

struct http_client;
struct dockerauth;
struct registry;
struct registry_lookup;

struct registry_options {
    /* NULL-terminated host[:port] list that may be spoken to over plain HTTP (never verified
     * TLS otherwise); also required for http:// mirror endpoints. */
    const char *const *insecure;
    /*
     * Mirrors as containerd's hosts.toml gives them: {"<registry host>": [endpoint, ...]},
     * "_default" for every host without its own entry, Docker Hub as "docker.io". An endpoint
     * is "scheme://host[:port][/path]" (the API root is path + "/v2", as containerd appends it)
     * or {"url": "...", "override_path": true} (the path is the API root as written). Endpoints
     * are tried in order; a host with no entry goes to the registry itself. NULL: no mirrors.
     */
    const json_t *mirrors;
    /* "os/arch[/variant]": fetch only this platform of an index; NULL: every platform */
    const char *platform;
    unsigned timeout_ms;  /* per request; 0: 30 s */
    size_t max_manifest;  /* 0: 4 MiB */
    size_t max_config;    /* 0: 8 MiB */
    uint64_t tag_ttl_ms;  /* how long tag -> digest is trusted; 0: 60 s */
    size_t cache_entries; /* digests remembered; 0: 1024 */
};

/*
 * Create a registry client sending its requests through 'hc' (borrowed: it must outlive the
 * registry). Give it a client of its own made with default TLS settings (the system trust
 * store, verification on), never the API server's, whose CA and client certificate are not
 * for registries. Returns 0 and *ret_registry, or -EINVAL with *reterr_message (caller frees)
 * naming the bad option (a malformed mirror table, an http:// endpoint not listed insecure).
 */
int registry_new(uv_loop_t *loop, struct http_client *hc, const struct registry_options *opts,
                 struct registry **ret_registry, char **reterr_message);

/*
 * Finish every lookup in flight with -ECANCELED, then free the registry from the loop and run
 * 'done' (may be NULL). Lookups started afterwards fail with -ESHUTDOWN.
 */
typedef void registry_closed_cb(void *ctx);
void registry_close(struct registry *reg, registry_closed_cb *done, void *ctx);

/*
 * The lookup ended. With rc 0 'result' (borrowed for the callback; incref to keep) is
 *   {"image": "<registry>/<repository>@<digest>",
 *    "platforms": {"<os>/<arch>[/<variant>][:<os.version>]": {"entrypoint": [...], "cmd": [...]}}}
 * where the digest is the manifest's or the index's, Docker Hub is written index.docker.io, a
 * single manifest gives one "<os>/<arch>" entry and an index one entry per platform
 * ("unknown/unknown" attestations skipped). With rc < 0, 'error' is one line naming the image
 * and the cause ("cannot look up image 'x': GET <url>: 404 MANIFEST_UNKNOWN: manifest
 * unknown"): -EINVAL bad reference or 4xx, -ENOENT 404, -EACCES 401/403 after authenticating,
 * -EIO 5xx or transport, -ETIMEDOUT, -E2BIG past a size ceiling, -EBADMSG malformed or
 * unsupported content or a digest mismatch, -ECANCELED at close.
 */
typedef void registry_done_cb(void *ctx, int rc, const json_t *result, const char *error);

/*
 * Look up 'image' with the credentials 'auth' holds for it (may be NULL: anonymous; copied).
 * Returns 0 once started; 'cb' then runs exactly once from the loop, never inside this call
 * (a cache hit too). Returns -ESHUTDOWN after registry_close, and then 'cb' never runs.
 */
int registry_lookup(struct registry *reg, const char *image, const struct dockerauth *auth,
                    registry_done_cb *cb, void *ctx);

/*
 * The entry of 'platforms' (a lookup's "platforms" object) a node of 'platform' ("os/arch[/
 * variant]") runs: an exact key first, then one equal once normalised (arm64 means arm64/v8,
 * arm means arm/v7, x86_64 is amd64), then "os/arch" without the variant. Borrowed; NULL when
 * none fits or 'platform' is NULL.
 */
const json_t *registry_select_platform(const json_t *platforms, const char *platform);

/*
 * Parse a manifest or index body of media type 'media_type' (NULL: from its "mediaType").
 * Returns 0 and a new object {"kind": "manifest"|"index", "config": {descriptor}} or
 * {"kind": "index", "manifests": [{"digest", "platform": "<key>"}, ...]} in *ret, or -EBADMSG
 * with *reterr_message (caller frees) for malformed JSON or unknown media types. Pure; exposed
 * for tests and fuzzing.
 */
int registry_parse_manifest(const char *body, size_t len, const char *media_type, json_t **ret,
                            char **reterr_message);

/*
 * Parse an image config blob. Returns 0 and a new {"platform": "<os>/<arch>", "entrypoint":
 * [...], "cmd": [...]} in *ret, or -EBADMSG with *reterr_message. Pure.
 */
int registry_parse_config(const char *body, size_t len, json_t **ret, char **reterr_message);

#endif
