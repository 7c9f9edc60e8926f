/* src/enclave/tpmstate.h: the DA fields of libtpms' permanent state blob.
 *
 * The vectors in tests/unit/data/tpmstate_*.permall are real blobs from
 * libtpms 0.9.2 (TPMLIB_GetState(TPMLIB_STATE_PERMANENT), byte-identical to
 * what the NVRAM store callback got), each taken after a known history and
 * checked against TPM2_GetCapability(TPM_PT_LOCKOUT_COUNTER..RECOVERY) when
 * it was made:
 *   fresh         a new TPM after Startup(CLEAR): the defaults
 *   params        + DictionaryAttackParameters(7, 3600, 172805)
 *   failed2       + an NV index with authValue, two NV_Writes with a wrong
 *                 password (the first DA-protected use answers TPM_RC_RETRY
 *                 after writing "DA used", so three commands)
 *   lockout_fail  + DictionaryAttackLockReset with a wrong lockoutAuth
 *   auths_state   another new TPM: DictionaryAttackParameters(10, 120, 0),
 *                 lockoutAuth, ownerAuth and the owner policy set (so the
 *                 fields move), one wrong NV_Write, Shutdown(STATE)
 * tests/fuzz/gen/gen_tpmstate.c makes them (gen-corpus.sh --tpmstate).
 * This program also starts libtpms (a process-global singleton) to load
 * patched blobs. Run from the top of the tree (tests/run.sh does) or with
 * SVTPM_TOP set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_nvfilename.h>

#include "bytes.h"
#include "tpmstate.h"
#include "vectors.h"

#define SU_DA_USED 0xFFFEu   /* orderlyState after a DA-protected use, not shut down */

struct vec {
    const char *name;
    struct tpm_da da;
    size_t off;               /* of the DA fields */
    uint16_t orderly;         /* orderlyState, right after them */
    const char *lockout_pw;
    uint8_t *b;
    size_t len;
};

static struct vec V[] = {
    { "fresh", { 0, 3, 1000, 1000, true }, 1002, 0xFFFF, "", NULL, 0 },
    { "params", { 0, 7, 3600, 172805, true }, 1002, 0xFFFF, "", NULL, 0 },
    { "failed2", { 2, 7, 3600, 172805, true }, 1002, SU_DA_USED, "", NULL, 0 },
    { "lockout_fail", { 2, 7, 3600, 172805, false }, 1002, SU_DA_USED, "", NULL, 0 },
    { "auths_state", { 1, 10, 120, 0, true }, 1068, 1 /* TPM_SU_STATE */, "lockout-password", NULL, 0 },
};
#define NV (sizeof V / sizeof V[0])

/* Offsets in the fresh blob (checked in test_fresh_landmarks). */
#define F_PA_VERSION     0
#define F_PA_MAGIC       2
#define F_PA_MINVER      6
#define F_PACC_VERSION   8
#define F_PACC_COUNT     16
#define F_PACC_BLOCK     500
#define F_PD_VERSION     503
#define F_PD_MAGIC       505
#define F_OWNER_POLICY   518
#define F_PCRPOL_BLOCK   938
#define F_PCRPOL_VERSION 941
#define F_PCR_COUNT      958
#define F_PPLIST         986
#define F_DA             1002
#define F_CLOCKSIZE      1059
#define F_OD_MAGIC       1106
#define F_WALK_END       1110   /* after ORDERLY_DATA's magic */

static int load_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NV; i++) {
        char name[64];
        snprintf(name, sizeof name, "tpmstate_%s.permall", V[i].name);
        V[i].b = test_vector(name, &V[i].len);
        if (!V[i].b)
            return -1;
    }
    return 0;
}

static int free_vectors(void **state)
{
    for (size_t i = 0; i < NV; i++)
        free(V[i].b);
    return 0;
}

static uint8_t *dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

