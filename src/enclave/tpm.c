#include "tpm.h"
#include "bytes.h"
#include "crypto.h"
#include "eclock.h"
#include "seal.h"
#include "sealfmt.h"
#include "tpmclock.h"
#include "tpmcmd.h"
#include "tpmstate.h"

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_nvfilename.h>
#include <stdlib.h>
#include <string.h>

#define PTM_INIT_FLAG_DELETE_VOLATILE 1u
#define PTM_BLOB_TYPE_PERMANENT 1u
#define PTM_BLOB_TYPE_VOLATILE 2u
#define PTM_BLOB_TYPE_SAVESTATE 3u
#define TPM2_RC_INITIALIZE 0x100u

/* libtpms' callbacks take no context pointer and libtpms holds one TPM per
 * process, so this is the one place the enclave keeps a global. */
static struct tpm *the_tpm;

static uint32_t file_of(const char *name)
{
    if (strcmp(name, TPM_PERMANENT_ALL_NAME) == 0)
        return STATE_FILE_PERMALL;
    if (strcmp(name, TPM_VOLATILESTATE_NAME) == 0)
        return STATE_FILE_VOLATILE;
    return 0;
}

static TPM_RESULT cb_nvram_init(void) { return TPM_SUCCESS; }
static TPM_RESULT cb_io_init(void) { return TPM_SUCCESS; }

/* Charges a resume (MANIFEST_F_CHARGE_RESUME, or RESUME_BUDGET beyond the
 * budget) in the permanent state about
 * to be loaded; `commit`: write the charged state now, before anything runs,
 * so that killing the vTPM cannot drop the charge (a blob is committed by
 * TPMLIB_MainInit itself). */
static svtpm_err charge(struct tpm *t, uint8_t *perm, uint32_t len, bool commit)
{
    bool charged = false, due = false, budgeted = false;
    uint32_t recovery_s = 0;
    uint64_t clock = 0;
    svtpm_err err = SVTPM_OK;
    /* MANIFEST_F_RESUME_BUDGET: the first in a recoveryTime is free */
    if (t->store->rb.resume_budget) {
        err = tpmstate_resume_due(perm, len, &due, &recovery_s);
        if (!err && due)
            err = tpmstate_clock(perm, len, &clock);
        if (!err && due)
            err = rollback_resume_budget(t->store, clock, recovery_s, &budgeted);
    }
    if (!err && !budgeted)
        err = tpmstate_charge_resume(perm, len, &charged);
    if (err)
        elog(t->oc, LOG_ERR, "resume refused: the permanent state's dictionary-attack fields cannot "
             "be read to charge it (%s)", svtpm_strerror(err));
    if (!err && charged && commit)
        err = store_save(t->store, STATE_FILE_PERMALL, perm, len);
    if (!err && charged)
        elog(t->oc, LOG_WARN, "resume from volatile state after a dictionary-attack-protected use: "
             "charged one failed try, as TPM2_Startup would (the manifest asks for it%s)",
             t->store->rb.resume_budget ? ": this recoveryTime's free resume is spent" : "");
    return err;
}

/* The manifest charges resumes, always or beyond a budget. */
static bool resumes_policed(const struct tpm *t)
{
    const struct rollback *rb = &t->store->rb;
    return rb->active && (rb->charge_resume || rb->resume_budget);
}

static svtpm_err charge_resume(struct tpm *t, uint8_t *perm, uint32_t len)
{
    t->charge_pending = false;
    return charge(t, perm, len, true);
}

