#include "sfilter.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SF_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SF_ARCH AUDIT_ARCH_AARCH64
#else
#error "sfilter: unsupported architecture"
#endif

#define SF_MAX 256

svtpm_err sfilter_install(const struct sfilter *f)
{
    struct sock_filter p[SF_MAX];
    size_t n = 0;
    uint32_t deny = f->action == SFILTER_LOG ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS;
    uint32_t hit = f->kind == SFILTER_ALLOWLIST ? SECCOMP_RET_ALLOW : deny;
    uint32_t miss = f->kind == SFILTER_ALLOWLIST ? deny : SECCOMP_RET_ALLOW;
    if (2 * f->n + 12 > SF_MAX)
        return SVTPM_E_TOOBIG;

    /* A foreign architecture (or x86's x32 numbers) would reinterpret the
     * numbers below: always kill. The kill is the program's last statement. */
    p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    size_t arch_jump = n++;
    p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    size_t x32_jump = n++;
#endif
    for (size_t i = 0; i < f->n; i++) {
        if (f->nrs[i] < 0)
            continue;
        p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)f->nrs[i], 0, 1);
        p[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, hit);
    }
    if (f->kind == SFILTER_ALLOWLIST && f->arg1_nr >= 0) {
        /* the one syscall allowed with one value of its second argument */
        p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)f->arg1_nr, 0, 3);
        p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                              offsetof(struct seccomp_data, args[1]));
        p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, f->arg1_value, 0, 1);
        p[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    p[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, miss);
    size_t kill = n;
    p[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    if (kill - arch_jump - 1 > 255)
        return SVTPM_E_TOOBIG;
    p[arch_jump] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SF_ARCH, 0,
                                                (uint8_t)(kill - arch_jump - 1));
#if defined(__x86_64__)
    p[x32_jump] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u,
                                               (uint8_t)(kill - x32_jump - 1), 0);
#endif
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = p };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return SVTPM_E_PERM;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return SVTPM_E_PERM;
    return SVTPM_OK;
}
