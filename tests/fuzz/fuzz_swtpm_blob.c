/* Fuzz target: import of swtpm state files — the blob parser
 * (src/common/swtpm_blob.h) and the enclave's key derivation and unwrapping
 * (src/enclave/import.h import_derive_key, import_unwrap).
 *
 * Every input is used twice:
 *   (a) as a bare swtpm state file: swtpm_blob_parse, then import_unwrap
 *       without a key (what importing a plain file does);
 *   (b) as an ECALL_IMPORT_SWTPM request (import.h): u32 file, u32 key_kind,
 *       u32 keylen, u32 secret_len, secret, swtpm file — the key is derived
 *       and the file unwrapped exactly as import_swtpm() does, into a buffer
 *       of the size it uses and into one just big enough.
 * Invariants: parsed TLV values lie inside the input, right after a TLV
 * header carrying their tag and length; a blob flagged encrypted has its
 * three TLVs, a plain one its data TLV; a derived key is 16 or 32 bytes and
 * a hex key equals its digits; unwrapping a plain file returns its data TLV
 * unchanged, an encrypted one at most the ciphertext less one pad byte, and
 * nothing is written past the output buffer (ASan). */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "bytes.h"
#include "crypto.h"
#include "import.h"
#include "swtpm_blob.h"
#include "fuzz_common.h"

static void check_tlv(const uint8_t *buf, size_t len, const uint8_t *v, size_t n, uint16_t tag)
{
    if (!v)
        return;
    FZ_CHECK(v >= buf + SWTPM_BLOB_HDR_LEN + 6 && v <= buf + len);
    FZ_CHECK(n <= (size_t)(buf + len - v));
    FZ_CHECK(get_be16(v - 6) == tag && get_be32(v - 4) == n);
}

static void parse(const uint8_t *buf, size_t len, struct swtpm_blob *b, svtpm_err *err)
{
    *err = swtpm_blob_parse(buf, len, b);
    if (*err != SVTPM_OK) {
        FZ_CHECK(*err == SVTPM_E_TRUNCATED || *err == SVTPM_E_FORMAT);
        return;
    }
    FZ_CHECK(len >= SWTPM_BLOB_HDR_LEN);
    FZ_CHECK(buf[0] == 2 && buf[1] <= 2 && get_be16(buf + 2) == SWTPM_BLOB_HDR_LEN);
    FZ_CHECK(get_be32(buf + 6) == len && b->flags == get_be16(buf + 4));
    check_tlv(buf, len, b->data, b->data_len, SWTPM_TAG_DATA);
    check_tlv(buf, len, b->enc, b->enc_len, SWTPM_TAG_ENCRYPTED_DATA);
    check_tlv(buf, len, b->hmac, b->hmac_len, SWTPM_TAG_HMAC);
    check_tlv(buf, len, b->iv, b->iv_len, SWTPM_TAG_IVEC_ENCRYPTED_DATA);
    if (b->flags & SWTPM_FLAG_ENCRYPTED)
        FZ_CHECK(b->enc && b->hmac && b->iv);
    else
        FZ_CHECK(b->data != NULL);
}