static TPM_RESULT cb_loaddata(unsigned char **data, uint32_t *len, uint32_t tpm_number, const char *name)
{
    struct tpm *t = the_tpm;
    uint32_t file = file_of(name);
    if (tpm_number != 0 || !file)
        return TPM_RETRY;      /* savestate and others: TPM 2 has none */
    if (file == STATE_FILE_PERMALL && t->caching && t->cache) {
        *data = malloc(t->cache_len ? t->cache_len : 1);
        if (!*data)
            return TPM_FAIL;
        memcpy(*data, t->cache, t->cache_len);
        *len = t->cache_len;
        return TPM_SUCCESS;
    }
    if (file == STATE_FILE_PERMALL && t->caching && t->load_failed)
        return TPM_FAIL;      /* already refused (and reported) in this power-on */
    svtpm_err err = store_load(t->store, file, data, len);
    if (err == SVTPM_E_NOTFOUND)
        return TPM_RETRY;
    if (!err && file == STATE_FILE_PERMALL)
        err = tpmclock_loading(t, *data, *len);
    if (!err && file == STATE_FILE_PERMALL && t->charge_pending)
        err = charge_resume(t, *data, *len);
    if (err) {
        if (*data) {
            secure_wipe(*data, *len);
            free(*data);
            *data = NULL;
        }
        if (file == STATE_FILE_PERMALL && t->caching)
            t->load_failed = true;
        return TPM_FAIL;
    }
    if (file == STATE_FILE_PERMALL && t->caching) {
        t->cache = malloc(*len ? *len : 1);
        if (t->cache) {
            memcpy(t->cache, *data, *len);
            t->cache_len = *len;
        }
    }
    return TPM_SUCCESS;
}

static void drop_cache(struct tpm *t)
{
    if (t->cache) {
        secure_wipe(t->cache, t->cache_len);
        free(t->cache);
    }
    t->cache = NULL;
    t->cache_len = 0;
    t->caching = false;
}

static void drop_mig_perm(struct tpm *t)
{
    if (t->mig_perm) {
        secure_wipe(t->mig_perm, t->mig_perm_len);
        free(t->mig_perm);
    }
    t->mig_perm = NULL;
    t->mig_perm_len = 0;
}

static TPM_RESULT cb_storedata(const unsigned char *data, uint32_t len, uint32_t tpm_number, const char *name)
{
    uint32_t file = file_of(name);
    if (tpm_number != 0 || !file)
        return TPM_FAIL;
    drop_cache(the_tpm);
    uint8_t *copy = NULL;
    svtpm_err err = file == STATE_FILE_PERMALL ? tpmclock_storing(the_tpm, data, len, &copy) : SVTPM_OK;
    /* A failure here puts libtpms into failure mode: the command is not
     * acknowledged as durable, which is the promise we keep. */
    if (!err)
        err = store_save(the_tpm->store, file, copy ? copy : data, len);
    if (copy) {
        secure_wipe(copy, len);
        free(copy);
    }
    return err == SVTPM_OK ? TPM_SUCCESS : TPM_FAIL;
}

static TPM_RESULT cb_deletename(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
    uint32_t file = file_of(name);
    if (tpm_number != 0 || !file)
        return must_exist ? TPM_FAIL : TPM_SUCCESS;
    return store_delete(the_tpm->store, file) == SVTPM_OK ? TPM_SUCCESS : TPM_FAIL;
}

static TPM_RESULT cb_getlocality(TPM_MODIFIER_INDICATOR *loc, uint32_t tpm_number)
{
    *loc = the_tpm->locality;
    return TPM_SUCCESS;
}

svtpm_err tpm_init(struct tpm *t, struct store *s, struct ocall_ctx *oc)
{
    memset(t, 0, sizeof *t);
    t->store = s;
    t->oc = oc;
    t->auto_shutdown = true;
    the_tpm = t;
    static struct libtpms_callbacks cbs = {
        .sizeOfStruct = sizeof(struct libtpms_callbacks),
        .tpm_nvram_init = cb_nvram_init,
        .tpm_nvram_loaddata = cb_loaddata,
        .tpm_nvram_storedata = cb_storedata,
        .tpm_nvram_deletename = cb_deletename,
        .tpm_io_init = cb_io_init,
        .tpm_io_getlocality = cb_getlocality,
    };
    if (TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2) != TPM_SUCCESS ||
        TPMLIB_RegisterCallbacks(&cbs) != TPM_SUCCESS)
        return SVTPM_E_TPM;
    return SVTPM_OK;
}

void tpm_fini(struct tpm *t)
{
    if (t->running)
        tpm_power_off(t);
    drop_cache(t);
    drop_mig_perm(t);
    if (t->rbuf) {
        secure_wipe(t->rbuf, t->rbuf_size);
        free(t->rbuf);
    }
    t->rbuf = NULL;
}

