#include "uuid.h"

#include <stdio.h>

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

bool uuid_parse(const char *s, size_t n, uint8_t out[16])
{
    uint8_t id[16];
    unsigned k = 0;
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int hi = hexval(s[i]), lo = i + 1 < n ? hexval(s[i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return false;
        id[k++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    if (k != 16)
        return false;
    for (unsigned i = 0; i < 16; i++)
        out[i] = id[i];
    return true;
}

void uuid_format(const uint8_t id[16], char out[UUID_STR_LEN])
{
    snprintf(out, UUID_STR_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
             id[12], id[13], id[14], id[15]);
}
