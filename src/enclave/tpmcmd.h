/* Which TPM commands must run on fresh authenticated time (issue 5).
 *
 * The enclave's clock lags real time when the host slows or freezes its
 * source between time tokens. A lagging clock is safe for the dictionary-
 * attack timers (a lockout only lasts longer) and for ReadClock (it never goes
 * backwards), but not for anything that expires: a policy session whose
 * PolicySigned/PolicySecret expiration has passed, an expired PolicyTicket,
 * or a PolicyCounterTimer bound such as "clock < X" would still be honoured.
 * So those commands, and every command authorised by a policy session (its
 * expiry is checked there), get a token first (eclock_refresh).
 *
 * The command is untrusted bytes (from the guest, or from the host itself);
 * the parse is bounds-checked and errs on the side of "fresh": a command it
 * cannot parse, or whose code it does not know, costs a token, never a
 * missed expiry. */
#ifndef SVTPM_TPMCMD_H
#define SVTPM_TPMCMD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPMCMD_CC_FIRST 0x11Fu
#define TPMCMD_CC_LAST  0x197u

/* The number of handles in the command's handle area (TPMA_CC cHandles), or
 * -1 for a command code libtpms 0.9 does not implement. */
int tpmcmd_handles(uint32_t cc);
/* True when the command must see authenticated time no older than itself. */
bool tpmcmd_needs_fresh_time(const uint8_t *cmd, size_t len);

#endif