static void unwrap(const uint8_t *key, size_t keylen, const uint8_t *file, size_t n, size_t cap)
{
    uint8_t *out = malloc(cap ? cap : 1);
    FZ_CHECK(out);
    size_t olen = 0xABCDEF;
    svtpm_err err = import_unwrap(key, keylen, file, n, out, cap, &olen);
    struct swtpm_blob b;
    svtpm_err perr;
    parse(file, n, &b, &perr);
    if (getenv("FZ_VERBOSE"))
        fprintf(stderr, "unwrap keylen %zu cap %zu: %s (%zu bytes)\n", keylen, cap, svtpm_strerror(err),
                err ? 0 : olen);
    if (err == SVTPM_OK) {
        FZ_CHECK(perr == SVTPM_OK);
        FZ_CHECK(olen <= cap);
        if (b.flags & SWTPM_FLAG_ENCRYPTED) {
            FZ_CHECK(keylen == 16 || keylen == 32);
            FZ_CHECK(((b.flags & SWTPM_FLAG_ENCRYPTED_256) != 0) == (keylen == 32));
            FZ_CHECK(b.hmac_len == 32 && b.iv_len >= 16);
            FZ_CHECK(b.enc_len % keylen == 0 && olen < b.enc_len && olen + keylen >= b.enc_len);
        } else {
            FZ_CHECK(keylen == 0);
            FZ_CHECK(olen == b.data_len && memcmp(out, b.data, olen) == 0);
        }
    } else {
        FZ_CHECK(olen == 0xABCDEF);
        if (perr != SVTPM_OK)
            FZ_CHECK(err == perr);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        FZ_CHECK(crypto_init() == SVTPM_OK);
        ready = 1;
    }
    uint8_t *buf = malloc(size ? size : 1);   /* exact size: ASan sees overreads */
    FZ_CHECK(buf);
    memcpy(buf, data, size);

    /* (a) a bare state file, imported without a key */
    struct swtpm_blob b;
    svtpm_err perr;
    parse(buf, size, &b, &perr);
    unwrap(NULL, 0, buf, size, SVTPM_STATE_PLAIN_MAX);

    /* (b) an IMPORT_SWTPM request */
    struct rd r = rd_init(buf, size);
    uint32_t file = rd_be32(&r), kind = rd_be32(&r), keylen = rd_be32(&r), slen = rd_be32(&r);
    const uint8_t *secret = rd_ptr(&r, slen <= SVTPM_KEY_MAX ? slen : SIZE_MAX);
    size_t n = rd_left(&r);
    const uint8_t *blob = rd_ptr(&r, n);
    (void)file;
    if (rd_ok(&r)) {
        uint8_t key[32];
        size_t klen = 0;
        memset(key, 0xEE, sizeof key);
        svtpm_err err = SVTPM_OK;
        if (kind != IMPORT_KEY_NONE) {
            err = import_derive_key(kind, keylen, secret, slen, key, &klen);
            if (err == SVTPM_OK) {
                FZ_CHECK(klen == 16 || klen == 32);
                FZ_CHECK(klen <= keylen);
                if (kind == IMPORT_KEY_BINARY)
                    FZ_CHECK(klen == slen && memcmp(key, secret, klen) == 0);
                if (kind == IMPORT_KEY_HEX) {
                    FZ_CHECK(klen == keylen);
                    size_t i = slen >= 2 && secret[0] == '0' && (secret[1] | 0x20) == 'x' ? 2 : 0;
                    FZ_CHECK(i + 2 * klen <= slen);
                    for (size_t k = 0; k < klen; k++) {
                        char h[3] = { (char)secret[i + 2 * k], (char)secret[i + 2 * k + 1], 0 };
                        FZ_CHECK(isxdigit((unsigned char)h[0]) && isxdigit((unsigned char)h[1]));
                        FZ_CHECK(key[k] == (uint8_t)strtoul(h, NULL, 16));
                    }
                    FZ_CHECK(i + 2 * klen == slen || isspace(secret[i + 2 * klen]));
                }
                if (kind == IMPORT_KEY_PBKDF2 || kind == IMPORT_KEY_SHA512)
                    FZ_CHECK(klen == keylen);
            } else {
                FZ_CHECK(err == SVTPM_E_INVAL || err == SVTPM_E_CRYPTO);
            }
        }
        if (err == SVTPM_OK) {
            unwrap(klen ? key : NULL, klen, blob, n, SVTPM_STATE_PLAIN_MAX);
            unwrap(klen ? key : NULL, klen, blob, n, n);   /* just big enough */
            if (n > 16)
                unwrap(klen ? key : NULL, klen, blob, n, n / 2);   /* too small */
        }
    }
    free(buf);
    return 0;
}
