/*
 * svtpm-bench: times the SvTPM paper's TPM 2.0 command set against running
 * swtpm-compatible servers, through ESAPI over the swtpm TCTI (one TCP data
 * connection per command: what tpm2-tools and tpm2-tss users get).
 *
 *   svtpm-bench -p PORT                         one server
 *   svtpm-bench -S swtpm=PORT1 -S svtpm=PORT2   several servers, INTERLEAVED
 *
 * With several servers every iteration of an operation is run on each server in
 * turn (the order rotating per iteration: AB, BA, AB, ...), so slow machine
 * noise (steal time, frequency, scheduler placement) hits all of them alike and
 * the ratio between them stays meaningful on a noisy shared machine.
 *
 * Each Esys_* call is timed end to end with CLOCK_MONOTONIC (client marshalling,
 * TCP connect, the server's work, the response).  Untimed work (flushing
 * handles, creating the keys an operation needs) happens outside the timers.
 *
 * Output (stdout), machine-readable, one line per server and operation:
 *   OP <server> <op> <n> <median_us> <min_us> <p90_us> <max_us> <samples_us,...>
 *   FAIL <server> <op> <reason>            (could not be measured on that server)
 * Lines starting with '#' are comments.  Samples are in execution order.
 * Exit status: 0 all measured, 1 some operation failed, 2 usage/connection error.
 *
 * Besides the paper's set: PolicyCounterTimer (on a policy session) and
 * PolicyUnseal (Unseal authorized by a policy session), the commands for which
 * svtpm with a time authority fetches a fresh signed time token (issue 5).
 *
 * libtpms holds only 3 transient objects and there is no resource manager on
 * this path: each server keeps its storage primary loaded, and each operation
 * loads at most one more object, flushed when the operation is done.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <tss2_esys.h>
#include <tss2_rc.h>
#include <tss2_tctildr.h>

#define MAX_SERVERS 4
#define NV_INDEX_DEFAULT 0x01500b01u
#define NV_SIZE 64u       /* ordinary NV index size (bytes) */
#define NV_WRITE_LEN 32u  /* bytes written per NV_Write */
#define SYM_DATA_LEN 256u /* bytes per EncryptDecrypt2 */

static int n_fast = 500, n_keygen = 15, n_warm = 20;
static unsigned round_seed;
static const char *only_ops; /* comma list, NULL = all */
static int failures;
static uint32_t nv_index = NV_INDEX_DEFAULT;

/* Everything a Create/CreatePrimary returns. */
struct create_out {
    TPM2B_PRIVATE *priv;
    TPM2B_PUBLIC *pub;
    TPM2B_CREATION_DATA *cdata;
    TPM2B_DIGEST *chash;
    TPMT_TK_CREATION *ticket;
};

struct srv {
    const char *label;
    char tcti_conf[160];
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *ctx;
    ESYS_TR srk;                 /* storage primary, loaded for the whole run */
    ESYS_TR h;                   /* the operation's object (or per-call output) */
    ESYS_TR nv;                  /* NV index for NV_Write */
    ESYS_TR sess;                /* policy session (PolicyCounterTimer, PolicyUnseal) */
    struct create_out sign_key;  /* last created RSA signing key */
    struct create_out dec_key;   /* RSA decryption key */
    struct create_out sealed;    /* last sealed object */
    struct create_out psealed;   /* sealed object with a policy (PolicyUnseal) */
    struct create_out tmp;       /* Create output before keep_last() */
    TPMT_SIGNATURE *sig;         /* for VerifySignature */
    TPM2B_PUBLIC_KEY_RSA *ct;    /* for RSA_Decrypt */
    unsigned ctr;
    int failed;                  /* this operation failed on this server */
};

static struct srv srvs[MAX_SERVERS];
static int n_srv;

/* ------------------------------------------------------------------ timing */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, int n, double p)
{
    if (n <= 0)
        return 0;
    double pos = p * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        perror("calloc");
        exit(2);
    }
    return p;
}

