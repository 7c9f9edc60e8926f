/* src/enclave/rollback.h: the rollback guard of a bound vTPM against the
 * in-memory fake host with a counter store (fixture: tests/lib/rbfix.h):
 * fresh vTPMs, old state copied back, writes never recorded, deleted files,
 * a replaced counter store, two vTPMs on one store, migration blobs, the
 * snapshot policy's DA and clock re-apply, and regressions for defects
 * these tests found in rollback.c/store.c (the comment above each gives the
 * scenario). Crash injection at every write point: test_rollback_crash.c. */
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
        T(test_first_save_crash_enrols),
        T(test_failed_write_wedges),
        T(test_version_reused_record_refused),
        T(test_fork_detected),
        T(test_blob_versions),
        T(test_da_recorded_and_reapplied),
        T(test_restore_without_da_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
