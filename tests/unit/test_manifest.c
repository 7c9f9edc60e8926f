/* src/common/manifest.h: binding manifest and restore authorisation
 * pack/parse (structure and ranges only; signatures are not checked here). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "manifest.h"

/* Field offsets, as documented in manifest.h. */
#define OFF_VERSION   8
#define OFF_FLAGS     10
#define OFF_VTPMID    12
#define OFF_PUB       28
#define OFF_GEN       60
#define OFF_CREATED   64
#define OFF_POLICY    72
#define OFF_NIMAGES   73
#define OFF_NENCLAVES 74
#define OFF_RSV       75
#define OFF_IMAGES    76
#define RA_OFF_FROM   60
#define RA_OFF_TO     68
#define RA_OFF_CREATED 76

static struct manifest sample(unsigned n_images, unsigned n_enclaves)
{
    struct manifest m = {
        .generation = 0x01020304,
        .created = 0x1122334455667788ULL,
        .policy = ROLLBACK_SNAPSHOT,
        .n_images = (uint8_t)n_images,
        .n_enclaves = (uint8_t)n_enclaves,
    };
    for (int i = 0; i < 16; i++)
        m.vtpm_id[i] = (uint8_t)(0x10 + i);
    for (int i = 0; i < 32; i++)
        m.tenant_pub[i] = (uint8_t)(0x40 + i);
    for (unsigned k = 0; k < MANIFEST_MAX_IMAGES; k++)
        memset(m.images[k], 0xa0 + (int)k, 32);
    for (unsigned k = 0; k < MANIFEST_MAX_ENCLAVES; k++) {
        struct manifest_enclave *e = &m.enclaves[k];
        e->kind = k % 2 ? MANIFEST_ENCLAVE_MRENCLAVE : MANIFEST_ENCLAVE_MRSIGNER;
        e->isv_prod_id = (uint16_t)(0x100 + k);
        e->min_isv_svn = (uint16_t)(0x200 + k);
        memset(e->value, 0xc0 + (int)k, 32);
    }
    for (unsigned i = 0; i < MANIFEST_SIG_LEN; i++)
        m.signature[i] = (uint8_t)(0xe0 ^ i);
    return m;
}

/* A whole document: the packed body, then the sample's signature bytes. */
static size_t make_doc(const struct manifest *m, uint8_t *buf, size_t cap)
{
    size_t body = manifest_pack_body(m, buf, cap - MANIFEST_SIG_LEN);
    assert_true(body > 0);
    memcpy(buf + body, m->signature, MANIFEST_SIG_LEN);
    return body + MANIFEST_SIG_LEN;
}

static void assert_manifest_equal(const struct manifest *a, const struct manifest *b)
{
    assert_memory_equal(a->vtpm_id, b->vtpm_id, 16);
    assert_memory_equal(a->tenant_pub, b->tenant_pub, 32);
    assert_int_equal(a->generation, b->generation);
    assert_true(a->created == b->created);
    assert_int_equal(a->policy, b->policy);
    assert_int_equal(a->n_images, b->n_images);
    assert_int_equal(a->n_enclaves, b->n_enclaves);
    for (unsigned i = 0; i < a->n_images; i++)
        assert_memory_equal(a->images[i], b->images[i], 32);
    for (unsigned i = 0; i < a->n_enclaves; i++) {
        assert_int_equal(a->enclaves[i].kind, b->enclaves[i].kind);
        assert_int_equal(a->enclaves[i].isv_prod_id, b->enclaves[i].isv_prod_id);
        assert_int_equal(a->enclaves[i].min_isv_svn, b->enclaves[i].min_isv_svn);
        assert_memory_equal(a->enclaves[i].value, b->enclaves[i].value, 32);
    }
    assert_memory_equal(a->signature, b->signature, MANIFEST_SIG_LEN);
}

static struct restore_auth ra_sample(void)
{
    struct restore_auth a = { .from_version = 9, .to_version = 5, .created = 0x0102030405060708ULL };
    for (int i = 0; i < 16; i++)
        a.vtpm_id[i] = (uint8_t)(0x20 + i);
    for (int i = 0; i < 32; i++)
        a.tenant_pub[i] = (uint8_t)(0x60 + i);
    for (int i = 0; i < 64; i++)
        a.signature[i] = (uint8_t)(0x90 ^ i);
    return a;
}

