/* Generator for the real libtpms permanent-state vectors:
 *
 *   gen_tpmstate OUTDIR    writes OUTDIR/tpmstate_{fresh,params,failed2,
 *                          lockout_fail,auths_state}.permall
 *
 * They are what tests/unit/test_tpmstate.c and test_rollback.c check
 * src/enclave/tpmstate.c against, so they must come from the libtpms the
 * project links, after a known command history (the header comment of
 * test_tpmstate.c lists them). This program drives the system libtpms
 * in-process with an in-memory NVRAM through those histories and, for each
 * blob (TPMLIB_GetState(TPMLIB_STATE_PERMANENT)), checks that
 *   - it is byte for byte what the NVRAM store callback was given,
 *   - TPM2_GetCapability(TPM_PT_LOCKOUT_COUNTER .. TPM_PT_LOCKOUT_RECOVERY)
 *     gives the DA values the history should leave,
 *   - tpmstate_da_read() reads the same values (and lockOutAuthEnabled),
 *   - orderlyState right after the DA fields is the expected one.
 * Any difference (a libtpms upgrade that moved a field or changed how DA
 * state evolves) exits 1 before anything is written: a half-updated set of
 * vectors would be worse than the old one. The DA offset of each vector is
 * printed, since test_tpmstate.c hard-codes those of the fresh one.
 *
 * TPM seeds are random, so every run writes other bytes with the same
 * layout. Run by tests/fuzz/gen/gen-corpus.sh --tpmstate, which also copies
 * the vectors to the real_* seeds of tests/fuzz/corpus/tpmstate/. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_nvfilename.h>

#include "bytes.h"
#include "tpmstate.h"

/* TPM 2.0 Part 2 constants for the few commands used here. */
#define TPM_ST_NO_SESSIONS 0x8001u
#define TPM_ST_SESSIONS    0x8002u
#define TPM_CC_HierarchyChangeAuth         0x129u
#define TPM_CC_NV_DefineSpace              0x12Au
#define TPM_CC_SetPrimaryPolicy            0x12Eu
#define TPM_CC_NV_Write                    0x137u
#define TPM_CC_DictionaryAttackLockReset   0x139u
#define TPM_CC_DictionaryAttackParameters  0x13Au
#define TPM_CC_Startup                     0x144u
#define TPM_CC_Shutdown                    0x145u
#define TPM_CC_GetCapability               0x17Au
#define TPM_RH_OWNER    0x40000001u
#define TPM_RS_PW       0x40000009u
#define TPM_RH_LOCKOUT  0x4000000Au
#define TPM_SU_CLEAR    0u
#define TPM_SU_STATE    1u
#define TPM_ALG_SHA256  0x000Bu
#define TPM_CAP_TPM_PROPERTIES  6u
#define TPM_PT_LOCKOUT_COUNTER  0x20Eu   /* then MAX_AUTH_FAIL, LOCKOUT_INTERVAL, LOCKOUT_RECOVERY */
#define TPM_RC_SUCCESS  0u
#define TPM_RC_RETRY    0x922u
#define TPM_RC_AUTH_FAIL_S1 0x98Eu       /* TPM_RC_AUTH_FAIL + TPM_RC_S + TPM_RC_1: session 1's password */

/* orderlyState values in PERSISTENT_DATA: libtpms' TPM_SU_NONE_VALUE (no
 * orderly shutdown since the last start) and SU_DA_USED_VALUE (the same,
 * and a DA-protected object was used, so the next start counts a failure). */
#define SU_NONE     0xFFFFu
#define SU_DA_USED  0xFFFEu

/* The NV index the wrong passwords are tried on (its authValue is "abc"). */
#define NV_INDEX        0x01500000u
#define NV_SIZE         8u
#define TPMA_NV_AUTH_RW 0x00040004u      /* TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD */

#define LOCKOUT_PW "lockout-password"
#define OWNER_PW   "owner-password-xyz"

