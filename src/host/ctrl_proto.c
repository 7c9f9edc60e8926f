#include "ctrl_proto.h"
#include "abi.h"
#include "bytes.h"
#include <string.h>

static const struct ctrl_desc table[] = {
    { CMD_GET_CAPABILITY,       "GET_CAPABILITY",       0, 0, 8 },
    { CMD_INIT,                 "INIT",                 4, 4, 4 },
    { CMD_SHUTDOWN,             "SHUTDOWN",             0, 0, 4 },
    { CMD_GET_TPMESTABLISHED,   "GET_TPMESTABLISHED",   0, 0, 8 },
    { CMD_SET_LOCALITY,         "SET_LOCALITY",         1, 4, 4 },
    { CMD_HASH_START,           "HASH_START",           0, 0, 4 },
    { CMD_HASH_DATA,            "HASH_DATA",            4, 4, 4 },   /* + length */
    { CMD_HASH_END,             "HASH_END",             0, 0, 4 },
    { CMD_CANCEL_TPM_CMD,       "CANCEL_TPM_CMD",       0, 0, 4 },
    { CMD_STORE_VOLATILE,       "STORE_VOLATILE",       0, 0, 4 },
    { CMD_RESET_TPMESTABLISHED, "RESET_TPMESTABLISHED", 1, 4, 4 },
    { CMD_GET_STATEBLOB,        "GET_STATEBLOB",        12, 12, 16 },
    { CMD_SET_STATEBLOB,        "SET_STATEBLOB",        12, 12, 4 }, /* + length */
    { CMD_STOP,                 "STOP",                 0, 0, 4 },
    { CMD_GET_CONFIG,           "GET_CONFIG",           0, 0, 8 },
    { CMD_SET_DATAFD,           "SET_DATAFD",           0, 0, 4 },
    { CMD_SET_BUFFERSIZE,       "SET_BUFFERSIZE",       4, 4, 16 },
    { CMD_GET_INFO,             "GET_INFO",             16, 16, 4 },
    { CMD_LOCK_STORAGE,         "LOCK_STORAGE",         4, 4, 4 },
};

const struct ctrl_desc *ctrl_desc(uint32_t code)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

/* Bodies after the fixed part, with their limits. */
static svtpm_err body_len(uint32_t code, const uint8_t *fixed, size_t *n)
{
    *n = 0;
    if (code == CMD_HASH_DATA) {
        uint32_t l = get_be32(fixed);
        if (l > PTM_HASH_DATA_MAX)
            return SVTPM_E_INVAL;
        *n = l;
    } else if (code == CMD_SET_STATEBLOB) {
        uint32_t l = get_be32(fixed + 8);
        if (l > SVTPM_SEALED_REC_MAX)
            return SVTPM_E_INVAL;
        *n = l;
    }
    return SVTPM_OK;
}

svtpm_err ctrl_need(const uint8_t *buf, size_t len, size_t *need)
{
    if (len < 4) {
        *need = 4 - len;
        return SVTPM_OK;
    }
    const struct ctrl_desc *d = ctrl_desc(get_be32(buf));
    size_t have = len - 4;
    *need = 0;
    if (!d)
        return SVTPM_OK;
    if (have < d->req_min) {
        *need = d->req_min - have;
        return SVTPM_OK;
    }
    size_t body;
    svtpm_err err = body_len(d->code, buf + 4, &body);
    if (err)
        return err;
    size_t total = d->req_min + body;
    *need = have < total ? total - have : 0;
    return SVTPM_OK;
}

svtpm_err ctrl_parse(const uint8_t *buf, size_t len, struct ctrl_req *r)
{
    memset(r, 0, sizeof *r);
    struct rd rd = rd_init(buf, len);
    r->code = rd_be32(&rd);
    if (!rd_ok(&rd))
        return SVTPM_E_INVAL;
    r->d = ctrl_desc(r->code);
    r->payload = buf + 4;
    r->payload_len = len - 4;
    if (!r->d)
        return SVTPM_OK;
    if (r->payload_len < r->d->req_min)
        return SVTPM_E_INVAL;
    switch (r->code) {
    case CMD_INIT:
    case CMD_SET_BUFFERSIZE:
    case CMD_LOCK_STORAGE:
        r->u32a = rd_be32(&rd);
        break;
    case CMD_SET_LOCALITY:
    case CMD_RESET_TPMESTABLISHED:
        /* QEMU sends the byte plus 3 zero bytes, the TSS only the byte */
        r->loc = rd_u8(&rd);
        rd_ptr(&rd, rd_left(&rd) <= 3 ? rd_left(&rd) : SIZE_MAX);
        break;
    case CMD_HASH_DATA:
        r->data_len = rd_be32(&rd);
        if (r->data_len > PTM_HASH_DATA_MAX)
            return SVTPM_E_INVAL;
        r->data = rd_ptr(&rd, r->data_len);
        break;
    case CMD_GET_STATEBLOB:
        r->u32a = rd_be32(&rd);
        r->u32b = rd_be32(&rd);
        r->u32c = rd_be32(&rd);
        break;
    case CMD_SET_STATEBLOB:
        r->u32a = rd_be32(&rd);
        r->u32b = rd_be32(&rd);
        r->data_len = rd_be32(&rd);
        if (r->data_len > SVTPM_SEALED_REC_MAX)
            return SVTPM_E_INVAL;
        r->data = rd_ptr(&rd, r->data_len);
        break;
    case CMD_GET_INFO:
        r->u64 = rd_be64(&rd);
        r->u32a = rd_be32(&rd);   /* offset */
        rd_be32(&rd);             /* pad */
        break;
    default:
        break;
    }
    /* Exact length: nothing may follow a complete request. */
    if (!rd_ok(&rd) || rd_left(&rd) != 0)
        return SVTPM_E_INVAL;
    return SVTPM_OK;
}

size_t ctrl_error_reply(uint32_t code, uint32_t result, uint8_t *out, size_t cap)
{
    const struct ctrl_desc *d = ctrl_desc(code);
    size_t n = d ? d->err_reply : 4;
    if (n > cap)
        n = cap;
    memset(out, 0, n);
    if (n >= 4)
        put_be32(out, result);
    return n;
}