static uint32_t raw_process(struct tpm *t, const uint8_t *cmd, uint32_t len, uint32_t *rlen)
{
    *rlen = 0;
    TPM_RESULT rc = TPMLIB_Process(&t->rbuf, rlen, &t->rbuf_size, (unsigned char *)cmd, len);
    if (len >= 10)
        t->last_ordinal = get_be32(cmd + 6);
    t->handed_off = false;
    return rc;
}

/* swtpm 0.8+: an orderly TPM2_Shutdown before power goes away, so a VM killed
 * after a DA-protected authorisation does not cost a failed try. Skipped when
 * the guest already sent Shutdown (S3 resume relies on its Shutdown(STATE)). */
static void auto_shutdown(struct tpm *t)
{
    if (!t->running || !t->auto_shutdown || t->last_ordinal == TPM2_CC_SHUTDOWN || t->handed_off)
        return;
    for (uint8_t su = 1;; su = 0) {   /* SU_STATE, then SU_CLEAR */
        uint8_t cmd[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, su };
        uint32_t rlen;
        if (raw_process(t, cmd, sizeof cmd, &rlen) != TPM_SUCCESS || rlen < 10)
            return;
        uint32_t rc = get_be32(t->rbuf + 6);
        if (rc == 0 || rc == TPM2_RC_INITIALIZE || su == 0)
            return;
    }
}

/* libtpms resumes from the volatilestate file when there is one. */
static bool volatile_present(struct tpm *t)
{
    uint8_t *v = NULL;
    uint32_t n = 0;
    bool found = store_load(t->store, STATE_FILE_VOLATILE, &v, &n) == SVTPM_OK;
    if (v) {
        secure_wipe(v, n);
        free(v);
    }
    return found;
}

uint32_t tpm_power_on(struct tpm *t, uint32_t flags)
{
    if (t->running) {
        auto_shutdown(t);
        TPMLIB_Terminate();
        t->running = false;
    }
    store_reset(t->store);
    t->store->last_err = SVTPM_OK;
    t->caching = true;
    t->load_failed = false;
    t->perm_emptied = false;
    t->last_ordinal = 0;
    t->handed_off = false;
    t->charge_pending = !t->vol_blob_set && resumes_policed(t) &&
                        volatile_present(t);
    TPM_RESULT rc = TPMLIB_MainInit();
    drop_cache(t);
    drop_mig_perm(t);
    t->vol_blob_set = false;
    t->charge_pending = false;
    if (rc != TPM_SUCCESS) {
        TPMLIB_Terminate();
        return rc;
    }
    t->running = true;
    tpmclock_powered(t);
    if (flags & PTM_INIT_FLAG_DELETE_VOLATILE) {
        if (store_delete(t->store, STATE_FILE_VOLATILE) != SVTPM_OK)
            elog(t->oc, LOG_WARN, "could not delete the volatile state");
    }
    return TPM_SUCCESS;
}

void tpm_power_off(struct tpm *t)
{
    if (!t->running)
        return;
    auto_shutdown(t);
    TPMLIB_Terminate();
    t->running = false;
}

svtpm_err tpm_process(struct tpm *t, uint8_t locality, const uint8_t *cmd, uint32_t len,
                      uint8_t *out, uint32_t cap, uint32_t *out_len)
{
    static const uint8_t failure[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01 };
    if (cap < sizeof failure)
        return SVTPM_E_TOOBIG;
    if (!t->running || len < 10) {
        memcpy(out, failure, sizeof failure);
        *out_len = sizeof failure;
        return SVTPM_OK;
    }
    if (tpmcmd_needs_fresh_time(cmd, len) && eclock_refresh() != SVTPM_OK) {
        /* Run on the clock as it stands, an expired authorisation could pass. */
        static const uint8_t retry[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x22 };
        memcpy(out, retry, sizeof retry);
        *out_len = sizeof retry;
        return SVTPM_OK;
    }
    t->locality = locality;
    uint32_t rlen;
    if (raw_process(t, cmd, len, &rlen) != TPM_SUCCESS || rlen < 10 || rlen > cap) {
        memcpy(out, failure, sizeof failure);
        *out_len = sizeof failure;
        return SVTPM_OK;
    }
    /* before the response is copied out: the lease's OCALLs use the shared area */
    tpmclock_after(t, get_be32(cmd + 6));
    memcpy(out, t->rbuf, rlen);
    *out_len = rlen;
    return SVTPM_OK;
}

