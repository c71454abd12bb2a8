/* Small accessors over jansson values; see jsonget.h. */
#include "lib/jsonget.h"

#include <string.h>

const char *jget_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

const char *jget_meta_str(const json_t *obj, const char *key)
{
    return jget_str(json_object_get(obj, "metadata"), key);
}

const char *jget_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

const json_t *jget_named(const json_t *list, const char *key, const char *name)
{
    const json_t *item;
    size_t i;

    if (!name)
        return NULL;
    json_array_foreach(list, i, item) {
        const char *n = jget_str(item, key);

        if (n && strcmp(n, name) == 0)
            return item;
    }
    return NULL;
}

json_t *jget_child_object(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}
