/* src/enclave/seal.h: seal_record / seal_open against a test platform. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "crypto.h"
#include "seal.h"
#include "sealfmt.h"
#include "testplat.h"

#define PLEN 3000u

struct fx {
    struct tee_platform plat;
    uint8_t plain[PLEN];
    uint8_t *rec;          /* seal_rec_len(PLEN) */
    size_t rec_len;
    uint8_t *out;          /* SEAL_PAYLOAD_MAX */
    struct seal_hdr h;
};

static struct seal_hdr base_hdr(uint32_t kind, uint64_t seq)
{
    struct seal_hdr h = { .kind = kind, .seq = seq };
    for (int i = 0; i < 16; i++)
        h.vtpm_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 32; i++)
        h.key_id[i] = (uint8_t)(0x33 * i + 1);
    return h;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    testplat_init(&f->plat, 1);
    for (size_t i = 0; i < PLEN; i++)
        f->plain[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 5);
    f->rec_len = seal_rec_len(PLEN);
    f->rec = malloc(f->rec_len);
    f->out = malloc(SEAL_PAYLOAD_MAX);
    f->h = base_hdr(SEAL_KIND_PERMALL, 42);
    assert_int_equal(seal_record(&f->plat, &f->h, f->plain, PLEN, f->rec, f->rec_len), SVTPM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    free(f->rec);
    free(f->out);
    free(f);
    return 0;
}

/* How many positions of out[0..n) equal the plaintext: a failed open must
 * not hand back plaintext (random agreement is ~n/256). */
static size_t leaked(const uint8_t *out, const uint8_t *plain, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += out[i] == plain[i];
    return m;
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct seal_hdr g;
    uint32_t len = 0;
    memset(f->out, 0, SEAL_PAYLOAD_MAX);
    assert_int_equal(seal_open(&f->plat, f->rec, f->rec_len, &g, f->out, &len), SVTPM_OK);
    assert_int_equal(len, PLEN);
    assert_memory_equal(f->out, f->plain, PLEN);
    /* identity fields were filled from the platform */
    assert_int_equal(g.version, SEAL_FORMAT_V2);
    assert_int_equal(g.kind, SEAL_KIND_PERMALL);
    assert_true(g.seq == 42);
    assert_int_equal(g.key_policy, SEAL_POLICY_MRSIGNER);
    assert_int_equal(g.isv_svn, f->plat.id.isv_svn);
    assert_int_equal(g.isv_prod_id, f->plat.id.isv_prod_id);
    assert_memory_equal(g.signer, f->plat.id.mrsigner, 32);
    assert_memory_equal(g.cpu_svn, f->plat.id.cpu_svn, 16);
    assert_memory_equal(g.vtpm_id, f->h.vtpm_id, 16);
    assert_memory_equal(g.key_id, f->h.key_id, 32);
    assert_int_equal(g.payload_len, PLEN);
    /* the ciphertext is not the plaintext */
    assert_true(leaked(f->rec + SEAL_HDR_LEN, f->plain, PLEN) < PLEN / 16);
}

static void test_sizes(void **state)
{
    struct fx *f = *state;
    const uint32_t lens[] = { 0, 1, 15, 16, 17, 4096, SVTPM_STATE_PLAIN_MAX };
    uint8_t *big = malloc(SVTPM_STATE_PLAIN_MAX);
    uint8_t *rec = malloc(SVTPM_SEALED_REC_MAX);
    for (size_t i = 0; i < SVTPM_STATE_PLAIN_MAX; i++)
        big[i] = (uint8_t)(i ^ (i >> 9));
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        struct seal_hdr h = base_hdr(SEAL_KIND_VOLATILE, k), g;
        uint32_t len = 0xdead;
        assert_int_equal(seal_record(&f->plat, &h, big, lens[k], rec, SVTPM_SEALED_REC_MAX), SVTPM_OK);
        assert_int_equal(seal_open(&f->plat, rec, seal_rec_len(lens[k]), &g, f->out, &len), SVTPM_OK);
        assert_int_equal(len, lens[k]);
        assert_memory_equal(f->out, big, lens[k]);
        /* one byte short: refused */
        assert_int_not_equal(seal_open(&f->plat, rec, seal_rec_len(lens[k]) - 1, &g, f->out, &len), SVTPM_OK);
    }
    /* cap too small for the record: refused, not overflowed */
    struct seal_hdr h = base_hdr(SEAL_KIND_VOLATILE, 1);
    memset(rec, 0xee, 200);
    assert_int_not_equal(seal_record(&f->plat, &h, big, 100, rec, seal_rec_len(100) - 1), SVTPM_OK);
    free(big);
    free(rec);
}

