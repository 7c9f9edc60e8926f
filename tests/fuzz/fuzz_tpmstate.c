/* Fuzz target: the DA fields of libtpms' permanent state blob
 * (src/enclave/tpmstate.h): tpmstate_da_find, _read and _patch.
 *
 * Input: a permall blob, as is (TPMLIB_GetState(TPMLIB_STATE_PERMANENT)).
 * The values patched in are derived from the input's bytes.
 *
 * Invariants:
 *   - nothing reads past the input (exact-size copy under ASan);
 *   - find, read and patch agree: the same error, or all succeed; a failure
 *     is TRUNCATED, FORMAT or UNSUPPORTED, writes nothing to *da, *off or
 *     the blob;
 *   - a second walk written here independently (plain offsets, no struct
 *     rd) accepts exactly the blobs find accepts, at the same offset;
 *   - on success: the blob starts with a PERSISTENT_ALL v3 header and ends
 *     with its magic, the 17 field bytes lie inside it and decode (here) to
 *     what read returned, the BOOL byte is 0 or 1; patch with the values read
 *     leaves the blob byte-identical; patch with other values changes only
 *     those 17 bytes, read then returns the new values (at the same offset),
 *     and patching the old ones back restores the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "tpmstate.h"
#include "fuzz_common.h"

/* ---- the independent walk: returns the DA offset, or -1 ---------------- */

struct ref {
    const uint8_t *p;
    size_t len, at;
    bool bad;
};

static bool has(struct ref *r, size_t n)
{
    if (r->bad || n > r->len - r->at)
        r->bad = true;
    return !r->bad;
}
static uint32_t take(struct ref *r, int width)
{
    uint32_t v = 0;
    if (has(r, (size_t)width))
        for (int i = 0; i < width; i++)
            v = v << 8 | r->p[r->at++];
    return v;
}
static void jump(struct ref *r, size_t n)
{
    if (has(r, n))
        r->at += n;
}
static void expect(struct ref *r, bool cond)
{
    if (!cond)
        r->bad = true;
}
static void hdr(struct ref *r, uint32_t magic, uint32_t version)
{
    expect(r, take(r, 2) == version);
    expect(r, take(r, 4) == magic);
    expect(r, take(r, 2) <= version);
}
static uint32_t marker(struct ref *r)
{
    expect(r, take(r, 1) == 1);
    return take(r, 2);
}
static void t2b(struct ref *r)
{
    uint32_t n = take(r, 2);
    expect(r, n <= 64);
    jump(r, n);
}
static void banks(struct ref *r)
{
    uint32_t n = take(r, 4);
    expect(r, n <= 16);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        take(r, 2);
        jump(r, take(r, 1));
    }
}

static long ref_find(const uint8_t *p, size_t len)
{
    struct ref r = { .p = p, .len = len };
    hdr(&r, 0xab364723u, 3);
    hdr(&r, 0xc9ea6431u, 3);
    expect(&r, take(&r, 4) == 120);
    jump(&r, 480);
    jump(&r, marker(&r));
    hdr(&r, 0x12213443u, 4);
    jump(&r, 7);
    for (int i = 0; i < 12; i++)
        t2b(&r);
    jump(&r, 12);
    uint32_t blk = marker(&r);
    size_t start = r.at;
    hdr(&r, 0x176be626u, 2);
    uint32_t n = take(&r, 2);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        take(&r, 2);
        t2b(&r);
    }
    jump(&r, marker(&r));
    expect(&r, r.at - start == blk);
    banks(&r);
    jump(&r, take(&r, 2));
    size_t da = r.at;
    jump(&r, 16);
    expect(&r, take(&r, 1) <= 1);
    jump(&r, 2);
    jump(&r, take(&r, 2));
    jump(&r, 22);
    expect(&r, take(&r, 1) == 4);
    jump(&r, 4);
    jump(&r, marker(&r));
    take(&r, 2);
    expect(&r, take(&r, 4) == 0x56657887u);
    expect(&r, len >= 4 && get_be32(p + len - 4) == 0xab364723u);
    return r.bad ? -1 : (long)da;
}

/* ---- the target --------------------------------------------------------- */

