/* The enclave boundary: a fixed, versioned table of ECALLs (host → enclave)
 * and OCALLs (enclave → host). Anything not in these tables is refused.
 * Each call has named size limits; the receiver copies a message in only after
 * checking its length against them, then parses the copy.
 *
 * Payload layouts (all integers big-endian) are documented per call below and
 * in docs/formats.md; marshalling lives next to each caller, parsing next to
 * each handler, both using bytes.h. */
#ifndef SVTPM_ABI_H
#define SVTPM_ABI_H
#include <stdint.h>
#include <stddef.h>

#define SVTPM_ABI_VERSION 1u

/* Named size limits. */
#define SVTPM_TPM_CMD_MAX      4096u            /* libtpms TPM_BUFFER_MAX */
#define SVTPM_TPM_RESP_MAX     4096u
#define SVTPM_INFO_MAX         8192u            /* GET_INFO JSON */
#define SVTPM_HASH_CHUNK_MAX   4096u            /* one HASH_DATA piece */
#define SVTPM_LOG_MAX          1024u            /* one enclave log line */
#define SVTPM_STATE_PLAIN_MAX  (224u * 1024u)   /* one libtpms state blob */
#define SVTPM_SEALED_REC_MAX   (SVTPM_STATE_PLAIN_MAX + 512u)
#define SVTPM_IMPORT_MAX       (256u * 1024u)   /* one swtpm state file */
#define SVTPM_KEY_MAX          1024u            /* swtpm --key material: key file or passphrase */
#define SVTPM_CHAN_DATA_MAX    (2u * SVTPM_SEALED_REC_MAX + 64u)
#define SVTPM_MANIFEST_MAX     1024u            /* a binding manifest (manifest.h) */
#define SVTPM_IMAGE_CHUNK_MAX  (64u * 1024u)    /* one piece of a VM image being measured: small, so
                                                 * measuring touches 64 KiB of the shared area and of the
                                                 * enclave's answer buffer, not 256 (-0.4 MiB PSS bound) */

enum svtpm_ecall {
    ECALL_PING = 1,          /* req: ≤64 bytes, echoed back */
    ECALL_INIT,              /* req: init_req; resp: identity summary */
    ECALL_POWER_ON,          /* req: u32 init_flags; resp: u32 tpm_result, u32 state_err, u32 state_file */
    ECALL_POWER_OFF,         /* req: -; resp: - */
    ECALL_PROCESS,           /* req: u8 locality, command; resp: response */
    ECALL_SET_BUFFERSIZE,    /* req: u32 wanted; resp: u32 size, u32 min, u32 max */
    ECALL_GET_INFO,          /* req: u64 flags; resp: JSON text */
    ECALL_EST_GET,           /* req: -; resp: u32 tpm_result, u8 bit */
    ECALL_EST_RESET,         /* req: u8 locality; resp: u32 tpm_result */
    ECALL_HASH_START,        /* req: -; resp: u32 tpm_result */
    ECALL_HASH_DATA,         /* req: data; resp: u32 tpm_result */
    ECALL_HASH_END,          /* req: -; resp: u32 tpm_result */
    ECALL_CANCEL,            /* req: -; resp: - */
    ECALL_STORE_VOLATILE,    /* req: -; resp: u32 tpm_result */
    ECALL_GET_STATEBLOB,     /* req: u32 type; resp: u32 tpm_result, blob */
    ECALL_SET_STATEBLOB,     /* req: u32 type, blob; resp: u32 tpm_result */
    ECALL_IMPORT_SWTPM,      /* req: import_req; resp: - */
    ECALL_STATE_INFO,        /* req: -; resp: state_info */
    ECALL_BIND,              /* req: u32 n_images, u32 flags (BIND_F_*), u32 manifest_len, manifest,
                              * restore authorisation (optional); resp: u32 verdict (svtpm_err),
                              * u32 state_file it refused (0: none). After INIT, before POWER_ON. */
    ECALL__END
};

enum svtpm_ocall {
    OCALL_LOG = 1,           /* req: u32 level, text; resp: - */
    OCALL_STATE_READ,        /* req: u32 file; resp: u64 file_size, u32 n0, rec0, u32 n1, rec1 */
    OCALL_STATE_WRITE,       /* req: u32 file, u32 slot, u32 retire_tag_off, record; resp: -
                              * after the record is durable, the host zeroes the 16-byte
                              * tag at retire_tag_off in the other slot (0: none) */
    OCALL_STATE_DELETE,      /* req: u32 file; resp: - */
    OCALL_IMAGE_READ,        /* req: u32 image, u64 offset; resp: u64 image_size, data
                              * (≤ SVTPM_IMAGE_CHUNK_MAX bytes from offset) */
    OCALL_TIME_TOKEN,        /* req: nonce[32]; resp: a time token for it (timetoken.h),
                              * fetched from the time authority (--time-authority) */
    OCALL__END
};

/* The sealed files the enclave asks the host to keep. */
enum svtpm_state_file {
    STATE_FILE_PERMALL = 1,
    STATE_FILE_VOLATILE = 2,
    STATE_FILE_NRS = 3,      /* the host-wide non-rollback store (counters directory):
                              * STATE_READ of it takes the store's lock, STATE_WRITE
                              * (durable) releases it, as does the end of the ECALL */
};

struct svtpm_call_desc {
    uint32_t id;
    const char *name;
    uint32_t req_max;    /* largest request payload accepted */
    uint32_t resp_max;   /* largest response payload accepted */
};

const struct svtpm_call_desc *abi_ecall(uint32_t id);
const struct svtpm_call_desc *abi_ocall(uint32_t id);

#define BIND_F_COUNTERS 0x1u   /* the host keeps a counter store (STATE_FILE_NRS) */

/* ECALL_INIT request: flags, then the vTPM id when the host names one. */
#define INIT_F_HAVE_VTPM_ID  0x1u
#define INIT_F_NO_AUTO_SHUTDOWN 0x2u   /* --flags disable-auto-shutdown */
#define INIT_REQ_LEN         (4 + 16 + 4)
/* ECALL_INIT response: tee mode (u8: 0 soft, 1 sgx), mrenclave[32], mrsigner[32],
 * u16 isvprodid, u16 isvsvn */
#define INIT_RESP_LEN        (1 + 32 + 32 + 2 + 2)
/* ECALL_STATE_INFO response: u8 have_permall, u64 seq, u8 vtpm_id[16],
 * u32 open_ns (time the last open spent authenticating and decrypting) */
#define STATE_INFO_RESP_LEN  (1 + 8 + 16 + 4)

#endif
