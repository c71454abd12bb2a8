#ifndef LIB_HTTPSERVER_H
#define LIB_HTTPSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

/*
 * An HTTP/1.1 server on the libuv loop, plain or HTTPS, for the controller's own endpoints:
 * metrics and health probes (plain) and the API server's admission and conversion webhooks
 * (TLS). With TLS, OpenSSL runs on memory BIOs fed from the uv_tcp_t, so the loop never blocks
 * on a handshake; TLS 1.2 or later. One request per connection ("Connection: close"), a body
 * only with Content-Length (no chunked uploads), heads up to HTTPSERVER_MAX_HEAD bytes,
 * HTTPSERVER_MAX_CONNS connections at once. The handler answers synchronously from the loop.
 */

#define HTTPSERVER_MAX_HEAD  8192
#define HTTPSERVER_MAX_CONNS 64

struct httpserver;

struct httpserver_request {
    const char *method; /* "POST", "GET", ... */
    const char *path;   /* the target up to '?', e.g. "/validate" */
    const char *query;  /* what follows '?', or "" */
    const char *body;   /* NUL-terminated; "" when there is none */
    size_t body_len;
};

/*
 * Answer one request: return the HTTP status and set '*ret_body' to a new string (the server
 * frees it; NULL sends an empty body) and '*ret_type' to a static Content-Type (NULL: JSON).
 * A HEAD request is answered with the Content-Length of that body and without the body.
 */
typedef int httpserver_handler_cb(void *ctx, const struct httpserver_request *req, char **ret_body,
                                  const char **ret_type);

struct httpserver_options {
    const char *host;               /* address to bind: "0.0.0.0", "127.0.0.1", "::" */
    int port;                       /* 0: ephemeral (tests; see httpserver_port) */
    const char *cert_pem;           /* serving certificate chain, PEM; NULL: plain HTTP */
    const char *key_pem;            /* its private key, PEM; required with 'cert_pem' */
    size_t max_body;                /* larger Content-Lengths get 413; 0: no bodies */
    unsigned int timeout_ms;        /* a connection's whole life; 0: 10 s */
    const char *allow;              /* Allow header of a 405, e.g. "GET, HEAD" (kept, not copied) */
    httpserver_handler_cb *handler; /* required */
    void *ctx;                      /* handed to 'handler' */
};

/*
 * Load the certificate (if any), bind, listen and serve. Returns 0 and the server in '*ret', or
 * -EINVAL (bad host or port, no handler, a key without a certificate, a certificate or key
 * OpenSSL refuses, or a key that does not match the certificate), -EADDRINUSE, -EACCES. On
 * failure nothing is left to undo: a half-made listener closes and frees itself on the loop's
 * next turn.
 */
int httpserver_new(uv_loop_t *loop, const struct httpserver_options *o, struct httpserver **ret);

/*
 * Serve a new certificate and key to connections accepted from now on (rotation); those
 * already open finish with the old one. Returns 0, or -EINVAL (a plain server, or a certificate
 * or key OpenSSL refuses) and changes nothing.
 */
int httpserver_set_cert(struct httpserver *s, const char *cert_pem, const char *key_pem);

/* The port the server listens on, or -1. */
int httpserver_port(const struct httpserver *s);

typedef void httpserver_closed_cb(void *ctx);

/*
 * Stop listening and drop open connections. 'cb' (may be NULL) runs once from the loop when
 * every handle is closed, after which the server is freed. NULL 's' does nothing.
 */
void httpserver_close(struct httpserver *s, httpserver_closed_cb *cb, void *ctx);

/*
 * Parse the request line that starts the head [head, head + len): "METHOD SP TARGET SP
 * HTTP/1.x", the line ending in LF or CRLF (or at 'len'). Pure. Returns 0 and fills 'req''s
 * method, path and query (the rest is left alone) with pointers into '*ret_storage', a new
 * string the caller frees; or -EINVAL for anything else (HTTP/2, TLS bytes, no version, a
 * method of 16 bytes or more, a target not starting with '/').
 */
int httpserver_parse_request_line(const char *head, size_t len, struct httpserver_request *req,
                                  char **ret_storage);

/*
 * The whole response, status line, headers and body, as a new string the caller frees. Pure.
 * 'type' NULL means JSON, 'body' NULL an empty body; 'allow' (may be NULL) becomes the Allow
 * header of a 405; 'head_only' keeps the Content-Length of 'body' but leaves the body out.
 */
char *httpserver_response(int code, const char *type, const char *allow, const char *body,
                          bool head_only);

#endif
