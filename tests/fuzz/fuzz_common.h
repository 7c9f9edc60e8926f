/* Shared pieces of the fuzz targets (tests/fuzz/fuzz_*.c) and of the seed
 * generators (tests/fuzz/gen/): a fixed TEE platform and an in-memory fake
 * host for the enclave's OCALLs. Header-only on purpose: the Makefile builds
 * each fuzz_*.c on its own with all of src/, nothing from tests/lib. */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "bytes.h"
#include "crypto.h"
#include "ocall.h"
#include "platform.h"
#include "sealfmt.h"

/* UBSan in the fuzz build (-fsanitize=undefined) recovers by default: make
 * every report fatal, so undefined behaviour is a crash libFuzzer keeps. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

/* A fuzz invariant: abort (libFuzzer reports it as a crash) with a reason. */
#define FZ_CHECK(cond)                                                                   \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* The fixed platform every fuzz target and seed generator uses. The SVNs are
 * above the minimum so that records sealed for an older SVN still open and
 * records from a newer one are refused (both appear in the seeds). */
#define FZ_SIGNER_BYTE  0x5A
#define FZ_ENCLAVE_BYTE 0xE3
#define FZ_ISV_PROD_ID  1
#define FZ_ISV_SVN      2
#define FZ_CPU_SVN_BYTE 1

/* The vTPM id the seeds are sealed for (and the id a host may name). */
static const uint8_t fz_vtpm_id[16] = {
    0x5f, 0x0c, 0x2b, 0x7e, 0x11, 0x4a, 0x43, 0x90, 0x8d, 0x3e, 0x61, 0x25, 0xa0, 0x0b, 0xc4, 0x77,
};

/* The tenant id bound records carry (fuzz_sealed mode bit 2). */
static const uint8_t fz_tenant[32] = {
    0x7b, 0x21, 0x9c, 0x03, 0x55, 0xe0, 0x1f, 0x48, 0x6a, 0x92, 0xd4, 0x0e, 0x33, 0xb7, 0x81, 0x2c,
    0x90, 0x4d, 0x16, 0xfa, 0x68, 0x05, 0xc1, 0x3b, 0xee, 0x72, 0x29, 0x5d, 0x0a, 0x97, 0x44, 0xb8,
};

/* The one VM image the fake host serves for OCALL_IMAGE_READ (index 0). */
#define FZ_IMAGE_LEN 300000u
static inline uint8_t fz_image_byte(uint64_t i) { return (uint8_t)(i * 31 + (i >> 9)); }

static inline void fz_platform(struct tee_platform *p)
{
    if (crypto_init() != SVTPM_OK) {
        fprintf(stderr, "fuzz: crypto_init failed\n");
        abort();
    }
    memset(p, 0, sizeof *p);
    p->id.mode = TEE_SOFT;
    memset(p->id.mrsigner, FZ_SIGNER_BYTE, 32);
    memset(p->id.mrenclave, FZ_ENCLAVE_BYTE, 32);
    p->id.isv_prod_id = FZ_ISV_PROD_ID;
    p->id.isv_svn = FZ_ISV_SVN;
    memset(p->id.cpu_svn, FZ_CPU_SVN_BYTE, 16);
    for (size_t i = 0; i < sizeof p->secret; i++)
        p->secret[i] = (uint8_t)(0xC3 ^ (i * 7));
}

/* fuzz_ecall's input: a flags byte, then calls, each u8 ECALL id, u16 length
 * (big-endian), payload. */
#define FZ_EC_NO_AUTO_INIT 0x01u   /* do not run ECALL_INIT before the first call */
#define FZ_EC_POWER        0x02u   /* allow POWER_ON and PROCESS */
#define FZ_EC_SMALL_CAP    0x04u   /* response cap 10 + 4 * (flags >> 3) bytes, not the full area */

/* ---- fake host ------------------------------------------------------------
 * Two modes:
 *   reply: OCALL_STATE_READ answers exactly the bytes in `reply` (the fuzz
 *          input), whatever file is asked for;
 *   memory: state files live in memory, laid out as on disk (slot A at 0,
 *          slot B at SEAL_SLOT_SIZE), and STATE_READ answers as
 *          src/host/statedir.c sd_read does.
 * Every request the enclave makes is checked against its ABI layout, and
 * every record it writes must be a well-formed sealed record. */
struct fz_host {
    bool reply_mode;
    const uint8_t *reply;
    size_t reply_len;
    uint8_t *file[3];          /* memory mode: SEAL_FILE_SIZE each, NULL = absent */
    bool read_notfound;        /* memory mode: every STATE_READ says NOTFOUND */
    uint64_t reads, writes, deletes, logs;
};

static inline size_t fz_slot_extent(const uint8_t *hdr, size_t avail)
{
    return seal_slot_extent(hdr, avail);
}

