#include "store.h"
#include "bytes.h"
#include "crypto.h"
#include "seal.h"
#include "sealfmt.h"
#include "uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static uint32_t kind_of(uint32_t file)
{
    return file == STATE_FILE_PERMALL ? SEAL_KIND_PERMALL :
           file == STATE_FILE_VOLATILE ? SEAL_KIND_VOLATILE : SEAL_KIND_NRS;
}

static bool valid_file(uint32_t file)
{
    return file >= STATE_FILE_PERMALL && file <= STATE_FILE_NRS;
}

const char *store_file_name(uint32_t file)
{
    return file == STATE_FILE_PERMALL ? "permall" : file == STATE_FILE_VOLATILE ? "volatilestate" :
           file == STATE_FILE_NRS ? "counter store (svtpm.nrs)" : "?";
}

/* The host-wide counter store belongs to no vTPM and no tenant. */
static const uint8_t zero32[32];

svtpm_err store_init(struct store *s, const struct tee_platform *p, struct ocall_ctx *oc)
{
    memset(s, 0, sizeof *s);
    s->plat = p;
    s->oc = oc;
    s->rb.counters = &counters_local;   /* the only backend yet (counters.h) */
    s->plain = malloc(SEAL_PAYLOAD_MAX);
    if (!s->plain)
        return SVTPM_E_NOMEM;
    madvise(s->plain, SEAL_PAYLOAD_MAX, MADV_DONTDUMP);
    store_reset(s);
    return SVTPM_OK;
}

void store_fini(struct store *s)
{
    if (s->plain) {
        secure_wipe(s->plain, SEAL_PAYLOAD_MAX);
        free(s->plain);
    }
    s->plain = NULL;
}

void store_name_id(struct store *s, const uint8_t id[16])
{
    memcpy(s->vtpm_id, id, 16);
    s->have_id = s->id_named = true;
}

void store_bind(struct store *s, const uint8_t id[16], const uint8_t tenant[32], uint32_t gen)
{
    store_name_id(s, id);
    memcpy(s->tenant, tenant, 32);
    s->bind_gen = gen;
}

