/* libtpms inside the enclave: its storage callbacks go to the sealed store,
 * its locality comes from the host's last SET_LOCALITY, and it only ever runs
 * on the enclave's one thread. */
#ifndef SVTPM_TPM_H
#define SVTPM_TPM_H
#include <stdbool.h>
#include <stdint.h>
#include "store.h"

struct tpm {
    struct store *store;
    struct ocall_ctx *oc;
    uint8_t locality;
    bool running;
    bool auto_shutdown;         /* send TPM2_Shutdown before power-off (swtpm 0.8+) */
    uint32_t last_ordinal;
    bool handed_off;            /* under rollback protection, the permanent
                                   state went out as a blob (migration, save)
                                   and no command ran since: no auto-shutdown,
                                   whose write would make that blob stale */
    unsigned char *rbuf;        /* libtpms' response buffer, reused */
    uint32_t rbuf_size;
    /* One-shot cache: libtpms loads permall twice per power-on. */
    uint8_t *cache;
    uint32_t cache_len;
    bool caching;
    bool load_failed;           /* permall failed to open during this power-on */
    bool perm_emptied;          /* an empty permanent blob was set (until power-on):
                                   libtpms 0.9.2 crashes on a volatile one then */
    /* MANIFEST_F_CHARGE_RESUME: a resume skips TPM2_Startup and its DA
     * charge, so the enclave charges it (tpmstate_charge_resume). */
    bool charge_pending;        /* this power-on resumes from the volatilestate file */
    bool vol_blob_set;          /* a volatile blob was set: it, not the file, resumes */
    uint8_t *mig_perm;          /* the permanent blob set, kept to charge before the volatile one */
    uint32_t mig_perm_len;
    /* The clock lease (tpmclock.h): the TPM clock read at enclave clock
     * clock_at_ms, from which an upper bound of the clock now follows. */
    bool clock_sampled;
    uint64_t clock_ms, clock_at_ms;
    bool start_clock_known;     /* the permanent state's clock as this power-on loads it */
    uint64_t start_clock;
    uint64_t lease_ms;          /* unbound: the lease the permanent state carries */
    bool blob_tie_known;        /* an incoming permanent blob carried the clock's tie */
    int64_t blob_tie;
    bool tie_known;             /* the tie this power-on holds the clock to (eclock_carry) */
    int64_t tie;
};

#define TPM2_CC_SHUTDOWN 0x145u

svtpm_err tpm_init(struct tpm *t, struct store *s, struct ocall_ctx *oc);
void tpm_fini(struct tpm *t);
/* Returns the TPM_RESULT of TPMLIB_MainInit (0 = running). */
uint32_t tpm_power_on(struct tpm *t, uint32_t init_flags);
void tpm_power_off(struct tpm *t);
/* Runs one command; out gets the response (≤ cap). */
svtpm_err tpm_process(struct tpm *t, uint8_t locality, const uint8_t *cmd, uint32_t len,
                      uint8_t *out, uint32_t cap, uint32_t *out_len);
/* Migration blobs: the TPM state sealed for transport (svtpm's own format). */
uint32_t tpm_get_stateblob(struct tpm *t, uint32_t type, uint8_t *out, uint32_t cap, uint32_t *len);
uint32_t tpm_set_stateblob(struct tpm *t, uint32_t type, const uint8_t *blob, uint32_t len);
uint32_t tpm_store_volatile(struct tpm *t);

#endif
