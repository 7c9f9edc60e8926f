/* Fuzz target: the non-rollback store's payload (src/enclave/nrs.h), as the
 * enclave reads it after opening the sealed svtpm.nrs: nrs_check, nrs_find,
 * nrs_put.
 *
 * Input: the payload, as is:
 *   "NRS2" | u32 count | count x 128-byte entry (vtpm_id[16] | tenant[32] |
 *   u64 version | u64 permall_seq | u64 volatile_seq | permall_iv[12] |
 *   volatile_iv[12] | u32 failed_tries | u32 da_flags | u64 clock_hwm |
 *   u32 bind_gen | i64 clock_offset | u32 resume_s), sorted by id, integers
 *   big-endian; every byte is a field, none reserved.
 * The values nrs_put is given (which entry, new field values, a new id) are
 * derived from the input's bytes, so every input is one reproducible run.
 *
 * Invariants:
 *   - nrs_check never reads past the input (exact-size copy under ASan) and
 *     fails only with SVTPM_E_FORMAT; when it fails, nrs_find returns the same
 *     error and nrs_put refuses the payload;
 *   - when it passes: the length is 8 + 128 * count and ids strictly ascend;
 *     nrs_find of each entry's id
 *     returns exactly the entry's fields, IVs included (decoded here
 *     independently); an id that is not there is SVTPM_E_NOTFOUND;
 *   - nrs_put of a modified entry (same id, new fields and IVs) gives a
 *     payload of the same length that passes nrs_check, holds the new fields
 *     at the same place and every other entry
 *     byte-identical;
 *   - nrs_put of a new id gives one entry more (in id order, the others
 *     byte-identical and in order) or SVTPM_E_TOOBIG when the store is full;
 *   - nrs_put into an output one byte too small returns SVTPM_E_TOOBIG and
 *     writes nothing past it; into an empty store (in_len 0), one entry.
 * Once per process, a full store (NRS_MAX_ENTRIES) is built and checked. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "nrs.h"
#include "fuzz_common.h"

#define ENT(p, i) ((p) + 8 + (size_t)(i) * NRS_ENTRY_LEN)

/* The entry layout, written out here rather than taken from nrs.c. */
#define OFF_ID        0
#define OFF_TENANT    16
#define OFF_VERSION   48
#define OFF_PERMSEQ   56
#define OFF_VOLSEQ    64
#define OFF_PERMIV    72
#define OFF_VOLIV     84
#define OFF_FAILED    96
#define OFF_DAFLAGS   100
#define OFF_CLOCK     104
#define OFF_BINDGEN   112
#define OFF_OFFSET    116
#define OFF_RESUME    124
#define ENTRY_LEN     128
_Static_assert(NRS_ENTRY_LEN == ENTRY_LEN && SEAL_IV_LEN == 12 && OFF_RESUME + 4 == ENTRY_LEN,
               "NRS2 entry layout");

/* The entry's fields, decoded here without nrs.c's code. */
static void decode(const uint8_t *q, struct nrs_entry *e)
{
    memset(e, 0, sizeof *e);
    memcpy(e->vtpm_id, q + OFF_ID, 16);
    memcpy(e->tenant, q + OFF_TENANT, 32);
    e->version = get_be64(q + OFF_VERSION);
    e->permall_seq = get_be64(q + OFF_PERMSEQ);
    e->volatile_seq = get_be64(q + OFF_VOLSEQ);
    memcpy(e->permall_iv, q + OFF_PERMIV, 12);
    memcpy(e->volatile_iv, q + OFF_VOLIV, 12);
    e->failed_tries = get_be32(q + OFF_FAILED);
    e->da_flags = get_be32(q + OFF_DAFLAGS);
    e->clock_hwm = get_be64(q + OFF_CLOCK);
    e->bind_gen = get_be32(q + OFF_BINDGEN);
    e->clock_offset = (int64_t)get_be64(q + OFF_OFFSET);
    e->resume_s = get_be32(q + OFF_RESUME);
}

