/* src/common/timetoken.h: the time token ("SVTPMTT1") pack/parse (structure
 * only; the signature is not checked here). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "manifest.h"
#include "timetoken.h"

/* Field offsets, as documented in timetoken.h. */
#define OFF_VERSION   8
#define OFF_FLAGS     10
#define OFF_NONCE     12
#define OFF_TIME      44
#define OFF_ACCURACY  52
#define OFF_RESERVED  56
#define OFF_AUTHORITY 60
#define OFF_SIGNATURE 92

static struct timetoken sample(void)
{
    struct timetoken t = { .time_ms = 0x0102030405060708ULL, .accuracy_ms = 0x11223344u };
    for (int i = 0; i < 32; i++) {
        t.nonce[i] = (uint8_t)(0x20 + i);
        t.authority_id[i] = (uint8_t)(0x80 + i);
    }
    for (int i = 0; i < 64; i++)
        t.signature[i] = (uint8_t)(0xc0 ^ i);
    return t;
}

/* A whole token: the packed body, then t's signature bytes. */
static void make_token(const struct timetoken *t, uint8_t out[TIMETOKEN_LEN])
{
    assert_int_equal(timetoken_pack_body(t, out, TIMETOKEN_LEN), TIMETOKEN_SIGNED_LEN);
    memcpy(out + TIMETOKEN_SIGNED_LEN, t->signature, 64);
}

static void assert_token_equal(const struct timetoken *a, const struct timetoken *b)
{
    assert_memory_equal(a->nonce, b->nonce, 32);
    assert_true(a->time_ms == b->time_ms);
    assert_int_equal(a->accuracy_ms, b->accuracy_ms);
    assert_memory_equal(a->authority_id, b->authority_id, 32);
    assert_memory_equal(a->signature, b->signature, 64);
}

static void assert_all_zero(const struct timetoken *t)
{
    static const struct timetoken zero;
    assert_memory_equal(t, &zero, sizeof zero);
}

/* Parses b (len bytes) into a struct full of junk and expects err; on any
 * failure the struct must come back all zero. */
static void expect_parse(const uint8_t *b, size_t len, svtpm_err err)
{
    struct timetoken g;
    memset(&g, 0xa5, sizeof g);
    assert_int_equal(timetoken_parse(b, len, &g), err);
    if (err != SVTPM_OK)
        assert_all_zero(&g);
}

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(TIMETOKEN_LEN, 156);
    assert_int_equal(TIMETOKEN_SIGNED_LEN, 92);
    assert_int_equal(TIMETOKEN_SIG_LEN, 64);
    assert_int_equal(OFF_SIGNATURE, TIMETOKEN_SIGNED_LEN);
    assert_int_equal(strlen(TIMETOKEN_MAGIC), 8);
    assert_int_equal(TIMETOKEN_VERSION, 1);
}

