/* Fuzz target: svtpm's sealed state files as the enclave reads them.
 *
 * Input: byte 0 is a mode (bit 0: the file asked for is volatilestate rather
 * than permall; bit 1: the host named the vTPM id, so records must carry
 * it; bit 2: the store is bound to fz_tenant with manifest generation
 * 1 + (mode >> 3 & 3), so records must carry that tenant and no later
 * generation); the rest is the host's OCALL_STATE_READ reply, exactly as
 * src/host/statedir.c sd_read builds it:
 *     u64 file_size, u32 n0, slot A record (n0 bytes), u32 n1, slot B record
 * The fake host answers STATE_READ with those bytes and LOG with success.
 *
 *   (a) seal_hdr_parse() on the raw bytes and on the slot A record;
 *   (b) store_load() on the whole reply with a fixed test platform (the same
 *       one tests/fuzz/gen/gen_seeds.c seals the seeds with, so authentic
 *       records reach the code after authentication), then, when it loads,
 *       store_save() of what it read (the next write's slot and retire
 *       offset come from what the load decided).
 *
 * Invariants: a parsed header round-trips through seal_hdr_pack and fits in
 * what was given; a successful load returns the plaintext of an authentic
 * record of the right kind (and the named vTPM) in one of the two slots, with
 * the highest sequence number among the authentic ones; a failed load returns
 * nothing and records why; every record written back is well-formed
 * (checked by the fake host). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "seal.h"
#include "sealfmt.h"
#include "store.h"
#include "fuzz_common.h"

static struct tee_platform plat;
static struct fz_host host;
static struct ocall_ctx oc;
static struct store st;
static uint8_t *plain2;

static void check_hdr(const uint8_t *buf, size_t avail)
{
    /* exact-size copy: ASan flags any read past what was given */
    uint8_t *b = malloc(avail ? avail : 1);
    FZ_CHECK(b);
    memcpy(b, buf, avail);
    struct seal_hdr h;
    svtpm_err err = seal_hdr_parse(b, avail, &h);
    if (err == SVTPM_OK) {
        FZ_CHECK(avail >= SEAL_HDR_LEN);
        FZ_CHECK(seal_rec_len(h.payload_len) <= avail);
        FZ_CHECK(h.payload_len <= SVTPM_STATE_PLAIN_MAX);
        FZ_CHECK(h.version == SEAL_FORMAT_V2);
        FZ_CHECK(h.kind >= SEAL_KIND_PERMALL && h.kind <= SEAL_KIND_NRS);
        FZ_CHECK(h.key_policy == SEAL_POLICY_MRSIGNER || h.key_policy == SEAL_POLICY_MRENCLAVE);
        uint8_t again[SEAL_HDR_LEN];
        seal_hdr_pack(&h, again);
        FZ_CHECK(memcmp(again, b, SEAL_HDR_LEN) == 0);
    } else {
        FZ_CHECK(err == SVTPM_E_TRUNCATED || err == SVTPM_E_FORMAT || err == SVTPM_E_TOOBIG);
        if (avail < SEAL_HDR_LEN)
            FZ_CHECK(err == SVTPM_E_TRUNCATED);
    }
    free(b);
}

