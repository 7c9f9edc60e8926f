#include "content.h"
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

void content(uint8_t *p, uint32_t len, uint32_t v)
{
    uint64_t x = 0x243F6A8885A308D3ULL ^ ((uint64_t)v * 0x9E3779B97F4A7C15ULL);
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    if (len >= 4)
        put_be32(p, v);
}

bool is_content(const uint8_t *p, uint32_t len, uint32_t want_len, uint32_t v)
{
    if (len != want_len)
        return false;
    uint8_t *e = malloc(want_len ? want_len : 1);
    if (!e)
        return false;
    content(e, want_len, v);
    bool ok = memcmp(e, p, len) == 0;
    free(e);
    return ok;
}
