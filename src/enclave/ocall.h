/* Enclave-side OCALL stubs: they marshal a request into the shared area,
 * hand it to the host, and copy the result into enclave memory (bounded by the
 * call's named limit) before anyone looks at it. */
#ifndef SVTPM_OCALL_H
#define SVTPM_OCALL_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "chan.h"

/* A host reachable without the channel: tests and fuzzers run the enclave
 * modules in-process against a fake host. The reply goes to resp (cap bytes). */
typedef svtpm_err (*ocall_host_fn)(void *ud, uint32_t id, const uint8_t *req, uint32_t len,
                                   uint8_t *resp, uint32_t cap, uint32_t *resp_len);

struct ocall_ctx {
    struct chan *chan;      /* the real host; NULL with a fake one */
    ocall_host_fn fake;
    void *fake_ud;
    uint8_t *fake_req;      /* request buffer used with a fake host */
    uint8_t *resp;          /* private copy of the last OCALL result */
    bool composing;         /* a request is being marshalled into ocall_req()'s
                               area (until ocall_invoke): no other OCALL now */
    size_t resp_cap;
};

/* Where to marshal the next OCALL request (the shared area). */
uint8_t *ocall_req(struct ocall_ctx *o);
/* Runs OCALL `id` with `req_len` bytes already marshalled; on success *resp
 * points at the private copy of the result (valid until the next OCALL). */
svtpm_err ocall_invoke(struct ocall_ctx *o, uint32_t id, uint32_t req_len,
                       const uint8_t **resp, uint32_t *resp_len);

/* LOG_AUDIT: a refused attack. The host keeps these as audit records
 * ("attack=NAME detail"), apart from ordinary log lines. */
enum log_level { LOG_AUDIT = 0, LOG_ERR = 1, LOG_WARN = 2, LOG_INFO = 3, LOG_DEBUG = 4 };
void elog(struct ocall_ctx *o, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define eaudit(o, attack, ...) elog((o), LOG_AUDIT, "attack=" attack " " __VA_ARGS__)

#endif
