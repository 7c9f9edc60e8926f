/* One project-wide error list. Every fallible function returns svtpm_err.
 * A TPM response code is data carried in a response, never an svtpm_err. */
#ifndef SVTPM_ERR_H
#define SVTPM_ERR_H

typedef enum svtpm_err {
    SVTPM_OK = 0,
    SVTPM_E_INVAL,       /* bad argument or malformed input */
    SVTPM_E_NOMEM,
    SVTPM_E_IO,          /* a file or socket operation failed (errno logged) */
    SVTPM_E_NOTFOUND,    /* the thing asked for does not exist */
    SVTPM_E_TOOBIG,      /* input exceeds a named size limit */
    SVTPM_E_TRUNCATED,   /* input ends before its declared length */
    SVTPM_E_FORMAT,      /* not our format, or an unsupported version */
    SVTPM_E_AUTH,        /* authentication failed: tampered, foreign key, wrong key */
    SVTPM_E_FOREIGN,     /* authentic, but belongs to another vTPM / signer */
    SVTPM_E_CRYPTO,      /* a crypto library call failed */
    SVTPM_E_PROTO,       /* peer broke the message protocol */
    SVTPM_E_STATE,       /* operation not allowed in the current state */
    SVTPM_E_PERM,        /* not permitted (policy, identity, SVN) */
    SVTPM_E_TIMEOUT,
    SVTPM_E_PEER,        /* the other side of the boundary died or misbehaved */
    SVTPM_E_TPM,         /* a libtpms library call (not a TPM command) failed */
    SVTPM_E_UNSUPPORTED,
    SVTPM_E_ROLLBACK,    /* authentic, but older than the recorded state version */
    SVTPM_E__COUNT
} svtpm_err;

const char *svtpm_strerror(svtpm_err e);

#endif
