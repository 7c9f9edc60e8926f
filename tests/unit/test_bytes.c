/* src/common/bytes.h: bounds-checked big-endian reader/writer, ct_equal,
 * secure_wipe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"

static void test_rd_reads_in_bounds(void **state)
{
    const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                          0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11 };
    struct rd r = rd_init(b, sizeof b);
    assert_int_equal(rd_u8(&r), 0x01);
    assert_int_equal(rd_be16(&r), 0x0203);
    assert_int_equal(rd_be32(&r), 0x04050607u);
    assert_true(rd_be64(&r) == 0x08090a0b0c0d0e0fULL);
    assert_true(rd_ok(&r));
    assert_int_equal(rd_left(&r), 2);
    const uint8_t *p = rd_ptr(&r, 2);
    assert_ptr_equal(p, b + 15);
    assert_int_equal(rd_left(&r), 0);
    assert_true(rd_ok(&r));
    /* zero-length reads at the end are fine */
    assert_non_null(rd_ptr(&r, 0));
    assert_true(rd_ok(&r));
}

static void test_rd_past_end_sets_error_sticky(void **state)
{
    const uint8_t b[] = { 0xaa, 0xbb, 0xcc };
    struct rd r = rd_init(b, sizeof b);
    assert_int_equal(rd_be16(&r), 0xaabb);
    /* needs 4, has 1 */
    assert_int_equal(rd_be32(&r), 0);
    assert_false(rd_ok(&r));
    assert_int_equal(rd_left(&r), 0);
    /* sticky: even a read that would fit now fails */
    assert_int_equal(rd_u8(&r), 0);
    assert_null(rd_ptr(&r, 0));
    assert_null(rd_ptr(&r, 1));
    assert_false(rd_ok(&r));
}

static void test_rd_each_width_past_end(void **state)
{
    const uint8_t b[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    for (size_t len = 0; len < 8; len++) {
        struct rd r = rd_init(b, len);
        if (len < 1) {
            assert_int_equal(rd_u8(&r), 0);
            assert_false(rd_ok(&r));
        }
        r = rd_init(b, len);
        if (len < 2) {
            assert_int_equal(rd_be16(&r), 0);
            assert_false(rd_ok(&r));
        }
        r = rd_init(b, len);
        if (len < 4) {
            assert_int_equal(rd_be32(&r), 0);
            assert_false(rd_ok(&r));
        }
        r = rd_init(b, len);
        assert_true(rd_be64(&r) == 0);
        assert_false(rd_ok(&r));
        /* the offset did not move on failure */
        assert_int_equal(r.off, 0);
    }
}

static void test_rd_ptr_huge_no_overflow(void **state)
{
    const uint8_t b[16] = { 0 };
    struct rd r = rd_init(b, sizeof b);
    rd_u8(&r);
    /* n so large that off + n wraps */
    assert_null(rd_ptr(&r, SIZE_MAX));
    assert_false(rd_ok(&r));
    r = rd_init(b, sizeof b);
    rd_ptr(&r, 8);
    assert_null(rd_ptr(&r, (size_t)-8));
    assert_false(rd_ok(&r));
}

static void test_rd_bytes_zeroes_on_failure(void **state)
{
    const uint8_t b[] = { 1, 2, 3 };
    uint8_t dst[8];
    memset(dst, 0x77, sizeof dst);
    struct rd r = rd_init(b, sizeof b);
    rd_bytes(&r, dst, 4);
    assert_false(rd_ok(&r));
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(dst[i], 0);
    assert_int_equal(dst[4], 0x77);   /* only n bytes are touched */

    r = rd_init(b, sizeof b);
    memset(dst, 0, sizeof dst);
    rd_bytes(&r, dst, 3);
    assert_true(rd_ok(&r));
    assert_memory_equal(dst, b, 3);
}

static void test_wr_in_bounds(void **state)
{
    uint8_t buf[17];
    memset(buf, 0xee, sizeof buf);
    struct wr w = wr_init(buf, sizeof buf);
    wr_u8(&w, 0x01);
    wr_be16(&w, 0x0203);
    wr_be32(&w, 0x04050607u);
    wr_be64(&w, 0x08090a0b0c0d0e0fULL);
    wr_zero(&w, 1);
    wr_bytes(&w, "\x42", 1);
    assert_true(wr_ok(&w));
    assert_int_equal(w.off, 17);
    const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0x42 };
    assert_memory_equal(buf, want, sizeof want);
}

