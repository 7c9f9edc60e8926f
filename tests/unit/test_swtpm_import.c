/* src/common/swtpm_blob.h + src/enclave/import.h against real swtpm state
 * files, generated here by Debian's swtpm: plain, and encrypted with each
 * kind of --key. Also a full import into the sealed store (fake host) and a
 * power-on of libtpms from the imported state: this program is the one unit
 * test that starts libtpms (a process-global singleton). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libtpms/tpm_library.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "fakehost.h"
#include "import.h"
#include "store.h"
#include "swtpm_blob.h"
#include "testplat.h"
#include "tpm.h"

#define SWTPM "/usr/bin/swtpm"
#define SWTPM_IOCTL "/usr/bin/swtpm_ioctl"

static const char PASS[] = "secret passphrase";
static const char PASS_NL[] = "secret passphrase\n";
static const char HEXKEY[] = "00112233445566778899aabbccddeeff\n";
static uint8_t BINKEY[32];

enum variant { V_PLAIN, V_PBKDF2_256, V_HEX_128, V_SHA512_256, V_PBKDF2_NL_128, V_BIN_256, NV };

static const struct {
    const char *name;
    const char *keyopt;           /* swtpm --key value, NULL: none */
    uint32_t kind, keylen;
    const void *secret;
    size_t slen;
} V[NV] = {
    [V_PLAIN] = { "plain", NULL, IMPORT_KEY_NONE, 0, NULL, 0 },
    [V_PBKDF2_256] = { "pwdfile aes-256-cbc (pbkdf2)", "pwdfile=@/pw,mode=aes-256-cbc",
                       IMPORT_KEY_PBKDF2, 32, PASS, sizeof PASS - 1 },
    [V_HEX_128] = { "hex key file aes-128-cbc", "file=@/k16,format=hex,mode=aes-128-cbc",
                    IMPORT_KEY_HEX, 16, HEXKEY, sizeof HEXKEY - 1 },
    [V_SHA512_256] = { "pwdfile kdf=sha512 aes-256-cbc", "pwdfile=@/pw,kdf=sha512,mode=aes-256-cbc",
                       IMPORT_KEY_SHA512, 32, PASS, sizeof PASS - 1 },
    [V_PBKDF2_NL_128] = { "pwdfile with a newline, default mode", "pwdfile=@/pwnl",
                          IMPORT_KEY_PBKDF2, 16, PASS_NL, sizeof PASS_NL - 1 },
    [V_BIN_256] = { "binary key file aes-256-cbc", "file=@/k32,format=binary,mode=aes-256-cbc",
                    IMPORT_KEY_BINARY, 32, BINKEY, sizeof BINKEY },
};

static char tmpdir[256];
static uint8_t *file[NV];
static size_t file_len[NV];

static int cleanup_all(void **state);

static int gen_all(void **state)
{
    if (crypto_init() != SVTPM_OK)
        return -1;
    for (size_t i = 0; i < sizeof BINKEY; i++)
        BINKEY[i] = (uint8_t)(0xf0 - 3 * i);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/svtpm-test-import.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/pw", tmpdir);
    testutil_spit(p, PASS, sizeof PASS - 1);
    snprintf(p, sizeof p, "%s/pwnl", tmpdir);
    testutil_spit(p, PASS_NL, sizeof PASS_NL - 1);
    snprintf(p, sizeof p, "%s/k16", tmpdir);
    testutil_spit(p, HEXKEY, sizeof HEXKEY - 1);
    snprintf(p, sizeof p, "%s/k32", tmpdir);
    testutil_spit(p, BINKEY, sizeof BINKEY);
    for (int v = 0; v < NV; v++) {
        char key[512] = "";
        if (V[v].keyopt) {
            /* '@' stands for the temporary directory */
            const char *at = strchr(V[v].keyopt, '@');
            snprintf(key, sizeof key, "--key %.*s%s%s", (int)(at - V[v].keyopt), V[v].keyopt, tmpdir, at + 1);
        }
        /* start swtpm, wait for its control socket, shut it down */
        int rc = testutil_sh(
            "set -e; d=%s/v%d; mkdir -p $d; "
            "timeout 30 " SWTPM " socket --tpm2 --tpmstate dir=$d --flags not-need-init,startup-clear "
            "--ctrl type=unixio,path=$d.sock %s & pid=$!; "
            "i=0; while [ ! -S $d.sock ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; "
            "if [ -x " SWTPM_IOCTL " ]; then " SWTPM_IOCTL " --unix $d.sock -s; wait $pid; "
            "else kill $pid; wait $pid || true; fi",
            tmpdir, v, key);
        if (rc != 0) {
            fprintf(stderr, "swtpm (%s) failed: %d\n", V[v].name, rc);
            cleanup_all(state);
            return -1;
        }
        snprintf(p, sizeof p, "%s/v%d/tpm2-00.permall", tmpdir, v);
        file[v] = testutil_slurp(p, &file_len[v]);
        if (!file[v]) {
            fprintf(stderr, "swtpm (%s) left no %s\n", V[v].name, p);
            cleanup_all(state);
            return -1;
        }
    }
    return 0;
}

