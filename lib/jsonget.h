#ifndef LIB_JSONGET_H
#define LIB_JSONGET_H

#include <jansson.h>

/*
 * Small accessors over jansson values that every module reading Kubernetes objects needs. They
 * never allocate unless their name says so and tolerate NULL and wrongly typed input (a missing
 * or non-string field reads as NULL), because objects come from users and from the API server.
 */

/* obj[key] if it is a string, else NULL. Borrowed from obj. */
const char *jget_str(const json_t *obj, const char *key);

/* obj.metadata[key] if it is a string, else NULL. Borrowed from obj. */
const char *jget_meta_str(const json_t *obj, const char *key);

/* s, or dflt when s is NULL. */
const char *jget_or(const char *s, const char *dflt);

/* The first object of the array 'list' whose string field 'key' equals 'name' (Tekton's
 * lists of named things: params, steps, workspaces, tasks), or NULL. Borrowed from list. */
const json_t *jget_named(const json_t *list, const char *key, const char *name);

/* obj[key] as an object, made (empty) first if it is missing or not an object. Borrowed. */
json_t *jget_child_object(json_t *obj, const char *key);

#endif
