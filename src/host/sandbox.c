#include "sandbox.h"
#include "log.h"

#include <seccomp.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

svtpm_err sandbox_apply(enum sandbox_action a)
{
    if (a == SANDBOX_NONE)
        return SVTPM_OK;
    static const int denied[] = {
#if !SANITIZED
        /* sanitizer builds only: LeakSanitizer stops the world with ptrace,
         * and reports are symbolized by exec'ing llvm-symbolizer */
        SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
#endif
        SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev), SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
        SCMP_SYS(chroot), SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(delete_module),
        SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load), SCMP_SYS(reboot), SCMP_SYS(swapon),
        SCMP_SYS(swapoff), SCMP_SYS(acct), SCMP_SYS(settimeofday), SCMP_SYS(clock_settime),
        SCMP_SYS(clock_adjtime), SCMP_SYS(adjtimex), SCMP_SYS(sethostname), SCMP_SYS(setdomainname),
        SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(bpf), SCMP_SYS(perf_event_open),
        SCMP_SYS(userfaultfd), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(keyctl),
        SCMP_SYS(add_key), SCMP_SYS(request_key), SCMP_SYS(quotactl), SCMP_SYS(personality),
        SCMP_SYS(fanotify_init), SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
        SCMP_SYS(lookup_dcookie), SCMP_SYS(vhangup), SCMP_SYS(nfsservctl),
    };
    uint32_t act = a == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
    svtpm_err err = SVTPM_E_PERM;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        goto out;
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        if (seccomp_rule_add(ctx, act, denied[i], 0) != 0)
            goto out;
    if (seccomp_load(ctx) == 0)
        err = SVTPM_OK;
out:
    if (ctx)
        seccomp_release(ctx);
    if (err)
        herr("cannot install the host's syscall filter");
    return err;
}
