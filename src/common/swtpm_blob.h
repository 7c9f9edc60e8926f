/* Parser for swtpm's state-file blob (header v2 + TLVs, swtpm 0.7), used to
 * import an existing swtpm state directory. Parsing only; decryption is the
 * enclave's. See shared/reference/swtpm-interface.md §4.2–4.4. */
#ifndef SVTPM_SWTPM_BLOB_H
#define SVTPM_SWTPM_BLOB_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define SWTPM_BLOB_HDR_LEN 10u
#define SWTPM_FLAG_ENCRYPTED       0x01u
#define SWTPM_FLAG_ENCRYPTED_256   0x08u

enum swtpm_tag {
    SWTPM_TAG_DATA = 1,
    SWTPM_TAG_ENCRYPTED_DATA = 2,
    SWTPM_TAG_HMAC = 3,
    SWTPM_TAG_IVEC_ENCRYPTED_DATA = 6,
};

struct swtpm_blob {
    uint16_t flags;
    const uint8_t *data;   size_t data_len;   /* TLV 1, plaintext */
    const uint8_t *enc;    size_t enc_len;    /* TLV 2 */
    const uint8_t *hmac;   size_t hmac_len;   /* TLV 3 */
    const uint8_t *iv;     size_t iv_len;     /* TLV 6 */
};

/* Checks the header (version 2, hdrsize 10, totlen == len) and walks the
 * TLVs; the first occurrence of each tag wins, unknown tags are skipped. */
svtpm_err swtpm_blob_parse(const uint8_t *buf, size_t len, struct swtpm_blob *b);

#endif
