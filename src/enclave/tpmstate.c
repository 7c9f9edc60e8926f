/* The DA fields of libtpms' permanent state blob: see tpmstate.h for the
 * layout. The walk follows libtpms 0.9.2's PERSISTENT_ALL_Unmarshal up to the
 * DA fields. It is looser only in limits libtpms enforces itself when it
 * loads the blob (TPM2B and PCR bank sizes), and it never skips by a size
 * where libtpms parses before the fields: so for every blob libtpms loads,
 * the fields are where libtpms reads them. */
#include "tpmstate.h"
#include "bytes.h"

#define PA_MAGIC       0xab364723u   /* PERSISTENT_ALL: header and trailer */
#define PA_VERSION     3u
#define PACC_MAGIC     0xc9ea6431u   /* PA_COMPILE_CONSTANTS */
#define PACC_VERSION   3u
#define PACC_COUNT     120u          /* what version 3 holds */
#define PD_MAGIC       0x12213443u   /* PERSISTENT_DATA */
#define PD_VERSION     4u
#define PCRPOL_MAGIC   0x176be626u   /* PCR_POLICY, inside PERSISTENT_DATA */
#define PCRPOL_VERSION 2u
#define OD_MAGIC       0x56657887u   /* ORDERLY_DATA, right after PERSISTENT_DATA */

#define TPM2B_MAX      64u   /* largest digest, auth, seed and proof in libtpms */
#define PCR_BANKS_MAX  16u   /* libtpms allows HASH_COUNT (4) */
#define PD_TPM2B_COUNT 12u   /* 3 policies, 3 auths, 3 seeds, 3 proofs */
#define EPOCH_LEN      4u    /* libtpms 0.9 is built without CLOCK_STOPS */

/* A walk in progress. The first failure stands: need() also fails the
 * reader, so every later read and check is a no-op, and a walk that ran off
 * the end reports SVTPM_E_TRUNCATED, not the garbage it compared. */
struct walk {
    struct rd r;
    svtpm_err err;
};

static bool ok(struct walk *w)
{
    if (!w->err && !rd_ok(&w->r))
        w->err = SVTPM_E_TRUNCATED;
    return !w->err;
}

static void need(struct walk *w, bool cond, svtpm_err e)
{
    if (!cond) {
        if (ok(w))
            w->err = e;
        w->r.bad = true;
    }
}

static void skip(struct walk *w, size_t n)
{
    (void)rd_ptr(&w->r, n);
}

/* NV_HEADER: u16 version, u32 magic, and from version 2 on u16 min_version
 * (every version accepted here has it). */
static void header(struct walk *w, uint32_t magic, uint16_t version)
{
    uint16_t v = rd_be16(&w->r);
    need(w, rd_be32(&w->r) == magic, SVTPM_E_FORMAT);
    need(w, v == version, SVTPM_E_UNSUPPORTED);
    need(w, rd_be16(&w->r) <= version, SVTPM_E_FORMAT);
}

/* A BLOCK_SKIP marker: u8 has_block, u16 size of what follows. libtpms 0.9
 * writes every marker with has_block set; without it libtpms would ignore
 * the size, so a cleared one is refused rather than interpreted. */
static size_t block(struct walk *w)
{
    uint8_t has = rd_u8(&w->r);
    uint16_t n = rd_be16(&w->r);
    need(w, has == 1, SVTPM_E_FORMAT);
    return n;
}

static void tpm2b(struct walk *w)
{
    uint16_t n = rd_be16(&w->r);
    need(w, n <= TPM2B_MAX, SVTPM_E_FORMAT);
    skip(w, n);
}

/* TPML_PCR_SELECTION: u32 count, count x (u16 hash, u8 n, n bytes). */
static void pcr_selection(struct walk *w)
{
    uint32_t n = rd_be32(&w->r);
    need(w, n <= PCR_BANKS_MAX, SVTPM_E_FORMAT);
    for (uint32_t i = 0; i < n && ok(w); i++) {
        (void)rd_be16(&w->r);
        skip(w, rd_u8(&w->r));
    }
}

/* libtpms parses the pcrPolicies block rather than skipping its size, so
 * the content is walked too and must fill the block exactly: otherwise the
 * DA fields would not be where libtpms reads them. */
static void pcr_policy(struct walk *w)
{
    size_t n = block(w);
    size_t start = w->r.off;
    header(w, PCRPOL_MAGIC, PCRPOL_VERSION);
    uint16_t count = rd_be16(&w->r);
    for (uint32_t i = 0; i < count && ok(w); i++) {
        (void)rd_be16(&w->r);
        tpm2b(w);
    }
    skip(w, block(w));
    need(w, w->r.off - start == n, SVTPM_E_FORMAT);
}

/* The whole walk: *off the DA fields, *od the byte after ORDERLY_DATA's
 * magic (its version is at od - 6). */
static svtpm_err walk(const uint8_t *blob, size_t len, size_t *off, size_t *od);

svtpm_err tpmstate_da_find(const uint8_t *blob, size_t len, size_t *off)
{
    size_t od;
    return walk(blob, len, off, &od);
}