static void ra_doc(const struct restore_auth *a, uint8_t out[RESTORE_AUTH_LEN])
{
    assert_int_equal(restore_auth_pack_body(a, out, RESTORE_AUTH_LEN), RESTORE_AUTH_SIGNED_LEN);
    memcpy(out + RESTORE_AUTH_SIGNED_LEN, a->signature, 64);
}

static void test_constants(void **state)
{
    assert_int_equal(MANIFEST_FIXED_LEN, OFF_IMAGES);
    assert_int_equal(MANIFEST_ENCLAVE_LEN, 40);
    assert_int_equal(MANIFEST_MAX_LEN, 76 + 8 * 32 + 8 * 40 + 32 + 64);
    assert_int_equal(RESTORE_AUTH_LEN, 148);
    assert_int_equal(RESTORE_AUTH_SIGNED_LEN, 84);
    assert_int_equal(strlen(MANIFEST_MAGIC), 8);
    assert_int_equal(strlen(RESTORE_AUTH_MAGIC), 8);
    assert_string_equal(rollback_policy_name(ROLLBACK_STRICT), "strict");
    assert_string_equal(rollback_policy_name(ROLLBACK_SNAPSHOT), "snapshot");
    assert_string_equal(rollback_policy_name(0), "?");
}

static void test_pack_layout(void **state)
{
    struct manifest m = sample(2, 1);
    uint8_t b[MANIFEST_MAX_LEN];
    memset(b, 0xff, sizeof b);
    size_t body = manifest_pack_body(&m, b, sizeof b);
    assert_int_equal(body, MANIFEST_FIXED_LEN + 2 * 32 + MANIFEST_ENCLAVE_LEN);
    assert_memory_equal(b, MANIFEST_MAGIC, 8);
    assert_int_equal(get_be16(b + OFF_VERSION), MANIFEST_VERSION);
    assert_int_equal(get_be16(b + OFF_FLAGS), 0);
    assert_memory_equal(b + OFF_VTPMID, m.vtpm_id, 16);
    assert_memory_equal(b + OFF_PUB, m.tenant_pub, 32);
    assert_int_equal(get_be32(b + OFF_GEN), 0x01020304);
    assert_true(get_be64(b + OFF_CREATED) == 0x1122334455667788ULL);
    assert_int_equal(b[OFF_POLICY], ROLLBACK_SNAPSHOT);
    assert_int_equal(b[OFF_NIMAGES], 2);
    assert_int_equal(b[OFF_NENCLAVES], 1);
    assert_int_equal(b[OFF_RSV], 0);
    assert_memory_equal(b + OFF_IMAGES, m.images[0], 32);
    assert_memory_equal(b + OFF_IMAGES + 32, m.images[1], 32);
    const uint8_t *e = b + OFF_IMAGES + 64;
    assert_int_equal(e[0], MANIFEST_ENCLAVE_MRSIGNER);
    assert_int_equal(e[1], 0);
    assert_int_equal(get_be16(e + 2), 0x100);
    assert_int_equal(get_be16(e + 4), 0x200);
    assert_int_equal(get_be16(e + 6), 0);
    assert_memory_equal(e + 8, m.enclaves[0].value, 32);

    struct restore_auth a = ra_sample();
    uint8_t r[RESTORE_AUTH_LEN];
    assert_int_equal(restore_auth_pack_body(&a, r, sizeof r), RESTORE_AUTH_SIGNED_LEN);
    assert_memory_equal(r, RESTORE_AUTH_MAGIC, 8);
    assert_int_equal(get_be16(r + OFF_VERSION), MANIFEST_VERSION);
    assert_int_equal(get_be16(r + OFF_FLAGS), 0);
    assert_memory_equal(r + OFF_VTPMID, a.vtpm_id, 16);
    assert_memory_equal(r + OFF_PUB, a.tenant_pub, 32);
    assert_true(get_be64(r + RA_OFF_FROM) == 9);
    assert_true(get_be64(r + RA_OFF_TO) == 5);
    assert_true(get_be64(r + RA_OFF_CREATED) == 0x0102030405060708ULL);
}

