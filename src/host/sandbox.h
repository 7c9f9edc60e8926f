/* The host process's syscall filter, as swtpm's --seccomp: a denylist of
 * what a vTPM host never needs (exec, ptrace, mounts, modules, reboot, ...),
 * installed once the enclave has been started (spawning it needs execve). */
#ifndef SVTPM_SANDBOX_H
#define SVTPM_SANDBOX_H
#include "err.h"

enum sandbox_action { SANDBOX_KILL = 0, SANDBOX_LOG, SANDBOX_NONE };

svtpm_err sandbox_apply(enum sandbox_action a);

#endif