static bool same_entry(const struct nrs_entry *a, const struct nrs_entry *b)
{
    return memcmp(a->vtpm_id, b->vtpm_id, 16) == 0 && memcmp(a->tenant, b->tenant, 32) == 0 &&
           a->version == b->version && a->permall_seq == b->permall_seq &&
           a->volatile_seq == b->volatile_seq &&
           memcmp(a->permall_iv, b->permall_iv, 12) == 0 &&
           memcmp(a->volatile_iv, b->volatile_iv, 12) == 0 && a->failed_tries == b->failed_tries &&
           a->da_flags == b->da_flags && a->clock_hwm == b->clock_hwm && a->bind_gen == b->bind_gen &&
           a->clock_offset == b->clock_offset && a->resume_s == b->resume_s;
}

/* splitmix64: the input picks the values nrs_put is given */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void random_fields(struct nrs_entry *e, uint64_t *s)
{
    uint64_t r = mix(s);
    for (int i = 0; i < 32; i++)
        e->tenant[i] = (uint8_t)(mix(s) >> 7);
    /* small and extreme values both */
    e->version = r & 1 ? mix(s) : (r >> 8) & 0xff;
    e->permall_seq = r & 2 ? UINT64_MAX : e->version;
    e->volatile_seq = r & 4 ? 0 : mix(s);
    for (int i = 0; i < 12; i++) {
        e->permall_iv[i] = (uint8_t)(mix(s) >> 13);
        e->volatile_iv[i] = (uint8_t)(mix(s) >> 17);
    }
    e->failed_tries = (uint32_t)mix(s);
    e->da_flags = (uint32_t)(r >> 32);
    e->clock_hwm = mix(s);
    e->bind_gen = r & 8 ? UINT32_MAX : (uint32_t)(r >> 16) & 0xf;
    e->clock_offset = r & 16 ? INT64_MIN : (int64_t)mix(s);
    e->resume_s = r & 32 ? UINT32_MAX : (uint32_t)mix(s);
}

/* Is id one of the n entries of p? Its index, or -1. */
static int64_t index_of(const uint8_t *p, uint32_t n, const uint8_t id[16])
{
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(ENT(p, i), id, 16) == 0)
            return i;
    return -1;
}

/* nrs_put into an exact-size buffer (ASan catches any write past it), plus
 * the same put into one byte less, which must be refused. */
static svtpm_err put_exact(const uint8_t *in, size_t in_len, const struct nrs_entry *e, size_t want,
                           uint8_t **out, size_t *out_len)
{
    *out = malloc(want);
    FZ_CHECK(*out);
    *out_len = 0;
    svtpm_err err = nrs_put(in, in_len, e, *out, want, out_len);
    if (!err) {
        FZ_CHECK(*out_len == want);
        uint8_t *small = malloc(want - 1);
        FZ_CHECK(small);
        size_t n2 = 12345;
        FZ_CHECK(nrs_put(in, in_len, e, small, want - 1, &n2) == SVTPM_E_TOOBIG);
        FZ_CHECK(n2 == 12345);
        free(small);
    }
    return err;
}

/* A put's result: passes nrs_check with `count` entries, e is found, and the
 * entries other than e's are the input's, in order, byte for byte. */
static void check_put(const uint8_t *in, uint32_t n, const uint8_t *out, size_t out_len, uint32_t count,
                      const struct nrs_entry *e)
{
    uint32_t c = 0;
    FZ_CHECK(nrs_check(out, out_len, &c) == SVTPM_OK);
    FZ_CHECK(c == count);
    struct nrs_entry got;
    FZ_CHECK(nrs_find(out, out_len, e->vtpm_id, &got) == SVTPM_OK);
    FZ_CHECK(same_entry(&got, e));
    int64_t at = index_of(out, c, e->vtpm_id);
    FZ_CHECK(at >= 0);
    decode(ENT(out, at), &got);
    FZ_CHECK(same_entry(&got, e));
    uint32_t j = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (memcmp(ENT(in, i), e->vtpm_id, 16) == 0)
            continue;   /* replaced */
        if ((int64_t)j == at)
            j++;
        FZ_CHECK(j < c);
        FZ_CHECK(memcmp(ENT(in, i), ENT(out, j), NRS_ENTRY_LEN) == 0);
        j++;
    }
    FZ_CHECK(j + ((int64_t)j <= at ? 1 : 0) == c);
}

