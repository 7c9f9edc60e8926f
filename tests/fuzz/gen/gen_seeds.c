/* Seed generator for the fuzz corpora that need real cryptography:
 *
 *   gen_seeds sealed OUTDIR             fuzz_sealed: mode byte + STATE_READ replies
 *                                       holding records sealed with the fuzz platform
 *   gen_seeds sigstruct OUTDIR          fuzz_sigstruct: SIGSTRUCTs signed with a fixed key
 *   gen_seeds ecall OUTDIR SWTPMDIR     fuzz_ecall: ECALL sequences, with migration blobs
 *                                       sealed from the real swtpm state in SWTPMDIR
 *   gen_seeds crashes-ecall OUTDIR SWTPMDIR   known crashes of fuzz_ecall (not seeds)
 *   gen_seeds crashes-sealed OUTDIR     the same for fuzz_sealed
 *   gen_seeds known-states SWTPMDIR     prints tests/fuzz/fuzz_known_states.h
 *
 * Built and run by tests/fuzz/gen/gen-corpus.sh. The platform is the one in
 * tests/fuzz/fuzz_common.h, so the fuzzers authenticate these records. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abi.h"
#include "bytes.h"
#include "crypto.h"
#include "import.h"
#include "seal.h"
#include "sealfmt.h"
#include "sigstruct.h"
#include "swtpm_blob.h"
#include "../fuzz_common.h"

static const char *outdir;

static void put(const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gen_seeds: cannot read %s: %s\n", path, strerror(errno));
        exit(1);
    }
    uint8_t *p = malloc(SVTPM_IMPORT_MAX);
    *n = fread(p, 1, SVTPM_IMPORT_MAX, f);
    fclose(f);
    return p;
}

/* ---- sealing with full control over the header ------------------------- */

/* seal.c's derive(), for records seal_record() would not make (another
 * policy, SVN or signer). */
static void derive(const struct tee_platform *p, const struct seal_hdr *h, uint8_t key[32])
{
    struct tee_keyreq req = { .key_name = TEE_KEY_SEAL, .policy = h->key_policy, .isv_svn = h->isv_svn };
    memcpy(req.cpu_svn, h->cpu_svn, 16);
    memcpy(req.key_id, h->key_id, 32);
    /* a key for a higher SVN than the platform's: ask a platform that has it */
    struct tee_platform hi = *p;
    if (hi.id.isv_svn < h->isv_svn)
        hi.id.isv_svn = h->isv_svn;
    for (int i = 0; i < 16; i++)
        if (hi.id.cpu_svn[i] < h->cpu_svn[i])
            hi.id.cpu_svn[i] = h->cpu_svn[i];
    uint8_t base[TEE_KEY_LEN];
    if (tee_get_key(&hi, &req, base) != SVTPM_OK)
        abort();
    uint8_t kind[4];
    put_be32(kind, h->kind);
    struct iovc info[] = { { "svtpm/v2/seal", 13 }, { kind, 4 }, { h->vtpm_id, 16 }, { h->tenant, 32 } };
    if (crypto_hkdf(base, sizeof base, h->key_id, 32, info, 4, key, 32) != SVTPM_OK)
        abort();
}

/* A record with the header exactly as given (payload_len and IV set here). */
static size_t seal_custom(const struct tee_platform *p, struct seal_hdr *h, const uint8_t *plain,
                          uint32_t len, uint8_t *out)
{
    uint8_t key[32];
    h->version = SEAL_FORMAT_V2;
    h->payload_len = len;
    crypto_random(h->iv, SEAL_IV_LEN);
    derive(p, h, key);
    seal_hdr_pack(h, out);
    if (crypto_gcm_seal(key, h->iv, out, SEAL_HDR_LEN, plain, len, out + SEAL_HDR_LEN,
                        out + SEAL_HDR_LEN + len) != SVTPM_OK)
        abort();
    return seal_rec_len(len);
}

/* The normal way: seal_record() with the fuzz platform. */
static size_t seal_std(const struct tee_platform *p, uint32_t kind, uint64_t seq, const uint8_t id[16],
                       const uint8_t *plain, uint32_t len, uint8_t *out)
{
    struct seal_hdr h = { .kind = kind, .seq = seq };
    memcpy(h.vtpm_id, id, 16);
    memset(h.key_id, (int)(0x40 + kind), 32);
    if (seal_record(p, &h, plain, len, out, SVTPM_SEALED_REC_MAX) != SVTPM_OK)
        abort();
    return seal_rec_len(len);
}

