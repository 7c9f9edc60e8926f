/* src/enclave/store.h: the sealed A/B store against the in-memory fake host
 * (tests/lib/fakehost.h), including crash injection at every write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "bytes.h"
#include "content.h"
#include "fakehost.h"
#include "statedir.h"
#include "seal.h"
#include "sealfmt.h"
#include "store.h"
#include "testplat.h"

#define PERM STATE_FILE_PERMALL
#define VOL  STATE_FILE_VOLATILE

struct fx {
    struct tee_platform plat;
    struct fakehost h;
    struct ocall_ctx oc;
    struct store s;
    uint8_t *buf;          /* SEAL_SLOT_SIZE scratch for contents */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    testplat_init(&f->plat, 7);
    fh_init(&f->h);
    fh_ctx(&f->h, &f->oc);
    assert_int_equal(store_init(&f->s, &f->plat, &f->oc), SVTPM_OK);
    f->buf = malloc(SEAL_SLOT_SIZE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->h.bad_requests, 0);   /* the store never sent a malformed OCALL */
    store_fini(&f->s);
    fh_ctx_free(&f->oc);
    fh_fini(&f->h);
    free(f->buf);
    free(f);
    return 0;
}

/* A fresh enclave process on the same host files. */
static void restart(struct fx *f)
{
    store_fini(&f->s);
    fh_revive(&f->h);
    assert_int_equal(store_init(&f->s, &f->plat, &f->oc), SVTPM_OK);
}

static svtpm_err save_v(struct fx *f, uint32_t file, uint32_t len, uint32_t v)
{
    content(f->buf, len, v);
    return store_save(&f->s, file, f->buf, len);
}

static void expect_load(struct fx *f, uint32_t file, uint32_t len, uint32_t v)
{
    uint8_t *out = NULL;
    uint32_t n = 0;
    svtpm_err e = store_load(&f->s, file, &out, &n);
    if (e != SVTPM_OK)
        fail_msg("load of %s: %s, expected version %u", store_file_name(file), svtpm_strerror(e), v);
    assert_non_null(out);
    if (!is_content(out, n, len, v))
        fail_msg("load of %s: wrong content (len %u, expected version %u len %u)",
                 store_file_name(file), n, v, len);
    free(out);
}

/* A load that must fail: no data comes back and the file is not touched. */
static svtpm_err expect_load_fails(struct fx *f, uint32_t file)
{
    size_t n0 = 0, n1 = 0;
    uint8_t *before = fh_snapshot(&f->h, file, &n0);
    uint64_t w = f->h.writes;
    uint8_t *out = (uint8_t *)(uintptr_t)0x1;   /* sentinel */
    uint32_t len = 0xabcdef;
    svtpm_err e = store_load(&f->s, file, &out, &len);
    assert_int_not_equal(e, SVTPM_OK);
    assert_ptr_equal(out, (uint8_t *)(uintptr_t)0x1);
    assert_int_equal(len, 0xabcdef);
    assert_int_equal(f->h.writes, w);
    uint8_t *after = fh_snapshot(&f->h, file, &n1);
    assert_int_equal(n0, n1);
    if (before)
        assert_memory_equal(before, after, n0);
    free(before);
    free(after);
    return e;
}

static const uint8_t *slot_ptr(struct fx *f, uint32_t file, int slot)
{
    size_t n;
    uint8_t *b = fh_bytes(&f->h, file, &n);
    assert_non_null(b);
    return b + (size_t)slot * SEAL_SLOT_SIZE;
}

