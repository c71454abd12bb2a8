/*
 * Standard base64 for the entrypoint: scripts travel base64-encoded in the Pod spec so that
 * Kubernetes' $(VAR) expansion never touches them. No URL alphabet, no unpadded form.
 */
#include "controller/entrypoint/b64.h"

#include <errno.h>
#include <stdint.h>

#include "controller/entrypoint/estr.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int b64_decode(const char *in, size_t len, struct estr *out, size_t *reterr_offset)
{
    uint32_t acc = 0;
    size_t have = 0; /* sextets in the current quantum */
    size_t pad = 0;  /* '=' seen in the current quantum */
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        int v;

        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            /* padding may only complete a quantum that holds 2 or 3 sextets */
            if (have + pad < 2)
                goto bad;
            pad++;
            if (have + pad > 4)
                goto bad;
            if (have + pad == 4) {
                if (have == 2) {
                    estr_putc(out, (char)(acc >> 4));
                } else {
                    estr_putc(out, (char)(acc >> 10));
                    estr_putc(out, (char)(acc >> 2));
                }
                /* only line breaks may follow the padding */
                for (i++; i < len; i++) {
                    if (in[i] != '\r' && in[i] != '\n')
                        goto bad;
                }
                return 0;
            }
            continue;
        }
        if (pad > 0)
            goto bad;
        v = sextet(c);
        if (v < 0)
            goto bad;
        acc = (acc << 6) | (uint32_t)v;
        have++;
        if (have == 4) {
            estr_putc(out, (char)(acc >> 16));
            estr_putc(out, (char)(acc >> 8));
            estr_putc(out, (char)acc);
            acc = 0;
            have = 0;
        }
    }
    if (have == 0 && pad == 0)
        return 0;
    /* the input ended inside a quantum: report the end as the offending place */
bad:
    if (reterr_offset)
        *reterr_offset = i;
    return -EINVAL;
}

void b64_encode(const void *in, size_t len, struct estr *out)
{
    const unsigned char *p = in;
    size_t i;

    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];

        estr_putc(out, alphabet[(v >> 18) & 63]);
        estr_putc(out, alphabet[(v >> 12) & 63]);
        estr_putc(out, alphabet[(v >> 6) & 63]);
        estr_putc(out, alphabet[v & 63]);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        estr_putc(out, alphabet[(v >> 18) & 63]);
        estr_putc(out, alphabet[(v >> 12) & 63]);
        estr_append(out, "==", 2);
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);

        estr_putc(out, alphabet[(v >> 18) & 63]);
        estr_putc(out, alphabet[(v >> 12) & 63]);
        estr_putc(out, alphabet[(v >> 6) & 63]);
        estr_putc(out, '=');
    }
}
