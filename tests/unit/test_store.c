/* src/enclave/store.h: the sealed A/B store against the in-memory fake host
 * (tests/lib/fakehost.h, fixture in tests/lib/storefix.h): round trips at
 * the size limits, versions, slots and the retirement of superseded records,
 * deletion, oversized saves refused; and that the fake host all the store
 * tests run on answers every OCALL exactly as the real statedir.c does.
 * Tampering and foreign files: test_store_tamper.c; write faults and crash
 * injection: test_store_crash.c. */
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
#include "storefix.h"
#include "testplat.h"

/* ---- basics ---- */

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t *out = NULL;
    uint32_t n = 0;
    assert_int_equal(store_load(&f->s, PERM, &out, &n), SVTPM_E_NOTFOUND);
    assert_null(out);
    assert_int_equal(sf_save_v(f, PERM, 1315, 1), SVTPM_OK);
    assert_int_equal(sf_save_v(f, VOL, 9000, 100), SVTPM_OK);
    size_t sz;
    assert_non_null(fh_bytes(&f->h, PERM, &sz));
    assert_int_equal(sz, SEAL_FILE_SIZE);
    /* same store, then a fresh one */
    sf_expect_load(f, PERM, 1315, 1);
    sf_expect_load(f, VOL, 9000, 100);
    sf_restart(f);
    sf_expect_load(f, VOL, 9000, 100);
    sf_expect_load(f, PERM, 1315, 1);
    /* the sizes at the limits */
    assert_int_equal(sf_save_v(f, PERM, SVTPM_STATE_PLAIN_MAX, 2), SVTPM_OK);
    sf_restart(f);
    sf_expect_load(f, PERM, SVTPM_STATE_PLAIN_MAX, 2);
    assert_int_equal(sf_save_v(f, PERM, 0, 3), SVTPM_OK);
    sf_restart(f);
    sf_expect_load(f, PERM, 0, 3);
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
    sf_restart(f);
    sf_expect_load(f, PERM, 0, 3);
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
        assert_int_equal(sf_save_v(f, PERM, lens[k], k), SVTPM_OK);
        assert_int_equal(f->h.writes, k + 1);
        struct fh_write *w = &f->h.wlog[k];
        assert_int_equal(w->file, PERM);
        assert_int_equal(w->slot, k % 2);               /* A, B, A, B, ... */
        assert_int_equal(w->len, seal_rec_len(lens[k]));
        /* the new record's header: version k+1 */
        struct seal_hdr h;
        const uint8_t *cur = sf_slot_ptr(f, PERM, (int)(k % 2));
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
        const uint8_t *old = sf_slot_ptr(f, PERM, (int)((k + 1) % 2));
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
    assert_int_equal(sf_save_v(f, VOL, 10, 1), SVTPM_OK);
    assert_memory_not_equal(sf_slot_ptr(f, PERM, 0) + 40, sf_slot_ptr(f, VOL, 0) + 40, 32);
    assert_memory_equal(sf_slot_ptr(f, PERM, 0) + 40, sf_slot_ptr(f, PERM, 1) + 40, 32);
    /* and the same vTPM id */
    assert_memory_equal(sf_slot_ptr(f, PERM, 0) + 24, sf_slot_ptr(f, VOL, 0) + 24, 16);
}

static void test_fresh_store_continues_sequence(void **state)
{
    /* A restarted enclave that saves without loading first learns the
     * current slot and version from the file: never overwrites the current
     * record, never reuses a version number. */
    struct fx *f = *state;
    for (uint32_t k = 0; k < 3; k++)
        assert_int_equal(sf_save_v(f, PERM, 500 + k, k), SVTPM_OK);
    /* current: slot A (k=2), version 3 */
    sf_restart(f);
    assert_int_equal(sf_save_v(f, PERM, 777, 50), SVTPM_OK);
    assert_int_equal(f->h.wlog[3].slot, 1);
    assert_int_equal(f->h.wlog[3].retire_off, SEAL_HDR_LEN + 502);
    struct seal_hdr h;
    assert_int_equal(seal_hdr_parse(sf_slot_ptr(f, PERM, 1), SEAL_SLOT_SIZE, &h), SVTPM_OK);
    assert_true(h.seq == 4);
    sf_restart(f);
    sf_expect_load(f, PERM, 777, 50);
}

