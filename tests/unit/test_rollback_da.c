/* src/enclave/rollback.h, policy snapshot: the dictionary-attack state and
 * the TPM clock recorded at every permall write and re-applied to an
 * authorised older state, with real libtpms permall vectors. Fixture:
 * tests/lib/rbfix.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "content.h"
#include "fakehost.h"
#include "manifest.h"
#include "nrs.h"
#include "rbfix.h"
#include "rollback.h"
#include "sealfmt.h"
#include "store.h"
#include "testplat.h"
#include "tpmstate.h"
#include "vectors.h"

/* Policy snapshot with real libtpms permall blobs: every permall write
 * records its DA state in the entry; an authorised restore of an older
 * permall gets the recorded failedTries (if higher) and a disabled
 * lockoutAuth back before libtpms sees it; a current one is left alone. */
static void test_da_recorded_and_reapplied(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    v->s.rb.policy = ROLLBACK_SNAPSHOT;
    save_blob(v, "tpmstate_params.permall", 5000);         /* v1: failedTries 0, clock 5 s */
    struct nrs_entry e = entry_of(v);
    assert_int_equal(e.failed_tries, 0);
    assert_int_equal(e.da_flags, NRS_DA_KNOWN | NRS_CLOCK_KNOWN);
    assert_int_equal(e.clock_hwm, 5000);
    size_t n1;
    uint8_t *snap = fh_snapshot(&v->h, PERM, &n1);
    save_blob(v, "tpmstate_failed2.permall", 60000);       /* v2: 2 failures */
    save_blob(v, "tpmstate_lockout_fail.permall", 93000);  /* v3: and lockoutAuth failed; clock 93 s */
    e = entry_of(v);
    assert_int_equal(e.failed_tries, 2);
    assert_int_equal(e.da_flags, NRS_DA_KNOWN | NRS_DA_LOCKOUT_AUTH_OFF | NRS_CLOCK_KNOWN);
    assert_int_equal(e.clock_hwm, 93000);

    /* the current record is returned as it is */
    vt_restart(v);
    v->s.rb.policy = ROLLBACK_SNAPSHOT;
    uint8_t *out;
    uint32_t len;
    struct tpm_da da;
    assert_int_equal(load_raw(v, PERM, &out, &len), SVTPM_OK);
    assert_int_equal(tpmstate_da_read(out, len, &da), SVTPM_OK);
    assert_int_equal(da.failed_tries, 2);
    assert_false(da.lockout_auth_enabled);
    free(out);

    /* the snapshot (v1) under the tenant's authorisation: DA state re-applied */
    fh_put(&v->h, PERM, snap, n1);
    vt_restart(v);
    v->s.rb.policy = ROLLBACK_SNAPSHOT;
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    v->s.rb.have_auth = true;
    v->s.rb.auth.from_version = 3;
    v->s.rb.auth.to_version = 1;
    fh_log_clear(&v->h);
    assert_int_equal(load_raw(v, PERM, &out, &len), SVTPM_OK);
    assert_true(fh_log_has(&v->h, "failedTries 0 -> 2, lockoutAuth enabled -> disabled; TPM clock 5000 -> 93000 ms"));
    assert_int_equal(tpmstate_da_read(out, len, &da), SVTPM_OK);
    assert_int_equal(da.failed_tries, 2);
    assert_false(da.lockout_auth_enabled);
    assert_int_equal(da.max_tries, 7);   /* the snapshot's own parameters stay */
    uint64_t clock = 0;
    assert_int_equal(tpmstate_clock(out, len, &clock), SVTPM_OK);
    assert_int_equal(clock, 93000);      /* the TPM clock does not go back either */
    /* only the DA fields and the clock differ from the snapshot's plaintext */
    size_t pn;
    uint8_t *plain = test_vector("tpmstate_params.permall", &pn);
    assert_int_equal(pn, len);
    assert_int_equal(tpmstate_clock_patch(plain, pn, 5000), SVTPM_OK);
    size_t off = 0, diff = 0;
    assert_int_equal(tpmstate_da_find(plain, pn, &off), SVTPM_OK);
    assert_int_equal(tpmstate_clock_patch(plain, pn, 93000), SVTPM_OK);
    for (size_t i = 0; i < pn; i++)
        if (plain[i] != out[i]) {
            assert_true(i >= off && i < off + TPMSTATE_DA_LEN);
            diff++;
        }
    assert_true(diff > 0);
    free(plain);
    free(out);
    free(snap);
}

/* A restore whose DA state cannot be re-applied (the recorded state was not
 * readable: here, not a libtpms blob) is refused, not opened as it is. */
static void test_restore_without_da_refused(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    v->s.rb.policy = ROLLBACK_SNAPSHOT;
    assert_int_equal(save_v(v, PERM, 300, 1), SVTPM_OK);
    size_t n1;
    uint8_t *snap = fh_snapshot(&v->h, PERM, &n1);
    assert_int_equal(save_v(v, PERM, 300, 2), SVTPM_OK);
    assert_int_equal(entry_of(v).da_flags, 0);
    fh_put(&v->h, PERM, snap, n1);
    vt_restart(v);
    v->s.rb.policy = ROLLBACK_SNAPSHOT;
    v->s.rb.have_auth = true;
    v->s.rb.auth.from_version = 2;
    v->s.rb.auth.to_version = 1;
    fh_log_clear(&v->h);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    assert_true(fh_log_has(&v->h, "could not be re-applied"));
    free(snap);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rb_setup, rb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_da_recorded_and_reapplied),
        T(test_restore_without_da_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
