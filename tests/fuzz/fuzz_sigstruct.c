/* Fuzz target: the enclave SIGSTRUCT parser (src/common/sigstruct.h), with
 * the checks the soft platform does after parsing (platform_soft.c measure:
 * Ed25519 signature over the signed part, MRSIGNER = SHA-256 of the key).
 * Invariants: a parse that succeeds means exactly SIGSTRUCT_LEN bytes with
 * magic, version 1 and a zero reserved field, and sigstruct_pack() gives the
 * input back byte for byte (no field is dropped or altered). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sigstruct.h"
#include "fuzz_common.h"

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
    struct sigstruct s;
    memset(&s, 0xA5, sizeof s);
    svtpm_err err = sigstruct_parse(buf, size, &s);
    if (size < SIGSTRUCT_LEN)
        FZ_CHECK(err == SVTPM_E_TRUNCATED);
    else if (size > SIGSTRUCT_LEN)
        FZ_CHECK(err == SVTPM_E_TOOBIG);
    if (err == SVTPM_OK) {
        FZ_CHECK(size == SIGSTRUCT_LEN);
        FZ_CHECK(memcmp(buf, SIGSTRUCT_MAGIC, 8) == 0);
        FZ_CHECK(s.version == 1);
        FZ_CHECK(buf[14] == 0 && buf[15] == 0);
        uint8_t again[SIGSTRUCT_LEN];
        sigstruct_pack(&s, again);
        FZ_CHECK(memcmp(again, buf, SIGSTRUCT_LEN) == 0);
        /* what measure() does next */
        svtpm_err v = crypto_ed25519_verify(s.pubkey, buf, SIGSTRUCT_SIGNED_LEN, s.signature);
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "sigstruct: parsed, svn %u, signature %s\n", s.isv_svn, svtpm_strerror(v));
        if (v == SVTPM_OK) {
            uint8_t mrsigner[32];
            struct iovc pk = { s.pubkey, 32 };
            FZ_CHECK(crypto_sha256(&pk, 1, mrsigner) == SVTPM_OK);
        }
    } else {
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "sigstruct: %s\n", svtpm_strerror(err));
        FZ_CHECK(err == SVTPM_E_TRUNCATED || err == SVTPM_E_TOOBIG || err == SVTPM_E_FORMAT);
        if (size == SIGSTRUCT_LEN)
            FZ_CHECK(err == SVTPM_E_FORMAT);
    }
    free(buf);
    return 0;
}
