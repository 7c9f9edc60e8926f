#include "rollback.h"
#include "bytes.h"
#include "store.h"
#include "tpmstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t *file_seq(struct nrs_entry *e, uint32_t file)
{
    return file == STATE_FILE_PERMALL ? &e->permall_seq : &e->volatile_seq;
}

static uint8_t *file_iv(struct nrs_entry *e, uint32_t file)
{
    return file == STATE_FILE_PERMALL ? e->permall_iv : e->volatile_iv;
}

/* The fields another writer would have changed (DA and clock fields are
 * this process's too, but compared with the versions they are redundant). */
static bool same_versions(const struct nrs_entry *a, const struct nrs_entry *b)
{
    return a->version == b->version && a->permall_seq == b->permall_seq &&
           a->volatile_seq == b->volatile_seq &&
           memcmp(a->permall_iv, b->permall_iv, SEAL_IV_LEN) == 0 &&
           memcmp(a->volatile_iv, b->volatile_iv, SEAL_IV_LEN) == 0;
}

/* Begins a counter-service transaction and reads this vTPM's entry into *e
 * (*have: it exists). The caller ends it (counter_end). */
static svtpm_err fetch(struct store *s, struct counter_txn *t, struct nrs_entry *e, bool *have)
{
    const struct counter_ops *cs = s->rb.counters;
    svtpm_err err = cs->begin(t, s, s->vtpm_id, e, have);
    if (!err && *have && !ct_equal(e->tenant, s->tenant, 32))
        err = SVTPM_E_FOREIGN;   /* re-bound to another tenant: not by a manifest */
    if (err)
        elog(s->oc, LOG_ERR, "the counter service (%s) cannot be used: %s", cs->name, svtpm_strerror(err));
    return err;
}

static svtpm_err put(struct store *s, struct counter_txn *t, const struct nrs_entry *e)
{
    svtpm_err err = s->rb.counters->commit(t, e);
    if (!err) {
        s->rb.e = *e;
        s->rb.have_entry = true;
    } else {
        /* The write may have landed anyway: what the service holds is unknown. */
        s->rb.have_entry = false;
        elog(s->oc, LOG_ERR, "the counter service (%s) could not record state version %llu: %s",
             s->rb.counters->name, (unsigned long long)e->version, svtpm_strerror(err));
    }
    return err;
}

/* Once this process has seen its entry, only this process changes it: a
 * difference is another writer. */
static svtpm_err check_unchanged(struct store *s, const struct nrs_entry *e, bool have)
{
    struct rollback *rb = &s->rb;
    if (!rb->have_entry || (have && same_versions(e, &rb->e)))
        return SVTPM_OK;
    eaudit(s->oc, "counter-store-changed", "this vTPM's counter-store entry changed under it (this "
           "process last saw state version %llu, the store now holds %s): another instance of this "
           "vTPM is writing (a fork), or the store was replaced: refused",
           (unsigned long long)rb->e.version, have ? "another" : "no entry");
    return SVTPM_E_ROLLBACK;
}

/* fetch, for a change of this process's own entry: refused if anyone else
 * changed it since this process last saw it. */
static svtpm_err fetch_own(struct store *s, struct counter_txn *t, struct nrs_entry *e, bool *have)
{
    memset(e, 0, sizeof *e);
    svtpm_err err = fetch(s, t, e, have);
    if (!err)
        err = check_unchanged(s, e, *have);
    return err;
}

/* The DA state of a permall record into e (unknown if it cannot be read). */
static void record_da(struct store *s, struct nrs_entry *e, const struct rb_rec *r)
{
    struct tpm_da da;
    uint32_t lease = e->da_flags & NRS_CLOCK_LEASE, tie = e->da_flags & NRS_CLOCK_OFFSET;
    svtpm_err err = tpmstate_da_read(r->plain, r->len, &da);
    if (err) {
        if (e->da_flags & NRS_DA_KNOWN)
            elog(s->oc, LOG_WARN, "permall version %llu: its dictionary-attack state cannot be read "
                 "(%s): not recorded; an authorised restore will be refused",
                 (unsigned long long)r->seq, svtpm_strerror(err));
        e->da_flags = (lease ? lease | NRS_CLOCK_KNOWN : 0) | tie;
        return;
    }
    e->failed_tries = da.failed_tries;
    e->da_flags = NRS_DA_KNOWN | (da.lockout_auth_enabled ? 0 : NRS_DA_LOCKOUT_AUTH_OFF) | lease | tie;
    if (lease)
        e->da_flags |= NRS_CLOCK_KNOWN;
    /* The TPM clock of the state: a restore never takes it back (TPM2_Clear,
     * which resets it legitimately, is in the record like everything else,
     * and lowers the lease through rollback_clock_lease). */
    uint64_t clock = 0;
    if (tpmstate_clock(r->plain, r->len, &clock) == SVTPM_OK) {
        if (!lease || clock > e->clock_hwm)
            e->clock_hwm = clock;
        e->da_flags |= NRS_CLOCK_KNOWN;
    }
}

