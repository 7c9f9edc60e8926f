/* src/enclave/store.h under write faults (fixture: tests/lib/storefix.h):
 * a lost retirement, a torn write, failed writes the process survives, a
 * durable write whose ack was lost; then crash injection at every write of
 * a stream of saves (fail, tear by sectors, by random sector subsets and by
 * bytes, durable without ack, retirement lost), each followed by a new
 * enclave process that must load the acknowledged (or the in-flight) state
 * and keep working. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "content.h"
#include "fakehost.h"
#include "seal.h"
#include "sealfmt.h"
#include "store.h"
#include "storefix.h"

/* ---- faults ---- */

static void test_retire_lost_newest_wins(void **state)
{
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 1000, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 1100, 2), SVTPM_OK);
    fh_fault(&f->h, 2, FH_SKIP_RETIRE, 0);
    assert_int_equal(sf_save_v(f, PERM, 1200, 3), SVTPM_OK);   /* acknowledged */
    assert_true(f->h.dead);
    /* both records are authentic */
    uint8_t *plain = malloc(SEAL_PAYLOAD_MAX);
    struct seal_hdr ha, hb;
    uint32_t n;
    assert_int_equal(seal_open(&f->plat, sf_slot_ptr(f, PERM, 0), SEAL_SLOT_SIZE, &ha, plain, &n), SVTPM_OK);
    assert_int_equal(seal_open(&f->plat, sf_slot_ptr(f, PERM, 1), SEAL_SLOT_SIZE, &hb, plain, &n), SVTPM_OK);
    assert_true(ha.seq == 3 && hb.seq == 2);
    free(plain);
    sf_restart(f);
    sf_expect_load(f, PERM, 1200, 3);
    assert_false(fh_log_has(&f->h, "incomplete write"));   /* nothing was incomplete */
    /* and when the newer one is in slot B */
    assert_int_equal(sf_save_v(f, PERM, 1300, 4), SVTPM_OK);
    fh_fault(&f->h, f->h.writes, FH_SKIP_RETIRE, 0);
    assert_int_equal(sf_save_v(f, PERM, 1400, 5), SVTPM_OK);
    sf_restart(f);
    sf_expect_load(f, PERM, 1400, 5);
    /* the next save after recovery overwrites the stale one, not the newest */
    assert_int_equal(sf_save_v(f, PERM, 1500, 6), SVTPM_OK);
    assert_int_equal(f->h.wlog[f->h.writes - 1].slot, 1);
    sf_restart(f);
    sf_expect_load(f, PERM, 1500, 6);
}

static void test_torn_write_logged(void **state)
{
    /* A torn update is survived and reported as such. */
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 5000, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 5000, 2), SVTPM_OK);
    fh_fault(&f->h, 2, FH_TEAR_SECTORS, 3);
    assert_int_equal(sf_save_v(f, PERM, 6000, 3), SVTPM_E_IO);
    assert_true(fh_log_has(&f->h, "failed to store"));
    sf_restart(f);
    fh_log_clear(&f->h);
    sf_expect_load(f, PERM, 5000, 2);
    assert_true(fh_log_has(&f->h, "incomplete write"));
}

static void test_fail_and_continue(void **state)
{
    /* A write that fails without killing the process: the save reports it,
     * the state stays the last acknowledged one, and later saves work. */
    struct fx *f = *state;
    for (uint32_t k = 0; k < 10; k++) {
        bool failing = k == 3 || k == 4 || k == 7;
        if (failing)
            fh_fault(&f->h, f->h.writes, FH_FAIL, 0);
        svtpm_err e = sf_save_v(f, PERM, 100 + k * 10, k);
        assert_int_equal(e, failing ? SVTPM_E_IO : SVTPM_OK);
        assert_false(f->h.dead);
        uint32_t last = failing ? (k == 4 ? 2 : k - 1) : k;
        sf_expect_load(f, PERM, 100 + last * 10, last);
        struct store s2;
        assert_int_equal(store_init(&s2, &f->plat, &f->oc), SVTPM_OK);
        uint8_t *out = NULL;
        uint32_t n;
        assert_int_equal(store_load(&s2, PERM, &out, &n), SVTPM_OK);
        assert_true(is_content(out, n, 100 + last * 10, last));
        free(out);
        store_fini(&s2);
    }
    /* a failed first write leaves no file */
    fh_fault(&f->h, f->h.writes, FH_FAIL, 0);
    assert_int_equal(sf_save_v(f, VOL, 10, 1), SVTPM_E_IO);
    assert_null(fh_bytes(&f->h, VOL, NULL));
    assert_int_equal(sf_save_v(f, VOL, 10, 2), SVTPM_OK);
    sf_restart(f);
    sf_expect_load(f, VOL, 10, 2);
}

