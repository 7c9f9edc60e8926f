#include "bench_ops.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define NV_SIZE 64u       /* ordinary NV index size (bytes) */
#define NV_WRITE_LEN 32u  /* bytes written per NV_Write */
#define SYM_DATA_LEN 256u /* bytes per EncryptDecrypt2 */

unsigned bench_round_seed;
uint32_t bench_nv_index = 0x01500b01u;

static void flush(struct srv *s, ESYS_TR *h)
{
    if (*h != ESYS_TR_NONE) {
        Esys_FlushContext(s->ctx, *h);
        *h = ESYS_TR_NONE;
    }
}

/* --------------------------------------------------------------- templates */

#define OBJ_KEY_ATTRS                                                                 \
    (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
     TPMA_OBJECT_USERWITHAUTH)

static TPM2B_PUBLIC tmpl_rsa_storage(void)
{
    TPM2B_PUBLIC p = {0};
    p.publicArea.type = TPM2_ALG_RSA;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes =
        OBJ_KEY_ATTRS | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    p.publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
    p.publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.publicArea.parameters.rsaDetail.keyBits = 2048;
    p.publicArea.parameters.rsaDetail.exponent = 0;
    return p;
}

static TPM2B_PUBLIC tmpl_rsa_sign(void)
{
    TPM2B_PUBLIC p = {0};
    p.publicArea.type = TPM2_ALG_RSA;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes = OBJ_KEY_ATTRS | TPMA_OBJECT_SIGN_ENCRYPT;
    p.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    p.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    p.publicArea.parameters.rsaDetail.keyBits = 2048;
    return p;
}

static TPM2B_PUBLIC tmpl_rsa_decrypt(void)
{
    TPM2B_PUBLIC p = {0};
    p.publicArea.type = TPM2_ALG_RSA;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes = OBJ_KEY_ATTRS | TPMA_OBJECT_DECRYPT;
    p.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.publicArea.parameters.rsaDetail.keyBits = 2048;
    return p;
}

static TPM2B_PUBLIC tmpl_aes(void)
{
    TPM2B_PUBLIC p = {0};
    p.publicArea.type = TPM2_ALG_SYMCIPHER;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes =
        OBJ_KEY_ATTRS | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT;
    p.publicArea.parameters.symDetail.sym.algorithm = TPM2_ALG_AES;
    p.publicArea.parameters.symDetail.sym.keyBits.aes = 128;
    p.publicArea.parameters.symDetail.sym.mode.aes = TPM2_ALG_CFB;
    return p;
}

static TPM2B_PUBLIC tmpl_seal(void)
{
    TPM2B_PUBLIC p = {0};
    p.publicArea.type = TPM2_ALG_KEYEDHASH;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes =
        TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH;
    p.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    return p;
}

/* A sealed object only a policy session can open: no USERWITHAUTH, and an
 * authPolicy of 32 zero bytes, the digest of a fresh SHA-256 policy session,
 * so that session satisfies it without any policy command.  A successful use
 * with continueSession resets the session's digest to zeros again, so the same
 * session opens it every time. */
static TPM2B_PUBLIC tmpl_seal_policy(void)
{
    TPM2B_PUBLIC p = {0};
    p.publicArea.type = TPM2_ALG_KEYEDHASH;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
    p.publicArea.authPolicy.size = 32;
    p.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    return p;
}

static const TPM2B_SENSITIVE_CREATE empty_sens;
static const TPM2B_DATA empty_data;
static const TPML_PCR_SELECTION empty_pcrs;

static void free_create(struct create_out *o)
{
    Esys_Free(o->priv);
    Esys_Free(o->pub);
    Esys_Free(o->cdata);
    Esys_Free(o->chash);
    Esys_Free(o->ticket);
    memset(o, 0, sizeof(*o));
}

