/* Fuzz target: the time token (src/common/timetoken.h, "SVTPMTT1") as the
 * enclave will receive it from the host. Invariants: the length decides
 * (shorter than TIMETOKEN_LEN is TRUNCATED, longer TOOBIG, a failure at the
 * exact length is FORMAT); a failed parse leaves the token all zero; a parse
 * that succeeds has the magic, version 1, zero flags and reserved bytes and
 * a time above 0 in the input, its signature is the input's bytes 92..155,
 * and re-packing the parsed body gives bytes 0..91 back byte for byte (no
 * field dropped, altered or left unchecked); packing into one byte less
 * than the signed part is refused, not overrun. With FZ_VERBOSE=1 each
 * result is printed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "timetoken.h"
#include "fuzz_common.h"

static void check_timetoken(const uint8_t *buf, size_t size)
{
    static const struct timetoken zero;
    struct timetoken t;
    memset(&t, 0xA5, sizeof t);
    svtpm_err err = timetoken_parse(buf, size, &t);
    if (size < TIMETOKEN_LEN)
        FZ_CHECK(err == SVTPM_E_TRUNCATED);
    else if (size > TIMETOKEN_LEN)
        FZ_CHECK(err == SVTPM_E_TOOBIG);
    if (err != SVTPM_OK) {
        FZ_CHECK(err == SVTPM_E_TRUNCATED || err == SVTPM_E_TOOBIG || err == SVTPM_E_FORMAT);
        if (size == TIMETOKEN_LEN)
            FZ_CHECK(err == SVTPM_E_FORMAT);
        FZ_CHECK(memcmp(&t, &zero, sizeof t) == 0);
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "time token: %s\n", svtpm_strerror(err));
        return;
    }
    FZ_CHECK(size == TIMETOKEN_LEN);
    FZ_CHECK(memcmp(buf, TIMETOKEN_MAGIC, 8) == 0);
    FZ_CHECK(get_be16(buf + 8) == TIMETOKEN_VERSION);
    FZ_CHECK(get_be16(buf + 10) == 0);
    FZ_CHECK(get_be32(buf + 56) == 0);
    FZ_CHECK(t.time_ms > 0 && t.time_ms == get_be64(buf + 44));
    FZ_CHECK(memcmp(t.signature, buf + TIMETOKEN_SIGNED_LEN, TIMETOKEN_SIG_LEN) == 0);
    uint8_t again[TIMETOKEN_LEN];
    memset(again, 0x5A, sizeof again);
    FZ_CHECK(timetoken_pack_body(&t, again, sizeof again) == TIMETOKEN_SIGNED_LEN);
    FZ_CHECK(memcmp(again, buf, TIMETOKEN_SIGNED_LEN) == 0);
    for (size_t i = TIMETOKEN_SIGNED_LEN; i < sizeof again; i++)
        FZ_CHECK(again[i] == 0x5A);   /* nothing written past the signed part */
    /* a cap one byte short must be refused, not overrun */
    uint8_t *tight = malloc(TIMETOKEN_SIGNED_LEN - 1);
    FZ_CHECK(tight);
    FZ_CHECK(timetoken_pack_body(&t, tight, TIMETOKEN_SIGNED_LEN - 1) == 0);
    free(tight);
    if (getenv("FZ_VERBOSE"))
        fprintf(stderr, "time token: parsed, time_ms %llu, accuracy_ms %lu\n", (unsigned long long)t.time_ms,
                (unsigned long)t.accuracy_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copy: ASan flags any read past the input */
    uint8_t *buf = malloc(size ? size : 1);
    FZ_CHECK(buf);
    memcpy(buf, data, size);
    check_timetoken(buf, size);
    free(buf);
    return 0;
}
