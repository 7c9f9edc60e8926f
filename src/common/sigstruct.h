/* The enclave's SIGSTRUCT for the soft TEE platform: the enclave measurement
 * signed by its signer, as SGX's SIGSTRUCT is checked by EINIT. Fixed layout:
 *
 *   magic "SVTPMSIG" (8) | u16 version | u16 isv_prod_id | u16 isv_svn |
 *   u16 reserved | mrenclave[32] | signer Ed25519 public key[32] |
 *   signature[64] over all preceding bytes
 *
 * MRSIGNER is SHA-256 of the signer's public key. */
#ifndef SVTPM_SIGSTRUCT_H
#define SVTPM_SIGSTRUCT_H
#include <stdint.h>
#include <stddef.h>
#include "err.h"

#define SIGSTRUCT_MAGIC   "SVTPMSIG"
#define SIGSTRUCT_LEN     (8 + 8 + 32 + 32 + 64)
#define SIGSTRUCT_SIGNED_LEN (SIGSTRUCT_LEN - 64)

struct sigstruct {
    uint16_t version;
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint8_t mrenclave[32];
    uint8_t pubkey[32];
    uint8_t signature[64];
};

void sigstruct_pack(const struct sigstruct *s, uint8_t out[SIGSTRUCT_LEN]);
svtpm_err sigstruct_parse(const uint8_t *buf, size_t len, struct sigstruct *s);

#endif