/* A template header as seal_record() would fill it, for seal_custom(). */
static struct seal_hdr hdr_of(const struct tee_platform *p, uint32_t kind, uint64_t seq, const uint8_t id[16])
{
    struct seal_hdr h = { .kind = kind, .seq = seq, .key_policy = SEAL_POLICY_MRSIGNER,
                          .isv_svn = p->id.isv_svn, .isv_prod_id = p->id.isv_prod_id };
    memcpy(h.vtpm_id, id, 16);
    memset(h.key_id, (int)(0x40 + kind), 32);
    memcpy(h.cpu_svn, p->id.cpu_svn, 16);
    memcpy(h.signer, p->id.mrsigner, 32);
    return h;
}

/* mode byte + STATE_READ reply */
static void put_reply(const char *name, uint8_t mode, uint64_t file_size, const uint8_t *a, size_t na,
                      const uint8_t *b, size_t nb)
{
    size_t n = 1 + 8 + 4 + na + 4 + nb;
    uint8_t *buf = malloc(n);
    struct wr w = wr_init(buf, n);
    wr_u8(&w, mode);
    wr_be64(&w, file_size);
    wr_be32(&w, (uint32_t)na);
    wr_bytes(&w, a, na);
    wr_be32(&w, (uint32_t)nb);
    wr_bytes(&w, b, nb);
    put(name, buf, w.off);
    free(buf);
}

