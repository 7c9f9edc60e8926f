/* seccomp filters built directly as classic BPF: an allowlist (the enclave)
 * or a denylist (the host), without libseccomp's library load and runtime
 * compilation on every start. */
#ifndef SVTPM_SFILTER_H
#define SVTPM_SFILTER_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum sfilter_kind { SFILTER_ALLOWLIST, SFILTER_DENYLIST };
enum sfilter_action { SFILTER_KILL, SFILTER_LOG };

struct sfilter {
    enum sfilter_kind kind;
    enum sfilter_action action;   /* for calls not allowed / on the denylist */
    const long *nrs;              /* syscall numbers; -1 entries are skipped */
    size_t n;
    long arg1_nr;                 /* allowlist: also allow this syscall ... */
    uint32_t arg1_value;          /* ... when its second argument is this (-1: none) */
};

/* Sets no_new_privs and installs the filter for this process and its children. */
svtpm_err sfilter_install(const struct sfilter *f);

#endif
