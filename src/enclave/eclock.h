/* The enclave's one clock (clock.h): what libtpms and svtpm read as time.
 * timeshim.c (linked into the enclave executable only) routes libtpms'
 * clock_gettime and gettimeofday here; svtpm's own deadlines (chan.c) read
 * CLOCK_MONOTONIC_RAW, which stays the host's, so a clock held at its
 * ceiling never stalls a wait.
 *
 * Without a time authority the clock follows the source and never goes
 * backwards. With one (the tenant's manifest pins its key), it stands still
 * until the first token and never runs more than ECLOCK_MAX_LEAD_NS ahead of
 * authenticated time: when a read finds it near its ceiling, the enclave asks
 * the host for a token (OCALL_TIME_TOKEN, a fresh nonce), checks the
 * authority id and the signature against the pinned key, and anchors it. */
#ifndef SVTPM_ECLOCK_H
#define SVTPM_ECLOCK_H
#include <stdint.h>
#include "ocall.h"

#define ECLOCK_MAX_LEAD_NS (5ull * 1000000000ull)

/* The untrusted sources: monotonic and wall time in ns (timeshim.c gives the
 * real ones; unset, clock_gettime is read directly). */
void eclock_sources(uint64_t (*mono_ns)(void), uint64_t (*wall_ns)(void));
/* From now on, time needs the authority with this raw Ed25519 key. */
void eclock_set_authority(struct ocall_ctx *oc, const uint8_t pub[32]);
/* The enclave (and its OCALL context) goes away: no more fetches through it. */
void eclock_detach(void);
/* Authenticated time now, for a command that must not run on a lagging clock
 * (tpmcmd.h): with an authority, a token is fetched whatever the source
 * says, because a frozen or slowed source looks like an idle one. SVTPM_OK
 * at once without an authority (the clock is then the host's anyway). */
svtpm_err eclock_refresh(void);
/* The tie between the TPM clock and authenticated time, kept across restarts
 * in the counter store (nrs.h clock_offset). *offset_ms: authority time
 * minus TPM clock (ms) at this run's reference token, the TPM clock being
 * tpm_ms when this clock read at_ns. False before the first token. */
bool eclock_offset(uint64_t tpm_ms, uint64_t at_ns, int64_t *offset_ms);
/* This power-on's TPM clock reads tpm_ms now: from here on, it never runs
 * more than ECLOCK_MAX_LEAD_NS past (authenticated time - offset_ms), so a
 * restart gives the host no new lead (tclock_cap). No effect without an
 * authority. */
void eclock_carry(int64_t offset_ms, uint64_t tpm_ms);
/* With an authority, the time libtpms reads (eclock_tpm_mono_ns, and the
 * wall time) does not come from the host at all: it is the TPM clock's,
 * tpm_ms at this moment (plus ECLOCK_TPM_EPOCH_MS), running with this clock.
 * libtpms keeps readings of that time in its volatile state and subtracts
 * them, unsigned, from the next process's; from the host's clocks, a new
 * process could start a little below where the old one ended (a token's
 * pull-forward puts this clock ahead of its source) and libtpms' time would
 * wrap to ~2^64/30000 ms, which forgives every failed try. The TPM clock's
 * lease (tpmclock.h) is always at least where the old process was, so a new
 * origin from it never is. Never moves libtpms' time back: an origin below
 * the current reading is raised to it. No effect without an authority. */
#define ECLOCK_TPM_EPOCH_MS 1000u
bool eclock_pinned(void);   /* an authority is pinned */
void eclock_origin(uint64_t tpm_ms);
/* The clock (monotonic ns), in this module's own terms (tokens, bounds). */
uint64_t eclock_now_ns(void);
/* What libtpms reads as CLOCK_MONOTONIC and CLOCK_REALTIME (timeshim.c):
 * without an authority, this clock and the wall time derived from it; with
 * one, the origin above (and a fixed epoch for the wall time). */
uint64_t eclock_tpm_mono_ns(void);
uint64_t eclock_wall_ns(void);

#endif