/* ---- the vectors ---------------------------------------------------------- */

enum { V_FRESH, V_PARAMS, V_FAILED2, V_LOCKOUT_FAIL, V_AUTHS_STATE, NVEC };

struct vector {
    const char *name;    /* tpmstate_NAME.permall */
    struct tpm_da da;    /* what the history leaves */
    uint16_t orderly;    /* orderlyState, right after the DA fields */
    uint8_t *blob;       /* taken and checked, written at the end */
    uint32_t len;
};

/* The same table as test_tpmstate.c's V[], without the offsets (printed). */
static struct vector V[NVEC] = {
    [V_FRESH] = { "fresh", { 0, 3, 1000, 1000, true }, SU_NONE, NULL, 0 },
    [V_PARAMS] = { "params", { 0, 7, 3600, 172805, true }, SU_NONE, NULL, 0 },
    [V_FAILED2] = { "failed2", { 2, 7, 3600, 172805, true }, SU_DA_USED, NULL, 0 },
    [V_LOCKOUT_FAIL] = { "lockout_fail", { 2, 7, 3600, 172805, false }, SU_DA_USED, NULL, 0 },
    [V_AUTHS_STATE] = { "auths_state", { 1, 10, 120, 0, true }, TPM_SU_STATE, NULL, 0 },
};

/* ---- in-memory NVRAM ------------------------------------------------------ */

/* libtpms (TPM 2.0, no swtpm around it) keeps one NVRAM file: the permanent
 * state. Volatile state is only written on request, which never happens. */
static uint8_t *nv_perm;
static uint32_t nv_perm_len;

static void nv_clear(void)
{
    free(nv_perm);
    nv_perm = NULL;
    nv_perm_len = 0;
}

static TPM_RESULT cb_nvram_init(void)
{
    return TPM_SUCCESS;
}

/* TPM_RETRY for "no such file": libtpms then manufactures a new TPM. */
static TPM_RESULT cb_loaddata(unsigned char **data, uint32_t *len, uint32_t tpm_number, const char *name)
{
    TPM_RESULT r = TPM_RETRY;
    (void)tpm_number;
    if (strcmp(name, TPM_PERMANENT_ALL_NAME) == 0 && nv_perm) {
        *data = malloc(nv_perm_len);   /* libtpms frees it */
        r = *data ? TPM_SUCCESS : TPM_FAIL;
        if (*data) {
            memcpy(*data, nv_perm, nv_perm_len);
            *len = nv_perm_len;
        }
    }
    return r;
}

static TPM_RESULT cb_storedata(const unsigned char *data, uint32_t len, uint32_t tpm_number, const char *name)
{
    TPM_RESULT r = TPM_SUCCESS;
    (void)tpm_number;
    if (strcmp(name, TPM_PERMANENT_ALL_NAME) == 0) {
        uint8_t *copy = malloc(len ? len : 1);
        r = copy ? TPM_SUCCESS : TPM_FAIL;
        if (copy) {
            memcpy(copy, data, len);
            nv_clear();
            nv_perm = copy;
            nv_perm_len = len;
        }
    }
    return r;
}

static TPM_RESULT cb_deletename(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
    (void)tpm_number;
    (void)must_exist;
    if (strcmp(name, TPM_PERMANENT_ALL_NAME) == 0)
        nv_clear();
    return TPM_SUCCESS;
}

static TPM_RESULT cb_io_init(void)
{
    return TPM_SUCCESS;
}

static TPM_RESULT cb_getlocality(TPM_MODIFIER_INDICATOR *loc, uint32_t tpm_number)
{
    (void)tpm_number;
    *loc = 0;
    return TPM_SUCCESS;
}

static struct libtpms_callbacks callbacks = {
    .sizeOfStruct = sizeof callbacks,
    .tpm_nvram_init = cb_nvram_init,
    .tpm_nvram_loaddata = cb_loaddata,
    .tpm_nvram_storedata = cb_storedata,
    .tpm_nvram_deletename = cb_deletename,
    .tpm_io_init = cb_io_init,
    .tpm_io_getlocality = cb_getlocality,
};

