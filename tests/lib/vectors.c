#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        p = malloc((size_t)n);
        if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        }
    }
    if (f)
        fclose(f);
    *len = p ? (size_t)n : 0;
    return p;
}

uint8_t *test_vector(const char *name, size_t *len)
{
    const char *top = getenv("SVTPM_TOP");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/unit/data/%s", top ? top : ".", name);
    uint8_t *p = slurp(path, len);
    if (!p)
        fprintf(stderr, "cannot read %s (run from the top of the tree or set SVTPM_TOP)\n", path);
    return p;
}