static void gen_sealed(void)
{
    struct tee_platform p;
    fz_platform(&p);
    static uint8_t a[SVTPM_SEALED_REC_MAX], b[SVTPM_SEALED_REC_MAX];
    uint8_t payload[600];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 7);
    static const uint8_t other_id[16] = { 0xAA, 0xBB, 0xCC, 0xDD, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    const uint8_t *id = fz_vtpm_id;
    size_t na, nb;
    const uint32_t P = SEAL_KIND_PERMALL, V = SEAL_KIND_VOLATILE;
    const uint64_t FS = SEAL_FILE_SIZE;
    struct seal_hdr h;

    /* the first write: slot A only */
    na = seal_std(&p, P, 1, id, payload, 300, a);
    put_reply("permall_first_write", 0, FS, a, na, NULL, 0);
    put_reply("permall_first_write_named", 2, FS, a, na, NULL, 0);
    put_reply("permall_slot_b_empty_header_zero", 0, FS, a, na, NULL, 0);
    /* the usual steady state: B is current, A retired (tag zeroed) */
    na = seal_std(&p, P, 4, id, payload, 280, a);
    memset(a + na - SEAL_TAG_LEN, 0, SEAL_TAG_LEN);
    nb = seal_std(&p, P, 5, id, payload, 300, b);
    put_reply("permall_b_current_a_retired", 0, FS, a, na, b, nb);
    put_reply("permall_b_current_a_retired_named", 2, FS, a, na, b, nb);
    /* both authentic (a retire that never reached the disk): the newer wins */
    na = seal_std(&p, P, 9, id, payload, 256, a);
    nb = seal_std(&p, P, 8, id, payload, 250, b);
    put_reply("permall_both_authentic_a_newer", 0, FS, a, na, b, nb);
    put_reply("permall_both_authentic_b_newer", 0, FS, b, nb, a, na);
    /* an incomplete write in B claiming a newer version: A is used */
    na = seal_std(&p, P, 2, id, payload, 300, a);
    nb = seal_std(&p, P, 3, id, payload, 300, b);
    memset(b + 200, 0, nb - 200);
    put_reply("permall_b_torn_write", 0, FS, a, na, b, nb);
    put_reply("permall_b_cut_write", 0, FS, a, na, b, 180);
    /* volatile state */
    na = seal_std(&p, V, 1, id, payload, 500, a);
    put_reply("volatile_first_write", 1, FS, a, na, NULL, 0);
    put_reply("volatile_named", 3, FS, a, na, NULL, 0);
    put_reply("volatile_asked_as_permall", 0, FS, a, na, NULL, 0);       /* kind mismatch */
    na = seal_std(&p, P, 1, id, payload, 40, a);
    put_reply("permall_asked_as_volatile", 1, FS, a, na, NULL, 0);
    /* another vTPM's record */
    na = seal_std(&p, P, 1, other_id, payload, 64, a);
    put_reply("permall_other_vtpm_named", 2, FS, a, na, NULL, 0);
    put_reply("permall_other_vtpm_unnamed", 0, FS, a, na, NULL, 0);
    nb = seal_std(&p, P, 2, id, payload, 64, b);
    put_reply("permall_slots_of_two_vtpms", 0, FS, a, na, b, nb);
    /* bound records (mode bit 2: the store is bound to fz_tenant, generation
     * 1 + (mode >> 3 & 3)) */
    h = hdr_of(&p, P, 3, id);
    memcpy(h.tenant, fz_tenant, 32);
    h.bind_gen = 1;
    na = seal_custom(&p, &h, payload, 200, a);
    put_reply("permall_bound", 4 | 2, FS, a, na, NULL, 0);
    put_reply("permall_bound_opened_unbound", 2, FS, a, na, NULL, 0);      /* tenant mismatch */
    put_reply("permall_bound_later_manifest", 4 | 2 | (1 << 3), FS, a, na, NULL, 0);
    h.bind_gen = 3;
    na = seal_custom(&p, &h, payload, 200, a);
    put_reply("permall_bound_superseded_manifest", 4 | 2 | (1 << 3), FS, a, na, NULL, 0);
    h.tenant[0] ^= 1;
    h.bind_gen = 1;
    na = seal_custom(&p, &h, payload, 200, a);
    put_reply("permall_bound_other_tenant", 4 | 2, FS, a, na, NULL, 0);
    /* the empty payload */
    na = seal_std(&p, P, 1, id, payload, 0, a);
    put_reply("permall_empty_payload", 0, FS, a, na, NULL, 0);
    /* identities: older SVNs open, newer ones and other signers do not */
    h = hdr_of(&p, P, 7, id);
    h.isv_svn = 1;
    memset(h.cpu_svn, 0, 16);
    na = seal_custom(&p, &h, payload, 128, a);
    put_reply("permall_older_svn", 0, FS, a, na, NULL, 0);
    h = hdr_of(&p, P, 7, id);
    h.isv_svn = FZ_ISV_SVN + 1;
    na = seal_custom(&p, &h, payload, 128, a);
    put_reply("permall_newer_isv_svn", 0, FS, a, na, NULL, 0);
    h = hdr_of(&p, P, 7, id);
    h.cpu_svn[15] = FZ_CPU_SVN_BYTE + 1;
    na = seal_custom(&p, &h, payload, 128, a);
    put_reply("permall_newer_cpu_svn", 0, FS, a, na, NULL, 0);
    h = hdr_of(&p, P, 7, id);
    h.key_policy = SEAL_POLICY_MRENCLAVE;
    memcpy(h.signer, p.id.mrenclave, 32);
    na = seal_custom(&p, &h, payload, 128, a);
    put_reply("permall_policy_mrenclave", 0, FS, a, na, NULL, 0);
    struct tee_platform other = p;
    memset(other.id.mrsigner, 0x11, 32);
    na = seal_std(&other, P, 7, id, payload, 128, a);
    put_reply("permall_other_signer", 0, FS, a, na, NULL, 0);
    other = p;
    other.id.isv_prod_id = 2;
    na = seal_std(&other, P, 7, id, payload, 128, a);
    put_reply("permall_other_prod_id", 0, FS, a, na, NULL, 0);
    other = p;
    other.secret[0] ^= 1;
    na = seal_std(&other, P, 7, id, payload, 128, a);
    put_reply("permall_other_platform", 0, FS, a, na, NULL, 0);
    /* tampering */
    na = seal_std(&p, P, 7, id, payload, 128, a);
    a[16] ^= 0x01;                                    /* seq, authenticated */
    put_reply("permall_tampered_header", 0, FS, a, na, NULL, 0);
    a[16] ^= 0x01;
    a[SEAL_HDR_LEN + 5] ^= 0x80;
    put_reply("permall_tampered_ciphertext", 0, FS, a, na, NULL, 0);
    a[SEAL_HDR_LEN + 5] ^= 0x80;
    put_reply("permall_bad_file_size_short", 0, 4096, a, na, NULL, 0);
    put_reply("permall_bad_file_size_long", 0, FS + 1, a, na, NULL, 0);
    put_reply("permall_header_only_garbage", 0, FS, (const uint8_t *)"not a sealed record at all, "
              "just what the host hands over for a slot that holds garbage..........................."
              "................................................................", 160, a, na);
    put_reply("permall_both_empty", 0, FS, NULL, 0, NULL, 0);
    memcpy(a, "SVTPMSL1", 8);
    put_be16(a + 8, 3);                               /* unknown version */
    put_reply("permall_unknown_version", 0, FS, a, na, NULL, 0);
    /* malformed replies */
    na = seal_std(&p, P, 7, id, payload, 16, a);
    uint8_t bad[1 + 8 + 4 + 256 + 4 + 8];
    struct wr w = wr_init(bad, sizeof bad);
    wr_u8(&w, 0);
    wr_be64(&w, FS);
    wr_be32(&w, (uint32_t)na);
    wr_bytes(&w, a, na);
    wr_be32(&w, 0);
    wr_bytes(&w, "trailing", 8);
    put("reply_trailing_bytes", bad, w.off);
    put("reply_cut_in_slot_a", bad, 1 + 8 + 4 + 100);
    put_be32(bad + 9, SEAL_SLOT_SIZE + 1);
    put("reply_slot_a_over_limit", bad, w.off);
}

