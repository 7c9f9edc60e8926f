/* The swtpm control protocol (CMD_*), byte for byte: see
 * shared/reference/swtpm-interface.md §1. This module is pure: it frames a
 * request from bytes and builds replies; ctrl.c does the I/O and dispatch. */
#ifndef SVTPM_CTRL_PROTO_H
#define SVTPM_CTRL_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum ptm_cmd {
    CMD_GET_CAPABILITY = 0x01, CMD_INIT, CMD_SHUTDOWN, CMD_GET_TPMESTABLISHED,
    CMD_SET_LOCALITY, CMD_HASH_START, CMD_HASH_DATA, CMD_HASH_END, CMD_CANCEL_TPM_CMD,
    CMD_STORE_VOLATILE, CMD_RESET_TPMESTABLISHED, CMD_GET_STATEBLOB, CMD_SET_STATEBLOB,
    CMD_STOP, CMD_GET_CONFIG, CMD_SET_DATAFD, CMD_SET_BUFFERSIZE, CMD_GET_INFO,
    CMD_LOCK_STORAGE,
};

/* TPM_RESULT values used on the control channel (libtpms tpm_error.h). */
#define PTM_SUCCESS        0x00u
#define PTM_BAD_PARAMETER  0x03u
#define PTM_FAIL           0x09u
#define PTM_BAD_ORDINAL    0x0Au
#define PTM_KEYNOTFOUND    0x0Du
#define PTM_SIZE           0x17u
#define PTM_IOERROR        0x1Fu
#define PTM_DECRYPT_ERROR  0x21u
#define PTM_BAD_LOCALITY   0x3Du
#define PTM_RETRY          0x800u

#define PTM_CAPS 0x1FFFFu   /* everything in the table below, LOCK_STORAGE included */

#define PTM_HASH_DATA_MAX   4096u
#define PTM_GETINFO_CHUNK   3072u
#define PTM_STATE_FLAG_ENCRYPTED 2u

struct ctrl_desc {
    uint32_t code;
    const char *name;
    uint32_t req_min;     /* payload bytes after the code */
    uint32_t req_max;     /* > req_min: variable (SET_LOCALITY 1..4) */
    uint32_t err_reply;   /* size of an error reply (full struct where QEMU reads fixed sizes) */
};

const struct ctrl_desc *ctrl_desc(uint32_t code);

/* Framing: given the bytes of one request received so far (code first),
 * says how many more bytes are needed before it is complete (0 = complete),
 * or an error: SVTPM_E_INVAL for a length field over its limit. For unknown
 * codes the request is complete after the code. */
svtpm_err ctrl_need(const uint8_t *buf, size_t len, size_t *need);

/* A parsed request (pointers into the caller's buffer). */
struct ctrl_req {
    uint32_t code;
    const struct ctrl_desc *d;      /* NULL: unknown command */
    const uint8_t *payload;
    size_t payload_len;
    /* decoded fields */
    uint32_t u32a, u32b, u32c;      /* INIT flags / SET_BUFFERSIZE / LOCK retries;
                                       STATEBLOB flags, type, offset|length */
    uint64_t u64;                   /* GET_INFO flags */
    uint8_t loc;                    /* SET_LOCALITY / RESET_TPMESTABLISHED */
    const uint8_t *data;            /* HASH_DATA / SET_STATEBLOB body */
    uint32_t data_len;
};

/* Decodes a complete request. SVTPM_E_INVAL: malformed (reply BAD_PARAMETER). */
svtpm_err ctrl_parse(const uint8_t *buf, size_t len, struct ctrl_req *r);

/* Builds the reply for a failed command: result + zeros, err_reply bytes. */
size_t ctrl_error_reply(uint32_t code, uint32_t result, uint8_t *out, size_t cap);

#endif