/* Once: a full store refuses one more vTPM and still takes updates. */
static void full_store_check(void)
{
    size_t len = 8 + (size_t)NRS_MAX_ENTRIES * NRS_ENTRY_LEN;
    FZ_CHECK(len <= SVTPM_STATE_PLAIN_MAX);
    uint8_t *p = calloc(1, len);
    FZ_CHECK(p);
    memcpy(p, NRS_MAGIC, 4);
    put_be32(p + 4, NRS_MAX_ENTRIES);
    for (uint32_t i = 0; i < NRS_MAX_ENTRIES; i++) {
        put_be32(ENT(p, i) + 12, 2 * i + 2);   /* ids 2, 4, 6, ...: gaps to insert into */
        put_be64(ENT(p, i) + OFF_VERSION, i);
    }
    uint32_t c = 0;
    FZ_CHECK(nrs_check(p, len, &c) == SVTPM_OK && c == NRS_MAX_ENTRIES);
    /* one entry more than the limit: refused by the check */
    uint8_t *q = calloc(1, len + NRS_ENTRY_LEN);
    FZ_CHECK(q);
    memcpy(q, p, len);
    put_be32(q + 4, NRS_MAX_ENTRIES + 1);
    put_be32(ENT(q, NRS_MAX_ENTRIES) + 12, 2 * NRS_MAX_ENTRIES + 2);
    FZ_CHECK(nrs_check(q, len + NRS_ENTRY_LEN, &c) == SVTPM_E_FORMAT);
    /* a new id: too big, even with room in the output */
    struct nrs_entry e = { .version = 7 };
    put_be32(e.vtpm_id + 12, 3);
    size_t n = 0;
    FZ_CHECK(nrs_put(p, len, &e, q, len + NRS_ENTRY_LEN, &n) == SVTPM_E_TOOBIG);
    /* an update of a present one: fine */
    put_be32(e.vtpm_id + 12, 2 * 1000 + 2);
    uint8_t *out;
    FZ_CHECK(put_exact(p, len, &e, len, &out, &n) == SVTPM_OK);
    check_put(p, NRS_MAX_ENTRIES, out, n, NRS_MAX_ENTRIES, &e);
    free(out);
    free(q);
    free(p);
}

/* The format, decided independently of nrs.c: both directions are checked
 * (nrs_check must accept exactly these). */
