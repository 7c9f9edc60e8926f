#include "rollback.h"
#include "bytes.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

static uint64_t *file_seq(struct nrs_entry *e, uint32_t file)
{
    return file == STATE_FILE_PERMALL ? &e->permall_seq : &e->volatile_seq;
}

/* Reads the store (the host holds its lock from here until our write, or
 * the end of the ECALL) and this vTPM's entry. *p: the payload, or NULL. */
static svtpm_err fetch(struct store *s, uint8_t **p, uint32_t *len)
{
    struct rollback *rb = &s->rb;
    *p = NULL;
    *len = 0;
    svtpm_err err = store_load(s, STATE_FILE_NRS, p, len);
    if (err == SVTPM_E_NOTFOUND) {
        rb->have_entry = false;
        return SVTPM_OK;
    }
    if (!err) {
        err = nrs_find(*p, *len, s->vtpm_id, &rb->e);
        rb->have_entry = err == SVTPM_OK;
        if (err == SVTPM_E_NOTFOUND)
            err = SVTPM_OK;
        else if (!err && !ct_equal(rb->e.tenant, s->tenant, 32))
            err = SVTPM_E_FOREIGN;   /* re-bound to another tenant: not by a manifest */
    }
    if (err) {
        elog(s->oc, LOG_ERR, "the counter store (svtpm.nrs) cannot be used: %s", svtpm_strerror(err));
        free(*p);
        *p = NULL;
    }
    return err;
}

static svtpm_err put(struct store *s, const struct nrs_entry *e, const uint8_t *old, uint32_t old_len)
{
    size_t cap = (size_t)old_len + NRS_ENTRY_LEN + 8, n = 0;
    uint8_t *buf = malloc(cap);
    svtpm_err err = buf ? nrs_put(old, old_len, e, buf, cap, &n) : SVTPM_E_NOMEM;
    if (!err)
        err = store_save(s, STATE_FILE_NRS, buf, (uint32_t)n);
    if (!err) {
        s->rb.e = *e;
        s->rb.have_entry = true;
    } else {
        elog(s->oc, LOG_ERR, "the counter store could not record state version %llu: %s",
             (unsigned long long)e->version, svtpm_strerror(err));
    }
    free(buf);
    return err;
}

svtpm_err rollback_written(struct store *s, uint32_t file, uint64_t seq)
{
    uint8_t *p = NULL;
    uint32_t len = 0;
    if (!s->rb.active)
        return SVTPM_OK;
    svtpm_err err = fetch(s, &p, &len);
    if (!err) {
        struct nrs_entry e = s->rb.e;
        if (!s->rb.have_entry) {
            memset(&e, 0, sizeof e);
            memcpy(e.vtpm_id, s->vtpm_id, 16);
            memcpy(e.tenant, s->tenant, 32);
        }
        if (seq > e.version)
            e.version = seq;
        *file_seq(&e, file) = seq;
        e.bind_gen = s->bind_gen;
        err = put(s, &e, p, len);
    }
    free(p);
    return err;
}

uint64_t rollback_next_seq(const struct store *s, uint64_t fseq)
{
    uint64_t v = s->rb.active && s->rb.have_entry && s->rb.e.version > fseq ? s->rb.e.version : fseq;
    return v + 1;
}

static bool authorised(const struct rollback *rb, uint32_t file, uint64_t seq)
{
    return rb->policy == ROLLBACK_SNAPSHOT && rb->have_auth && file == STATE_FILE_PERMALL &&
           rb->auth.from_version == rb->e.version && rb->auth.to_version == seq;
}

svtpm_err rollback_check(struct store *s, uint32_t file, const struct seal_hdr *h)
{
    struct rollback *rb = &s->rb;
    const char *f = store_file_name(file);
    uint8_t *p = NULL;
    uint32_t len = 0;
    if (!rb->active)
        return SVTPM_OK;
    svtpm_err err = fetch(s, &p, &len);
    free(p);
    if (err)
        return err;
    if (!rb->have_entry) {
        if (h && (h->flags & SEAL_F_NRS)) {
            eaudit(s->oc, "counter-store-replaced", "sealed %s holds state version %llu written under "
                   "rollback protection, but the counter store has no entry for this vTPM: the store "
                   "was replaced or lost: refused", f, (unsigned long long)h->seq);
            return SVTPM_E_ROLLBACK;
        }
        /* First start under rollback protection: enrol what is there. */
        return h ? rollback_written(s, file, h->seq) : SVTPM_OK;
    }
    uint64_t cur = *file_seq(&rb->e, file), ver = rb->e.version;
    if (!h) {
        if (cur == 0)
            return SVTPM_OK;
        if (file == STATE_FILE_PERMALL) {
            eaudit(s->oc, "state-deleted", "sealed %s is missing, but this vTPM is at state version "
                   "%llu: starting anew would reset its dictionary-attack state: refused", f,
                   (unsigned long long)ver);
            return SVTPM_E_ROLLBACK;
        }
        elog(s->oc, LOG_WARN, "sealed %s (state version %llu) is gone: starting without it", f,
             (unsigned long long)cur);
        return rollback_written(s, file, 0);
    }
    if (h->seq == cur)
        return SVTPM_OK;
    if (h->seq == ver + 1) {
        /* Written, never recorded: a crash before the response left. */
        elog(s->oc, LOG_WARN, "sealed %s: state version %llu was written but not recorded (the vTPM "
             "stopped before answering); recording it", f, (unsigned long long)h->seq);
        return rollback_written(s, file, h->seq);
    }
    if (h->seq < cur || (cur == 0 && h->seq <= ver)) {
        if (authorised(rb, file, h->seq)) {
            if (!rb->restored)
                eaudit(s->oc, "restore-authorised", "sealed %s: opening state version %llu in place of "
                   "%llu under the tenant's restore authorisation (policy snapshot)", f,
                   (unsigned long long)h->seq, (unsigned long long)ver);
            rb->restored = true;
            return SVTPM_OK;
        }
        eaudit(s->oc, "rollback", "sealed %s holds state version %llu, older than the recorded version "
               "%llu (policy %s%s): refused", f, (unsigned long long)h->seq, (unsigned long long)ver,
               rollback_policy_name(rb->policy),
               rb->policy == ROLLBACK_SNAPSHOT ? "; a restore needs the tenant's authorisation "
               "(svtpm-tenant authorize-restore --from <recorded> --to <snapshot's>)" : "");
        return SVTPM_E_ROLLBACK;
    }
    eaudit(s->oc, "counter-store-rollback", "sealed %s holds state version %llu, but the counter "
           "store records %llu: the store went back or is another host's: refused", f,
           (unsigned long long)h->seq, (unsigned long long)ver);
    return SVTPM_E_ROLLBACK;
}