static int cleanup_all(void **state)
{
    for (int v = 0; v < NV; v++) {
        free(file[v]);
        file[v] = NULL;
    }
    if (tmpdir[0])
        testutil_sh("rm -rf '%s'", tmpdir);
    tmpdir[0] = 0;
    return 0;
}

static void key_of(int v, uint8_t key[32], size_t *klen)
{
    *klen = 0;
    if (V[v].kind == IMPORT_KEY_NONE)
        return;
    assert_int_equal(import_derive_key(V[v].kind, V[v].keylen, V[v].secret, V[v].slen, key, klen), SVTPM_OK);
    assert_int_equal(*klen, V[v].keylen);
}

static uint8_t *unwrap(int v, size_t *out_len)
{
    uint8_t key[32];
    size_t klen;
    key_of(v, key, &klen);
    uint8_t *out = malloc(SVTPM_STATE_PLAIN_MAX);
    svtpm_err e = import_unwrap(key, klen, file[v], file_len[v], out, SVTPM_STATE_PLAIN_MAX, out_len);
    if (e)
        fail_msg("%s: unwrap: %s", V[v].name, svtpm_strerror(e));
    return out;
}

/* ---- the blobs ---- */

static void test_blob_headers(void **state)
{
    for (int v = 0; v < NV; v++) {
        struct swtpm_blob b;
        assert_int_equal(swtpm_blob_parse(file[v], file_len[v], &b), SVTPM_OK);
        assert_int_equal(file[v][0], 2);                       /* version */
        assert_int_equal(get_be16(file[v] + 2), SWTPM_BLOB_HDR_LEN);
        assert_int_equal(get_be32(file[v] + 6), file_len[v]);  /* totlen */
        if (v == V_PLAIN) {
            assert_int_equal(b.flags & SWTPM_FLAG_ENCRYPTED, 0);
            assert_non_null(b.data);
            assert_int_equal(b.data_len, file_len[v] - 16);
            assert_null(b.enc);
        } else {
            assert_true(b.flags & SWTPM_FLAG_ENCRYPTED);
            assert_int_equal(!!(b.flags & SWTPM_FLAG_ENCRYPTED_256), V[v].keylen == 32);
            assert_non_null(b.enc);
            assert_int_equal(b.enc_len % V[v].keylen, 0);
            assert_int_equal(b.hmac_len, 32);
            assert_int_equal(b.iv_len, V[v].keylen);
            assert_null(b.data);
        }
    }
}

