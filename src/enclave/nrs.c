#include "nrs.h"
#include "bytes.h"
#include <stdbool.h>
#include <string.h>

_Static_assert(16 + 32 + 3 * 8 + 2 * SEAL_IV_LEN + 2 * 4 + 8 + 4 + 8 + 4 == NRS_ENTRY_LEN,
               "counter store entry layout");

static void get_entry(const uint8_t *p, struct nrs_entry *e)
{
    struct rd r = rd_init(p, NRS_ENTRY_LEN);
    rd_bytes(&r, e->vtpm_id, 16);
    rd_bytes(&r, e->tenant, 32);
    e->version = rd_be64(&r);
    e->permall_seq = rd_be64(&r);
    e->volatile_seq = rd_be64(&r);
    rd_bytes(&r, e->permall_iv, SEAL_IV_LEN);
    rd_bytes(&r, e->volatile_iv, SEAL_IV_LEN);
    e->failed_tries = rd_be32(&r);
    e->da_flags = rd_be32(&r);
    e->clock_hwm = rd_be64(&r);
    e->bind_gen = rd_be32(&r);
    e->clock_offset = (int64_t)rd_be64(&r);
    e->resume_s = rd_be32(&r);
}

static void put_entry(uint8_t *p, const struct nrs_entry *e)
{
    struct wr w = wr_init(p, NRS_ENTRY_LEN);
    wr_bytes(&w, e->vtpm_id, 16);
    wr_bytes(&w, e->tenant, 32);
    wr_be64(&w, e->version);
    wr_be64(&w, e->permall_seq);
    wr_be64(&w, e->volatile_seq);
    wr_bytes(&w, e->permall_iv, SEAL_IV_LEN);
    wr_bytes(&w, e->volatile_iv, SEAL_IV_LEN);
    wr_be32(&w, e->failed_tries);
    wr_be32(&w, e->da_flags);
    wr_be64(&w, e->clock_hwm);
    wr_be32(&w, e->bind_gen);
    wr_be64(&w, (uint64_t)e->clock_offset);
    wr_be32(&w, e->resume_s);
}

svtpm_err nrs_check(const uint8_t *p, size_t len, uint32_t *count)
{
    if (len < 8 || memcmp(p, NRS_MAGIC, 4) != 0)
        return SVTPM_E_FORMAT;
    uint32_t n = get_be32(p + 4);
    if (n > NRS_MAX_ENTRIES || len != 8 + (size_t)n * NRS_ENTRY_LEN)
        return SVTPM_E_FORMAT;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = p + 8 + (size_t)i * NRS_ENTRY_LEN;
        /* strictly ascending ids: one entry per vTPM, found by one rule */
        if (i && memcmp(e - NRS_ENTRY_LEN, e, 16) >= 0)
            return SVTPM_E_FORMAT;
    }
    *count = n;
    return SVTPM_OK;
}

svtpm_err nrs_find(const uint8_t *p, size_t len, const uint8_t id[16], struct nrs_entry *e)
{
    uint32_t n;
    svtpm_err err = nrs_check(p, len, &n);
    for (uint32_t i = 0; !err && i < n; i++) {
        const uint8_t *q = p + 8 + (size_t)i * NRS_ENTRY_LEN;
        if (memcmp(q, id, 16) == 0) {
            get_entry(q, e);
            return SVTPM_OK;
        }
    }
    return err ? err : SVTPM_E_NOTFOUND;
}

svtpm_err nrs_put(const uint8_t *in, size_t in_len, const struct nrs_entry *e,
                  uint8_t *out, size_t cap, size_t *out_len)
{
    uint32_t n = 0;
    svtpm_err err = in_len ? nrs_check(in, in_len, &n) : SVTPM_OK;
    if (err)
        return err;
    struct wr w = wr_init(out, cap);
    wr_bytes(&w, NRS_MAGIC, 4);
    wr_be32(&w, 0);   /* count, patched below */
    uint32_t m = 0;
    bool placed = false;
    for (uint32_t i = 0; i <= n; i++) {
        const uint8_t *q = i < n ? in + 8 + (size_t)i * NRS_ENTRY_LEN : NULL;
        int c = q ? memcmp(q, e->vtpm_id, 16) : 1;
        if (!placed && c >= 0) {
            uint8_t buf[NRS_ENTRY_LEN];
            put_entry(buf, e);
            wr_bytes(&w, buf, NRS_ENTRY_LEN);
            m++;
            placed = true;
        }
        if (q && c != 0) {
            wr_bytes(&w, q, NRS_ENTRY_LEN);
            m++;
        }
    }
    if (!wr_ok(&w) || m > NRS_MAX_ENTRIES)
        return SVTPM_E_TOOBIG;
    put_be32(out + 4, m);
    *out_len = w.off;
    return SVTPM_OK;
}
