#ifndef LIB_TLSSERVER_H
#define LIB_TLSSERVER_H

#include <stddef.h>

#include <uv.h>

/*
 * An HTTPS/1.1 server on the libuv loop for API-server callbacks (admission and conversion
 * webhooks): OpenSSL runs on memory BIOs fed from a uv_tcp_t, so the loop never blocks on a
 * handshake. One request per connection ("Connection: close"), a body only with
 * Content-Length (no chunked uploads), heads up to TLSSERVER_MAX_HEAD bytes, bodies up to
 * TLSSERVER_MAX_BODY, TLSSERVER_MAX_CONNS connections, TLSSERVER_TIMEOUT_MS per connection.
 * TLS 1.2 or later. The handler answers synchronously from the loop.
 */

#define TLSSERVER_MAX_HEAD   8192
#define TLSSERVER_MAX_BODY   (8u << 20)
#define TLSSERVER_MAX_CONNS  64
#define TLSSERVER_TIMEOUT_MS 15000

struct tlsserver;

struct tlsserver_request {
    const char *method; /* "POST", "GET", ... */
    const char *path;   /* the target up to '?', e.g. "/validate" */
    const char *query;  /* what follows '?', or "" */
    const char *body;   /* NUL-terminated; "" when there is none */
    size_t body_len;
};

/*
 * Answer one request: return the HTTP status and set '*ret_body' to a new string (the server
 * frees it; NULL sends an empty body) and '*ret_type' to a static Content-Type (NULL: JSON).
 */
typedef int tlsserver_handler_cb(void *ctx, const struct tlsserver_request *req, char **ret_body,
                                 const char **ret_type);

struct tlsserver_options {
    const char *host;              /* address to bind: "0.0.0.0", "127.0.0.1", "::" */
    int port;                      /* 0: ephemeral (tests; see tlsserver_port) */
    const char *cert_pem;          /* serving certificate chain, PEM */
    const char *key_pem;           /* its private key, PEM */
    tlsserver_handler_cb *handler; /* required */
    void *ctx;                     /* handed to 'handler' */
};

/*
 * Load the certificate, bind, listen and serve. Returns 0 and the server in '*ret', or
 * -EINVAL (bad host or port, or a certificate or key OpenSSL refuses, or a key that does not
 * match the certificate), -EADDRINUSE, -EACCES. On failure nothing is left to undo: a
 * half-made listener closes and frees itself on the loop's next turn.
 */
int tlsserver_new(uv_loop_t *loop, const struct tlsserver_options *o, struct tlsserver **ret);

/*
 * Serve a new certificate and key to connections accepted from now on (rotation); those
 * already open finish with the old one. Returns 0, or -EINVAL and changes nothing.
 */
int tlsserver_set_cert(struct tlsserver *s, const char *cert_pem, const char *key_pem);

/* The port the server listens on, or -1. */
int tlsserver_port(const struct tlsserver *s);

typedef void tlsserver_closed_cb(void *ctx);

/*
 * Stop listening and drop open connections. 'cb' (may be NULL) runs once from the loop when
 * every handle is closed, after which the server is freed. NULL 's' does nothing.
 */
void tlsserver_close(struct tlsserver *s, tlsserver_closed_cb *cb, void *ctx);

#endif