/* ---- basics ---- */

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t *out = NULL;
    uint32_t n = 0;
    assert_int_equal(store_load(&f->s, PERM, &out, &n), SVTPM_E_NOTFOUND);
    assert_null(out);
    assert_int_equal(save_v(f, PERM, 1315, 1), SVTPM_OK);
    assert_int_equal(save_v(f, VOL, 9000, 100), SVTPM_OK);
    size_t sz;
    assert_non_null(fh_bytes(&f->h, PERM, &sz));
    assert_int_equal(sz, SEAL_FILE_SIZE);
    /* same store, then a fresh one */
    expect_load(f, PERM, 1315, 1);
    expect_load(f, VOL, 9000, 100);
    restart(f);
    expect_load(f, VOL, 9000, 100);
    expect_load(f, PERM, 1315, 1);
    /* the sizes at the limits */
    assert_int_equal(save_v(f, PERM, SVTPM_STATE_PLAIN_MAX, 2), SVTPM_OK);
    restart(f);
    expect_load(f, PERM, SVTPM_STATE_PLAIN_MAX, 2);
    assert_int_equal(save_v(f, PERM, 0, 3), SVTPM_OK);
    restart(f);
    expect_load(f, PERM, 0, 3);
    /* nothing of the plaintext is in the file */
    size_t fsz;
    const uint8_t *fb = fh_bytes(&f->h, VOL, &fsz);
    content(f->buf, 9000, 100);
    assert_null(memmem(fb, fsz, f->buf + 100, 32));
    /* far over the limit: refused, nothing written */
    uint64_t w = f->h.writes;
    uint8_t *big = calloc(1, SEAL_SLOT_SIZE);
    assert_int_not_equal(store_save(&f->s, PERM, big, SEAL_PAYLOAD_MAX + 1), SVTPM_OK);
    assert_int_not_equal(store_save(&f->s, PERM, big, SEAL_SLOT_SIZE), SVTPM_OK);
    free(big);
    assert_int_equal(f->h.writes, w);
    restart(f);
    expect_load(f, PERM, 0, 3);
    /* invalid file numbers */
    assert_int_equal(store_load(&f->s, 0, &out, &n), SVTPM_E_INVAL);
    assert_int_equal(store_load(&f->s, STATE_FILE_NRS + 1, &out, &n), SVTPM_E_INVAL);
    assert_int_equal(store_save(&f->s, 0, f->buf, 1), SVTPM_E_INVAL);
    assert_int_equal(store_save(&f->s, 7, f->buf, 1), SVTPM_E_INVAL);
}

static void test_versions_slots_retire(void **state)
{
    struct fx *f = *state;
    uint32_t lens[8] = { 1000, 50, 70000, 3, 4096, 4097, 200, 0 };
    for (uint32_t k = 0; k < 8; k++) {
        assert_int_equal(save_v(f, PERM, lens[k], k), SVTPM_OK);
        assert_int_equal(f->h.writes, k + 1);
        struct fh_write *w = &f->h.wlog[k];
        assert_int_equal(w->file, PERM);
        assert_int_equal(w->slot, k % 2);               /* A, B, A, B, ... */
        assert_int_equal(w->len, seal_rec_len(lens[k]));
        /* the new record's header: version k+1 */
        struct seal_hdr h;
        const uint8_t *cur = slot_ptr(f, PERM, (int)(k % 2));
        assert_int_equal(seal_hdr_parse(cur, SEAL_SLOT_SIZE, &h), SVTPM_OK);
        assert_true(h.seq == (uint64_t)k + 1);
        assert_int_equal(h.kind, SEAL_KIND_PERMALL);
        assert_true(f->s.f[PERM].seq == (uint64_t)k + 1);
        assert_int_equal(f->s.f[PERM].cur_slot, (int)(k % 2));
        if (k == 0) {
            assert_int_equal(w->retire_off, 0);
            continue;
        }
        /* the superseded record's tag was zeroed, so it no longer opens */
        assert_int_equal(w->retire_off, SEAL_HDR_LEN + lens[k - 1]);
        const uint8_t *old = slot_ptr(f, PERM, (int)((k + 1) % 2));
        static const uint8_t zero[SEAL_TAG_LEN];
        assert_memory_equal(old + SEAL_HDR_LEN + lens[k - 1], zero, SEAL_TAG_LEN);
        uint8_t *plain = malloc(SEAL_PAYLOAD_MAX);
        uint32_t pl;
        struct seal_hdr oh;
        assert_int_equal(seal_open(&f->plat, old, SEAL_SLOT_SIZE, &oh, plain, &pl), SVTPM_E_AUTH);
        assert_true(oh.seq == k);
        assert_int_equal(seal_open(&f->plat, cur, SEAL_SLOT_SIZE, &h, plain, &pl), SVTPM_OK);
        free(plain);
    }
    assert_int_equal(f->h.retires, 7);
    /* all records of one file share its key id; another file has its own */
    assert_int_equal(save_v(f, VOL, 10, 1), SVTPM_OK);
    assert_memory_not_equal(slot_ptr(f, PERM, 0) + 40, slot_ptr(f, VOL, 0) + 40, 32);
    assert_memory_equal(slot_ptr(f, PERM, 0) + 40, slot_ptr(f, PERM, 1) + 40, 32);
    /* and the same vTPM id */
    assert_memory_equal(slot_ptr(f, PERM, 0) + 24, slot_ptr(f, VOL, 0) + 24, 16);
}

