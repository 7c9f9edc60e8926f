/* src/enclave/rollback.h: the rollback guard of a bound vTPM against the
 * in-memory fake host with a counter store (fixture: tests/lib/rbfix.h):
 * fresh vTPMs, old state copied back, writes never recorded, deleted files,
 * a replaced counter store, two vTPMs on one store. Regressions for defects
 * found in rollback.c/store.c and migration blobs: test_rollback_defects.c;
 * the snapshot policy's DA and clock re-apply: test_rollback_da.c; crash
 * injection at every write point: test_rollback_crash.c. */
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

/* ---- a. a fresh vTPM ---- */

static void test_fresh_vtpm_versions(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    struct nrs_entry e;
    uint8_t *out;
    uint32_t n;
    /* nothing yet: loads find nothing and create no counter store */
    assert_int_equal(load_raw(v, PERM, &out, &n), SVTPM_E_NOTFOUND);
    assert_int_equal(load_raw(v, VOL, &out, &n), SVTPM_E_NOTFOUND);
    assert_null(fh_bytes(&v->h, NRS, NULL));
    assert_int_equal(v->h.writes, 0);

    /* the first save creates the entry */
    assert_int_equal(save_v(v, PERM, 1315, 1), SVTPM_OK);
    assert_int_equal(v->h.writes, 2);
    assert_int_equal(v->h.wlog[0].file, PERM);   /* the state first, then its version */
    assert_int_equal(v->h.wlog[1].file, NRS);
    assert_non_null(fh_bytes(&v->h, NRS, NULL));
    uint32_t count = 0;
    assert_int_equal(peek_entry(v, ID_A, &e, &count), SVTPM_OK);
    assert_int_equal(count, 1);
    assert_entry(v, 1, 1, 0);
    struct seal_hdr h = written_hdr(v, 0);
    assert_true(h.seq == 1);
    assert_true(h.flags & SEAL_F_NRS);
    assert_int_equal(h.bind_gen, BIND_GEN);
    assert_memory_equal(h.tenant, TENANT_A, 32);
    /* the counter store itself: kind NRS, no vTPM, no tenant, no flags */
    h = written_hdr(v, 1);
    assert_int_equal(h.kind, SEAL_KIND_NRS);
    assert_int_equal(h.flags, 0);
    static const uint8_t zero[32];
    assert_memory_equal(h.tenant, zero, 32);
    assert_memory_equal(h.vtpm_id, zero, 16);

    /* one version per save, across both files; each save: state, then NRS */
    uint64_t perm_seq = 1, vol_seq = 0;
    const uint32_t files[] = { VOL, VOL, PERM, VOL, PERM, PERM, PERM, VOL, PERM, VOL, VOL, PERM };
    for (uint32_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        uint64_t w0 = v->h.writes, want = k + 2;
        assert_int_equal(save_v(v, files[k], 100 + 37 * k, 10 + k), SVTPM_OK);
        assert_int_equal(v->h.writes, w0 + 2);
        assert_int_equal(v->h.wlog[w0].file, files[k]);
        assert_int_equal(v->h.wlog[w0 + 1].file, NRS);
        h = written_hdr(v, w0);
        if (h.seq != want)
            fail_msg("save %u (%s): version %llu, expected %llu", k, store_file_name(files[k]),
                     (unsigned long long)h.seq, (unsigned long long)want);
        assert_true(h.flags & SEAL_F_NRS);
        assert_int_equal(h.kind, files[k] == PERM ? SEAL_KIND_PERMALL : SEAL_KIND_VOLATILE);
        if (files[k] == PERM)
            perm_seq = want;
        else
            vol_seq = want;
        assert_entry(v, want, perm_seq, vol_seq);
    }
    assert_true(v->h.nrs_locks > 0);

    /* a new process reads both back; a consistent state writes nothing */
    vt_restart(v);
    uint64_t w = v->h.writes;
    expect_load(v, PERM, 100 + 37 * 11, 21);
    expect_load(v, VOL, 100 + 37 * 10, 20);
    assert_int_equal(v->h.writes, w);
    assert_entry(v, 13, perm_seq, vol_seq);
    /* and continues the sequence */
    assert_int_equal(save_v(v, VOL, 5, 99), SVTPM_OK);
    assert_true(written_hdr(v, w).seq == 14);
    assert_entry(v, 14, perm_seq, 14);
    assert_int_equal(count, 1);
}

/* ---- b. an old state file copied back ---- */