static void test_unwrap_all_same_structure(void **state)
{
    size_t n0;
    uint8_t *plain = unwrap(V_PLAIN, &n0);
    /* libtpms PERSISTENT_ALL: u16 version 3, u32 magic 0xAB364723 */
    assert_int_equal(get_be16(plain), 3);
    assert_int_equal(get_be32(plain + 2), 0xAB364723u);
    for (int v = 1; v < NV; v++) {
        size_t n;
        uint8_t *p = unwrap(v, &n);
        if (n != n0)
            fail_msg("%s: %zu bytes, the plain file's blob has %zu", V[v].name, n, n0);
        assert_int_equal(get_be16(p), 3);
        assert_int_equal(get_be32(p + 2), 0xAB364723u);
        /* the same 10 header bytes (versions, magics, min version, ...) */
        assert_memory_equal(p, plain, 10);
        /* but another TPM: other seeds */
        assert_memory_not_equal(p, plain, n);
        free(p);
    }
    free(plain);
}

static void test_wrong_key_auth(void **state)
{
    uint8_t *out = malloc(SVTPM_STATE_PLAIN_MAX);
    for (int v = 1; v < NV; v++) {
        uint8_t key[32];
        size_t klen, n = 0xabc;
        key_of(v, key, &klen);
        /* one bit of the key */
        for (size_t bit = 0; bit < klen * 8; bit += 37) {
            key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memset(out, 0, 64);
            assert_int_equal(import_unwrap(key, klen, file[v], file_len[v], out, SVTPM_STATE_PLAIN_MAX, &n),
                             SVTPM_E_AUTH);
            assert_int_equal(n, 0xabc);
            key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* another passphrase */
        uint8_t k2[32];
        size_t k2len;
        uint32_t kind = V[v].kind == IMPORT_KEY_HEX || V[v].kind == IMPORT_KEY_BINARY ? IMPORT_KEY_PBKDF2 : V[v].kind;
        assert_int_equal(import_derive_key(kind, V[v].keylen, (const uint8_t *)"secret passphrasf", 17, k2, &k2len),
                         SVTPM_OK);
        assert_int_equal(import_unwrap(k2, k2len, file[v], file_len[v], out, SVTPM_STATE_PLAIN_MAX, &n), SVTPM_E_AUTH);
        /* the right secret through the other KDF */
        if (V[v].kind == IMPORT_KEY_PBKDF2 || V[v].kind == IMPORT_KEY_SHA512) {
            uint32_t other = V[v].kind == IMPORT_KEY_PBKDF2 ? IMPORT_KEY_SHA512 : IMPORT_KEY_PBKDF2;
            assert_int_equal(import_derive_key(other, V[v].keylen, V[v].secret, V[v].slen, k2, &k2len), SVTPM_OK);
            assert_int_equal(import_unwrap(k2, k2len, file[v], file_len[v], out, SVTPM_STATE_PLAIN_MAX, &n),
                             SVTPM_E_AUTH);
        }
        /* a key of the other length */
        uint8_t k3[32] = { 0 };
        memcpy(k3, key, klen);
        assert_int_equal(import_unwrap(k3, klen == 32 ? 16 : 32, file[v], file_len[v], out,
                                       SVTPM_STATE_PLAIN_MAX, &n), SVTPM_E_AUTH);
    }
    /* the passphrase without its newline is another passphrase */
    uint8_t k[32];
    size_t kl, n;
    assert_int_equal(import_derive_key(IMPORT_KEY_PBKDF2, 16, (const uint8_t *)PASS, sizeof PASS - 1, k, &kl), SVTPM_OK);
    assert_int_equal(import_unwrap(k, kl, file[V_PBKDF2_NL_128], file_len[V_PBKDF2_NL_128], out,
                                   SVTPM_STATE_PLAIN_MAX, &n), SVTPM_E_AUTH);
    free(out);
}

static void test_key_presence_perm(void **state)
{
    uint8_t *out = malloc(SVTPM_STATE_PLAIN_MAX);
    size_t n;
    /* encrypted, no key */
    for (int v = 1; v < NV; v++)
        assert_int_equal(import_unwrap(NULL, 0, file[v], file_len[v], out, SVTPM_STATE_PLAIN_MAX, &n), SVTPM_E_PERM);
    /* plain, but a key was given (swtpm requires an encrypted file then) */
    uint8_t key[32];
    size_t klen;
    key_of(V_PBKDF2_256, key, &klen);
    assert_int_equal(import_unwrap(key, klen, file[V_PLAIN], file_len[V_PLAIN], out, SVTPM_STATE_PLAIN_MAX, &n),
                     SVTPM_E_PERM);
    key_of(V_HEX_128, key, &klen);
    assert_int_equal(import_unwrap(key, klen, file[V_PLAIN], file_len[V_PLAIN], out, SVTPM_STATE_PLAIN_MAX, &n),
                     SVTPM_E_PERM);
    free(out);
}

static void test_flipped_bytes_auth(void **state)
{
    uint8_t *out = malloc(SVTPM_STATE_PLAIN_MAX);
    for (int v = 1; v < NV; v++) {
        uint8_t key[32];
        size_t klen, n;
        key_of(v, key, &klen);
        uint8_t *f = malloc(file_len[v]);
        struct swtpm_blob b;
        assert_int_equal(swtpm_blob_parse(file[v], file_len[v], &b), SVTPM_OK);
        size_t enc = (size_t)(b.enc - file[v]), mac = (size_t)(b.hmac - file[v]), iv = (size_t)(b.iv - file[v]);
        const size_t pos[] = { enc, enc + 1, enc + b.enc_len / 2, enc + b.enc_len - 1,
                               mac, mac + 31, iv, iv + b.iv_len - 1 };
        for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
            memcpy(f, file[v], file_len[v]);
            f[pos[i]] ^= 0x04;
            svtpm_err e = import_unwrap(key, klen, f, file_len[v], out, SVTPM_STATE_PLAIN_MAX, &n);
            if (e != SVTPM_E_AUTH)
                fail_msg("%s: byte %zu flipped: %s", V[v].name, pos[i], svtpm_strerror(e));
        }
        free(f);
    }
    free(out);
}