/* ---- commands ------------------------------------------------------------- */

static unsigned char *rsp;   /* libtpms' response buffer, reused */
static uint32_t rsp_len, rsp_cap;

struct cmd {
    uint8_t buf[512];
    struct wr w;
};

static void cmd_begin(struct cmd *c, uint16_t tag, uint32_t cc)
{
    c->w = wr_init(c->buf, sizeof c->buf);
    wr_be16(&c->w, tag);
    wr_be32(&c->w, 0);   /* commandSize: set by cmd_run */
    wr_be32(&c->w, cc);
}

static void cmd_tpm2b(struct cmd *c, const void *p, size_t n)
{
    wr_be16(&c->w, (uint16_t)n);
    wr_bytes(&c->w, p, n);
}

/* The authorization area: one password session. */
static void cmd_pw(struct cmd *c, const char *pw)
{
    size_t n = strlen(pw);
    wr_be32(&c->w, (uint32_t)(4 + 2 + 1 + 2 + n));
    wr_be32(&c->w, TPM_RS_PW);
    wr_be16(&c->w, 0);   /* nonceCaller */
    wr_u8(&c->w, 0);     /* sessionAttributes */
    cmd_tpm2b(c, pw, n);
}

/* Sends the command; *rc is the response code. False if libtpms did not
 * answer with a TPM 2.0 response at all. */
static bool cmd_send(struct cmd *c, const char *what, uint32_t *rc)
{
    bool ok = wr_ok(&c->w);   /* the buffer is far larger than any command here */
    if (ok) {
        put_be32(c->buf + 2, (uint32_t)c->w.off);
        ok = TPMLIB_Process(&rsp, &rsp_len, &rsp_cap, c->buf, (uint32_t)c->w.off) == TPM_SUCCESS &&
             rsp_len >= 10;
    }
    if (ok)
        *rc = get_be32(rsp + 6);
    else
        fprintf(stderr, "gen_tpmstate: %s: command not built or not answered\n", what);
    return ok;
}

/* Sends the command and insists on response code want. */
static bool cmd_run(struct cmd *c, const char *what, uint32_t want)
{
    uint32_t rc = 0;
    bool ok = cmd_send(c, what, &rc);
    if (ok && rc != want) {
        fprintf(stderr, "gen_tpmstate: %s: response code %#x, expected %#x\n", what, rc, want);
        ok = false;
    }
    return ok;
}

/* A new TPM: libtpms restarted over an empty NVRAM (it is one per process,
 * so the previous TPM has to go), manufactured, TPM2_Startup(CLEAR). */
static bool tpm_new(void)
{
    struct cmd c;
    TPMLIB_Terminate();
    nv_clear();
    bool ok = TPMLIB_MainInit() == TPM_SUCCESS;
    if (!ok)
        fprintf(stderr, "gen_tpmstate: TPMLIB_MainInit failed\n");
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_Startup);
    wr_be16(&c.w, TPM_SU_CLEAR);
    return ok && cmd_run(&c, "Startup(CLEAR)", TPM_RC_SUCCESS);
}

static bool da_parameters(const char *lockout_pw, uint32_t max_tries, uint32_t recovery_time,
                          uint32_t lockout_recovery)
{
    struct cmd c;
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_DictionaryAttackParameters);
    wr_be32(&c.w, TPM_RH_LOCKOUT);
    cmd_pw(&c, lockout_pw);
    wr_be32(&c.w, max_tries);
    wr_be32(&c.w, recovery_time);
    wr_be32(&c.w, lockout_recovery);
    return cmd_run(&c, "DictionaryAttackParameters", TPM_RC_SUCCESS);
}

/* With a wrong lockoutAuth: lockOutAuthEnabled goes FALSE (lockoutRecovery
 * is not 0 where this is used). */