/* ---- SIGSTRUCT ----------------------------------------------------------- */

static void sign(const uint8_t seed[32], struct sigstruct *s, uint8_t out[SIGSTRUCT_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t pl = 32, sl = 64;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!k || !EVP_PKEY_get_raw_public_key(k, s->pubkey, &pl))
        abort();
    sigstruct_pack(s, out);
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(ctx, s->signature, &sl, out, SIGSTRUCT_SIGNED_LEN) != 1)
        abort();
    sigstruct_pack(s, out);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
}

static void gen_sigstruct(void)
{
    crypto_init();
    uint8_t seed[32], out[SIGSTRUCT_LEN + 1];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 3 + 1);
    struct sigstruct s = { .version = 1, .isv_prod_id = 1, .isv_svn = 1 };
    memset(s.mrenclave, FZ_ENCLAVE_BYTE, 32);
    sign(seed, &s, out);
    put("valid", out, SIGSTRUCT_LEN);
    s.isv_svn = 7;
    s.isv_prod_id = 0xFFFF;
    sign(seed, &s, out);
    put("valid_svn7_prod_ffff", out, SIGSTRUCT_LEN);
    out[SIGSTRUCT_LEN - 1] ^= 1;
    put("bad_signature", out, SIGSTRUCT_LEN);
    out[SIGSTRUCT_LEN - 1] ^= 1;
    out[20] ^= 1;                                     /* mrenclave, signed */
    put("tampered_mrenclave", out, SIGSTRUCT_LEN);
    out[20] ^= 1;
    put("truncated", out, SIGSTRUCT_LEN - 1);
    out[SIGSTRUCT_LEN] = 0;
    put("too_long", out, SIGSTRUCT_LEN + 1);
    s.version = 2;
    sign(seed, &s, out);
    put("version_2", out, SIGSTRUCT_LEN);
    s.version = 1;
    sign(seed, &s, out);
    out[15] = 1;                                      /* reserved */
    put("reserved_nonzero", out, SIGSTRUCT_LEN);
    memcpy(out, "SVTPMSIX", 8);
    put("bad_magic", out, SIGSTRUCT_LEN);
}

/* ---- ECALL sequences ----------------------------------------------------- */

struct seq {
    uint8_t buf[16384];
    struct wr w;
};

static void seq_start(struct seq *s, uint8_t flags)
{
    s->w = wr_init(s->buf, sizeof s->buf);
    wr_u8(&s->w, flags);
}

static void seq_call(struct seq *s, uint8_t call, const void *p, size_t n)
{
    wr_u8(&s->w, call);
    wr_be16(&s->w, (uint16_t)n);
    wr_bytes(&s->w, p, n);
}

static void seq_call32(struct seq *s, uint8_t call, uint32_t v)
{
    uint8_t b[4];
    put_be32(b, v);
    seq_call(s, call, b, 4);
}

static void seq_put(struct seq *s, const char *name)
{
    if (!wr_ok(&s->w)) {
        fprintf(stderr, "gen_seeds: %s does not fit\n", name);
        exit(1);
    }
    put(name, s->buf, s->w.off);
}

/* The libtpms blob inside a plain swtpm state file. */
static const uint8_t *swtpm_payload(const uint8_t *file, size_t n, size_t *len)
{
    struct swtpm_blob b;
    if (swtpm_blob_parse(file, n, &b) != SVTPM_OK || !b.data) {
        fprintf(stderr, "gen_seeds: not a plain swtpm state file\n");
        exit(1);
    }
    *len = b.data_len;
    return b.data;
}

static void import_req(struct seq *s, uint32_t file, uint32_t kind, uint32_t keylen, const char *secret,
                       const uint8_t *blob, size_t n)
{
    uint8_t *b = malloc(16 + 1024 + n);
    struct wr w = wr_init(b, 16 + 1024 + n);
    size_t sl = secret ? strlen(secret) : 0;
    wr_be32(&w, file);
    wr_be32(&w, kind);
    wr_be32(&w, keylen);
    wr_be32(&w, (uint32_t)sl);
    wr_bytes(&w, secret, sl);
    wr_bytes(&w, blob, n);
    seq_call(s, ECALL_IMPORT_SWTPM, b, w.off);
    free(b);
}

