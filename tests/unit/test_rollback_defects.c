/* src/enclave/rollback.h: regressions for defects the rollback tests found
 * in rollback.c/store.c (the comment above each gives the scenario), and
 * migration blobs judged by the counter store. Fixture: tests/lib/rbfix.h. */
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

/* ---- regressions: defects found while writing this file, now fixed ---- */

/* A crash between a vTPM's very first state write (version 1, SEAL_F_NRS)
 * and the creation of its counter-store entry: a missing entry reads as
 * version 0, so version 1 is the in-flight record, enrolled, not refused as
 * "counter-store-replaced" (which would brick the vTPM for good). */
static void test_first_save_crash_enrols(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    /* the state record is durable, the process dies before the store write */
    fh_fault(&v->h, 0, FH_FULL_DIE, 0);
    assert_int_not_equal(save_v(v, PERM, 1000, 1), SVTPM_OK);
    assert_non_null(fh_bytes(&v->h, PERM, NULL));
    assert_null(fh_bytes(&v->h, NRS, NULL));
    vt_restart(v);
    uint8_t *out;
    uint32_t n;
    svtpm_err e = load_raw(v, PERM, &out, &n);
    free(out);
    if (e != SVTPM_OK && e != SVTPM_E_NOTFOUND)
        fail_msg("first save (v1) durable, crash before the counter store was created: "
                 "the vTPM can never start again (load: %s%s)", svtpm_strerror(e),
                 fh_log_has(&v->h, "counter-store-replaced") ? ", audit counter-store-replaced" : "");
    expect_load(v, PERM, 1000, 1);
}

/* After a failed write the process lives on (the error is reported; the
 * host may carry on, e.g. with CMD_STORE_VOLATILE). The record whose write
 * failed may be durable and is not recorded; were the OTHER file's next save
 * given the same version, that record would be neither recorded nor next and
 * the next start would refuse it for good. So the store is wedged: every save
 * and delete is refused, unwritten, until the next power-on re-reads the
 * files (store_reset), which resolves the unrecorded record first.
 *  (nrs)   the state record is durable, the counter store's write fails;
 *  (state) the host made the record durable and reported an error. */
static void test_failed_write_wedges(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    size_t fails = 0;
    for (int how = 0; how < 2; how++)
        for (uint32_t first = PERM; first <= VOL; first++) {
            uint32_t other = first == PERM ? VOL : PERM;
            vt_wipe(v);
            assert_int_equal(save_v(v, PERM, 100, 1), SVTPM_OK);
            assert_int_equal(save_v(v, VOL, 100, 2), SVTPM_OK);
            uint64_t w0 = v->h.writes;
            if (how == 0)
                fh_fault(&v->h, (int64_t)w0 + 1, FH_FAIL, 0);    /* the counter store's write */
            else
                fh_fault(&v->h, (int64_t)w0, FH_FULL_FAIL, 0);   /* the state write: durable, E_IO */
            assert_int_equal(save_v(v, first, 200, 3), SVTPM_E_IO);
            uint64_t w = v->h.writes;
            assert_int_equal(save_v(v, other, 300, 4), SVTPM_E_STATE);
            assert_int_equal(v->h.writes, w);
            store_reset(&v->s);   /* the next power-on */
            fh_log_clear(&v->h);
            assert_int_equal(save_v(v, other, 300, 4), SVTPM_OK);
            assert_true(fh_log_has(&v->h, "was written but not recorded"));
            w = v->h.writes - 2;   /* the other file's record, then the counter store */
            uint64_t s_first = written_hdr(v, w0).seq, s_other = written_hdr(v, w).seq;
            vt_restart(v);
            uint8_t *out;
            uint32_t n;
            fh_log_clear(&v->h);
            svtpm_err e = load_raw(v, first, &out, &n);
            bool fine = e == SVTPM_OK &&
                        (is_content(out, n, 200, 3) || is_content(out, n, 100, first == PERM ? 1 : 2));
            free(out);
            if (!fine) {
                fprintf(stderr, "%s save (version %llu) durable, %s, process lived on; %s save "
                        "got version %llu%s and was acked; next start: %s refused: %s%s\n",
                        store_file_name(first), (unsigned long long)s_first,
                        how == 0 ? "counter-store write failed" : "reported failed by the host",
                        store_file_name(other), (unsigned long long)s_other,
                        s_first == s_other ? " (the SAME version)" : "", store_file_name(first),
                        svtpm_strerror(e),
                        fh_log_has(&v->h, "attack=counter-store-rollback") ? " (audit counter-store-rollback)" :
                        fh_log_has(&v->h, "attack=rollback") ? " (audit rollback)" : "");
                fails++;
            }
            expect_load(v, other, 300, 4);
        }
    if (fails)
        fail_msg("%zu of 4 scenarios leave a state that is refused at the next start", fails);
}

/* Security (policy strict): a version number can be handed out twice across
 * a restart, and only the acknowledged record of it may be opened.
 * (crash) The host lets the enclave write record A (version n), kills it
 *   before the counter store records n, puts the file back as it was before
 *   A (version n-1, recorded: accepted), and the next save, B, gets version n
 *   again, recorded and acknowledged. Then the host swaps A in. Were A
 *   accepted (same version), each such cycle could undo one failed
 *   authorisation (B) with a harmless command's state (A): unlimited
 *   dictionary-attack guesses. The entry names B's IV: A is refused.
 * (error) The host writes A durably and answers E_IO; after the power-on A
 *   is recorded as in flight, B gets n+1; A put back is then plainly old. */