static bool lock_reset_wrong(const char *wrong_pw)
{
    struct cmd c;
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_DictionaryAttackLockReset);
    wr_be32(&c.w, TPM_RH_LOCKOUT);
    cmd_pw(&c, wrong_pw);
    return cmd_run(&c, "DictionaryAttackLockReset (wrong lockoutAuth)", TPM_RC_AUTH_FAIL_S1);
}

static bool change_auth(uint32_t hierarchy, const char *old_pw, const char *new_pw)
{
    struct cmd c;
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_HierarchyChangeAuth);
    wr_be32(&c.w, hierarchy);
    cmd_pw(&c, old_pw);
    cmd_tpm2b(&c, new_pw, strlen(new_pw));
    return cmd_run(&c, "HierarchyChangeAuth", TPM_RC_SUCCESS);
}

/* A 32-byte ownerPolicy: moves every field after it in the blob. */
static bool set_owner_policy(const char *owner_pw)
{
    struct cmd c;
    uint8_t digest[32];
    for (size_t i = 0; i < sizeof digest; i++)
        digest[i] = (uint8_t)(0xA0 + i);
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_SetPrimaryPolicy);
    wr_be32(&c.w, TPM_RH_OWNER);
    cmd_pw(&c, owner_pw);
    cmd_tpm2b(&c, digest, sizeof digest);
    wr_be16(&c.w, TPM_ALG_SHA256);
    return cmd_run(&c, "SetPrimaryPolicy(owner)", TPM_RC_SUCCESS);
}

/* An ordinary (DA-protected) NV index with authValue "abc", for failures. */
static bool nv_define(const char *owner_pw)
{
    struct cmd c;
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_NV_DefineSpace);
    wr_be32(&c.w, TPM_RH_OWNER);
    cmd_pw(&c, owner_pw);
    cmd_tpm2b(&c, "abc", 3);
    wr_be16(&c.w, 4 + 2 + 4 + 2 + 2);   /* TPM2B_NV_PUBLIC size */
    wr_be32(&c.w, NV_INDEX);
    wr_be16(&c.w, TPM_ALG_SHA256);
    wr_be32(&c.w, TPMA_NV_AUTH_RW);
    wr_be16(&c.w, 0);                   /* authPolicy */
    wr_be16(&c.w, NV_SIZE);
    return cmd_run(&c, "NV_DefineSpace", TPM_RC_SUCCESS);
}

static bool nv_write_once(const char *pw, uint32_t *rc)
{
    struct cmd c;
    static const uint8_t data[NV_SIZE];
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_NV_Write);
    wr_be32(&c.w, NV_INDEX);   /* authHandle */
    wr_be32(&c.w, NV_INDEX);   /* nvIndex */
    cmd_pw(&c, pw);
    cmd_tpm2b(&c, data, sizeof data);
    wr_be16(&c.w, 0);          /* offset */
    return cmd_send(&c, "NV_Write", rc);
}

/* NV_Write with a wrong password: one failed try. The first DA-protected
 * use after a start answers TPM_RC_RETRY once it has recorded "DA used"
 * (orderlyState SU_DA_USED) in NV; the retry then fails. */
static bool nv_write_wrong(const char *wrong_pw)
{
    uint32_t rc = 0;
    bool ok = nv_write_once(wrong_pw, &rc);
    if (ok && rc == TPM_RC_RETRY)
        ok = nv_write_once(wrong_pw, &rc);
    if (ok && rc != TPM_RC_AUTH_FAIL_S1) {
        fprintf(stderr, "gen_tpmstate: NV_Write (wrong password): response code %#x, expected %#x\n", rc,
                TPM_RC_AUTH_FAIL_S1);
        ok = false;
    }
    return ok;
}

static bool shutdown_state(void)
{
    struct cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_Shutdown);
    wr_be16(&c.w, TPM_SU_STATE);
    return cmd_run(&c, "Shutdown(STATE)", TPM_RC_SUCCESS);
}

/* TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES, TPM_PT_LOCKOUT_COUNTER, 4): the
 * four u32 DA values as the TPM itself reports them (lockOutAuthEnabled has
 * no property; da->lockout_auth_enabled is left alone). */
static bool get_da(struct tpm_da *da)
{
    struct cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_GetCapability);
    wr_be32(&c.w, TPM_CAP_TPM_PROPERTIES);
    wr_be32(&c.w, TPM_PT_LOCKOUT_COUNTER);
    wr_be32(&c.w, 4);
    bool ok = cmd_run(&c, "GetCapability(TPM_PT_LOCKOUT_*)", TPM_RC_SUCCESS);
    /* header 10, moreData 1, capability 4, count 4, then (property, value) */
    ok = ok && rsp_len >= 19 + 4 * 8 && get_be32(rsp + 15) == 4;
    for (uint32_t i = 0; ok && i < 4; i++)
        ok = get_be32(rsp + 19 + 8 * i) == TPM_PT_LOCKOUT_COUNTER + i;
    if (ok) {
        da->failed_tries = get_be32(rsp + 23);
        da->max_tries = get_be32(rsp + 31);
        da->recovery_time = get_be32(rsp + 39);
        da->lockout_recovery = get_be32(rsp + 47);
    } else {
        fprintf(stderr, "gen_tpmstate: GetCapability: unexpected response\n");
    }
    return ok;
}

/* ---- taking and checking a vector ----------------------------------------- */

static void da_print(FILE *f, const char *label, const struct tpm_da *d, bool with_lae)
{
    fprintf(f, "  %-16s failedTries %u maxTries %u recoveryTime %u lockoutRecovery %u", label, d->failed_tries,
            d->max_tries, d->recovery_time, d->lockout_recovery);
    if (with_lae)
        fprintf(f, " lockOutAuthEnabled %d", d->lockout_auth_enabled);
    fputc('\n', f);
}

static bool da_same(const struct tpm_da *a, const struct tpm_da *b, bool with_lae)
{
    return a->failed_tries == b->failed_tries && a->max_tries == b->max_tries &&
           a->recovery_time == b->recovery_time && a->lockout_recovery == b->lockout_recovery &&
           (!with_lae || a->lockout_auth_enabled == b->lockout_auth_enabled);
}

/* The checks of the header comment, for v's blob; cap is GetCapability's. */
static bool check_blob(const struct vector *v, const uint8_t *b, uint32_t len, const struct tpm_da *cap)
{
    struct tpm_da got = { 0 };
    size_t off = 0;
    uint16_t orderly = 0;
    bool same_as_nv = len == nv_perm_len && nv_perm && memcmp(b, nv_perm, len) == 0;
    bool cap_ok = da_same(cap, &v->da, false);
    svtpm_err err = tpmstate_da_find(b, len, &off);
    if (err == SVTPM_OK)
        err = tpmstate_da_read(b, len, &got);
    /* in bounds: da_find checked the walk on to ORDERLY_DATA and the trailer */
    if (err == SVTPM_OK)
        orderly = get_be16(b + off + TPMSTATE_DA_LEN);
    bool read_ok = err == SVTPM_OK && da_same(&got, &v->da, true);
    bool ok = same_as_nv && cap_ok && read_ok && orderly == v->orderly;

    printf("tpmstate_%s.permall: %u bytes, DA fields at %zu, orderlyState %#x %s\n", v->name, len, off, orderly,
           ok ? "ok" : "MISMATCH");
    if (!ok) {
        fflush(stdout);   /* the details below come after that line */
        if (!same_as_nv)
            fprintf(stderr, "  TPMLIB_GetState differs from what the NVRAM callback stored\n");
        if (err != SVTPM_OK)
            fprintf(stderr, "  tpmstate_da_read: error %d\n", (int)err);
        if (orderly != v->orderly)
            fprintf(stderr, "  orderlyState %#x, expected %#x\n", orderly, v->orderly);
        da_print(stderr, "expected", &v->da, true);
        da_print(stderr, "GetCapability", cap, false);
        da_print(stderr, "tpmstate_da_read", &got, true);
    }
    return ok;
}

