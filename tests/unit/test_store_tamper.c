/* src/enclave/store.h against a hostile host (fixture: tests/lib/storefix.h):
 * every byte of the current record flipped, zeroed headers and slots, a
 * retired record's tag restored, truncated and overlong files, read errors,
 * corrupt files never overwritten; and records that are not this vTPM's
 * (another vTPM id, slots or files copied from another vTPM, a volatile
 * record as permall, another platform or signer). A load the store refuses
 * returns no data and leaves the file untouched; a save it refuses writes
 * nothing; a retired record never comes back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "content.h"
#include "fakehost.h"
#include "sealfmt.h"
#include "store.h"
#include "storefix.h"
#include "testplat.h"

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

/* ---- tampering ---- */

static void tamper_each(struct fx *f, int cur_slot, uint32_t cur_len, const char *what)
{
    uint8_t *p = fh_bytes(&f->h, PERM, NULL) + (size_t)cur_slot * SEAL_SLOT_SIZE;
    size_t rec = seal_rec_len(cur_len);
    size_t tried = 0;
    for (size_t i = 0; i < rec; i += (i < SEAL_HDR_LEN + 32 || i >= rec - 32) ? 1 : 61) {
        uint8_t save = p[i];
        p[i] ^= (uint8_t)(0x01u << (i % 8));
        sf_restart(f);
        svtpm_err e = expect_load_fails(f, PERM);
        if (e != SVTPM_E_AUTH && e != SVTPM_E_FORMAT && e != SVTPM_E_PERM &&
            e != SVTPM_E_TRUNCATED && e != SVTPM_E_TOOBIG)
            fail_msg("%s: byte %zu flipped: unexpected %s", what, i, svtpm_strerror(e));
        p[i] = save;
        tried++;
    }
    assert_true(tried > SEAL_HDR_LEN + 64);
    sf_restart(f);
}

static void test_tamper_current_record(void **state)
{
    struct fx *f = *state;
    /* one record only (slot B never written) */
    assert_int_equal(sf_save_v(f, PERM, 2000, 1), SVTPM_OK);
    tamper_each(f, 0, 2000, "single record");
    sf_expect_load(f, PERM, 2000, 1);
    /* three records: current in A, retired one in B */
    assert_int_equal(sf_save_v(f, PERM, 3000, 2), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 2500, 3), SVTPM_OK);
    tamper_each(f, 0, 2500, "current record, A");
    sf_expect_load(f, PERM, 2500, 3);
    assert_int_equal(sf_save_v(f, PERM, 1200, 4), SVTPM_OK);
    tamper_each(f, 1, 1200, "current record, B");
    sf_expect_load(f, PERM, 1200, 4);
}

static void test_tamper_whole_header_zeroed(void **state)
{
    /* Zeroing the current header makes the slot look never written: the
     * retired record must not come back. */
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 100, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 100, 2), SVTPM_OK);
    uint8_t *p = fh_bytes(&f->h, PERM, NULL) + SEAL_SLOT_SIZE;
    memset(p, 0, SEAL_HDR_LEN);
    sf_restart(f);
    expect_load_fails(f, PERM);
    /* and the whole current slot zeroed */
    memset(p, 0, SEAL_SLOT_SIZE);
    sf_restart(f);
    expect_load_fails(f, PERM);
    /* both slots empty: a file that exists always holds a record */
    memset(fh_bytes(&f->h, PERM, NULL), 0, SEAL_FILE_SIZE);
    sf_restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FORMAT);
}

static void test_swap_slots_of_retired(void **state)
{
    /* Restoring the retired record's tag (the host saw it once) with the
     * current record intact: the newer one still wins. */
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 300, 1), SVTPM_OK);
    uint8_t tag[SEAL_TAG_LEN];
    memcpy(tag, sf_slot_ptr(f, PERM, 0) + SEAL_HDR_LEN + 300, SEAL_TAG_LEN);
    assert_int_equal(sf_save_v(f, PERM, 400, 2), SVTPM_OK);
    memcpy(fh_bytes(&f->h, PERM, NULL) + SEAL_HDR_LEN + 300, tag, SEAL_TAG_LEN);
    sf_restart(f);
    sf_expect_load(f, PERM, 400, 2);
}

static void test_truncated_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 1000, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 1000, 2), SVTPM_OK);
    size_t n;
    uint8_t *orig = fh_snapshot(&f->h, PERM, &n);
    const size_t sizes[] = { 0, 1, SEAL_HDR_LEN, SEAL_SLOT_SIZE - 1, SEAL_SLOT_SIZE,
                             SEAL_SLOT_SIZE + SEAL_HDR_LEN + 1000 + SEAL_TAG_LEN, SEAL_FILE_SIZE - 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fh_put(&f->h, PERM, orig, n);
        fh_resize(&f->h, PERM, sizes[i]);
        sf_restart(f);
        svtpm_err e = expect_load_fails(f, PERM);
        if (e != SVTPM_E_TRUNCATED)
            fail_msg("file cut to %zu bytes: %s, expected truncated", sizes[i], svtpm_strerror(e));
        assert_true(fh_log_has(&f->h, "truncated"));   /* the operator is told why */
        fh_log_clear(&f->h);
    }
    /* longer than a state file: not ours either */
    fh_put(&f->h, PERM, orig, n);
    fh_resize(&f->h, PERM, SEAL_FILE_SIZE + 1);
    sf_restart(f);
    expect_load_fails(f, PERM);
    /* a save on a truncated file is refused too (does not "repair" it) */
    fh_put(&f->h, PERM, orig, n);
    fh_resize(&f->h, PERM, SEAL_FILE_SIZE - 512);
    sf_restart(f);
    uint64_t w = f->h.writes;
    assert_int_not_equal(sf_save_v(f, PERM, 10, 3), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
    fh_put(&f->h, PERM, orig, n);
    sf_restart(f);
    sf_expect_load(f, PERM, 1000, 2);
    free(orig);
}