/* Keep the newest created object in *keep and free the older one (untimed). */
static void keep_last(struct create_out *keep, struct create_out *fresh)
{
    free_create(keep);
    *keep = *fresh;
    memset(fresh, 0, sizeof(*fresh));
}

/* A distinct `unique` per call, so every CreatePrimary generates a new key. */
TSS2_RC create_primary(struct srv *s, unsigned i, ESYS_TR *out)
{
    TPM2B_PUBLIC t = tmpl_rsa_storage();
    unsigned v[2] = {bench_round_seed, i};
    t.publicArea.unique.rsa.size = sizeof(v);
    memcpy(t.publicArea.unique.rsa.buffer, v, sizeof(v));
    struct create_out o = {0};
    TSS2_RC rc = Esys_CreatePrimary(s->ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &empty_sens, &t, &empty_data, &empty_pcrs,
                                    out, &o.pub, &o.cdata, &o.chash, &o.ticket);
    free_create(&o);
    return rc;
}

/* `o` must be empty: ESAPI allocates the outputs. */
static TSS2_RC create(struct srv *s, const TPM2B_PUBLIC *t, const TPM2B_SENSITIVE_CREATE *sens,
                      struct create_out *o)
{
    return Esys_Create(s->ctx, s->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                       sens ? sens : &empty_sens, t, &empty_data, &empty_pcrs, &o->priv,
                       &o->pub, &o->cdata, &o->chash, &o->ticket);
}

static TSS2_RC load(struct srv *s, const struct create_out *o, ESYS_TR *h)
{
    return Esys_Load(s->ctx, s->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, o->priv,
                     o->pub, h);
}

/* Create (untimed) into *o unless it already holds an object. */
static TSS2_RC ensure(struct srv *s, const TPM2B_PUBLIC *t,
                      const TPM2B_SENSITIVE_CREATE *sens, struct create_out *o)
{
    if (o->priv)
        return TSS2_RC_SUCCESS;
    struct create_out fresh = {0};
    TSS2_RC rc = create(s, t, sens, &fresh);
    if (rc == TSS2_RC_SUCCESS)
        keep_last(o, &fresh);
    return rc;
}

static TSS2_RC ensure_load(struct srv *s, const TPM2B_PUBLIC *t,
                           const TPM2B_SENSITIVE_CREATE *sens, struct create_out *o)
{
    TSS2_RC rc = ensure(s, t, sens, o);
    return rc != TSS2_RC_SUCCESS ? rc : load(s, o, &s->h);
}

/* ----------------------------------------------------------- fixed inputs */

static TPM2B_DIGEST sign_digest(void)
{
    TPM2B_DIGEST d = {.size = 32};
    memset(d.buffer, 0x5a, 32);
    return d;
}
static const TPMT_SIG_SCHEME rsassa = {.scheme = TPM2_ALG_RSASSA,
                                       .details.rsassa.hashAlg = TPM2_ALG_SHA256};
static const TPMT_TK_HASHCHECK null_ticket = {.tag = TPM2_ST_HASHCHECK,
                                              .hierarchy = TPM2_RH_NULL};
static const TPMT_RSA_DECRYPT oaep = {.scheme = TPM2_ALG_OAEP,
                                      .details.oaep.hashAlg = TPM2_ALG_SHA256};

static TPM2B_PUBLIC_KEY_RSA rsa_msg(void)
{
    TPM2B_PUBLIC_KEY_RSA m = {.size = 32};
    memset(m.buffer, 0x42, 32);
    return m;
}

static TPM2B_SENSITIVE_CREATE seal_data(void)
{
    TPM2B_SENSITIVE_CREATE d = {0};
    d.sensitive.data.size = 32;
    memset(d.sensitive.data.buffer, 0x77, 32);
    return d;
}

/* ------------------------------------------------------------- operations */



static void flush_h(struct srv *s) { flush(s, &s->h); }

/* CreatePrimary: RSA-2048 storage key in the owner hierarchy. */
static TSS2_RC cp_call(struct srv *s) { return create_primary(s, s->ctr++, &s->h); }