static void test_rollback_refused(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 1000, 1), SVTPM_OK);
    size_t n1, n2;
    uint8_t *v1 = fh_snapshot(&v->h, PERM, &n1);
    assert_int_equal(save_v(v, PERM, 2000, 2), SVTPM_OK);
    uint8_t *v2 = fh_snapshot(&v->h, PERM, &n2);
    assert_int_equal(save_v(v, PERM, 3000, 3), SVTPM_OK);
    size_t n3;
    uint8_t *v3 = fh_snapshot(&v->h, PERM, &n3);
    assert_entry(v, 3, 3, 0);

    const uint8_t *old[2] = { v1, v2 };
    for (int k = 0; k < 2; k++) {
        fh_put(&v->h, PERM, old[k], n1);
        /* the same process, forgetting its files (as at power-on) */
        store_reset(&v->s);
        fh_log_clear(&v->h);
        assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
        assert_true(fh_log_has(&v->h, "attack=rollback"));
        assert_int_equal(v->s.last_err, SVTPM_E_ROLLBACK);
        assert_int_equal(v->s.last_file, PERM);
        /* a new process too */
        vt_restart(v);
        assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
        /* a save over the old file is refused too (it loads first), and
         * neither it nor the counter store is written */
        uint64_t w = v->h.writes;
        assert_int_equal(save_v(v, PERM, 10, 77), SVTPM_E_ROLLBACK);
        assert_int_equal(v->h.writes, w);
        size_t n;
        assert_memory_equal(fh_bytes(&v->h, PERM, &n), old[k], n1);
        assert_entry(v, 3, 3, 0);
    }
    /* the right file back: loads, and life goes on */
    fh_put(&v->h, PERM, v3, n3);
    vt_restart(v);
    expect_load(v, PERM, 3000, 3);
    assert_int_equal(save_v(v, PERM, 4000, 4), SVTPM_OK);
    vt_restart(v);
    expect_load(v, PERM, 4000, 4);
    assert_entry(v, 4, 4, 0);
    free(v1);
    free(v2);
    free(v3);
}

/* The other file's saves in between do not make an old record look current. */
static void test_rollback_refused_interleaved(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 100, 1), SVTPM_OK);   /* seq 1 */
    assert_int_equal(save_v(v, VOL, 100, 2), SVTPM_OK);    /* seq 2 */
    size_t np, nv;
    uint8_t *p1 = fh_snapshot(&v->h, PERM, &np);
    uint8_t *v2 = fh_snapshot(&v->h, VOL, &nv);
    assert_int_equal(save_v(v, VOL, 100, 3), SVTPM_OK);    /* seq 3 */
    assert_int_equal(save_v(v, PERM, 100, 4), SVTPM_OK);   /* seq 4 */
    /* permall at version 1 where 4 is recorded: refused; volatile 2 for 3 too */
    fh_put(&v->h, PERM, p1, np);
    vt_restart(v);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    expect_load(v, VOL, 100, 3);
    fh_put(&v->h, VOL, v2, nv);
    vt_restart(v);
    assert_int_equal(expect_load_fails(v, VOL), SVTPM_E_ROLLBACK);
    free(p1);
    free(v2);
}

/* ---- c. a state write that was never recorded ---- */

static void test_inflight_write_accepted(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    for (int die = 0; die < 2; die++) {
        vt_wipe(v);
        assert_int_equal(save_v(v, PERM, 500, 1), SVTPM_OK);
        assert_int_equal(save_v(v, VOL, 600, 2), SVTPM_OK);
        assert_entry(v, 2, 1, 2);
        /* the state record is durable, the counter store's write fails */
        uint64_t w = v->h.writes;
        fh_fault(&v->h, (int64_t)w + 1, die ? FH_FAIL_DIE : FH_FAIL, 0);
        assert_int_not_equal(save_v(v, PERM, 700, 3), SVTPM_OK);
        assert_int_equal(v->h.writes, w + 2);
        assert_int_equal(v->h.wlog[w].file, PERM);
        assert_int_equal(v->h.wlog[w + 1].file, NRS);
        assert_true(written_hdr(v, w).seq == 3);
        if (die)
            fh_revive(&v->h);
        assert_entry(v, 2, 1, 2);   /* not recorded */
        /* a fresh load: the new content, and the load records version 3 */
        fh_log_clear(&v->h);
        if (die)
            vt_restart(v);
        else
            store_reset(&v->s);
        uint64_t w1 = v->h.writes;
        expect_load(v, PERM, 700, 3);
        assert_true(fh_log_has(&v->h, "was written but not recorded"));
        assert_int_equal(v->h.writes, w1 + 1);
        assert_int_equal(v->h.wlog[w1].file, NRS);
        assert_entry(v, 3, 3, 2);
        expect_load(v, VOL, 600, 2);
        /* recorded now: the next load writes nothing, the next save is 4 */
        vt_restart(v);
        w1 = v->h.writes;
        expect_load(v, PERM, 700, 3);
        assert_int_equal(v->h.writes, w1);
        assert_int_equal(save_v(v, VOL, 800, 4), SVTPM_OK);
        assert_true(written_hdr(v, w1).seq == 4);
        assert_entry(v, 4, 3, 4);
    }
}