static void test_pack_layout(void **state)
{
    (void)state;
    struct timetoken t = sample();
    uint8_t b[TIMETOKEN_LEN + 8];
    memset(b, 0xee, sizeof b);
    assert_int_equal(timetoken_pack_body(&t, b, sizeof b), TIMETOKEN_SIGNED_LEN);
    assert_memory_equal(b, "SVTPMTT1", 8);
    assert_int_equal(get_be16(b + OFF_VERSION), 1);
    assert_int_equal(get_be16(b + OFF_FLAGS), 0);
    assert_memory_equal(b + OFF_NONCE, t.nonce, 32);
    assert_true(get_be64(b + OFF_TIME) == 0x0102030405060708ULL);
    assert_int_equal(b[OFF_TIME], 0x01);                 /* big-endian */
    assert_int_equal(get_be32(b + OFF_ACCURACY), 0x11223344u);
    assert_int_equal(b[OFF_ACCURACY], 0x11);
    assert_int_equal(get_be32(b + OFF_RESERVED), 0);
    assert_memory_equal(b + OFF_AUTHORITY, t.authority_id, 32);
    /* nothing written past the signed part */
    for (size_t i = TIMETOKEN_SIGNED_LEN; i < sizeof b; i++)
        assert_int_equal(b[i], 0xee);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const uint64_t times[] = { 1, 1700000000000ULL, 0x0102030405060708ULL, UINT64_MAX >> 1,
                                      1ULL << 63, UINT64_MAX };
    static const uint32_t accs[] = { 0, 1, 1000, UINT32_MAX };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        for (size_t k = 0; k < sizeof accs / sizeof accs[0]; k++) {
            struct timetoken t = sample(), g;
            t.time_ms = times[i];
            t.accuracy_ms = accs[k];
            uint8_t b[TIMETOKEN_LEN];
            make_token(&t, b);
            assert_int_equal(timetoken_parse(b, sizeof b, &g), SVTPM_OK);
            assert_token_equal(&t, &g);
            /* re-packing what was parsed gives the signed bytes back */
            uint8_t again[TIMETOKEN_LEN];
            assert_int_equal(timetoken_pack_body(&g, again, sizeof again), TIMETOKEN_SIGNED_LEN);
            assert_memory_equal(again, b, TIMETOKEN_SIGNED_LEN);
            assert_memory_equal(g.signature, b + TIMETOKEN_SIGNED_LEN, 64);
        }
    }
    /* nonce, authority id and signature are opaque: any bytes parse */
    static const uint8_t fills[] = { 0x00, 0xff };
    for (size_t i = 0; i < 2; i++) {
        struct timetoken t = sample(), g;
        memset(t.nonce, fills[i], 32);
        memset(t.authority_id, fills[i], 32);
        memset(t.signature, fills[i], 64);
        uint8_t b[TIMETOKEN_LEN];
        make_token(&t, b);
        assert_int_equal(timetoken_parse(b, sizeof b, &g), SVTPM_OK);
        assert_token_equal(&t, &g);
    }
}

static void test_pack_refusals(void **state)
{
    (void)state;
    struct timetoken t = sample();
    uint8_t b[TIMETOKEN_LEN];
    /* the cap: exactly the signed part is enough, one byte less is not */
    assert_int_equal(timetoken_pack_body(&t, b, TIMETOKEN_SIGNED_LEN), TIMETOKEN_SIGNED_LEN);
    for (size_t cap = 0; cap < TIMETOKEN_SIGNED_LEN; cap++) {
        memset(b, 0xee, sizeof b);
        assert_int_equal(timetoken_pack_body(&t, b, cap), 0);
        for (size_t i = 0; i < sizeof b; i++)
            assert_int_equal(b[i], 0xee);   /* nothing written */
    }
    /* time 0 is never made */
    t.time_ms = 0;
    memset(b, 0xee, sizeof b);
    assert_int_equal(timetoken_pack_body(&t, b, sizeof b), 0);
    assert_int_equal(b[0], 0xee);
}

static void test_every_truncation_refused(void **state)
{
    (void)state;
    struct timetoken t = sample();
    uint8_t b[TIMETOKEN_LEN];
    make_token(&t, b);
    for (size_t cut = 0; cut < TIMETOKEN_LEN; cut++)
        expect_parse(b, cut, SVTPM_E_TRUNCATED);
    /* the tail of a token alone (every suffix) is refused too */
    for (size_t skip = 1; skip < TIMETOKEN_LEN; skip++)
        expect_parse(b + skip, TIMETOKEN_LEN - skip, SVTPM_E_TRUNCATED);
    expect_parse(NULL, 0, SVTPM_E_TRUNCATED);
    expect_parse(b, TIMETOKEN_LEN, SVTPM_OK);
}

static void test_extra_bytes_refused(void **state)
{
    (void)state;
    struct timetoken t = sample();
    uint8_t b[2 * TIMETOKEN_LEN];
    memset(b, 0, sizeof b);
    make_token(&t, b);
    expect_parse(b, TIMETOKEN_LEN + 1, SVTPM_E_TOOBIG);
    expect_parse(b, TIMETOKEN_LEN + 64, SVTPM_E_TOOBIG);
    expect_parse(b, sizeof b, SVTPM_E_TOOBIG);
    /* two tokens back to back are not one */
    make_token(&t, b + TIMETOKEN_LEN);
    expect_parse(b, sizeof b, SVTPM_E_TOOBIG);
}

/* Sets one byte of a valid token and expects a format error. */
static void expect_byte_refused(size_t off, uint8_t val)
{
    struct timetoken t = sample();
    uint8_t b[TIMETOKEN_LEN];
    make_token(&t, b);
    assert_true(b[off] != val);
    b[off] = val;
    expect_parse(b, sizeof b, SVTPM_E_FORMAT);
}

