#include "abi.h"
#include "manifest.h"
#include "timetoken.h"

static const struct svtpm_call_desc ecalls[] = {
    { ECALL_PING,           "PING",           64,                       64 },
    { ECALL_INIT,           "INIT",           INIT_REQ_LEN,             INIT_RESP_LEN },
    { ECALL_POWER_ON,       "POWER_ON",       4,                        12 },
    { ECALL_POWER_OFF,      "POWER_OFF",      0,                        0 },
    { ECALL_PROCESS,        "PROCESS",        1 + SVTPM_TPM_CMD_MAX,    SVTPM_TPM_RESP_MAX },
    { ECALL_SET_BUFFERSIZE, "SET_BUFFERSIZE", 4,                        12 },
    { ECALL_GET_INFO,       "GET_INFO",       8,                        SVTPM_INFO_MAX },
    { ECALL_EST_GET,        "EST_GET",        0,                        5 },
    { ECALL_EST_RESET,      "EST_RESET",      1,                        4 },
    { ECALL_HASH_START,     "HASH_START",     0,                        4 },
    { ECALL_HASH_DATA,      "HASH_DATA",      SVTPM_HASH_CHUNK_MAX,     4 },
    { ECALL_HASH_END,       "HASH_END",       0,                        4 },
    { ECALL_CANCEL,         "CANCEL",         0,                        0 },
    { ECALL_STORE_VOLATILE, "STORE_VOLATILE", 0,                        4 },
    { ECALL_GET_STATEBLOB,  "GET_STATEBLOB",  4,                        4 + SVTPM_SEALED_REC_MAX },
    { ECALL_SET_STATEBLOB,  "SET_STATEBLOB",  4 + SVTPM_SEALED_REC_MAX, 4 },
    { ECALL_IMPORT_SWTPM,   "IMPORT_SWTPM",   16 + SVTPM_KEY_MAX + SVTPM_IMPORT_MAX, 0 },
    { ECALL_STATE_INFO,     "STATE_INFO",     0,                        STATE_INFO_RESP_LEN },
    { ECALL_BIND,           "BIND",           12 + SVTPM_MANIFEST_MAX + RESTORE_AUTH_LEN, 8 },
};

static const struct svtpm_call_desc ocalls[] = {
    { OCALL_LOG,          "LOG",          4 + SVTPM_LOG_MAX,            0 },
    { OCALL_STATE_READ,   "STATE_READ",   4,                            8 + 8 + 2 * SVTPM_SEALED_REC_MAX },
    { OCALL_STATE_WRITE,  "STATE_WRITE",  12 + SVTPM_SEALED_REC_MAX,    0 },
    { OCALL_STATE_DELETE, "STATE_DELETE", 4,                            0 },
    { OCALL_IMAGE_READ,   "IMAGE_READ",   12,                           8 + SVTPM_IMAGE_CHUNK_MAX },
    { OCALL_TIME_TOKEN,   "TIME_TOKEN",   32,                           TIMETOKEN_LEN },
};

static const struct svtpm_call_desc *find(const struct svtpm_call_desc *t, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].id == id)
            return &t[i];
    return NULL;
}

const struct svtpm_call_desc *abi_ecall(uint32_t id)
{
    return find(ecalls, sizeof ecalls / sizeof ecalls[0], id);
}

const struct svtpm_call_desc *abi_ocall(uint32_t id)
{
    return find(ocalls, sizeof ocalls / sizeof ocalls[0], id);
}
