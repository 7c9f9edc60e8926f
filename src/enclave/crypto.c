#include "crypto.h"
#include "bytes.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

/* Write-once algorithm handles (see crypto.h). */
static EVP_CIPHER *aes256gcm;
static EVP_MD *sha256;

svtpm_err crypto_init(void)
{
    if (aes256gcm)
        return SVTPM_OK;
    /* Never the host's openssl.cnf: it is untrusted input that can load
     * providers and engines into the enclave (and parsing it costs ~0.5 ms
     * of every launch). Set first, so libtpms' own use of OpenSSL does not
     * load it either. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    uint8_t b[16];
    if (!aes256gcm || !sha256 || RAND_bytes(b, sizeof b) != 1)
        return SVTPM_E_CRYPTO;
    return SVTPM_OK;
}

svtpm_err crypto_random(void *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? SVTPM_OK : SVTPM_E_CRYPTO;
}

svtpm_err crypto_sha256(const struct iovc *parts, size_t nparts, uint8_t out[32])
{
    svtpm_err err = SVTPM_E_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, sha256, NULL) != 1)
        goto out;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n && EVP_DigestUpdate(ctx, parts[i].p, parts[i].n) != 1)
            goto out;
    if (EVP_DigestFinal_ex(ctx, out, NULL) == 1)
        err = SVTPM_OK;
out:
    EVP_MD_CTX_free(ctx);
    return err;
}

svtpm_err crypto_sha256_begin(struct crypto_hash **h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, sha256, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    *h = (struct crypto_hash *)ctx;
    return ctx ? SVTPM_OK : SVTPM_E_CRYPTO;
}

svtpm_err crypto_sha256_update(struct crypto_hash *h, const void *p, size_t n)
{
    return !n || EVP_DigestUpdate((EVP_MD_CTX *)h, p, n) == 1 ? SVTPM_OK : SVTPM_E_CRYPTO;
}

svtpm_err crypto_sha256_end(struct crypto_hash *h, uint8_t out[32])
{
    svtpm_err err = h && EVP_DigestFinal_ex((EVP_MD_CTX *)h, out, NULL) == 1 ? SVTPM_OK : SVTPM_E_CRYPTO;
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
    return err;
}

/* HMAC-SHA256 (RFC 2104) over the pre-fetched SHA-256: EVP_MAC would look
 * the digest up by name on every call, which dominated opening the state. */
svtpm_err crypto_hmac_sha256(const void *key, size_t keylen,
                             const struct iovc *parts, size_t nparts, uint8_t out[32])
{
    uint8_t k[64] = { 0 }, pad[64], inner[32];
    svtpm_err err = SVTPM_E_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        goto out;
    if (keylen > sizeof k) {
        if (EVP_DigestInit_ex(ctx, sha256, NULL) != 1 || EVP_DigestUpdate(ctx, key, keylen) != 1 ||
            EVP_DigestFinal_ex(ctx, k, NULL) != 1)
            goto out;
    } else if (keylen) {
        memcpy(k, key, keylen);
    }
    for (size_t i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    if (EVP_DigestInit_ex(ctx, sha256, NULL) != 1 || EVP_DigestUpdate(ctx, pad, 64) != 1)
        goto out;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n && EVP_DigestUpdate(ctx, parts[i].p, parts[i].n) != 1)
            goto out;
    if (EVP_DigestFinal_ex(ctx, inner, NULL) != 1)
        goto out;
    for (size_t i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    if (EVP_DigestInit_ex(ctx, sha256, NULL) != 1 || EVP_DigestUpdate(ctx, pad, 64) != 1 ||
        EVP_DigestUpdate(ctx, inner, 32) != 1 || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        goto out;
    err = SVTPM_OK;
out:
    EVP_MD_CTX_free(ctx);
    secure_wipe(k, sizeof k);
    secure_wipe(pad, sizeof pad);
    secure_wipe(inner, sizeof inner);
    return err;
}

svtpm_err crypto_hkdf(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                      const struct iovc *info, size_t ninfo, uint8_t *out, size_t out_len)
{
    uint8_t prk[32], t[32];
    svtpm_err err = SVTPM_E_INVAL;
    if (out_len > 64)
        goto out;
    struct iovc ex = { ikm, ikm_len };
    err = crypto_hmac_sha256(salt, salt_len, &ex, 1, prk);
    size_t done = 0, tlen = 0;
    for (uint8_t ctr = 1; err == SVTPM_OK && done < out_len; ctr++) {
        struct iovc parts[10];
        size_t n = 0;
        parts[n++] = (struct iovc){ t, tlen };
        for (size_t i = 0; i < ninfo && n < 9; i++)
            parts[n++] = info[i];
        parts[n++] = (struct iovc){ &ctr, 1 };
        err = crypto_hmac_sha256(prk, sizeof prk, parts, n, t);
        tlen = 32;
        size_t take = out_len - done < 32 ? out_len - done : 32;
        memcpy(out + done, t, take);
        done += take;
    }
out:
    secure_wipe(prk, sizeof prk);
    secure_wipe(t, sizeof t);
    return err;
}

static svtpm_err gcm(int enc, const uint8_t key[32], const uint8_t iv[12],
                     const void *aad, size_t aad_len, const void *in, size_t len,
                     uint8_t tag[16], uint8_t *out)
{
    svtpm_err err = SVTPM_E_CRYPTO;
    int outl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || len > INT32_MAX || aad_len > INT32_MAX)
        goto out;
    if (EVP_CipherInit_ex(ctx, aes256gcm, NULL, key, iv, enc) != 1)
        goto out;
    if (aad_len && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1)
        goto out;
    if (len && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + outl, &outl) != 1) {
        err = enc ? SVTPM_E_CRYPTO : SVTPM_E_AUTH;
        if (!enc)
            secure_wipe(out, len);
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        goto out;
    err = SVTPM_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return err;
}

svtpm_err crypto_gcm_seal(const uint8_t key[32], const uint8_t iv[12],
                          const void *aad, size_t aad_len, const void *in, size_t len,
                          uint8_t *out, uint8_t tag[16])
{
    return gcm(1, key, iv, aad, aad_len, in, len, tag, out);
}

svtpm_err crypto_gcm_open(const uint8_t key[32], const uint8_t iv[12],
                          const void *aad, size_t aad_len, const void *in, size_t len,
                          const uint8_t tag[16], uint8_t *out)
{
    return gcm(0, key, iv, aad, aad_len, in, len, (uint8_t *)tag, out);
}

svtpm_err crypto_cbc_decrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16],
                             const void *in, size_t len, uint8_t *out)
{
    svtpm_err err = SVTPM_E_CRYPTO;
    int outl = 0, fin = 0;
    const EVP_CIPHER *c = keylen == 16 ? EVP_aes_128_cbc() : keylen == 32 ? EVP_aes_256_cbc() : NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!c || !ctx || len % 16 || len > INT32_MAX) {
        err = SVTPM_E_INVAL;
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, c, NULL, key, iv) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
        goto out;
    if (EVP_DecryptUpdate(ctx, out, &outl, in, (int)len) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + outl, &fin) != 1)
        goto out;
    err = SVTPM_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return err;
}

svtpm_err crypto_ed25519_verify(const uint8_t pub[32], const void *msg, size_t len,
                                const uint8_t sig[64])
{
    svtpm_err err = SVTPM_E_AUTH;
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!pk || !ctx) {
        err = SVTPM_E_CRYPTO;
        goto out;
    }
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
        EVP_DigestVerify(ctx, sig, 64, msg, len) == 1)
        err = SVTPM_OK;
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return err;
}