static void test_fresh_store_continues_sequence(void **state)
{
    /* A restarted enclave that saves without loading first learns the
     * current slot and version from the file: never overwrites the current
     * record, never reuses a version number. */
    struct fx *f = *state;
    for (uint32_t k = 0; k < 3; k++)
        assert_int_equal(save_v(f, PERM, 500 + k, k), SVTPM_OK);
    /* current: slot A (k=2), version 3 */
    restart(f);
    assert_int_equal(save_v(f, PERM, 777, 50), SVTPM_OK);
    assert_int_equal(f->h.wlog[3].slot, 1);
    assert_int_equal(f->h.wlog[3].retire_off, SEAL_HDR_LEN + 502);
    struct seal_hdr h;
    assert_int_equal(seal_hdr_parse(slot_ptr(f, PERM, 1), SEAL_SLOT_SIZE, &h), SVTPM_OK);
    assert_true(h.seq == 4);
    restart(f);
    expect_load(f, PERM, 777, 50);
}

static void test_delete(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save_v(f, VOL, 100, 1), SVTPM_OK);
    uint8_t kid[32];
    memcpy(kid, slot_ptr(f, VOL, 0) + 40, 32);
    assert_int_equal(store_delete(&f->s, VOL), SVTPM_OK);
    assert_null(fh_bytes(&f->h, VOL, NULL));
    uint8_t *out = NULL;
    uint32_t n;
    assert_int_equal(store_load(&f->s, VOL, &out, &n), SVTPM_E_NOTFOUND);
    assert_null(out);
    assert_int_equal(store_delete(&f->s, VOL), SVTPM_OK);   /* absent: fine */
    /* a new file: slot A again, version 1, a new key id */
    assert_int_equal(save_v(f, VOL, 100, 2), SVTPM_OK);
    struct seal_hdr h;
    assert_int_equal(seal_hdr_parse(slot_ptr(f, VOL, 0), SEAL_SLOT_SIZE, &h), SVTPM_OK);
    assert_true(h.seq == 1);
    assert_memory_not_equal(h.key_id, kid, 32);
    restart(f);
    expect_load(f, VOL, 100, 2);
    assert_int_equal(store_delete(&f->s, 9), SVTPM_E_INVAL);
}

/* Regression: a payload a little over SVTPM_STATE_PLAIN_MAX (the limit
 * seal_hdr_parse enforces on the way back) was once sealed and written, and
 * the previous record retired, leaving no loadable state. Such a save must be
 * refused before anything is written, and the last acknowledged state stays
 * loadable. */
static void test_save_just_over_limit_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 5000, 1), SVTPM_OK);
    const uint32_t lens[] = { SVTPM_STATE_PLAIN_MAX + 1,
                              SVTPM_SEALED_REC_MAX - SEAL_HDR_LEN - SEAL_TAG_LEN };
    for (size_t i = 0; i < 2; i++) {
        uint64_t w = f->h.writes;
        svtpm_err e = save_v(f, PERM, lens[i], 2);
        restart(f);
        uint8_t *out = NULL;
        uint32_t n = 0;
        svtpm_err le = store_load(&f->s, PERM, &out, &n);
        free(out);
        if (e == SVTPM_OK || f->h.writes != w)
            fail_msg("save of %u bytes (> SVTPM_STATE_PLAIN_MAX %u) was accepted (%s, %llu write(s)); "
                     "a load afterwards gives: %s", lens[i], SVTPM_STATE_PLAIN_MAX, svtpm_strerror(e),
                     (unsigned long long)(f->h.writes - w), svtpm_strerror(le));
        expect_load(f, PERM, 5000, 1);
    }
}

/* ---- tampering ---- */

