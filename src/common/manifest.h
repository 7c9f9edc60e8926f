/* Tenant-signed documents the enclave checks itself (docs/formats.md):
 *
 * The binding manifest ("SVTPMBM1") ties a vTPM id to a tenant key, the VM
 * boot image(s), the enclave identities allowed to run it and the rollback
 * policy. The tenant id is SHA-256 of the tenant's Ed25519 public key; the
 * sealing key and every sealed header depend on it.
 *
 *   magic[8] | u16 version=1 | u16 flags | vtpm_id[16] | tenant_pub[32] |
 *   u32 generation | u64 created (unix s) | u8 policy | u8 n_images |
 *   u8 n_enclaves | u8 reserved=0 | n_images × digest[32] |
 *   n_enclaves × (u8 kind | u8 0 | u16 isv_prod_id | u16 min_isv_svn | u16 0 | value[32]) |
 *   [time_authority[32], with MANIFEST_F_TIME_AUTHORITY] |
 *   signature[64]   (Ed25519 by tenant_pub over every preceding byte)
 *
 * The restore authorisation ("SVTPMRA1") lets a `snapshot`-policy vTPM accept
 * one older state: the state version the snapshot holds, named against the
 * recorded version it supersedes (so it is void once the vTPM moves on).
 *
 *   magic[8] | u16 version=1 | u16 flags=0 | vtpm_id[16] | tenant_pub[32] |
 *   u64 from_version | u64 to_version | u64 created | signature[64]
 *
 * All integers big-endian. This module packs and parses; it does no crypto:
 * the enclave verifies signatures, the tenant tool makes them. */
#ifndef SVTPM_MANIFEST_H
#define SVTPM_MANIFEST_H
#include <stdint.h>
#include <stddef.h>
#include "err.h"

#define MANIFEST_MAGIC        "SVTPMBM1"
#define RESTORE_AUTH_MAGIC    "SVTPMRA1"
#define MANIFEST_VERSION      1u
#define MANIFEST_MAX_IMAGES   8u
#define MANIFEST_MAX_ENCLAVES 8u
#define MANIFEST_FIXED_LEN    (8 + 2 + 2 + 16 + 32 + 4 + 8 + 4)
#define MANIFEST_ENCLAVE_LEN  (1 + 1 + 2 + 2 + 2 + 32)
#define MANIFEST_SIG_LEN      64u
#define MANIFEST_MAX_LEN      (MANIFEST_FIXED_LEN + MANIFEST_MAX_IMAGES * 32 + \
                               MANIFEST_MAX_ENCLAVES * MANIFEST_ENCLAVE_LEN + 32 + MANIFEST_SIG_LEN)
#define RESTORE_AUTH_LEN      (8 + 2 + 2 + 16 + 32 + 8 + 8 + 8 + 64)

/* Manifest flags. */
#define MANIFEST_F_CHARGE_RESUME 0x1u   /* a resume from volatile state after a
                                           DA-protected use costs one failed try */
#define MANIFEST_F_TIME_AUTHORITY 0x2u  /* the tenant pins a time authority's Ed25519
                                           key (timetoken.h): the clock trusts its tokens */
#define MANIFEST_F_RESUME_BUDGET 0x4u   /* such a resume is free once per recoveryTime of
                                           the TPM clock, charged beyond; needs
                                           MANIFEST_F_TIME_AUTHORITY, excludes CHARGE_RESUME */
#define MANIFEST_F_KNOWN         (MANIFEST_F_CHARGE_RESUME | MANIFEST_F_TIME_AUTHORITY | \
                                  MANIFEST_F_RESUME_BUDGET)

enum rollback_policy {
    ROLLBACK_STRICT = 1,     /* an older state is refused, as with a chip */
    ROLLBACK_SNAPSHOT = 2,   /* an older state needs a restore authorisation */
};

enum manifest_enclave_kind {
    MANIFEST_ENCLAVE_MRENCLAVE = 1,
    MANIFEST_ENCLAVE_MRSIGNER = 2,
};

struct manifest_enclave {
    uint8_t kind;
    uint16_t isv_prod_id;
    uint16_t min_isv_svn;
    uint8_t value[32];
};

struct manifest {
    uint8_t vtpm_id[16];
    uint8_t tenant_pub[32];
    uint16_t flags;          /* MANIFEST_F_* */
    uint32_t generation;     /* ≥ 1; a re-binding carries a higher one */
    uint64_t created;
    uint8_t policy;
    uint8_t n_images, n_enclaves;
    uint8_t images[MANIFEST_MAX_IMAGES][32];
    struct manifest_enclave enclaves[MANIFEST_MAX_ENCLAVES];
    uint8_t time_authority[32];   /* with MANIFEST_F_TIME_AUTHORITY */
    uint8_t signature[MANIFEST_SIG_LEN];
};

struct restore_auth {
    uint8_t vtpm_id[16];
    uint8_t tenant_pub[32];
    uint64_t from_version, to_version, created;
    uint8_t signature[64];
};

/* Packs everything but the signature; returns the signed length (the
 * signature goes right after it), 0 if m is out of range or cap too small. */
size_t manifest_pack_body(const struct manifest *m, uint8_t *out, size_t cap);
/* Checks structure and ranges; *signed_len is how many leading bytes the
 * signature covers. The length must be exact. */
svtpm_err manifest_parse(const uint8_t *buf, size_t len, struct manifest *m, size_t *signed_len);

size_t restore_auth_pack_body(const struct restore_auth *a, uint8_t *out, size_t cap);
svtpm_err restore_auth_parse(const uint8_t *buf, size_t len, struct restore_auth *a);
#define RESTORE_AUTH_SIGNED_LEN (RESTORE_AUTH_LEN - 64)

const char *rollback_policy_name(uint8_t policy);

#endif