/* The process lives on after the counter store failed: the store is wedged
 * (nothing is written, whichever file) until the next power-on re-reads the
 * files; then the next save of the file records the unrecorded record and
 * its own. */
static void test_inflight_then_same_file_save(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 500, 1), SVTPM_OK);
    fh_fault(&v->h, (int64_t)v->h.writes + 1, FH_FAIL, 0);
    assert_int_equal(save_v(v, PERM, 600, 2), SVTPM_E_IO);
    assert_entry(v, 1, 1, 0);
    uint64_t w = v->h.writes;
    assert_int_equal(save_v(v, PERM, 700, 3), SVTPM_E_STATE);
    assert_int_equal(save_v(v, VOL, 700, 3), SVTPM_E_STATE);
    assert_int_equal(store_delete(&v->s, VOL), SVTPM_E_STATE);
    fh_ecall_end(&v->h);
    assert_int_equal(v->h.writes, w);
    assert_int_equal(v->h.deletes, 0);
    store_reset(&v->s);   /* the next power-on */
    assert_int_equal(save_v(v, PERM, 700, 3), SVTPM_OK);
    assert_entry(v, 3, 3, 0);
    vt_restart(v);
    expect_load(v, PERM, 700, 3);
}

/* ---- d. deleted files ---- */

static void test_deleted_files(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 300, 1), SVTPM_OK);
    assert_int_equal(save_v(v, VOL, 400, 2), SVTPM_OK);
    size_t np, nv;
    uint8_t *perm = fh_snapshot(&v->h, PERM, &np);
    uint8_t *vol = fh_snapshot(&v->h, VOL, &nv);
    assert_int_equal(save_v(v, PERM, 301, 3), SVTPM_OK);
    uint8_t *perm3 = fh_snapshot(&v->h, PERM, &np);
    assert_entry(v, 3, 3, 2);

    /* permall removed by the host: starting anew would reset the DA state */
    fh_remove(&v->h, PERM);
    vt_restart(v);
    fh_log_clear(&v->h);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    assert_true(fh_log_has(&v->h, "attack=state-deleted"));
    /* nor may a save create it afresh */
    uint64_t w = v->h.writes;
    assert_int_equal(save_v(v, PERM, 10, 50), SVTPM_E_ROLLBACK);
    assert_int_equal(v->h.writes, w);
    assert_null(fh_bytes(&v->h, PERM, NULL));
    assert_entry(v, 3, 3, 2);
    fh_put(&v->h, PERM, perm3, np);

    /* volatilestate removed: a start without it, recorded as absent */
    fh_remove(&v->h, VOL);
    vt_restart(v);
    uint8_t *out;
    uint32_t n;
    assert_int_equal(load_raw(v, VOL, &out, &n), SVTPM_E_NOTFOUND);
    assert_null(out);
    assert_entry(v, 3, 3, 0);
    expect_load(v, PERM, 301, 3);
    /* then the old volatile file replayed: refused */
    fh_put(&v->h, VOL, vol, nv);
    vt_restart(v);
    fh_log_clear(&v->h);
    assert_int_equal(expect_load_fails(v, VOL), SVTPM_E_ROLLBACK);
    assert_true(fh_log_has(&v->h, "attack=rollback"));
    fh_remove(&v->h, VOL);

    /* the enclave's own delete is recorded the same way */
    vt_restart(v);
    assert_int_equal(save_v(v, VOL, 500, 4), SVTPM_OK);   /* seq 4 */
    uint8_t *vol4 = fh_snapshot(&v->h, VOL, &nv);
    assert_entry(v, 4, 3, 4);
    assert_int_equal(store_delete(&v->s, VOL), SVTPM_OK);
    fh_ecall_end(&v->h);
    assert_entry(v, 4, 3, 0);
    vt_restart(v);
    assert_int_equal(load_raw(v, VOL, &out, &n), SVTPM_E_NOTFOUND);
    fh_put(&v->h, VOL, vol4, nv);
    vt_restart(v);
    assert_int_equal(expect_load_fails(v, VOL), SVTPM_E_ROLLBACK);
    fh_remove(&v->h, VOL);
    /* a new volatile file continues the versions (5, not 1) */
    assert_int_equal(save_v(v, VOL, 600, 5), SVTPM_OK);
    assert_entry(v, 5, 3, 5);
    vt_restart(v);
    expect_load(v, VOL, 600, 5);
    expect_load(v, PERM, 301, 3);
    /* the enclave deleting permall (a TPM manufacture reset) is no rollback */
    assert_int_equal(store_delete(&v->s, PERM), SVTPM_OK);
    fh_ecall_end(&v->h);
    assert_entry(v, 5, 0, 5);
    vt_restart(v);
    assert_int_equal(load_raw(v, PERM, &out, &n), SVTPM_E_NOTFOUND);
    fh_put(&v->h, PERM, perm3, np);   /* but the old one is not coming back */
    vt_restart(v);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    free(perm);
    free(perm3);
    free(vol);
    free(vol4);
}