static void tamper_each(struct fx *f, int cur_slot, uint32_t cur_len, const char *what)
{
    uint8_t *p = fh_bytes(&f->h, PERM, NULL) + (size_t)cur_slot * SEAL_SLOT_SIZE;
    size_t rec = seal_rec_len(cur_len);
    size_t tried = 0;
    for (size_t i = 0; i < rec; i += (i < SEAL_HDR_LEN + 32 || i >= rec - 32) ? 1 : 61) {
        uint8_t save = p[i];
        p[i] ^= (uint8_t)(0x01u << (i % 8));
        restart(f);
        svtpm_err e = expect_load_fails(f, PERM);
        if (e != SVTPM_E_AUTH && e != SVTPM_E_FORMAT && e != SVTPM_E_PERM &&
            e != SVTPM_E_TRUNCATED && e != SVTPM_E_TOOBIG)
            fail_msg("%s: byte %zu flipped: unexpected %s", what, i, svtpm_strerror(e));
        p[i] = save;
        tried++;
    }
    assert_true(tried > SEAL_HDR_LEN + 64);
    restart(f);
}

static void test_tamper_current_record(void **state)
{
    struct fx *f = *state;
    /* one record only (slot B never written) */
    assert_int_equal(save_v(f, PERM, 2000, 1), SVTPM_OK);
    tamper_each(f, 0, 2000, "single record");
    expect_load(f, PERM, 2000, 1);
    /* three records: current in A, retired one in B */
    assert_int_equal(save_v(f, PERM, 3000, 2), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 2500, 3), SVTPM_OK);
    tamper_each(f, 0, 2500, "current record, A");
    expect_load(f, PERM, 2500, 3);
    assert_int_equal(save_v(f, PERM, 1200, 4), SVTPM_OK);
    tamper_each(f, 1, 1200, "current record, B");
    expect_load(f, PERM, 1200, 4);
}

static void test_tamper_whole_header_zeroed(void **state)
{
    /* Zeroing the current header makes the slot look never written: the
     * retired record must not come back. */
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 100, 1), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 100, 2), SVTPM_OK);
    uint8_t *p = fh_bytes(&f->h, PERM, NULL) + SEAL_SLOT_SIZE;
    memset(p, 0, SEAL_HDR_LEN);
    restart(f);
    expect_load_fails(f, PERM);
    /* and the whole current slot zeroed */
    memset(p, 0, SEAL_SLOT_SIZE);
    restart(f);
    expect_load_fails(f, PERM);
    /* both slots empty: a file that exists always holds a record */
    memset(fh_bytes(&f->h, PERM, NULL), 0, SEAL_FILE_SIZE);
    restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FORMAT);
}

static void test_swap_slots_of_retired(void **state)
{
    /* Restoring the retired record's tag (the host saw it once) with the
     * current record intact: the newer one still wins. */
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 300, 1), SVTPM_OK);
    uint8_t tag[SEAL_TAG_LEN];
    memcpy(tag, slot_ptr(f, PERM, 0) + SEAL_HDR_LEN + 300, SEAL_TAG_LEN);
    assert_int_equal(save_v(f, PERM, 400, 2), SVTPM_OK);
    memcpy(fh_bytes(&f->h, PERM, NULL) + SEAL_HDR_LEN + 300, tag, SEAL_TAG_LEN);
    restart(f);
    expect_load(f, PERM, 400, 2);
}

static void test_truncated_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 1000, 1), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 1000, 2), SVTPM_OK);
    size_t n;
    uint8_t *orig = fh_snapshot(&f->h, PERM, &n);
    const size_t sizes[] = { 0, 1, SEAL_HDR_LEN, SEAL_SLOT_SIZE - 1, SEAL_SLOT_SIZE,
                             SEAL_SLOT_SIZE + SEAL_HDR_LEN + 1000 + SEAL_TAG_LEN, SEAL_FILE_SIZE - 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fh_put(&f->h, PERM, orig, n);
        fh_resize(&f->h, PERM, sizes[i]);
        restart(f);
        svtpm_err e = expect_load_fails(f, PERM);
        if (e != SVTPM_E_TRUNCATED)
            fail_msg("file cut to %zu bytes: %s, expected truncated", sizes[i], svtpm_strerror(e));
        assert_true(fh_log_has(&f->h, "truncated"));   /* the operator is told why */
        fh_log_clear(&f->h);
    }
    /* longer than a state file: not ours either */
    fh_put(&f->h, PERM, orig, n);
    fh_resize(&f->h, PERM, SEAL_FILE_SIZE + 1);
    restart(f);
    expect_load_fails(f, PERM);
    /* a save on a truncated file is refused too (does not "repair" it) */
    fh_put(&f->h, PERM, orig, n);
    fh_resize(&f->h, PERM, SEAL_FILE_SIZE - 512);
    restart(f);
    uint64_t w = f->h.writes;
    assert_int_not_equal(save_v(f, PERM, 10, 3), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
    fh_put(&f->h, PERM, orig, n);
    restart(f);
    expect_load(f, PERM, 1000, 2);
    free(orig);
}

