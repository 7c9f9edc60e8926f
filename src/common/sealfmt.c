#include "sealfmt.h"
#include "bytes.h"
#include <string.h>

/* Offsets: magic 0..8, version 8, hdr_len 10, kind 12, seq 16, vtpm_id 24,
 * key_id 40, key_policy 72, isv_svn 74, isv_prod_id 76, reserved 78,
 * cpu_svn 80, signer 96, iv 128, payload_len 140, tenant 144, bind_gen 176,
 * flags 180, clock_tie 184 (with SEAL_F_CLOCK_TIE; else reserved 0). */

void seal_hdr_pack(const struct seal_hdr *h, uint8_t out[SEAL_HDR_LEN])
{
    struct wr w = wr_init(out, SEAL_HDR_LEN);
    wr_bytes(&w, SEAL_MAGIC, 8);
    wr_be16(&w, h->version);
    wr_be16(&w, SEAL_HDR_LEN);
    wr_be32(&w, h->kind);
    wr_be64(&w, h->seq);
    wr_bytes(&w, h->vtpm_id, 16);
    wr_bytes(&w, h->key_id, 32);
    wr_be16(&w, h->key_policy);
    wr_be16(&w, h->isv_svn);
    wr_be16(&w, h->isv_prod_id);
    wr_zero(&w, 2);
    wr_bytes(&w, h->cpu_svn, 16);
    wr_bytes(&w, h->signer, 32);
    wr_bytes(&w, h->iv, SEAL_IV_LEN);
    wr_be32(&w, h->payload_len);
    wr_bytes(&w, h->tenant, 32);
    wr_be32(&w, h->bind_gen);
    wr_be32(&w, h->flags);
    wr_be64(&w, h->flags & SEAL_F_CLOCK_TIE ? (uint64_t)h->clock_tie : 0);
    wr_zero(&w, SEAL_HDR_LEN - w.off);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= p[i];
    return d == 0;
}

svtpm_err seal_hdr_parse(const uint8_t *buf, size_t avail, struct seal_hdr *h)
{
    if (avail < SEAL_HDR_LEN)
        return SVTPM_E_TRUNCATED;
    struct rd r = rd_init(buf, SEAL_HDR_LEN);
    const uint8_t *magic = rd_ptr(&r, 8);
    if (!magic || memcmp(magic, SEAL_MAGIC, 8) != 0)
        return SVTPM_E_FORMAT;
    h->version = rd_be16(&r);
    uint16_t hdr_len = rd_be16(&r);
    h->kind = rd_be32(&r);
    h->seq = rd_be64(&r);
    rd_bytes(&r, h->vtpm_id, 16);
    rd_bytes(&r, h->key_id, 32);
    h->key_policy = rd_be16(&r);
    h->isv_svn = rd_be16(&r);
    h->isv_prod_id = rd_be16(&r);
    const uint8_t *rsv1 = rd_ptr(&r, 2);
    rd_bytes(&r, h->cpu_svn, 16);
    rd_bytes(&r, h->signer, 32);
    rd_bytes(&r, h->iv, SEAL_IV_LEN);
    h->payload_len = rd_be32(&r);
    rd_bytes(&r, h->tenant, 32);
    h->bind_gen = rd_be32(&r);
    h->flags = rd_be32(&r);
    const uint8_t *tie = rd_ptr(&r, 8);
    h->clock_tie = tie ? (int64_t)get_be64(tie) : 0;
    const uint8_t *rsv2 = rd_ptr(&r, SEAL_HDR_LEN - 192);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;
    if (h->version != SEAL_FORMAT_V2 || hdr_len != SEAL_HDR_LEN)
        return SVTPM_E_FORMAT;
    if (!all_zero(rsv1, 2) || !all_zero(rsv2, SEAL_HDR_LEN - 192) ||
        (h->flags & ~(SEAL_F_NRS | SEAL_F_CLOCK_TIE)))
        return SVTPM_E_FORMAT;
    /* the tie only in a permanent-state migration blob; else the bytes are zero */
    if ((h->flags & SEAL_F_CLOCK_TIE) ? h->kind != SEAL_KIND_MIG_PERMALL : !all_zero(tie, 8))
        return SVTPM_E_FORMAT;
    if (h->kind < SEAL_KIND_PERMALL || h->kind > SEAL_KIND_NRS)
        return SVTPM_E_FORMAT;
    if (h->key_policy != SEAL_POLICY_MRSIGNER && h->key_policy != SEAL_POLICY_MRENCLAVE)
        return SVTPM_E_FORMAT;
    if (h->payload_len > SVTPM_STATE_PLAIN_MAX)
        return SVTPM_E_TOOBIG;
    if (seal_rec_len(h->payload_len) > avail)
        return SVTPM_E_TRUNCATED;
    return SVTPM_OK;
}

size_t seal_slot_extent(const uint8_t *hdr, size_t avail)
{
    static const uint8_t zero[SEAL_HDR_LEN];
    if (avail < SEAL_HDR_LEN)
        return avail;
    if (memcmp(hdr, zero, SEAL_HDR_LEN) == 0)
        return 0;
    if (memcmp(hdr, SEAL_MAGIC, 8) != 0)
        return SEAL_HDR_LEN;
    uint32_t plen = get_be32(hdr + 140);
    size_t want = plen <= SVTPM_STATE_PLAIN_MAX ? seal_rec_len(plen) : SEAL_HDR_LEN;
    return want < avail ? want : avail;
}
