/* src/common/chan.h: the shared-memory ECALL/OCALL transport between two
 * real processes (fork): payload integrity, nested OCALLs, timeouts, and
 * both waiting strategies (futex only, spin then futex). */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"

#define WAIT_MS 5000           /* generous: the peer answers in microseconds */
#define SLOW_MS 2000           /* an answer this late means a lost wake-up (chan_wait
                                * only notices the turn again when its timeout ends) */
#define CALL_PING   101u
#define CALL_NESTED 102u
#define CALL_SPY    103u
#define CALL_QUIT   104u

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static bool check(const uint8_t *p, uint32_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (p[i] != (uint8_t)x)
            return false;
    }
    return true;
}

static uint32_t msg_len(uint32_t i)
{
    /* mostly small, sometimes the whole area */
    if (i % 97 == 0)
        return SVTPM_CHAN_DATA_MAX;
    if (i % 13 == 0)
        return 0;
    return (i * 7919u) % 5000u;
}

static int ncpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return CPU_COUNT(&set);
}

static int nth_cpu(int n)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set) && n-- == 0)
            return c;
    return -1;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

#define CHILD_FAIL(...) do { fprintf(stderr, "enclave side: " __VA_ARGS__); fputc('\n', stderr); _exit(1); } while (0)

/* The "enclave": serves ECALLs until CALL_QUIT. */
static void child(int memfd, uint32_t spin_max_ns, int cpu)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin(cpu);
    struct chan c = { 0 };
    svtpm_err e = chan_attach(&c, memfd);
    if (e)
        CHILD_FAIL("attach: %s", svtpm_strerror(e));
    if (c.side != CHAN_ENCLAVE)
        CHILD_FAIL("attach: wrong side");
    c.spin_max_ns = spin_max_ns;
    uint8_t *copy = malloc(SVTPM_CHAN_DATA_MAX);
    for (;;) {
        uint32_t turn = 0;
        e = chan_wait(&c, TURN_BIT(TURN_ECALL), WAIT_MS, &turn);
        if (e)
            CHILD_FAIL("wait for an ECALL: %s", svtpm_strerror(e));
        if (turn != TURN_ECALL)
            CHILD_FAIL("woke up with turn %u", turn);
        struct chan_shm *s = c.shm;
        uint32_t call = s->call, len = s->len;
        if (len > SVTPM_CHAN_DATA_MAX)
            CHILD_FAIL("length %u", len);
        memcpy(copy, s->data, len);
        switch (call) {
        case CALL_QUIT:
            chan_post(&c, TURN_ECALL_RET, call, 0, 0);
            chan_unmap(&c);
            free(copy);
            _exit(0);
        case CALL_PING: {
            /* request: u32 seq, payload(seq); answer: payload(seq ^ 0xffff) of len+1 bytes */
            if (len < 4)
                CHILD_FAIL("short ping");
            uint32_t seq;
            memcpy(&seq, copy, 4);
            if (!check(copy + 4, len - 4, seq))
                CHILD_FAIL("ping %u: payload corrupted", seq);
            uint32_t rlen = len - 4 + 1 > SVTPM_CHAN_DATA_MAX ? SVTPM_CHAN_DATA_MAX : len - 4 + 1;
            fill(s->data, rlen, seq ^ 0xffffu);
            chan_post(&c, TURN_ECALL_RET, call, seq % 7, rlen);
            break;
        }
        case CALL_NESTED: {
            /* request: u32 n; do n OCALLs, each checked, then answer the sum */
            uint32_t n;
            memcpy(&n, copy, 4);
            uint32_t sum = 0;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t olen = 8 + (k * 331u) % 3000u;
                memcpy(s->data, &k, 4);
                fill(s->data + 4, olen - 4, 1000 + k);
                chan_post(&c, TURN_OCALL, 200 + k, 0, olen);
                uint64_t t0 = mono_ns();
                e = chan_wait(&c, TURN_BIT(TURN_OCALL_RET), WAIT_MS, &turn);
                if (e)
                    CHILD_FAIL("OCALL %u: %s", k, svtpm_strerror(e));
                if ((mono_ns() - t0) / 1000000u > SLOW_MS)
                    CHILD_FAIL("OCALL %u: answered late: lost wake-up", k);
                if (s->call != 200 + k || s->status != k % 3)
                    CHILD_FAIL("OCALL %u: answer for call %u status %u", k, s->call, s->status);
                uint32_t rl = s->len;
                if (rl != olen / 2 || !check(s->data, rl, 2000 + k))
                    CHILD_FAIL("OCALL %u: bad answer (%u bytes)", k, rl);
                sum += k;
            }
            memcpy(s->data, &sum, 4);
            chan_post(&c, TURN_ECALL_RET, call, 0, 4);
            break;
        }
        case CALL_SPY: {
            /* answer late, and report whether the host was asleep on the futex */
            uint32_t delay_us;
            memcpy(&delay_us, copy, 4);
            usleep(delay_us);
            uint32_t host_asleep = atomic_load(&s->sleepers) & 1u;
            memcpy(s->data, &host_asleep, 4);
            chan_post(&c, TURN_ECALL_RET, call, 0, 4);
            break;
        }
        default:
            CHILD_FAIL("unknown call %u", call);
        }
    }
}