static void test_read_error(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 100, 1), SVTPM_OK);
    restart(f);
    f->h.fail_reads = true;
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_IO);
    /* a save that cannot learn the file's state does not write blindly */
    uint64_t w = f->h.writes;
    assert_int_not_equal(save_v(f, PERM, 100, 2), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
    f->h.fail_reads = false;
    expect_load(f, PERM, 100, 1);
}

static void test_corrupt_file_not_overwritten(void **state)
{
    /* Neither slot opens: a save must not silently start a new history on
     * top of it (the operator has to look at it). */
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 100, 1), SVTPM_OK);
    fh_bytes(&f->h, PERM, NULL)[SEAL_HDR_LEN + 5] ^= 1;
    restart(f);
    uint64_t w = f->h.writes;
    assert_int_not_equal(save_v(f, PERM, 100, 2), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
}

/* ---- identity ---- */

static void test_foreign_named_id(void **state)
{
    struct fx *f = *state;
    const uint8_t id1[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    uint8_t id2[16];
    memcpy(id2, id1, 16);
    id2[15] ^= 0x80;
    store_name_id(&f->s, id1);
    assert_int_equal(save_v(f, PERM, 800, 1), SVTPM_OK);
    assert_memory_equal(slot_ptr(f, PERM, 0) + 24, id1, 16);
    restart(f);
    store_name_id(&f->s, id2);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    assert_int_equal(f->s.last_err, SVTPM_E_FOREIGN);
    assert_int_equal(f->s.last_file, PERM);
    /* and a save under the wrong name does not clobber it */
    uint64_t w = f->h.writes;
    assert_int_not_equal(save_v(f, PERM, 10, 9), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
    restart(f);
    store_name_id(&f->s, id1);
    expect_load(f, PERM, 800, 1);
    /* without a name the store adopts the file's id */
    restart(f);
    expect_load(f, PERM, 800, 1);
    assert_true(f->s.have_id);
    assert_memory_equal(f->s.vtpm_id, id1, 16);
}

/* Two vTPMs on the same platform. */
static void make_other(struct fx *f, struct fakehost *h2, uint32_t file, uint32_t len, uint32_t v, int saves)
{
    struct ocall_ctx oc2;
    struct store s2;
    fh_init(h2);
    fh_ctx(h2, &oc2);
    assert_int_equal(store_init(&s2, &f->plat, &oc2), SVTPM_OK);
    content(f->buf, len, v);
    for (int i = 0; i < saves; i++)
        assert_int_equal(store_save(&s2, file, f->buf, len), SVTPM_OK);
    store_fini(&s2);
    fh_ctx_free(&oc2);
}

static void test_foreign_slot_copied_in(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 600, 1), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 600, 2), SVTPM_OK);   /* current: B; A retired */
    struct fakehost h2;
    make_other(f, &h2, PERM, 650, 77, 5);                  /* its current: A, version 5 */
    size_t n;
    uint8_t *mine = fh_snapshot(&f->h, PERM, &n);
    const uint8_t *theirs = fh_bytes(&h2, PERM, NULL);

    /* into the retired slot: the current record is intact, but the file
     * mixes two vTPMs and is refused as a whole */
    memcpy(fh_bytes(&f->h, PERM, NULL), theirs, SEAL_SLOT_SIZE);
    restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    /* same with our id named */
    restart(f);
    store_name_id(&f->s, slot_ptr(f, PERM, 1) + 24);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);

    /* over the current slot, our id named: foreign */
    fh_put(&f->h, PERM, mine, n);
    uint8_t myid[16];
    memcpy(myid, slot_ptr(f, PERM, 1) + 24, 16);
    memcpy(fh_bytes(&f->h, PERM, NULL) + SEAL_SLOT_SIZE, theirs, SEAL_SLOT_SIZE);
    restart(f);
    store_name_id(&f->s, myid);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);

    /* once the store knows its id (from permall), another vTPM's volatile
     * file is refused */
    fh_put(&f->h, PERM, mine, n);
    struct fakehost h3;
    make_other(f, &h3, VOL, 100, 5, 1);
    fh_put(&f->h, VOL, fh_bytes(&h3, VOL, NULL), SEAL_FILE_SIZE);
    restart(f);
    expect_load(f, PERM, 600, 2);
    assert_int_equal(expect_load_fails(f, VOL), SVTPM_E_FOREIGN);

    fh_put(&f->h, PERM, mine, n);
    fh_remove(&f->h, VOL);
    restart(f);
    expect_load(f, PERM, 600, 2);
    free(mine);
    fh_fini(&h2);
    fh_fini(&h3);
}

