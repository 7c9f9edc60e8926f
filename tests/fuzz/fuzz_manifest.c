/* Fuzz target: the tenant-signed documents (src/common/manifest.h), binding
 * manifest and restore authorisation, as the enclave receives them from the
 * host: every input goes to both parsers. Invariants: a parse that succeeds
 * covers the whole input (signed part + 64-byte signature, within the size
 * limit), its fields are in range, the signature is the input's last 64
 * bytes, and re-packing the parsed body gives the signed prefix back byte
 * for byte (no field dropped, altered or left unchecked). With FZ_VERBOSE=1
 * the Ed25519 signature is checked too, as the enclave would next. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "bytes.h"
#include "manifest.h"
#include "fuzz_common.h"

static void check_manifest(const uint8_t *buf, size_t size)
{
    struct manifest m;
    size_t signed_len = 0;
    memset(&m, 0xA5, sizeof m);
    svtpm_err err = manifest_parse(buf, size, &m, &signed_len);
    if (err != SVTPM_OK) {
        FZ_CHECK(err == SVTPM_E_TRUNCATED || err == SVTPM_E_TOOBIG || err == SVTPM_E_FORMAT);
        if (size > MANIFEST_MAX_LEN)
            FZ_CHECK(err == SVTPM_E_TOOBIG);
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "manifest: %s\n", svtpm_strerror(err));
        return;
    }
    FZ_CHECK(size <= MANIFEST_MAX_LEN);
    FZ_CHECK(signed_len + MANIFEST_SIG_LEN == size);
    FZ_CHECK(signed_len == MANIFEST_FIXED_LEN + m.n_images * 32u + m.n_enclaves * MANIFEST_ENCLAVE_LEN +
                           (m.flags & MANIFEST_F_TIME_AUTHORITY ? 32u : 0u));
    FZ_CHECK((m.flags & ~MANIFEST_F_KNOWN) == 0);
    FZ_CHECK(get_be16(buf + 10) == m.flags);
    if (m.flags & MANIFEST_F_TIME_AUTHORITY)
        FZ_CHECK(memcmp(buf + signed_len - 32, m.time_authority, 32) == 0);
    FZ_CHECK(memcmp(buf, MANIFEST_MAGIC, 8) == 0);
    FZ_CHECK(m.generation >= 1);
    FZ_CHECK(m.policy == ROLLBACK_STRICT || m.policy == ROLLBACK_SNAPSHOT);
    FZ_CHECK(m.n_images <= MANIFEST_MAX_IMAGES);
    FZ_CHECK(m.n_enclaves >= 1 && m.n_enclaves <= MANIFEST_MAX_ENCLAVES);
    for (unsigned i = 0; i < m.n_enclaves; i++)
        FZ_CHECK(m.enclaves[i].kind == MANIFEST_ENCLAVE_MRENCLAVE ||
                 m.enclaves[i].kind == MANIFEST_ENCLAVE_MRSIGNER);
    FZ_CHECK(memcmp(m.signature, buf + signed_len, MANIFEST_SIG_LEN) == 0);
    uint8_t again[MANIFEST_MAX_LEN];
    FZ_CHECK(manifest_pack_body(&m, again, sizeof again) == signed_len);
    FZ_CHECK(memcmp(again, buf, signed_len) == 0);
    /* a cap one byte short must be refused, not overrun */
    FZ_CHECK(manifest_pack_body(&m, again, signed_len - 1) == 0);
    if (getenv("FZ_VERBOSE")) {
        svtpm_err v = crypto_ed25519_verify(m.tenant_pub, buf, signed_len, m.signature);
        fprintf(stderr, "manifest: parsed, %u images, %u enclaves, policy %s, signature %s\n", m.n_images,
                m.n_enclaves, rollback_policy_name(m.policy), svtpm_strerror(v));
    }
}

static void check_restore_auth(const uint8_t *buf, size_t size)
{
    struct restore_auth a;
    memset(&a, 0xA5, sizeof a);
    svtpm_err err = restore_auth_parse(buf, size, &a);
    if (size < RESTORE_AUTH_LEN)
        FZ_CHECK(err == SVTPM_E_TRUNCATED);
    else if (size > RESTORE_AUTH_LEN)
        FZ_CHECK(err == SVTPM_E_TOOBIG);
    if (err != SVTPM_OK) {
        FZ_CHECK(err == SVTPM_E_TRUNCATED || err == SVTPM_E_TOOBIG || err == SVTPM_E_FORMAT);
        if (size == RESTORE_AUTH_LEN)
            FZ_CHECK(err == SVTPM_E_FORMAT);
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "restore auth: %s\n", svtpm_strerror(err));
        return;
    }
    FZ_CHECK(size == RESTORE_AUTH_LEN);
    FZ_CHECK(memcmp(buf, RESTORE_AUTH_MAGIC, 8) == 0);
    FZ_CHECK(a.to_version >= 1 && a.to_version < a.from_version);
    FZ_CHECK(memcmp(a.signature, buf + RESTORE_AUTH_SIGNED_LEN, 64) == 0);
    uint8_t again[RESTORE_AUTH_LEN];
    FZ_CHECK(restore_auth_pack_body(&a, again, sizeof again) == RESTORE_AUTH_SIGNED_LEN);
    FZ_CHECK(memcmp(again, buf, RESTORE_AUTH_SIGNED_LEN) == 0);
    if (getenv("FZ_VERBOSE")) {
        svtpm_err v = crypto_ed25519_verify(a.tenant_pub, buf, RESTORE_AUTH_SIGNED_LEN, a.signature);
        fprintf(stderr, "restore auth: parsed, %llu -> %llu, signature %s\n",
                (unsigned long long)a.from_version, (unsigned long long)a.to_version, svtpm_strerror(v));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        FZ_CHECK(crypto_init() == SVTPM_OK);
        ready = 1;
    }
    /* exact-size copy: ASan flags any read past the input */
    uint8_t *buf = malloc(size ? size : 1);
    FZ_CHECK(buf);
    memcpy(buf, data, size);
    check_manifest(buf, size);
    check_restore_auth(buf, size);
    free(buf);
    return 0;
}