/* Takes the current permanent state as vector v, if it checks out. */
static bool capture(struct vector *v)
{
    struct tpm_da cap = { 0 };
    unsigned char *b = NULL;
    uint32_t len = 0;
    bool ok = get_da(&cap);
    if (ok && TPMLIB_GetState(TPMLIB_STATE_PERMANENT, &b, &len) != TPM_SUCCESS) {
        fprintf(stderr, "gen_tpmstate: TPMLIB_GetState failed for %s\n", v->name);
        ok = false;
    }
    ok = ok && check_blob(v, b, len, &cap);
    if (ok) {
        v->blob = b;
        v->len = len;
    } else {
        free(b);
    }
    return ok;
}

/* ---- the histories -------------------------------------------------------- */

/* fresh, params, failed2 and lockout_fail: one TPM, each a step further. */
static bool history_da(void)
{
    return tpm_new() && capture(&V[V_FRESH]) &&
           da_parameters("", 7, 3600, 172805) && capture(&V[V_PARAMS]) &&
           nv_define("") && nv_write_wrong("bad1") && nv_write_wrong("bad2") && capture(&V[V_FAILED2]) &&
           lock_reset_wrong("wrong") && capture(&V[V_LOCKOUT_FAIL]);
}

/* auths_state: another new TPM whose auth values and owner policy shift the
 * DA fields (by 16 + 18 + 32 bytes), left with an orderly Shutdown(STATE). */
static bool history_auths(void)
{
    return tpm_new() && da_parameters("", 10, 120, 0) &&
           change_auth(TPM_RH_LOCKOUT, "", LOCKOUT_PW) && change_auth(TPM_RH_OWNER, "", OWNER_PW) &&
           set_owner_policy(OWNER_PW) && nv_define(OWNER_PW) && nv_write_wrong("bad") && shutdown_state() &&
           capture(&V[V_AUTHS_STATE]);
}

/* ---- output --------------------------------------------------------------- */

static bool put(const char *outdir, const struct vector *v)
{
    char path[4096];
    FILE *f = NULL;
    int n = snprintf(path, sizeof path, "%s/tpmstate_%s.permall", outdir, v->name);
    bool ok = n > 0 && (size_t)n < sizeof path && (f = fopen(path, "wb")) != NULL;
    if (f) {
        ok = fwrite(v->blob, 1, v->len, f) == v->len;
        ok = fclose(f) == 0 && ok;
    }
    if (!ok)
        fprintf(stderr, "gen_tpmstate: cannot write %s: %s\n", path, strerror(errno));
    return ok;
}

/* Every vector made and checked, then all written (or none). */
static bool generate(const char *outdir)
{
    bool ok = TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2) == TPM_SUCCESS &&
              TPMLIB_RegisterCallbacks(&callbacks) == TPM_SUCCESS;
    if (!ok)
        fprintf(stderr, "gen_tpmstate: cannot set up libtpms\n");
    ok = ok && history_da() && history_auths();
    TPMLIB_Terminate();
    if (ok)
        mkdir(outdir, 0755);   /* an existing one is fine; put() reports the rest */
    for (size_t i = 0; ok && i < NVEC; i++)
        ok = put(outdir, &V[i]);
    for (size_t i = 0; i < NVEC; i++)
        free(V[i].blob);
    nv_clear();
    free(rsp);
    return ok;
}

int main(int argc, char **argv)
{
    int status = 2;
    if (argc != 2)
        fprintf(stderr, "usage: gen_tpmstate OUTDIR\n");
    else
        status = generate(argv[1]) ? 0 : 1;
    return status;
}
