#ifndef CONTROLLER_ENTRYPOINT_B64_H
#define CONTROLLER_ENTRYPOINT_B64_H

#include <stddef.h>

struct estr;

/*
 * Decode standard base64 (RFC 4648 §4, '=' padding required) as Go's
 * base64.StdEncoding does: '\r' and '\n' anywhere in the input are skipped, anything else
 * outside the alphabet, missing padding or data after the padding is an error. Decoded
 * bytes are appended to 'out'. Returns 0, or -EINVAL and sets *reterr_offset (if not NULL)
 * to the offset of the offending input byte; 'out' may then hold a partial result.
 */
int b64_decode(const char *in, size_t len, struct estr *out, size_t *reterr_offset);

/* Append the standard padded base64 encoding of 'len' bytes to 'out'. */
void b64_encode(const void *in, size_t len, struct estr *out);

#endif