static void test_foreign_kind(void **state)
{
    /* A volatile record (same vTPM) placed in the permall file. */
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 600, 1), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 600, 2), SVTPM_OK);
    assert_int_equal(save_v(f, VOL, 600, 3), SVTPM_OK);
    size_t n;
    uint8_t *perm = fh_snapshot(&f->h, PERM, &n);
    /* into the retired slot A */
    memcpy(fh_bytes(&f->h, PERM, NULL), slot_ptr(f, VOL, 0), SEAL_SLOT_SIZE);
    restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    /* the whole volatile file as permall */
    fh_put(&f->h, PERM, fh_bytes(&f->h, VOL, NULL), SEAL_FILE_SIZE);
    restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    fh_put(&f->h, PERM, perm, n);
    restart(f);
    expect_load(f, PERM, 600, 2);
    free(perm);
}

static void test_other_platform(void **state)
{
    /* The files moved to another host (another platform secret): AUTH. */
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 100, 1), SVTPM_OK);
    restart(f);
    testplat_init(&f->plat, 8);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_AUTH);
    /* another signer's enclave may not derive the key */
    testplat_init(&f->plat, 7);
    f->plat.id.mrsigner[0] ^= 1;
    restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_PERM);
    testplat_init(&f->plat, 7);
    restart(f);
    expect_load(f, PERM, 100, 1);
}

/* ---- faults ---- */

static void test_retire_lost_newest_wins(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 1000, 1), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 1100, 2), SVTPM_OK);
    fh_fault(&f->h, 2, FH_SKIP_RETIRE, 0);
    assert_int_equal(save_v(f, PERM, 1200, 3), SVTPM_OK);   /* acknowledged */
    assert_true(f->h.dead);
    /* both records are authentic */
    uint8_t *plain = malloc(SEAL_PAYLOAD_MAX);
    struct seal_hdr ha, hb;
    uint32_t n;
    assert_int_equal(seal_open(&f->plat, slot_ptr(f, PERM, 0), SEAL_SLOT_SIZE, &ha, plain, &n), SVTPM_OK);
    assert_int_equal(seal_open(&f->plat, slot_ptr(f, PERM, 1), SEAL_SLOT_SIZE, &hb, plain, &n), SVTPM_OK);
    assert_true(ha.seq == 3 && hb.seq == 2);
    free(plain);
    restart(f);
    expect_load(f, PERM, 1200, 3);
    assert_false(fh_log_has(&f->h, "incomplete write"));   /* nothing was incomplete */
    /* and when the newer one is in slot B */
    assert_int_equal(save_v(f, PERM, 1300, 4), SVTPM_OK);
    fh_fault(&f->h, f->h.writes, FH_SKIP_RETIRE, 0);
    assert_int_equal(save_v(f, PERM, 1400, 5), SVTPM_OK);
    restart(f);
    expect_load(f, PERM, 1400, 5);
    /* the next save after recovery overwrites the stale one, not the newest */
    assert_int_equal(save_v(f, PERM, 1500, 6), SVTPM_OK);
    assert_int_equal(f->h.wlog[f->h.writes - 1].slot, 1);
    restart(f);
    expect_load(f, PERM, 1500, 6);
}

