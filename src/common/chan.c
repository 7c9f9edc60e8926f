#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
    /* Not FUTEX_PRIVATE: the word lives in memory shared by two processes. */
    return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);   /* the host's: the enclave's clock can stand still */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

svtpm_err chan_create(struct chan *c, int *memfd_out)
{
    svtpm_err err = SVTPM_E_IO;
    int fd = memfd_create("svtpm-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        goto out;
    if (ftruncate(fd, sizeof(struct chan_shm)) < 0)
        goto out_close;
    /* Neither side may resize the area under the other. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto out_close;
    void *m = mmap(NULL, sizeof(struct chan_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        goto out_close;
    c->shm = m;
    c->side = CHAN_HOST;
    c->shm->magic = CHAN_MAGIC;
    c->shm->cpu[0] = c->shm->cpu[1] = -1;
    c->shm->version = SVTPM_ABI_VERSION;
    atomic_store(&c->shm->turn, TURN_IDLE);
    *memfd_out = fd;
    return SVTPM_OK;
out_close:
    close(fd);
out:
    return err;
}

svtpm_err chan_attach(struct chan *c, int memfd)
{
    off_t size = lseek(memfd, 0, SEEK_END);
    if (size != (off_t)sizeof(struct chan_shm))
        return SVTPM_E_PROTO;
    void *m = mmap(NULL, sizeof(struct chan_shm), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (m == MAP_FAILED)
        return SVTPM_E_IO;
    c->shm = m;
    c->side = CHAN_ENCLAVE;
    if (c->shm->magic != CHAN_MAGIC || c->shm->version != SVTPM_ABI_VERSION) {
        chan_unmap(c);
        return SVTPM_E_PROTO;
    }
    return SVTPM_OK;
}

void chan_unmap(struct chan *c)
{
    if (c->shm)
        munmap(c->shm, sizeof(struct chan_shm));
    c->shm = NULL;
}

void chan_post(struct chan *c, uint32_t turn, uint32_t call, uint32_t status, uint32_t len)
{
    struct chan_shm *s = c->shm;
    s->call = call;
    s->status = status;
    s->len = len;
    /* seq_cst store, then read the peer's sleeping bit: paired with the
     * sleeper's seq_cst fetch_or and re-check, no wake-up can be lost. */
    atomic_store(&s->turn, turn);
    uint32_t peer_bit = c->side == CHAN_HOST ? 2u : 1u;
    if (atomic_load(&s->sleepers) & peer_bit)
        futex(&s->turn, FUTEX_WAKE, INT_MAX, NULL);
}

svtpm_err chan_wait(struct chan *c, uint32_t mask, int timeout_ms, uint32_t *turn_out)
{
    struct chan_shm *s = c->shm;
    uint32_t my_bit = c->side == CHAN_HOST ? 1u : 2u;
    uint32_t t = atomic_load_explicit(&s->turn, memory_order_acquire);
    uint64_t start = 0;
    if (mask & TURN_BIT(t))
        goto got;

    start = now_ns();
    uint64_t spin = (uint64_t)c->wait_avg_ns * 2;
    int me = sched_getcpu();
    atomic_store_explicit(&s->cpu[c->side], me, memory_order_relaxed);
    int peer = atomic_load_explicit(&s->cpu[c->side ^ 1], memory_order_relaxed);
    if (c->spin_max_ns && spin < c->spin_max_ns && me != peer) {
        if (spin < 2000)
            spin = 2000;
        uint64_t end = start + spin;
        for (unsigned i = 1;; i++) {
            __builtin_ia32_pause();
            t = atomic_load_explicit(&s->turn, memory_order_acquire);
            if (mask & TURN_BIT(t))
                goto got;
            if ((i & 63) == 0 && now_ns() >= end)
                break;
        }
    }

    uint64_t deadline = timeout_ms < 0 ? 0 : now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        atomic_fetch_or(&s->sleepers, my_bit);
        t = atomic_load(&s->turn);
        if (mask & TURN_BIT(t)) {
            atomic_fetch_and(&s->sleepers, ~my_bit);
            goto got;
        }
        struct timespec ts, *tsp = NULL;
        if (timeout_ms >= 0) {
            uint64_t n = now_ns();
            if (n >= deadline) {
                atomic_fetch_and(&s->sleepers, ~my_bit);
                return SVTPM_E_TIMEOUT;
            }
            uint64_t left = deadline - n;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
            tsp = &ts;
        }
        futex(&s->turn, FUTEX_WAIT, t, tsp);
        atomic_fetch_and(&s->sleepers, ~my_bit);
        t = atomic_load_explicit(&s->turn, memory_order_acquire);
        if (mask & TURN_BIT(t))
            goto got;
    }
got:
    if (start) {
        uint64_t waited = now_ns() - start;
        if (waited > UINT32_MAX)
            waited = UINT32_MAX;
        c->wait_avg_ns = (uint32_t)(((uint64_t)c->wait_avg_ns * 7 + waited) / 8);
    } else {
        c->wait_avg_ns -= c->wait_avg_ns / 8;
    }
    *turn_out = t;
    return SVTPM_OK;
}