static void test_round_trip(void **state)
{
    static const unsigned shapes[][2] = { { 0, 1 }, { 1, 1 }, { 2, 3 }, { 8, 1 }, { 0, 8 }, { 8, 8 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (uint8_t pol = ROLLBACK_STRICT; pol <= ROLLBACK_SNAPSHOT; pol++) {
            struct manifest m = sample(shapes[s][0], shapes[s][1]), g;
            m.policy = pol;
            uint8_t b[MANIFEST_MAX_LEN];
            size_t len = make_doc(&m, b, sizeof b), signed_len = 0;
            assert_int_equal(len, MANIFEST_FIXED_LEN + shapes[s][0] * 32 +
                                  shapes[s][1] * MANIFEST_ENCLAVE_LEN + MANIFEST_SIG_LEN);
            assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_OK);
            assert_int_equal(signed_len, len - MANIFEST_SIG_LEN);
            assert_manifest_equal(&m, &g);
            /* re-packing what was parsed gives the signed bytes back */
            uint8_t again[MANIFEST_MAX_LEN];
            assert_int_equal(manifest_pack_body(&g, again, sizeof again), signed_len);
            assert_memory_equal(again, b, signed_len);
        }
    }
    struct restore_auth a = ra_sample(), g;
    uint8_t r[RESTORE_AUTH_LEN];
    ra_doc(&a, r);
    assert_int_equal(restore_auth_parse(r, sizeof r, &g), SVTPM_OK);
    assert_memory_equal(g.vtpm_id, a.vtpm_id, 16);
    assert_memory_equal(g.tenant_pub, a.tenant_pub, 32);
    assert_true(g.from_version == 9 && g.to_version == 5 && g.created == a.created);
    assert_memory_equal(g.signature, a.signature, 64);
}

static void test_every_truncation_refused(void **state)
{
    struct manifest m = sample(3, 2), g;
    uint8_t b[MANIFEST_MAX_LEN];
    size_t len = make_doc(&m, b, sizeof b), signed_len = 12345;
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(manifest_parse(b, cut, &g, &signed_len), SVTPM_E_TRUNCATED);
        assert_int_equal(signed_len, 12345);   /* untouched on failure */
    }
    struct restore_auth a = ra_sample(), ga;
    uint8_t r[RESTORE_AUTH_LEN];
    ra_doc(&a, r);
    for (size_t cut = 0; cut < RESTORE_AUTH_LEN; cut++)
        assert_int_equal(restore_auth_parse(r, cut, &ga), SVTPM_E_TRUNCATED);
}

static void test_trailing_bytes_refused(void **state)
{
    struct manifest m = sample(1, 1), g;
    uint8_t b[MANIFEST_MAX_LEN + 1];
    size_t len = make_doc(&m, b, MANIFEST_MAX_LEN), signed_len;
    b[len] = 0;
    assert_int_equal(manifest_parse(b, len + 1, &g, &signed_len), SVTPM_E_FORMAT);
    /* a full-size manifest plus one byte is over the limit */
    struct manifest big = sample(8, 8);
    big.flags = MANIFEST_F_TIME_AUTHORITY;
    len = make_doc(&big, b, MANIFEST_MAX_LEN);
    assert_int_equal(len, MANIFEST_MAX_LEN);
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_OK);
    assert_int_equal(manifest_parse(b, len + 1, &g, &signed_len), SVTPM_E_TOOBIG);

    struct restore_auth a = ra_sample(), ga;
    uint8_t r[RESTORE_AUTH_LEN + 1];
    ra_doc(&a, r);
    r[RESTORE_AUTH_LEN] = 0;
    assert_int_equal(restore_auth_parse(r, sizeof r, &ga), SVTPM_E_TOOBIG);
}

/* Sets one byte of a valid manifest and expects a format error. */
static void expect_byte_refused(size_t off, uint8_t val)
{
    struct manifest m = sample(2, 3), g;
    uint8_t b[MANIFEST_MAX_LEN];
    size_t len = make_doc(&m, b, sizeof b), signed_len;
    assert_true(off < len);
    b[off] = val;
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
}

