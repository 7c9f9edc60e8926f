/* The ECALL/OCALL transport: one shared-memory message area and a futex.
 *
 * One side owns the area at a time; `turn` says who. The host posts an ECALL,
 * the enclave either answers it or posts OCALLs (nested, any number) and then
 * answers. Each side writes its message straight into the shared area and the
 * receiver copies it out once, so a message crosses with one copy each way.
 * Waiting spins for a bounded time (the peer usually answers within
 * microseconds) and then sleeps on the futex, so an idle vTPM costs no CPU.
 *
 * This file is transport only; it never interprets payloads. */
#ifndef SVTPM_CHAN_H
#define SVTPM_CHAN_H
#include <stdint.h>
#include <stdatomic.h>
#include "abi.h"
#include "err.h"

enum chan_turn {
    TURN_IDLE = 0,       /* host owns; nothing pending */
    TURN_ECALL = 1,      /* enclave owns: an ECALL request */
    TURN_OCALL = 2,      /* host owns: an OCALL request */
    TURN_OCALL_RET = 3,  /* enclave owns: the OCALL result */
    TURN_ECALL_RET = 4,  /* host owns: the ECALL result */
};
#define TURN_BIT(t) (1u << (t))

#define CHAN_MAGIC 0x7376636eu /* "svcn" */

struct chan_shm {
    _Atomic uint32_t turn;      /* futex word */
    _Atomic uint32_t sleepers;  /* bit 0: host asleep, bit 1: enclave asleep */
    uint32_t magic, version;
    uint32_t call;              /* ECALL/OCALL id */
    uint32_t status;            /* svtpm_err of a returning call */
    uint32_t len;               /* payload bytes in data[] */
    _Atomic int32_t cpu[2];     /* CPU each side last ran on (spinning is
                                   useless when the peer needs this CPU) */
    uint8_t data[SVTPM_CHAN_DATA_MAX];
};

enum chan_side { CHAN_HOST = 0, CHAN_ENCLAVE = 1 };

struct chan {
    struct chan_shm *shm;
    enum chan_side side;
    /* Spinning before sleeping saves a cross-CPU wake-up (costly in a VM)
     * when the peer answers soon. It adapts: the side spins only while its
     * recent waits were shorter than spin_max_ns, and for about twice their
     * average, so an idle vTPM never spins. 0 disables spinning. */
    uint32_t spin_max_ns;
    uint32_t wait_avg_ns;       /* moving average of recent waits */
};

/* Host: create the shared area (a sealed memfd) and map it. */
svtpm_err chan_create(struct chan *c, int *memfd_out);
/* Enclave: map the area the host created. */
svtpm_err chan_attach(struct chan *c, int memfd);
void chan_unmap(struct chan *c);

/* Hand the area to the peer with `turn`; the payload is already in data[]. */
void chan_post(struct chan *c, uint32_t turn, uint32_t call, uint32_t status, uint32_t len);

/* Wait until `turn` is one of `mask`. timeout_ms < 0 waits forever; on
 * timeout returns SVTPM_E_TIMEOUT so the caller can check the peer is alive. */
svtpm_err chan_wait(struct chan *c, uint32_t mask, int timeout_ms, uint32_t *turn_out);

#endif