static void test_magic(void **state)
{
    (void)state;
    for (size_t i = 0; i < 8; i++) {
        expect_byte_refused(i, (uint8_t)(TIMETOKEN_MAGIC[i] ^ 0x01));
        expect_byte_refused(i, (uint8_t)(TIMETOKEN_MAGIC[i] ^ 0x80));
        expect_byte_refused(i, 0);
    }
    expect_byte_refused(7, '2');                        /* "SVTPMTT2" */
    /* the other signed documents' magics are not a time token's */
    static const char *const others[] = { MANIFEST_MAGIC, RESTORE_AUTH_MAGIC, "SVTPMSIG", "SVTPMSL1" };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        struct timetoken t = sample();
        uint8_t b[TIMETOKEN_LEN];
        make_token(&t, b);
        memcpy(b, others[i], 8);
        expect_parse(b, sizeof b, SVTPM_E_FORMAT);
    }
}

static void test_version(void **state)
{
    (void)state;
    static const uint16_t bad[] = { 0, 2, 3, 0x0100, 0x0101, 0x8001, 0xffff };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct timetoken t = sample();
        uint8_t b[TIMETOKEN_LEN];
        make_token(&t, b);
        put_be16(b + OFF_VERSION, bad[i]);
        expect_parse(b, sizeof b, SVTPM_E_FORMAT);
    }
}

/* Every single bit of flags and of the reserved field is refused. */
static void test_flags_and_reserved_bits(void **state)
{
    (void)state;
    for (unsigned bit = 0; bit < 16; bit++) {
        struct timetoken t = sample();
        uint8_t b[TIMETOKEN_LEN];
        make_token(&t, b);
        put_be16(b + OFF_FLAGS, (uint16_t)(1u << bit));
        expect_parse(b, sizeof b, SVTPM_E_FORMAT);
    }
    for (unsigned bit = 0; bit < 32; bit++) {
        struct timetoken t = sample();
        uint8_t b[TIMETOKEN_LEN];
        make_token(&t, b);
        put_be32(b + OFF_RESERVED, 1u << bit);
        expect_parse(b, sizeof b, SVTPM_E_FORMAT);
    }
    expect_byte_refused(OFF_FLAGS, 0xff);
    expect_byte_refused(OFF_RESERVED + 3, 0xff);
}

static void test_time_zero(void **state)
{
    (void)state;
    struct timetoken t = sample();
    uint8_t b[TIMETOKEN_LEN];
    make_token(&t, b);
    put_be64(b + OFF_TIME, 0);
    expect_parse(b, sizeof b, SVTPM_E_FORMAT);
    /* any one bit set is a time */
    for (unsigned bit = 0; bit < 64; bit++) {
        struct timetoken g;
        put_be64(b + OFF_TIME, 1ULL << bit);
        assert_int_equal(timetoken_parse(b, sizeof b, &g), SVTPM_OK);
        assert_true(g.time_ms == 1ULL << bit);
    }
}

/* The fields the parser does not judge: a change there parses, and shows up
 * in the parsed token (the signature check is what catches it). */
static void test_unchecked_fields_parse(void **state)
{
    (void)state;
    static const size_t offs[] = { OFF_NONCE, OFF_NONCE + 31, OFF_TIME + 7, OFF_ACCURACY, OFF_ACCURACY + 3,
                                   OFF_AUTHORITY, OFF_AUTHORITY + 31, OFF_SIGNATURE, TIMETOKEN_LEN - 1 };
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        struct timetoken t = sample(), g;
        uint8_t b[TIMETOKEN_LEN];
        make_token(&t, b);
        b[offs[i]] ^= 0x01;
        assert_int_equal(timetoken_parse(b, sizeof b, &g), SVTPM_OK);
        uint8_t again[TIMETOKEN_SIGNED_LEN];
        assert_int_equal(timetoken_pack_body(&g, again, sizeof again), TIMETOKEN_SIGNED_LEN);
        assert_memory_equal(again, b, TIMETOKEN_SIGNED_LEN);
        assert_memory_equal(g.signature, b + TIMETOKEN_SIGNED_LEN, 64);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pack_refusals),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_extra_bytes_refused),
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_flags_and_reserved_bits),
        cmocka_unit_test(test_time_zero),
        cmocka_unit_test(test_unchecked_fields_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
