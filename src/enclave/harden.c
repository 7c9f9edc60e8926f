#include "harden.h"
#include "sfilter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <signal.h>

svtpm_err harden_process(char *why, size_t wl)
{
    struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none) != 0 ||
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(why, wl, "process hardening failed: %s", strerror(errno));
        return SVTPM_E_PERM;
    }
    return SVTPM_OK;
}

svtpm_err harden_lock_memory(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_MEMLOCK, &rl);
    }
    /* MCL_FUTURE under a small limit would make later allocations fail, so
     * lock everything only when the limit cannot bite. */
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 ||
        (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (512ul << 20)))
        return SVTPM_E_PERM;
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
        return SVTPM_E_PERM;
    return SVTPM_OK;
}

svtpm_err harden_seccomp(enum seccomp_mode mode)
{
    if (mode == SECCOMP_OFF)
        return SVTPM_OK;
    static const long allowed[] = {
        /* the channel and memory */
        SYS_futex, SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_brk, SYS_madvise,
        /* time, randomness and the CPU for the transport and libtpms/OpenSSL */
        SYS_clock_gettime, SYS_gettimeofday, SYS_getrandom, SYS_getcpu,
        /* stdio sets up stderr with fstat/lseek the first time libtpms logs */
        SYS_write,
#ifdef SYS_fstat
        SYS_fstat,
#endif
#ifdef SYS_newfstatat
        SYS_newfstatat,
#endif
        SYS_lseek,
        SYS_exit, SYS_exit_group, SYS_rt_sigreturn, SYS_getpid, SYS_gettid, SYS_sched_yield,
    };
    /* libtpms reports failure mode on stderr: unbuffered stdio allocates no
     * buffer, so the first write needs no isatty() probe; should glibc still
     * ask, TCGETS is the one ioctl allowed. */
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    struct sfilter f = {
        .kind = SFILTER_ALLOWLIST,
        .action = mode == SECCOMP_LOG ? SFILTER_LOG : SFILTER_KILL,
        .nrs = allowed, .n = sizeof allowed / sizeof allowed[0],
        .arg1_nr = SYS_ioctl, .arg1_value = TCGETS,
    };
    return sfilter_install(&f);
}
