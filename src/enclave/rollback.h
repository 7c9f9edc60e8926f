/* Rollback guard: a bound vTPM's state versions, checked against the
 * non-rollback store (nrs.h) that the host keeps outside the VM's rollback
 * domain (`--counters`, local backend: one sealed file per host).
 *
 * Write order, for every state update: the new record is durable first, then
 * the store records its version, then the TPM response may leave. So after a
 * crash the state is at most one version ahead of the store (that record was
 * never acknowledged: accepted, and recorded), never behind it. A state
 * behind the store is a rollback: refused under `strict`; under `snapshot`
 * accepted only with a tenant-signed restore authorisation naming exactly the
 * recorded version and the snapshot's, and the versions keep growing, so the
 * authorisation is spent by the next write.
 *
 * A recorded version names one record (its IV), not a number: a version can
 * be handed out twice across a restart (a write the host discarded before it
 * was recorded), and only the acknowledged record of it may be opened.
 * Within a process no version is handed out twice: a failed write wedges the
 * store (store.h) until the files are re-read. */
#ifndef SVTPM_ROLLBACK_H
#define SVTPM_ROLLBACK_H
#include <stdbool.h>
#include <stdint.h>
#include "manifest.h"
#include "counters.h"
#include "nrs.h"
#include "sealfmt.h"

struct store;

struct rollback {
    bool active;             /* bound, with a counter service */
    const struct counter_ops *counters;   /* where the entry lives (counters.h) */
    uint8_t policy;          /* ROLLBACK_* */
    bool charge_resume;      /* MANIFEST_F_CHARGE_RESUME (tpm.c applies it) */
    bool resume_budget;      /* MANIFEST_F_RESUME_BUDGET (tpm.c applies it) */
    bool have_entry;         /* e: this vTPM's entry as the store holds it */
    struct nrs_entry e;
    bool have_auth;          /* a verified restore authorisation */
    struct restore_auth auth;
    bool restored;           /* this power-on opened an authorised older state */
    uint64_t floor;          /* versions continue above this: an incoming
                                state that ran on another host */
    bool reapply;            /* an authorised older permall was just accepted:
                                re-apply the recorded DA state to it */
};

/* A record as written or opened: its version, IV and plaintext (from which a
 * permall's dictionary-attack state is recorded; plain may be NULL). */
struct rb_rec {
    uint64_t seq;
    const uint8_t *iv;
    const uint8_t *plain;
    uint32_t len;
};

/* A record of `file` was picked (h, its plaintext plain/len), or the file is
 * absent (h NULL): may it be used? Audit record and SVTPM_E_ROLLBACK (or
 * _FOREIGN) when not. */
svtpm_err rollback_check(struct store *s, uint32_t file, const struct seal_hdr *h,
                         const uint8_t *plain, uint32_t len);
/* Records that `file` now holds record r (NULL: deleted), and for permall
 * the dictionary-attack state in it; after the write is durable, before
 * anything is acknowledged. Refuses (audit counter-store-changed) when this
 * vTPM's entry is not what this process last saw: another instance of the
 * vTPM wrote it (a fork), or the store was replaced under it. */
svtpm_err rollback_written(struct store *s, uint32_t file, const struct rb_rec *r);
/* After an authorised restore of an older permall (record or blob): raises
 * its failedTries to the recorded one and keeps lockoutAuth disabled if it
 * was, in place, so the dictionary-attack state never goes back with a
 * snapshot. A no-op unless rollback_check/_check_blob just authorised one. */
svtpm_err rollback_reapply(struct store *s, uint8_t *plain, uint32_t len);
/* An incoming migration blob of the permanent state (SET_STATEBLOB), which
 * carries the state version it was taken at (h->seq): the same check as a
 * record, since `virsh restore` and snapshot reverts come this way. The
 * current version, or one newer than this host ever recorded (the vTPM ran
 * on another host since; versions then continue above it), is accepted;
 * an older one only under `snapshot` with the tenant's authorisation. */
svtpm_err rollback_check_blob(struct store *s, const struct seal_hdr *h);
/* The version the next record of a file at file_seq gets. */
uint64_t rollback_next_seq(const struct store *s, uint64_t file_seq);

/* The TPM clock lease (issue 5). libtpms persists its clock only every
 * ~70 minutes and at TPM2_Shutdown, so after an unclean stop it would resume
 * behind values responses already showed. tpm.c keeps a lease ahead of the
 * clock: before a response whose clock may pass the lease leaves, the lease
 * moves on (recorded in the counter service, NRS_CLOCK_LEASE), and after an
 * unclean stop the clock resumes at the lease (rollback_clock_floor). A
 * lease may move down only after TPM2_Clear, which resets the clock.
 * SVTPM_OK without doing anything when not bound; a failed write wedges. */
svtpm_err rollback_clock_lease(struct store *s, uint64_t lease_ms, const int64_t *offset_ms);
/* A permall about to be loaded (plain, in place): after an unclean stop
 * (orderlyState NONE or DA_USED), its clock is raised to the lease. */
svtpm_err rollback_clock_floor(struct store *s, uint8_t *plain, uint32_t len);

/* MANIFEST_F_RESUME_BUDGET: a resume that would be charged (DA used since
 * the last orderly point) at TPM clock clock_ms, with recoveryTime
 * recovery_s: *spent (the resume is free) when no free resume was spent in the last recovery_s of
 * TPM clock (the entry's resume_s), and then this one is recorded as spent,
 * durably, before anything runs. The TPM clock counts here because the
 * pinned time authority keeps it from running ahead (eclock.h), across
 * restarts too; TPM2_Clear, which resets it, leaves the budget spent until
 * the clock passes the recorded second again (the safe side). */
svtpm_err rollback_resume_budget(struct store *s, uint64_t clock_ms, uint32_t recovery_s, bool *spent);

#endif
