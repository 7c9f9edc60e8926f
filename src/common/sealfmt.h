/* Layout of svtpm's sealed state files (docs/formats.md has the full story).
 *
 * A state file holds two fixed-size slots, A at offset 0 and B at
 * SEAL_SLOT_SIZE. Each slot holds one self-contained sealed record:
 *
 *   header (SEAL_HDR_LEN bytes, all authenticated as AES-GCM AAD)
 *   ciphertext (payload_len bytes)
 *   GCM tag (16 bytes)
 *
 * An update writes the new record into the slot that does not hold the
 * current one and makes it durable with one fdatasync; the reader takes the
 * authentic record with the highest sequence number. A crash mid-write can
 * only damage the slot being written, so the file always holds the old or the
 * new state. The file never changes size after creation, so a short file is
 * always tampering, never a crash.
 *
 * This module packs and parses headers; sealing is the enclave's job. */
#ifndef SVTPM_SEALFMT_H
#define SVTPM_SEALFMT_H
#include <stdint.h>
#include <stddef.h>
#include "abi.h"
#include "err.h"

#define SEAL_MAGIC         "SVTPMSL1"
#define SEAL_FORMAT_V2     2u   /* v1 (no tenant binding) was never released */
#define SEAL_HDR_LEN       192u
#define SEAL_TAG_LEN       16u
#define SEAL_IV_LEN        12u
#define SEAL_SLOT_SIZE     (256u * 1024u)
#define SEAL_FILE_SIZE     (2u * SEAL_SLOT_SIZE)
#define SEAL_PAYLOAD_MAX   (SEAL_SLOT_SIZE - SEAL_HDR_LEN - SEAL_TAG_LEN)

_Static_assert(SEAL_PAYLOAD_MAX >= SVTPM_STATE_PLAIN_MAX, "slot too small for a state blob");
_Static_assert(SVTPM_SEALED_REC_MAX >= SEAL_HDR_LEN + SVTPM_STATE_PLAIN_MAX + SEAL_TAG_LEN,
               "sealed record limit too small");

/* What a record holds; part of the AAD and of the key derivation, so a
 * record cannot be opened as another kind. */
enum seal_kind {
    SEAL_KIND_PERMALL = 1,
    SEAL_KIND_VOLATILE = 2,
    SEAL_KIND_MIG_PERMALL = 3,   /* GET/SET_STATEBLOB migration blobs */
    SEAL_KIND_MIG_VOLATILE = 4,
    SEAL_KIND_NRS = 5,           /* the host's non-rollback store (rollback.h) */
};

/* Key policy, as SGX's KEYPOLICY. */
#define SEAL_POLICY_MRENCLAVE 0x1u
#define SEAL_POLICY_MRSIGNER  0x2u

struct seal_hdr {
    uint16_t version;
    uint32_t kind;
    uint64_t seq;               /* state version, +1 per update */
    uint8_t vtpm_id[16];
    uint8_t key_id[32];         /* KDF salt, chosen when the file is created */
    uint16_t key_policy;
    uint16_t isv_svn;           /* SVN the key was derived for */
    uint16_t isv_prod_id;
    uint8_t cpu_svn[16];
    uint8_t signer[32];         /* MRSIGNER (or MRENCLAVE) the key is bound to */
    uint8_t iv[SEAL_IV_LEN];
    uint32_t payload_len;
    uint8_t tenant[32];         /* SHA-256 of the tenant key; zero when unbound */
    uint32_t bind_gen;          /* binding manifest generation; 0 when unbound */
    uint32_t flags;             /* SEAL_F_* */
    int64_t clock_tie;          /* with SEAL_F_CLOCK_TIE (bytes 184..191) */
};

/* Written under rollback protection: its version is in the non-rollback
 * store, so a store without this vTPM's entry is a replaced store. */
#define SEAL_F_NRS 0x1u
/* A migration blob of the permanent state (kind SEAL_KIND_MIG_PERMALL only)
 * that carries the TPM clock's tie to the time authority (nrs.h
 * clock_offset), so the destination's run gets no new lead. */
#define SEAL_F_CLOCK_TIE 0x2u

void seal_hdr_pack(const struct seal_hdr *h, uint8_t out[SEAL_HDR_LEN]);
/* Parses and checks magic, version, header length, reserved bytes and that
 * payload_len fits in `avail` bytes after the header (with the tag). */
svtpm_err seal_hdr_parse(const uint8_t *buf, size_t avail, struct seal_hdr *h);

/* How much of a slot the host hands the enclave: the record its header
 * claims (the enclave re-checks everything), nothing for a never-written
 * (all-zero) slot, the bare header for garbage. `avail`: bytes of the slot
 * that exist in the file; `hdr`: its first min(avail, SEAL_HDR_LEN) bytes. */
size_t seal_slot_extent(const uint8_t *hdr, size_t avail);

static inline size_t seal_rec_len(uint32_t payload_len)
{
    return SEAL_HDR_LEN + (size_t)payload_len + SEAL_TAG_LEN;
}

#endif