uint32_t tpm_store_volatile(struct tpm *t)
{
    unsigned char *buf = NULL;
    uint32_t len = 0;
    if (!t->running)
        return TPM_BAD_ORDINAL;
    tpmclock_saving(t);
    TPM_RESULT rc = TPMLIB_VolatileAll_Store(&buf, &len);
    if (rc == TPM_SUCCESS && store_save(t->store, STATE_FILE_VOLATILE, buf, len) != SVTPM_OK)
        rc = TPM_FAIL;
    if (buf) {
        secure_wipe(buf, len);
        free(buf);
    }
    return rc;
}

static uint32_t mig_kind(uint32_t type)
{
    return type == PTM_BLOB_TYPE_PERMANENT ? SEAL_KIND_MIG_PERMALL :
           type == PTM_BLOB_TYPE_VOLATILE ? SEAL_KIND_MIG_VOLATILE : 0;
}

uint32_t tpm_get_stateblob(struct tpm *t, uint32_t type, uint8_t *out, uint32_t cap, uint32_t *len)
{
    unsigned char *plain = NULL;
    uint32_t plen = 0;
    uint32_t rc = TPM_FAIL;
    *len = 0;
    if (type == PTM_BLOB_TYPE_SAVESTATE)
        return TPM_RETRY;      /* TPM 2 keeps no savestate: "does not exist" */
    if (!mig_kind(type))
        return TPM_FAIL;
    if (t->store->wedged) {
        /* The state in memory may be ahead of every recorded version. */
        elog(t->oc, LOG_ERR, "state blob refused: a state write failed; power the vTPM on again first");
        return TPM_FAIL;
    }
    enum TPMLIB_StateType st = type == PTM_BLOB_TYPE_PERMANENT ? TPMLIB_STATE_PERMANENT : TPMLIB_STATE_VOLATILE;
    if (st == TPMLIB_STATE_VOLATILE && t->running)
        tpmclock_saving(t);
    if (TPMLIB_GetState(st, &plain, &plen) != TPM_SUCCESS || !plain)
        return type == PTM_BLOB_TYPE_VOLATILE && !t->running ? TPM_RETRY : TPM_FAIL;
    if (type == PTM_BLOB_TYPE_VOLATILE)
        store_delete(t->store, STATE_FILE_VOLATILE);   /* as swtpm: fetched means consumed */
    struct seal_hdr h = { .kind = mig_kind(type), .seq = t->store->f[STATE_FILE_PERMALL].seq };
    store_stamp(t->store, &h);
    tpmclock_blob_tie(t, &h);
    if (crypto_random(h.key_id, 32) == SVTPM_OK &&
        seal_record(t->store->plat, &h, plain, plen, out, cap) == SVTPM_OK) {
        *len = (uint32_t)seal_rec_len(plen);
        rc = TPM_SUCCESS;
        if (type == PTM_BLOB_TYPE_PERMANENT && t->store->rb.active)
            t->handed_off = true;
    }
    secure_wipe(plain, plen);
    free(plain);
    return rc;
}

/* Hands an opened blob to libtpms. Under MANIFEST_F_CHARGE_RESUME the
 * permanent one is kept: a volatile one after it means a resume, charged in
 * the permanent state first (which TPMLIB_MainInit then commits). */
static TPM_RESULT set_state(struct tpm *t, uint32_t type, uint8_t *plain, uint32_t plen)
{
    bool charging = resumes_policed(t);
    TPM_RESULT rc = TPM_SUCCESS;
    if (type == PTM_BLOB_TYPE_PERMANENT) {
        drop_mig_perm(t);
        if (charging && (t->mig_perm = malloc(plen ? plen : 1)) != NULL) {
            memcpy(t->mig_perm, plain, plen);
            t->mig_perm_len = plen;
        } else if (charging) {
            rc = TPM_FAIL;
        }
        return rc == TPM_SUCCESS ? TPMLIB_SetState(TPMLIB_STATE_PERMANENT, plain, plen) : rc;
    }
    if (charging && t->mig_perm) {
        if (charge(t, t->mig_perm, t->mig_perm_len, false) != SVTPM_OK)
            rc = TPM_FAIL;
        if (rc == TPM_SUCCESS)
            rc = TPMLIB_SetState(TPMLIB_STATE_PERMANENT, t->mig_perm, t->mig_perm_len);
    }
    if (rc == TPM_SUCCESS)
        rc = TPMLIB_SetState(TPMLIB_STATE_VOLATILE, plain, plen);
    t->vol_blob_set = rc == TPM_SUCCESS;
    return rc;
}