void store_stamp(const struct store *s, struct seal_hdr *h)
{
    memcpy(h->vtpm_id, s->vtpm_id, 16);
    memcpy(h->tenant, s->tenant, 32);
    h->bind_gen = s->bind_gen;
    h->flags = s->rb.active ? SEAL_F_NRS : 0;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

void store_reset(struct store *s)
{
    s->wedged = false;
    for (size_t i = 0; i < 4; i++) {
        s->f[i].known = false;
        s->f[i].cur_slot = -1;
        s->f[i].seq = 0;
    }
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool is_retired(const uint8_t *rec, const struct seal_hdr *h)
{
    static const uint8_t zero_tag[SEAL_TAG_LEN];
    return memcmp(rec + SEAL_HDR_LEN + h->payload_len, zero_tag, SEAL_TAG_LEN) == 0;
}

/* Why an authentic record is not this vTPM's. */
enum foreign_why { FW_NONE, FW_KIND, FW_VTPM, FW_TENANT, FW_GEN };

struct slot_result {
    svtpm_err err;       /* SVTPM_E_NOTFOUND: empty slot */
    enum foreign_why fw; /* with SVTPM_E_FOREIGN */
    struct seal_hdr h;
    bool used_plain;     /* decryption was attempted into s->plain */
    bool retired;
    bool hdr_ok;         /* h was parsed (its fields mean something) */
};

static const char *slot_why(const struct slot_result *r)
{
    if (r->retired)
        return "retired by a newer record";
    switch (r->err) {
    case SVTPM_E_NOTFOUND: return "empty";
    case SVTPM_E_PERM:
        return "sealed for another enclave signer or product, or a newer SVN, or its header is damaged";
    case SVTPM_E_AUTH: return "fails authentication: tampered, or sealed under another platform key";
    default: return svtpm_strerror(r->err);
    }
}

/* Opens one slot; on success the plaintext is in s->plain. */
static void open_slot(struct store *s, uint32_t file, const uint8_t *rec, uint32_t n,
                      struct slot_result *r, uint32_t *plen)
{
    r->used_plain = false;
    r->retired = false;
    r->hdr_ok = false;
    r->fw = FW_NONE;
    if (n == 0) {
        r->err = SVTPM_E_NOTFOUND;
        return;
    }
    /* A retired record (tag zeroed after its successor became durable) is
     * not worth decrypting: the common case opens one record, not two. */
    r->err = seal_hdr_parse(rec, n, &r->h);
    r->hdr_ok = r->err == SVTPM_OK;
    if (r->err == SVTPM_OK && is_retired(rec, &r->h)) {
        r->retired = true;
        r->err = SVTPM_E_AUTH;
        return;
    }
    r->used_plain = true;
    r->err = seal_open(s->plat, rec, n, &r->h, s->plain, plen);
    if (r->err != SVTPM_OK)
        return;
    /* The header is authentic now, so it says whose state this is. */
    bool nrs = file == STATE_FILE_NRS;
    if (r->h.kind != kind_of(file))
        r->fw = FW_KIND;
    else if (!ct_equal(r->h.tenant, nrs ? zero32 : s->tenant, 32))
        r->fw = FW_TENANT;
    else if ((nrs || s->have_id) && !ct_equal(r->h.vtpm_id, nrs ? zero32 : s->vtpm_id, 16))
        r->fw = FW_VTPM;
    else if (r->h.bind_gen > (nrs ? 0 : s->bind_gen))
        r->fw = FW_GEN;   /* written under a newer manifest: this one is superseded */
    if (r->fw != FW_NONE)
        r->err = SVTPM_E_FOREIGN;
}

/* One audit record per refused replacement, naming the attack. */
static void audit_foreign(struct store *s, uint32_t file, int slot, const struct slot_result *r)
{
    char a[65], b[65], ua[UUID_STR_LEN], ub[UUID_STR_LEN];
    const char *f = store_file_name(file);
    switch (r->fw) {
    case FW_TENANT:
        hex(a, r->h.tenant, 32);
        hex(b, s->tenant, 32);
        eaudit(s->oc, "state-replacement", "sealed %s slot %c is bound to tenant %s, this vTPM's "
               "manifest to tenant %s: another tenant's (or an unbound) state, or a manifest signed "
               "by another key: refused", f, 'A' + slot,
               r->h.bind_gen ? a : "(none: unbound)", s->bind_gen ? b : "(none: unbound)");
        break;
    case FW_VTPM:
        uuid_format(r->h.vtpm_id, ua);
        uuid_format(s->vtpm_id, ub);
        eaudit(s->oc, "state-replacement", "sealed %s slot %c belongs to vTPM %s, this is vTPM %s: "
               "another vTPM's state refused", f, 'A' + slot, ua, ub);
        break;
    case FW_GEN:
        eaudit(s->oc, "binding-replay", "sealed %s slot %c was written under binding generation %u; "
               "the manifest given is generation %u, superseded: refused", f, 'A' + slot,
               r->h.bind_gen, s->bind_gen);
        break;
    default:
        eaudit(s->oc, "state-replacement", "sealed %s slot %c holds a record of another kind (%u)",
               f, 'A' + slot, r->h.kind);
        break;
    }
}

svtpm_err store_load(struct store *s, uint32_t file, uint8_t **out, uint32_t *out_len)
{
    svtpm_err err = SVTPM_E_INVAL;
    const uint8_t *resp;
    uint32_t rlen;
    struct slot_result r[2] = { { .err = SVTPM_E_NOTFOUND }, { .err = SVTPM_E_NOTFOUND } };
    uint32_t plen[2] = { 0, 0 };
    const uint8_t *rec[2];
    uint32_t n[2];
    int pick = -1;

    if (!valid_file(file))
        goto out;
    put_be32(ocall_req(s->oc), file);
    err = ocall_invoke(s->oc, OCALL_STATE_READ, 4, &resp, &rlen);
    if (err == SVTPM_E_NOTFOUND) {
        s->f[file].cur_slot = -1;
        s->f[file].seq = 0;
        svtpm_err rerr = file != STATE_FILE_NRS ? rollback_check(s, file, NULL, NULL, 0) : SVTPM_OK;
        s->f[file].known = rerr == SVTPM_OK;   /* known to be absent */
        err = rerr ? rerr : SVTPM_E_NOTFOUND;
        goto out;
    }
    if (err)
        goto out;

    uint64_t t0 = mono_ns();
    struct rd rd = rd_init(resp, rlen);
    uint64_t file_size = rd_be64(&rd);
    n[0] = rd_be32(&rd);
    rec[0] = rd_ptr(&rd, n[0] <= SEAL_SLOT_SIZE ? n[0] : SIZE_MAX);
    n[1] = rd_be32(&rd);
    rec[1] = rd_ptr(&rd, n[1] <= SEAL_SLOT_SIZE ? n[1] : SIZE_MAX);
    if (!rd_ok(&rd) || rd_left(&rd) != 0) {
        err = SVTPM_E_PROTO;
        goto out;
    }
    if (file_size != SEAL_FILE_SIZE) {
        /* The file never changes size once created: short means cut. */
        elog(s->oc, LOG_ERR, "sealed %s: size %llu, expected %u: truncated or not an svtpm state file",
             store_file_name(file), (unsigned long long)file_size, SEAL_FILE_SIZE);
        err = file_size < SEAL_FILE_SIZE ? SVTPM_E_TRUNCATED : SVTPM_E_FORMAT;
        goto out;
    }

    /* Both slots decrypt into s->plain in turn; the chosen one is re-opened
     * below if the other overwrote it. */
    for (int i = 0; i < 2; i++)
        open_slot(s, file, rec[i], n[i], &r[i], &plen[i]);
    for (int i = 0; i < 2; i++) {
        if (r[i].err == SVTPM_E_FOREIGN) {
            audit_foreign(s, file, i, &r[i]);
            err = SVTPM_E_FOREIGN;
            goto out;
        }
        if (r[i].err == SVTPM_OK && (pick < 0 || r[i].h.seq > r[pick].h.seq))
            pick = i;
    }
    if (pick < 0) {
        /* The reason is the live record's, whichever slot it is in: a retired
         * one (tag zeroed) only says a newer record exists. */
        int live = !r[0].retired && r[0].err != SVTPM_E_NOTFOUND ? 0 : 1;
        err = r[live].err;
        if (err == SVTPM_E_NOTFOUND)
            err = r[live ^ 1].retired ? SVTPM_E_AUTH : SVTPM_E_FORMAT;   /* a created file always holds a record */
        elog(s->oc, LOG_ERR, "sealed %s: no authentic record (slot A: %s; slot B: %s)",
             store_file_name(file), slot_why(&r[0]), slot_why(&r[1]));
        goto out;
    }
    if (r[pick ^ 1].err == SVTPM_OK && memcmp(r[0].h.vtpm_id, r[1].h.vtpm_id, 16) != 0) {
        elog(s->oc, LOG_ERR, "sealed %s: slots belong to different vTPMs", store_file_name(file));
        err = SVTPM_E_FOREIGN;
        goto out;
    }
    /* The other slot normally holds a retired record (older version, tag
     * zeroed). One that claims to be newer is a write that never completed:
     * it was never acknowledged, so the current record is the right state. */
    if (r[pick ^ 1].err != SVTPM_OK && r[pick ^ 1].err != SVTPM_E_NOTFOUND && r[pick ^ 1].hdr_ok &&
        r[pick ^ 1].h.seq > r[pick].h.seq)
        elog(s->oc, LOG_WARN, "sealed %s: slot %c holds an incomplete write (%s); using slot %c "
             "(state version %llu)", store_file_name(file), 'A' + (pick ^ 1),
             svtpm_strerror(r[pick ^ 1].err), 'A' + pick, (unsigned long long)r[pick].h.seq);
    /* Decrypting slot B (even failing) overwrote the scratch buffer. */
    if (pick == 0 && r[1].used_plain)
        open_slot(s, file, rec[0], n[0], &r[0], &plen[0]);
    s->open_ns = (uint32_t)(mono_ns() - t0);

    uint8_t *copy = malloc(plen[pick] ? plen[pick] : 1);
    if (!copy) {
        err = SVTPM_E_NOMEM;
        goto out;
    }
    memcpy(copy, s->plain, plen[pick]);
    secure_wipe(s->plain, plen[pick]);
    /* (after the copy: the check reads the counter store through s->plain) */
    err = SVTPM_OK;
    if (file != STATE_FILE_NRS)
        err = rollback_check(s, file, &r[pick].h, copy, plen[pick]);
    if (!err && file == STATE_FILE_PERMALL)
        err = rollback_reapply(s, copy, plen[pick]);
    if (err) {
        secure_wipe(copy, plen[pick]);
        free(copy);
        goto out;
    }
    if (!s->have_id && file != STATE_FILE_NRS) {
        memcpy(s->vtpm_id, r[pick].h.vtpm_id, 16);
        s->have_id = true;
    }
    struct store_file *f = &s->f[file];
    f->known = true;
    f->cur_slot = pick;
    f->seq = r[pick].h.seq;
    f->cur_len = r[pick].h.payload_len;
    memcpy(f->key_id, r[pick].h.key_id, 32);
    *out = copy;
    *out_len = plen[pick];
    err = SVTPM_OK;
out:
    if (err && err != SVTPM_E_NOTFOUND) {
        s->last_err = err;
        s->last_file = file;
    }
    return err;
}

/* Under rollback protection a failed write leaves a record whose version
 * may or may not be durable, and is not recorded: handing out a version
 * again (to this file or the other) could make two records of it, or one
 * that is neither recorded nor next. Fail-stop until the files are re-read. */
static svtpm_err wedge(struct store *s, uint32_t file, svtpm_err err)
{
    if (err && s->rb.active && !s->wedged) {
        s->wedged = true;
        elog(s->oc, LOG_ERR, "sealed %s: a write failed under rollback protection; no state is "
             "written until the vTPM is powered on again (CMD_INIT)", store_file_name(file));
    }
    return err;
}

static svtpm_err refuse_wedged(struct store *s, uint32_t file)
{
    elog(s->oc, LOG_ERR, "sealed %s: not written: an earlier write failed (see above); the state "
         "files are re-read at the next power-on", store_file_name(file));
    return SVTPM_E_STATE;
}

/* Reads a file not read since the last reset (its content is not needed). */
static svtpm_err learn(struct store *s, uint32_t file)
{
    uint8_t *old = NULL;
    uint32_t olen = 0;
    if (s->f[file].known)
        return SVTPM_OK;
    svtpm_err err = store_load(s, file, &old, &olen);
    if (old) {
        secure_wipe(old, olen);
        free(old);
    }
    return err == SVTPM_E_NOTFOUND ? SVTPM_OK : err;
}

svtpm_err store_save(struct store *s, uint32_t file, const uint8_t *data, uint32_t len)
{
    svtpm_err err = SVTPM_E_INVAL;
    if (!valid_file(file))
        goto out;
    if (s->wedged && file != STATE_FILE_NRS) {
        err = refuse_wedged(s, file);
        goto out;
    }
    struct store_file *f = &s->f[file];
    bool nrs = file == STATE_FILE_NRS;
    /* Learn the file's current slot and version before overwriting; under
     * rollback protection the other file's too, so that a record of it
     * written but not recorded is resolved before a version is handed out
     * (else both could get the same one). */
    err = learn(s, file);
    if (!err && !nrs && s->rb.active)
        err = learn(s, file == STATE_FILE_PERMALL ? STATE_FILE_VOLATILE : STATE_FILE_PERMALL);
    if (!err && f->cur_slot < 0)
        err = crypto_random(f->key_id, 32);   /* a new file: its own KDF salt */
    if (err)
        goto out;
    if (!s->have_id) {
        err = crypto_random(s->vtpm_id, 16);
        if (err)
            goto out;
        s->have_id = true;
    }
    struct seal_hdr h = { .kind = kind_of(file), .seq = nrs ? f->seq + 1 : rollback_next_seq(s, f->seq) };
    if (!nrs)
        store_stamp(s, &h);
    memcpy(h.key_id, f->key_id, 32);
    uint32_t slot = f->cur_slot == 0 ? 1 : 0;
    uint8_t *req = ocall_req(s->oc);
    put_be32(req, file);
    put_be32(req + 4, slot);
    /* Once the new record is durable the one it supersedes is retired (its
     * tag zeroed), so damage to the current record cannot fall back to an
     * older state: only a whole-file restore can, which is rollback. */
    put_be32(req + 8, f->cur_slot >= 0 ? SEAL_HDR_LEN + f->cur_len : 0);
    err = seal_record(s->plat, &h, data, len, req + 12, SVTPM_SEALED_REC_MAX);
    if (err)
        goto out;
    err = ocall_invoke(s->oc, OCALL_STATE_WRITE, 12 + (uint32_t)seal_rec_len(len), NULL, NULL);
    if (err) {
        elog(s->oc, LOG_ERR, "sealed %s: host failed to store state version %llu: %s",
             store_file_name(file), (unsigned long long)h.seq, svtpm_strerror(err));
        goto out;
    }
    f->known = true;
    f->cur_slot = (int)slot;
    f->seq = h.seq;
    f->cur_len = len;
    if (!nrs)
        err = rollback_written(s, file, &(struct rb_rec){ .seq = h.seq, .iv = h.iv, .plain = data, .len = len });
out:
    return file == STATE_FILE_NRS ? err : wedge(s, file, err);
}

svtpm_err store_delete(struct store *s, uint32_t file)
{
    if (!valid_file(file))
        return SVTPM_E_INVAL;
    if (s->wedged && file != STATE_FILE_NRS)
        return refuse_wedged(s, file);
    put_be32(ocall_req(s->oc), file);
    svtpm_err err = ocall_invoke(s->oc, OCALL_STATE_DELETE, 4, NULL, NULL);
    if (err == SVTPM_E_NOTFOUND)
        err = SVTPM_OK;
    if (!err) {
        s->f[file].known = false;
        s->f[file].cur_slot = -1;
        s->f[file].seq = 0;
        if (file != STATE_FILE_NRS)
            err = rollback_written(s, file, NULL);
    }
    return file == STATE_FILE_NRS ? err : wedge(s, file, err);
}
