/* The TPM clock lease (src/enclave/rollback.h: rollback_clock_lease,
 * rollback_clock_floor) against the in-memory fake host with a counter
 * store (fixture: tests/lib/rbfix.h) and real libtpms permall vectors:
 *   - a lease is recorded in the vTPM's entry without touching its versions,
 *     with the clock's tie to the time authority when given;
 *     later permall writes keep it (the entry holds the higher of the lease
 *     and the state's clock); TPM2_Clear's lower lease replaces it;
 *   - a state that was not shut down in order resumes at the lease, an
 *     orderly one (and one already past the lease) keeps its clock, and
 *     nothing changes without a lease or without binding;
 *   - a lease is refused while the store is wedged, a failed lease write
 *     wedges it, and a lease over a changed entry is a fork. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "content.h"
#include "fakehost.h"
#include "nrs.h"
#include "rbfix.h"
#include "rollback.h"
#include "store.h"
#include "tpmstate.h"
#include "vectors.h"

static svtpm_err lease(struct vt *v, uint64_t ms)
{
    svtpm_err err = rollback_clock_lease(&v->s, ms, NULL);
    fh_ecall_end(&v->h);
    return err;
}

/* rollback_clock_floor on a vector with its clock set: the clock after it. */
static uint64_t floor_of(struct vt *v, const char *name, uint64_t clock_ms, svtpm_err want)
{
    size_t n;
    uint8_t *b = test_vector(name, &n);
    assert_non_null(b);
    assert_int_equal(tpmstate_clock_patch(b, n, clock_ms), SVTPM_OK);
    assert_int_equal(rollback_clock_floor(&v->s, b, (uint32_t)n), want);
    uint64_t clock = 0;
    assert_int_equal(tpmstate_clock(b, n, &clock), SVTPM_OK);
    free(b);
    return clock;
}

static void test_lease_recorded(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    save_blob(v, "tpmstate_params.permall", 5000);
    struct nrs_entry e = entry_of(v), was = e;
    assert_int_equal(e.da_flags & NRS_CLOCK_LEASE, 0);
    assert_int_equal(e.clock_hwm, 5000);
    assert_int_equal(lease(v, 12000), SVTPM_OK);
    e = entry_of(v);
    assert_int_equal(e.clock_hwm, 12000);
    assert_int_equal(e.da_flags, NRS_DA_KNOWN | NRS_CLOCK_KNOWN | NRS_CLOCK_LEASE);
    assert_int_equal(e.version, was.version);
    assert_int_equal(e.permall_seq, was.permall_seq);
    assert_memory_equal(e.permall_iv, was.permall_iv, sizeof e.permall_iv);
    /* a permall write behind the lease keeps it; one past it raises it */
    save_blob(v, "tpmstate_failed2.permall", 9000);
    e = entry_of(v);
    assert_int_equal(e.clock_hwm, 12000);
    assert_int_equal(e.failed_tries, 2);
    assert_true(e.da_flags & NRS_CLOCK_LEASE);
    save_blob(v, "tpmstate_failed2.permall", 20000);
    assert_int_equal(entry_of(v).clock_hwm, 20000);
    /* the tie to the time authority rides along; a lease without one keeps it */
    int64_t off = -1234567;
    assert_int_equal(rollback_clock_lease(&v->s, 25000, &off), SVTPM_OK);
    fh_ecall_end(&v->h);
    e = entry_of(v);
    assert_true(e.da_flags & NRS_CLOCK_OFFSET);
    assert_int_equal(e.clock_offset, -1234567);
    assert_int_equal(lease(v, 26000), SVTPM_OK);
    assert_int_equal(entry_of(v).clock_offset, -1234567);
    /* TPM2_Clear resets the clock: its lease comes down */
    assert_int_equal(lease(v, 3000), SVTPM_OK);
    assert_int_equal(entry_of(v).clock_hwm, 3000);
    /* a record whose DA state cannot be read keeps the lease */
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 300, 5), SVTPM_OK);
    e = entry_of(v);
    assert_int_equal(e.da_flags, NRS_CLOCK_KNOWN | NRS_CLOCK_LEASE | NRS_CLOCK_OFFSET);
    assert_int_equal(e.clock_hwm, 3000);
    assert_int_equal(e.clock_offset, -1234567);
}