static cpu_set_t orig_cpus;

struct pair {
    struct chan host;
    int memfd;
    pid_t pid;
};

static void start(struct pair *p, uint32_t host_spin, uint32_t child_spin, bool pinned)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(chan_create(&p->host, &p->memfd), SVTPM_OK);
    assert_int_equal(p->host.side, CHAN_HOST);
    assert_int_equal(p->host.shm->magic, CHAN_MAGIC);
    assert_int_equal(atomic_load(&p->host.shm->turn), TURN_IDLE);
    p->host.spin_max_ns = host_spin;
    int c0 = pinned ? nth_cpu(0) : -1, c1 = pinned ? nth_cpu(1) : -1;
    fflush(NULL);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0)
        child(p->memfd, child_spin, c1);
    pin(c0);
}

/* One ECALL; returns the answer length. */
static uint32_t ecall(struct pair *p, uint32_t call, uint32_t len, uint32_t *status)
{
    uint64_t t0 = mono_ns();
    chan_post(&p->host, TURN_ECALL, call, 0, len);
    uint32_t turn = 0;
    svtpm_err e = chan_wait(&p->host, TURN_BIT(TURN_ECALL_RET) | TURN_BIT(TURN_OCALL), WAIT_MS, &turn);
    if (e)
        fail_msg("ECALL %u: %s", call, svtpm_strerror(e));
    if ((mono_ns() - t0) / 1000000u > SLOW_MS)
        fail_msg("ECALL %u: answered after %llu ms: lost wake-up", call,
                 (unsigned long long)((mono_ns() - t0) / 1000000u));
    assert_int_equal(turn, TURN_ECALL_RET);
    assert_int_equal(p->host.shm->call, call);
    if (status)
        *status = p->host.shm->status;
    uint32_t n = p->host.shm->len;
    atomic_store(&p->host.shm->turn, TURN_IDLE);
    return n;
}

static void stop(struct pair *p)
{
    ecall(p, CALL_QUIT, 0, NULL);
    int st = 0;
    assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("enclave side failed (status 0x%x)", st);
    chan_unmap(&p->host);
    close(p->memfd);
    sched_setaffinity(0, sizeof orig_cpus, &orig_cpus);
}

static void ping_pong(uint32_t host_spin, uint32_t child_spin, uint32_t n)
{
    struct pair p;
    start(&p, host_spin, child_spin, false);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = msg_len(i);
        if (len > SVTPM_CHAN_DATA_MAX - 4)
            len = SVTPM_CHAN_DATA_MAX - 4;
        memcpy(p.host.shm->data, &i, 4);
        fill(p.host.shm->data + 4, len, i);
        uint32_t status = 99;
        uint32_t rlen = ecall(&p, CALL_PING, len + 4, &status);
        assert_int_equal(status, i % 7);
        uint32_t want = len + 1 > SVTPM_CHAN_DATA_MAX ? SVTPM_CHAN_DATA_MAX : len + 1;
        assert_int_equal(rlen, want);
        if (!check(p.host.shm->data, rlen, i ^ 0xffffu))
            fail_msg("ping %u: answer corrupted", i);
    }
    stop(&p);
}

