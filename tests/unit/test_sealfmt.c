/* src/common/sealfmt.h: sealed-record header pack/parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "sealfmt.h"

/* Field offsets, as documented in sealfmt.c / docs/formats.md. */
#define OFF_MAGIC    0
#define OFF_VERSION  8
#define OFF_HDRLEN   10
#define OFF_KIND     12
#define OFF_SEQ      16
#define OFF_VTPMID   24
#define OFF_KEYID    40
#define OFF_POLICY   72
#define OFF_SVN      74
#define OFF_PRODID   76
#define OFF_RSV1     78
#define OFF_CPUSVN   80
#define OFF_SIGNER   96
#define OFF_IV       128
#define OFF_PLEN     140
#define OFF_TENANT   144
#define OFF_BINDGEN  176
#define OFF_FLAGS    180
#define OFF_RSV2     184

static struct seal_hdr sample(uint32_t plen)
{
    struct seal_hdr h = {
        .version = SEAL_FORMAT_V2,
        .kind = SEAL_KIND_VOLATILE,
        .seq = 0x0102030405060708ULL,
        .key_policy = SEAL_POLICY_MRSIGNER,
        .isv_svn = 0x1122,
        .isv_prod_id = 0x3344,
        .payload_len = plen,
    };
    for (int i = 0; i < 16; i++) {
        h.vtpm_id[i] = (uint8_t)(0x10 + i);
        h.cpu_svn[i] = (uint8_t)(0x30 + i);
    }
    for (int i = 0; i < 32; i++) {
        h.key_id[i] = (uint8_t)(0x50 + i);
        h.signer[i] = (uint8_t)(0x90 + i);
        h.tenant[i] = (uint8_t)(0xd0 + i);
    }
    h.bind_gen = 0x55667788;
    h.flags = SEAL_F_NRS;
    for (unsigned i = 0; i < SEAL_IV_LEN; i++)
        h.iv[i] = (uint8_t)(0xc0 + i);
    return h;
}

static void assert_hdr_equal(const struct seal_hdr *a, const struct seal_hdr *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->kind, b->kind);
    assert_true(a->seq == b->seq);
    assert_memory_equal(a->vtpm_id, b->vtpm_id, 16);
    assert_memory_equal(a->key_id, b->key_id, 32);
    assert_int_equal(a->key_policy, b->key_policy);
    assert_int_equal(a->isv_svn, b->isv_svn);
    assert_int_equal(a->isv_prod_id, b->isv_prod_id);
    assert_memory_equal(a->cpu_svn, b->cpu_svn, 16);
    assert_memory_equal(a->signer, b->signer, 32);
    assert_memory_equal(a->iv, b->iv, SEAL_IV_LEN);
    assert_int_equal(a->payload_len, b->payload_len);
    assert_memory_equal(a->tenant, b->tenant, 32);
    assert_int_equal(a->bind_gen, b->bind_gen);
    assert_int_equal(a->flags, b->flags);
    assert_true(a->clock_tie == b->clock_tie);
}

static void test_constants(void **state)
{
    assert_int_equal(SEAL_HDR_LEN, 192);
    assert_int_equal(strlen(SEAL_MAGIC), 8);
    assert_int_equal(seal_rec_len(0), SEAL_HDR_LEN + SEAL_TAG_LEN);
    assert_int_equal(seal_rec_len(100), SEAL_HDR_LEN + 100 + SEAL_TAG_LEN);
    assert_true(seal_rec_len(SVTPM_STATE_PLAIN_MAX) <= SEAL_SLOT_SIZE);
    assert_true(seal_rec_len(SVTPM_STATE_PLAIN_MAX) <= SVTPM_SEALED_REC_MAX);
}

static void test_pack_layout(void **state)
{
    struct seal_hdr h = sample(0xcdef);
    uint8_t b[SEAL_HDR_LEN];
    memset(b, 0xee, sizeof b);
    seal_hdr_pack(&h, b);
    assert_memory_equal(b + OFF_MAGIC, SEAL_MAGIC, 8);
    assert_int_equal(get_be16(b + OFF_VERSION), SEAL_FORMAT_V2);
    assert_int_equal(get_be16(b + OFF_HDRLEN), SEAL_HDR_LEN);
    assert_int_equal(get_be32(b + OFF_KIND), SEAL_KIND_VOLATILE);
    assert_true(get_be64(b + OFF_SEQ) == 0x0102030405060708ULL);
    assert_memory_equal(b + OFF_VTPMID, h.vtpm_id, 16);
    assert_memory_equal(b + OFF_KEYID, h.key_id, 32);
    assert_int_equal(get_be16(b + OFF_POLICY), SEAL_POLICY_MRSIGNER);
    assert_int_equal(get_be16(b + OFF_SVN), 0x1122);
    assert_int_equal(get_be16(b + OFF_PRODID), 0x3344);
    assert_int_equal(get_be16(b + OFF_RSV1), 0);
    assert_memory_equal(b + OFF_CPUSVN, h.cpu_svn, 16);
    assert_memory_equal(b + OFF_SIGNER, h.signer, 32);
    assert_memory_equal(b + OFF_IV, h.iv, SEAL_IV_LEN);
    assert_int_equal(get_be32(b + OFF_PLEN), h.payload_len);
    assert_memory_equal(b + OFF_TENANT, h.tenant, 32);
    assert_int_equal(get_be32(b + OFF_BINDGEN), h.bind_gen);
    for (size_t i = OFF_RSV2; i < SEAL_HDR_LEN; i++)
        assert_int_equal(b[i], 0);
}

