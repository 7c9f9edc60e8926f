/* src/enclave/eclock.h: the enclave's one clock as libtpms and tpm.c use it,
 * with a scripted host time (the source) and a fake host that answers
 * OCALL_TIME_TOKEN with tokens an in-test authority signs (Ed25519, OpenSSL)
 * at a scripted authority time. eclock is a process-wide singleton (libtpms
 * reads time without a context), so this is one scenario, step by step:
 *   - without an authority: no token is ever asked for, eclock_refresh is a
 *     no-op, libtpms' time is the clock itself;
 *   - with one: the clock stands still until the first token; a frozen
 *     source with the authority's time moving is not noticed by reads, but
 *     eclock_refresh (what tpm.c calls before a command that acts on an
 *     expiry) pulls the clock to authenticated time; a token from another
 *     authority or with a bad signature is refused, and refresh says so;
 *   - after a failed background fetch, a frozen source cannot stop the
 *     retries: the next try comes after RETRY_READS reads;
 *   - libtpms' time (eclock_tpm_mono_ns) starts at the TPM clock given to
 *     eclock_origin and never goes back, whatever origin is given later;
 *   - eclock_carry holds the clock to a tie from an earlier run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "abi.h"
#include "bytes.h"
#include "crypto.h"
#include "eclock.h"
#include "ocall.h"
#include "timetoken.h"

#define MS 1000000ull
#define S  (1000 * MS)

static uint64_t src_ns = 5000 * S;        /* the host's monotonic time */
static uint64_t auth_ms = 1790000000000ull;   /* the authority's time */
static unsigned tokens_asked, tokens_given;
static bool host_fails, wrong_key, bad_sig;
static EVP_PKEY *key, *other;
static uint8_t pub[32];

static uint64_t fake_mono(void) { return src_ns; }
static uint64_t fake_wall(void) { return 1700000000000ull * MS + src_ns; }

static EVP_PKEY *new_key(uint8_t raw_pub[32])
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *k = NULL;
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    size_t n = 32;
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw_pub, &n), 1);
    return k;
}

static void sign_token(EVP_PKEY *k, const uint8_t nonce[32], uint8_t out[TIMETOKEN_LEN])
{
    uint8_t kp[32];
    size_t n = 32;
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, kp, &n), 1);
    struct timetoken t = { .time_ms = auth_ms, .accuracy_ms = 0 };
    memcpy(t.nonce, nonce, 32);
    assert_int_equal(crypto_sha256(&(struct iovc){ .p = kp, .n = 32 }, 1, t.authority_id), SVTPM_OK);
    assert_int_equal(timetoken_pack_body(&t, out, TIMETOKEN_LEN), TIMETOKEN_SIGNED_LEN);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t sl = TIMETOKEN_SIG_LEN;
    assert_int_equal(EVP_DigestSignInit(m, NULL, NULL, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(m, out + TIMETOKEN_SIGNED_LEN, &sl, out, TIMETOKEN_SIGNED_LEN), 1);
    EVP_MD_CTX_free(m);
}

static svtpm_err fake_host(void *ud, uint32_t id, const uint8_t *req, uint32_t len, uint8_t *resp,
                           uint32_t cap, uint32_t *resp_len)
{
    (void)ud;
    *resp_len = 0;
    if (id == OCALL_LOG)
        return SVTPM_OK;
    assert_int_equal(id, OCALL_TIME_TOKEN);
    assert_int_equal(len, 32);
    assert_true(cap >= TIMETOKEN_LEN);
    tokens_asked++;
    if (host_fails)
        return SVTPM_E_IO;
    sign_token(wrong_key ? other : key, req, resp);
    if (bad_sig)
        resp[TIMETOKEN_SIGNED_LEN + 5] ^= 1;
    *resp_len = TIMETOKEN_LEN;
    tokens_given++;
    return SVTPM_OK;
}

