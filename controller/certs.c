/*
 * The webhook's CA and serving certificate with OpenSSL 3: generation, and the "still usable"
 * test that drives rotation. Storage in a Secret and injection of the caBundle are
 * controller/webhook's; serving is lib/httpserver's.
 */
#include "controller/certs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/xalloc.h"

#define BACKDATE_S 60

void certs_bundle_done(struct certs_bundle *b)
{
    free(b->ca_cert);
    free(b->server_cert);
    free(b->server_key);
    b->ca_cert = b->server_cert = b->server_key = NULL;
}

/* ---- PEM helpers ---- */

static char *bio_take(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);

    return n >= 0 ? xstrndup(data, (size_t)n) : NULL;
}

static char *cert_to_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;

    if (bio && PEM_write_bio_X509(bio, cert) == 1)
        pem = bio_take(bio);
    BIO_free(bio);
    return pem;
}

static char *key_to_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;

    if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
        pem = bio_take(bio);
    BIO_free(bio);
    return pem;
}

static X509 *cert_from_pem(const char *pem)
{
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return cert;
}

static EVP_PKEY *key_from_pem(const char *pem)
{
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return key;
}

/* ---- generation ---- */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return -EIO;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -EIO;
}

/* A certificate for 'key' named 'cn', valid [now - BACKDATE_S, now + validity_s). */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int64_t now, int64_t validity_s)
{
    X509 *cert = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    bool ok;

    if (!cert)
        return NULL;
    ok = RAND_bytes(serial, sizeof(serial)) == 1;
    serial[0] &= 0x7f; /* a positive serial */
    bn = ok ? BN_bin2bn(serial, sizeof(serial), NULL) : NULL;
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) &&
         X509_set_version(cert, 2) == 1 &&
         ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)(now - BACKDATE_S)) &&
         ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)(now + validity_s)) &&
         X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) == 1 &&
         X509_set_pubkey(cert, key) == 1;
    BN_free(bn);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static int make_ca(int64_t now, int64_t validity_s, EVP_PKEY **ret_key, X509 **ret_cert)
{
    unsigned char rnd[4] = {0};
    char cn[64];
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert;
    int r;

    /* a name of its own, so an old CA left in a trust store can never pass for the new one */
    (void)RAND_bytes(rnd, sizeof(rnd));
    (void)snprintf(cn, sizeof(cn), "tektite-webhook-ca-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                   rnd[3]);
    cert = key ? new_cert(key, cn, now, validity_s) : NULL;
    r = cert ? 0 : -EIO;

    if (r == 0 && X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1)
        r = -EIO;
    if (r == 0)
        r = add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
    if (r == 0)
        r = add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    if (r == 0)
        r = add_ext(cert, cert, NID_subject_key_identifier, "hash");
    if (r == 0 && X509_sign(cert, key, EVP_sha256()) <= 0)
        r = -EIO;
    if (r < 0) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return r;
    }
    *ret_key = key;
    *ret_cert = cert;
    return 0;
}

static int make_leaf(const char *service, const char *ns, int64_t now, int64_t validity_s,
                     EVP_PKEY *ca_key, X509 *ca, EVP_PKEY **ret_key, X509 **ret_cert)
{
    char *cn = xasprintf("%s.%s.svc", service, ns);
    char *san = xasprintf("DNS:%s, DNS:%s.%s, DNS:%s.%s.svc, DNS:%s.%s.svc.cluster.local", service,
                          service, ns, service, ns, service, ns);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? new_cert(key, cn, now, validity_s) : NULL;
    int r = cert ? 0 : -EIO;

    if (r == 0 && X509_set_issuer_name(cert, X509_get_subject_name(ca)) != 1)
        r = -EIO;
    if (r == 0)
        r = add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
    if (r == 0)
        r = add_ext(cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    if (r == 0)
        r = add_ext(cert, ca, NID_ext_key_usage, "serverAuth");
    if (r == 0)
        r = add_ext(cert, ca, NID_subject_alt_name, san);
    if (r == 0 && X509_sign(cert, ca_key, EVP_sha256()) <= 0)
        r = -EIO;
    free(san);
    free(cn);
    if (r < 0) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return r;
    }
    *ret_key = key;
    *ret_cert = cert;
    return 0;
}

int certs_generate(const char *service, const char *ns, int64_t now, int64_t validity_s,
                   struct certs_bundle *ret)
{
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    struct certs_bundle b = {0};
    int r;

    if (!service || !*service || !ns || !*ns || validity_s < 120)
        return -EINVAL;
    r = make_ca(now, validity_s, &ca_key, &ca);
    if (r == 0)
        r = make_leaf(service, ns, now, validity_s, ca_key, ca, &key, &cert);
    if (r == 0) {
        b.ca_cert = cert_to_pem(ca);
        b.server_cert = cert_to_pem(cert);
        b.server_key = key_to_pem(key);
        r = b.ca_cert && b.server_cert && b.server_key ? 0 : -EIO;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    ERR_clear_error();
    if (r < 0) {
        certs_bundle_done(&b);
        return r;
    }
    *ret = b;
    return 0;
}

/* ---- the rotation decision ---- */

static int64_t asn1_to_unix(const ASN1_TIME *t)
{
    struct tm tm;

    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    return (int64_t)timegm(&tm);
}

int64_t certs_not_after(const char *cert_pem)
{
    X509 *cert = cert_from_pem(cert_pem);
    int64_t t = cert ? asn1_to_unix(X509_get0_notAfter(cert)) : -1;

    X509_free(cert);
    ERR_clear_error();
    return t;
}

static bool leaf_is_fresh(X509 *leaf, int64_t now)
{
    int64_t from = asn1_to_unix(X509_get0_notBefore(leaf));
    int64_t to = asn1_to_unix(X509_get0_notAfter(leaf));

    if (from < 0 || to <= from || now < from)
        return false;
    /* rotate once two thirds of the lifetime are gone */
    return (to - now) * 3 > (to - from);
}

bool certs_is_usable(const struct certs_bundle *b, const char *service, const char *ns, int64_t now)
{
    X509 *ca = cert_from_pem(b->ca_cert);
    X509 *leaf = cert_from_pem(b->server_cert);
    EVP_PKEY *key = key_from_pem(b->server_key);
    EVP_PKEY *ca_pub = ca ? X509_get0_pubkey(ca) : NULL; /* borrowed from 'ca' */
    char *host = xasprintf("%s.%s.svc", service, ns);
    bool ok;

    ok = ca && leaf && key && ca_pub && X509_check_private_key(leaf, key) == 1 &&
         X509_verify(leaf, ca_pub) == 1 && X509_check_host(leaf, host, 0, 0, NULL) == 1 &&
         leaf_is_fresh(leaf, now) && leaf_is_fresh(ca, now);
    free(host);
    EVP_PKEY_free(key);
    X509_free(leaf);
    X509_free(ca);
    ERR_clear_error();
    return ok;
}