static void test_wr_past_cap(void **state)
{
    uint8_t buf[8];
    memset(buf, 0xee, sizeof buf);
    /* cap 5 inside an 8-byte buffer: bytes 5..7 must never be written */
    struct wr w = wr_init(buf, 5);
    wr_be32(&w, 0x11223344u);
    assert_true(wr_ok(&w));
    wr_be16(&w, 0x5566);      /* needs 2, has 1 */
    assert_false(wr_ok(&w));
    assert_int_equal(w.off, 4);
    wr_u8(&w, 0x77);          /* sticky: would fit, still refused */
    assert_false(wr_ok(&w));
    assert_int_equal(w.off, 4);
    assert_int_equal(buf[4], 0xee);
    assert_int_equal(buf[5], 0xee);
    assert_int_equal(buf[6], 0xee);
    assert_int_equal(buf[7], 0xee);

    const uint8_t widths[] = { 1, 2, 4, 8 };
    for (size_t k = 0; k < 4; k++) {
        memset(buf, 0xee, sizeof buf);
        struct wr v = wr_init(buf, widths[k] - 1);
        switch (widths[k]) {
        case 1: wr_u8(&v, 0xff); break;
        case 2: wr_be16(&v, 0xffff); break;
        case 4: wr_be32(&v, 0xffffffffu); break;
        case 8: wr_be64(&v, ~0ULL); break;
        }
        assert_false(wr_ok(&v));
        for (size_t i = 0; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0xee);
    }
    struct wr z = wr_init(buf, 3);
    wr_zero(&z, 4);
    assert_false(wr_ok(&z));
    assert_int_equal(buf[0], 0xee);
    struct wr b = wr_init(buf, 3);
    wr_bytes(&b, "abcd", 4);
    assert_false(wr_ok(&b));
    assert_int_equal(buf[0], 0xee);
    struct wr h = wr_init(buf, 3);
    wr_u8(&h, 1);
    wr_zero(&h, SIZE_MAX);   /* would wrap */
    assert_false(wr_ok(&h));
}

static void test_be_round_trips(void **state)
{
    uint8_t b[8];
    const uint16_t v16[] = { 0, 1, 0x00ff, 0xff00, 0x1234, 0xffff };
    for (size_t i = 0; i < sizeof v16 / sizeof v16[0]; i++) {
        put_be16(b, v16[i]);
        assert_int_equal(get_be16(b), v16[i]);
        assert_int_equal(b[0], v16[i] >> 8);
    }
    const uint32_t v32[] = { 0, 1, 0x80000000u, 0x12345678u, 0xffffffffu, 0x00ff00ffu };
    for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++) {
        put_be32(b, v32[i]);
        assert_int_equal(get_be32(b), v32[i]);
        assert_int_equal(b[0], v32[i] >> 24);
        assert_int_equal(b[3], v32[i] & 0xff);
    }
    const uint64_t v64[] = { 0, 1, 0x8000000000000000ULL, 0x0123456789abcdefULL,
                             0xffffffffffffffffULL, 0x00000000ffffffffULL, 0xffffffff00000000ULL };
    for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++) {
        put_be64(b, v64[i]);
        assert_true(get_be64(b) == v64[i]);
        assert_int_equal(b[0], (uint8_t)(v64[i] >> 56));
        assert_int_equal(b[7], (uint8_t)v64[i]);
    }
    put_be32(b, 0xdeadbeefu);
    const uint8_t want[] = { 0xde, 0xad, 0xbe, 0xef };
    assert_memory_equal(b, want, 4);

    /* writer then reader over the same bytes */
    uint8_t buf[64];
    uint64_t x = 0x0102030405060708ULL;
    for (int round = 0; round < 100; round++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        struct wr w = wr_init(buf, sizeof buf);
        wr_u8(&w, (uint8_t)x);
        wr_be16(&w, (uint16_t)(x >> 8));
        wr_be32(&w, (uint32_t)(x >> 16));
        wr_be64(&w, x);
        assert_true(wr_ok(&w));
        struct rd r = rd_init(buf, w.off);
        assert_int_equal(rd_u8(&r), (uint8_t)x);
        assert_int_equal(rd_be16(&r), (uint16_t)(x >> 8));
        assert_int_equal(rd_be32(&r), (uint32_t)(x >> 16));
        assert_true(rd_be64(&r) == x);
        assert_true(rd_ok(&r));
        assert_int_equal(rd_left(&r), 0);
    }
}

static void test_ct_equal(void **state)
{
    uint8_t a[64], b[64];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)(i * 7 + 3);
    assert_true(ct_equal(a, b, sizeof a));
    assert_true(ct_equal(a, b, 0));
    for (size_t i = 0; i < sizeof a; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(ct_equal(a, b, sizeof a));
            /* a prefix that excludes the difference still compares equal */
            assert_true(ct_equal(a, b, i));
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(ct_equal(a, b, sizeof a));
}

static void test_secure_wipe(void **state)
{
    uint8_t buf[100];
    memset(buf, 0xa5, sizeof buf);
    secure_wipe(buf + 10, 50);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], (i >= 10 && i < 60) ? 0 : 0xa5);
    secure_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    /* NULL and 0 are no-ops, not crashes */
    secure_wipe(NULL, 10);
    memset(buf, 0x5a, sizeof buf);
    secure_wipe(buf, 0);
    assert_int_equal(buf[0], 0x5a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rd_reads_in_bounds),
        cmocka_unit_test(test_rd_past_end_sets_error_sticky),
        cmocka_unit_test(test_rd_each_width_past_end),
        cmocka_unit_test(test_rd_ptr_huge_no_overflow),
        cmocka_unit_test(test_rd_bytes_zeroes_on_failure),
        cmocka_unit_test(test_wr_in_bounds),
        cmocka_unit_test(test_wr_past_cap),
        cmocka_unit_test(test_be_round_trips),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_secure_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
