#include "controller/childname.h"

/*
 * Child object names (Knative ChildName, Tekton's FNV volume names and PVC names). Pure string
 * functions; hashing through OpenSSL's EVP interface. Uniqueness checks are the caller's.
 */

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define NAME_MAX_LEN 63
#define MD5_HEX_LEN  32
#define CHILD_HEAD   (NAME_MAX_LEN - MD5_HEX_LEN)

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int raw_len = 0;
    static const char hex[] = "0123456789abcdef";

    /* EVP_Digest only fails on allocation failure inside OpenSSL: treat like OOM */
    if (EVP_Digest(data, len, raw, &raw_len, md, NULL) != 1)
        abort();
    for (unsigned int i = 0; i < raw_len; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xf];
    }
    out[2 * raw_len] = '\0';
}

void childname_md5_hex(const void *data, size_t len, char out[33])
{
    digest_hex(EVP_md5(), data, len, out);
}

static bool is_alnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void trim_right_char(char *s, char c)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == c)
        s[--n] = '\0';
}

char *childname(const char *parent, const char *suffix)
{
    size_t plen = strlen(parent);
    size_t slen = strlen(suffix);
    char md5[MD5_HEX_LEN + 1];

    if (plen + slen <= NAME_MAX_LEN)
        return xasprintf("%s%s", parent, suffix);

    if (slen >= CHILD_HEAD) {
        /* the suffix alone nearly fills the name: hash parent+suffix, pad with the suffix */
        char *joined = xasprintf("%s%s", parent, suffix);
        char *ret;
        size_t head = plen < CHILD_HEAD ? plen : CHILD_HEAD;
        size_t have;

        childname_md5_hex(joined, strlen(joined), md5);
        free(joined);
        ret = xasprintf("%.*s%s", (int)head, parent, md5);
        have = strlen(ret);
        if (have < NAME_MAX_LEN) {
            char *padded = xasprintf("%s%.*s", ret, (int)(NAME_MAX_LEN - have), suffix);

            free(ret);
            ret = padded;
        }
        trim_right_char(ret, '-');
        return ret;
    }

    childname_md5_hex(parent, plen, md5);
    return xasprintf("%.*s%s%s", (int)(CHILD_HEAD - slen), parent, md5, suffix);
}

char *childname_pod(const char *taskrun, size_t retries)
{
    char suffix[40];

    if (retries == 0)
        return childname(taskrun, "-pod");
    (void)snprintf(suffix, sizeof(suffix), "-pod-retry%zu", retries);
    return childname(taskrun, suffix);
}

char *childname_restrict(const char *name)
{
    /* lib's xstrndup copies exactly 'len' bytes: bound it by the string first */
    char *ret = xstrndup(name, strnlen(name, NAME_MAX_LEN));
    size_t n = strlen(ret);

    while (n > 0 && !is_alnum_ascii(ret[n - 1]))
        ret[--n] = '\0';
    return ret;
}

char *childname_fnv(const char *prefix, const char *name, size_t digits)
{
    uint32_t h = 2166136261u;
    char hex[9];
    size_t n;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    (void)snprintf(hex, sizeof(hex), "%x", h);
    if (digits > 8)
        digits = 8;
    n = strlen(hex);
    while (n < digits)
        hex[n++] = '0';
    hex[digits] = '\0';
    return xasprintf("%s%s", prefix, hex);
}

char *childname_pvc(const char *template_name, const char *workspace, const char *uid)
{
    char *joined = xasprintf("%s%s", workspace, uid);
    char sha[2 * EVP_MAX_MD_SIZE + 1];
    char *ret;

    digest_hex(EVP_sha256(), joined, strlen(joined), sha);
    free(joined);
    ret = xasprintf("%s-%.10s", template_name && *template_name ? template_name : "pvc", sha);
    return ret;
}