static void test_fresh_iv(void **state)
{
    struct fx *f = *state;
    uint8_t *rec2 = malloc(f->rec_len);
    struct seal_hdr h = base_hdr(SEAL_KIND_PERMALL, 42);
    assert_int_equal(seal_record(&f->plat, &h, f->plain, PLEN, rec2, f->rec_len), SVTPM_OK);
    /* same key, same header fields, same plaintext: a new IV each time */
    assert_memory_not_equal(h.iv, f->h.iv, SEAL_IV_LEN);
    assert_memory_not_equal(rec2 + SEAL_HDR_LEN, f->rec + SEAL_HDR_LEN, PLEN);
    free(rec2);
}

static void check_refused(struct fx *f, const uint8_t *rec, size_t avail, const char *what, size_t pos)
{
    struct seal_hdr g;
    uint32_t len = 0xdeadbeef;
    memset(f->out, 0, PLEN);
    svtpm_err e = seal_open(&f->plat, rec, avail, &g, f->out, &len);
    if (e == SVTPM_OK)
        fail_msg("%s byte %zu: tampered record opened", what, pos);
    if (e != SVTPM_E_AUTH && e != SVTPM_E_FORMAT && e != SVTPM_E_PERM &&
        e != SVTPM_E_TOOBIG && e != SVTPM_E_TRUNCATED)
        fail_msg("%s byte %zu: unexpected error %d (%s)", what, pos, e, svtpm_strerror(e));
    assert_int_equal(len, 0xdeadbeef);
    if (leaked(f->out, f->plain, PLEN) > PLEN / 16)
        fail_msg("%s byte %zu: output buffer holds the plaintext after a failed open", what, pos);
}

static void test_header_byte_flips(void **state)
{
    struct fx *f = *state;
    uint8_t *t = malloc(f->rec_len);
    for (size_t i = 0; i < SEAL_HDR_LEN; i++) {
        const uint8_t masks[] = { 0x01, 0x80, 0xff };
        for (size_t m = 0; m < 3; m++) {
            memcpy(t, f->rec, f->rec_len);
            t[i] ^= masks[m];
            check_refused(f, t, f->rec_len, "header", i);
        }
    }
    free(t);
}

static void test_body_and_tag_flips(void **state)
{
    struct fx *f = *state;
    uint8_t *t = malloc(f->rec_len);
    size_t n = 0;
    for (size_t i = SEAL_HDR_LEN; i < f->rec_len; i += (i < SEAL_HDR_LEN + 64 || i >= f->rec_len - 48) ? 1 : 97) {
        memcpy(t, f->rec, f->rec_len);
        t[i] ^= (uint8_t)(1u << (i % 8));
        check_refused(f, t, f->rec_len, i >= f->rec_len - SEAL_TAG_LEN ? "tag" : "ciphertext", i);
        n++;
    }
    assert_true(n > 100);
    /* zeroed tag (a retired record) */
    memcpy(t, f->rec, f->rec_len);
    memset(t + f->rec_len - SEAL_TAG_LEN, 0, SEAL_TAG_LEN);
    check_refused(f, t, f->rec_len, "zeroed tag", 0);
    free(t);
}

