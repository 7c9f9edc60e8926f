#include "timetoken.h"
#include "bytes.h"
#include <string.h>

_Static_assert(TIMETOKEN_SIGNED_LEN == 8 + 2 + 2 + 32 + 8 + 4 + 4 + 32, "signed part of the time token");
_Static_assert(TIMETOKEN_SIG_LEN == 64, "Ed25519 signature");

size_t timetoken_pack_body(const struct timetoken *t, uint8_t *out, size_t cap)
{
    if (t->time_ms == 0 || cap < TIMETOKEN_SIGNED_LEN)
        return 0;
    struct wr w = wr_init(out, cap);
    wr_bytes(&w, TIMETOKEN_MAGIC, 8);
    wr_be16(&w, TIMETOKEN_VERSION);
    wr_be16(&w, 0);                    /* flags */
    wr_bytes(&w, t->nonce, 32);
    wr_be64(&w, t->time_ms);
    wr_be32(&w, t->accuracy_ms);
    wr_be32(&w, 0);                    /* reserved */
    wr_bytes(&w, t->authority_id, 32);
    return wr_ok(&w) && w.off == TIMETOKEN_SIGNED_LEN ? w.off : 0;
}

svtpm_err timetoken_parse(const uint8_t *buf, size_t len, struct timetoken *t)
{
    memset(t, 0, sizeof *t);
    if (len != TIMETOKEN_LEN)
        return len < TIMETOKEN_LEN ? SVTPM_E_TRUNCATED : SVTPM_E_TOOBIG;
    struct timetoken g;
    struct rd r = rd_init(buf, len);
    const uint8_t *magic = rd_ptr(&r, 8);
    uint16_t version = rd_be16(&r), flags = rd_be16(&r);
    rd_bytes(&r, g.nonce, 32);
    g.time_ms = rd_be64(&r);
    g.accuracy_ms = rd_be32(&r);
    uint32_t reserved = rd_be32(&r);
    rd_bytes(&r, g.authority_id, 32);
    rd_bytes(&r, g.signature, 64);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;      /* not reached: the length is exact */
    if (memcmp(magic, TIMETOKEN_MAGIC, 8) != 0 || version != TIMETOKEN_VERSION || flags || reserved ||
        g.time_ms == 0)
        return SVTPM_E_FORMAT;
    *t = g;                            /* only a well-formed token reaches the caller */
    return SVTPM_OK;
}
