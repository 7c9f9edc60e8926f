/* Enclave-side OCALL stubs: they marshal a request into the shared area,
 * hand it to the host, and copy the result into enclave memory (bounded by the
 * call's named limit) before anyone looks at it. */
#ifndef SVTPM_OCALL_H
#define SVTPM_OCALL_H
#include <stdint.h>
#include <stddef.h>
#include "chan.h"

struct ocall_ctx {
    struct chan *chan;
    uint8_t *resp;          /* private copy of the last OCALL result */
    size_t resp_cap;
};

/* Where to marshal the next OCALL request (the shared area). */
uint8_t *ocall_req(struct ocall_ctx *o);
/* Runs OCALL `id` with `req_len` bytes already marshalled; on success *resp
 * points at the private copy of the result (valid until the next OCALL). */
svtpm_err ocall_invoke(struct ocall_ctx *o, uint32_t id, uint32_t req_len,
                       const uint8_t **resp, uint32_t *resp_len);

enum log_level { LOG_ERR = 1, LOG_WARN = 2, LOG_INFO = 3, LOG_DEBUG = 4 };
void elog(struct ocall_ctx *o, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
