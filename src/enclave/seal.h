/* Sealing one record: AES-256-GCM under a key derived from the platform's
 * EGETKEY-style seal key, with the whole header as additional data. */
#ifndef SVTPM_SEAL_H
#define SVTPM_SEAL_H
#include "platform.h"
#include "sealfmt.h"

/* Fills the identity fields of h (policy MRSIGNER, current SVNs, signer) and
 * a fresh IV; the caller sets kind, seq, vtpm_id and key_id. Writes the record
 * (seal_rec_len(len) bytes) to out. */
svtpm_err seal_record(const struct tee_platform *p, struct seal_hdr *h,
                      const uint8_t *plain, uint32_t len, uint8_t *out, size_t cap);

/* Authenticates and decrypts one record of `avail` bytes; plain must hold
 * SEAL_PAYLOAD_MAX bytes. SVTPM_E_PERM: the header asks for a key this
 * enclave may not derive (another signer or product, a newer SVN — or a
 * damaged header); SVTPM_E_AUTH: tampered, or sealed on another platform. */
svtpm_err seal_open(const struct tee_platform *p, const uint8_t *rec, size_t avail,
                    struct seal_hdr *h, uint8_t *plain, uint32_t *len);

#endif