static void test_version_reused_record_refused(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    size_t fails = 0;
    for (int how = 0; how < 2; how++)
        for (uint32_t file = PERM; file <= VOL; file++) {
            vt_wipe(v);
            assert_int_equal(save_v(v, file, 100, 1), SVTPM_OK);        /* S0: version 1, acked */
            size_t n0, na;
            uint8_t *s0 = fh_snapshot(&v->h, file, &n0);
            uint64_t w = v->h.writes;
            fh_fault(&v->h, (int64_t)w, how == 0 ? FH_FULL_DIE : FH_FULL_FAIL, 0);
            assert_int_not_equal(save_v(v, file, 200, 2), SVTPM_OK);    /* A: durable, never acked */
            uint8_t *a = fh_snapshot(&v->h, file, &na);
            if (how == 0) {
                /* the host hides A and restarts the enclave */
                fh_put(&v->h, file, s0, n0);
                vt_restart(v);
                expect_load(v, file, 100, 1);
            } else {
                store_reset(&v->s);   /* wedged until the next power-on */
            }
            uint64_t wb = v->h.writes;
            assert_int_equal(save_v(v, file, 300, 3), SVTPM_OK);        /* B: acked */
            uint64_t sa = written_hdr(v, w).seq, sb = written_hdr(v, wb).seq;
            fh_put(&v->h, file, a, na);
            vt_restart(v);
            uint8_t *out;
            uint32_t n;
            svtpm_err e = load_raw(v, file, &out, &n);
            bool got_a = e == SVTPM_OK && is_content(out, n, 200, 2);
            free(out);
            free(a);
            free(s0);
            if (got_a || e != SVTPM_E_ROLLBACK) {
                fprintf(stderr, "%s: %s, record A (version %llu, never acknowledged) swapped in "
                        "after the acknowledged B (version %llu) was recorded: load %s%s\n",
                        store_file_name(file), how == 0 ? "crash + hidden file" : "durable write reported failed",
                        (unsigned long long)sa, (unsigned long long)sb, svtpm_strerror(e),
                        got_a ? ", returned A" : "");
                fails++;
            }
        }
    if (fails)
        fail_msg("%zu of 4 scenarios accept a never-acknowledged record in place of the "
                 "acknowledged one (strict rollback protection bypassed)", fails);
}

/* Two processes of one vTPM on the same files (a fork the host made, or a
 * botched migration): the second writer finds the entry changed under it,
 * refuses (audit counter-store-changed) and is wedged; the first goes on. */
static void test_fork_detected(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 100, 1), SVTPM_OK);
    struct store s2;
    assert_int_equal(store_init(&s2, v->plat, &v->oc), SVTPM_OK);
    store_bind(&s2, v->id, v->tenant, BIND_GEN);
    s2.rb.active = true;
    s2.rb.policy = ROLLBACK_STRICT;
    uint8_t *out;
    uint32_t n;
    assert_int_equal(store_load(&s2, PERM, &out, &n), SVTPM_OK);
    fh_ecall_end(&v->h);
    free(out);
    assert_int_equal(save_v(v, VOL, 100, 2), SVTPM_OK);   /* the first instance writes on */
    fh_log_clear(&v->h);
    content(g_buf, 100, 3);
    assert_int_equal(store_save(&s2, VOL, g_buf, 100), SVTPM_E_ROLLBACK);
    fh_ecall_end(&v->h);
    assert_true(fh_log_has(&v->h, "attack=counter-store-changed"));
    assert_int_equal(store_save(&s2, PERM, g_buf, 100), SVTPM_E_STATE);
    fh_ecall_end(&v->h);
    assert_entry(v, 2, 1, 2);
    store_fini(&s2);
}

/* Incoming migration blobs (SET_STATEBLOB) carry the state version they
 * were taken at: the current one passes, an older one is a rollback, one
 * newer than this host's store knows (the vTPM ran on another host) passes
 * and the versions continue above it. */
static void test_blob_versions(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    struct seal_hdr h = { .kind = SEAL_KIND_MIG_PERMALL };
    /* a vTPM new to this host: no entry */
    h.seq = 7;
    assert_int_equal(rollback_check_blob(&v->s, &h), SVTPM_OK);
    fh_ecall_end(&v->h);
    assert_int_equal(save_v(v, PERM, 100, 1), SVTPM_OK);
    assert_entry(v, 8, 8, 0);
    assert_int_equal(save_v(v, VOL, 100, 2), SVTPM_OK);
    assert_entry(v, 9, 8, 9);
    h.seq = 8;   /* the current permall */
    assert_int_equal(rollback_check_blob(&v->s, &h), SVTPM_OK);
    fh_ecall_end(&v->h);
    fh_log_clear(&v->h);
    h.seq = 7;   /* older */
    assert_int_equal(rollback_check_blob(&v->s, &h), SVTPM_E_ROLLBACK);
    fh_ecall_end(&v->h);
    assert_true(fh_log_has(&v->h, "attack=rollback"));
    h.seq = 9;   /* the volatile file's version: never a permall's */
    assert_int_equal(rollback_check_blob(&v->s, &h), SVTPM_E_ROLLBACK);
    fh_ecall_end(&v->h);
    h.seq = 40;  /* ran elsewhere since */
    vt_restart(v);
    expect_load(v, PERM, 100, 1);
    assert_int_equal(rollback_check_blob(&v->s, &h), SVTPM_OK);
    fh_ecall_end(&v->h);
    assert_int_equal(save_v(v, PERM, 100, 3), SVTPM_OK);
    assert_entry(v, 41, 41, 9);
    /* nothing was written by the checks themselves */
    assert_int_equal(v->h.nrs_unlocked_writes, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rb_setup, rb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_first_save_crash_enrols),
        T(test_failed_write_wedges),
        T(test_version_reused_record_refused),
        T(test_fork_detected),
        T(test_blob_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
