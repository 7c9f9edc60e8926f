#include "rbfix.h"

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
#include "rollback.h"
#include "testplat.h"
#include "tpmstate.h"
#include "vectors.h"

const uint8_t ID_A[16] = {
    0xa1, 0x1a, 0x22, 0x33, 0x44, 0x55, 0x46, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01,
};
const uint8_t ID_B[16] = {
    0x0b, 0x1b, 0x22, 0x33, 0x44, 0x55, 0x46, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x02,
};
const uint8_t TENANT_A[32] = { 0x7a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
const uint8_t TENANT_B[32] = { 0x7b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

void vt_bind(struct vt *v)
{
    store_bind(&v->s, v->id, v->tenant, BIND_GEN);
    v->s.rb.active = true;
    v->s.rb.policy = ROLLBACK_STRICT;
}

/* A new enclave process on the same host files: a new store, a new struct
 * rollback (nothing cached), bound as binding_verify binds it. */
void vt_restart(struct vt *v)
{
    store_fini(&v->s);
    fh_revive(&v->h);
    assert_int_equal(store_init(&v->s, v->plat, &v->oc), SVTPM_OK);
    vt_bind(v);
}

void vt_up(struct vt *v, const struct tee_platform *plat, const uint8_t *id, const uint8_t *tenant)
{
    v->plat = plat;
    v->id = id;
    v->tenant = tenant;
    fh_init(&v->h);
    fh_counters(&v->h, true);
    fh_ctx(&v->h, &v->oc);
    assert_int_equal(store_init(&v->s, plat, &v->oc), SVTPM_OK);
    vt_bind(v);
}

/* Everything on v's host gone: a fresh host, a fresh process. */
void vt_wipe(struct vt *v)
{
    fh_fini(&v->h);
    fh_init(&v->h);
    fh_counters(&v->h, true);
    vt_restart(v);
}

void vt_down(struct vt *v)
{
    assert_int_equal(v->h.bad_requests, 0);         /* never a malformed OCALL */
    assert_int_equal(v->h.nrs_unlocked_writes, 0);  /* never a blind counter-store write */
    assert_int_equal(v->h.nrs_refused, 0);
    store_fini(&v->s);
    fh_ctx_free(&v->oc);
    fh_fini(&v->h);
}

int rb_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    testplat_init(&f->plat, 11);
    vt_up(&f->a, &f->plat, ID_A, TENANT_A);
    f->buf = malloc(SEAL_SLOT_SIZE);
    *state = f;
    return 0;
}

int rb_teardown(void **state)
{
    struct fx *f = *state;
    if (f->b_up)
        vt_down(&f->b);
    vt_down(&f->a);
    free(f->buf);
    free(f);
    return 0;
}

uint8_t *g_buf;

svtpm_err save_v(struct vt *v, uint32_t file, uint32_t len, uint32_t ver)
{
    content(g_buf, len, ver);
    svtpm_err e = store_save(&v->s, file, g_buf, len);
    fh_ecall_end(&v->h);
    return e;
}

svtpm_err load_raw(struct vt *v, uint32_t file, uint8_t **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    svtpm_err e = store_load(&v->s, file, out, n);
    fh_ecall_end(&v->h);
    return e;
}

void expect_load(struct vt *v, uint32_t file, uint32_t len, uint32_t ver)
{
    uint8_t *out;
    uint32_t n;
    svtpm_err e = load_raw(v, file, &out, &n);
    if (e != SVTPM_OK)
        fail_msg("load of %s: %s, expected content v%u", store_file_name(file), svtpm_strerror(e), ver);
    if (!is_content(out, n, len, ver))
        fail_msg("load of %s: wrong content (len %u, expected v%u len %u)", store_file_name(file), n,
                 ver, len);
    free(out);
}

/* A refused load: nothing comes back, nothing is written, no file changes. */
svtpm_err expect_load_fails(struct vt *v, uint32_t file)
{
    size_t sz[4] = { 0 };
    uint8_t *before[4] = { NULL };
    for (uint32_t k = PERM; k <= NRS; k++)
        before[k] = fh_snapshot(&v->h, k, &sz[k]);
    uint64_t w = v->h.writes, d = v->h.deletes;
    uint8_t *out = (uint8_t *)(uintptr_t)0x1;   /* sentinel */
    uint32_t len = 0xabcdef;
    svtpm_err e = store_load(&v->s, file, &out, &len);
    fh_ecall_end(&v->h);
    assert_int_not_equal(e, SVTPM_OK);
    assert_ptr_equal(out, (uint8_t *)(uintptr_t)0x1);
    assert_int_equal(len, 0xabcdef);
    assert_int_equal(v->h.writes, w);
    assert_int_equal(v->h.deletes, d);
    for (uint32_t k = PERM; k <= NRS; k++) {
        size_t n = 0;
        uint8_t *after = fh_snapshot(&v->h, k, &n);
        assert_int_equal(before[k] != NULL, after != NULL);
        assert_int_equal(sz[k], n);
        if (before[k])
            assert_memory_equal(before[k], after, n);
        free(before[k]);
        free(after);
    }
    return e;
}

/* This vTPM's entry, as an outsider reads the counter store (NOTFOUND: no
 * store or no entry). Its own ECALL: takes and drops the lock. */
svtpm_err peek_entry(struct vt *v, const uint8_t id[16], struct nrs_entry *e, uint32_t *count)
{
    struct store s2;
    assert_int_equal(store_init(&s2, v->plat, &v->oc), SVTPM_OK);
    uint8_t *p = NULL;
    uint32_t n = 0, c = 0;
    svtpm_err err = store_load(&s2, NRS, &p, &n);
    fh_ecall_end(&v->h);
    if (!err)
        assert_int_equal(nrs_check(p, n, &c), SVTPM_OK);
    if (count)
        *count = c;
    if (!err)
        err = nrs_find(p, n, id, e);
    free(p);
    store_fini(&s2);
    return err;
}

struct nrs_entry entry_of(struct vt *v)
{
    struct nrs_entry e;
    svtpm_err err = peek_entry(v, v->id, &e, NULL);
    if (err)
        fail_msg("no counter-store entry for the vTPM: %s", svtpm_strerror(err));
    return e;
}

void assert_entry(struct vt *v, uint64_t version, uint64_t perm_seq, uint64_t vol_seq)
{
    struct nrs_entry e = entry_of(v);
    if (e.version != version || e.permall_seq != perm_seq || e.volatile_seq != vol_seq)
        fail_msg("entry: version %llu permall %llu volatile %llu; expected %llu %llu %llu",
                 (unsigned long long)e.version, (unsigned long long)e.permall_seq,
                 (unsigned long long)e.volatile_seq, (unsigned long long)version,
                 (unsigned long long)perm_seq, (unsigned long long)vol_seq);
    assert_memory_equal(e.vtpm_id, v->id, 16);
    assert_memory_equal(e.tenant, v->tenant, 32);
    assert_int_equal(e.bind_gen, BIND_GEN);
}

/* The header of the record write number idx left in its slot. */
struct seal_hdr written_hdr(struct vt *v, uint64_t idx)
{
    assert_true(idx < FH_MAX_WRITES);
    const struct fh_write *w = &v->h.wlog[idx];
    size_t sz;
    const uint8_t *b = fh_bytes(&v->h, w->file, &sz);
    assert_non_null(b);
    struct seal_hdr h;
    assert_int_equal(seal_hdr_parse(b + (size_t)w->slot * SEAL_SLOT_SIZE, SEAL_SLOT_SIZE, &h), SVTPM_OK);
    return h;
}

void replace_file(struct vt *v, uint32_t file, const uint8_t *b, size_t n)
{
    if (b)
        fh_put(&v->h, file, b, n);
    else
        fh_remove(&v->h, file);
}

void save_blob(struct vt *v, const char *name, uint64_t clock_ms)
{
    size_t n;
    uint8_t *b = test_vector(name, &n);
    assert_non_null(b);
    assert_int_equal(tpmstate_clock_patch(b, n, clock_ms), SVTPM_OK);
    assert_int_equal(store_save(&v->s, PERM, b, (uint32_t)n), SVTPM_OK);
    fh_ecall_end(&v->h);
    free(b);
}