static void test_torn_write_logged(void **state)
{
    /* A torn update is survived and reported as such. */
    struct fx *f = *state;
    assert_int_equal(save_v(f, PERM, 5000, 1), SVTPM_OK);
    assert_int_equal(save_v(f, PERM, 5000, 2), SVTPM_OK);
    fh_fault(&f->h, 2, FH_TEAR_SECTORS, 3);
    assert_int_equal(save_v(f, PERM, 6000, 3), SVTPM_E_IO);
    assert_true(fh_log_has(&f->h, "failed to store"));
    restart(f);
    fh_log_clear(&f->h);
    expect_load(f, PERM, 5000, 2);
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
        svtpm_err e = save_v(f, PERM, 100 + k * 10, k);
        assert_int_equal(e, failing ? SVTPM_E_IO : SVTPM_OK);
        assert_false(f->h.dead);
        uint32_t last = failing ? (k == 4 ? 2 : k - 1) : k;
        expect_load(f, PERM, 100 + last * 10, last);
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
    assert_int_equal(save_v(f, VOL, 10, 1), SVTPM_E_IO);
    assert_null(fh_bytes(&f->h, VOL, NULL));
    assert_int_equal(save_v(f, VOL, 10, 2), SVTPM_OK);
    restart(f);
    expect_load(f, VOL, 10, 2);
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
        restart(f);
        if (!first) {
            assert_int_equal(save_v(f, PERM, 300, 1), SVTPM_OK);
            assert_int_equal(save_v(f, PERM, 400, 2), SVTPM_OK);
        }
        fh_fault(&f->h, f->h.writes, FH_FULL_FAIL, 0);
        assert_int_equal(save_v(f, PERM, 500, 3), SVTPM_E_IO);
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
        assert_int_equal(save_v(f, PERM, 600, 4), SVTPM_OK);
        expect_load(f, PERM, 600, 4);
        restart(f);
        expect_load(f, PERM, 600, 4);
        assert_int_equal(save_v(f, PERM, 700, 5), SVTPM_OK);
        restart(f);
        expect_load(f, PERM, 700, 5);
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
    restart(f);
    fh_fault(&f->h, i, p->fault, p->arg);
    int64_t acked = -1, inflight = -1;
    for (uint32_t k = 0; k < K; k++) {
        svtpm_err e = save_v(f, file, size_of(k), k);
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

    restart(f);
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
        assert_int_equal(save_v(f, file, 700 + k, k), SVTPM_OK);
        expect_load(f, file, 700 + k, k);
    }
    restart(f);
    expect_load(f, file, 802, 102);
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

/* ---- the fake host is faithful to the real one ---- */

/* Every OCALL goes to both the fake host and the real statedir.c (in a
 * temporary directory); statuses, read replies and file bytes must match. */
struct tee_host {
    struct fakehost *fake;
    struct statedir sd;
    uint8_t *rbuf;
    uint64_t compared;
};

static svtpm_err tee_ocall(void *ud, uint32_t id, const uint8_t *req, uint32_t len,
                           uint8_t *resp, uint32_t cap, uint32_t *resp_len)
{
    struct tee_host *t = ud;
    svtpm_err fe = fh_ocall(t->fake, id, req, len, resp, cap, resp_len);
    svtpm_err re = SVTPM_OK;
    uint32_t rn = 0;
    struct rd r = rd_init(req, len);
    switch (id) {
    case OCALL_LOG:
        return fe;
    case OCALL_STATE_READ:
        re = sd_read(&t->sd, rd_be32(&r), t->rbuf, SVTPM_CHAN_DATA_MAX, &rn);
        break;
    case OCALL_STATE_WRITE: {
        uint32_t file = rd_be32(&r), slot = rd_be32(&r), retire = rd_be32(&r);
        size_t n = rd_left(&r);
        re = sd_write(&t->sd, file, slot, rd_ptr(&r, n), n, retire);
        break;
    }
    case OCALL_STATE_DELETE:
        re = sd_delete(&t->sd, rd_be32(&r));
        break;
    }
    if (fe != re)
        fail_msg("OCALL %u: fake host %s, statedir %s", id, svtpm_strerror(fe), svtpm_strerror(re));
    if (id == OCALL_STATE_READ && !fe) {
        assert_int_equal(*resp_len, rn);
        assert_memory_equal(resp, t->rbuf, rn);
    }
    t->compared++;
    return fe;
}

static void compare_files(struct tee_host *t)
{
    for (uint32_t file = PERM; file <= VOL; file++) {
        char p[4096];
        size_t rn = 0, fn = 0;
        uint8_t *real = testutil_slurp(sd_path(&t->sd, file, p, sizeof p), &rn);
        uint8_t *fake = fh_bytes(t->fake, file, &fn);
        assert_int_equal(real != NULL, fake != NULL);
        if (!real)
            continue;
        assert_int_equal(rn, fn);
        assert_memory_equal(real, fake, rn);
        free(real);
    }
}

static void put_both(struct tee_host *t, uint32_t file, const uint8_t *b, size_t n)
{
    char p[4096];
    fh_put(t->fake, file, b, n);
    /* statedir keeps the file open: write through its path in place */
    FILE *fp = fopen(sd_path(&t->sd, file, p, sizeof p), "r+");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    assert_int_equal(fflush(fp), 0);
    assert_int_equal(ftruncate(fileno(fp), (off_t)n), 0);
    fclose(fp);
}

static void test_fake_host_matches_statedir(void **state)
{
    struct fx *f = *state;
    struct tee_host t = { .fake = &f->h };
    char dir[] = "/tmp/svtpm-test-store.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sd_init(&t.sd, dir, 0600), SVTPM_OK);
    t.rbuf = malloc(SVTPM_CHAN_DATA_MAX);
    f->oc.fake = tee_ocall;
    f->oc.fake_ud = &t;
    restart(f);

    uint8_t *out = NULL;
    uint32_t n;
    assert_int_equal(store_load(&f->s, PERM, &out, &n), SVTPM_E_NOTFOUND);
    const uint32_t lens[] = { 1315, 20000, 3, 0, 9000, SVTPM_STATE_PLAIN_MAX, 100 };
    for (uint32_t k = 0; k < 7; k++) {
        assert_int_equal(save_v(f, k % 3 ? PERM : VOL, lens[k], k), SVTPM_OK);
        compare_files(&t);
        restart(f);
        expect_load(f, k % 3 ? PERM : VOL, lens[k], k);
    }
    /* odd files: a garbage header, a huge payload_len, cut files */
    size_t sz;
    uint8_t *orig = fh_snapshot(&f->h, PERM, &sz);
    uint8_t *b = malloc(sz);
    memcpy(b, orig, sz);
    memset(b, 'x', SEAL_HDR_LEN);                       /* slot A: not our magic */
    put_be32(b + SEAL_SLOT_SIZE + 140, 0xfffffff0u);    /* slot B: claims too much */
    put_both(&t, PERM, b, sz);
    restart(f);
    assert_int_not_equal(store_load(&f->s, PERM, &out, &n), SVTPM_OK);
    const size_t cuts[] = { 0, 10, SEAL_HDR_LEN, SEAL_SLOT_SIZE + 100, SEAL_FILE_SIZE - 1 };
    for (size_t i = 0; i < 5; i++) {
        put_both(&t, PERM, orig, cuts[i]);
        restart(f);
        assert_int_not_equal(store_load(&f->s, PERM, &out, &n), SVTPM_OK);
    }
    put_both(&t, PERM, orig, sz);
    restart(f);
    expect_load(f, PERM, SVTPM_STATE_PLAIN_MAX, 5);
    assert_int_equal(store_delete(&f->s, VOL), SVTPM_OK);
    assert_int_equal(store_delete(&f->s, VOL), SVTPM_OK);
    compare_files(&t);
    assert_true(t.compared > 20);

    sd_fini(&t.sd);
    free(t.rbuf);
    free(orig);
    free(b);
    testutil_sh("rm -rf '%s'", dir);
    f->oc.fake = fh_ocall;
    f->oc.fake_ud = &f->h;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),
        T(test_versions_slots_retire),
        T(test_fresh_store_continues_sequence),
        T(test_delete),
        T(test_save_just_over_limit_refused),
        T(test_tamper_current_record),
        T(test_tamper_whole_header_zeroed),
        T(test_swap_slots_of_retired),
        T(test_truncated_file),
        T(test_read_error),
        T(test_corrupt_file_not_overwritten),
        T(test_foreign_named_id),
        T(test_foreign_slot_copied_in),
        T(test_foreign_kind),
        T(test_other_platform),
        T(test_retire_lost_newest_wins),
        T(test_torn_write_logged),
        T(test_fail_and_continue),
        T(test_unacked_durable_write_then_continue),
        T(test_crash_every_write_sector_tears),
        T(test_crash_every_write_byte_tears),
        T(test_fake_host_matches_statedir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
