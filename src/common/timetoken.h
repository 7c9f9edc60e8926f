/* The time token ("SVTPMTT1", docs/formats.md; issue 5, trusted clock):
 * a time authority (later the KMC; for now a local key, `svtpm-timeauth`)
 * signs its current time together with a nonce the enclave chose, so that
 * the enclave learns an authenticated lower bound on real time.
 *
 *   off size field
 *   0   8    magic "SVTPMTT1"
 *   8   2    version = 1
 *   10  2    flags = 0
 *   12  32   nonce: chosen by the enclave
 *   44  8    time_ms: the authority's UTC time when signing, ms since the
 *            Unix epoch (> 0)
 *   52  4    accuracy_ms: the authority's stated bound on its own error
 *   56  4    reserved = 0
 *   60  32   authority id: SHA-256 of the authority's raw Ed25519 public key
 *   92  64   signature: Ed25519 by the authority over bytes 0..91 (the first 92)
 *
 * All integers big-endian; exactly TIMETOKEN_LEN bytes.
 *
 * Why these fields:
 * - the nonce gives freshness: the enclave picks it just before asking, so a
 *   token that carries it was signed after that moment. time_ms is then a
 *   lower bound on the time now (at least time_ms - accuracy_ms); the host
 *   can delay a token but never make an old one answer a new nonce;
 * - the authority id names the key: the verifier picks the authority's
 *   public key it has pinned by this id (several authorities, key rollover)
 *   instead of trying each, and a token for an unknown id is refused before
 *   any signature check. The id is not a key: a token cannot bring its own.
 *
 * This module packs and parses; it does no crypto: the enclave verifies the
 * signature, the authority's tool makes it. */
#ifndef SVTPM_TIMETOKEN_H
#define SVTPM_TIMETOKEN_H
#include <stdint.h>
#include <stddef.h>
#include "err.h"

#define TIMETOKEN_MAGIC      "SVTPMTT1"
#define TIMETOKEN_VERSION    1u
#define TIMETOKEN_LEN        156
#define TIMETOKEN_SIGNED_LEN 92
#define TIMETOKEN_SIG_LEN    (TIMETOKEN_LEN - TIMETOKEN_SIGNED_LEN)

struct timetoken {
    uint8_t nonce[32];
    uint64_t time_ms;          /* > 0 */
    uint32_t accuracy_ms;
    uint8_t authority_id[32];
    uint8_t signature[64];
};

/* Packs the signed part (bytes 0..91; the signature goes right after it).
 * Returns TIMETOKEN_SIGNED_LEN, or 0 (nothing written) if cap is smaller or
 * t->time_ms is 0: what the parser would refuse is never made. */
size_t timetoken_pack_body(const struct timetoken *t, uint8_t *out, size_t cap);

/* Checks the structure only (not the signature, not the authority). The
 * length must be exact: shorter is SVTPM_E_TRUNCATED, longer SVTPM_E_TOOBIG;
 * a wrong magic, version, flags or reserved field, or time_ms 0, is
 * SVTPM_E_FORMAT. On any failure *t is all zero. */
svtpm_err timetoken_parse(const uint8_t *buf, size_t len, struct timetoken *t);

#endif
