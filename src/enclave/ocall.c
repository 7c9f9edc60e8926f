#include "ocall.h"
#include "bytes.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

uint8_t *ocall_req(struct ocall_ctx *o)
{
    o->composing = true;
    return o->chan ? o->chan->shm->data : o->fake_req;
}

svtpm_err ocall_invoke(struct ocall_ctx *o, uint32_t id, uint32_t req_len,
                       const uint8_t **resp, uint32_t *resp_len)
{
    const struct svtpm_call_desc *d = abi_ocall(id);
    o->composing = false;
    if (!d || req_len > d->req_max)
        return SVTPM_E_INVAL;
    if (!o->chan) {
        uint32_t n = 0;
        svtpm_err e = o->fake(o->fake_ud, id, o->fake_req, req_len, o->resp,
                              d->resp_max < o->resp_cap ? d->resp_max : (uint32_t)o->resp_cap, &n);
        if (resp)
            *resp = o->resp;
        if (resp_len)
            *resp_len = n;
        return e;
    }
    chan_post(o->chan, TURN_OCALL, id, 0, req_len);
    uint32_t turn;
    svtpm_err err = chan_wait(o->chan, TURN_BIT(TURN_OCALL_RET), -1, &turn);
    if (err)
        return err;
    struct chan_shm *s = o->chan->shm;
    /* Read the host's answer fields once; the host may change them later. */
    uint32_t status = *(volatile uint32_t *)&s->status;
    uint32_t len = *(volatile uint32_t *)&s->len;
    if (len > d->resp_max || len > o->resp_cap)
        return SVTPM_E_PROTO;
    if (status >= SVTPM_E__COUNT)
        return SVTPM_E_PROTO;
    memcpy(o->resp, s->data, len);
    if (resp)
        *resp = o->resp;
    if (resp_len)
        *resp_len = len;
    return (svtpm_err)status;
}

void elog(struct ocall_ctx *o, enum log_level lvl, const char *fmt, ...)
{
    uint8_t *p = ocall_req(o);
    put_be32(p, lvl);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)p + 4, SVTPM_LOG_MAX, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((unsigned)n >= SVTPM_LOG_MAX)
        n = SVTPM_LOG_MAX - 1;
    ocall_invoke(o, OCALL_LOG, 4 + (uint32_t)n, NULL, NULL);
}