static void test_truncated(void **state)
{
    uint8_t *out = malloc(SVTPM_STATE_PLAIN_MAX);
    for (int v = 0; v < NV; v++) {
        uint8_t key[32];
        size_t klen, n;
        key_of(v, key, &klen);
        for (size_t len = 0; len < file_len[v]; len += (len < 40 || len > file_len[v] - 40) ? 1 : 53) {
            uint8_t *f = malloc(len ? len : 1);      /* exact size: ASan sees any over-read */
            memcpy(f, file[v], len);
            svtpm_err e = import_unwrap(klen ? key : NULL, klen, f, len, out, SVTPM_STATE_PLAIN_MAX, &n);
            if (e != SVTPM_E_TRUNCATED && e != SVTPM_E_FORMAT)
                fail_msg("%s cut to %zu bytes: %s", V[v].name, len, svtpm_strerror(e));
            free(f);
        }
        /* the header's total length still says the full length: cut, not "fixed" */
        uint8_t *f = malloc(file_len[v] + 10);
        memcpy(f, file[v], file_len[v]);
        memset(f + file_len[v], 0, 10);
        svtpm_err e = import_unwrap(klen ? key : NULL, klen, f, file_len[v] + 10, out, SVTPM_STATE_PLAIN_MAX, &n);
        assert_int_equal(e, SVTPM_E_FORMAT);
        free(f);
    }
    free(out);
}

static void test_output_cap(void **state)
{
    for (int v = 0; v < NV; v++) {
        uint8_t key[32];
        size_t klen, n, full;
        key_of(v, key, &klen);
        free(unwrap(v, &full));
        size_t cap = full - 1;
        if (v != V_PLAIN) {
            struct swtpm_blob b;
            swtpm_blob_parse(file[v], file_len[v], &b);
            cap = b.enc_len - 1;      /* decryption works on the padded length */
        }
        uint8_t *out = malloc(cap);
        assert_int_not_equal(import_unwrap(klen ? key : NULL, klen, file[v], file_len[v], out, cap, &n), SVTPM_OK);
        free(out);
    }
}

/* ---- the blob parser on crafted input ---- */