static void test_ping_pong_futex(void **state)
{
    ping_pong(0, 0, 1500);
}

static void test_ping_pong_spin(void **state)
{
    ping_pong(200000, 200000, 3000);
}

static void test_ping_pong_mixed(void **state)
{
    ping_pong(0, 200000, 1000);
    ping_pong(200000, 0, 1000);
}

static void nested(uint32_t spin)
{
    struct pair p;
    start(&p, spin, spin, false);
    for (uint32_t round = 0; round < 30; round++) {
        uint32_t n = round % 10;
        memcpy(p.host.shm->data, &n, 4);
        chan_post(&p.host, TURN_ECALL, CALL_NESTED, 0, 4);
        uint32_t served = 0;
        for (;;) {
            uint32_t turn = 0;
            uint64_t t0 = mono_ns();
            svtpm_err e = chan_wait(&p.host, TURN_BIT(TURN_ECALL_RET) | TURN_BIT(TURN_OCALL), WAIT_MS, &turn);
            if (e)
                fail_msg("round %u: %s", round, svtpm_strerror(e));
            if ((mono_ns() - t0) / 1000000u > SLOW_MS)
                fail_msg("round %u: answered late: lost wake-up", round);
            if (turn == TURN_ECALL_RET)
                break;
            assert_int_equal(turn, TURN_OCALL);
            struct chan_shm *s = p.host.shm;
            uint32_t k;
            memcpy(&k, s->data, 4);
            assert_int_equal(k, served);
            assert_int_equal(s->call, 200 + k);
            uint32_t olen = s->len;
            assert_int_equal(olen, 8 + (k * 331u) % 3000u);
            if (!check(s->data + 4, olen - 4, 1000 + k))
                fail_msg("round %u OCALL %u: request corrupted", round, k);
            fill(s->data, olen / 2, 2000 + k);
            chan_post(&p.host, TURN_OCALL_RET, 200 + k, k % 3, olen / 2);
            served++;
        }
        assert_int_equal(served, n);
        assert_int_equal(p.host.shm->call, CALL_NESTED);
        assert_int_equal(p.host.shm->len, 4);
        uint32_t sum;
        memcpy(&sum, p.host.shm->data, 4);
        assert_int_equal(sum, n * (n - (n ? 1 : 0)) / 2);
        atomic_store(&p.host.shm->turn, TURN_IDLE);
    }
    stop(&p);
}

static void test_nested_ocalls_futex(void **state)
{
    nested(0);
}

static void test_nested_ocalls_spin(void **state)
{
    nested(200000);
}

static void test_timeout(void **state)
{
    const uint32_t spins[] = { 0, 200000 };
    for (size_t i = 0; i < 2; i++) {
        struct chan c = { 0 };
        int fd;
        assert_int_equal(chan_create(&c, &fd), SVTPM_OK);
        c.spin_max_ns = spins[i];
        uint32_t turn = 12345;
        uint64_t t0 = mono_ns();
        assert_int_equal(chan_wait(&c, TURN_BIT(TURN_ECALL_RET), 60, &turn), SVTPM_E_TIMEOUT);
        uint64_t ms = (mono_ns() - t0) / 1000000u;
        assert_true(ms >= 60);
        assert_true(ms < 5000);
        assert_int_equal(turn, 12345);
        /* it went to sleep and cleaned up after itself */
        assert_int_equal(atomic_load(&c.shm->sleepers), 0);
        /* a zero timeout returns at once */
        t0 = mono_ns();
        assert_int_equal(chan_wait(&c, TURN_BIT(TURN_ECALL_RET), 0, &turn), SVTPM_E_TIMEOUT);
        assert_true((mono_ns() - t0) / 1000000u < 1000);
        /* a turn that is already there is returned without waiting */
        chan_post(&c, TURN_ECALL_RET, 5, 6, 7);
        assert_int_equal(chan_wait(&c, TURN_BIT(TURN_ECALL_RET), 0, &turn), SVTPM_OK);
        assert_int_equal(turn, TURN_ECALL_RET);
        assert_int_equal(c.shm->call, 5);
        assert_int_equal(c.shm->status, 6);
        assert_int_equal(c.shm->len, 7);
        chan_unmap(&c);
        assert_null(c.shm);
        close(fd);
    }
}

