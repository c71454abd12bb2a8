#ifndef CONTROLLER_GODURATION_H
#define CONTROLLER_GODURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Go's time.Duration text form, which Tekton shows to users ("1h0m0s" in timeout messages,
 * "-timeout 5s" in step args). Values are nanoseconds.
 */

/*
 * Parse "1h30m", "5s", "1.5h", "300ms", "0". Returns 0 and writes *ret_ns, or -EINVAL for text
 * Go would refuse (no unit, unknown unit, empty) and -ERANGE when it does not fit in int64.
 */
int goduration_parse(const char *text, int64_t *ret_ns);

/* Format like Go's Duration.String() into 'out' (32 bytes are always enough). Returns 'out'. */
char *goduration_format(int64_t ns, char *out, size_t size);

#endif