/* ---- e. the counter store replaced ---- */

static void test_nrs_lost(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    assert_int_equal(save_v(v, PERM, 300, 1), SVTPM_OK);
    assert_int_equal(save_v(v, VOL, 300, 2), SVTPM_OK);
    assert_int_equal(save_v(v, PERM, 300, 3), SVTPM_OK);
    size_t nn;
    uint8_t *nrs = fh_snapshot(&v->h, NRS, &nn);
    fh_remove(&v->h, NRS);
    vt_restart(v);
    for (uint32_t file = PERM; file <= VOL; file++) {
        fh_log_clear(&v->h);
        assert_int_equal(expect_load_fails(v, file), SVTPM_E_ROLLBACK);
        assert_true(fh_log_has(&v->h, "attack=counter-store-replaced"));
    }
    assert_null(fh_bytes(&v->h, NRS, NULL));   /* no new store enrolled the state */
    /* a counter store without this vTPM's entry (another vTPM's only) */
    struct vt *o = &f->b;
    vt_up(o, &f->plat, ID_B, TENANT_B);
    f->b_up = true;
    fh_share_nrs(&o->h, &v->h);
    assert_int_equal(save_v(o, PERM, 10, 1), SVTPM_OK);
    vt_restart(v);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    /* a counter store that does not open (garbage, cut): fail closed */
    uint8_t junk[4096];
    memset(junk, 0x5a, sizeof junk);
    fh_put(&v->h, NRS, junk, sizeof junk);
    vt_restart(v);
    assert_int_not_equal(expect_load_fails(v, PERM), SVTPM_OK);
    fh_put(&v->h, NRS, nrs, nn / 2);
    vt_restart(v);
    assert_int_not_equal(expect_load_fails(v, PERM), SVTPM_OK);
    /* the right one back */
    fh_put(&v->h, NRS, nrs, nn);
    vt_restart(v);
    expect_load(v, PERM, 300, 3);
    expect_load(v, VOL, 300, 2);
    free(nrs);
}

static void test_nrs_older_copy(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    size_t nn;
    assert_int_equal(save_v(v, PERM, 300, 1), SVTPM_OK);
    uint8_t *nrs1 = fh_snapshot(&v->h, NRS, &nn);          /* records version 1 */
    assert_int_equal(save_v(v, PERM, 300, 2), SVTPM_OK);
    uint8_t *nrs2 = fh_snapshot(&v->h, NRS, &nn);          /* records version 2 */
    assert_int_equal(save_v(v, PERM, 300, 3), SVTPM_OK);
    size_t np;
    uint8_t *nrs3 = fh_snapshot(&v->h, NRS, &nn);
    uint8_t *perm3 = fh_snapshot(&v->h, PERM, &np);

    /* two versions behind the state: the store went back: refused */
    fh_put(&v->h, NRS, nrs1, nn);
    vt_restart(v);
    fh_log_clear(&v->h);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    assert_true(fh_log_has(&v->h, "attack=counter-store-rollback"));

    /* exactly one version behind: indistinguishable from a crash between the
     * state write and the store's: accepted as in flight, and recorded */
    fh_put(&v->h, NRS, nrs2, nn);
    vt_restart(v);
    fh_log_clear(&v->h);
    expect_load(v, PERM, 300, 3);
    assert_true(fh_log_has(&v->h, "was written but not recorded"));
    assert_false(fh_log_has(&v->h, "attack="));
    assert_entry(v, 3, 3, 0);
    /* ... and the older state file is still refused */
    assert_int_equal(save_v(v, PERM, 300, 4), SVTPM_OK);
    fh_put(&v->h, PERM, perm3, np);
    vt_restart(v);
    assert_int_equal(expect_load_fails(v, PERM), SVTPM_E_ROLLBACK);
    free(nrs1);
    free(nrs2);
    free(nrs3);
    free(perm3);
}