static svtpm_err walk(const uint8_t *blob, size_t len, size_t *off, size_t *od)
{
    struct walk w = { .r = rd_init(blob, len), .err = SVTPM_OK };
    header(&w, PA_MAGIC, PA_VERSION);
    header(&w, PACC_MAGIC, PACC_VERSION);
    need(&w, rd_be32(&w.r) == PACC_COUNT, SVTPM_E_FORMAT);
    skip(&w, PACC_COUNT * 4u);
    skip(&w, block(&w));

    header(&w, PD_MAGIC, PD_VERSION);
    skip(&w, 1 + 3 * 2);   /* disableClear, owner/endorsement/lockout alg */
    for (unsigned i = 0; i < PD_TPM2B_COUNT; i++)
        tpm2b(&w);
    skip(&w, 8 + 4);       /* totalResetCount, resetCount */
    pcr_policy(&w);
    pcr_selection(&w);
    skip(&w, rd_be16(&w.r));   /* ppList */
    size_t at = w.r.off;
    const uint8_t *da = rd_ptr(&w.r, TPMSTATE_DA_LEN);
    /* libtpms writes a BOOL as 0 or 1: anything else is not its blob, and
     * would not survive a patch with the value read */
    need(&w, !da || da[TPMSTATE_DA_LEN - 1] <= 1, SVTPM_E_FORMAT);

    /* The rest of PERSISTENT_DATA and the next header: a walk that went
     * astray before the DA fields does not land on ORDERLY_DATA. */
    skip(&w, 2);               /* orderlyState */
    skip(&w, rd_be16(&w.r));   /* auditCommands */
    skip(&w, 2 + 8 + 4 + 4 + 4);   /* auditHashAlg, auditCounter, algorithmSet, firmwareV1/2 */
    need(&w, rd_u8(&w.r) == EPOCH_LEN, SVTPM_E_FORMAT);
    skip(&w, EPOCH_LEN);
    skip(&w, block(&w));       /* version 3 and later fields */
    (void)rd_be16(&w.r);
    need(&w, rd_be32(&w.r) == OD_MAGIC, SVTPM_E_FORMAT);
    need(&w, len >= 4 && get_be32(blob + len - 4) == PA_MAGIC, SVTPM_E_FORMAT);

    if (ok(&w)) {
        if (off)
            *off = at;
        *od = w.r.off;
    }
    return w.err;
}

svtpm_err tpmstate_da_read(const uint8_t *blob, size_t len, struct tpm_da *da)
{
    size_t off = 0;
    svtpm_err err = tpmstate_da_find(blob, len, &off);
    if (!err) {
        struct rd r = rd_init(blob + off, TPMSTATE_DA_LEN);
        da->failed_tries = rd_be32(&r);
        da->max_tries = rd_be32(&r);
        da->recovery_time = rd_be32(&r);
        da->lockout_recovery = rd_be32(&r);
        da->lockout_auth_enabled = rd_u8(&r) != 0;
    }
    return err;
}

svtpm_err tpmstate_da_patch(uint8_t *blob, size_t len, const struct tpm_da *da)
{
    size_t off = 0;
    svtpm_err err = tpmstate_da_find(blob, len, &off);
    if (!err) {
        struct wr w = wr_init(blob + off, TPMSTATE_DA_LEN);
        wr_be32(&w, da->failed_tries);
        wr_be32(&w, da->max_tries);
        wr_be32(&w, da->recovery_time);
        wr_be32(&w, da->lockout_recovery);
        wr_u8(&w, da->lockout_auth_enabled ? 1 : 0);
    }
    return err;
}

svtpm_err tpmstate_orderly(const uint8_t *blob, size_t len, uint16_t *orderly)
{
    size_t off = 0;
    svtpm_err err = tpmstate_da_find(blob, len, &off);
    if (!err)   /* the walk checked these two bytes exist */
        *orderly = get_be16(blob + off + TPMSTATE_DA_LEN);
    return err;
}

/* What TPM2_Startup would charge: DA used, DA on, below the lockout. */
static svtpm_err resume_due(const uint8_t *blob, size_t len, struct tpm_da *da, bool *due)
{
    uint16_t orderly = 0;
    *due = false;
    svtpm_err err = tpmstate_da_read(blob, len, da);
    if (!err)
        err = tpmstate_orderly(blob, len, &orderly);
    if (!err)
        *due = orderly == TPMSTATE_SU_DA_USED && da->recovery_time != 0 && da->failed_tries < da->max_tries;
    return err;
}

svtpm_err tpmstate_resume_due(const uint8_t *blob, size_t len, bool *due, uint32_t *recovery_s)
{
    struct tpm_da da = { 0 };
    svtpm_err err = resume_due(blob, len, &da, due);
    *recovery_s = da.recovery_time;
    return err;
}

svtpm_err tpmstate_charge_resume(uint8_t *blob, size_t len, bool *charged)
{
    struct tpm_da da;
    bool due = false;
    *charged = false;
    svtpm_err err = resume_due(blob, len, &da, &due);
    if (!err && due) {
        da.failed_tries++;
        err = tpmstate_da_patch(blob, len, &da);
        *charged = err == SVTPM_OK;
    }
    return err;
}

#define OD_VERSION   2u       /* the ORDERLY_DATA layout checked against libtpms 0.9.2 */

/* ORDERLY_DATA: u16 version | magic | u16 min_version | u64 clock | u8 clockSafe ... */
static svtpm_err clock_off(const uint8_t *blob, size_t len, size_t *at)
{
    size_t od = 0;
    svtpm_err err = walk(blob, len, NULL, &od);
    if (!err && get_be16(blob + od - 6) != OD_VERSION)
        err = SVTPM_E_UNSUPPORTED;
    if (!err && len - od < 2 + 8 + 1)
        err = SVTPM_E_TRUNCATED;
    if (!err)
        *at = od + 2;
    return err;
}

svtpm_err tpmstate_clock(const uint8_t *blob, size_t len, uint64_t *clock_ms)
{
    size_t at = 0;
    svtpm_err err = clock_off(blob, len, &at);
    if (!err)
        *clock_ms = get_be64(blob + at);
    return err;
}

svtpm_err tpmstate_clock_patch(uint8_t *blob, size_t len, uint64_t clock_ms)
{
    size_t at = 0;
    svtpm_err err = clock_off(blob, len, &at);
    if (!err)
        put_be64(blob + at, clock_ms);
    return err;
}