/* The slots of a reply, as store_load should see them (NULL if malformed). */
static int split(const uint8_t *r, size_t n, const uint8_t *rec[2], uint32_t len[2])
{
    struct rd rd = rd_init(r, n);
    rd_be64(&rd);
    for (int i = 0; i < 2; i++) {
        len[i] = rd_be32(&rd);
        rec[i] = rd_ptr(&rd, len[i]);
    }
    return rd_ok(&rd) && rd_left(&rd) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!plain2) {
        fz_platform(&plat);
        host.reply_mode = true;
        fz_ctx(&oc, &host);
        FZ_CHECK(store_init(&st, &plat, &oc) == SVTPM_OK);
        plain2 = malloc(SEAL_PAYLOAD_MAX);
        FZ_CHECK(plain2);
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *in = data + 1;
    size_t n = size - 1;

    /* (a) the header parser on raw bytes */
    check_hdr(in, n);
    const uint8_t *rec[2];
    uint32_t rl[2];
    bool well_formed = split(in, n, rec, rl);
    if (n >= 12) {
        size_t a = get_be32(in + 8);
        check_hdr(in + 12, a < n - 12 ? a : n - 12);
    }

    /* (b) the whole load path */
    uint32_t file = mode & 1 ? STATE_FILE_VOLATILE : STATE_FILE_PERMALL;
    store_reset(&st);
    memset(st.vtpm_id, 0, sizeof st.vtpm_id);
    st.have_id = st.id_named = false;
    memset(st.tenant, 0, sizeof st.tenant);
    st.bind_gen = 0;
    st.last_err = SVTPM_OK;
    st.last_file = 0;
    if (mode & 2)
        store_name_id(&st, fz_vtpm_id);
    if (mode & 4)
        store_bind(&st, fz_vtpm_id, fz_tenant, 1u + ((mode >> 3) & 3u));
    uint8_t *reply = malloc(n ? n : 1);
    FZ_CHECK(reply);
    memcpy(reply, in, n);
    host.reply = reply;
    host.reply_len = n;

    uint8_t *out = NULL;
    uint32_t out_len = 0xDEADBEEF;
    svtpm_err err = store_load(&st, file, &out, &out_len);
    if (err == SVTPM_OK) {
        FZ_CHECK(well_formed);
        FZ_CHECK(get_be64(in) == SEAL_FILE_SIZE);
        FZ_CHECK(out != NULL && out_len <= SVTPM_STATE_PLAIN_MAX);
        struct store_file *f = &st.f[file];
        FZ_CHECK(f->known && (f->cur_slot == 0 || f->cur_slot == 1));
        FZ_CHECK(f->cur_len == out_len);
        FZ_CHECK(st.have_id);
        if (mode & 2)
            FZ_CHECK(memcmp(st.vtpm_id, fz_vtpm_id, 16) == 0);
        /* the chosen slot really opens to what was returned */
        struct seal_hdr h;
        uint32_t plen = 0;
        int c = f->cur_slot;
        FZ_CHECK(seal_open(&plat, rec[c], rl[c], &h, plain2, &plen) == SVTPM_OK);
        FZ_CHECK(plen == out_len && memcmp(plain2, out, plen) == 0);
        FZ_CHECK(h.seq == f->seq && memcmp(h.key_id, f->key_id, 32) == 0);
        FZ_CHECK(h.kind == (file == STATE_FILE_PERMALL ? SEAL_KIND_PERMALL : SEAL_KIND_VOLATILE));
        FZ_CHECK(memcmp(h.vtpm_id, st.vtpm_id, 16) == 0);
        FZ_CHECK(memcmp(h.tenant, st.tenant, 32) == 0 && h.bind_gen <= st.bind_gen);
        /* and no authentic record in the other slot is newer */
        struct seal_hdr o;
        uint32_t olen;
        if (rl[c ^ 1] && seal_open(&plat, rec[c ^ 1], rl[c ^ 1], &o, plain2, &olen) == SVTPM_OK)
            FZ_CHECK(o.seq <= h.seq && memcmp(o.vtpm_id, h.vtpm_id, 16) == 0);
        /* write it back: the fake host checks the record and retire offset */
        uint64_t w0 = host.writes;
        FZ_CHECK(store_save(&st, file, out, out_len) == SVTPM_OK);
        FZ_CHECK(host.writes == w0 + 1);
        FZ_CHECK(st.f[file].cur_slot == (c ^ 1) && st.f[file].seq == h.seq + 1);
        secure_wipe(out, out_len);
        free(out);
    } else {
        FZ_CHECK(out == NULL && out_len == 0xDEADBEEF);
        FZ_CHECK(err == SVTPM_E_PROTO || err == SVTPM_E_TRUNCATED || err == SVTPM_E_FORMAT ||
                 err == SVTPM_E_FOREIGN || err == SVTPM_E_AUTH || err == SVTPM_E_PERM || err == SVTPM_E_TOOBIG ||
                 err == SVTPM_E_NOMEM);
        FZ_CHECK(st.last_err == err && st.last_file == file);
        FZ_CHECK(!st.f[file].known);
    }
    free(reply);
    host.reply = NULL;
    return 0;
}
