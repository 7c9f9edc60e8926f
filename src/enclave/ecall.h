/* The enclave's entry table. Each ECALL is copied out of the shared area into
 * enclave memory (bounded by its named limit) before its handler parses it. */
#ifndef SVTPM_ECALL_H
#define SVTPM_ECALL_H
#include "binding.h"
#include "chan.h"
#include "ocall.h"
#include "platform.h"
#include "store.h"
#include "tpm.h"

struct enclave {
    struct chan chan;
    struct ocall_ctx oc;
    struct tee_platform plat;
    struct store store;
    struct tpm tpm;
    struct binding binding;
    uint8_t *req;            /* private copy of the current ECALL request */
    size_t req_cap;
    bool initialised;
};

svtpm_err enclave_setup(struct enclave *e);
void enclave_teardown(struct enclave *e);
/* Handles one ECALL; waits for it first. Returns an error only when the
 * channel itself is broken. */
svtpm_err enclave_serve_one(struct enclave *e);
/* The dispatcher without the transport, for tests and the fuzzer: `req` is
 * already enclave memory; the response goes to resp (cap bytes). */
svtpm_err enclave_dispatch(struct enclave *e, uint32_t call, const uint8_t *req, uint32_t len,
                           uint8_t *resp, uint32_t cap, uint32_t *resp_len);

#endif