static void test_unacked_durable_write_then_continue(void **state)
{
    /* The host made the record durable but reported an error (say the ack
     * was lost); the enclave lives on. A reload may return that record (it
     * is the one being written), never anything older than the last ack;
     * the next save supersedes it and wins. */
    struct fx *f = *state;
    for (int first = 0; first < 2; first++) {
        fh_fini(&f->h);
        fh_init(&f->h);
        sf_restart(f);
        if (!first) {
            assert_int_equal(sf_save_v(f, PERM, 300, 1), SVTPM_OK);
            assert_int_equal(sf_save_v(f, PERM, 400, 2), SVTPM_OK);
        }
        fh_fault(&f->h, f->h.writes, FH_FULL_FAIL, 0);
        assert_int_equal(sf_save_v(f, PERM, 500, 3), SVTPM_E_IO);
        assert_false(f->h.dead);
        /* a reload in the same process, and in a new one */
        for (int k = 0; k < 2; k++) {
            struct store s2;
            assert_int_equal(store_init(&s2, &f->plat, &f->oc), SVTPM_OK);
            uint8_t *out = NULL;
            uint32_t n = 0;
            assert_int_equal(store_load(&s2, PERM, &out, &n), SVTPM_OK);
            assert_true(is_content(out, n, 500, 3) || (!first && is_content(out, n, 400, 2)));
            free(out);
            store_fini(&s2);
        }
        assert_int_equal(sf_save_v(f, PERM, 600, 4), SVTPM_OK);
        sf_expect_load(f, PERM, 600, 4);
        sf_restart(f);
        sf_expect_load(f, PERM, 600, 4);
        assert_int_equal(sf_save_v(f, PERM, 700, 5), SVTPM_OK);
        sf_restart(f);
        sf_expect_load(f, PERM, 700, 5);
    }
}

/* Crash injection: K saves of varying sizes, a fault at write i, then a new
 * enclave process reads the files. */
#define K 20

enum expect { EXP_ACKED, EXP_INFLIGHT, EXP_EITHER };

struct pattern {
    enum fh_fault fault;
    uint32_t arg;
    const char *name;
};

static uint32_t size_of(uint32_t k)
{
    static const uint32_t sizes[K] = {
        1315, 9000, 1, 0, 511, 512, 513, 66000, 4096, 200000,
        3, SVTPM_STATE_PLAIN_MAX, 1400, 1024, 150000, 7, 30000, 1316, 2048, 100000,
    };
    return sizes[k];
}

