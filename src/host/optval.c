#include "optval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

svtpm_err optval_parse(const char *s, const char *const *allowed, struct optval *o,
                       char *why, size_t wl)
{
    memset(o, 0, sizeof *o);
    o->buf = strdup(s);
    if (!o->buf)
        return SVTPM_E_NOMEM;
    char *save = NULL;
    for (char *tok = strtok_r(o->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = 0;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok |= strcmp(allowed[i], tok) == 0;
        if (!ok) {
            snprintf(why, wl, "unknown parameter '%s' in '%s'", tok, s);
            optval_free(o);
            return SVTPM_E_INVAL;
        }
        if (o->n == OPTVAL_MAX) {
            snprintf(why, wl, "too many parameters in '%s'", s);
            optval_free(o);
            return SVTPM_E_TOOBIG;
        }
        o->kv[o->n].name = tok;
        o->kv[o->n].value = eq ? eq + 1 : NULL;
        o->n++;
    }
    return SVTPM_OK;
}

void optval_free(struct optval *o)
{
    free(o->buf);
    memset(o, 0, sizeof *o);
}

const char *optval_get(const struct optval *o, const char *name)
{
    /* the last occurrence wins, as with repeated command-line options */
    const char *v = NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->kv[i].name, name) == 0)
            v = o->kv[i].value ? o->kv[i].value : "";
    return v;
}

bool optval_has(const struct optval *o, const char *name)
{
    return optval_get(o, name) != NULL;
}

bool optval_bool(const struct optval *o, const char *name)
{
    for (size_t i = o->n; i-- > 0;)
        if (strcmp(o->kv[i].name, name) == 0)
            return !o->kv[i].value || !strcasecmp(o->kv[i].value, "true") || !strcmp(o->kv[i].value, "1");
    return false;
}

svtpm_err optval_uint(const struct optval *o, const char *name, unsigned long max, unsigned long *out)
{
    const char *v = optval_get(o, name);
    if (!v || !*v)
        return SVTPM_E_INVAL;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (*end || x > max || v[0] == '-')
        return SVTPM_E_INVAL;
    *out = x;
    return SVTPM_OK;
}

svtpm_err optval_mode(const struct optval *o, const char *name, mode_t *out)
{
    const char *v = optval_get(o, name);
    if (!v || !*v)
        return SVTPM_E_INVAL;
    char *end;
    unsigned long x = strtoul(v, &end, 8);
    if (*end || x > 0777 || v[0] == '-')
        return SVTPM_E_INVAL;
    *out = (mode_t)x;
    return SVTPM_OK;
}

svtpm_err optval_one(const char *s, const char *key, char **out, char *why, size_t wl)
{
    const char *names[] = { key, NULL };
    struct optval o;
    svtpm_err err = optval_parse(s, names, &o, why, wl);
    if (err)
        return err;
    const char *v = optval_get(&o, key);
    if (!v || !*v) {
        err = SVTPM_E_NOTFOUND;
    } else {
        char *copy = strdup(v);
        err = copy ? SVTPM_OK : SVTPM_E_NOMEM;
        if (copy) {
            free(*out);
            *out = copy;
        }
    }
    optval_free(&o);
    return err;
}
