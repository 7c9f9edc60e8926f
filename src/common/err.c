#include "err.h"

const char *svtpm_strerror(svtpm_err e)
{
    static const char *const names[SVTPM_E__COUNT] = {
        [SVTPM_OK] = "success",
        [SVTPM_E_INVAL] = "invalid argument or malformed input",
        [SVTPM_E_NOMEM] = "out of memory",
        [SVTPM_E_IO] = "I/O error",
        [SVTPM_E_NOTFOUND] = "not found",
        [SVTPM_E_TOOBIG] = "exceeds size limit",
        [SVTPM_E_TRUNCATED] = "truncated",
        [SVTPM_E_FORMAT] = "unknown format or version",
        [SVTPM_E_AUTH] = "authentication failed (tampered or wrong key)",
        [SVTPM_E_FOREIGN] = "belongs to another vTPM or signer",
        [SVTPM_E_CRYPTO] = "cryptographic operation failed",
        [SVTPM_E_PROTO] = "protocol violation",
        [SVTPM_E_STATE] = "not allowed in current state",
        [SVTPM_E_PERM] = "not permitted",
        [SVTPM_E_TIMEOUT] = "timed out",
        [SVTPM_E_PEER] = "peer failed",
        [SVTPM_E_TPM] = "TPM library call failed",
        [SVTPM_E_UNSUPPORTED] = "unsupported",
        [SVTPM_E_ROLLBACK] = "older than the recorded state version (rollback)",
    };
    if ((unsigned)e >= SVTPM_E__COUNT || !names[e])
        return "unknown error";
    return names[e];
}
