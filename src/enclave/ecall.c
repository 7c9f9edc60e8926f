#include "ecall.h"
#include "eclock.h"
#include "bytes.h"
#include "crypto.h"
#include "import.h"

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_tis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef svtpm_err (*ecall_fn)(struct enclave *e, struct rd *req, struct wr *resp);

static svtpm_err e_ping(struct enclave *e, struct rd *req, struct wr *resp)
{
    size_t n = rd_left(req);
    wr_bytes(resp, rd_ptr(req, n), n);
    return SVTPM_OK;
}

static svtpm_err e_init(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint32_t flags = rd_be32(req);
    const uint8_t *id = rd_ptr(req, 16);
    uint32_t rsv = rd_be32(req);
    if (!rd_ok(req) || rd_left(req) || rsv || (flags & ~(INIT_F_HAVE_VTPM_ID | INIT_F_NO_AUTO_SHUTDOWN)))
        return SVTPM_E_INVAL;
    if (e->initialised)
        return SVTPM_E_STATE;
    wr_u8(resp, (uint8_t)e->plat.id.mode);
    wr_bytes(resp, e->plat.id.mrenclave, 32);
    wr_bytes(resp, e->plat.id.mrsigner, 32);
    wr_be16(resp, e->plat.id.isv_prod_id);
    wr_be16(resp, e->plat.id.isv_svn);
    if (!wr_ok(resp))
        return SVTPM_E_TOOBIG;
    if (flags & INIT_F_HAVE_VTPM_ID)
        store_name_id(&e->store, id);
    e->tpm.auto_shutdown = !(flags & INIT_F_NO_AUTO_SHUTDOWN);
    e->initialised = true;
    return SVTPM_OK;
}

/* Binds, measures the images, and opens the existing state once, so a
 * replaced state file or image is refused when the vTPM starts, not when the
 * guest first powers it on. */
static svtpm_err e_bind(struct enclave *e, struct rd *req, struct wr *resp)
{
    e->store.last_err = SVTPM_OK;
    uint32_t n_images = rd_be32(req), flags = rd_be32(req), n = rd_be32(req);
    const uint8_t *m = rd_ptr(req, n);
    size_t na = rd_left(req);
    const uint8_t *auth = rd_ptr(req, na);
    if (!rd_ok(req) || e->tpm.running || (flags & ~BIND_F_COUNTERS))
        return SVTPM_E_INVAL;
    svtpm_err err = binding_set(&e->binding, &e->store, &e->plat.id,
                                e->store.id_named ? e->store.vtpm_id : NULL, m, n, n_images,
                                flags & BIND_F_COUNTERS, &e->oc);
    if (!err && na)
        err = binding_restore_auth(&e->binding, &e->store, auth, na, &e->oc);
    if (!err)
        err = binding_check_images(&e->binding, &e->oc);
    e->binding.measured_at_bind = err == SVTPM_OK;
    for (uint32_t file = STATE_FILE_PERMALL; !err && file <= STATE_FILE_VOLATILE; file++) {
        uint8_t *plain = NULL;
        uint32_t len = 0;
        err = store_load(&e->store, file, &plain, &len);
        if (plain) {
            secure_wipe(plain, len);
            free(plain);
        }
        if (err == SVTPM_E_NOTFOUND)
            err = SVTPM_OK;
    }
    store_reset(&e->store);
    /* The verdict is data: which state file failed, for the host's message. */
    wr_be32(resp, (uint32_t)err);
    wr_be32(resp, err && e->store.last_err == err ? e->store.last_file : 0);
    return SVTPM_OK;
}

static svtpm_err e_power_on(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint32_t flags = rd_be32(req);
    if (!rd_ok(req) || rd_left(req))
        return SVTPM_E_INVAL;
    /* The image is measured at every power-on, since a VM reset may boot
     * another; the first power-on after the start uses the start's
     * measurement (the host streams the bytes either way, so measuring twice
     * in a row proves nothing more, and costs a hash of every image). */
    bool fresh = e->binding.measured_at_bind;
    e->binding.measured_at_bind = false;
    if (!fresh && binding_check_images(&e->binding, &e->oc) != SVTPM_OK) {
        wr_be32(resp, TPM_FAIL);
        wr_be32(resp, SVTPM_E_PERM);
        wr_be32(resp, 0);
        return SVTPM_OK;
    }
    uint32_t rc = tpm_power_on(&e->tpm, flags);
    wr_be32(resp, rc);
    wr_be32(resp, rc ? (uint32_t)e->store.last_err : 0);
    wr_be32(resp, rc ? e->store.last_file : 0);
    return SVTPM_OK;
}

static svtpm_err e_power_off(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (rd_left(req))
        return SVTPM_E_INVAL;
    tpm_power_off(&e->tpm);
    return SVTPM_OK;
}

