#include "swtpm_blob.h"
#include "bytes.h"
#include <string.h>

svtpm_err swtpm_blob_parse(const uint8_t *buf, size_t len, struct swtpm_blob *b)
{
    memset(b, 0, sizeof *b);
    struct rd r = rd_init(buf, len);
    uint8_t version = rd_u8(&r);
    uint8_t min_version = rd_u8(&r);
    uint16_t hdrsize = rd_be16(&r);
    b->flags = rd_be16(&r);
    uint32_t totlen = rd_be32(&r);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;
    if (version != 2 || min_version > 2 || hdrsize != SWTPM_BLOB_HDR_LEN)
        return SVTPM_E_FORMAT;
    if (totlen != len)
        return totlen > len ? SVTPM_E_TRUNCATED : SVTPM_E_FORMAT;
    while (rd_left(&r)) {
        uint16_t tag = rd_be16(&r);
        uint32_t n = rd_be32(&r);
        const uint8_t *v = rd_ptr(&r, n);
        if (!rd_ok(&r))
            return SVTPM_E_TRUNCATED;
        const uint8_t **slot = NULL;
        size_t *slen = NULL;
        switch (tag) {
        case SWTPM_TAG_DATA: slot = &b->data; slen = &b->data_len; break;
        case SWTPM_TAG_ENCRYPTED_DATA: slot = &b->enc; slen = &b->enc_len; break;
        case SWTPM_TAG_HMAC: slot = &b->hmac; slen = &b->hmac_len; break;
        case SWTPM_TAG_IVEC_ENCRYPTED_DATA: slot = &b->iv; slen = &b->iv_len; break;
        default: break;
        }
        if (slot && !*slot) {
            *slot = v;
            *slen = n;
        }
    }
    if (b->flags & SWTPM_FLAG_ENCRYPTED) {
        if (!b->enc || !b->hmac || !b->iv)
            return SVTPM_E_FORMAT;
    } else if (!b->data) {
        return SVTPM_E_FORMAT;
    }
    return SVTPM_OK;
}
