#include "seal.h"
#include "bytes.h"
#include "crypto.h"
#include <string.h>

static svtpm_err derive(const struct tee_platform *p, const struct seal_hdr *h, uint8_t key[32])
{
    struct tee_keyreq req = {
        .key_name = TEE_KEY_SEAL,
        .policy = h->key_policy,
        .isv_svn = h->isv_svn,
    };
    memcpy(req.cpu_svn, h->cpu_svn, 16);
    memcpy(req.key_id, h->key_id, 32);
    uint8_t base[TEE_KEY_LEN];
    svtpm_err err = tee_get_key(p, &req, base);
    if (!err) {
        uint8_t kind[4];
        put_be32(kind, h->kind);
        /* The tenant is a KDF input as well as AAD: state sealed under one
         * binding is opened with a different key under any other. */
        struct iovc info[] = { { "svtpm/v2/seal", 13 }, { kind, 4 }, { h->vtpm_id, 16 },
                               { h->tenant, 32 } };
        err = crypto_hkdf(base, sizeof base, h->key_id, 32, info, 4, key, 32);
    }
    secure_wipe(base, sizeof base);
    return err;
}

svtpm_err seal_record(const struct tee_platform *p, struct seal_hdr *h,
                      const uint8_t *plain, uint32_t len, uint8_t *out, size_t cap)
{
    uint8_t key[32];
    svtpm_err err = SVTPM_E_TOOBIG;
    /* The reader's limit, not the slot's: a record no reader accepts must
     * never be written (it would retire the good one). */
    if (len > SVTPM_STATE_PLAIN_MAX || seal_rec_len(len) > cap)
        goto out;
    h->version = SEAL_FORMAT_V2;
    h->key_policy = SEAL_POLICY_MRSIGNER;
    h->isv_svn = p->id.isv_svn;
    h->isv_prod_id = p->id.isv_prod_id;
    memcpy(h->cpu_svn, p->id.cpu_svn, 16);
    memcpy(h->signer, p->id.mrsigner, 32);
    h->payload_len = len;
    err = crypto_random(h->iv, SEAL_IV_LEN);
    if (err)
        goto out;
    err = derive(p, h, key);
    if (err)
        goto out;
    seal_hdr_pack(h, out);
    err = crypto_gcm_seal(key, h->iv, out, SEAL_HDR_LEN, plain, len,
                          out + SEAL_HDR_LEN, out + SEAL_HDR_LEN + len);
out:
    secure_wipe(key, sizeof key);
    return err;
}

svtpm_err seal_open(const struct tee_platform *p, const uint8_t *rec, size_t avail,
                    struct seal_hdr *h, uint8_t *plain, uint32_t *len)
{
    uint8_t key[32];
    svtpm_err err = seal_hdr_parse(rec, avail, h);
    if (err)
        goto out;
    /* A header naming another signer or product, or a newer SVN, asks for a
     * key this enclave may not derive: the record cannot be authenticated
     * here, so it may be another enclave's, or a damaged header. */
    const uint8_t *expect = h->key_policy == SEAL_POLICY_MRSIGNER ? p->id.mrsigner : p->id.mrenclave;
    if (!ct_equal(h->signer, expect, 32) || h->isv_prod_id != p->id.isv_prod_id) {
        err = SVTPM_E_PERM;
        goto out;
    }
    err = derive(p, h, key);
    if (err)
        goto out;
    err = crypto_gcm_open(key, h->iv, rec, SEAL_HDR_LEN, rec + SEAL_HDR_LEN, h->payload_len,
                          rec + SEAL_HDR_LEN + h->payload_len, plain);
    if (!err)
        *len = h->payload_len;
out:
    secure_wipe(key, sizeof key);
    return err;
}