static void test_bad_header_fields(void **state)
{
    expect_byte_refused(0, 'X');                    /* magic */
    expect_byte_refused(7, '2');
    expect_byte_refused(OFF_VERSION + 1, 2);        /* version 2 */
    expect_byte_refused(OFF_VERSION, 1);            /* version 0x101 */
    expect_byte_refused(OFF_FLAGS, 0x80);
    expect_byte_refused(OFF_FLAGS + 1, 8);          /* flag bits beyond MANIFEST_F_KNOWN */
    expect_byte_refused(OFF_FLAGS + 1, 4);          /* a resume budget without a time authority */
    expect_byte_refused(OFF_RSV, 1);
    expect_byte_refused(OFF_POLICY, 0);
    expect_byte_refused(OFF_POLICY, 3);
    expect_byte_refused(OFF_POLICY, 0xff);
    /* the restore authorisation's magic is not a manifest's */
    struct manifest m = sample(0, 1), g;
    uint8_t b[MANIFEST_MAX_LEN];
    size_t len = make_doc(&m, b, sizeof b), signed_len;
    memcpy(b, RESTORE_AUTH_MAGIC, 8);
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
}

static void test_bad_enclave_fields(void **state)
{
    size_t e1 = OFF_IMAGES + 2 * 32 + MANIFEST_ENCLAVE_LEN;   /* second entry */
    expect_byte_refused(e1, 0);                      /* kind 0 */
    expect_byte_refused(e1, 3);                      /* kind 3 */
    expect_byte_refused(e1 + 1, 1);                  /* reserved after kind */
    expect_byte_refused(e1 + 6, 1);                  /* reserved u16 */
    expect_byte_refused(e1 + 7, 0x80);
}

static void test_generation_zero(void **state)
{
    struct manifest m = sample(1, 1), g;
    uint8_t b[MANIFEST_MAX_LEN];
    size_t len = make_doc(&m, b, sizeof b), signed_len;
    put_be32(b + OFF_GEN, 0);
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
    m.generation = 0;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);
    m.generation = UINT32_MAX;
    assert_true(manifest_pack_body(&m, b, sizeof b) > 0);
}

static void test_counts_out_of_range(void **state)
{
    struct manifest m = sample(1, 1), g;
    uint8_t b[MANIFEST_MAX_LEN + 64];
    size_t len, signed_len;

    /* no enclave entry: the entry's bytes removed, count 0 */
    len = make_doc(&m, b, MANIFEST_MAX_LEN);
    b[OFF_NENCLAVES] = 0;
    memmove(b + len - MANIFEST_SIG_LEN - MANIFEST_ENCLAVE_LEN, b + len - MANIFEST_SIG_LEN, MANIFEST_SIG_LEN);
    len -= MANIFEST_ENCLAVE_LEN;
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
    m.n_enclaves = 0;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);

    /* nine images, with room for all nine in the buffer */
    m = sample(8, 1);
    len = make_doc(&m, b, MANIFEST_MAX_LEN);
    memmove(b + OFF_IMAGES + 32, b + OFF_IMAGES, len - OFF_IMAGES);
    len += 32;
    b[OFF_NIMAGES] = 9;
    assert_true(len <= MANIFEST_MAX_LEN);
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
    m.n_images = 9;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);

    /* nine enclave entries */
    m = sample(0, 8);
    len = make_doc(&m, b, MANIFEST_MAX_LEN);
    b[OFF_NENCLAVES] = 9;
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
    m.n_enclaves = 9;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);
}

static void test_pack_checks_ranges_and_cap(void **state)
{
    struct manifest m = sample(2, 2);
    uint8_t b[MANIFEST_MAX_LEN];
    size_t need = manifest_pack_body(&m, b, sizeof b);
    assert_true(need > 0);
    assert_int_equal(manifest_pack_body(&m, b, need), need);
    assert_int_equal(manifest_pack_body(&m, b, need - 1), 0);
    m.policy = 3;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);
    m = sample(2, 2);
    m.enclaves[1].kind = 7;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);

    struct restore_auth a = ra_sample();
    uint8_t r[RESTORE_AUTH_LEN];
    assert_int_equal(restore_auth_pack_body(&a, r, RESTORE_AUTH_SIGNED_LEN - 1), 0);
}