static void gen_ecall(const char *swdir)
{
    struct tee_platform p;
    fz_platform(&p);
    char path[4096];
    size_t pn, vn, en, kn;
    snprintf(path, sizeof path, "%s/plain/tpm2-00.permall", swdir);
    uint8_t *perm_file = slurp(path, &pn);
    snprintf(path, sizeof path, "%s/plain/tpm2-00.volatilestate", swdir);
    uint8_t *vol_file = slurp(path, &vn);
    snprintf(path, sizeof path, "%s/pwd-aes256/tpm2-00.permall", swdir);
    uint8_t *enc_file = slurp(path, &en);
    snprintf(path, sizeof path, "%s/keyfile-hex-aes128/tpm2-00.permall", swdir);
    uint8_t *key_file = slurp(path, &kn);
    size_t perm_len, vol_len;
    const uint8_t *perm = swtpm_payload(perm_file, pn, &perm_len);
    const uint8_t *vol = swtpm_payload(vol_file, vn, &vol_len);

    /* migration blobs: what GET_STATEBLOB would hand out */
    static uint8_t mp[SVTPM_SEALED_REC_MAX], mv[SVTPM_SEALED_REC_MAX], tb[4 + SVTPM_SEALED_REC_MAX];
    size_t mpn = seal_std(&p, SEAL_KIND_MIG_PERMALL, 1, fz_vtpm_id, perm, (uint32_t)perm_len, mp);
    size_t mvn = seal_std(&p, SEAL_KIND_MIG_VOLATILE, 1, fz_vtpm_id, vol, (uint32_t)vol_len, mv);
    struct seq s;
    uint8_t init[INIT_REQ_LEN] = { 0 };

    seq_start(&s, FZ_EC_NO_AUTO_INIT);
    seq_call(&s, ECALL_PING, "ping", 4);
    seq_call(&s, ECALL_INIT, init, sizeof init);
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "init_plain");

    seq_start(&s, FZ_EC_NO_AUTO_INIT);
    put_be32(init, INIT_F_HAVE_VTPM_ID);
    memcpy(init + 4, fz_vtpm_id, 16);
    seq_call(&s, ECALL_INIT, init, sizeof init);
    seq_call(&s, ECALL_INIT, init, sizeof init);       /* twice: refused */
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "init_named_twice");

    seq_start(&s, FZ_EC_NO_AUTO_INIT);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 0);           /* before INIT: refused */
    put_be32(init, 0x80000001u);                       /* unknown flag */
    seq_call(&s, ECALL_INIT, init, sizeof init);
    seq_call(&s, ECALL_INIT, init, 8);                 /* short */
    seq_put(&s, "init_refused");

    seq_start(&s, 0);
    seq_call(&s, ECALL_PING, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64);
    seq_call(&s, ECALL_PING, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef!", 65);
    seq_call(&s, 0, NULL, 0);
    seq_call(&s, ECALL__END, NULL, 0);
    seq_put(&s, "ping_and_unknown_calls");

    seq_start(&s, 0);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 0);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 4096);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 0x0F80);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 1);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 0xFFFFFFFF);
    seq_call(&s, ECALL_SET_BUFFERSIZE, "\0\0", 2);
    seq_put(&s, "set_buffersize");

    static const uint8_t info3[8] = { 0, 0, 0, 0, 0, 0, 0, 3 }, info4[8] = { 0, 0, 0, 0, 0, 0, 0, 4 },
                         infoff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    seq_start(&s, 0);
    seq_call(&s, ECALL_GET_INFO, info3, 8);
    seq_call(&s, ECALL_GET_INFO, info4, 8);
    seq_call(&s, ECALL_GET_INFO, infoff, 8);
    seq_call(&s, ECALL_GET_INFO, info3, 7);
    seq_put(&s, "get_info");

    seq_start(&s, 0);
    seq_call(&s, ECALL_EST_GET, NULL, 0);
    seq_call(&s, ECALL_EST_RESET, "\3", 1);
    seq_call(&s, ECALL_EST_RESET, "\3\0", 2);
    seq_call(&s, ECALL_HASH_START, NULL, 0);
    seq_call(&s, ECALL_HASH_DATA, "abcd", 4);
    seq_call(&s, ECALL_HASH_DATA, NULL, 0);
    seq_call(&s, ECALL_HASH_END, NULL, 0);
    seq_call(&s, ECALL_STATE_INFO, "x", 1);
    seq_put(&s, "tpm_off_calls");

    seq_start(&s, 0);
    seq_call32(&s, ECALL_GET_STATEBLOB, 1);
    seq_call32(&s, ECALL_GET_STATEBLOB, 2);
    seq_call32(&s, ECALL_GET_STATEBLOB, 3);
    seq_call32(&s, ECALL_GET_STATEBLOB, 0);
    seq_call(&s, ECALL_GET_STATEBLOB, "\0\0\0\1\0", 5);
    seq_put(&s, "get_stateblob_types");

    /* SET_STATEBLOB: u32 type, sealed migration blob */
    struct wr w;
    seq_start(&s, 0);
    w = wr_init(tb, sizeof tb);
    wr_be32(&w, 1);
    wr_bytes(&w, mp, mpn);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    w = wr_init(tb, sizeof tb);
    wr_be32(&w, 2);
    wr_bytes(&w, mv, mvn);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "set_stateblob_permanent_volatile");

    seq_start(&s, 0);
    w = wr_init(tb, sizeof tb);
    wr_be32(&w, 1);
    wr_bytes(&w, mp, mpn);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    seq_put(&s, "set_stateblob_permanent");

    seq_start(&s, FZ_EC_NO_AUTO_INIT);
    put_be32(init, INIT_F_HAVE_VTPM_ID);
    memset(init + 4, 0x77, 16);                        /* another vTPM: refused */
    seq_call(&s, ECALL_INIT, init, sizeof init);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    seq_put(&s, "set_stateblob_foreign_vtpm");

    seq_start(&s, 0);
    tb[4 + 16] ^= 1;                                   /* tampered seq */
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    tb[4 + 16] ^= 1;
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off - 1);  /* cut */
    put_be32(tb, 2);                                   /* permanent blob as volatile */
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    seq_call32(&s, ECALL_SET_STATEBLOB, 3);            /* empty savestate: accepted */
    seq_call32(&s, ECALL_SET_STATEBLOB, 1);            /* empty permanent */
    seq_call32(&s, ECALL_SET_STATEBLOB, 9);
    seq_call(&s, ECALL_SET_STATEBLOB, "\0\0", 2);
    seq_put(&s, "set_stateblob_refused");

    /* a blob that authenticates but holds no libtpms state */
    seq_start(&s, 0);
    w = wr_init(tb, sizeof tb);
    wr_be32(&w, 1);
    mpn = seal_std(&p, SEAL_KIND_MIG_PERMALL, 1, fz_vtpm_id, (const uint8_t *)"not a libtpms blob", 18,
                   tb + 4);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, 4 + mpn);
    seq_put(&s, "set_stateblob_not_libtpms");

    /* IMPORT_SWTPM: real swtpm 0.7.1 files */
    seq_start(&s, 0);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_NONE, 0, NULL, perm_file, pn);
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "import_plain_permall");

    seq_start(&s, 0);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_NONE, 0, NULL, perm_file, pn);
    import_req(&s, STATE_FILE_VOLATILE, IMPORT_KEY_NONE, 0, NULL, vol_file, vn);
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "import_plain_permall_volatile");

    seq_start(&s, 0);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_SHA512, 32, "fuzz-seed-passphrase\n", enc_file, en);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_PBKDF2, 32, "fuzz-seed-passphrase\n", enc_file, en);
    seq_put(&s, "import_pwdfile_aes256");

    seq_start(&s, 0);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_HEX, 16, "00112233445566778899aabbccddeeff\n", key_file, kn);
    seq_put(&s, "import_keyfile_hex_aes128");

    seq_start(&s, 0);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_HEX, 16, "00112233445566778899aabbccddeef0\n", key_file, kn);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_NONE, 0, NULL, key_file, kn);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_HEX, 16, "00112233445566778899aabbccddeeff", perm_file, pn);
    import_req(&s, 3, IMPORT_KEY_NONE, 0, NULL, perm_file, pn);
    import_req(&s, STATE_FILE_VOLATILE, IMPORT_KEY_NONE, 0, NULL, perm_file, 100);
    seq_put(&s, "import_refused");

    /* small response caps: what fits is answered, the rest is TOOBIG */
    seq_start(&s, FZ_EC_SMALL_CAP | (5u << 3));        /* cap 30 */
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 0);
    seq_call(&s, ECALL_GET_INFO, info3, 8);
    seq_call(&s, ECALL_PING, "0123456789abcdef0123456789abcdef", 32);
    seq_call32(&s, ECALL_GET_STATEBLOB, 1);
    seq_put(&s, "small_cap_30");

    seq_start(&s, FZ_EC_NO_AUTO_INIT | FZ_EC_SMALL_CAP | (14u << 3));   /* cap 66: INIT needs 69 */
    memset(init, 0, sizeof init);
    seq_call(&s, ECALL_INIT, init, sizeof init);
    seq_call(&s, ECALL_INIT, init, sizeof init);
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "small_cap_init");

    /* power on over an empty fake host (manufactures a TPM), then use it */
    static const uint8_t startup[] = { 0, 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
    static const uint8_t getrandom[] = { 0, 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8 };
    seq_start(&s, FZ_EC_POWER);
    seq_call32(&s, ECALL_POWER_ON, 0);
    seq_call(&s, ECALL_PROCESS, startup, sizeof startup);
    seq_call(&s, ECALL_PROCESS, getrandom, sizeof getrandom);
    seq_call(&s, ECALL_EST_GET, NULL, 0);
    seq_call(&s, ECALL_HASH_START, NULL, 0);
    seq_call(&s, ECALL_HASH_DATA, "abcd", 4);
    seq_call(&s, ECALL_HASH_END, NULL, 0);
    seq_call(&s, ECALL_EST_RESET, "\3", 1);
    seq_call(&s, ECALL_EST_GET, NULL, 0);
    seq_call32(&s, ECALL_GET_STATEBLOB, 1);
    seq_call32(&s, ECALL_GET_STATEBLOB, 2);
    seq_call32(&s, ECALL_GET_STATEBLOB, 3);
    seq_call32(&s, ECALL_SET_BUFFERSIZE, 4096);        /* refused while running */
    seq_call(&s, ECALL_STORE_VOLATILE, NULL, 0);
    seq_call(&s, ECALL_POWER_OFF, NULL, 0);
    seq_put(&s, "power_on_process");

    seq_start(&s, FZ_EC_POWER);
    w = wr_init(tb, sizeof tb);
    wr_be32(&w, 1);
    mpn = seal_std(&p, SEAL_KIND_MIG_PERMALL, 1, fz_vtpm_id, perm, (uint32_t)perm_len, mp);
    wr_bytes(&w, mp, mpn);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, w.off);
    seq_call32(&s, ECALL_POWER_ON, 1);
    seq_call(&s, ECALL_PROCESS, startup, sizeof startup);
    seq_call(&s, ECALL_STATE_INFO, NULL, 0);
    seq_put(&s, "incoming_migration");
    free(perm_file);
    free(vol_file);
    free(enc_file);
    free(key_file);
}

