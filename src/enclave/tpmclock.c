#include "tpmclock.h"
#include "bytes.h"
#include "eclock.h"
#include "rollback.h"
#include "sealfmt.h"
#include "tpm.h"
#include "tpmstate.h"

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <stdlib.h>
#include <string.h>

#define TPM2_CC_CLEAR     0x126u
#define TPM2_CC_CLOCK_SET 0x128u

static bool bound(const struct tpm *t)
{
    return t->store->rb.active;
}

/* Not shut down in order: libtpms' clock in it may be behind what ran. */
static bool unclean(const uint8_t *perm, uint32_t len)
{
    uint16_t o = 0;
    return tpmstate_orderly(perm, len, &o) == SVTPM_OK && (o == TPMSTATE_SU_NONE || o == TPMSTATE_SU_DA_USED);
}

/* The unclean state's clock, if it is below the lease (else false). */
static bool behind(const uint8_t *perm, uint32_t len, uint64_t lease)
{
    uint64_t clock = 0;
    return unclean(perm, len) && tpmstate_clock(perm, len, &clock) == SVTPM_OK && clock < lease;
}

svtpm_err tpmclock_loading(struct tpm *t, uint8_t *perm, uint32_t len)
{
    const struct rollback *rb = &t->store->rb;
    svtpm_err err = rollback_clock_floor(t->store, perm, len);   /* bound only */
    if (!err)
        t->start_clock_known = tpmstate_clock(perm, len, &t->start_clock) == SVTPM_OK;
    if (!err && !bound(t))
        t->lease_ms = t->start_clock_known ? t->start_clock : 0;   /* what the state carries */
    /* libtpms' time starts at the lease even after an orderly stop: a
     * volatile state saved after TPM2_Shutdown carries later readings */
    uint64_t origin = t->start_clock_known ? t->start_clock : 0;
    if (!err && rb->active && rb->have_entry && (rb->e.da_flags & NRS_CLOCK_LEASE) && rb->e.clock_hwm > origin)
        origin = rb->e.clock_hwm;
    if (!err)
        eclock_origin(origin);
    return err;
}

void tpmclock_powered(struct tpm *t)
{
    const struct rollback *rb = &t->store->rb;
    t->clock_sampled = false;
    if (!t->start_clock_known)
        t->lease_ms = 0;   /* a new TPM */
    /* tie the clock to the time authority as the last run left it (here, or
     * on the host a migration blob came from: the tighter), so this run
     * gets no new lead */
    t->tie_known = t->start_clock_known && rb->active && rb->have_entry && (rb->e.da_flags & NRS_CLOCK_OFFSET);
    t->tie = t->tie_known ? rb->e.clock_offset : 0;
    if (t->start_clock_known && t->blob_tie_known && (!t->tie_known || t->blob_tie > t->tie)) {
        t->tie = t->blob_tie;
        t->tie_known = true;
        elog(t->oc, LOG_INFO, "the TPM clock's tie to the time authority came with the migration blob");
    }
    if (t->tie_known)
        eclock_carry(t->tie, t->start_clock);
    t->start_clock_known = false;
    t->blob_tie_known = false;
}

void tpmclock_blob_tie(const struct tpm *t, struct seal_hdr *h)
{
    const struct rollback *rb = &t->store->rb;
    if (h->kind == SEAL_KIND_MIG_PERMALL && rb->active && rb->have_entry && (rb->e.da_flags & NRS_CLOCK_OFFSET)) {
        h->flags |= SEAL_F_CLOCK_TIE;
        h->clock_tie = rb->e.clock_offset;
    }
}

svtpm_err tpmclock_storing(struct tpm *t, const uint8_t *perm, uint32_t len, uint8_t **copy)
{
    *copy = NULL;
    if (bound(t) || !behind(perm, len, t->lease_ms))
        return SVTPM_OK;
    uint8_t *c = malloc(len ? len : 1);
    if (!c)
        return SVTPM_E_NOMEM;
    memcpy(c, perm, len);
    svtpm_err err = tpmstate_clock_patch(c, len, t->lease_ms);
    if (err) {
        secure_wipe(c, len);
        free(c);
        c = NULL;
    }
    *copy = c;
    return err;
}

/* TPM2_ReadClock straight into libtpms (not a command of the guest's, so
 * tpm.c's last_ordinal and handed_off stay as they are), into a buffer of
 * its own: the guest's response waits in t->rbuf. */
static bool read_tpm_clock(uint64_t *clock_ms)
{
    uint8_t cmd[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x81 };
    unsigned char *r = NULL;
    uint32_t rlen = 0, rsize = 0;
    bool ok = TPMLIB_Process(&r, &rlen, &rsize, cmd, sizeof cmd) == TPM_SUCCESS && rlen >= 26 &&
              get_be32(r + 6) == 0;   /* else not started: no clock shown yet */
    if (ok)
        *clock_ms = get_be64(r + 18);   /* header, time, then clockInfo.clock */
    free(r);
    return ok;
}