static void assert_da(const struct tpm_da *a, const struct tpm_da *b)
{
    assert_int_equal(a->failed_tries, b->failed_tries);
    assert_int_equal(a->max_tries, b->max_tries);
    assert_int_equal(a->recovery_time, b->recovery_time);
    assert_int_equal(a->lockout_recovery, b->lockout_recovery);
    assert_int_equal(a->lockout_auth_enabled, b->lockout_auth_enabled);
}

/* A damaged blob: read and patch refuse it with `want`, the patch writes nothing. */
static void assert_refused(const uint8_t *b, size_t len, svtpm_err want)
{
    struct tpm_da da = { 0xAAAAAAAAu, 1, 2, 3, true }, keep = da;
    assert_int_equal(tpmstate_da_read(b, len, &da), want);
    assert_da(&da, &keep);
    uint8_t *c = dup(b, len);
    assert_int_equal(tpmstate_da_patch(c, len, &keep), want);
    assert_memory_equal(c, b, len);
    size_t off = 4242;
    assert_int_equal(tpmstate_da_find(b, len, &off), want);
    assert_int_equal(off, 4242);
    free(c);
}

static void test_real_blobs(void **state)
{
    for (size_t i = 0; i < NV; i++) {
        struct tpm_da da;
        size_t off = 0;
        memset(&da, 0x5A, sizeof da);
        assert_int_equal(tpmstate_da_find(V[i].b, V[i].len, &off), SVTPM_OK);
        assert_int_equal(off, V[i].off);
        assert_int_equal(tpmstate_da_find(V[i].b, V[i].len, NULL), SVTPM_OK);
        assert_int_equal(tpmstate_da_read(V[i].b, V[i].len, &da), SVTPM_OK);
        assert_da(&da, &V[i].da);
        assert_int_equal(get_be16(V[i].b + off + TPMSTATE_DA_LEN), V[i].orderly);
    }
}

static void test_fresh_landmarks(void **state)
{
    const uint8_t *b = V[0].b;
    assert_int_equal(get_be16(b + F_PA_VERSION), 3);
    assert_int_equal(get_be32(b + F_PA_MAGIC), 0xab364723u);
    assert_int_equal(get_be16(b + F_PACC_VERSION), 3);
    assert_int_equal(get_be32(b + F_PACC_COUNT), 120);
    assert_int_equal(b[F_PACC_BLOCK], 1);
    assert_int_equal(get_be16(b + F_PD_VERSION), 4);
    assert_int_equal(get_be32(b + F_PD_MAGIC), 0x12213443u);
    assert_int_equal(get_be16(b + F_OWNER_POLICY), 0);
    assert_int_equal(b[F_PCRPOL_BLOCK], 1);
    assert_int_equal(get_be16(b + F_PCRPOL_BLOCK + 1), 17);
    assert_int_equal(get_be16(b + F_PCRPOL_VERSION), 2);
    assert_int_equal(get_be32(b + F_PCR_COUNT), 4);
    assert_int_equal(get_be16(b + F_PPLIST), 14);
    assert_int_equal(F_PPLIST + 2 + 14, F_DA);
    assert_int_equal(b[F_CLOCKSIZE], 4);
    assert_int_equal(get_be32(b + F_OD_MAGIC), 0x56657887u);
    assert_int_equal(get_be32(b + V[0].len - 4), 0xab364723u);
}

/* The fields move with the TPM2B lengths before them: auths_state has a
 * 32-byte ownerPolicy, an 18-byte ownerAuth and a 16-byte lockoutAuth. */
static void test_fields_move(void **state)
{
    const uint8_t *b = V[4].b;
    assert_int_equal(get_be16(b + F_OWNER_POLICY), 32);
    /* then the endorsement and lockout policies (empty), ownerAuth, endorsementAuth (empty), lockoutAuth */
    assert_int_equal(get_be16(b + F_OWNER_POLICY + 2 + 32 + 2 + 2), 18);
    assert_int_equal(get_be16(b + F_OWNER_POLICY + 2 + 32 + 2 + 2 + 2 + 18 + 2), 16);
    assert_int_equal(V[4].off - V[0].off, 32 + 18 + 16);
}

