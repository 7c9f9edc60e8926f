/* In-memory fake of the host's OCALL table; see fakehost.h. */
#include "fakehost.h"
#include "bytes.h"
#include "sealfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) {
        fprintf(stderr, "fakehost: out of memory\n");
        abort();
    }
    return p;
}

static bool valid_file(uint32_t file)
{
    return file == STATE_FILE_PERMALL || file == STATE_FILE_VOLATILE || file == STATE_FILE_NRS;
}

/* The file a host's requests for `file` reach (the counter store may be
 * another host's); NULL past the table (f[0] exists but is never used). */
static struct fh_file *file_of(struct fakehost *h, uint32_t file)
{
    if (file >= sizeof h->f / sizeof h->f[0])
        return NULL;
    if (file == STATE_FILE_NRS && h->nrs_host)
        h = h->nrs_host;
    return &h->f[file];
}

void fh_init(struct fakehost *h)
{
    memset(h, 0, sizeof *h);
    h->fault_at = -1;
    h->echo_log = getenv("FH_VERBOSE") != NULL;
}

void fh_log_clear(struct fakehost *h)
{
    for (size_t i = 0; i < h->nlog; i++)
        free(h->log[i]);
    free(h->log);
    free(h->log_level);
    h->log = NULL;
    h->log_level = NULL;
    h->nlog = 0;
}

void fh_fini(struct fakehost *h)
{
    for (int i = 0; i < 4; i++)
        free(h->f[i].data);
    fh_log_clear(h);
    memset(h, 0, sizeof *h);
}

void fh_ctx(struct fakehost *h, struct ocall_ctx *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->chan = NULL;
    oc->fake = fh_ocall;
    oc->fake_ud = h;
    oc->fake_req = xcalloc(1, SVTPM_CHAN_DATA_MAX);
    oc->resp = xcalloc(1, SVTPM_CHAN_DATA_MAX);
    oc->resp_cap = SVTPM_CHAN_DATA_MAX;
}

void fh_ctx_free(struct ocall_ctx *oc)
{
    free(oc->fake_req);
    free(oc->resp);
    memset(oc, 0, sizeof *oc);
}

void fh_fault(struct fakehost *h, int64_t at, enum fh_fault f, uint32_t arg)
{
    h->fault_at = at;
    h->fault = f;
    h->fault_arg = arg;
}

void fh_revive(struct fakehost *h)
{
    h->dead = false;
    h->fault_at = -1;
    h->fault = FH_NONE;
    h->fail_reads = false;
    h->nrs_locked = false;
}

void fh_ecall_end(struct fakehost *h)
{
    h->nrs_locked = false;
}

void fh_counters(struct fakehost *h, bool on)
{
    h->counters = on;
}

void fh_share_nrs(struct fakehost *h, struct fakehost *owner)
{
    h->counters = true;
    h->nrs_host = owner == h ? NULL : owner;
}

uint8_t *fh_bytes(struct fakehost *h, uint32_t file, size_t *size)
{
    struct fh_file *f = file_of(h, file);
    if (!f || !f->exists)
        return NULL;
    if (size)
        *size = f->size;
    return f->data;
}

void fh_resize(struct fakehost *h, uint32_t file, size_t size)
{
    struct fh_file *f = file_of(h, file);
    uint8_t *n = xcalloc(1, size);
    memcpy(n, f->data, f->size < size ? f->size : size);
    free(f->data);
    f->data = n;
    f->size = size;
    f->exists = true;
}

void fh_put(struct fakehost *h, uint32_t file, const uint8_t *data, size_t size)
{
    struct fh_file *f = file_of(h, file);
    free(f->data);
    f->data = xcalloc(1, size);
    if (size)
        memcpy(f->data, data, size);
    f->size = size;
    f->exists = true;
}

void fh_remove(struct fakehost *h, uint32_t file)
{
    struct fh_file *f = file_of(h, file);
    free(f->data);
    memset(f, 0, sizeof *f);
}

uint8_t *fh_snapshot(const struct fakehost *h, uint32_t file, size_t *size)
{
    const struct fh_file *f = file_of((struct fakehost *)h, file);
    if (!f || !f->exists)
        return NULL;
    uint8_t *c = xcalloc(1, f->size);
    memcpy(c, f->data, f->size);
    *size = f->size;
    return c;
}

bool fh_log_has(const struct fakehost *h, const char *needle)
{
    for (size_t i = 0; i < h->nlog; i++)
        if (strstr(h->log[i], needle))
            return true;
    return false;
}

size_t fh_slot_extent(const uint8_t *hdr, size_t avail)
{
    return seal_slot_extent(hdr, avail);
}