static svtpm_err e_process(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint8_t loc = rd_u8(req);
    size_t n = rd_left(req);
    const uint8_t *cmd = rd_ptr(req, n);
    if (!rd_ok(req) || n < 10 || n > SVTPM_TPM_CMD_MAX)
        return SVTPM_E_INVAL;
    uint32_t rlen = 0;
    svtpm_err err = tpm_process(&e->tpm, loc, cmd, (uint32_t)n, resp->p, (uint32_t)resp->cap, &rlen);
    if (!err)
        resp->off = rlen;
    return err;
}

static svtpm_err e_set_buffersize(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint32_t wanted = rd_be32(req);
    if (!rd_ok(req) || rd_left(req))
        return SVTPM_E_INVAL;
    if (wanted && e->tpm.running)
        return SVTPM_E_STATE;
    uint32_t min = 0, max = 0;
    uint32_t size = TPMLIB_SetBufferSize(wanted, &min, &max);
    wr_be32(resp, size);
    wr_be32(resp, min);
    wr_be32(resp, max);
    return SVTPM_OK;
}

static svtpm_err e_get_info(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint64_t flags = rd_be64(req);
    if (!rd_ok(req) || rd_left(req))
        return SVTPM_E_INVAL;
    char *json = TPMLIB_GetInfo((enum TPMLIB_InfoFlags)(flags & 0x7));
    if (!json)
        return SVTPM_E_NOMEM;
    size_t n = strlen(json);
    svtpm_err err = n < resp->cap ? SVTPM_OK : SVTPM_E_TOOBIG;
    if (!err)
        wr_bytes(resp, json, n);
    free(json);
    return err;
}

static svtpm_err e_est_get(struct enclave *e, struct rd *req, struct wr *resp)
{
    TPM_BOOL bit = 0;
    if (rd_left(req))
        return SVTPM_E_INVAL;
    uint32_t rc = e->tpm.running ? TPM_IO_TpmEstablished_Get(&bit) : TPM_BAD_ORDINAL;
    wr_be32(resp, rc);
    wr_u8(resp, bit ? 1 : 0);
    return SVTPM_OK;
}

static svtpm_err e_est_reset(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint8_t loc = rd_u8(req);
    if (!rd_ok(req) || rd_left(req))
        return SVTPM_E_INVAL;
    uint32_t rc = TPM_BAD_ORDINAL;
    if (e->tpm.running) {
        uint8_t saved = e->tpm.locality;
        e->tpm.locality = loc;
        rc = TPM_IO_TpmEstablished_Reset();
        e->tpm.locality = saved;
    }
    wr_be32(resp, rc);
    return SVTPM_OK;
}

static svtpm_err e_hash_start(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (rd_left(req))
        return SVTPM_E_INVAL;
    wr_be32(resp, e->tpm.running ? TPM_IO_Hash_Start() : TPM_BAD_ORDINAL);
    return SVTPM_OK;
}

static svtpm_err e_hash_data(struct enclave *e, struct rd *req, struct wr *resp)
{
    size_t n = rd_left(req);
    const uint8_t *p = rd_ptr(req, n);
    if (!rd_ok(req) || n == 0)
        return SVTPM_E_INVAL;
    wr_be32(resp, e->tpm.running ? TPM_IO_Hash_Data(p, (uint32_t)n) : TPM_BAD_ORDINAL);
    return SVTPM_OK;
}

static svtpm_err e_hash_end(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (rd_left(req))
        return SVTPM_E_INVAL;
    wr_be32(resp, e->tpm.running ? TPM_IO_Hash_End() : TPM_BAD_ORDINAL);
    return SVTPM_OK;
}

static svtpm_err e_cancel(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (rd_left(req))
        return SVTPM_E_INVAL;
    TPMLIB_CancelCommand();
    return SVTPM_OK;
}

static svtpm_err e_store_volatile(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (rd_left(req))
        return SVTPM_E_INVAL;
    wr_be32(resp, tpm_store_volatile(&e->tpm));
    return SVTPM_OK;
}

static svtpm_err e_get_stateblob(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint32_t type = rd_be32(req);
    if (!rd_ok(req) || rd_left(req))
        return SVTPM_E_INVAL;
    uint32_t len = 0;
    if (resp->cap < 4)
        return SVTPM_E_TOOBIG;
    /* The blob is sealed straight into the response area after the result. */
    uint32_t rc = tpm_get_stateblob(&e->tpm, type, resp->p + 4, (uint32_t)resp->cap - 4, &len);
    wr_be32(resp, rc);
    resp->off += rc == 0 ? len : 0;
    return SVTPM_OK;
}

static svtpm_err e_set_stateblob(struct enclave *e, struct rd *req, struct wr *resp)
{
    uint32_t type = rd_be32(req);
    size_t n = rd_left(req);
    const uint8_t *blob = rd_ptr(req, n);
    if (!rd_ok(req))
        return SVTPM_E_INVAL;
    wr_be32(resp, tpm_set_stateblob(&e->tpm, type, blob, (uint32_t)n));
    return SVTPM_OK;
}