static void test_patch_round_trip(void **state)
{
    const struct tpm_da news[] = {
        { 0xDEADBEEFu, 0x01020304u, 0xFFFFFFFFu, 0, false },
        { 0, 0, 0, 0, true },
        { 5, 6, 7, 8, false },
    };
    for (size_t i = 0; i < NV; i++) {
        for (size_t k = 0; k < sizeof news / sizeof news[0]; k++) {
            uint8_t *c = dup(V[i].b, V[i].len);
            struct tpm_da got;
            assert_int_equal(tpmstate_da_patch(c, V[i].len, &news[k]), SVTPM_OK);
            assert_int_equal(tpmstate_da_read(c, V[i].len, &got), SVTPM_OK);
            assert_da(&got, &news[k]);
            /* every byte outside the 17 field bytes unchanged */
            assert_memory_equal(c, V[i].b, V[i].off);
            assert_memory_equal(c + V[i].off + TPMSTATE_DA_LEN, V[i].b + V[i].off + TPMSTATE_DA_LEN,
                                V[i].len - V[i].off - TPMSTATE_DA_LEN);
            /* and patching the old values back gives the blob back */
            assert_int_equal(tpmstate_da_patch(c, V[i].len, &V[i].da), SVTPM_OK);
            assert_memory_equal(c, V[i].b, V[i].len);
            free(c);
        }
    }
}

static void test_patch_same_values_is_identity(void **state)
{
    for (size_t i = 0; i < NV; i++) {
        uint8_t *c = dup(V[i].b, V[i].len);
        assert_int_equal(tpmstate_da_patch(c, V[i].len, &V[i].da), SVTPM_OK);
        assert_memory_equal(c, V[i].b, V[i].len);
        free(c);
    }
}

/* Every prefix of every vector, in a buffer of exactly that size. */
static void test_truncation_every_length(void **state)
{
    for (size_t i = 0; i < NV; i++) {
        for (size_t n = 0; n < V[i].len; n++) {
            uint8_t *c = dup(V[i].b, n);
            struct tpm_da da;
            svtpm_err err = tpmstate_da_read(c, n, &da);
            if (n < V[i].off + TPMSTATE_DA_LEN)
                assert_int_equal(err, SVTPM_E_TRUNCATED);
            else
                assert_true(err == SVTPM_E_TRUNCATED || err == SVTPM_E_FORMAT);
            if (i == 0)   /* the fresh blob's walk ends at a known place */
                assert_int_equal(err, n < F_WALK_END ? SVTPM_E_TRUNCATED : SVTPM_E_FORMAT);
            assert_refused(c, n, err);
            free(c);
        }
    }
    assert_refused(NULL, 0, SVTPM_E_TRUNCATED);
}

static void test_trailing_byte(void **state)
{
    uint8_t *c = malloc(V[0].len + 1);
    assert_non_null(c);
    memcpy(c, V[0].b, V[0].len);
    c[V[0].len] = 0;
    assert_refused(c, V[0].len + 1, SVTPM_E_FORMAT);
    free(c);
}

struct damage {
    const char *what;
    size_t at;
    int width;        /* 1, 2 or 4 bytes, big-endian */
    uint32_t value;   /* written at `at` */
    svtpm_err want;
};