static void test_read_error(void **state)
{
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 100, 1), SVTPM_OK);
    sf_restart(f);
    f->h.fail_reads = true;
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_IO);
    /* a save that cannot learn the file's state does not write blindly */
    uint64_t w = f->h.writes;
    assert_int_not_equal(sf_save_v(f, PERM, 100, 2), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
    f->h.fail_reads = false;
    sf_expect_load(f, PERM, 100, 1);
}

static void test_corrupt_file_not_overwritten(void **state)
{
    /* Neither slot opens: a save must not silently start a new history on
     * top of it (the operator has to look at it). */
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 100, 1), SVTPM_OK);
    fh_bytes(&f->h, PERM, NULL)[SEAL_HDR_LEN + 5] ^= 1;
    sf_restart(f);
    uint64_t w = f->h.writes;
    assert_int_not_equal(sf_save_v(f, PERM, 100, 2), SVTPM_OK);
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
    assert_int_equal(sf_save_v(f, PERM, 800, 1), SVTPM_OK);
    assert_memory_equal(sf_slot_ptr(f, PERM, 0) + 24, id1, 16);
    sf_restart(f);
    store_name_id(&f->s, id2);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    assert_int_equal(f->s.last_err, SVTPM_E_FOREIGN);
    assert_int_equal(f->s.last_file, PERM);
    /* and a save under the wrong name does not clobber it */
    uint64_t w = f->h.writes;
    assert_int_not_equal(sf_save_v(f, PERM, 10, 9), SVTPM_OK);
    assert_int_equal(f->h.writes, w);
    sf_restart(f);
    store_name_id(&f->s, id1);
    sf_expect_load(f, PERM, 800, 1);
    /* without a name the store adopts the file's id */
    sf_restart(f);
    sf_expect_load(f, PERM, 800, 1);
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
    assert_int_equal(sf_save_v(f, PERM, 600, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 600, 2), SVTPM_OK);   /* current: B; A retired */
    struct fakehost h2;
    make_other(f, &h2, PERM, 650, 77, 5);                  /* its current: A, version 5 */
    size_t n;
    uint8_t *mine = fh_snapshot(&f->h, PERM, &n);
    const uint8_t *theirs = fh_bytes(&h2, PERM, NULL);

    /* into the retired slot: the current record is intact, but the file
     * mixes two vTPMs and is refused as a whole */
    memcpy(fh_bytes(&f->h, PERM, NULL), theirs, SEAL_SLOT_SIZE);
    sf_restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    /* same with our id named */
    sf_restart(f);
    store_name_id(&f->s, sf_slot_ptr(f, PERM, 1) + 24);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);

    /* over the current slot, our id named: foreign */
    fh_put(&f->h, PERM, mine, n);
    uint8_t myid[16];
    memcpy(myid, sf_slot_ptr(f, PERM, 1) + 24, 16);
    memcpy(fh_bytes(&f->h, PERM, NULL) + SEAL_SLOT_SIZE, theirs, SEAL_SLOT_SIZE);
    sf_restart(f);
    store_name_id(&f->s, myid);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);

    /* once the store knows its id (from permall), another vTPM's volatile
     * file is refused */
    fh_put(&f->h, PERM, mine, n);
    struct fakehost h3;
    make_other(f, &h3, VOL, 100, 5, 1);
    fh_put(&f->h, VOL, fh_bytes(&h3, VOL, NULL), SEAL_FILE_SIZE);
    sf_restart(f);
    sf_expect_load(f, PERM, 600, 2);
    assert_int_equal(expect_load_fails(f, VOL), SVTPM_E_FOREIGN);

    fh_put(&f->h, PERM, mine, n);
    fh_remove(&f->h, VOL);
    sf_restart(f);
    sf_expect_load(f, PERM, 600, 2);
    free(mine);
    fh_fini(&h2);
    fh_fini(&h3);
}

static void test_foreign_kind(void **state)
{
    /* A volatile record (same vTPM) placed in the permall file. */
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 600, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, PERM, 600, 2), SVTPM_OK);
    assert_int_equal(sf_save_v(f, VOL, 600, 3), SVTPM_OK);
    size_t n;
    uint8_t *perm = fh_snapshot(&f->h, PERM, &n);
    /* into the retired slot A */
    memcpy(fh_bytes(&f->h, PERM, NULL), sf_slot_ptr(f, VOL, 0), SEAL_SLOT_SIZE);
    sf_restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    /* the whole volatile file as permall */
    fh_put(&f->h, PERM, fh_bytes(&f->h, VOL, NULL), SEAL_FILE_SIZE);
    sf_restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_FOREIGN);
    fh_put(&f->h, PERM, perm, n);
    sf_restart(f);
    sf_expect_load(f, PERM, 600, 2);
    free(perm);
}

static void test_other_platform(void **state)
{
    /* The files moved to another host (another platform secret): AUTH. */
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, PERM, 100, 1), SVTPM_OK);
    sf_restart(f);
    testplat_init(&f->plat, 8);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_AUTH);
    /* another signer's enclave may not derive the key */
    testplat_init(&f->plat, 7);
    f->plat.id.mrsigner[0] ^= 1;
    sf_restart(f);
    assert_int_equal(expect_load_fails(f, PERM), SVTPM_E_PERM);
    testplat_init(&f->plat, 7);
    sf_restart(f);
    sf_expect_load(f, PERM, 100, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sf_setup, sf_teardown)
    const struct CMUnitTest tests[] = {
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
