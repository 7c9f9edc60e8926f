/* Process hardening for the soft TEE: what an OS can do to make a process an
 * island. It does not stop host root (that is what SGX is for). */
#ifndef SVTPM_HARDEN_H
#define SVTPM_HARDEN_H
#include <stddef.h>
#include "err.h"

enum seccomp_mode { SECCOMP_KILL = 0, SECCOMP_LOG, SECCOMP_OFF };

/* No core dumps, not dumpable (no ptrace by the same uid), dies with its
 * parent, no new privileges. */
svtpm_err harden_process(char *why, size_t wl);
/* Locks memory so secrets never reach swap: everything when the memlock limit
 * allows, else returns SVTPM_E_PERM and the caller locks its secret buffers. */
svtpm_err harden_lock_memory(void);
/* The syscall allowlist; anything else kills the process (or is logged). */
svtpm_err harden_seccomp(enum seccomp_mode mode);

#endif