static const struct damage damages[] = {
    { "PERSISTENT_ALL version 2", F_PA_VERSION, 2, 2, SVTPM_E_UNSUPPORTED },
    { "PERSISTENT_ALL version 4", F_PA_VERSION, 2, 4, SVTPM_E_UNSUPPORTED },
    { "PERSISTENT_ALL version 1", F_PA_VERSION, 2, 1, SVTPM_E_UNSUPPORTED },
    { "PERSISTENT_ALL magic", F_PA_MAGIC, 4, 0xab364724u, SVTPM_E_FORMAT },
    { "PERSISTENT_ALL min_version above version", F_PA_MINVER, 2, 4, SVTPM_E_FORMAT },
    { "PA_COMPILE_CONSTANTS version 2", F_PACC_VERSION, 2, 2, SVTPM_E_UNSUPPORTED },
    { "PA_COMPILE_CONSTANTS version 4", F_PACC_VERSION, 2, 4, SVTPM_E_UNSUPPORTED },
    { "PA_COMPILE_CONSTANTS count 88 (version 2's)", F_PACC_COUNT, 4, 88, SVTPM_E_FORMAT },
    { "PA_COMPILE_CONSTANTS block without has_block", F_PACC_BLOCK, 1, 0, SVTPM_E_FORMAT },
    { "PERSISTENT_DATA version 3", F_PD_VERSION, 2, 3, SVTPM_E_UNSUPPORTED },
    { "PERSISTENT_DATA version 5", F_PD_VERSION, 2, 5, SVTPM_E_UNSUPPORTED },
    { "PERSISTENT_DATA magic", F_PD_MAGIC, 4, 0x12213444u, SVTPM_E_FORMAT },
    { "ownerPolicy of 65 bytes", F_OWNER_POLICY, 2, 65, SVTPM_E_FORMAT },
    { "pcrPolicies block one byte longer", F_PCRPOL_BLOCK + 1, 2, 18, SVTPM_E_FORMAT },
    { "pcrPolicies block one byte shorter", F_PCRPOL_BLOCK + 1, 2, 16, SVTPM_E_FORMAT },
    { "pcrPolicies block without has_block", F_PCRPOL_BLOCK, 1, 0, SVTPM_E_FORMAT },
    { "PCR_POLICY version 3", F_PCRPOL_VERSION, 2, 3, SVTPM_E_UNSUPPORTED },
    { "17 PCR banks", F_PCR_COUNT, 4, 17, SVTPM_E_FORMAT },
    { "2^32-1 PCR banks", F_PCR_COUNT, 4, 0xFFFFFFFFu, SVTPM_E_FORMAT },
    { "ppList one byte longer", F_PPLIST, 2, 15, SVTPM_E_FORMAT },
    { "ppList one byte shorter", F_PPLIST, 2, 13, SVTPM_E_FORMAT },
    { "ppList 0xFFFF", F_PPLIST, 2, 0xFFFF, SVTPM_E_TRUNCATED },
    { "lockOutAuthEnabled 2", F_DA + 16, 1, 2, SVTPM_E_FORMAT },
    { "lockOutAuthEnabled 0xFF", F_DA + 16, 1, 0xFF, SVTPM_E_FORMAT },
    { "clocksize 8", F_CLOCKSIZE, 1, 8, SVTPM_E_FORMAT },
    { "ORDERLY_DATA magic", F_OD_MAGIC, 4, 0x56657888u, SVTPM_E_FORMAT },
};

static void test_damaged(void **state)
{
    for (size_t k = 0; k < sizeof damages / sizeof damages[0]; k++) {
        const struct damage *d = &damages[k];
        uint8_t *c = dup(V[0].b, V[0].len);
        if (d->width == 1)
            c[d->at] = (uint8_t)d->value;
        else if (d->width == 2)
            put_be16(c + d->at, (uint16_t)d->value);
        else
            put_be32(c + d->at, d->value);
        struct tpm_da da;
        svtpm_err err = tpmstate_da_read(c, V[0].len, &da);
        if (err != d->want)
            fail_msg("%s: got %d, want %d", d->what, err, d->want);
        assert_refused(c, V[0].len, d->want);
        free(c);
    }
    /* the trailer: the blob's last four bytes */
    uint8_t *c = dup(V[0].b, V[0].len);
    c[V[0].len - 1] ^= 1;
    assert_refused(c, V[0].len, SVTPM_E_FORMAT);
    free(c);
}