/* A change of this process's own entry, outside a state write: apply(e,
 * arg) on the entry as the service holds it, written durably. A failed write
 * wedges the store, as a failed state write does: what the service holds is
 * then unknown. */
static svtpm_err update_own(struct store *s, void (*apply)(struct nrs_entry *, const void *),
                            const void *arg, const char *what)
{
    if (s->wedged || !s->rb.have_entry)
        return SVTPM_E_STATE;
    struct counter_txn t;
    struct nrs_entry e;
    bool have = false;
    svtpm_err err = fetch_own(s, &t, &e, &have);
    if (!err && !have)
        err = SVTPM_E_STATE;
    if (!err) {
        apply(&e, arg);
        err = put(s, &t, &e);
    }
    s->rb.counters->end(&t);
    if (err && !s->wedged) {
        s->wedged = true;
        elog(s->oc, LOG_ERR, "%s could not be recorded (%s): no state is written until the vTPM is "
             "powered on again (CMD_INIT)", what, svtpm_strerror(err));
    }
    return err;
}

struct lease_arg {
    uint64_t lease_ms;
    const int64_t *offset_ms;
};

static void apply_lease(struct nrs_entry *e, const void *arg)
{
    const struct lease_arg *a = arg;
    e->clock_hwm = a->lease_ms;
    e->da_flags |= NRS_CLOCK_KNOWN | NRS_CLOCK_LEASE;
    if (a->offset_ms) {
        e->clock_offset = *a->offset_ms;
        e->da_flags |= NRS_CLOCK_OFFSET;
    }
}

svtpm_err rollback_clock_lease(struct store *s, uint64_t lease_ms, const int64_t *offset_ms)
{
    if (!s->rb.active)
        return SVTPM_OK;
    struct lease_arg a = { lease_ms, offset_ms };
    return update_own(s, apply_lease, &a, "the TPM clock lease");
}

static void apply_resume(struct nrs_entry *e, const void *arg)
{
    e->resume_s = *(const uint32_t *)arg;
}

svtpm_err rollback_resume_budget(struct store *s, uint64_t clock_ms, uint32_t recovery_s, bool *spent)
{
    *spent = false;
    if (!s->rb.active || !s->rb.resume_budget)
        return SVTPM_OK;
    /* whole seconds, rounded against the tenant: now down, the record up */
    uint64_t now_s = clock_ms / 1000u, up_s = now_s + (clock_ms % 1000u != 0);
    uint32_t last = s->rb.e.resume_s, at_s = up_s > UINT32_MAX ? UINT32_MAX : up_s ? (uint32_t)up_s : 1;
    if (s->rb.have_entry && last && (now_s < last || now_s - last < recovery_s))
        return SVTPM_OK;
    svtpm_err err = update_own(s, apply_resume, &at_s, "a free resume");
    *spent = err == SVTPM_OK;
    if (*spent)
        elog(s->oc, LOG_WARN, "resume from volatile state after a dictionary-attack-protected use: "
             "free, the budget's one per recoveryTime (%u s; TPM clock %llu s, the last free one %s)",
             recovery_s, (unsigned long long)now_s, last ? "longer ago" : "never");
    return err;
}

svtpm_err rollback_clock_floor(struct store *s, uint8_t *plain, uint32_t len)
{
    const struct rollback *rb = &s->rb;
    uint16_t orderly = 0;
    uint64_t clock = 0;
    if (!rb->active || !rb->have_entry || !(rb->e.da_flags & NRS_CLOCK_LEASE))
        return SVTPM_OK;
    svtpm_err err = tpmstate_orderly(plain, len, &orderly);
    if (!err && orderly != TPMSTATE_SU_NONE && orderly != TPMSTATE_SU_DA_USED)
        return SVTPM_OK;   /* TPM2_Shutdown persisted the exact clock */
    if (!err)
        err = tpmstate_clock(plain, len, &clock);
    if (!err && clock < rb->e.clock_hwm) {
        err = tpmstate_clock_patch(plain, len, rb->e.clock_hwm);
        if (!err)
            elog(s->oc, LOG_INFO, "unclean stop: the TPM clock resumes at its recorded lease, %llu ms "
                 "(libtpms had persisted %llu ms)", (unsigned long long)rb->e.clock_hwm,
                 (unsigned long long)clock);
    }
    if (err)
        elog(s->oc, LOG_ERR, "the permanent state's TPM clock cannot be raised to its recorded "
             "lease (%s): refused, as the clock would go back", svtpm_strerror(err));
    return err;
}

