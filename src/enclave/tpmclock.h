/* The TPM clock across crashes and restarts (issue 5), between tpm.c and
 * libtpms. libtpms persists its clock only at TPM2_Shutdown and in ~70-minute
 * steps, so after kill -9 it would resume behind values responses already
 * showed. A lease stays ahead of the clock: before a response whose clock may
 * pass it leaves, the lease moves LEASE_SPAN ahead, durably, and a state that
 * was not shut down in order resumes at it.
 *   - bound vTPMs keep the lease in the counter store (rollback_clock_lease),
 *     out of the host's reach, with the clock's tie to the time authority
 *     (eclock_carry): the state's clock is raised to it when loaded;
 *   - unbound vTPMs keep it in the permanent state itself: every permall
 *     written while the TPM runs carries a clock raised to the lease, and a
 *     lease that moves without a state write of libtpms' writes one.
 * The lease moves down only after TPM2_Clear (which resets the clock). */
#ifndef SVTPM_TPMCLOCK_H
#define SVTPM_TPMCLOCK_H
#include <stdint.h>
#include "err.h"

#define TPMCLOCK_LEASE_SPAN_MS 5000u

struct tpm;

/* A permanent state about to be loaded (the file, or a blob), in place:
 * raised to a bound vTPM's lease after an unclean stop; its clock noted. */
svtpm_err tpmclock_loading(struct tpm *t, uint8_t *perm, uint32_t len);
/* libtpms was powered on with it: a new run of the clock. */
void tpmclock_powered(struct tpm *t);
/* After a command, before its response is copied out. */
void tpmclock_after(struct tpm *t, uint32_t cc);
/* Before the volatile state leaves libtpms (a file or a blob): the lease
 * covers the time libtpms read too, which that state carries, so the
 * process that resumes it starts its time at or above it (eclock_origin). */
void tpmclock_saving(struct tpm *t);
/* libtpms stores its permanent state: for an unbound vTPM whose lease is
 * ahead of the state's clock, *copy is the state with its clock raised to
 * the lease (the caller frees it); else *copy is NULL. */
svtpm_err tpmclock_storing(struct tpm *t, const uint8_t *perm, uint32_t len, uint8_t **copy);

/* An outgoing permanent-state blob (header h, about to be sealed): a bound
 * vTPM's tie to the time authority goes with it (SEAL_F_CLOCK_TIE), so the
 * destination holds its clock to it as a restart here would. */
struct seal_hdr;
void tpmclock_blob_tie(const struct tpm *t, struct seal_hdr *h);

#endif
