#include "sigstruct.h"
#include "bytes.h"
#include <string.h>

void sigstruct_pack(const struct sigstruct *s, uint8_t out[SIGSTRUCT_LEN])
{
    struct wr w = wr_init(out, SIGSTRUCT_LEN);
    wr_bytes(&w, SIGSTRUCT_MAGIC, 8);
    wr_be16(&w, s->version);
    wr_be16(&w, s->isv_prod_id);
    wr_be16(&w, s->isv_svn);
    wr_be16(&w, 0);
    wr_bytes(&w, s->mrenclave, 32);
    wr_bytes(&w, s->pubkey, 32);
    wr_bytes(&w, s->signature, 64);
}

svtpm_err sigstruct_parse(const uint8_t *buf, size_t len, struct sigstruct *s)
{
    if (len != SIGSTRUCT_LEN)
        return len < SIGSTRUCT_LEN ? SVTPM_E_TRUNCATED : SVTPM_E_TOOBIG;
    struct rd r = rd_init(buf, len);
    const uint8_t *magic = rd_ptr(&r, 8);
    s->version = rd_be16(&r);
    s->isv_prod_id = rd_be16(&r);
    s->isv_svn = rd_be16(&r);
    uint16_t rsv = rd_be16(&r);
    rd_bytes(&r, s->mrenclave, 32);
    rd_bytes(&r, s->pubkey, 32);
    rd_bytes(&r, s->signature, 64);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;
    if (memcmp(magic, SIGSTRUCT_MAGIC, 8) != 0 || s->version != 1 || rsv != 0)
        return SVTPM_E_FORMAT;
    return SVTPM_OK;
}
