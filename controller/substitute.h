#ifndef CONTROLLER_SUBSTITUTE_H
#define CONTROLLER_SUBSTITUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Tekton's `$(...)` variable substitution (tekton-taskrun.md §4.1): a table maps keys such as
 * "params.url" to a string, an array of strings or an object of strings; substitution replaces
 * every `$(<key>)` of a string in one left-to-right pass (inserted text is never re-scanned),
 * leaves unknown references verbatim, and has no escaping. Array keys expand into several list
 * elements only where the element is exactly `$(key)` or `$(key[*])`.
 */

/* Ceiling on one substituted string, and on the total growth of one substitute_json() call. */
#define SUBSTITUTE_MAX_STRING (4u * 1024 * 1024)
#define SUBSTITUTE_MAX_GROWTH (16u * 1024 * 1024)

struct substitute_table;

/* A new, empty table. Free with substitute_table_free(). */
struct substitute_table *substitute_table_new(void);
void substitute_table_free(struct substitute_table *t);

/* Map 'key' (without "$(" and ")") to a string; a later set of the same key wins. */
void substitute_table_set_string(struct substitute_table *t, const char *key, const char *value);

/*
 * Map 'key' to a whole array (borrowed; a copy is kept). Only string elements are kept. This
 * registers the whole-array key alone: callers add "key[<i>]" string keys themselves.
 */
void substitute_table_set_array(struct substitute_table *t, const char *key, const json_t *array);

/* Map 'key' to a whole object of strings (borrowed; a copy is kept), for `$(key[*])`. */
void substitute_table_set_object(struct substitute_table *t, const char *key, const json_t *object);

/* Copy every entry of 'from' into 't' (entries of 'from' win). */
void substitute_table_merge(struct substitute_table *t, const struct substitute_table *from);

/* The string a key maps to, borrowed from the table, or NULL. */
const char *substitute_table_get_string(const struct substitute_table *t, const char *key);

/* Number of keys in the table. */
size_t substitute_table_size(const struct substitute_table *t);

/*
 * Replace every `$(key)` of a string key in 's' in one pass. On success '*ret' is a new string
 * the caller frees. Returns -E2BIG (nothing written) if the result would pass
 * SUBSTITUTE_MAX_STRING.
 */
int substitute_string(const struct substitute_table *t, const char *s, char **ret);

/*
 * If 's' is exactly `$(key)` or `$(key[*])` for an array key, return that array (borrowed
 * from the table); if it is exactly `$(key[*])` for an object key, return that object.
 * Otherwise NULL.
 */
const json_t *substitute_whole_ref(const struct substitute_table *t, const char *s);

/*
 * Substitute the string fields of 'root' named by 'paths' (a NULL-terminated list). A path is
 * a dot-separated list of object member names, each optionally suffixed with:
 *   "[]"   every element of that array,
 *   "[]*"  every element of that array, array-aware (an element that is exactly an array
 *          reference becomes that array's elements; only valid as the last segment),
 *   "{}"   every member value of that object,
 *   "[]="  a param list: every element's "value" is substituted the way Tekton substitutes
 *          param values (a string exactly `$(a[*])`/`$(o[*])` becomes the array/object),
 *   "**"   every string anywhere below that member (object values and array elements),
 *   "~"    that string member, except that a string exactly `$(a)`/`$(a[*])` for an array
 *          key becomes the array's compact JSON text (Tekton's `when[].input`).
 * Missing members and values of the wrong JSON type are skipped: hostile input never fails
 * here. Returns 0, or -E2BIG when a string or the call's total growth passes the ceilings;
 * then '*reterr_path' (if not NULL) gets a new string naming the field ("steps[0].script").
 * 'root' may be partially substituted after a failure.
 */
int substitute_json(json_t *root, const char *const *paths, const struct substitute_table *t,
                    char **reterr_path);

/* Field path lists of tekton-taskrun.md §4.4, for substitute_json(). */
extern const char *const substitute_step_fields[];          /* one Step */
extern const char *const substitute_sidecar_fields[];       /* one Sidecar */
extern const char *const substitute_step_template_fields[]; /* the stepTemplate */
extern const char *const substitute_volume_fields[];        /* one core Volume */
extern const char *const substitute_binding_fields[];       /* one TaskRun WorkspaceBinding */
extern const char *const substitute_pod_template_fields[];  /* a TaskRun podTemplate */

/*
 * Substitute the fields of a whole TaskSpec (§4.4): steps, stepTemplate, sidecars, volumes and
 * workspace declarations' mountPath. Same results and errors as substitute_json().
 */
int substitute_taskspec(json_t *spec, const struct substitute_table *t, char **reterr_path);

/*
 * The first `$(...)` expression in 's' whose inner text starts with 'prefix' (for example
 * "params."), as offsets: on a match returns true and writes the start of "$(" and the length
 * up to and including ")". Used by validation to find references.
 */
bool substitute_find_ref(const char *s, const char *prefix, size_t *ret_start, size_t *ret_len);

#endif