static bool well_formed(const uint8_t *in, size_t size)
{
    if (size < 8 || memcmp(in, "NRS2", 4) != 0)
        return false;
    uint32_t n = get_be32(in + 4);
    if (n > NRS_MAX_ENTRIES || size != 8 + (size_t)n * NRS_ENTRY_LEN)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (i && memcmp(ENT(in, i - 1), ENT(in, i), 16) >= 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        full_store_check();
        once = 1;
    }
    /* exact-size copy: ASan flags any read past the input */
    uint8_t *in = malloc(size ? size : 1);
    FZ_CHECK(in);
    memcpy(in, data, size);
    uint64_t seed = 0x6E72730000000000ULL ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = seed * 131 + in[size - 1 - i];

    uint32_t n = 0xdeadbeef;
    svtpm_err err = nrs_check(in, size, &n);
    FZ_CHECK((err == SVTPM_OK) == well_formed(in, size));
    struct nrs_entry e, got;
    uint8_t probe[16] = { 0 };
    if (size >= 24)
        memcpy(probe, in + 8, 16);   /* the first entry's id, if any */

    if (err) {
        FZ_CHECK(err == SVTPM_E_FORMAT);
        FZ_CHECK(n == 0xdeadbeef);   /* nothing reported */
        FZ_CHECK(nrs_find(in, size, probe, &got) == err);
        if (size) {
            uint8_t out[16];
            size_t on = 999;
            random_fields(&e, &seed);
            memcpy(e.vtpm_id, probe, 16);
            FZ_CHECK(nrs_put(in, size, &e, out, sizeof out, &on) == err);
            FZ_CHECK(on == 999);
        }
        free(in);
        return 0;
    }

    /* the format, checked independently */
    FZ_CHECK(size >= 8 && memcmp(in, "NRS2", 4) == 0);
    FZ_CHECK(n == get_be32(in + 4) && n <= NRS_MAX_ENTRIES);
    FZ_CHECK(size == 8 + (size_t)n * NRS_ENTRY_LEN);
    for (uint32_t i = 1; i < n; i++)
        FZ_CHECK(memcmp(ENT(in, i - 1), ENT(in, i), 16) < 0);
    /* every entry is found, with its own fields */
    for (uint32_t i = 0; i < n; i++) {
        struct nrs_entry want;
        decode(ENT(in, i), &want);
        memset(&got, 0xA5, sizeof got);
        FZ_CHECK(nrs_find(in, size, want.vtpm_id, &got) == SVTPM_OK);
        FZ_CHECK(same_entry(&got, &want));
    }
    /* ids that are not there */
    uint8_t absent[16];
    for (int k = 0; k < 4; k++) {
        uint64_t r = mix(&seed);
        if (n && k < 2)
            memcpy(absent, ENT(in, r % n), 16);
        else
            memset(absent, (int)(r & 0xff), 16);
        absent[15 - (r >> 8) % 16] ^= (uint8_t)(1u << ((r >> 16) % 8));
        if (index_of(in, n, absent) < 0)
            FZ_CHECK(nrs_find(in, size, absent, &got) == SVTPM_E_NOTFOUND);
    }

    /* an update of one entry: same length, one entry changed */
    uint8_t *out;
    size_t on;
    if (n) {
        uint32_t i = (uint32_t)(mix(&seed) % n);
        decode(ENT(in, i), &e);
        random_fields(&e, &seed);
        FZ_CHECK(put_exact(in, size, &e, size, &out, &on) == SVTPM_OK);
        check_put(in, n, out, on, n, &e);
        FZ_CHECK(on == size && index_of(out, n, e.vtpm_id) == (int64_t)i);   /* in place */
        /* and putting the original back gives the input back */
        struct nrs_entry orig;
        decode(ENT(in, i), &orig);
        uint8_t *back;
        size_t bn;
        FZ_CHECK(put_exact(out, on, &orig, size, &back, &bn) == SVTPM_OK);
        FZ_CHECK(bn == size && memcmp(back, in, size) == 0);
        free(back);
        free(out);
    }

    /* a new vTPM: an id that is not there yet */
    memset(&e, 0, sizeof e);
    random_fields(&e, &seed);
    uint64_t r = mix(&seed);
    if (n && (r & 3)) {
        /* next to an existing id, to land between neighbours */
        memcpy(e.vtpm_id, ENT(in, (r >> 2) % n), 16);
        for (int b = 15; b >= 0 && ++e.vtpm_id[b] == 0; b--)
            ;
    } else {
        for (int b = 0; b < 16; b++)
            e.vtpm_id[b] = (uint8_t)(mix(&seed) >> 11);
    }
    for (int guard = 0; index_of(in, n, e.vtpm_id) >= 0 && guard < 1000; guard++)
        e.vtpm_id[guard % 16] ^= 0x5a;
    if (index_of(in, n, e.vtpm_id) < 0) {
        size_t want = size + NRS_ENTRY_LEN;
        err = put_exact(in, size, &e, want, &out, &on);
        if (n == NRS_MAX_ENTRIES) {
            FZ_CHECK(err == SVTPM_E_TOOBIG);
        } else {
            FZ_CHECK(err == SVTPM_OK);
            check_put(in, n, out, on, n + 1, &e);
        }
        free(out);
    }

    /* the empty store (no file yet): one entry */
    FZ_CHECK(put_exact(NULL, 0, &e, 8 + NRS_ENTRY_LEN, &out, &on) == SVTPM_OK);
    check_put(NULL, 0, out, on, 1, &e);
    free(out);

    free(in);
    return 0;
}