static void test_failed_open_wipes_plaintext(void **state)
{
    /* The header is fine, the tag is not: GCM decrypts before it can check
     * the tag, so this is the case where plaintext could leak. */
    struct fx *f = *state;
    uint8_t *t = malloc(f->rec_len);
    memcpy(t, f->rec, f->rec_len);
    t[f->rec_len - 1] ^= 1;
    struct seal_hdr g;
    uint32_t len = 0;
    memset(f->out, 0x5a, SEAL_PAYLOAD_MAX);
    assert_int_equal(seal_open(&f->plat, t, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
    assert_true(leaked(f->out, f->plain, PLEN) < PLEN / 16);
    free(t);
}

static void test_other_secret_auth(void **state)
{
    struct fx *f = *state;
    struct tee_platform p2;
    testplat_init(&p2, 2);
    struct seal_hdr g;
    uint32_t len = 0;
    memset(f->out, 0, PLEN);
    assert_int_equal(seal_open(&p2, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
    assert_true(leaked(f->out, f->plain, PLEN) < PLEN / 16);
    /* one bit of the secret is enough */
    testplat_init(&p2, 1);
    p2.secret[31] ^= 0x80;
    assert_int_equal(seal_open(&p2, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
}

static void test_other_signer_not_derivable(void **state)
{
    struct fx *f = *state;
    struct tee_platform p2;
    testplat_init(&p2, 1);
    p2.id.mrsigner[0] ^= 1;
    struct seal_hdr g;
    uint32_t len = 0;
    assert_int_equal(seal_open(&p2, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_PERM);
    /* another product id: not derivable here either */
    testplat_init(&p2, 1);
    p2.id.isv_prod_id = 2;
    assert_int_equal(seal_open(&p2, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_PERM);
    /* MRSIGNER policy: another enclave build (mrenclave) of the same signer opens it */
    testplat_init(&p2, 1);
    p2.id.mrenclave[5] ^= 0xff;
    assert_int_equal(seal_open(&p2, f->rec, f->rec_len, &g, f->out, &len), SVTPM_OK);
    assert_memory_equal(f->out, f->plain, PLEN);
}

static void test_newer_svn_not_derivable(void **state)
{
    struct fx *f = *state;
    struct tee_platform newer, older;
    testplat_init(&newer, 1);
    newer.id.isv_svn = 5;
    struct seal_hdr h = base_hdr(SEAL_KIND_PERMALL, 1), g;
    assert_int_equal(seal_record(&newer, &h, f->plain, PLEN, f->rec, f->rec_len), SVTPM_OK);
    assert_int_equal(h.isv_svn, 5);
    testplat_init(&older, 1);
    older.id.isv_svn = 4;
    uint32_t len = 0;
    memset(f->out, 0, PLEN);
    assert_int_equal(seal_open(&older, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_PERM);
    assert_true(leaked(f->out, f->plain, PLEN) < PLEN / 16);
    /* a newer CPU SVN in the header: not derivable either */
    testplat_init(&newer, 1);
    newer.id.cpu_svn[3] = 2;
    h = base_hdr(SEAL_KIND_PERMALL, 1);
    assert_int_equal(seal_record(&newer, &h, f->plain, PLEN, f->rec, f->rec_len), SVTPM_OK);
    testplat_init(&older, 1);
    older.id.cpu_svn[3] = 1;
    assert_int_equal(seal_open(&older, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_PERM);
}

static void test_svn_upgrade_opens(void **state)
{
    struct fx *f = *state;
    struct tee_platform v1, v3;
    testplat_init(&v1, 1);
    v1.id.isv_svn = 1;
    struct seal_hdr h = base_hdr(SEAL_KIND_VOLATILE, 9), g;
    assert_int_equal(seal_record(&v1, &h, f->plain, PLEN, f->rec, f->rec_len), SVTPM_OK);
    testplat_init(&v3, 1);
    v3.id.isv_svn = 3;
    v3.id.cpu_svn[0] = 7;      /* and a TCB upgrade */
    uint32_t len = 0;
    assert_int_equal(seal_open(&v3, f->rec, f->rec_len, &g, f->out, &len), SVTPM_OK);
    assert_int_equal(len, PLEN);
    assert_memory_equal(f->out, f->plain, PLEN);
    assert_int_equal(g.isv_svn, 1);
    /* re-sealed by the upgraded enclave, it carries the new SVN and the old
     * one can no longer open it */
    h = base_hdr(SEAL_KIND_VOLATILE, 10);
    assert_int_equal(seal_record(&v3, &h, f->plain, PLEN, f->rec, f->rec_len), SVTPM_OK);
    assert_int_equal(h.isv_svn, 3);
    assert_int_equal(seal_open(&v1, f->rec, f->rec_len, &g, f->out, &len), SVTPM_E_PERM);
}

static void test_key_binding(void **state)
{
    /* kind, vtpm_id and key_id are inputs of the key: a record re-labelled
     * with another value in the header does not open (AAD and key). */
    struct fx *f = *state;
    uint8_t *t = malloc(f->rec_len);
    struct seal_hdr g;
    uint32_t len;
    memcpy(t, f->rec, f->rec_len);
    put_be32(t + 12, SEAL_KIND_VOLATILE);
    assert_int_equal(seal_open(&f->plat, t, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
    memcpy(t, f->rec, f->rec_len);
    t[24] ^= 1;   /* vtpm_id */
    assert_int_equal(seal_open(&f->plat, t, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
    memcpy(t, f->rec, f->rec_len);
    t[40] ^= 1;   /* key_id */
    assert_int_equal(seal_open(&f->plat, t, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
    memcpy(t, f->rec, f->rec_len);
    put_be64(t + 16, 43);   /* seq */
    assert_int_equal(seal_open(&f->plat, t, f->rec_len, &g, f->out, &len), SVTPM_E_AUTH);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_iv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_byte_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_and_tag_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_open_wipes_plaintext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_secret_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_signer_not_derivable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_svn_not_derivable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svn_upgrade_opens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_binding, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