static svtpm_err e_import(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (e->tpm.running)
        return SVTPM_E_STATE;
    return import_swtpm(&e->store, e->oc.chan || e->oc.fake ? &e->oc : NULL, req, e->tpm.perm_emptied);
}

static svtpm_err e_state_info(struct enclave *e, struct rd *req, struct wr *resp)
{
    if (rd_left(req))
        return SVTPM_E_INVAL;
    wr_u8(resp, e->store.f[STATE_FILE_PERMALL].known && e->store.f[STATE_FILE_PERMALL].cur_slot >= 0);
    wr_be64(resp, e->store.f[STATE_FILE_PERMALL].seq);
    wr_bytes(resp, e->store.vtpm_id, 16);
    wr_be32(resp, e->store.open_ns);
    return SVTPM_OK;
}

static const struct { uint32_t id; ecall_fn fn; } table[] = {
    { ECALL_PING, e_ping },
    { ECALL_INIT, e_init },
    { ECALL_POWER_ON, e_power_on },
    { ECALL_POWER_OFF, e_power_off },
    { ECALL_PROCESS, e_process },
    { ECALL_SET_BUFFERSIZE, e_set_buffersize },
    { ECALL_GET_INFO, e_get_info },
    { ECALL_EST_GET, e_est_get },
    { ECALL_EST_RESET, e_est_reset },
    { ECALL_HASH_START, e_hash_start },
    { ECALL_HASH_DATA, e_hash_data },
    { ECALL_HASH_END, e_hash_end },
    { ECALL_CANCEL, e_cancel },
    { ECALL_STORE_VOLATILE, e_store_volatile },
    { ECALL_GET_STATEBLOB, e_get_stateblob },
    { ECALL_SET_STATEBLOB, e_set_stateblob },
    { ECALL_IMPORT_SWTPM, e_import },
    { ECALL_STATE_INFO, e_state_info },
    { ECALL_BIND, e_bind },
};

svtpm_err enclave_dispatch(struct enclave *e, uint32_t call, const uint8_t *req, uint32_t len,
                           uint8_t *resp, uint32_t cap, uint32_t *resp_len)
{
    const struct svtpm_call_desc *d = abi_ecall(call);
    *resp_len = 0;
    e->oc.composing = false;   /* a request abandoned by the last ECALL's error path */
    if (!d || len > d->req_max)
        return SVTPM_E_INVAL;
    /* Before INIT only PING and INIT itself are allowed. */
    if (!e->initialised && call != ECALL_INIT && call != ECALL_PING)
        return SVTPM_E_STATE;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].id != call)
            continue;
        struct rd r = rd_init(req, len);
        struct wr w = wr_init(resp, cap < d->resp_max ? cap : d->resp_max);
        svtpm_err err = table[i].fn(e, &r, &w);
        if (!err && !wr_ok(&w))
            err = SVTPM_E_TOOBIG;
        *resp_len = err ? 0 : (uint32_t)w.off;
        return err;
    }
    return SVTPM_E_INVAL;
}

svtpm_err enclave_setup(struct enclave *e)
{
    e->req_cap = SVTPM_CHAN_DATA_MAX;
    e->req = malloc(e->req_cap);
    e->oc.chan = &e->chan;
    e->oc.resp_cap = SVTPM_CHAN_DATA_MAX;
    e->oc.resp = malloc(e->oc.resp_cap);
    if (!e->req || !e->oc.resp)
        return SVTPM_E_NOMEM;
    madvise(e->req, e->req_cap, MADV_DONTDUMP);
    madvise(e->oc.resp, e->oc.resp_cap, MADV_DONTDUMP);
    svtpm_err err = store_init(&e->store, &e->plat, &e->oc);
    if (!err)
        err = tpm_init(&e->tpm, &e->store, &e->oc);
    return err;
}

void enclave_teardown(struct enclave *e)
{
    tpm_fini(&e->tpm);
    eclock_detach();
    store_fini(&e->store);
    free(e->req);
    free(e->oc.resp);
    tee_wipe(&e->plat);
}

svtpm_err enclave_serve_one(struct enclave *e)
{
    uint32_t turn;
    svtpm_err err = chan_wait(&e->chan, TURN_BIT(TURN_ECALL), -1, &turn);
    if (err)
        return err;
    struct chan_shm *s = e->chan.shm;
    /* Read each host-controlled field once, check it, then copy the payload in. */
    uint32_t call = *(volatile uint32_t *)&s->call;
    uint32_t len = *(volatile uint32_t *)&s->len;
    const struct svtpm_call_desc *d = abi_ecall(call);
    uint32_t rlen = 0;
    if (!d || len > d->req_max || len > e->req_cap) {
        err = SVTPM_E_INVAL;
    } else {
        memcpy(e->req, s->data, len);
        err = enclave_dispatch(e, call, e->req, len, s->data, SVTPM_CHAN_DATA_MAX, &rlen);
        secure_wipe(e->req, len);
    }
    chan_post(&e->chan, TURN_ECALL_RET, call, (uint32_t)err, rlen);
    return SVTPM_OK;
}
