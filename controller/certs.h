#ifndef CONTROLLER_CERTS_H
#define CONTROLLER_CERTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The webhook's own PKI: a self-signed CA and a serving certificate for the webhook Service,
 * generated with OpenSSL (EC P-256, SHA-256), and the decision whether a stored pair is still
 * good. Pure apart from the random numbers: no I/O, no clock (the caller passes 'now').
 */

/* Keys of the Secret that holds the bundle (Knative's names, which Tekton's webhook uses). */
#define CERTS_KEY_CA_CERT     "ca-cert.pem"
#define CERTS_KEY_SERVER_CERT "server-cert.pem"
#define CERTS_KEY_SERVER_KEY  "server-key.pem"

struct certs_bundle {
    char *ca_cert;     /* PEM: what goes into the caBundle fields */
    char *server_cert; /* PEM, the leaf signed by the CA */
    char *server_key;  /* PEM (PKCS#8), the leaf's private key */
};

/* Free the three strings; the struct may be reused. Accepts a zeroed struct. */
void certs_bundle_done(struct certs_bundle *b);

/*
 * Generate a new CA and a serving certificate valid from 'now' (Unix seconds, backdated one
 * minute for clock skew) for 'validity_s' seconds, for the DNS names <service>,
 * <service>.<ns>, <service>.<ns>.svc and <service>.<ns>.svc.cluster.local. The CA's key is
 * thrown away: rotation makes a new CA, and the caBundle is rewritten with it. Returns 0 and
 * fills '*ret', or -EINVAL (empty names, validity under 2 minutes) or -EIO (OpenSSL failed).
 */
int certs_generate(const char *service, const char *ns, int64_t now, int64_t validity_s,
                   struct certs_bundle *ret);

/*
 * Whether the stored bundle can keep serving at 'now': every PEM parses, the key matches the
 * leaf, the CA signed the leaf, the leaf names <service>.<ns>.svc, it is already valid, and
 * more than a third of its lifetime is left (the rotation point, as Knative's webhook rotates
 * well before expiry). Any member may be NULL (then false).
 */
bool certs_is_usable(const struct certs_bundle *b, const char *service, const char *ns,
                     int64_t now);

/* The leaf's notAfter as Unix seconds, or -1 if it does not parse. */
int64_t certs_not_after(const char *cert_pem);

#endif
