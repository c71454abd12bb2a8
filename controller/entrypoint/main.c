/*
 * tektite-entrypoint: the in-Pod helper. argv -> subcommand (init containers) or step mode;
 * the exit status is the step's. Static, libc only, so it runs in any step image.
 */
#include <string.h>

#include "controller/entrypoint/estr.h"
#include "controller/entrypoint/fsutil.h"
#include "controller/entrypoint/initmode.h"
#include "controller/entrypoint/stepflags.h"
#include "controller/entrypoint/steprun.h"

int main(int argc, char **argv)
{
    struct stepflags f;
    struct estr why;
    int status = -1;

    stepflags_init(&f);
    estr_init(&why);
    if (stepflags_parse(&f, argc - 1, argv + 1, &why) < 0) {
        fsutil_log("%s", why.data);
        status = 1;
    } else if (f.n_positional > 0) {
        /* only arguments before '--' select a subcommand (Tekton regression 5080) */
        const char *sub = f.positional[0];
        char **rest = f.positional + 1;
        size_t n = f.n_positional - 1;

        if (strcmp(sub, "nop") == 0)
            status = 0; /* Tekton's nop image: a sidecar restarted from it ends at once */
        else if (strcmp(sub, "init") == 0)
            status = initmode_init(rest, n);
        else if (strcmp(sub, "step-init") == 0)
            status = initmode_step_init(rest, n);
        else if (strcmp(sub, "cp") == 0)
            status = initmode_cp(rest, n);
        else if (strcmp(sub, "decode-script") == 0)
            status = initmode_decode_script(rest, n);
    }
    if (status < 0)
        status = steprun_main(&f);
    stepflags_done(&f);
    estr_done(&why);
    return status;
}