static size_t mk(uint8_t *b, uint16_t flags, const uint8_t *tlvs, size_t tlen)
{
    b[0] = 2;
    b[1] = 1;
    put_be16(b + 2, 10);
    put_be16(b + 4, flags);
    put_be32(b + 6, (uint32_t)(10 + tlen));
    memcpy(b + 10, tlvs, tlen);
    return 10 + tlen;
}

static void test_blob_parse_crafted(void **state)
{
    uint8_t b[256];
    struct swtpm_blob s;
    /* an unknown tag is skipped, the first DATA wins */
    const uint8_t t1[] = { 0, 9, 0, 0, 0, 2, 'z', 'z', 0, 1, 0, 0, 0, 3, 'a', 'b', 'c', 0, 1, 0, 0, 0, 1, 'x' };
    size_t n = mk(b, 0, t1, sizeof t1);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_OK);
    assert_int_equal(s.data_len, 3);
    assert_memory_equal(s.data, "abc", 3);
    /* a TLV running past the end */
    const uint8_t t2[] = { 0, 1, 0, 0, 0, 9, 'a', 'b' };
    n = mk(b, 0, t2, sizeof t2);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_TRUNCATED);
    const uint8_t t2b[] = { 0, 1, 0xff, 0xff, 0xff, 0xff, 'a' };
    n = mk(b, 0, t2b, sizeof t2b);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_TRUNCATED);
    /* half a TLV header */
    const uint8_t t3[] = { 0, 1, 0, 0, 0, 1, 'a', 0, 1, 0 };
    n = mk(b, 0, t3, sizeof t3);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_TRUNCATED);
    /* plain without DATA */
    const uint8_t t4[] = { 0, 2, 0, 0, 0, 1, 'a' };
    n = mk(b, 0, t4, sizeof t4);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_FORMAT);
    /* encrypted without HMAC or IV */
    n = mk(b, SWTPM_FLAG_ENCRYPTED, t4, sizeof t4);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_FORMAT);
    /* header fields */
    n = mk(b, 0, t1, sizeof t1);
    b[0] = 1;
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_FORMAT);
    n = mk(b, 0, t1, sizeof t1);
    b[0] = 3;
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_FORMAT);
    n = mk(b, 0, t1, sizeof t1);
    put_be16(b + 2, 12);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_FORMAT);
    n = mk(b, 0, t1, sizeof t1);
    put_be32(b + 6, (uint32_t)n - 1);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_FORMAT);
    put_be32(b + 6, (uint32_t)n + 1);
    assert_int_equal(swtpm_blob_parse(b, n, &s), SVTPM_E_TRUNCATED);
    for (size_t len = 0; len < 10; len++)
        assert_int_equal(swtpm_blob_parse(b, len, &s), SVTPM_E_TRUNCATED);
    /* a legacy version-1 file (no TLVs) is not taken for a v2 one */
    memset(b, 0, 32);
    b[0] = 1;
    assert_int_not_equal(swtpm_blob_parse(b, 32, &s), SVTPM_OK);
}

/* ---- key derivation ---- */