static void test_floor_after_unclean_stop(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    save_blob(v, "tpmstate_params.permall", 5000);
    /* no lease yet: nothing to resume at */
    assert_int_equal(floor_of(v, "tpmstate_params.permall", 5000, SVTPM_OK), 5000);
    assert_int_equal(lease(v, 12000), SVTPM_OK);
    fh_log_clear(&v->h);
    /* orderlyState NONE and DA_USED: the clock resumes at the lease */
    assert_int_equal(floor_of(v, "tpmstate_params.permall", 5000, SVTPM_OK), 12000);
    assert_true(fh_log_has(&v->h, "resumes at its recorded lease, 12000 ms (libtpms had persisted 5000 ms)"));
    assert_int_equal(floor_of(v, "tpmstate_failed2.permall", 7000, SVTPM_OK), 12000);
    /* a clock already past the lease stays */
    assert_int_equal(floor_of(v, "tpmstate_failed2.permall", 15000, SVTPM_OK), 15000);
    /* TPM2_Shutdown(STATE) persisted the exact clock: kept */
    assert_int_equal(floor_of(v, "tpmstate_auths_state.permall", 7000, SVTPM_OK), 7000);
    /* not a libtpms blob: refused rather than resumed behind the lease */
    uint8_t junk[64];
    memset(junk, 0x5A, sizeof junk);
    assert_int_not_equal(rollback_clock_floor(&v->s, junk, sizeof junk), SVTPM_OK);
    /* the same after a restart: the lease is read back from the store */
    vt_restart(v);
    uint8_t *out;
    uint32_t n;
    assert_int_equal(load_raw(v, PERM, &out, &n), SVTPM_OK);
    free(out);
    assert_int_equal(floor_of(v, "tpmstate_params.permall", 5000, SVTPM_OK), 12000);
    /* unbound: nothing */
    v->s.rb.active = false;
    assert_int_equal(floor_of(v, "tpmstate_params.permall", 5000, SVTPM_OK), 5000);
    assert_int_equal(rollback_clock_lease(&v->s, 99000, NULL), SVTPM_OK);
    v->s.rb.active = true;
    assert_int_equal(entry_of(v).clock_hwm, 12000);
}

static void test_lease_failures(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    save_blob(v, "tpmstate_params.permall", 5000);
    /* wedged: refused, nothing written */
    uint64_t writes = v->h.writes;
    v->s.wedged = true;
    assert_int_equal(lease(v, 12000), SVTPM_E_STATE);
    assert_int_equal(v->h.writes, writes);
    v->s.wedged = false;
    /* a failed counter-store write wedges */
    fh_fault(&v->h, (int64_t)v->h.writes, FH_FAIL, 0);
    assert_int_not_equal(lease(v, 12000), SVTPM_OK);
    assert_true(v->s.wedged);
    assert_true(fh_log_has(&v->h, "lease could not be recorded"));
    assert_int_equal(entry_of(v).clock_hwm, 5000);
    /* another instance of the vTPM wrote meanwhile: a fork, refused */
    vt_restart(v);
    uint8_t *out;
    uint32_t n;
    assert_int_equal(load_raw(v, PERM, &out, &n), SVTPM_OK);
    free(out);
    struct store s2;
    assert_int_equal(store_init(&s2, v->plat, &v->oc), SVTPM_OK);
    store_bind(&s2, v->id, v->tenant, BIND_GEN);
    s2.rb.active = true;
    s2.rb.policy = ROLLBACK_STRICT;
    assert_int_equal(store_load(&s2, PERM, &out, &n), SVTPM_OK);
    fh_ecall_end(&v->h);
    free(out);
    save_blob(v, "tpmstate_params.permall", 6000);
    fh_log_clear(&v->h);
    assert_int_equal(rollback_clock_lease(&s2, 30000, NULL), SVTPM_E_ROLLBACK);
    fh_ecall_end(&v->h);
    assert_true(fh_log_has(&v->h, "attack=counter-store-changed"));
    assert_int_equal(entry_of(v).clock_hwm, 6000);
    store_fini(&s2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rb_setup, rb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_lease_recorded),
        T(test_floor_after_unclean_stop),
        T(test_lease_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
