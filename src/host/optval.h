/* swtpm's option-value syntax: comma-separated `name=value` or bare `name`
 * tokens (e.g. "type=unixio,path=/run/x.sock,mode=0600"). Names not in the
 * caller's list are an error, as in swtpm. No escaping: a path cannot hold
 * a comma, exactly as with swtpm. */
#ifndef SVTPM_OPTVAL_H
#define SVTPM_OPTVAL_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "err.h"

#define OPTVAL_MAX 16

struct optval {
    size_t n;
    struct { char *name; char *value; } kv[OPTVAL_MAX];   /* value NULL for bare names */
    char *buf;
};

/* allowed: NULL-terminated list of names. On error, why names the culprit. */
svtpm_err optval_parse(const char *s, const char *const *allowed, struct optval *o,
                       char *why, size_t wl);
void optval_free(struct optval *o);
const char *optval_get(const struct optval *o, const char *name);
bool optval_has(const struct optval *o, const char *name);
/* swtpm booleans: bare name or true/1 (any case) is true, anything else false */
bool optval_bool(const struct optval *o, const char *name);
svtpm_err optval_mode(const struct optval *o, const char *name, mode_t *out);
/* "key=VALUE" with key the only name allowed: *out gets a copy of VALUE.
 * SVTPM_E_INVAL (why says so) if malformed, SVTPM_E_NOTFOUND if VALUE is
 * missing or empty. */
svtpm_err optval_one(const char *s, const char *key, char **out, char *why, size_t wl);
svtpm_err optval_uint(const struct optval *o, const char *name, unsigned long max, unsigned long *out);

#endif