svtpm_err rollback_written(struct store *s, uint32_t file, const struct rb_rec *r)
{
    struct rollback *rb = &s->rb;
    struct counter_txn t;
    struct nrs_entry e;
    bool have = false;
    if (!rb->active)
        return SVTPM_OK;
    svtpm_err err = fetch_own(s, &t, &e, &have);
    if (!err) {
        if (!have) {
            memset(&e, 0, sizeof e);
            memcpy(e.vtpm_id, s->vtpm_id, 16);
            memcpy(e.tenant, s->tenant, 32);
        }
        uint64_t seq = r ? r->seq : 0;
        if (seq > e.version)
            e.version = seq;
        *file_seq(&e, file) = seq;
        if (r)
            memcpy(file_iv(&e, file), r->iv, SEAL_IV_LEN);
        else
            memset(file_iv(&e, file), 0, SEAL_IV_LEN);
        if (r && r->plain && file == STATE_FILE_PERMALL)
            record_da(s, &e, r);
        e.bind_gen = s->bind_gen;
        err = put(s, &t, &e);
    }
    rb->counters->end(&t);
    return err;
}

uint64_t rollback_next_seq(const struct store *s, uint64_t fseq)
{
    const struct rollback *rb = &s->rb;
    uint64_t v = rb->active && rb->have_entry && rb->e.version > fseq ? rb->e.version : fseq;
    if (rb->active && rb->floor > v)
        v = rb->floor;
    return v + 1;
}

static bool authorised(const struct rollback *rb, uint32_t file, uint64_t seq)
{
    return rb->policy == ROLLBACK_SNAPSHOT && rb->have_auth && file == STATE_FILE_PERMALL &&
           rb->auth.from_version == rb->e.version && rb->auth.to_version == seq;
}

/* A record one version past the recorded one was written and never
 * recorded: the process stopped (or its store write failed) before the
 * response left. Nothing of it was acknowledged; it is recorded now. */
static svtpm_err accept_inflight(struct store *s, uint32_t file, const struct rb_rec *r)
{
    elog(s->oc, LOG_WARN, "sealed %s: state version %llu was written but not recorded (the vTPM "
         "stopped before answering); recording it", store_file_name(file), (unsigned long long)r->seq);
    return rollback_written(s, file, r);
}

/* what: "sealed permall" or the like, for the messages. */
static svtpm_err check_older(struct store *s, uint32_t file, const struct seal_hdr *h, const char *what)
{
    struct rollback *rb = &s->rb;
    if (authorised(rb, file, h->seq)) {
        if (!rb->restored)
            eaudit(s->oc, "restore-authorised", "%s: opening state version %llu in place of "
                   "%llu under the tenant's restore authorisation (policy snapshot)", what,
                   (unsigned long long)h->seq, (unsigned long long)rb->e.version);
        rb->restored = true;
        rb->reapply = file == STATE_FILE_PERMALL;
        return SVTPM_OK;
    }
    eaudit(s->oc, "rollback", "%s holds state version %llu, older than the recorded version "
           "%llu (policy %s%s): refused", what, (unsigned long long)h->seq,
           (unsigned long long)rb->e.version, rollback_policy_name(rb->policy),
           rb->policy == ROLLBACK_SNAPSHOT ? "; a restore needs the tenant's authorisation "
           "(svtpm-tenant authorize-restore --from <recorded> --to <snapshot's>)" : "");
    return SVTPM_E_ROLLBACK;
}

/* Reads this vTPM's entry into rb->e (rb->have_entry: it exists). */
static svtpm_err refresh(struct store *s)
{
    struct rollback *rb = &s->rb;
    struct counter_txn t;
    struct nrs_entry e;
    bool have = false;
    memset(&e, 0, sizeof e);
    svtpm_err err = fetch(s, &t, &e, &have);
    rb->counters->end(&t);
    if (!err)
        err = check_unchanged(s, &e, have);
    if (!err) {
        rb->e = e;
        rb->have_entry = have;
    }
    return err;
}

svtpm_err rollback_check_blob(struct store *s, const struct seal_hdr *h)
{
    struct rollback *rb = &s->rb;
    if (!rb->active)
        return SVTPM_OK;
    svtpm_err err = refresh(s);
    if (err)
        return err;
    if (!rb->have_entry || h->seq > rb->e.version) {
        /* Not a state this host's store ever saw: it ran elsewhere (the
         * local store cannot vouch for it; the KMC's counter can). */
        elog(s->oc, LOG_WARN, "incoming state version %llu is newer than this host's counter store "
             "knows (%llu): a vTPM that ran on another host; its versions continue from there",
             (unsigned long long)h->seq, (unsigned long long)(rb->have_entry ? rb->e.version : 0));
        rb->floor = h->seq;
        return SVTPM_OK;
    }
    if (h->seq == rb->e.permall_seq)
        return SVTPM_OK;
    return check_older(s, STATE_FILE_PERMALL, h, "incoming migration blob");
}

