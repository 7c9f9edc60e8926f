/* Fuzz target: tpmcmd_needs_fresh_time (src/enclave/tpmcmd.h), which reads
 * every TPM command the guest or the host sends before libtpms does.
 * Invariants: the answer equals an independent reading written here with
 * plain offsets (no shared code), the four time-bound policy commands are
 * always fresh, and nothing is read past the input (exact-size copy).
 * With FZ_VERBOSE=1 each result is printed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpmcmd.h"
#include "fuzz_common.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The rule, restated: 0 not fresh, 1 fresh. */
static int reference(const uint8_t *b, size_t n)
{
    if (n < 10)
        return 0;
    uint32_t cc = be32(b + 6);
    if (cc == 0x151 || cc == 0x160 || cc == 0x172 || cc == 0x16D)
        return 1;
    if (b[0] != 0x80 || b[1] != 0x02)
        return 0;
    int h = tpmcmd_handles(cc);
    if (h < 0)
        return 1;
    size_t off = 10 + 4 * (size_t)h;
    if (off + 4 > n)
        return 1;
    size_t size = be32(b + off), end;
    off += 4;
    if (size > n - off)
        return 1;
    end = off + size;
    while (off < end) {
        if (end - off < 4 + 2)
            return 1;
        int policy = b[off] == 0x03;
        size_t nonce = (size_t)b[off + 4] << 8 | b[off + 5];
        off += 6;
        if (end - off < nonce + 1 + 2)
            return 1;
        off += nonce + 1;
        size_t hmac = (size_t)b[off] << 8 | b[off + 1];
        off += 2;
        if (end - off < hmac)
            return 1;
        off += hmac;
        if (policy)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    FZ_CHECK(buf);
    memcpy(buf, data, size);
    int got = tpmcmd_needs_fresh_time(buf, size);
    FZ_CHECK(got == reference(buf, size));
    if (getenv("FZ_VERBOSE"))
        fprintf(stderr, "tpmcmd: %zu bytes, fresh time %s\n", size, got ? "needed" : "not needed");
    free(buf);
    return 0;
}