static svtpm_err do_log(struct fakehost *h, struct rd *r)
{
    uint32_t lvl = rd_be32(r);
    size_t n = rd_left(r);
    const uint8_t *txt = rd_ptr(r, n);
    if (!rd_ok(r)) {
        h->bad_requests++;
        return SVTPM_E_INVAL;
    }
    char *line = xcalloc(1, n + 1);
    memcpy(line, txt, n);
    h->log = realloc(h->log, (h->nlog + 1) * sizeof *h->log);
    h->log_level = realloc(h->log_level, (h->nlog + 1) * sizeof *h->log_level);
    if (!h->log || !h->log_level)
        abort();
    h->log[h->nlog] = line;
    h->log_level[h->nlog] = (int)lvl;
    h->nlog++;
    if (h->echo_log)
        fprintf(stderr, "[enclave log %u] %s\n", lvl, line);
    return SVTPM_OK;
}

static svtpm_err do_read(struct fakehost *h, struct rd *r, uint8_t *out, uint32_t cap, uint32_t *len)
{
    uint32_t file = rd_be32(r);
    if (!rd_ok(r) || rd_left(r) || !valid_file(file)) {
        h->bad_requests++;
        return SVTPM_E_INVAL;
    }
    if (file == STATE_FILE_NRS && !h->counters) {
        h->nrs_refused++;           /* enclave_host.c: no counters directory */
        return SVTPM_E_INVAL;
    }
    h->reads++;
    if (file == STATE_FILE_NRS) {
        /* enclave_host.c: the lock first, then the read */
        h->nrs_locked = true;
        h->nrs_locks++;
    }
    if (h->fail_reads)
        return SVTPM_E_IO;
    struct fh_file *f = file_of(h, file);
    if (!f->exists)
        return SVTPM_E_NOTFOUND;
    struct wr w = wr_init(out, cap);
    wr_be64(&w, (uint64_t)f->size);
    for (uint32_t slot = 0; slot < 2; slot++) {
        size_t off = (size_t)slot * SEAL_SLOT_SIZE;
        size_t avail = f->size > off ? f->size - off : 0;
        if (avail > SEAL_SLOT_SIZE)
            avail = SEAL_SLOT_SIZE;
        uint8_t hdr[SEAL_HDR_LEN] = { 0 };
        size_t hn = avail < SEAL_HDR_LEN ? avail : SEAL_HDR_LEN;
        if (hn)
            memcpy(hdr, f->data + off, hn);
        size_t n = fh_slot_extent(hdr, avail);
        wr_be32(&w, (uint32_t)n);
        wr_bytes(&w, f->data + off, n);
        if (!wr_ok(&w))
            return SVTPM_E_TOOBIG;
    }
    *len = (uint32_t)w.off;
    return SVTPM_OK;
}

/* xorshift64*, for reproducible sector subsets */
static uint64_t prng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void retire(struct fakehost *h, struct fh_file *f, uint32_t slot, uint32_t retire_off)
{
    if (!retire_off)
        return;
    memset(f->data + (size_t)(slot ^ 1) * SEAL_SLOT_SIZE + retire_off, 0, SEAL_TAG_LEN);
    h->retires++;
}