static void test_round_trip(void **state)
{
    const uint32_t lens[] = { 0, 1, 4096, SVTPM_STATE_PLAIN_MAX };
    const uint32_t kinds[] = { SEAL_KIND_PERMALL, SEAL_KIND_VOLATILE, SEAL_KIND_MIG_PERMALL,
                               SEAL_KIND_MIG_VOLATILE, SEAL_KIND_NRS };
    const uint16_t pols[] = { SEAL_POLICY_MRSIGNER, SEAL_POLICY_MRENCLAVE };
    uint8_t b[SEAL_HDR_LEN];
    for (size_t l = 0; l < 4; l++)
        for (size_t k = 0; k < 4; k++)
            for (size_t p = 0; p < 2; p++) {
                struct seal_hdr h = sample(lens[l]), g;
                h.kind = kinds[k];
                h.key_policy = pols[p];
                seal_hdr_pack(&h, b);
                memset(&g, 0xcc, sizeof g);
                assert_int_equal(seal_hdr_parse(b, seal_rec_len(lens[l]), &g), SVTPM_OK);
                assert_hdr_equal(&h, &g);
                /* more room than needed is fine */
                assert_int_equal(seal_hdr_parse(b, seal_rec_len(lens[l]) + 1000, &g), SVTPM_OK);
            }
}

static void test_reserved_bytes_nonzero(void **state)
{
    struct seal_hdr h = sample(10), g;
    uint8_t b[SEAL_HDR_LEN];
    size_t n = 0;
    for (size_t i = 0; i < SEAL_HDR_LEN; i++) {
        if (!((i >= OFF_RSV1 && i < OFF_RSV1 + 2) || i >= OFF_RSV2))
            continue;
        const uint8_t vals[] = { 0x01, 0x80, 0xff };
        for (size_t v = 0; v < 3; v++) {
            seal_hdr_pack(&h, b);
            b[i] = vals[v];
            assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
        }
        n++;
    }
    assert_int_equal(n, 2 + (SEAL_HDR_LEN - OFF_RSV2));
}

static void test_wrong_magic(void **state)
{
    struct seal_hdr h = sample(10), g;
    uint8_t b[SEAL_HDR_LEN];
    for (size_t i = 0; i < 8; i++) {
        seal_hdr_pack(&h, b);
        b[i] ^= 0x20;      /* e.g. case change */
        assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
    }
    memset(b, 0, sizeof b);
    assert_int_equal(seal_hdr_parse(b, sizeof b + 16, &g), SVTPM_E_FORMAT);
}

static void test_wrong_version_hdrlen(void **state)
{
    struct seal_hdr h = sample(10), g;
    uint8_t b[SEAL_HDR_LEN];
    const uint16_t versions[] = { 0, 1 /* pre-binding, never released */, 3, 0x100, 0xffff };
    for (size_t i = 0; i < 5; i++) {
        h.version = versions[i];
        seal_hdr_pack(&h, b);
        assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
    }
    h = sample(10);
    const uint16_t lens[] = { 0, SEAL_HDR_LEN - 1, SEAL_HDR_LEN + 1, 128, 0xffff };
    for (size_t i = 0; i < 5; i++) {
        seal_hdr_pack(&h, b);
        put_be16(b + OFF_HDRLEN, lens[i]);
        assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
    }
}

static void test_wrong_kind_policy(void **state)
{
    struct seal_hdr h = sample(10), g;
    uint8_t b[SEAL_HDR_LEN];
    const uint32_t kinds[] = { 0, 6, 0x100, 0xffffffffu };
    for (size_t i = 0; i < 4; i++) {
        h.kind = kinds[i];
        seal_hdr_pack(&h, b);
        assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
    }
    h = sample(10);
    const uint16_t pols[] = { 0, 3, 4, 0x8000, 0xffff };
    for (size_t i = 0; i < 5; i++) {
        h.key_policy = pols[i];
        seal_hdr_pack(&h, b);
        assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
    }
}

