/* Fuzz target: swtpm option values (src/host/optval.h), e.g. the argument of
 * --ctrl, --server, --tpmstate, --log, --flags, --pid, --locality, --key.
 *
 * Input: byte 0 picks one of the name lists src/host/cli.c uses; the rest
 * (up to the first NUL) is the option value. Every accessor is then asked
 * about every allowed name and a few that are not allowed.
 * Invariants: on success, at most OPTVAL_MAX pairs, every name in the
 * allowed list (so non-empty unless "" is allowed) and without '=' or ',', every name and value inside the
 * parser's own copy; optval_get returns the last occurrence; the numeric
 * accessors only succeed on what they promise; on failure the reason is a
 * terminated string within its buffer and nothing is left allocated. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "optval.h"
#include "fuzz_common.h"

static const char *const names_ctrl[] = { "type", "path", "mode", "uid", "gid", "fd", "clientfd",
                                          "port", "bindaddr", "ifname", "terminate", NULL };
static const char *const names_srv[] = { "type", "path", "mode", "uid", "gid", "fd", "port",
                                         "bindaddr", "ifname", "disconnect", NULL };
static const char *const names_state[] = { "dir", "mode", "backend-uri", "lock", NULL };
static const char *const names_log[] = { "file", "fd", "level", "prefix", "truncate", NULL };
static const char *const names_flags[] = { "not-need-init", "startup-clear", "startup-state",
                                           "startup-deactivated", "startup-none",
                                           "disable-auto-shutdown", NULL };
static const char *const names_pid[] = { "file", "fd", NULL };
static const char *const names_loc[] = { "reject-locality-4", "allow-set-locality", NULL };
static const char *const names_key[] = { "file", "fd", "pwdfile", "pwdfd", "format", "mode", "kdf",
                                         "remove", NULL };
static const char *const names_none[] = { NULL };
static const char *const names_odd[] = { "", "a=b", "x,y", "mode", NULL };   /* names no caller uses */

static const char *const *const lists[] = {
    names_ctrl, names_srv, names_state, names_log, names_flags, names_pid, names_loc, names_key,
    names_none, names_odd,
};
#define NLISTS (sizeof lists / sizeof lists[0])

static bool allowed(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], name))
            return true;
    return false;
}

static void ask(const struct optval *o, const char *name)
{
    const char *v = optval_get(o, name);
    FZ_CHECK(optval_has(o, name) == (v != NULL));
    /* the last occurrence wins */
    const char *last = NULL;
    bool found = false;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->kv[i].name, name)) {
            last = o->kv[i].value;
            found = true;
        }
    FZ_CHECK(found == (v != NULL));
    if (found)
        FZ_CHECK(last ? v == last : strcmp(v, "") == 0);
    bool b = optval_bool(o, name);
    if (b)
        FZ_CHECK(found && (!last || !strcasecmp(last, "true") || !strcmp(last, "1")));
    static const unsigned long maxes[] = { 0, 1, 100, 65535, 0xFFFFFFFFul, ~0ul };
    for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
        unsigned long u = 12345;
        if (optval_uint(o, name, maxes[i], &u) == SVTPM_OK) {
            FZ_CHECK(found && last && *last && last[0] != '-');
            FZ_CHECK(u <= maxes[i]);
            /* no negative number wraps into range (" -0" is 0, fine) */
            if (maxes[i] != ~0ul && strchr(last, '-'))
                FZ_CHECK(u == 0);
        } else {
            FZ_CHECK(u == 12345);   /* untouched on failure */
        }
    }
    mode_t m = 01234;
    if (optval_mode(o, name, &m) == SVTPM_OK)
        FZ_CHECK(found && last && *last && m <= 0777);
    else
        FZ_CHECK(m == 01234);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *const *list = lists[data[0] % NLISTS];
    size_t n = strnlen((const char *)data + 1, size - 1);
    char *s = malloc(n + 1);
    FZ_CHECK(s);
    memcpy(s, data + 1, n);
    s[n] = 0;

    struct optval o;
    memset(&o, 0x5A, sizeof o);
    char why[64];
    memset(why, 0x7F, sizeof why);
    svtpm_err err = optval_parse(s, list, &o, why, sizeof why);
    if (err) {
        FZ_CHECK(err == SVTPM_E_INVAL || err == SVTPM_E_TOOBIG || err == SVTPM_E_NOMEM);
        FZ_CHECK(memchr(why, 0, sizeof why) != NULL);
        FZ_CHECK(o.buf == NULL && o.n == 0);
        /* a tiny reason buffer is fine too */
        char small[1] = { 1 };
        FZ_CHECK(optval_parse(s, list, &o, small, sizeof small) == err);
        FZ_CHECK(small[0] == 0);
        free(s);
        return 0;
    }
    FZ_CHECK(o.buf != NULL && o.n <= OPTVAL_MAX);
    size_t blen = n + 1;
    for (size_t i = 0; i < o.n; i++) {
        const char *nm = o.kv[i].name, *v = o.kv[i].value;
        FZ_CHECK(nm >= o.buf && nm < o.buf + blen);
        FZ_CHECK((*nm || allowed(list, "")) && !strchr(nm, ',') && !strchr(nm, '='));
        FZ_CHECK(allowed(list, nm));
        /* the name is where it was in the input */
        FZ_CHECK(!strncmp(s + (nm - o.buf), nm, strlen(nm)));
        if (v) {
            FZ_CHECK(v > o.buf && v <= o.buf + n);
            FZ_CHECK(v[-1] == 0 && s[v - 1 - o.buf] == '=');
            FZ_CHECK(!strchr(v, ','));
        }
    }
    for (size_t i = 0; list[i]; i++)
        ask(&o, list[i]);
    ask(&o, "");
    ask(&o, "no-such-name");
    optval_free(&o);
    FZ_CHECK(o.buf == NULL && o.n == 0);
    free(s);
    return 0;
}