static void crash_run(struct fx *f, const struct pattern *p, uint32_t i, uint32_t file)
{
    fh_fini(&f->h);
    fh_init(&f->h);
    sf_restart(f);
    fh_fault(&f->h, i, p->fault, p->arg);
    int64_t acked = -1, inflight = -1;
    for (uint32_t k = 0; k < K; k++) {
        svtpm_err e = sf_save_v(f, file, size_of(k), k);
        if (e == SVTPM_OK)
            acked = k;
        else
            inflight = k;
        if (e != SVTPM_OK || f->h.dead)
            break;
    }
    if (!f->h.dead)
        fail_msg("%s at write %u: the fault did not fire", p->name, i);
    assert_int_equal(f->h.writes, i + 1);

    /* what must come back */
    enum expect want;
    size_t reclen = inflight >= 0 ? seal_rec_len(size_of((uint32_t)inflight)) : 0;
    switch (p->fault) {
    case FH_FAIL_DIE: want = EXP_ACKED; break;
    case FH_TEAR_SECTORS:
        want = (size_t)p->arg * FH_SECTOR >= reclen ? EXP_INFLIGHT : EXP_ACKED;
        /* the first write creates the file atomically: nothing or all */
        if (i == 0)
            want = EXP_ACKED;
        break;
    case FH_TEAR_BYTES:
        want = p->arg >= reclen && i != 0 ? EXP_INFLIGHT : EXP_ACKED;
        break;
    case FH_TEAR_SUBSET: want = i == 0 ? EXP_ACKED : EXP_EITHER; break;
    case FH_FULL_DIE:
    case FH_FULL_RETIRE_DIE: want = EXP_INFLIGHT; break;
    case FH_SKIP_RETIRE: want = EXP_ACKED; break;   /* acked is the newest here */
    default: want = EXP_EITHER; break;
    }

    sf_restart(f);
    uint8_t *out = NULL;
    uint32_t n = 0;
    svtpm_err e = store_load(&f->s, file, &out, &n);
    bool is_acked = acked >= 0 && e == SVTPM_OK && is_content(out, n, size_of((uint32_t)acked), (uint32_t)acked);
    bool is_inflight = inflight >= 0 && e == SVTPM_OK &&
                       is_content(out, n, size_of((uint32_t)inflight), (uint32_t)inflight);
    bool nothing = e == SVTPM_E_NOTFOUND;
    bool ok;
    switch (want) {
    case EXP_ACKED: ok = acked >= 0 ? is_acked : nothing; break;
    case EXP_INFLIGHT: ok = is_inflight; break;
    default: ok = is_inflight || (acked >= 0 ? is_acked : nothing); break;
    }
    if (!ok)
        fail_msg("%s at write %u (acked v%lld, in flight v%lld): load gave %s%s%s",
                 p->name, i, (long long)acked, (long long)inflight, svtpm_strerror(e),
                 e == SVTPM_OK ? (is_acked ? " = acked" : is_inflight ? " = in flight" : " = WRONG CONTENT") : "",
                 want == EXP_ACKED ? " (wanted acked)" : want == EXP_INFLIGHT ? " (wanted in flight)" : "");
    free(out);

    /* life goes on: the recovered store keeps saving and loading */
    for (uint32_t k = 100; k < 103; k++) {
        assert_int_equal(sf_save_v(f, file, 700 + k, k), SVTPM_OK);
        sf_expect_load(f, file, 700 + k, k);
    }
    sf_restart(f);
    sf_expect_load(f, file, 802, 102);
}

static const struct pattern patterns[] = {
    { FH_FAIL_DIE,        0,    "fail (nothing written)" },
    { FH_TEAR_SECTORS,    0,    "tear: 0 sectors" },
    { FH_TEAR_SECTORS,    1,    "tear: 1 sector" },
    { FH_TEAR_SECTORS,    2,    "tear: 2 sectors" },
    { FH_TEAR_SECTORS,    9,    "tear: 9 sectors" },
    { FH_TEAR_SECTORS,    130,  "tear: 130 sectors" },
    { FH_TEAR_SECTORS,    1000, "tear: all sectors, no ack" },
    { FH_TEAR_SUBSET,     1,    "tear: random sectors #1" },
    { FH_TEAR_SUBSET,     2,    "tear: random sectors #2" },
    { FH_TEAR_SUBSET,     3,    "tear: random sectors #3" },
    { FH_TEAR_SUBSET,     4,    "tear: random sectors #4" },
    { FH_FULL_DIE,        0,    "durable, no retire, no ack" },
    { FH_FULL_RETIRE_DIE, 0,    "durable, retired, no ack" },
    { FH_SKIP_RETIRE,     0,    "acked, retire lost" },
};

static void test_crash_every_write_sector_tears(void **state)
{
    struct fx *f = *state;
    size_t runs = 0;
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++)
        for (uint32_t i = 0; i < K; i++) {
            crash_run(f, &patterns[p], i, i % 2 ? VOL : PERM);
            runs++;
        }
    assert_int_equal(runs, K * (sizeof patterns / sizeof patterns[0]));
}

/* Byte-granular tears: a write cut inside a 512-byte sector. Disks write
 * whole sectors, so this is harsher than real hardware; it checks that a
 * half-written header in the slot being written never makes the previous,
 * intact state unreadable. */
static void test_crash_every_write_byte_tears(void **state)
{
    struct fx *f = *state;
    const uint32_t cuts[] = { 1, 8, 12, 16, 40, 74, 77, 80, 100, 127, 140, 143, 159, 176, 191, 192, 193, 300 };
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
        for (uint32_t i = 0; i < 4; i++) {
            char name[64];
            snprintf(name, sizeof name, "tear: first %u bytes", cuts[c]);
            struct pattern p = { FH_TEAR_BYTES, cuts[c], name };
            crash_run(f, &p, i, PERM);
        }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sf_setup, sf_teardown)
    const struct CMUnitTest tests[] = {
        T(test_retire_lost_newest_wins),
        T(test_torn_write_logged),
        T(test_fail_and_continue),
        T(test_unacked_durable_write_then_continue),
        T(test_crash_every_write_sector_tears),
        T(test_crash_every_write_byte_tears),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
