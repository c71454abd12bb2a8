#ifndef LIB_KUBEAUTH_H
#define LIB_KUBEAUTH_H

#include <time.h>
#include <uv.h>

/*
 * Credentials for API requests: the Authorization header from a static token, a token file
 * (re-read when it changes and after a 401: bound service-account tokens rotate), basic
 * auth, or a kubeconfig exec plugin (client.authentication.k8s.io v1/v1beta1 ExecCredential),
 * run with uv_spawn so the loop never blocks, its token cached until expirationTimestamp.
 * Client certificates are lib/http's (TLS), not this module's.
 */

struct kube_auth;
struct kube_config;

/* An exec plugin run finished: rc 0 with a fresh token, or < 0 with 'error' (borrowed). */
typedef void kube_auth_refreshed_cb(void *ctx, int rc, const char *error);

/*
 * Create the credential source for 'config' (copied). 'refreshed' runs from the loop after
 * each exec plugin run that kube_auth_refresh() started. Returns 0 and *ret_auth.
 */
int kube_auth_new(uv_loop_t *loop, const struct kube_config *config,
                  kube_auth_refreshed_cb *refreshed, void *ctx, struct kube_auth **ret_auth);

/*
 * The header line to send ("Authorization: Bearer ..."), borrowed until the next call, or
 * NULL when the config has no credentials. Returns 0; -EAGAIN when the exec plugin must run
 * first (call kube_auth_refresh() and wait for 'refreshed'); -errno with a message in
 * *reterr_msg (caller frees) when the token file cannot be read.
 */
int kube_auth_header(struct kube_auth *a, const char **ret_header, char **reterr_msg);

/* The server said 401: re-read the token file and re-run the exec plugin next time. */
void kube_auth_invalidate(struct kube_auth *a);

/*
 * Start the exec plugin unless it is already running. Returns 0 ('refreshed' will run), or
 * < 0 with a message in *reterr_msg if it could not be started ('refreshed' will not run).
 */
int kube_auth_refresh(struct kube_auth *a, char **reterr_msg);

/* Kill a running plugin, close the handles and free; 'done' (may be NULL) runs after. */
typedef void kube_auth_closed_cb(void *ctx);
void kube_auth_close(struct kube_auth *a, kube_auth_closed_cb *done, void *ctx);

/*
 * Decode an ExecCredential printed by a plugin, which must carry 'api_version'. Returns 0
 * with a new token in *ret_token and its expiry in *ret_expiry (0: none), or -EINVAL with a
 * message in *reterr_msg. Pure; exposed for tests.
 */
int kube_auth_parse_exec_credential(const char *text, size_t len, const char *api_version,
                                    char **ret_token, time_t *ret_expiry, char **reterr_msg);

/* Parse an RFC 3339 timestamp ("2026-11-27T21:00:00Z", offsets and fractions allowed). */
int kube_auth_parse_time(const char *text, time_t *ret_time);

#endif