/* fuzz_known_states.h: SHA-256 of the libtpms blobs inside the committed
 * swtpm files (decrypted), the import plaintexts fuzz_ecall lets through to
 * libtpms' own unmarshalling (see fuzz_ecall.c TPMLIB_SetState). */
static void gen_known_states(const char *swdir)
{
    static const struct { const char *dir; uint32_t kind, keylen; const char *secret; } setups[] = {
        { "plain", IMPORT_KEY_NONE, 0, NULL },
        { "pwd-aes256", IMPORT_KEY_PBKDF2, 32, "passphrase" },
        { "pwd-sha512-aes128", IMPORT_KEY_SHA512, 16, "passphrase" },
        { "keyfile-hex-aes128", IMPORT_KEY_HEX, 16, "key-hex-aes128" },
        { "keyfile-bin-aes256", IMPORT_KEY_BINARY, 32, "key-bin-aes256" },
    };
    static const char *const files[] = { "tpm2-00.permall", "tpm2-00.volatilestate" };
    crypto_init();
    printf("/* Generated by tests/fuzz/gen/gen-corpus.sh (gen_seeds known-states): SHA-256\n"
           " * of the libtpms blobs inside tests/fuzz/gen/swtpm-0.7.1/. Do not edit. */\n"
           "static const uint8_t fz_known_states[][32] = {\n");
    for (size_t i = 0; i < sizeof setups / sizeof setups[0]; i++) {
        uint8_t key[32];
        size_t klen = 0, sn = 0;
        char path[4096];
        if (setups[i].secret) {
            snprintf(path, sizeof path, "%s/secrets/%s", swdir, setups[i].secret);
            uint8_t *sec = slurp(path, &sn);
            if (import_derive_key(setups[i].kind, setups[i].keylen, sec, sn, key, &klen) != SVTPM_OK)
                abort();
            free(sec);
        }
        for (size_t j = 0; j < 2; j++) {
            size_t n, plen;
            snprintf(path, sizeof path, "%s/%s/%s", swdir, setups[i].dir, files[j]);
            uint8_t *file = slurp(path, &n);
            uint8_t *plain = malloc(SVTPM_STATE_PLAIN_MAX), h[32];
            if (import_unwrap(key, klen, file, n, plain, SVTPM_STATE_PLAIN_MAX, &plen) != SVTPM_OK)
                abort();
            struct iovc part = { plain, plen };
            crypto_sha256(&part, 1, h);
            printf("    {");
            for (int k = 0; k < 32; k++)
                printf("%s0x%02x", k ? "," : "", h[k]);
            printf("},   /* %s/%s */\n", setups[i].dir, files[j]);
            free(plain);
            free(file);
        }
    }
    printf("};\n");
}