static void test_payload_too_big(void **state)
{
    struct seal_hdr g;
    uint8_t b[SEAL_HDR_LEN];
    const uint32_t lens[] = { SVTPM_STATE_PLAIN_MAX + 1, SEAL_PAYLOAD_MAX, SEAL_SLOT_SIZE,
                              0x7fffffffu, 0xffffffffu };
    for (size_t i = 0; i < 5; i++) {
        struct seal_hdr h = sample(lens[i]);
        seal_hdr_pack(&h, b);
        /* even with "room" claimed for it, it is over the named limit */
        assert_int_equal(seal_hdr_parse(b, SIZE_MAX, &g), SVTPM_E_TOOBIG);
    }
    struct seal_hdr h = sample(SVTPM_STATE_PLAIN_MAX);
    seal_hdr_pack(&h, b);
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(SVTPM_STATE_PLAIN_MAX), &g), SVTPM_OK);
}

static void test_avail_too_small(void **state)
{
    struct seal_hdr h = sample(100), g;
    uint8_t b[SEAL_HDR_LEN];
    seal_hdr_pack(&h, b);
    /* avail counts header + payload + tag */
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(100), &g), SVTPM_OK);
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(100) - 1, &g), SVTPM_E_TRUNCATED);
    assert_int_equal(seal_hdr_parse(b, SEAL_HDR_LEN + 100, &g), SVTPM_E_TRUNCATED);
    assert_int_equal(seal_hdr_parse(b, SEAL_HDR_LEN, &g), SVTPM_E_TRUNCATED);
    /* less than a header: truncated, whatever is there */
    for (size_t a = 0; a < SEAL_HDR_LEN; a += 13)
        assert_int_equal(seal_hdr_parse(b, a, &g), SVTPM_E_TRUNCATED);
    assert_int_equal(seal_hdr_parse(b, SEAL_HDR_LEN - 1, &g), SVTPM_E_TRUNCATED);
    /* zero-length payload still needs its tag */
    struct seal_hdr z = sample(0);
    seal_hdr_pack(&z, b);
    assert_int_equal(seal_hdr_parse(b, SEAL_HDR_LEN + SEAL_TAG_LEN, &g), SVTPM_OK);
    assert_int_equal(seal_hdr_parse(b, SEAL_HDR_LEN + SEAL_TAG_LEN - 1, &g), SVTPM_E_TRUNCATED);
}

static void test_pack_ignores_caller_garbage(void **state)
{
    /* pack always writes the fixed header length and zero reserved bytes,
     * whatever the output buffer held before */
    struct seal_hdr h = sample(7), g;
    uint8_t b[SEAL_HDR_LEN];
    memset(b, 0xff, sizeof b);
    seal_hdr_pack(&h, b);
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(7), &g), SVTPM_OK);
}

/* SEAL_F_CLOCK_TIE: bytes 184..191 carry the clock's tie, only in a
 * permanent-state migration blob; without the flag they stay zero, and pack
 * writes zeros whatever clock_tie holds. */
static void test_clock_tie(void **state)
{
    struct seal_hdr h = sample(10), g;
    uint8_t b[SEAL_HDR_LEN];
    h.kind = SEAL_KIND_MIG_PERMALL;
    h.flags = SEAL_F_NRS | SEAL_F_CLOCK_TIE;
    h.clock_tie = -1788000000123LL;
    seal_hdr_pack(&h, b);
    assert_true(get_be64(b + OFF_RSV2) == (uint64_t)h.clock_tie);
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_OK);
    assert_hdr_equal(&h, &g);
    /* any other kind with the flag: refused */
    const uint32_t others[] = { SEAL_KIND_PERMALL, SEAL_KIND_VOLATILE, SEAL_KIND_MIG_VOLATILE, SEAL_KIND_NRS };
    for (size_t k = 0; k < 4; k++) {
        h.kind = others[k];
        seal_hdr_pack(&h, b);
        assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
    }
    /* without the flag the field is not written, and bytes there are refused */
    h.kind = SEAL_KIND_MIG_PERMALL;
    h.flags = SEAL_F_NRS;
    seal_hdr_pack(&h, b);
    for (size_t i = OFF_RSV2; i < SEAL_HDR_LEN; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_OK);
    assert_true(g.clock_tie == 0);
    /* an unknown flag bit */
    put_be32(b + OFF_FLAGS, SEAL_F_NRS | 0x4u);
    assert_int_equal(seal_hdr_parse(b, seal_rec_len(10), &g), SVTPM_E_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reserved_bytes_nonzero),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_wrong_version_hdrlen),
        cmocka_unit_test(test_wrong_kind_policy),
        cmocka_unit_test(test_payload_too_big),
        cmocka_unit_test(test_avail_too_small),
        cmocka_unit_test(test_pack_ignores_caller_garbage),
        cmocka_unit_test(test_clock_tie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