/* Create: RSA-2048 signing key (RSASSA-SHA256) under the storage primary. */
static TSS2_RC cr_call(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_rsa_sign();
    return create(s, &t, NULL, &s->tmp);
}
static void cr_after(struct srv *s) { keep_last(&s->sign_key, &s->tmp); }

/* Load of that signing key. */
static TSS2_RC ld_setup(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_rsa_sign();
    return ensure(s, &t, NULL, &s->sign_key);
}
static TSS2_RC ld_call(struct srv *s) { return load(s, &s->sign_key, &s->h); }

/* Sign / VerifySignature: RSASSA SHA-256 over a 32-byte digest. */
static TSS2_RC sg_setup(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_rsa_sign();
    return ensure_load(s, &t, NULL, &s->sign_key);
}
static TSS2_RC sg_call(struct srv *s)
{
    TPM2B_DIGEST d = sign_digest();
    return Esys_Sign(s->ctx, s->h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &rsassa,
                     &null_ticket, &s->sig);
}
static void free_sig(struct srv *s)
{
    Esys_Free(s->sig);
    s->sig = NULL;
}
static void sg_teardown(struct srv *s)
{
    free_sig(s);
    flush_h(s);
}
static TSS2_RC vs_setup(struct srv *s)
{
    TSS2_RC rc = sg_setup(s);
    return rc != TSS2_RC_SUCCESS ? rc : sg_call(s);
}
static TSS2_RC vs_call(struct srv *s)
{
    TPM2B_DIGEST d = sign_digest();
    TPMT_TK_VERIFIED *v = NULL;
    TSS2_RC rc = Esys_VerifySignature(s->ctx, s->h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                      &d, s->sig, &v);
    Esys_Free(v);
    return rc;
}

/* RSA_Encrypt / RSA_Decrypt: RSA-2048 decryption key, OAEP SHA-256, 32 bytes. */
static TSS2_RC re_setup(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_rsa_decrypt();
    return ensure_load(s, &t, NULL, &s->dec_key);
}
static TSS2_RC re_call(struct srv *s)
{
    TPM2B_PUBLIC_KEY_RSA m = rsa_msg();
    return Esys_RSA_Encrypt(s->ctx, s->h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &m, &oaep,
                            &empty_data, &s->ct);
}
static void free_ct(struct srv *s)
{
    Esys_Free(s->ct);
    s->ct = NULL;
}
static void re_teardown(struct srv *s)
{
    free_ct(s);
    flush_h(s);
}
static TSS2_RC rd_setup(struct srv *s)
{
    TSS2_RC rc = re_setup(s);
    return rc != TSS2_RC_SUCCESS ? rc : re_call(s);
}
static TSS2_RC rd_call(struct srv *s)
{
    TPM2B_PUBLIC_KEY_RSA *pt = NULL;
    TSS2_RC rc = Esys_RSA_Decrypt(s->ctx, s->h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                  s->ct, &oaep, &empty_data, &pt);
    Esys_Free(pt);
    return rc;
}

/* EncryptDecrypt2: AES-128-CFB key, encrypt 256 bytes. */
static TSS2_RC ed_setup(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_aes();
    struct create_out k = {0};
    TSS2_RC rc = create(s, &t, NULL, &k);
    if (rc == TSS2_RC_SUCCESS)
        rc = load(s, &k, &s->h);
    free_create(&k);
    return rc;
}
static TSS2_RC ed_call(struct srv *s)
{
    TPM2B_MAX_BUFFER in = {.size = SYM_DATA_LEN};
    memset(in.buffer, 0x33, SYM_DATA_LEN);
    TPM2B_IV iv = {.size = 16};
    TPM2B_MAX_BUFFER *out = NULL;
    TPM2B_IV *ivout = NULL;
    TSS2_RC rc = Esys_EncryptDecrypt2(s->ctx, s->h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                      &in, TPM2_NO, TPM2_ALG_NULL, &iv, &out, &ivout);
    Esys_Free(out);
    Esys_Free(ivout);
    return rc;
}

