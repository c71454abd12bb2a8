#ifndef CONTROLLER_CHILDNAME_H
#define CONTROLLER_CHILDNAME_H

#include <stddef.h>

/*
 * Deterministic names of the objects a TaskRun owns, as Tekton and Knative compute them, so a
 * re-planned or re-created child always gets the name it had before.
 */

/*
 * Knative's kmeta.ChildName with the 63-character limit: 'parent' + 'suffix' when that fits,
 * otherwise a prefix of 'parent', the md5 hex of 'parent' and 'suffix'. Returns a new string.
 */
char *childname(const char *parent, const char *suffix);

/* The Pod of attempt 'retries' of TaskRun 'taskrun': "<tr>-pod", or "<tr>-pod-retry<N>". */
char *childname_pod(const char *taskrun, size_t retries);

/*
 * Tekton's container-name rule: cut to 63 characters, then drop trailing characters that are not
 * ASCII letters or digits ("sidecar-" becomes "sidecar"). Returns a new string.
 */
char *childname_restrict(const char *name);

/*
 * '<prefix>' + the first 'digits' lower-case hex digits of FNV-1a-32('name'), right-padded with
 * '0' when the hex form is shorter (Tekton's "ws-1bcf2" and "tekton-creds-<8 hex>" volume names).
 * 'digits' is at most 8. Returns a new string.
 */
char *childname_fnv(const char *prefix, const char *name, size_t digits);

/*
 * The PVC Tekton creates for a volumeClaimTemplate binding:
 * "<template_name or pvc>-<first 10 hex of sha256(workspace + uid)>". Returns a new string.
 */
char *childname_pvc(const char *template_name, const char *workspace, const char *uid);

/* Lower-case md5 hex of 'len' bytes at 'data' into 'out' (33 bytes with the NUL). */
void childname_md5_hex(const void *data, size_t len, char out[33]);

#endif