/* ---- libtpms loads patched blobs --------------------------------------- */

static uint8_t *nv_perm;
static uint32_t nv_perm_len;

static TPM_RESULT cb_nvram_init(void) { return TPM_SUCCESS; }
static TPM_RESULT cb_io_init(void) { return TPM_SUCCESS; }
static TPM_RESULT cb_getlocality(TPM_MODIFIER_INDICATOR *loc, uint32_t tpm_number)
{
    *loc = 0;
    return TPM_SUCCESS;
}
static TPM_RESULT cb_loaddata(unsigned char **data, uint32_t *len, uint32_t tpm_number, const char *name)
{
    if (strcmp(name, TPM_PERMANENT_ALL_NAME) != 0 || !nv_perm)
        return TPM_RETRY;
    *data = dup(nv_perm, nv_perm_len);
    *len = nv_perm_len;
    return TPM_SUCCESS;
}
static TPM_RESULT cb_storedata(const unsigned char *data, uint32_t len, uint32_t tpm_number, const char *name)
{
    if (strcmp(name, TPM_PERMANENT_ALL_NAME) == 0) {
        free(nv_perm);
        nv_perm = dup(data, len);
        nv_perm_len = len;
    }
    return TPM_SUCCESS;
}
static TPM_RESULT cb_deletename(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
    return TPM_SUCCESS;
}

static uint8_t *rbuf;
static uint32_t rbuf_size;

static uint32_t tpm_cmd(const uint8_t *cmd, size_t len)
{
    uint32_t rlen = 0;
    assert_int_equal(TPMLIB_Process(&rbuf, &rlen, &rbuf_size, (unsigned char *)cmd, (uint32_t)len), TPM_SUCCESS);
    assert_true(rlen >= 10);
    return get_be32(rbuf + 6);
}