/* Seal: Create of a keyed-hash object holding 32 bytes; Unseal of it. */
static TSS2_RC se_call(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_seal();
    TPM2B_SENSITIVE_CREATE d = seal_data();
    return create(s, &t, &d, &s->tmp);
}
static void se_after(struct srv *s) { keep_last(&s->sealed, &s->tmp); }
static TSS2_RC us_setup(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_seal();
    TPM2B_SENSITIVE_CREATE d = seal_data();
    return ensure_load(s, &t, &d, &s->sealed);
}
static TSS2_RC us_call(struct srv *s)
{
    TPM2B_SENSITIVE_DATA *u = NULL;
    TSS2_RC rc = Esys_Unseal(s->ctx, s->h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &u);
    Esys_Free(u);
    return rc;
}

/* PCR_Read (SHA-256 PCR 16), PCR_Extend (PCR 16, SHA-256 bank), GetRandom(32). */
static TSS2_RC pr_call(struct srv *s)
{
    TPML_PCR_SELECTION sel = {.count = 1};
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[2] = 0x01;
    UINT32 upd;
    TPML_PCR_SELECTION *osel = NULL;
    TPML_DIGEST *vals = NULL;
    TSS2_RC rc = Esys_PCR_Read(s->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &upd,
                               &osel, &vals);
    Esys_Free(osel);
    Esys_Free(vals);
    return rc;
}
static TSS2_RC pe_call(struct srv *s)
{
    TPML_DIGEST_VALUES d = {.count = 1};
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    memset(d.digests[0].digest.sha256, 0x11, 32);
    return Esys_PCR_Extend(s->ctx, ESYS_TR_PCR16, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &d);
}
static TSS2_RC gr_call(struct srv *s)
{
    TPM2B_DIGEST *r = NULL;
    TSS2_RC rc = Esys_GetRandom(s->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 32, &r);
    Esys_Free(r);
    return rc;
}

/* Policy sessions (issue 5: with a time authority, svtpm fetches a fresh signed
 * time token before every time-sensitive command; these two are such commands).
 * The session: TPM2_SE_POLICY, SHA-256, unsalted, unbound, kept for the whole
 * operation (continueSession) and flushed at its end. */
static TSS2_RC policy_session(struct srv *s)
{
    static const TPMT_SYM_DEF no_sym = {.algorithm = TPM2_ALG_NULL};
    TSS2_RC rc = Esys_StartAuthSession(s->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
                                       &no_sym, TPM2_ALG_SHA256, &s->sess);
    if (rc == TSS2_RC_SUCCESS)
        rc = Esys_TRSess_SetAttributes(s->ctx, s->sess, TPMA_SESSION_CONTINUESESSION, 0xff);
    return rc;
}
static void flush_sess(struct srv *s) { flush(s, &s->sess); }

/* PolicyCounterTimer on that session: TPMS_TIME_INFO.time (offset 0) >= 8 zero
 * bytes, unsigned, so it always passes (the session's digest grows each call). */
static TSS2_RC pct_call(struct srv *s)
{
    static const TPM2B_OPERAND zero8 = {.size = 8};
    return Esys_PolicyCounterTimer(s->ctx, s->sess, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &zero8, 0, TPM2_EO_UNSIGNED_GE);
}

/* PolicyUnseal: Unseal (32 bytes) authorized by that policy session (no policy
 * command: see tmpl_seal_policy), i.e. an ordinary command made time-sensitive
 * only by the policy session in its authorization area. */