static svtpm_err do_write(struct fakehost *h, struct rd *r)
{
    uint32_t file = rd_be32(r), slot = rd_be32(r), retire_off = rd_be32(r);
    size_t n = rd_left(r);
    const uint8_t *rec = rd_ptr(r, n);
    if (!rd_ok(r) || !valid_file(file) || slot > 1 || n > SEAL_SLOT_SIZE ||
        (retire_off && (retire_off < SEAL_HDR_LEN || retire_off > SEAL_SLOT_SIZE - SEAL_TAG_LEN))) {
        h->bad_requests++;
        return SVTPM_E_INVAL;
    }
    if (file == STATE_FILE_NRS && !h->counters) {
        h->nrs_refused++;
        return SVTPM_E_INVAL;
    }
    uint64_t idx = h->writes++;
    if (idx < FH_MAX_WRITES)
        h->wlog[idx] = (struct fh_write){ file, slot, retire_off, (uint32_t)n };
    enum fh_fault fault = (int64_t)idx == h->fault_at ? h->fault : FH_NONE;
    struct fh_file *f = file_of(h, file);
    if (file == STATE_FILE_NRS) {
        /* enclave_host.c releases the lock after the write, whatever it did */
        if (!h->nrs_locked)
            h->nrs_unlocked_writes++;
        h->nrs_locked = false;
    }
    size_t base = (size_t)slot * SEAL_SLOT_SIZE;

    if (!f->exists) {
        /* Creation is atomic (built aside, fsync'd, renamed): a crash before
         * the rename leaves no file, one after it the whole record. */
        switch (fault) {
        case FH_NONE:
        case FH_SKIP_RETIRE:
        case FH_FULL_DIE:
        case FH_FULL_RETIRE_DIE:
            f->data = xcalloc(1, SEAL_FILE_SIZE);
            f->size = SEAL_FILE_SIZE;
            f->exists = true;
            memcpy(f->data + base, rec, n);
            break;
        default:
            break;
        }
        switch (fault) {
        case FH_NONE:
            h->writes_ok++;
            return SVTPM_OK;
        case FH_SKIP_RETIRE:
            h->writes_ok++;
            h->dead = true;
            return SVTPM_OK;
        case FH_FAIL:
            return SVTPM_E_IO;
        case FH_FULL_FAIL:
            f->data = xcalloc(1, SEAL_FILE_SIZE);
            f->size = SEAL_FILE_SIZE;
            f->exists = true;
            memcpy(f->data + base, rec, n);
            return SVTPM_E_IO;
        default:
            h->dead = true;
            return SVTPM_E_IO;
        }
    }
    if (base + n > f->size) {
        /* The real host would extend the file; a test resized it. */
        fh_resize(h, file, base + n);
    }

    switch (fault) {
    case FH_NONE:
        memcpy(f->data + base, rec, n);
        retire(h, f, slot, retire_off);
        h->writes_ok++;
        return SVTPM_OK;
    case FH_FAIL:
        return SVTPM_E_IO;
    case FH_FULL_FAIL:
        memcpy(f->data + base, rec, n);
        return SVTPM_E_IO;
    case FH_FAIL_DIE:
        h->dead = true;
        return SVTPM_E_IO;
    case FH_TEAR_SECTORS: {
        size_t k = (size_t)h->fault_arg * FH_SECTOR;
        memcpy(f->data + base, rec, k < n ? k : n);
        h->dead = true;
        return SVTPM_E_IO;
    }
    case FH_TEAR_SUBSET: {
        uint64_t s = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)h->fault_arg * 0xD1B54A32D192ED03ULL);
        if (!s)
            s = 1;
        for (size_t off = 0; off < n; off += FH_SECTOR) {
            if (prng(&s) & 1) {
                size_t k = n - off < FH_SECTOR ? n - off : FH_SECTOR;
                memcpy(f->data + base + off, rec + off, k);
            }
        }
        h->dead = true;
        return SVTPM_E_IO;
    }
    case FH_TEAR_BYTES: {
        size_t k = h->fault_arg;
        memcpy(f->data + base, rec, k < n ? k : n);
        h->dead = true;
        return SVTPM_E_IO;
    }
    case FH_FULL_DIE:
        memcpy(f->data + base, rec, n);
        h->dead = true;
        return SVTPM_E_IO;
    case FH_FULL_RETIRE_DIE:
        memcpy(f->data + base, rec, n);
        retire(h, f, slot, retire_off);
        h->dead = true;
        return SVTPM_E_IO;
    case FH_SKIP_RETIRE:
        memcpy(f->data + base, rec, n);
        h->writes_ok++;
        h->dead = true;
        return SVTPM_OK;
    }
    return SVTPM_E_INVAL;
}

static svtpm_err do_delete(struct fakehost *h, struct rd *r)
{
    uint32_t file = rd_be32(r);
    /* the counter store is never deleted (enclave_host.c refuses it) */
    if (!rd_ok(r) || rd_left(r) || !valid_file(file) || file == STATE_FILE_NRS) {
        h->bad_requests++;
        return SVTPM_E_INVAL;
    }
    h->deletes++;
    if (!h->f[file].exists)
        return SVTPM_E_NOTFOUND;
    fh_remove(h, file);
    return SVTPM_OK;
}

svtpm_err fh_ocall(void *ud, uint32_t id, const uint8_t *req, uint32_t len,
                   uint8_t *resp, uint32_t cap, uint32_t *resp_len)
{
    struct fakehost *h = ud;
    const struct svtpm_call_desc *d = abi_ocall(id);
    *resp_len = 0;
    if (!d || len > d->req_max) {
        h->bad_requests++;
        return SVTPM_E_INVAL;
    }
    struct rd r = rd_init(req, len);
    if (id == OCALL_LOG)
        return do_log(h, &r);       /* a dying process may still log */
    if (h->dead)
        return SVTPM_E_PEER;
    switch (id) {
    case OCALL_STATE_READ: {
        uint32_t n = 0;
        svtpm_err e = do_read(h, &r, resp, cap, &n);
        if (!e)
            *resp_len = n;
        return e;
    }
    case OCALL_STATE_WRITE:
        return do_write(h, &r);
    case OCALL_STATE_DELETE:
        return do_delete(h, &r);
    default:
        h->bad_requests++;
        return SVTPM_E_INVAL;
    }
}
