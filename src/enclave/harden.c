#include "harden.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
    static const int allowed[] = {
        /* the channel and memory */
        SCMP_SYS(futex), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
        SCMP_SYS(mprotect), SCMP_SYS(brk), SCMP_SYS(madvise),
        /* time and randomness for libtpms and OpenSSL */
        SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
        /* stderr for a last word, and leaving */
        /* stdio sets up stderr with fstat/lseek the first time libtpms logs */
        SCMP_SYS(write), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
        SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
        SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(sched_yield), SCMP_SYS(getcpu),
    };
    /* libtpms reports failure mode on stderr: unbuffered stdio allocates no
     * buffer, so the first write needs no isatty() probe; should glibc still
     * ask, TCGETS is the one ioctl allowed. */
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    uint32_t dflt = mode == SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
    svtpm_err err = SVTPM_E_PERM;
    scmp_filter_ctx ctx = seccomp_init(dflt);
    if (!ctx)
        return err;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0) != 0)
            goto out;
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS)) != 0)
        goto out;
    if (seccomp_load(ctx) == 0)
        err = SVTPM_OK;
out:
    seccomp_release(ctx);
    return err;
}
