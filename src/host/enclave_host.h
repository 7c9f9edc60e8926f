/* The host's side of the enclave boundary: starts the enclave process, and
 * offers one stub per ECALL. Stubs only marshal and unmarshal; every
 * decision is the enclave's. OCALLs arriving during an ECALL are served from
 * a fixed table (log, read/write/delete a sealed file). */
#ifndef SVTPM_ENCLAVE_HOST_H
#define SVTPM_ENCLAVE_HOST_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "chan.h"
#include "statedir.h"

struct enclave_host {
    struct chan chan;
    pid_t pid;
    struct statedir *sd;
    uint64_t ocalls;
    char *const *images;     /* VM images the enclave may ask to measure */
    unsigned n_images;
    struct statedir *nrs;    /* the host-wide counter store (--counters), or NULL */
    const char *time_authority;   /* HOST:PORT of the time authority, or NULL */
};

struct enclave_identity {
    uint8_t mode;            /* 0 soft, 1 sgx */
    uint8_t mrenclave[32], mrsigner[32];
    uint16_t isv_prod_id, isv_svn;
};

struct enclave_start {
    const char *enclave_path;    /* NULL: next to this program */
    const char *platform_key;
    const char *seccomp;         /* kill | log | off */
};

svtpm_err eh_start(struct enclave_host *eh, const struct enclave_start *st, struct statedir *sd);
void eh_stop(struct enclave_host *eh);

svtpm_err eh_ping(struct enclave_host *eh, uint32_t len);
/* flags: INIT_F_NO_AUTO_SHUTDOWN (abi.h) or 0 */
svtpm_err eh_init(struct enclave_host *eh, const uint8_t *vtpm_id, uint32_t flags,
                  struct enclave_identity *id);
/* tpm_result 0 = running; otherwise err/file say why the state would not open. */
svtpm_err eh_power_on(struct enclave_host *eh, uint32_t flags, uint32_t *tpm_result,
                      svtpm_err *state_err, uint32_t *state_file);
svtpm_err eh_power_off(struct enclave_host *eh);
/* *resp points into the shared area, valid until the next call. */
svtpm_err eh_process(struct enclave_host *eh, uint8_t loc, const uint8_t *cmd, uint32_t len,
                     const uint8_t **resp, uint32_t *resp_len);
svtpm_err eh_set_buffersize(struct enclave_host *eh, uint32_t wanted, uint32_t out[3]);
svtpm_err eh_get_info(struct enclave_host *eh, uint64_t flags, const char **json, uint32_t *len);
svtpm_err eh_est_get(struct enclave_host *eh, uint32_t *result, uint8_t *bit);
svtpm_err eh_est_reset(struct enclave_host *eh, uint8_t loc, uint32_t *result);
svtpm_err eh_simple(struct enclave_host *eh, uint32_t call, uint32_t *result); /* HASH_START/END, STORE_VOLATILE, CANCEL */
svtpm_err eh_hash_data(struct enclave_host *eh, const uint8_t *p, uint32_t len, uint32_t *result);
svtpm_err eh_get_stateblob(struct enclave_host *eh, uint32_t type, uint32_t *result,
                           const uint8_t **blob, uint32_t *len);
svtpm_err eh_set_stateblob(struct enclave_host *eh, uint32_t type, const uint8_t *blob, uint32_t len,
                           uint32_t *result);
/* Hands the enclave the tenant's binding manifest (after init, before
 * power-on); the enclave verifies it, measures the images and opens the
 * existing state once. *state_file: the state file it refused, or 0. */
svtpm_err eh_bind(struct enclave_host *eh, const uint8_t *manifest, uint32_t len,
                  const uint8_t *auth, uint32_t auth_len, uint32_t *state_file);
struct enclave_state_info { bool have_permall; uint64_t seq; uint8_t vtpm_id[16]; uint32_t open_ns; };
svtpm_err eh_state_info(struct enclave_host *eh, struct enclave_state_info *si);
/* kind: enclave import.h IMPORT_KEY_*; secret: key file bytes or passphrase */
svtpm_err eh_import(struct enclave_host *eh, uint32_t file, uint32_t kind, uint32_t keylen,
                    const uint8_t *secret, uint32_t slen, const uint8_t *blob, uint32_t len);

#endif
