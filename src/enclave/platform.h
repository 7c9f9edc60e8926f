/* The TEE platform: the few hardware primitives the enclave needs.
 *
 *   identity  MRENCLAVE, MRSIGNER, ISV product id and SVN, CPU SVN
 *   get_key   EGETKEY semantics: key = KDF(platform secret, policy,
 *             identity selected by the policy, requested SVNs, key id);
 *             asking for an SVN above the current one is refused
 *
 * Backends: soft (a hardened process; platform secret in a root-only file;
 * no protection against host root, and every start says so) and, later, sgx
 * (Gramine's /dev/attestation). */
#ifndef SVTPM_PLATFORM_H
#define SVTPM_PLATFORM_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum tee_mode { TEE_SOFT = 0, TEE_SGX = 1 };

struct tee_identity {
    enum tee_mode mode;
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint8_t cpu_svn[16];
};

enum tee_key_name { TEE_KEY_SEAL = 4 };   /* SGX KEYNAME value for the seal key */

struct tee_keyreq {
    uint16_t key_name;
    uint16_t policy;            /* SEAL_POLICY_* */
    uint16_t isv_svn;
    uint8_t cpu_svn[16];
    uint8_t key_id[32];
};

#define TEE_KEY_LEN 16u            /* EGETKEY returns 128-bit keys */

struct tee_platform {
    struct tee_identity id;
    uint8_t secret[32];            /* soft: the platform secret (locked memory) */
};

/* soft backend: key_path is the platform key file (created 0600 if absent),
 * exe_path the enclave binary that is measured, sig_path its SIGSTRUCT. */
svtpm_err tee_soft_init(struct tee_platform *p, const char *key_path,
                        const char *exe_path, const char *sig_path, char *why, size_t whylen);
svtpm_err tee_get_key(const struct tee_platform *p, const struct tee_keyreq *req,
                      uint8_t key[TEE_KEY_LEN]);
void tee_wipe(struct tee_platform *p);

#endif