/* ---- f. two vTPMs, one counter store ---- */

/* b: a second vTPM (another tenant) on a's host, sharing its counter store. */
static void two_up(struct fx *f)
{
    vt_up(&f->b, &f->plat, ID_B, TENANT_B);
    f->b_up = true;
    fh_share_nrs(&f->b.h, &f->a.h);
}

static void test_two_vtpms(void **state)
{
    struct fx *f = *state;
    struct vt *a = &f->a, *b = &f->b;
    g_buf = f->buf;
    two_up(f);
    /* interleaved saves: each vTPM's versions are its own */
    size_t na = 0;
    uint8_t *a_old = NULL;
    for (uint32_t k = 0; k < 12; k++) {
        struct vt *v = k % 3 == 2 ? b : a;
        uint32_t file = k % 4 == 3 ? VOL : PERM;
        assert_int_equal(save_v(v, file, 200 + k, k), SVTPM_OK);
        if (k == 1)
            a_old = fh_snapshot(&a->h, PERM, &na);
    }
    /* a: k 0 1 3 4 6 7 9 10 (VOL at 3 and 7): versions 1..8; b: k 2 5 8 11 (VOL at 11) */
    assert_entry(a, 8, 8, 6);
    assert_entry(b, 4, 3, 4);
    struct nrs_entry e;
    uint32_t count = 0;
    assert_int_equal(peek_entry(b, ID_A, &e, &count), SVTPM_OK);
    assert_int_equal(count, 2);
    assert_true(e.version == 8);
    /* b's host shares a's file: one counter store on the host */
    assert_null(b->h.f[NRS].data);
    assert_ptr_equal(fh_bytes(&b->h, NRS, NULL), fh_bytes(&a->h, NRS, NULL));
    assert_true(b->h.nrs_locks > 0);

    /* rolling back a's permall: refused; b carries on */
    fh_put(&a->h, PERM, a_old, na);
    vt_restart(a);
    vt_restart(b);
    assert_int_equal(expect_load_fails(a, PERM), SVTPM_E_ROLLBACK);
    expect_load(b, PERM, 208, 8);
    expect_load(b, VOL, 211, 11);
    assert_int_equal(save_v(b, PERM, 300, 12), SVTPM_OK);
    assert_entry(b, 5, 5, 4);
    assert_entry(a, 8, 8, 6);   /* b's write kept a's entry */
    /* a's entry is a's only: b's state file under a's counter-store entry is
     * another vTPM's (refused before any version is looked at) */
    size_t nb;
    uint8_t *b_perm = fh_snapshot(&b->h, PERM, &nb);
    fh_put(&a->h, PERM, b_perm, nb);
    vt_restart(a);
    assert_int_equal(expect_load_fails(a, PERM), SVTPM_E_FOREIGN);
    free(b_perm);
    free(a_old);
}

static void test_two_vtpms_inflight(void **state)
{
    struct fx *f = *state;
    struct vt *a = &f->a, *b = &f->b;
    g_buf = f->buf;
    two_up(f);
    assert_int_equal(save_v(a, PERM, 100, 1), SVTPM_OK);
    assert_int_equal(save_v(b, PERM, 100, 2), SVTPM_OK);
    /* a's state write durable, a dies before its counter-store write */
    fh_fault(&a->h, (int64_t)a->h.writes, FH_FULL_DIE, 0);
    assert_int_not_equal(save_v(a, PERM, 100, 3), SVTPM_OK);
    /* b keeps saving meanwhile */
    for (uint32_t k = 0; k < 3; k++)
        assert_int_equal(save_v(b, k % 2 ? VOL : PERM, 100, 10 + k), SVTPM_OK);
    vt_restart(a);
    expect_load(a, PERM, 100, 3);
    assert_entry(a, 2, 2, 0);
    assert_entry(b, 4, 4, 3);
    vt_restart(b);
    expect_load(b, PERM, 100, 12);
    expect_load(b, VOL, 100, 11);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rb_setup, rb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_fresh_vtpm_versions),
        T(test_rollback_refused),
        T(test_rollback_refused_interleaved),
        T(test_inflight_write_accepted),
        T(test_inflight_then_same_file_save),
        T(test_deleted_files),
        T(test_nrs_lost),
        T(test_nrs_older_copy),
        T(test_two_vtpms),
        T(test_two_vtpms_inflight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