static void report(const struct srv *s, const char *name, const double *smp, int n)
{
    double *t = xcalloc((size_t)n, sizeof(double));
    memcpy(t, smp, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    printf("OP %s %s %d %.1f %.1f %.1f %.1f ", s->label, name, n, pct(t, n, 0.5),
           n ? t[0] : 0, pct(t, n, 0.9), n ? t[n - 1] : 0);
    for (int i = 0; i < n; i++)
        printf("%s%.1f", i ? "," : "", smp[i]);
    printf("\n");
    fflush(stdout);
    free(t);
}

static void fail(struct srv *s, const char *name, const char *what, TSS2_RC rc)
{
    printf("FAIL %s %s %s: 0x%08x %s\n", s->label, name, what, rc, Tss2_RC_Decode(rc));
    fflush(stdout);
    s->failed = 1;
    failures++;
}

static int selected(const char *name)
{
    if (!only_ops)
        return 1;
    size_t len = strlen(name);
    for (const char *p = only_ops; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == len && strncasecmp(p, name, l) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

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
static TSS2_RC create_primary(struct srv *s, unsigned i, ESYS_TR *out)
{
    TPM2B_PUBLIC t = tmpl_rsa_storage();
    unsigned v[2] = {round_seed, i};
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

/* setup/teardown are untimed and run once per server; call is timed;
 * after (untimed) runs after every successful call. */
struct op {
    const char *name;
    int keygen;  /* RSA key generation: n_keygen iterations */
    int needs_srk;
    TSS2_RC (*setup)(struct srv *);
    TSS2_RC (*call)(struct srv *);
    void (*after)(struct srv *);
    void (*teardown)(struct srv *);
};

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
    TSS2_RC rc = Esys_TR_FromTPMPublic(s->ctx, nv_index, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &s->nv);
    if (rc == TSS2_RC_SUCCESS)
        return rc;
    TPM2B_NV_PUBLIC pub = {0};
    pub.nvPublic.nvIndex = nv_index;
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

static const struct op ops[] = {
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
#define N_OPS ((int)(sizeof(ops) / sizeof(ops[0])))

static void run_op(const struct op *op)
{
    int n = op->keygen ? n_keygen : n_fast;
    int warm = op->keygen ? (n_warm > 0) : n_warm;
    double *smp[MAX_SERVERS];

    for (int k = 0; k < n_srv; k++) {
        struct srv *s = &srvs[k];
        s->failed = 0;
        s->ctr = 0;
        smp[k] = xcalloc((size_t)n, sizeof(double));
        if (op->needs_srk && s->srk == ESYS_TR_NONE) {
            TSS2_RC rc = create_primary(s, 0xffffffffu, &s->srk);
            if (rc != TSS2_RC_SUCCESS) {
                fail(s, op->name, "storage primary", rc);
                continue;
            }
        }
        if (op->setup) {
            TSS2_RC rc = op->setup(s);
            if (rc != TSS2_RC_SUCCESS)
                fail(s, op->name, "setup", rc);
        }
    }

    for (int i = -warm; i < n; i++) {
        /* rotate the order per iteration: AB, BA, AB, ... */
        int first = (i + warm) % n_srv;
        for (int j = 0; j < n_srv; j++) {
            struct srv *s = &srvs[(first + j) % n_srv];
            if (s->failed)
                continue;
            double t0 = now_us();
            TSS2_RC rc = op->call(s);
            double t1 = now_us();
            if (rc != TSS2_RC_SUCCESS) {
                fail(s, op->name, "call", rc);
                continue;
            }
            if (op->after)
                op->after(s);
            if (i >= 0)
                smp[s - srvs][i] = t1 - t0;
        }
    }

    for (int k = 0; k < n_srv; k++) {
        struct srv *s = &srvs[k];
        if (op->teardown)
            op->teardown(s);
        if (!s->failed)
            report(s, op->name, smp[k], n);
        free(smp[k]);
    }
}

/* -------------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: svtpm-bench [-p PORT | -T TCTI | -S LABEL=PORT ...] [-n FAST] [-k KEYGEN]\n"
            "                   [-w WARMUP] [-o OP,OP,...] [-s SEED] [-x NVINDEX]\n"
            "  -p PORT         one server, data port on 127.0.0.1 (control = PORT+1)\n"
            "  -T TCTI         one server, full tctildr string (swtpm:host=H,port=P)\n"
            "  -S LABEL=PORT   add a server (up to %d); several servers are interleaved\n"
            "                  per iteration, the order rotating (AB, BA, ...)\n"
            "  -n FAST         timed iterations of fast operations (default %d)\n"
            "  -k KEYGEN       timed iterations of RSA key generation (default %d)\n"
            "  -w WARMUP       untimed warm-up iterations per fast operation (default %d;\n"
            "                  key generation gets 1 warm-up if WARMUP > 0)\n"
            "  -o OPS          only these operations\n"
            "  -s SEED         varies CreatePrimary's unique field between runs\n"
            "  -x INDEX        NV index for NV_Write (default 0x%08x)\n"
            "Operations:",
            MAX_SERVERS, n_fast, n_keygen, n_warm, NV_INDEX_DEFAULT);
    for (int i = 0; i < N_OPS; i++)
        fprintf(f, " %s", ops[i].name);
    fprintf(f, "\nOutput: OP <server> <op> <n> <median_us> <min_us> <p90_us> <max_us> "
               "<samples_us,...>\n");
}

static int add_server(const char *label, const char *conf)
{
    if (n_srv >= MAX_SERVERS)
        return -1;
    struct srv *s = &srvs[n_srv++];
    s->label = label;
    snprintf(s->tcti_conf, sizeof(s->tcti_conf), "%s", conf);
    return 0;
}

static int add_port(const char *label, const char *port)
{
    char conf[64];
    int p = atoi(port);
    if (p <= 0 || p > 65534)
        return -1;
    snprintf(conf, sizeof(conf), "swtpm:host=127.0.0.1,port=%d", p);
    return add_server(label, conf);
}

int main(int argc, char **argv)
{
    int c, bad = 0;
    while ((c = getopt(argc, argv, "p:T:S:n:k:w:o:s:x:h")) != -1) {
        switch (c) {
        case 'p': bad |= add_port("tpm", optarg); break;
        case 'T': bad |= add_server("tpm", optarg); break;
        case 'S': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                bad = 1;
                break;
            }
            *eq = '\0';
            bad |= add_port(optarg, eq + 1);
            break;
        }
        case 'n': n_fast = atoi(optarg); break;
        case 'k': n_keygen = atoi(optarg); break;
        case 'w': n_warm = atoi(optarg); break;
        case 'o': only_ops = optarg; break;
        case 's': round_seed = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'x': nv_index = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'h': usage(stdout); return 0;
        default: bad = 1;
        }
    }
    if (n_srv == 0)
        bad |= add_port("tpm", "2321");
    if (bad || optind != argc || n_fast < 1 || n_keygen < 1 || n_warm < 0) {
        usage(stderr);
        return 2;
    }
    for (const char *p = only_ops; p && *p;) {  /* reject unknown names in -o */
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int known = 0;
        for (int i = 0; i < N_OPS; i++)
            known |= strlen(ops[i].name) == l && strncasecmp(p, ops[i].name, l) == 0;
        if (!known) {
            fprintf(stderr, "svtpm-bench: unknown operation '%.*s'\n", (int)l, p);
            return 2;
        }
        p = e ? e + 1 : p + l;
    }
    /* ESAPI logs expected errors (e.g. the NV index lookup) as warnings. */
    setenv("TSS2_LOG", "all+NONE", 0);

    for (int k = 0; k < n_srv; k++) {
        struct srv *s = &srvs[k];
        s->srk = s->h = s->nv = s->sess = ESYS_TR_NONE;
        TSS2_RC rc = Tss2_TctiLdr_Initialize(s->tcti_conf, &s->tcti);
        if (rc != TSS2_RC_SUCCESS) {
            fprintf(stderr, "svtpm-bench: %s: TCTI '%s': %s\n", s->label, s->tcti_conf,
                    Tss2_RC_Decode(rc));
            return 2;
        }
        rc = Esys_Initialize(&s->ctx, s->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
            fprintf(stderr, "svtpm-bench: %s: Esys_Initialize: %s\n", s->label,
                    Tss2_RC_Decode(rc));
            return 2;
        }
        /* Servers run with --flags startup-clear; tolerate "already initialized". */
        rc = Esys_Startup(s->ctx, TPM2_SU_CLEAR);
        if (rc != TSS2_RC_SUCCESS && (rc & 0xfff) != TPM2_RC_INITIALIZE) {
            fprintf(stderr, "svtpm-bench: %s: Startup: 0x%08x %s\n", s->label, rc,
                    Tss2_RC_Decode(rc));
            return 2;
        }
        printf("# server %s tcti=%s\n", s->label, s->tcti_conf);
    }
    printf("# svtpm-bench fast=%d keygen=%d warmup=%d seed=%u servers=%d%s\n", n_fast, n_keygen,
           n_warm, round_seed, n_srv, n_srv > 1 ? " (interleaved)" : "");
    printf("# columns: OP server op n median_us min_us p90_us max_us samples_us(csv)\n");
    fflush(stdout);

    for (int i = 0; i < N_OPS; i++)
        if (selected(ops[i].name))
            run_op(&ops[i]);

    for (int k = 0; k < n_srv; k++) {
        struct srv *s = &srvs[k];
        flush(s, &s->srk);
        free_create(&s->sign_key);
        free_create(&s->dec_key);
        free_create(&s->sealed);
        free_create(&s->psealed);
        free_create(&s->tmp);
        Esys_Finalize(&s->ctx);
        Tss2_TctiLdr_Finalize(&s->tcti);
    }
    return failures ? 1 : 0;
}