static inline svtpm_err fz_ocall(void *ud, uint32_t id, const uint8_t *req, uint32_t len,
                                 uint8_t *resp, uint32_t cap, uint32_t *resp_len)
{
    struct fz_host *h = ud;
    *resp_len = 0;
    switch (id) {
    case OCALL_LOG:
        FZ_CHECK(len >= 4 && len <= 4 + SVTPM_LOG_MAX);
        FZ_CHECK(get_be32(req) <= 4);   /* LOG_AUDIT (0) .. LOG_DEBUG */
        h->logs++;
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "enclave log: %.*s\n", (int)(len - 4), (const char *)req + 4);
        return SVTPM_OK;
    case OCALL_STATE_READ: {
        FZ_CHECK(len == 4);
        uint32_t f = get_be32(req);
        FZ_CHECK(f == STATE_FILE_PERMALL || f == STATE_FILE_VOLATILE);
        h->reads++;
        if (h->reply_mode) {
            if (h->reply_len > cap)
                return SVTPM_E_TOOBIG;
            memcpy(resp, h->reply, h->reply_len);
            *resp_len = (uint32_t)h->reply_len;
            return SVTPM_OK;
        }
        if (h->read_notfound || !h->file[f])
            return SVTPM_E_NOTFOUND;
        struct wr w = wr_init(resp, cap);
        wr_be64(&w, SEAL_FILE_SIZE);
        for (int s = 0; s < 2; s++) {
            const uint8_t *slot = h->file[f] + (size_t)s * SEAL_SLOT_SIZE;
            size_t n = fz_slot_extent(slot, SEAL_SLOT_SIZE);
            wr_be32(&w, (uint32_t)n);
            wr_bytes(&w, slot, n);
        }
        if (!wr_ok(&w))
            return SVTPM_E_TOOBIG;
        *resp_len = (uint32_t)w.off;
        return SVTPM_OK;
    }
    case OCALL_STATE_WRITE: {
        FZ_CHECK(len >= 12 + SEAL_HDR_LEN + SEAL_TAG_LEN);
        uint32_t f = get_be32(req), slot = get_be32(req + 4), retire = get_be32(req + 8);
        FZ_CHECK(f == STATE_FILE_PERMALL || f == STATE_FILE_VOLATILE);
        FZ_CHECK(slot <= 1);
        const uint8_t *rec = req + 12;
        size_t rlen = len - 12;
        struct seal_hdr hd;
        FZ_CHECK(seal_hdr_parse(rec, rlen, &hd) == SVTPM_OK);
        FZ_CHECK(seal_rec_len(hd.payload_len) == rlen);
        FZ_CHECK(retire == 0 || (retire >= SEAL_HDR_LEN && retire + SEAL_TAG_LEN <= SEAL_SLOT_SIZE));
        h->writes++;
        if (h->reply_mode)
            return SVTPM_OK;
        if (!h->file[f]) {
            h->file[f] = calloc(1, SEAL_FILE_SIZE);
            if (!h->file[f])
                return SVTPM_E_NOMEM;
        }
        memcpy(h->file[f] + (size_t)slot * SEAL_SLOT_SIZE, rec, rlen);
        if (retire)
            memset(h->file[f] + (size_t)(slot ^ 1) * SEAL_SLOT_SIZE + retire, 0, SEAL_TAG_LEN);
        return SVTPM_OK;
    }
    case OCALL_STATE_DELETE: {
        FZ_CHECK(len == 4);
        uint32_t f = get_be32(req);
        FZ_CHECK(f == STATE_FILE_PERMALL || f == STATE_FILE_VOLATILE);
        h->deletes++;
        if (h->reply_mode || !h->file[f])
            return SVTPM_E_NOTFOUND;
        free(h->file[f]);
        h->file[f] = NULL;
        return SVTPM_OK;
    }
    case OCALL_IMAGE_READ: {
        FZ_CHECK(len == 12);
        uint64_t off = get_be64(req + 4);
        if (get_be32(req) != 0)
            return SVTPM_E_NOTFOUND;
        size_t n = off < FZ_IMAGE_LEN ? FZ_IMAGE_LEN - off : 0;
        if (n > SVTPM_IMAGE_CHUNK_MAX)
            n = SVTPM_IMAGE_CHUNK_MAX;
        FZ_CHECK(cap >= 8 + n);
        put_be64(resp, FZ_IMAGE_LEN);
        for (size_t i = 0; i < n; i++)
            resp[8 + i] = fz_image_byte(off + i);
        *resp_len = 8 + (uint32_t)n;
        return SVTPM_OK;
    }
    default:
        FZ_CHECK(!"unknown OCALL");
        return SVTPM_E_INVAL;
    }
}

static inline void fz_host_clear(struct fz_host *h)
{
    for (int f = 0; f < 3; f++) {
        free(h->file[f]);
        h->file[f] = NULL;
    }
}

/* Points oc at the fake host h. resp/fake_req are allocated when missing
 * (enclave_setup allocates resp itself). */
static inline void fz_ctx(struct ocall_ctx *oc, struct fz_host *h)
{
    static uint8_t *req_buf;
    if (!req_buf)
        req_buf = malloc(12 + SVTPM_SEALED_REC_MAX);
    if (!oc->resp) {
        oc->resp_cap = SVTPM_CHAN_DATA_MAX;
        oc->resp = malloc(oc->resp_cap);
    }
    if (!req_buf || !oc->resp) {
        fprintf(stderr, "fuzz: out of memory\n");
        abort();
    }
    oc->chan = NULL;
    oc->fake = fz_ocall;
    oc->fake_ud = h;
    oc->fake_req = req_buf;
}

#endif
