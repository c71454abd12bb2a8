/*
 * libFuzzer target for lib/kubeconfig and lib/yamljson: the input is written as a kubeconfig
 * file and loaded; any result is fine, a crash, a leak or a hang is not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/kubeconfig.h"
#include "lib/xalloc.h"
#include "lib/yamljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    struct kube_config *c = NULL;
    json_t *doc = NULL;
    char *err = NULL;
    FILE *f;

    if (yamljson_parse((const char *)data, size, &doc, &err) == 0)
        json_decref(doc);
    else
        free(err);
    err = NULL;
    snprintf(path, sizeof(path), "/tmp/fuzz-kubeconfig-%d.yaml", (int)getpid());
    f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (kube_config_from_files(path, NULL, &c, &err) == 0)
        kube_config_free(c);
    else
        free(err);
    unlink(path);
    return 0;
}