/* Known crashes, kept out of the corpora (tests/fuzz/crashes/). */
static void gen_crashes_ecall(const char *swdir)
{
    struct tee_platform p;
    fz_platform(&p);
    char path[4096];
    size_t vn;
    snprintf(path, sizeof path, "%s/plain/tpm2-00.volatilestate", swdir);
    uint8_t *vol_file = slurp(path, &vn);
    static uint8_t tb[4 + SVTPM_SEALED_REC_MAX];
    struct seq s;
    /* empty permanent blob, then an authentic 1-byte volatile blob */
    seq_start(&s, 0);
    seq_call32(&s, ECALL_SET_STATEBLOB, 1);
    put_be32(tb, 2);
    size_t n = seal_std(&p, SEAL_KIND_MIG_VOLATILE, 1, fz_vtpm_id, (const uint8_t *)"x", 1, tb + 4);
    seq_call(&s, ECALL_SET_STATEBLOB, tb, 4 + n);
    seq_put(&s, "empty_permanent_then_volatile_blob");
    /* the same through import: empty permanent blob, then a swtpm volatilestate */
    seq_start(&s, 0);
    seq_call32(&s, ECALL_SET_STATEBLOB, 1);
    import_req(&s, STATE_FILE_VOLATILE, IMPORT_KEY_NONE, 0, NULL, vol_file, vn);
    seq_put(&s, "empty_permanent_then_import_volatile");
    /* a swtpm permall with one byte changed: libtpms reads out of bounds
     * while TPMLIB_SetState validates it (needs FZ_REAL_LIBTPMS=1) */
    size_t pn;
    snprintf(path, sizeof path, "%s/plain/tpm2-00.permall", swdir);
    uint8_t *perm_file = slurp(path, &pn);
    if (pn > 1226)
        perm_file[1226] = 0xFF;
    seq_start(&s, 0);
    import_req(&s, STATE_FILE_PERMALL, IMPORT_KEY_NONE, 0, NULL, perm_file, pn);
    seq_put(&s, "import_permall_byte1226_ff");
    free(perm_file);
    free(vol_file);
}

