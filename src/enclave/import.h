/* Import of an existing swtpm state file (plain, or encrypted with swtpm's
 * --key) into sealed state. The key is derived and the state decrypted only
 * in the enclave. Request (ECALL_IMPORT_SWTPM), all u32 big-endian:
 *   file (STATE_FILE_*), key_kind (IMPORT_KEY_*), keylen (0, 16 or 32),
 *   secret_len, secret bytes (key file or passphrase), swtpm file bytes */
#ifndef SVTPM_IMPORT_H
#define SVTPM_IMPORT_H
#include <stdbool.h>
#include "bytes.h"
#include "store.h"

enum import_key_kind {
    IMPORT_KEY_NONE = 0,
    IMPORT_KEY_BINARY = 1,    /* --key format=binary */
    IMPORT_KEY_HEX = 2,       /* --key format=hex (default) */
    IMPORT_KEY_PBKDF2 = 3,    /* --key pwdfile= (kdf=pbkdf2, default) */
    IMPORT_KEY_SHA512 = 4,    /* --key pwdfile=,kdf=sha512 */
};

svtpm_err import_swtpm(struct store *s, struct ocall_ctx *oc, struct rd *req, bool perm_emptied);
/* swtpm's key derivation: the AES key from a key file or a passphrase. */
svtpm_err import_derive_key(uint32_t kind, uint32_t keylen, const uint8_t *secret, size_t slen,
                            uint8_t key[32], size_t *key_len);
/* Decrypts/extracts the libtpms blob of one swtpm file into out (cap bytes). */
svtpm_err import_unwrap(const uint8_t *key, size_t keylen, const uint8_t *file, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len);

#endif