static void test_delete(void **state)
{
    struct fx *f = *state;
    assert_int_equal(sf_save_v(f, VOL, 100, 1), SVTPM_OK);
    uint8_t kid[32];
    memcpy(kid, sf_slot_ptr(f, VOL, 0) + 40, 32);
    assert_int_equal(store_delete(&f->s, VOL), SVTPM_OK);
    assert_null(fh_bytes(&f->h, VOL, NULL));
    uint8_t *out = NULL;
    uint32_t n;
    assert_int_equal(store_load(&f->s, VOL, &out, &n), SVTPM_E_NOTFOUND);
    assert_null(out);
    assert_int_equal(store_delete(&f->s, VOL), SVTPM_OK);   /* absent: fine */
    /* a new file: slot A again, version 1, a new key id */
    assert_int_equal(sf_save_v(f, VOL, 100, 2), SVTPM_OK);
    struct seal_hdr h;
    assert_int_equal(seal_hdr_parse(sf_slot_ptr(f, VOL, 0), SEAL_SLOT_SIZE, &h), SVTPM_OK);
    assert_true(h.seq == 1);
    assert_memory_not_equal(h.key_id, kid, 32);
    sf_restart(f);
    sf_expect_load(f, VOL, 100, 2);
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
    assert_int_equal(sf_save_v(f, PERM, 5000, 1), SVTPM_OK);
    const uint32_t lens[] = { SVTPM_STATE_PLAIN_MAX + 1,
                              SVTPM_SEALED_REC_MAX - SEAL_HDR_LEN - SEAL_TAG_LEN };
    for (size_t i = 0; i < 2; i++) {
        uint64_t w = f->h.writes;
        svtpm_err e = sf_save_v(f, PERM, lens[i], 2);
        sf_restart(f);
        uint8_t *out = NULL;
        uint32_t n = 0;
        svtpm_err le = store_load(&f->s, PERM, &out, &n);
        free(out);
        if (e == SVTPM_OK || f->h.writes != w)
            fail_msg("save of %u bytes (> SVTPM_STATE_PLAIN_MAX %u) was accepted (%s, %llu write(s)); "
                     "a load afterwards gives: %s", lens[i], SVTPM_STATE_PLAIN_MAX, svtpm_strerror(e),
                     (unsigned long long)(f->h.writes - w), svtpm_strerror(le));
        sf_expect_load(f, PERM, 5000, 1);
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
    sf_restart(f);

    uint8_t *out = NULL;
    uint32_t n;
    assert_int_equal(store_load(&f->s, PERM, &out, &n), SVTPM_E_NOTFOUND);
    const uint32_t lens[] = { 1315, 20000, 3, 0, 9000, SVTPM_STATE_PLAIN_MAX, 100 };
    for (uint32_t k = 0; k < 7; k++) {
        assert_int_equal(sf_save_v(f, k % 3 ? PERM : VOL, lens[k], k), SVTPM_OK);
        compare_files(&t);
        sf_restart(f);
        sf_expect_load(f, k % 3 ? PERM : VOL, lens[k], k);
    }
    /* odd files: a garbage header, a huge payload_len, cut files */
    size_t sz;
    uint8_t *orig = fh_snapshot(&f->h, PERM, &sz);
    uint8_t *b = malloc(sz);
    memcpy(b, orig, sz);
    memset(b, 'x', SEAL_HDR_LEN);                       /* slot A: not our magic */
    put_be32(b + SEAL_SLOT_SIZE + 140, 0xfffffff0u);    /* slot B: claims too much */
    put_both(&t, PERM, b, sz);
    sf_restart(f);
    assert_int_not_equal(store_load(&f->s, PERM, &out, &n), SVTPM_OK);
    const size_t cuts[] = { 0, 10, SEAL_HDR_LEN, SEAL_SLOT_SIZE + 100, SEAL_FILE_SIZE - 1 };
    for (size_t i = 0; i < 5; i++) {
        put_both(&t, PERM, orig, cuts[i]);
        sf_restart(f);
        assert_int_not_equal(store_load(&f->s, PERM, &out, &n), SVTPM_OK);
    }
    put_both(&t, PERM, orig, sz);
    sf_restart(f);
    sf_expect_load(f, PERM, SVTPM_STATE_PLAIN_MAX, 5);
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
#define T(fn) cmocka_unit_test_setup_teardown(fn, sf_setup, sf_teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),
        T(test_versions_slots_retire),
        T(test_fresh_store_continues_sequence),
        T(test_delete),
        T(test_save_just_over_limit_refused),
        T(test_fake_host_matches_statedir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