static void gen_crashes_sealed(void)
{
    /* slot A: 1 byte of garbage, slot B: an authentic record. store_load
     * compares slot A's never-parsed header seq (uninitialised stack) with
     * B's to decide whether to log "incomplete write". */
    struct tee_platform p;
    fz_platform(&p);
    static uint8_t b[SVTPM_SEALED_REC_MAX];
    uint8_t payload[16] = { 0 };
    size_t nb = seal_std(&p, SEAL_KIND_PERMALL, 1, fz_vtpm_id, payload, sizeof payload, b);
    put_reply("uninit_seq_garbage_slot_a", 0, SEAL_FILE_SIZE, (const uint8_t *)"G", 1, b, nb);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "known-states")) {
        gen_known_states(argv[2]);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: gen_seeds sealed|sigstruct|ecall OUTDIR [SWTPMDIR]\n");
        return 2;
    }
    outdir = argv[2];
    mkdir(outdir, 0755);
    if (!strcmp(argv[1], "sealed"))
        gen_sealed();
    else if (!strcmp(argv[1], "sigstruct"))
        gen_sigstruct();
    else if (!strcmp(argv[1], "ecall") && argc == 4)
        gen_ecall(argv[3]);
    else if (!strcmp(argv[1], "crashes-sealed"))
        gen_crashes_sealed();
    else if (!strcmp(argv[1], "crashes-ecall") && argc == 4)
        gen_crashes_ecall(argv[3]);
    else
        return 2;
    return 0;
}