static TSS2_RC pu_setup(struct srv *s)
{
    TPM2B_PUBLIC t = tmpl_seal_policy();
    TPM2B_SENSITIVE_CREATE d = seal_data();
    TSS2_RC rc = ensure_load(s, &t, &d, &s->psealed);
    return rc != TSS2_RC_SUCCESS ? rc : policy_session(s);
}
static TSS2_RC pu_call(struct srv *s)
{
    TPM2B_SENSITIVE_DATA *u = NULL;
    TSS2_RC rc = Esys_Unseal(s->ctx, s->h, s->sess, ESYS_TR_NONE, ESYS_TR_NONE, &u);
    Esys_Free(u);
    return rc;
}
static void pu_teardown(struct srv *s)
{
    flush_sess(s);
    flush_h(s);
}

/* NV_Write: 32 bytes (new content every time) into a 64-byte ordinary index,
 * defined once and kept in the state.  Each write changes NV, so the server
 * commits its state to disk: this measures durable writes. */
static TSS2_RC nv_setup(struct srv *s)
{
    TSS2_RC rc = Esys_TR_FromTPMPublic(s->ctx, bench_nv_index, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &s->nv);
    if (rc == TSS2_RC_SUCCESS)
        return rc;
    TPM2B_NV_PUBLIC pub = {0};
    pub.nvPublic.nvIndex = bench_nv_index;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHWRITE |
                              TPMA_NV_AUTHREAD | (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT);
    pub.nvPublic.dataSize = NV_SIZE;
    TPM2B_AUTH auth = {0};
    return Esys_NV_DefineSpace(s->ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &auth, &pub, &s->nv);
}
static TSS2_RC nv_call(struct srv *s)
{
    TPM2B_MAX_NV_BUFFER data = {.size = NV_WRITE_LEN};
    memset(data.buffer, (int)(s->ctr++ & 0xff), NV_WRITE_LEN);
    return Esys_NV_Write(s->ctx, s->nv, s->nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                         &data, 0);
}
static void nv_teardown(struct srv *s)
{
    if (s->nv != ESYS_TR_NONE)
        Esys_TR_Close(s->ctx, &s->nv);
    s->nv = ESYS_TR_NONE;
}

const struct op bench_ops[] = {
    {"CreatePrimary", 1, 0, NULL, cp_call, flush_h, flush_h},
    {"Create", 1, 1, NULL, cr_call, cr_after, NULL},
    {"Load", 0, 1, ld_setup, ld_call, flush_h, flush_h},
    {"Sign", 0, 1, sg_setup, sg_call, free_sig, sg_teardown},
    {"VerifySignature", 0, 1, vs_setup, vs_call, NULL, sg_teardown},
    {"RSA_Encrypt", 0, 1, re_setup, re_call, free_ct, re_teardown},
    {"RSA_Decrypt", 0, 1, rd_setup, rd_call, NULL, re_teardown},
    {"EncryptDecrypt2", 0, 1, ed_setup, ed_call, NULL, flush_h},
    {"Seal", 0, 1, NULL, se_call, se_after, NULL},
    {"Unseal", 0, 1, us_setup, us_call, NULL, flush_h},
    {"PCR_Read", 0, 0, NULL, pr_call, NULL, NULL},
    {"PCR_Extend", 0, 0, NULL, pe_call, NULL, NULL},
    {"GetRandom", 0, 0, NULL, gr_call, NULL, NULL},
    {"NV_Write", 0, 0, nv_setup, nv_call, NULL, nv_teardown},
    {"PolicyCounterTimer", 0, 0, policy_session, pct_call, NULL, flush_sess},
    {"PolicyUnseal", 0, 1, pu_setup, pu_call, NULL, pu_teardown},
};
const int bench_n_ops = (int)(sizeof(bench_ops) / sizeof(bench_ops[0]));

void bench_srv_release(struct srv *s)
{
    flush(s, &s->srk);
    free_create(&s->sign_key);
    free_create(&s->dec_key);
    free_create(&s->sealed);
    free_create(&s->psealed);
    free_create(&s->tmp);
}
