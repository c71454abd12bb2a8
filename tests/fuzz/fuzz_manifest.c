/*
 * libFuzzer target for lib/registry's pure parsers: the input is read as a manifest or index
 * (with and without a Content-Type) and as an image config, and each platform key it yields
 * is fed to registry_select_platform. Any result is fine; a crash, a leak or a hang is not.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void manifest(const char *body, size_t size, const char *media_type)
{
    json_t *out = NULL;
    char *err = NULL;

    if (registry_parse_manifest(body, size, media_type, &out, &err) == 0)
        json_decref(out);
    else
        free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    json_t *out = NULL;
    char *err = NULL;

    manifest(body, size, NULL);
    manifest(body, size, "application/vnd.oci.image.index.v1+json");
    manifest(body, size, "application/vnd.docker.distribution.manifest.v2+json");
    if (registry_parse_config(body, size, &out, &err) == 0) {
        json_t *platforms = json_object();
        const char *key = json_string_value(json_object_get(out, "platform"));

        json_object_set(platforms, key, out);
        (void)registry_select_platform(platforms, key);
        (void)registry_select_platform(platforms, "linux/arm64");
        json_decref(platforms);
        json_decref(out);
    } else {
        free(err);
    }
    return 0;
}
