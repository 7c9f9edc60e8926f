/* The few primitives the enclave needs, over OpenSSL 3. Algorithms are
 * fetched once by crypto_init() (before the syscall filter goes on, and so the
 * hot path never pays for a provider lookup); after that the handles are
 * read-only. */
#ifndef SVTPM_CRYPTO_H
#define SVTPM_CRYPTO_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct iovc { const void *p; size_t n; };

svtpm_err crypto_init(void);
svtpm_err crypto_random(void *out, size_t n);
svtpm_err crypto_sha256(const struct iovc *parts, size_t nparts, uint8_t out[32]);
/* Streaming SHA-256, for inputs that arrive in pieces (VM images). */
struct crypto_hash;
svtpm_err crypto_sha256_begin(struct crypto_hash **h);
svtpm_err crypto_sha256_update(struct crypto_hash *h, const void *p, size_t n);
/* Frees h whatever happens; out is written on success. */
svtpm_err crypto_sha256_end(struct crypto_hash *h, uint8_t out[32]);
svtpm_err crypto_hmac_sha256(const void *key, size_t keylen,
                             const struct iovc *parts, size_t nparts, uint8_t out[32]);
/* HKDF-SHA256 (RFC 5869), out_len ≤ 64 */
svtpm_err crypto_hkdf(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                      const struct iovc *info, size_t ninfo, uint8_t *out, size_t out_len);
svtpm_err crypto_gcm_seal(const uint8_t key[32], const uint8_t iv[12],
                          const void *aad, size_t aad_len, const void *in, size_t len,
                          uint8_t *out, uint8_t tag[16]);
/* SVTPM_E_AUTH when the tag does not verify; out is wiped then. */
svtpm_err crypto_gcm_open(const uint8_t key[32], const uint8_t iv[12],
                          const void *aad, size_t aad_len, const void *in, size_t len,
                          const uint8_t tag[16], uint8_t *out);
/* AES-CBC without padding (keylen 16 or 32), for swtpm state import. */
svtpm_err crypto_cbc_decrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16],
                             const void *in, size_t len, uint8_t *out);
svtpm_err crypto_ed25519_verify(const uint8_t pub[32], const void *msg, size_t len,
                                const uint8_t sig[64]);

#endif