/* TPMLIB_SetState(PERMANENT, blob), power on, TPM2_Startup(CLEAR). */
static void power_on(const uint8_t *blob, size_t len)
{
    TPMLIB_Terminate();
    free(nv_perm);
    nv_perm = NULL;
    assert_int_equal(TPMLIB_SetState(TPMLIB_STATE_PERMANENT, blob, (uint32_t)len), TPM_SUCCESS);
    assert_int_equal(TPMLIB_MainInit(), TPM_SUCCESS);
    static const uint8_t startup[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
    assert_int_equal(tpm_cmd(startup, sizeof startup), 0);
}

/* TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES, TPM_PT_LOCKOUT_COUNTER, 4) */
static void get_da(struct tpm_da *da)
{
    static const uint8_t cmd[] = { 0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7A,
                                   0, 0, 0, 6, 0, 0, 0x02, 0x0E, 0, 0, 0, 4 };
    assert_int_equal(tpm_cmd(cmd, sizeof cmd), 0);
    /* header 10, moreData 1, capability 4, count 4, then (property, value) pairs */
    assert_int_equal(get_be32(rbuf + 15), 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(get_be32(rbuf + 19 + 8 * i), 0x20E + i);
    da->failed_tries = get_be32(rbuf + 23);
    da->max_tries = get_be32(rbuf + 31);
    da->recovery_time = get_be32(rbuf + 39);
    da->lockout_recovery = get_be32(rbuf + 47);
}

/* TPM2_DictionaryAttackLockReset with the right lockoutAuth (password
 * session): TPM_RC_LOCKOUT exactly when lockOutAuthEnabled is FALSE. */
static bool lockout_auth_enabled(const char *pw)
{
    uint8_t cmd[128];
    size_t n = strlen(pw);
    struct wr w = wr_init(cmd, sizeof cmd);
    wr_be16(&w, 0x8002);
    wr_be32(&w, 0);
    wr_be32(&w, 0x139);
    wr_be32(&w, 0x4000000Au);   /* TPM_RH_LOCKOUT */
    wr_be32(&w, (uint32_t)(9 + n));
    wr_be32(&w, 0x40000009u);   /* TPM_RS_PW */
    wr_be16(&w, 0);
    wr_u8(&w, 0);
    wr_be16(&w, (uint16_t)n);
    wr_bytes(&w, pw, n);
    assert_true(wr_ok(&w));
    put_be32(cmd + 2, (uint32_t)w.off);
    uint32_t rc = tpm_cmd(cmd, w.off);
    assert_true(rc == 0 || rc == 0x921);   /* TPM_RC_LOCKOUT */
    return rc == 0;
}

/* What TPM2_Startup does to the DA fields (libtpms 0.9.2's DAStartup): a
 * start after "DA used" without an orderly shutdown costs one failed try;
 * with lockoutRecovery 0, lockoutAuth is usable again after every start. */
static struct tpm_da after_startup(struct tpm_da d, uint16_t orderly)
{
    if (orderly == SU_DA_USED && d.recovery_time && d.failed_tries < d.max_tries)
        d.failed_tries++;
    if (d.lockout_recovery == 0)
        d.lockout_auth_enabled = true;
    return d;
}

static void load_and_check(const struct vec *v, const uint8_t *blob, const struct tpm_da *written)
{
    struct tpm_da want = after_startup(*written, v->orderly), got;
    power_on(blob, v->len);
    get_da(&got);
    got.lockout_auth_enabled = want.lockout_auth_enabled;
    assert_da(&got, &want);
    /* the state libtpms writes next carries them too */
    unsigned char *s = NULL;
    uint32_t slen = 0;
    assert_int_equal(TPMLIB_GetState(TPMLIB_STATE_PERMANENT, &s, &slen), TPM_SUCCESS);
    assert_int_equal(tpmstate_da_read(s, slen, &got), SVTPM_OK);
    assert_da(&got, &want);
    free(s);
    assert_int_equal(lockout_auth_enabled(v->lockout_pw), want.lockout_auth_enabled);
}

static void test_libtpms_loads_patched(void **state)
{
    static struct libtpms_callbacks cbs = {
        .sizeOfStruct = sizeof(struct libtpms_callbacks),
        .tpm_nvram_init = cb_nvram_init,
        .tpm_nvram_loaddata = cb_loaddata,
        .tpm_nvram_storedata = cb_storedata,
        .tpm_nvram_deletename = cb_deletename,
        .tpm_io_init = cb_io_init,
        .tpm_io_getlocality = cb_getlocality,
    };
    assert_int_equal(TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2), TPM_SUCCESS);
    assert_int_equal(TPMLIB_RegisterCallbacks(&cbs), TPM_SUCCESS);
    for (size_t i = 0; i < NV; i++) {
        const struct vec *v = &V[i];
        /* as recorded */
        load_and_check(v, v->b, &v->da);
        /* raised failedTries (one below the lockout), lockoutAuth disabled */
        struct tpm_da p = v->da;
        p.failed_tries = v->da.max_tries - 1;
        p.lockout_auth_enabled = false;
        uint8_t *c = dup(v->b, v->len);
        assert_int_equal(tpmstate_da_patch(c, v->len, &p), SVTPM_OK);
        load_and_check(v, c, &p);
        /* at the limit: the TPM is in lockout */
        p.failed_tries = v->da.max_tries;
        assert_int_equal(tpmstate_da_patch(c, v->len, &p), SVTPM_OK);
        load_and_check(v, c, &p);
        free(c);
    }
    TPMLIB_Terminate();
    free(nv_perm);
    nv_perm = NULL;
    free(rbuf);
    rbuf = NULL;
}

/* tpmstate_orderly reads what each vector recorded; tpmstate_charge_resume
 * charges exactly when TPM2_Startup would after a non-orderly stop: DA used,
 * DA on, failedTries below maxTries; one try, nothing else changed. */
static void test_orderly_and_charge(void **state)
{
    (void)state;
    for (size_t i = 0; i < NV; i++) {
        const struct vec *v = &V[i];
        uint16_t orderly = 0;
        assert_int_equal(tpmstate_orderly(v->b, v->len, &orderly), SVTPM_OK);
        assert_int_equal(orderly, v->orderly);
        uint8_t *c = dup(v->b, v->len);
        bool charged = true;
        assert_int_equal(tpmstate_charge_resume(c, v->len, &charged), SVTPM_OK);
        bool want = v->orderly == SU_DA_USED && v->da.recovery_time && v->da.failed_tries < v->da.max_tries;
        assert_int_equal(charged, want);
        struct tpm_da got;
        assert_int_equal(tpmstate_da_read(c, v->len, &got), SVTPM_OK);
        assert_int_equal(got.failed_tries, v->da.failed_tries + (want ? 1 : 0));
        for (size_t k = 0; k < v->len; k++)
            if (k < v->off || k >= v->off + 4)   /* only failedTries may differ */
                assert_int_equal(c[k], v->b[k]);
        free(c);
    }
    /* at maxTries: no charge (as DAStartup) */
    const struct vec *f = &V[2];
    uint8_t *c = dup(f->b, f->len);
    struct tpm_da da = f->da;
    da.failed_tries = da.max_tries;
    assert_int_equal(tpmstate_da_patch(c, f->len, &da), SVTPM_OK);
    bool charged = true;
    assert_int_equal(tpmstate_charge_resume(c, f->len, &charged), SVTPM_OK);
    assert_false(charged);
    free(c);
    /* not a libtpms blob: an error, nothing charged */
    uint8_t junk[64] = { 0 };
    assert_int_not_equal(tpmstate_charge_resume(junk, sizeof junk, &charged), SVTPM_OK);
    assert_false(charged);
}

/* go.clock in ORDERLY_DATA (8 bytes at the magic + 6): read, patched in
 * place with nothing else changed; refused when cut short or another
 * ORDERLY_DATA version. */
static void test_clock(void **state)
{
    (void)state;
    for (size_t i = 0; i < NV; i++) {
        const struct vec *v = &V[i];
        uint64_t clock = 1;
        assert_int_equal(tpmstate_clock(v->b, v->len, &clock), SVTPM_OK);
        uint8_t *c = dup(v->b, v->len);
        assert_int_equal(tpmstate_clock_patch(c, v->len, 0x0102030405060708ull), SVTPM_OK);
        assert_int_equal(tpmstate_clock(c, v->len, &clock), SVTPM_OK);
        assert_true(clock == 0x0102030405060708ull);
        size_t diff = 0;
        for (size_t k = 0; k < v->len; k++)
            diff += c[k] != v->b[k];
        assert_true(diff >= 1 && diff <= 8);
        free(c);
    }
    const struct vec *f = &V[0];
    uint64_t clock;
    /* the clock sits right after ORDERLY_DATA's min_version */
    assert_int_equal(tpmstate_clock(f->b, F_OD_MAGIC + 4 + 2 + 8, &clock), SVTPM_E_FORMAT);
    uint8_t *c = dup(f->b, f->len);
    put_be16(c + F_OD_MAGIC - 2, 3);
    assert_int_equal(tpmstate_clock(c, f->len, &clock), SVTPM_E_UNSUPPORTED);
    assert_int_equal(tpmstate_clock_patch(c, f->len, 5), SVTPM_E_UNSUPPORTED);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_blobs),
        cmocka_unit_test(test_fresh_landmarks),
        cmocka_unit_test(test_fields_move),
        cmocka_unit_test(test_patch_round_trip),
        cmocka_unit_test(test_patch_same_values_is_identity),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_trailing_byte),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_orderly_and_charge),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_libtpms_loads_patched),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