svtpm_err rollback_check(struct store *s, uint32_t file, const struct seal_hdr *h,
                         const uint8_t *plain, uint32_t len)
{
    struct rollback *rb = &s->rb;
    const char *f = store_file_name(file);
    struct rb_rec r = { .seq = h ? h->seq : 0, .iv = h ? h->iv : NULL, .plain = plain, .len = len };
    if (!rb->active)
        return SVTPM_OK;
    svtpm_err err = refresh(s);
    if (err)
        return err;
    if (!rb->have_entry) {
        /* No entry reads as version 0: a first record (version 1) in flight
         * is enrolled like any other; a newer protected one means the store
         * lost this vTPM. An unprotected record is enrolled as it is. */
        if (h && (h->flags & SEAL_F_NRS) && h->seq != 1) {
            eaudit(s->oc, "counter-store-replaced", "sealed %s holds state version %llu written under "
                   "rollback protection, but the counter store has no entry for this vTPM: the store "
                   "was replaced or lost: refused", f, (unsigned long long)h->seq);
            return SVTPM_E_ROLLBACK;
        }
        if (h && (h->flags & SEAL_F_NRS))
            return accept_inflight(s, file, &r);
        return h ? rollback_written(s, file, &r) : SVTPM_OK;
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
        return rollback_written(s, file, NULL);
    }
    if (h->seq == cur) {
        if (ct_equal(h->iv, file_iv(&rb->e, file), SEAL_IV_LEN))
            return SVTPM_OK;
        eaudit(s->oc, "rollback", "sealed %s holds a record of the recorded state version %llu that is "
               "not the recorded one: a write that was never acknowledged, kept and put back: refused",
               f, (unsigned long long)cur);
        return SVTPM_E_ROLLBACK;
    }
    if (h->seq == ver + 1)
        return accept_inflight(s, file, &r);
    if (h->seq < cur || (cur == 0 && h->seq <= ver)) {
        char what[64];
        snprintf(what, sizeof what, "sealed %s", f);
        return check_older(s, file, h, what);
    }
    eaudit(s->oc, "counter-store-rollback", "sealed %s holds state version %llu, but the counter "
           "store records %llu: the store went back or is another host's: refused", f,
           (unsigned long long)h->seq, (unsigned long long)ver);
    return SVTPM_E_ROLLBACK;
}

svtpm_err rollback_reapply(struct store *s, uint8_t *plain, uint32_t len)
{
    struct rollback *rb = &s->rb;
    struct tpm_da da;
    svtpm_err err = SVTPM_OK;
    if (!rb->reapply)
        return SVTPM_OK;
    rb->reapply = false;
    if (!(rb->e.da_flags & NRS_DA_KNOWN)) {
        elog(s->oc, LOG_ERR, "restore refused: the dictionary-attack state of state version %llu was "
             "not recorded, so it could not be re-applied", (unsigned long long)rb->e.version);
        return SVTPM_E_ROLLBACK;
    }
    err = tpmstate_da_read(plain, len, &da);
    if (err) {
        elog(s->oc, LOG_ERR, "restore refused: the restored state's dictionary-attack fields cannot "
             "be read (%s)", svtpm_strerror(err));
        return err;
    }
    uint32_t was = da.failed_tries;
    bool was_enabled = da.lockout_auth_enabled;
    if (rb->e.failed_tries > da.failed_tries)
        da.failed_tries = rb->e.failed_tries;
    if (rb->e.da_flags & NRS_DA_LOCKOUT_AUTH_OFF)
        da.lockout_auth_enabled = false;
    err = tpmstate_da_patch(plain, len, &da);
    uint64_t clock = 0, was_clock = 0;
    if (!err && (rb->e.da_flags & NRS_CLOCK_KNOWN) && tpmstate_clock(plain, len, &was_clock) == SVTPM_OK) {
        clock = was_clock < rb->e.clock_hwm ? rb->e.clock_hwm : was_clock;
        err = tpmstate_clock_patch(plain, len, clock);
    }
    if (!err)
        elog(s->oc, LOG_INFO, "restored state: dictionary-attack state re-applied from version %llu: "
             "failedTries %u -> %u, lockoutAuth %s -> %s; TPM clock %llu -> %llu ms",
             (unsigned long long)rb->e.version, was, da.failed_tries, was_enabled ? "enabled" : "disabled",
             da.lockout_auth_enabled ? "enabled" : "disabled", (unsigned long long)was_clock,
             (unsigned long long)clock);
    return err;
}
