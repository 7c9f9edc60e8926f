/* The non-rollback store's payload: what one host's vTPMs must never see go
 * back, one entry per vTPM, kept sealed (kind SEAL_KIND_NRS) in one file
 * outside every VM's state directory. One file for all, so one vTPM's entry
 * cannot be rolled back without rolling back every vTPM's on the host.
 *
 *   magic "NRS2" | u32 count | count × entry (128 bytes), sorted by vtpm_id, unique:
 *   vtpm_id[16] | tenant[32] | u64 version | u64 permall_seq | u64 volatile_seq |
 *   permall_iv[12] | volatile_iv[12] | u32 failed_tries | u32 da_flags |
 *   u64 clock_hwm | u32 bind_gen | i64 clock_offset | u32 resume_s
 *
 * version: the last state version written for the vTPM (either file);
 * permall_seq / volatile_seq: the version each file's current record carries
 * (0: the file must not exist); permall_iv / volatile_iv: that record's IV,
 * which names one record, not just a number: a record the host hid and later
 * puts back cannot stand in for the acknowledged one of the same version.
 * The DA and clock fields are kept for the snapshot policy and the trusted
 * clock: clock_hwm is at least the clock of the last permall written and,
 * with NRS_CLOCK_LEASE, at least every TPM clock value a response showed;
 * clock_offset (NRS_CLOCK_OFFSET) carries the tie between the TPM clock and
 * the time authority across restarts, so a restart gives no new lead. */
#ifndef SVTPM_NRS_H
#define SVTPM_NRS_H
#include <stdint.h>
#include <stddef.h>
#include "abi.h"
#include "err.h"
#include "sealfmt.h"

#define NRS_MAGIC       "NRS2"
#define NRS_ENTRY_LEN   128u
#define NRS_MAX_ENTRIES ((SVTPM_STATE_PLAIN_MAX - 8u) / NRS_ENTRY_LEN)

/* da_flags */
#define NRS_DA_KNOWN            0x1u   /* failed_tries and the flag below were read from permall */
#define NRS_DA_LOCKOUT_AUTH_OFF 0x2u   /* lockOutAuthEnabled was FALSE (a lockoutAuth failure) */
#define NRS_CLOCK_KNOWN         0x4u   /* clock_hwm holds a TPM clock value */
#define NRS_CLOCK_LEASE         0x8u   /* clock_hwm is a lease: no response showed a TPM
                                          clock above it (rollback_clock_lease) */
#define NRS_CLOCK_OFFSET        0x10u  /* clock_offset is known (eclock.h) */

struct nrs_entry {
    uint8_t vtpm_id[16];
    uint8_t tenant[32];
    uint64_t version, permall_seq, volatile_seq;
    uint8_t permall_iv[SEAL_IV_LEN], volatile_iv[SEAL_IV_LEN];
    uint32_t failed_tries, da_flags;
    uint64_t clock_hwm;
    uint32_t bind_gen;
    int64_t clock_offset;    /* authority time minus TPM clock, ms: the TPM clock never
                                runs more than max_lead past (authenticated time - this) */
    uint32_t resume_s;       /* MANIFEST_F_RESUME_BUDGET: the TPM clock (s, rounded up) at
                                the last free resume; 0: none yet */
};

/* Checks the whole payload (magic, exact length, order). */
svtpm_err nrs_check(const uint8_t *p, size_t len, uint32_t *count);
/* Finds id's entry in a checked payload; SVTPM_E_NOTFOUND if absent. */
svtpm_err nrs_find(const uint8_t *p, size_t len, const uint8_t id[16], struct nrs_entry *e);
/* Writes the checked payload `in` with e inserted or replaced to out (cap
 * bytes); *out_len is its length. SVTPM_E_TOOBIG when the store is full. */
svtpm_err nrs_put(const uint8_t *in, size_t in_len, const struct nrs_entry *e,
                  uint8_t *out, size_t cap, size_t *out_len);

#endif