static void test_restore_auth_refused(void **state)
{
    struct restore_auth a = ra_sample(), g;
    uint8_t r[RESTORE_AUTH_LEN];
    static const uint64_t bad[][2] = { { 5, 5 }, { 5, 9 }, { 9, 0 }, { 0, 0 }, { 1, 0 }, { UINT64_MAX, UINT64_MAX } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* the packer refuses to make it; a hand-made one is refused by the parser */
        struct restore_auth b = a;
        b.from_version = bad[i][0];
        b.to_version = bad[i][1];
        assert_int_equal(restore_auth_pack_body(&b, r, sizeof r), 0);
        ra_doc(&a, r);
        put_be64(r + 60, bad[i][0]);
        put_be64(r + 68, bad[i][1]);
        assert_int_equal(restore_auth_parse(r, sizeof r, &g), SVTPM_E_FORMAT);
    }
    a.from_version = UINT64_MAX;
    a.to_version = UINT64_MAX - 1;
    ra_doc(&a, r);
    assert_int_equal(restore_auth_parse(r, sizeof r, &g), SVTPM_OK);
    a.from_version = 2;
    a.to_version = 1;
    ra_doc(&a, r);
    assert_int_equal(restore_auth_parse(r, sizeof r, &g), SVTPM_OK);

    static const struct { size_t off; uint8_t val; } fields[] = {
        { 0, 'x' }, { 7, '2' }, { OFF_VERSION + 1, 2 }, { OFF_VERSION, 1 }, { OFF_FLAGS, 1 }, { OFF_FLAGS + 1, 1 },
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        ra_doc(&a, r);
        r[fields[i].off] = fields[i].val;
        assert_int_equal(restore_auth_parse(r, sizeof r, &g), SVTPM_E_FORMAT);
    }
    /* a manifest's magic is not a restore authorisation's */
    ra_doc(&a, r);
    memcpy(r, MANIFEST_MAGIC, 8);
    assert_int_equal(restore_auth_parse(r, sizeof r, &g), SVTPM_E_FORMAT);
}

/* MANIFEST_F_CHARGE_RESUME survives a pack and parse; unknown bits are
 * never packed; MANIFEST_F_RESUME_BUDGET only with a time authority and
 * without CHARGE_RESUME. */
static void test_flags(void **state)
{
    (void)state;
    struct manifest m = sample(1, 1), g;
    uint8_t b[MANIFEST_MAX_LEN];
    size_t signed_len;
    m.flags = MANIFEST_F_CHARGE_RESUME;
    size_t len = make_doc(&m, b, sizeof b);
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_OK);
    assert_int_equal(g.flags, MANIFEST_F_CHARGE_RESUME);
    m.flags = 0x8000;
    assert_int_equal(manifest_pack_body(&m, b, sizeof b), 0);
    /* the time authority's key sits before the signature, only with its flag */
    m.flags = MANIFEST_F_TIME_AUTHORITY;
    memset(m.time_authority, 0xA7, 32);
    size_t with = make_doc(&m, b, sizeof b);
    assert_int_equal(manifest_parse(b, with, &g, &signed_len), SVTPM_OK);
    assert_memory_equal(g.time_authority, m.time_authority, 32);
    assert_int_equal(signed_len, with - MANIFEST_SIG_LEN);
    assert_int_equal(b[signed_len - 1], 0xA7);
    /* the flag set on a manifest without the key: the parse runs short */
    m.flags = 0;
    size_t without = make_doc(&m, b, sizeof b);
    assert_int_equal(without, with - 32);
    b[OFF_FLAGS + 1] = MANIFEST_F_TIME_AUTHORITY;
    assert_int_not_equal(manifest_parse(b, without, &g, &signed_len), SVTPM_OK);
    /* a resume budget needs the authority's clock, and excludes charging every resume */
    m.flags = MANIFEST_F_TIME_AUTHORITY | MANIFEST_F_RESUME_BUDGET;
    len = make_doc(&m, b, sizeof b);
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_OK);
    assert_int_equal(g.flags, MANIFEST_F_TIME_AUTHORITY | MANIFEST_F_RESUME_BUDGET);
    b[OFF_FLAGS + 1] |= MANIFEST_F_CHARGE_RESUME;
    assert_int_equal(manifest_parse(b, len, &g, &signed_len), SVTPM_E_FORMAT);
    /* (a budget without the authority: test_bad_header_fields) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_trailing_bytes_refused),
        cmocka_unit_test(test_bad_header_fields),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_enclave_fields),
        cmocka_unit_test(test_generation_zero),
        cmocka_unit_test(test_counts_out_of_range),
        cmocka_unit_test(test_pack_checks_ranges_and_cap),
        cmocka_unit_test(test_restore_auth_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