/* Unbound: the running state, its clock raised to the lease, written. */
static svtpm_err unbound_lease(struct tpm *t, uint64_t lease)
{
    unsigned char *p = NULL;
    uint32_t n = 0;
    uint64_t was = t->lease_ms;
    svtpm_err err = TPMLIB_GetState(TPMLIB_STATE_PERMANENT, &p, &n) == TPM_SUCCESS && p ? SVTPM_OK : SVTPM_E_TPM;
    if (!err && behind(p, n, lease))
        err = tpmstate_clock_patch(p, n, lease);
    t->lease_ms = lease;   /* (libtpms' own writes from here on carry it too) */
    if (!err)
        err = store_save(t->store, STATE_FILE_PERMALL, p, n);
    if (err)
        t->lease_ms = was;   /* what the file may hold */
    if (p) {
        secure_wipe(p, n);
        free(p);
    }
    return err;
}

/* Bound: the lease, and the clock's tie to the authority (from the exact
 * TPM clock `clock` read at at_ns; NULL: the tie stays as it is): the
 * tightest seen, unless the clock was legitimately moved, which re-ties it. */
static svtpm_err lease_at(struct tpm *t, uint64_t lease, const uint64_t *clock, uint64_t at_ns, bool jumped)
{
    const struct rollback *rb = &t->store->rb;
    int64_t offset;
    bool tied = clock && eclock_offset(*clock, at_ns, &offset);
    if (tied && jumped) {
        eclock_carry(offset, *clock);
        t->tie_known = false;   /* re-tied */
    } else if (tied) {
        if ((rb->e.da_flags & NRS_CLOCK_OFFSET) && rb->e.clock_offset > offset)
            offset = rb->e.clock_offset;
        if (t->tie_known && t->tie > offset)
            offset = t->tie;   /* (a migration blob's, not yet recorded here) */
    }
    return rollback_clock_lease(t->store, lease, tied ? &offset : NULL);
}

void tpmclock_saving(struct tpm *t)
{
    const struct rollback *rb = &t->store->rb;
    if (!eclock_pinned() || !bound(t) || !rb->have_entry)
        return;   /* libtpms reads the host's time: a new process never starts below it */
    uint64_t at_ns = eclock_now_ns();
    uint64_t mono = eclock_tpm_mono_ns() / 1000000u, seen = mono > ECLOCK_TPM_EPOCH_MS ? mono - ECLOCK_TPM_EPOCH_MS : 0;
    uint64_t clock = 0;
    /* (no TPM2_ReadClock after TPM2_Shutdown: it would undo the orderly state) */
    bool exact = t->last_ordinal != TPM2_CC_SHUTDOWN && read_tpm_clock(&clock);
    if (exact && clock > seen)
        seen = clock;
    if ((rb->e.da_flags & NRS_CLOCK_LEASE) && seen <= rb->e.clock_hwm)
        return;
    if (lease_at(t, seen + TPMCLOCK_LEASE_SPAN_MS, exact ? &clock : NULL, at_ns, false) != SVTPM_OK)
        elog(t->oc, LOG_ERR, "the TPM clock's lease could not be moved before the volatile state was "
             "saved; a resume of it may find the clock behind");
}

/* May the clock have passed the lease? A cheap bound first (libtpms' clock
 * runs at most 5/4 of the enclave clock, rate adjustment included), the
 * exact clock only when the bound says it may have. */
void tpmclock_after(struct tpm *t, uint32_t cc)
{
    const struct rollback *rb = &t->store->rb;
    if (cc == TPM2_CC_SHUTDOWN || t->last_ordinal == TPM2_CC_SHUTDOWN || (bound(t) && !rb->have_entry))
        return;   /* a command after TPM2_Shutdown would undo its orderly state */
    bool leased = bound(t) ? (rb->e.da_flags & NRS_CLOCK_LEASE) != 0 : true;
    uint64_t lease = bound(t) ? rb->e.clock_hwm : t->lease_ms;
    bool jumped = cc == TPM2_CC_CLEAR || cc == TPM2_CC_CLOCK_SET;
    uint64_t at_ns = eclock_now_ns(), at = at_ns / 1000000u, clock = 0;
    if (leased && !jumped && t->clock_sampled && t->clock_ms + (at - t->clock_at_ms) * 5 / 4 + 1 <= lease)
        return;
    if (!read_tpm_clock(&clock))
        return;
    t->clock_sampled = true;
    t->clock_ms = clock;
    t->clock_at_ms = at;
    if (leased && !jumped && clock <= lease)
        return;
    svtpm_err err = bound(t) ? lease_at(t, clock + TPMCLOCK_LEASE_SPAN_MS, &clock, at_ns, jumped) :
                               unbound_lease(t, clock + TPMCLOCK_LEASE_SPAN_MS);
    if (err)
        elog(t->oc, LOG_ERR, "TPM clock %llu ms: its lease could not be recorded (%s); after an "
             "unclean stop the clock may resume behind it", (unsigned long long)clock, svtpm_strerror(err));
}
