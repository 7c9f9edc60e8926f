#include "sandbox.h"
#include "log.h"

#include <sys/syscall.h>
#include "sanitizer.h"
#include "sfilter.h"
#include <stddef.h>


svtpm_err sandbox_apply(enum sandbox_action a)
{
    if (a == SANDBOX_NONE)
        return SVTPM_OK;
    static const long denied[] = {
#if !SANITIZED
        /* sanitizer builds only: LeakSanitizer stops the world with ptrace,
         * and reports are symbolized by exec'ing llvm-symbolizer */
        SYS_execve, SYS_execveat, SYS_ptrace,
#endif
        SYS_process_vm_readv, SYS_process_vm_writev, SYS_mount, SYS_umount2, SYS_pivot_root,
        SYS_chroot, SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load,
        SYS_kexec_file_load, SYS_reboot, SYS_swapon, SYS_swapoff, SYS_acct, SYS_settimeofday,
        SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_sethostname, SYS_setdomainname,
#ifdef SYS_iopl
        SYS_iopl, SYS_ioperm,
#endif
        SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_unshare, SYS_setns, SYS_keyctl,
        SYS_add_key, SYS_request_key, SYS_quotactl, SYS_personality, SYS_fanotify_init,
        SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_lookup_dcookie, SYS_vhangup,
    };
    struct sfilter f = {
        .kind = SFILTER_DENYLIST,
        .action = a == SANDBOX_LOG ? SFILTER_LOG : SFILTER_KILL,
        .nrs = denied, .n = sizeof denied / sizeof denied[0],
        .arg1_nr = -1,
    };
    svtpm_err err = sfilter_install(&f);
    if (err)
        herr("cannot install the host's syscall filter");
    return err;
}
