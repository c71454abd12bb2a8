#ifndef LIB_YAMLJSON_H
#define LIB_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

/*
 * YAML to JSON (jansson) for configuration files: kubeconfigs, manifests. Bounded: the
 * input size and the nesting depth have ceilings, and aliases ('*name') are refused, which
 * rules out billion-laughs expansion. Plain scalars resolve as YAML 1.2's core schema
 * does (null, true/false, integers, floats, otherwise strings); quoted scalars and keys
 * are always strings.
 */

#define YAMLJSON_MAX_SIZE  (4u * 1024 * 1024)
#define YAMLJSON_MAX_DEPTH 64

/*
 * Parse the first document of 'data' (length 'len', need not be NUL-terminated).
 * Returns 0 and a new reference in *ret_json (json null for an empty stream), or -EINVAL
 * (malformed YAML, an alias, a non-scalar key, too deep) or -E2BIG (input larger than
 * YAMLJSON_MAX_SIZE) with a one-line message in *reterr_msg ("line 3, column 7: ..."),
 * which the caller frees.
 */
int yamljson_parse(const char *data, size_t len, json_t **ret_json, char **reterr_msg);

#endif