static void test_derive_key(void **state)
{
    uint8_t k[32];
    size_t kl;
    const uint8_t want16[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    const char *ok16[] = { "00112233445566778899aabbccddeeff", "00112233445566778899AABBCCDDEEFF",
                           "0x00112233445566778899aabbccddeeff", "00112233445566778899aabbccddeeff\n",
                           "00112233445566778899aabbccddeeff \n" };
    for (size_t i = 0; i < sizeof ok16 / sizeof ok16[0]; i++) {
        memset(k, 0, sizeof k);
        assert_int_equal(import_derive_key(IMPORT_KEY_HEX, 16, (const uint8_t *)ok16[i], strlen(ok16[i]), k, &kl),
                         SVTPM_OK);
        assert_int_equal(kl, 16);
        assert_memory_equal(k, want16, 16);
    }
    const char *bad16[] = { "", "0011", "00112233445566778899aabbccddeef", "00112233445566778899aabbccddeeff00",
                            "0011223344556677889gaabbccddeeff", "0x", "zz112233445566778899aabbccddeeff" };
    for (size_t i = 0; i < sizeof bad16 / sizeof bad16[0]; i++)
        if (import_derive_key(IMPORT_KEY_HEX, 16, (const uint8_t *)bad16[i], strlen(bad16[i]), k, &kl) != SVTPM_E_INVAL)
            fail_msg("hex key '%s' accepted", bad16[i]);
    /* 64 hex digits for AES-256 */
    char h64[65];
    for (int i = 0; i < 64; i++)
        h64[i] = "0123456789abcdef"[i % 16];
    h64[64] = 0;
    assert_int_equal(import_derive_key(IMPORT_KEY_HEX, 32, (const uint8_t *)h64, 64, k, &kl), SVTPM_OK);
    assert_int_equal(kl, 32);
    assert_int_equal(k[31], 0xef);
    assert_int_equal(import_derive_key(IMPORT_KEY_HEX, 16, (const uint8_t *)h64, 64, k, &kl), SVTPM_E_INVAL);
    /* binary */
    assert_int_equal(import_derive_key(IMPORT_KEY_BINARY, 16, BINKEY, 16, k, &kl), SVTPM_OK);
    assert_int_equal(kl, 16);
    assert_memory_equal(k, BINKEY, 16);
    assert_int_equal(import_derive_key(IMPORT_KEY_BINARY, 32, BINKEY, 32, k, &kl), SVTPM_OK);
    assert_memory_equal(k, BINKEY, 32);
    assert_int_equal(import_derive_key(IMPORT_KEY_BINARY, 16, BINKEY, 32, k, &kl), SVTPM_E_INVAL);
    assert_int_equal(import_derive_key(IMPORT_KEY_BINARY, 32, BINKEY, 15, k, &kl), SVTPM_E_INVAL);
    assert_int_equal(import_derive_key(IMPORT_KEY_BINARY, 32, BINKEY, 31, k, &kl), SVTPM_E_INVAL);
    /* passphrases: deterministic, length as asked, different per KDF */
    uint8_t a[32], b[32];
    size_t al, bl;
    assert_int_equal(import_derive_key(IMPORT_KEY_PBKDF2, 32, (const uint8_t *)PASS, 17, a, &al), SVTPM_OK);
    assert_int_equal(import_derive_key(IMPORT_KEY_PBKDF2, 32, (const uint8_t *)PASS, 17, b, &bl), SVTPM_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(import_derive_key(IMPORT_KEY_SHA512, 32, (const uint8_t *)PASS, 17, b, &bl), SVTPM_OK);
    assert_memory_not_equal(a, b, 32);
    /* bad key lengths and kinds */
    const uint32_t lens[] = { 0, 8, 15, 24, 33, 64 };
    for (size_t i = 0; i < 6; i++)
        for (uint32_t kind = IMPORT_KEY_BINARY; kind <= IMPORT_KEY_SHA512; kind++)
            assert_int_equal(import_derive_key(kind, lens[i], BINKEY, 32, k, &kl), SVTPM_E_INVAL);
    assert_int_equal(import_derive_key(IMPORT_KEY_NONE, 16, BINKEY, 16, k, &kl), SVTPM_E_INVAL);
    assert_int_equal(import_derive_key(99, 16, BINKEY, 16, k, &kl), SVTPM_E_INVAL);
}

/* ---- the whole import into sealed state, then libtpms runs it ---- */

static size_t import_req(uint8_t *r, uint32_t f, int v)
{
    struct wr w = wr_init(r, 16 + SVTPM_KEY_MAX + SVTPM_IMPORT_MAX);
    wr_be32(&w, f);
    wr_be32(&w, V[v].kind);
    wr_be32(&w, V[v].keylen);
    wr_be32(&w, (uint32_t)V[v].slen);
    wr_bytes(&w, V[v].secret, V[v].slen);
    wr_bytes(&w, file[v], file_len[v]);
    assert_true(wr_ok(&w));
    return w.off;
}

static void test_import_and_power_on(void **state)
{
    struct tee_platform plat;
    struct fakehost h;
    struct ocall_ctx oc;
    struct store s;
    struct tpm t;
    testplat_init(&plat, 9);
    uint8_t *req = malloc(16 + SVTPM_KEY_MAX + SVTPM_IMPORT_MAX);
    int order[] = { V_SHA512_256, V_PLAIN };   /* the last one is powered on */
    for (int oi = 0; oi < 2; oi++) {
        int v = order[oi];
        fh_init(&h);
        fh_ctx(&h, &oc);
        assert_int_equal(store_init(&s, &plat, &oc), SVTPM_OK);
        assert_int_equal(tpm_init(&t, &s, &oc), SVTPM_OK);

        /* refused: wrong secret; nothing is written */
        size_t n = import_req(req, STATE_FILE_PERMALL, v);
        if (v != V_PLAIN) {
            req[16] ^= 1;
            struct rd r = rd_init(req, n);
            assert_int_equal(import_swtpm(&s, &oc, &r, false), SVTPM_E_AUTH);
            assert_int_equal(h.writes, 0);
            req[16] ^= 1;
        }
        struct rd r = rd_init(req, n);
        svtpm_err e = import_swtpm(&s, &oc, &r, false);
        if (e)
            fail_msg("%s: import: %s", V[v].name, svtpm_strerror(e));
        assert_int_equal(h.writes, 1);
        /* the sealed state holds exactly the swtpm blob */
        size_t pn;
        uint8_t *plain = unwrap(v, &pn);
        store_fini(&s);
        assert_int_equal(store_init(&s, &plat, &oc), SVTPM_OK);
        t.store = &s;
        uint8_t *out = NULL;
        uint32_t on = 0;
        assert_int_equal(store_load(&s, STATE_FILE_PERMALL, &out, &on), SVTPM_OK);
        assert_int_equal(on, pn);
        assert_memory_equal(out, plain, pn);
        free(out);
        free(plain);

        if (oi == 1) {
            /* libtpms starts from it, twice: the second start reads the
             * sealed store through the callbacks */
            for (int k = 0; k < 2; k++) {
                uint64_t reads = h.reads;
                uint32_t rc = tpm_power_on(&t, 0);
                if (k == 1 && h.reads == reads)
                    fail_msg("second power-on did not read the sealed store");
                if (rc)
                    fail_msg("power-on %d from the imported state: TPM result 0x%x", k, rc);
                /* TPM2_Startup(SU_CLEAR), then TPM2_GetRandom(8) */
                const uint8_t su[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
                const uint8_t cmd[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8 };
                uint8_t resp[64];
                uint32_t rl = 0;
                assert_int_equal(tpm_process(&t, 0, su, sizeof su, resp, sizeof resp, &rl), SVTPM_OK);
                assert_int_equal(rl, 10);
                assert_int_equal(get_be32(resp + 6), 0);
                assert_int_equal(tpm_process(&t, 0, cmd, sizeof cmd, resp, sizeof resp, &rl), SVTPM_OK);
                assert_true(rl >= 10);
                assert_int_equal(get_be32(resp + 6), 0);     /* TPM_RC_SUCCESS */
                assert_int_equal(rl, 10 + 2 + 8);
                tpm_power_off(&t);
            }
            assert_int_equal(h.bad_requests, 0);
        }
        tpm_fini(&t);
        store_fini(&s);
        fh_ctx_free(&oc);
        fh_fini(&h);
    }
    free(req);
}

int main(void)
{
    if (access(SWTPM, X_OK) != 0) {
        printf("SKIP: %s is not installed (apt-get install swtpm): no real swtpm files to import\n", SWTPM);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_headers),
        cmocka_unit_test(test_unwrap_all_same_structure),
        cmocka_unit_test(test_wrong_key_auth),
        cmocka_unit_test(test_key_presence_perm),
        cmocka_unit_test(test_flipped_bytes_auth),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_blob_parse_crafted),
        cmocka_unit_test(test_derive_key),
        cmocka_unit_test(test_import_and_power_on),
    };
    return cmocka_run_group_tests(tests, gen_all, cleanup_all);
}