static void decode(const uint8_t *q, struct tpm_da *d)
{
    d->failed_tries = get_be32(q);
    d->max_tries = get_be32(q + 4);
    d->recovery_time = get_be32(q + 8);
    d->lockout_recovery = get_be32(q + 12);
    d->lockout_auth_enabled = q[16] != 0;
}

static bool same(const struct tpm_da *a, const struct tpm_da *b)
{
    return a->failed_tries == b->failed_tries && a->max_tries == b->max_tries &&
           a->recovery_time == b->recovery_time && a->lockout_recovery == b->lockout_recovery &&
           a->lockout_auth_enabled == b->lockout_auth_enabled;
}

/* splitmix64: the input picks the values patched in */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copies: ASan flags any access past the input */
    uint8_t *in = malloc(size ? size : 1);
    uint8_t *c = malloc(size ? size : 1);
    FZ_CHECK(in && c);
    memcpy(in, data, size);
    memcpy(c, data, size);

    size_t off = 0xdeadbeef;
    struct tpm_da da, canary;
    memset(&canary, 0xA5, sizeof canary);
    da = canary;
    svtpm_err err = tpmstate_da_find(in, size, &off);
    FZ_CHECK(tpmstate_da_find(in, size, NULL) == err);
    FZ_CHECK(tpmstate_da_read(in, size, &da) == err);
    long ref = ref_find(in, size);
    FZ_CHECK((err == SVTPM_OK) == (ref >= 0));

    if (err) {
        FZ_CHECK(err == SVTPM_E_TRUNCATED || err == SVTPM_E_FORMAT || err == SVTPM_E_UNSUPPORTED);
        FZ_CHECK(off == 0xdeadbeef);
        FZ_CHECK(memcmp(&da, &canary, sizeof da) == 0);
        struct tpm_da any = { 1, 2, 3, 4, false };
        FZ_CHECK(tpmstate_da_patch(c, size, &any) == err);
        FZ_CHECK(memcmp(c, in, size) == 0);
    } else {
        FZ_CHECK((long)off == ref);
        FZ_CHECK(size >= 8 && get_be16(in) == 3 && get_be32(in + 2) == 0xab364723u);
        FZ_CHECK(get_be32(in + size - 4) == 0xab364723u);
        FZ_CHECK(off >= 8 && off + TPMSTATE_DA_LEN <= size - 4);
        FZ_CHECK(in[off + 16] <= 1);
        struct tpm_da want;
        decode(in + off, &want);
        FZ_CHECK(same(&da, &want));

        /* the same values: byte-identical */
        FZ_CHECK(tpmstate_da_patch(c, size, &da) == SVTPM_OK);
        FZ_CHECK(memcmp(c, in, size) == 0);

        /* other values: only the 17 field bytes change */
        uint64_t seed = 0x7470737461746500ULL ^ size;
        for (size_t i = 0; i < size && i < 64; i++)
            seed = seed * 131 + in[size - 1 - i];
        uint64_t r = mix(&seed);
        struct tpm_da nw = {
            .failed_tries = r & 1 ? (uint32_t)mix(&seed) : da.failed_tries + 1,
            .max_tries = r & 2 ? (uint32_t)mix(&seed) : da.max_tries,
            .recovery_time = r & 4 ? UINT32_MAX : da.recovery_time,
            .lockout_recovery = r & 8 ? 0 : (uint32_t)(r >> 32),
            .lockout_auth_enabled = (r & 16) != 0,
        };
        FZ_CHECK(tpmstate_da_patch(c, size, &nw) == SVTPM_OK);
        FZ_CHECK(memcmp(c, in, off) == 0);
        FZ_CHECK(memcmp(c + off + TPMSTATE_DA_LEN, in + off + TPMSTATE_DA_LEN,
                        size - off - TPMSTATE_DA_LEN) == 0);
        struct tpm_da got;
        size_t off2 = 0;
        FZ_CHECK(tpmstate_da_read(c, size, &got) == SVTPM_OK && same(&got, &nw));
        FZ_CHECK(tpmstate_da_find(c, size, &off2) == SVTPM_OK && off2 == off);
        decode(c + off, &got);
        FZ_CHECK(same(&got, &nw));

        /* and back */
        FZ_CHECK(tpmstate_da_patch(c, size, &da) == SVTPM_OK);
        FZ_CHECK(memcmp(c, in, size) == 0);
    }
    free(c);
    free(in);
    return 0;
}