uint32_t tpm_set_stateblob(struct tpm *t, uint32_t type, const uint8_t *blob, uint32_t len)
{
    struct seal_hdr h;
    uint32_t plen = 0;
    if (t->running)
        return TPM_BAD_ORDINAL;
    if (!mig_kind(type))
        return type == PTM_BLOB_TYPE_SAVESTATE && len == 0 ? TPM_SUCCESS : TPM_BAD_TYPE;
    enum TPMLIB_StateType st = type == PTM_BLOB_TYPE_PERMANENT ? TPMLIB_STATE_PERMANENT : TPMLIB_STATE_VOLATILE;
    if (type == PTM_BLOB_TYPE_VOLATILE && t->perm_emptied) {
        elog(t->oc, LOG_ERR, "incoming volatile state blob refused: the permanent state was emptied");
        return TPM_BAD_PARAMETER;
    }
    if (len == 0) {
        TPM_RESULT rc = TPMLIB_SetState(st, NULL, 0);
        if (rc == TPM_SUCCESS && type == PTM_BLOB_TYPE_PERMANENT)
            t->perm_emptied = true;
        return rc;
    }
    uint8_t *plain = NULL;
    TPM_RESULT rc = TPM_BAD_PARAMETER;
    svtpm_err err = seal_open(t->store->plat, blob, len, &h, t->store->plain, &plen);
    if (!err && (h.kind != mig_kind(type) || seal_rec_len(h.payload_len) != len))
        err = SVTPM_E_FORMAT;
    /* Out of the store's scratch: the rollback check reads the counter store through it. */
    if (!err && !(plain = malloc(plen ? plen : 1)))
        err = SVTPM_E_NOMEM;
    if (plain)
        memcpy(plain, t->store->plain, plen);
    secure_wipe(t->store->plain, SEAL_PAYLOAD_MAX);
    if (!err && t->store->have_id && !ct_equal(h.vtpm_id, t->store->vtpm_id, 16))
        err = SVTPM_E_FOREIGN;
    if (!err && (!ct_equal(h.tenant, t->store->tenant, 32) || h.bind_gen > t->store->bind_gen))
        err = SVTPM_E_FOREIGN;
    if (err == SVTPM_E_FOREIGN)
        eaudit(t->oc, "state-replacement", "incoming migration blob belongs to another vTPM, "
               "tenant or binding generation: refused");
    if (!err && type == PTM_BLOB_TYPE_PERMANENT)
        err = rollback_check_blob(t->store, &h);
    if (!err && type == PTM_BLOB_TYPE_PERMANENT)
        err = rollback_reapply(t->store, plain, plen);
    if (!err && type == PTM_BLOB_TYPE_PERMANENT)
        err = tpmclock_loading(t, plain, plen);
    if (!err && type == PTM_BLOB_TYPE_PERMANENT) {
        t->blob_tie_known = (h.flags & SEAL_F_CLOCK_TIE) != 0;
        t->blob_tie = h.clock_tie;
    }
    if (err) {
        elog(t->oc, LOG_ERR, "incoming %s state blob refused: %s",
             type == PTM_BLOB_TYPE_PERMANENT ? "permanent" : "volatile", svtpm_strerror(err));
        rc = err == SVTPM_E_AUTH ? TPM_DECRYPT_ERROR : TPM_BAD_PARAMETER;
        goto out;
    }
    if (!t->store->have_id) {
        memcpy(t->store->vtpm_id, h.vtpm_id, 16);
        t->store->have_id = true;
    }
    rc = set_state(t, type, plain, plen);
out:
    if (plain) {
        secure_wipe(plain, plen);
        free(plain);
    }
    return rc;
}