static void test_eclock_scenario(void **state)
{
    (void)state;
    static uint8_t req[SVTPM_CHAN_DATA_MAX], resp[SVTPM_CHAN_DATA_MAX];
    struct ocall_ctx oc = { .fake = fake_host, .fake_req = req, .resp = resp, .resp_cap = sizeof resp };
    assert_int_equal(crypto_init(), SVTPM_OK);
    eclock_sources(fake_mono, fake_wall);
    key = new_key(pub);
    uint8_t other_pub[32];
    other = new_key(other_pub);

    /* no authority: the source, no tokens */
    uint64_t c0 = eclock_now_ns();
    src_ns += 2 * S;
    assert_int_equal(eclock_now_ns() - c0, 2 * S);
    assert_int_equal(eclock_refresh(), SVTPM_OK);
    assert_false(eclock_pinned());
    assert_int_equal(eclock_tpm_mono_ns(), eclock_now_ns());
    assert_int_equal(tokens_asked, 0);

    /* an authority: the clock stands still until the first token, which the
     * first read asks for */
    eclock_set_authority(&oc, pub);
    assert_true(eclock_pinned());
    uint64_t a0 = eclock_now_ns();
    assert_int_equal(tokens_given, 1);
    src_ns += 1 * S;
    auth_ms += 1000;
    assert_int_equal(eclock_now_ns() - a0, 1 * S);

    /* a frozen source: reads see nothing move and ask for nothing ... */
    uint64_t before = eclock_now_ns();
    unsigned given = tokens_given;
    auth_ms += 30000;
    for (int i = 0; i < 100; i++)
        assert_int_equal(eclock_now_ns(), before);
    assert_int_equal(tokens_given, given);
    /* ... but a refresh pulls the clock to authenticated time */
    assert_int_equal(eclock_refresh(), SVTPM_OK);
    assert_int_equal(tokens_given, given + 1);
    assert_int_equal(eclock_now_ns() - before, 30 * S);

    /* another authority's token, a bad signature: refused, the clock holds */
    before = eclock_now_ns();
    auth_ms += 10000;
    wrong_key = true;
    assert_int_equal(eclock_refresh(), SVTPM_E_FOREIGN);
    wrong_key = false;
    bad_sig = true;
    assert_int_not_equal(eclock_refresh(), SVTPM_OK);
    bad_sig = false;
    assert_int_equal(eclock_now_ns(), before);
    assert_int_equal(eclock_refresh(), SVTPM_OK);
    assert_int_equal(eclock_now_ns() - before, 10 * S);

    /* a failed background fetch near the ceiling: with the source frozen,
     * the next try still comes, after 4096 reads */
    src_ns += 3 * S;   /* within max_lead / 2 of the ceiling: a read asks */
    host_fails = true;
    unsigned asked = tokens_asked;
    (void)eclock_now_ns();
    assert_int_equal(tokens_asked, asked + 1);
    for (int i = 0; i < 4000; i++)
        (void)eclock_now_ns();
    assert_int_equal(tokens_asked, asked + 1);
    for (int i = 0; i < 200; i++)
        (void)eclock_now_ns();
    assert_int_equal(tokens_asked, asked + 2);
    host_fails = false;
    auth_ms += 3000;
    assert_int_equal(eclock_refresh(), SVTPM_OK);

    /* libtpms' time: from the TPM clock's origin, never back */
    eclock_origin(100000);
    uint64_t m0 = eclock_tpm_mono_ns();
    assert_int_equal(m0, (100000 + ECLOCK_TPM_EPOCH_MS) * MS);
    src_ns += 1 * S;
    auth_ms += 1000;
    assert_int_equal(eclock_tpm_mono_ns() - m0, 1 * S);
    eclock_origin(50);   /* a lower origin (another state): libtpms' time holds */
    assert_true(eclock_tpm_mono_ns() >= m0 + 1 * S);
    assert_true(eclock_wall_ns() > eclock_tpm_mono_ns());

    /* a carried tie below the clock holds it until authenticated time passes */
    int64_t off = 0;
    uint64_t tpm = 200000;
    assert_true(eclock_offset(tpm, eclock_now_ns(), &off));
    /* a tie 20 s tighter than this run's: the clock holds until 15 s of
     * authenticated time have passed (20 s less the 5 s lead) */
    eclock_carry(off + 20000, tpm);
    before = eclock_now_ns();
    src_ns += 10 * S;
    auth_ms += 10000;
    assert_int_equal(eclock_refresh(), SVTPM_OK);
    assert_int_equal(eclock_now_ns(), before);
    src_ns += 20 * S;
    auth_ms += 20000;
    assert_int_equal(eclock_refresh(), SVTPM_OK);
    uint64_t moved = eclock_now_ns() - before;
    /* 30 s of authenticated time, the tie 20 s tighter, plus the lead */
    if (moved < 15 * S - 5 * MS || moved > 15 * S + 5 * MS)
        fail_msg("the carried tie let the clock move %llu ms, not 15000", (unsigned long long)(moved / MS));

    eclock_detach();
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eclock_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
