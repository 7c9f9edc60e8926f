/* The dictionary-attack (DA) fields inside libtpms' permanent state: the
 * "permall" blob libtpms hands to the NVRAM store callback and returns from
 * TPMLIB_GetState(TPMLIB_STATE_PERMANENT). After a tenant-authorised
 * snapshot restore the enclave re-applies the recorded DA state to the
 * restored blob before libtpms loads it.
 *
 * Layout (libtpms 0.9.2, big-endian, every NV_HEADER is u16 version, u32
 * magic, u16 min_version):
 *   PERSISTENT_ALL header (v3, magic 0xab364723)
 *   PA_COMPILE_CONSTANTS (v3, 0xc9ea6431): u32 count (120), 120 x u32,
 *     block marker (u8 has, u16 size, size bytes)
 *   PERSISTENT_DATA (v4, 0x12213443): u8 disableClear, 3 x u16 alg,
 *     12 x TPM2B (policies, auths, seeds, proofs), u64 totalResetCount,
 *     u32 resetCount, block marker + PCR_POLICY (v2, 0x176be626),
 *     TPML_PCR_SELECTION, u16 n + ppList[n],
 *     u32 failedTries | u32 maxTries | u32 recoveryTime |
 *     u32 lockoutRecovery | u8 lockOutAuthEnabled      <- the DA fields
 *     u16 orderlyState, u16 n + auditCommands[n], ..., trailing blocks
 *   ORDERLY_DATA (0x56657887), ..., u32 0xab364723 (the last four bytes)
 * The blob carries no checksum: libtpms loads a patched blob as it is.
 * Any other version of the three headers is refused (SVTPM_E_UNSUPPORTED):
 * its layout has not been checked against a real libtpms. */
#ifndef SVTPM_TPMSTATE_H
#define SVTPM_TPMSTATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define TPMSTATE_DA_LEN 17u   /* 4 x u32 + u8, contiguous */

struct tpm_da {
    uint32_t failed_tries;       /* gp.failedTries: TPM_PT_LOCKOUT_COUNTER */
    uint32_t max_tries;          /* TPM_PT_MAX_AUTH_FAIL */
    uint32_t recovery_time;      /* seconds, TPM_PT_LOCKOUT_INTERVAL */
    uint32_t lockout_recovery;   /* seconds, TPM_PT_LOCKOUT_RECOVERY */
    bool lockout_auth_enabled;   /* FALSE after a lockoutAuth failure */
};

/* Finds the DA fields: their offset in blob (*off may be NULL). Checks the
 * whole path to them, that ORDERLY_DATA follows PERSISTENT_DATA and that the
 * blob ends with the PERSISTENT_ALL magic. SVTPM_E_TRUNCATED when the blob
 * ends before that path does, SVTPM_E_UNSUPPORTED for an unverified
 * version, SVTPM_E_FORMAT for anything else unexpected. */
svtpm_err tpmstate_da_find(const uint8_t *blob, size_t len, size_t *off);

/* Reads the DA fields; *da is written only on success. */
svtpm_err tpmstate_da_read(const uint8_t *blob, size_t len, struct tpm_da *da);

/* Overwrites the DA fields in place with *da (they have a fixed width, so
 * nothing else moves). On failure the blob is left untouched. */
svtpm_err tpmstate_da_patch(uint8_t *blob, size_t len, const struct tpm_da *da);

/* orderlyState (right after the DA fields): SU_DA_USED means a DA-protected
 * authorisation was attempted since the last orderly point. */
#define TPMSTATE_SU_DA_USED 0xFFFEu
#define TPMSTATE_SU_NONE    0xFFFFu   /* started, no orderly shutdown since */
svtpm_err tpmstate_orderly(const uint8_t *blob, size_t len, uint16_t *orderly);

/* What TPM2_Startup does after a non-orderly stop (libtpms DAStartup), for a
 * resume from volatile state, which skips TPM2_Startup: if DA was used since
 * the last orderly point, DA is on (recoveryTime != 0) and failedTries is
 * below maxTries, failedTries goes up by one, in place. *charged says so. */
svtpm_err tpmstate_charge_resume(uint8_t *blob, size_t len, bool *charged);
/* Would tpmstate_charge_resume charge it? *recovery_s: recoveryTime. */
svtpm_err tpmstate_resume_due(const uint8_t *blob, size_t len, bool *due, uint32_t *recovery_s);

/* go.clock (ms) in ORDERLY_DATA: the TPM clock as libtpms last persisted it
 * (at TPM2_Shutdown, and every few seconds of use). Read and patched in
 * place, as the DA fields; ORDERLY_DATA versions other than 2 are refused. */
svtpm_err tpmstate_clock(const uint8_t *blob, size_t len, uint64_t *clock_ms);
svtpm_err tpmstate_clock_patch(uint8_t *blob, size_t len, uint64_t clock_ms);

#endif
