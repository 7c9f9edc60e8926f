#include "import.h"
#include "crypto.h"
#include "swtpm_blob.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <stdlib.h>
#include <string.h>

svtpm_err import_unwrap(const uint8_t *key, size_t keylen, const uint8_t *file, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    struct swtpm_blob b;
    svtpm_err err = swtpm_blob_parse(file, len, &b);
    if (err)
        return err;
    if (!(b.flags & SWTPM_FLAG_ENCRYPTED)) {
        if (keylen)
            return SVTPM_E_PERM;        /* swtpm: with a key the file must be encrypted */
        if (b.data_len > cap)
            return SVTPM_E_TOOBIG;
        memcpy(out, b.data, b.data_len);
        *out_len = b.data_len;
        return SVTPM_OK;
    }
    if (!keylen)
        return SVTPM_E_PERM;            /* encrypted, but no key given */
    if (((b.flags & SWTPM_FLAG_ENCRYPTED_256) != 0) != (keylen == 32))
        return SVTPM_E_AUTH;            /* key length does not match the file */
    if (b.hmac_len != 32 || b.iv_len < 16 || b.enc_len == 0 || b.enc_len % keylen || b.enc_len > cap)
        return SVTPM_E_FORMAT;
    /* swtpm: encrypt-then-MAC, HMAC-SHA256(key, ciphertext || IV TLV value) */
    uint8_t mac[32];
    struct iovc parts[] = { { b.enc, b.enc_len }, { b.iv, b.iv_len } };
    err = crypto_hmac_sha256(key, keylen, parts, 2, mac);
    if (!err && !ct_equal(mac, b.hmac, 32))
        err = SVTPM_E_AUTH;
    if (!err)
        err = crypto_cbc_decrypt(key, keylen, b.iv, b.enc, b.enc_len, out);
    if (!err) {
        /* swtpm pads to a multiple of the key length, pad bytes = pad count */
        uint8_t pad = out[b.enc_len - 1];
        uint8_t bad = pad == 0 || pad > keylen;
        for (size_t i = 0; !bad && i < pad; i++)
            bad |= out[b.enc_len - 1 - i] != pad;
        if (bad) {
            secure_wipe(out, b.enc_len);
            err = SVTPM_E_AUTH;
        } else {
            *out_len = b.enc_len - pad;
        }
    }
    secure_wipe(mac, sizeof mac);
    return err;
}

svtpm_err import_derive_key(uint32_t kind, uint32_t keylen, const uint8_t *secret, size_t slen,
                            uint8_t key[32], size_t *key_len)
{
    svtpm_err err = SVTPM_E_INVAL;
    if (keylen != 16 && keylen != 32)
        return err;
    switch (kind) {
    case IMPORT_KEY_BINARY:
        /* swtpm: 16 or 32 raw bytes, at most the mode's length */
        if ((slen == 16 || slen == 32) && slen <= keylen) {
            memcpy(key, secret, slen);
            *key_len = slen;
            err = SVTPM_OK;
        }
        break;
    case IMPORT_KEY_HEX: {
        size_t i = 0, n = 0;
        if (slen >= 2 && secret[0] == '0' && (secret[1] == 'x' || secret[1] == 'X'))
            i = 2;
        for (; i < slen && !isspace(secret[i]); i++, n++)
            if (!isxdigit(secret[i]) || n >= 2 * keylen)
                return SVTPM_E_INVAL;
        if (n != 2 * keylen)
            return SVTPM_E_INVAL;
        i -= n;
        for (size_t k = 0; k < keylen; k++) {
            char h[3] = { (char)secret[i + 2 * k], (char)secret[i + 2 * k + 1], 0 };
            key[k] = (uint8_t)strtoul(h, NULL, 16);
        }
        *key_len = keylen;
        err = SVTPM_OK;
        break;
    }
    case IMPORT_KEY_PBKDF2:
        /* swtpm: PBKDF2-HMAC-SHA512, salt "swtpm", 1000 iterations */
        if (PKCS5_PBKDF2_HMAC((const char *)secret, (int)slen, (const unsigned char *)"swtpm", 5, 1000,
                              EVP_sha512(), (int)keylen, key) == 1) {
            *key_len = keylen;
            err = SVTPM_OK;
        } else {
            err = SVTPM_E_CRYPTO;
        }
        break;
    case IMPORT_KEY_SHA512: {
        uint8_t d[64];
        unsigned int dl = 0;
        if (EVP_Digest(secret, slen, d, &dl, EVP_sha512(), NULL) == 1) {
            memcpy(key, d, keylen);
            *key_len = keylen;
            err = SVTPM_OK;
        } else {
            err = SVTPM_E_CRYPTO;
        }
        secure_wipe(d, sizeof d);
        break;
    }
    default:
        break;
    }
    return err;
}

svtpm_err import_swtpm(struct store *s, struct ocall_ctx *oc, struct rd *req, bool perm_emptied)
{
    uint32_t file = rd_be32(req);
    uint32_t kind = rd_be32(req);
    uint32_t keylen = rd_be32(req);
    uint32_t slen = rd_be32(req);
    const uint8_t *secret = rd_ptr(req, slen <= SVTPM_KEY_MAX ? slen : SIZE_MAX);
    size_t n = rd_left(req);
    const uint8_t *blob = rd_ptr(req, n);
    uint8_t key[32];
    size_t klen = 0, plen = 0;
    svtpm_err err = SVTPM_E_INVAL;
    if (!rd_ok(req) || (file != STATE_FILE_PERMALL && file != STATE_FILE_VOLATILE))
        goto out;
    if (file == STATE_FILE_VOLATILE && perm_emptied)
        goto out;                       /* libtpms 0.9.2 crashes on this sequence */
    if (kind != IMPORT_KEY_NONE) {
        err = import_derive_key(kind, keylen, secret, slen, key, &klen);
        if (err) {
            if (oc)
                elog(oc, LOG_ERR, "import: the --key material is not a valid swtpm key (%s)", svtpm_strerror(err));
            goto out;
        }
    }
    err = import_unwrap(key, klen, blob, n, s->plain, SVTPM_STATE_PLAIN_MAX, &plen);
    if (err) {
        if (oc)
            elog(oc, LOG_ERR, "import of swtpm %s refused: %s%s", store_file_name(file), svtpm_strerror(err),
                 err == SVTPM_E_PERM ? (klen ? " (the file is not encrypted, but a key was given)"
                                             : " (the file is encrypted: give its --key)") : "");
        goto out;
    }
    /* libtpms checks the blob unmarshals (and, for volatile, matches the
     * permanent state) before it is sealed. */
    enum TPMLIB_StateType st = file == STATE_FILE_PERMALL ? TPMLIB_STATE_PERMANENT : TPMLIB_STATE_VOLATILE;
    if (TPMLIB_SetState(st, s->plain, (uint32_t)plen) != TPM_SUCCESS) {
        if (oc)
            elog(oc, LOG_ERR, "import of swtpm %s refused: libtpms does not accept the state", store_file_name(file));
        err = SVTPM_E_FORMAT;
    } else {
        err = store_save(s, file, s->plain, (uint32_t)plen);
    }
    secure_wipe(s->plain, plen);
out:
    secure_wipe(key, sizeof key);
    return err;
}