static void test_timeout_then_answer(void **state)
{
    /* The host's liveness timeout fires while the peer is slow; waiting
     * again still gets the answer. */
    struct pair p;
    start(&p, 0, 0, false);
    uint32_t delay = 150000;
    memcpy(p.host.shm->data, &delay, 4);
    chan_post(&p.host, TURN_ECALL, CALL_SPY, 0, 4);
    uint32_t turn;
    assert_int_equal(chan_wait(&p.host, TURN_BIT(TURN_ECALL_RET), 20, &turn), SVTPM_E_TIMEOUT);
    assert_int_equal(chan_wait(&p.host, TURN_BIT(TURN_ECALL_RET), WAIT_MS, &turn), SVTPM_OK);
    assert_int_equal(turn, TURN_ECALL_RET);
    atomic_store(&p.host.shm->turn, TURN_IDLE);
    stop(&p);
}

/* Which strategy actually ran: the peer answers after a delay and reports
 * whether the host had gone to sleep on the futex by then. */
static void test_spin_and_futex_paths(void **state)
{
    if (ncpus() < 2) {
        print_message("only one CPU: the spin path is never taken; not checked\n");
        skip();
    }
    for (int mode = 0; mode < 2; mode++) {
        struct pair p;
        start(&p, mode ? 1000000000u : 0, 0, true);
        int asleep = 0;
        for (int k = 0; k < 5; k++) {
            /* spin mode: a 200 ms spin window, answered after 2 ms;
             * futex mode: answered after 50 ms, long after the host slept */
            p.host.wait_avg_ns = 100000000u;
            uint32_t delay = mode ? 2000 : 50000;
            memcpy(p.host.shm->data, &delay, 4);
            uint32_t rlen = ecall(&p, CALL_SPY, 4, NULL);
            assert_int_equal(rlen, 4);
            uint32_t v;
            memcpy(&v, p.host.shm->data, 4);
            asleep += v != 0;
        }
        stop(&p);
        /* one scheduling hiccup on a busy machine is tolerated; a wrong
         * strategy gets all five wrong */
        if (mode == 0 && asleep < 4)
            fail_msg("spin disabled: the host was not asleep on the futex (%d/5)", asleep);
        if (mode == 1 && asleep > 1)
            fail_msg("spin enabled: the host slept instead of spinning (%d/5)", asleep);
    }
}

static void test_attach_checks(void **state)
{
    struct chan c = { 0 };
    /* wrong size */
    int fd = memfd_create("x", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    assert_int_equal(chan_attach(&c, fd), SVTPM_E_PROTO);
    /* right size, no magic */
    assert_int_equal(ftruncate(fd, sizeof(struct chan_shm)), 0);
    assert_int_equal(chan_attach(&c, fd), SVTPM_E_PROTO);
    assert_null(c.shm);
    close(fd);
    /* a real area, but another ABI version */
    struct chan h = { 0 };
    assert_int_equal(chan_create(&h, &fd), SVTPM_OK);
    h.shm->version = SVTPM_ABI_VERSION + 1;
    assert_int_equal(chan_attach(&c, fd), SVTPM_E_PROTO);
    h.shm->version = SVTPM_ABI_VERSION;
    assert_int_equal(chan_attach(&c, fd), SVTPM_OK);
    assert_int_equal(c.side, CHAN_ENCLAVE);
    /* the same memory, through two mappings */
    h.shm->data[100] = 0x42;
    assert_int_equal(c.shm->data[100], 0x42);
    /* the host cannot be made to resize it (sealed) */
    assert_int_not_equal(ftruncate(fd, 1), 0);
    chan_unmap(&c);
    chan_unmap(&h);
    close(fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    sched_getaffinity(0, sizeof orig_cpus, &orig_cpus);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_checks),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_ping_pong_futex),
        cmocka_unit_test(test_ping_pong_spin),
        cmocka_unit_test(test_ping_pong_mixed),
        cmocka_unit_test(test_nested_ocalls_futex),
        cmocka_unit_test(test_nested_ocalls_spin),
        cmocka_unit_test(test_timeout_then_answer),
        cmocka_unit_test(test_spin_and_futex_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
