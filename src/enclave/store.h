/* The sealed store: the enclave's view of its state files. It decides what
 * goes where (which slot, which sequence number, which key id) and asks the
 * host, through OCALLs, only to read and write opaque bytes. */
#ifndef SVTPM_STORE_H
#define SVTPM_STORE_H
#include <stdbool.h>
#include <stdint.h>
#include "abi.h"
#include "ocall.h"
#include "platform.h"
#include "rollback.h"
#include "sealfmt.h"

struct store_file {
    bool known;          /* read (found or absent) or written since the last reset */
    int cur_slot;        /* slot holding the current record, -1 if none */
    uint64_t seq;
    uint32_t cur_len;    /* payload length of the current record */
    uint8_t key_id[32];
};

struct store {
    const struct tee_platform *plat;
    struct ocall_ctx *oc;
    uint8_t vtpm_id[16];
    bool have_id;        /* learnt from a record, or named by the host */
    bool id_named;       /* named by the host or a manifest: records must match it */
    uint8_t tenant[32];  /* the binding's tenant id; zero when unbound */
    uint32_t bind_gen;   /* the binding manifest's generation; 0 when unbound */
    struct store_file f[4];   /* by STATE_FILE_* */
    struct rollback rb;
    /* A write under rollback protection failed: whether its record is
     * durable, and recorded, is unknown, so no version may be handed out
     * until the files are re-read (store_reset, at the next power-on). */
    bool wedged;
    uint8_t *plain;      /* SEAL_PAYLOAD_MAX scratch for decryption */
    uint32_t open_ns;    /* time the last successful open spent in crypto */
    /* Why the last load failed, for the host's error message. */
    svtpm_err last_err;
    uint32_t last_file;
};

svtpm_err store_init(struct store *s, const struct tee_platform *p, struct ocall_ctx *oc);
void store_fini(struct store *s);
void store_name_id(struct store *s, const uint8_t id[16]);
/* Binds the store to a tenant manifest: records of another tenant, or written
 * under a later manifest generation, are refused from now on. */
void store_bind(struct store *s, const uint8_t id[16], const uint8_t tenant[32], uint32_t gen);
/* Stamps the binding (vTPM id, tenant, generation) into a header to seal. */
void store_stamp(const struct store *s, struct seal_hdr *h);
/* Forget what is known about the files (their slots are re-read on next use);
 * ends a wedge. */
void store_reset(struct store *s);

/* *out is malloc'd (libtpms frees it); SVTPM_E_NOTFOUND when there is no file. */
svtpm_err store_load(struct store *s, uint32_t file, uint8_t **out, uint32_t *len);
svtpm_err store_save(struct store *s, uint32_t file, const uint8_t *data, uint32_t len);
svtpm_err store_delete(struct store *s, uint32_t file);

const char *store_file_name(uint32_t file);

#endif
