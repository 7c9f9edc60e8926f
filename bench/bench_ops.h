/* The benchmark's TPM operations (the SvTPM paper's command set, plus the
 * time-sensitive ones of issue 5), each as untimed setup, a timed call and
 * untimed clean-up against one server's ESAPI context. svtpm-bench.c is the
 * harness: options, interleaving, timing and output. */
#ifndef SVTPM_BENCH_OPS_H
#define SVTPM_BENCH_OPS_H
#include <stdint.h>

#include <tss2_esys.h>

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

extern const struct op bench_ops[];
extern const int bench_n_ops;
extern unsigned bench_round_seed;     /* varies CreatePrimary's unique field (-s) */
extern uint32_t bench_nv_index;       /* NV_Write's index (-x) */

/* The storage primary (i = 0xffffffff) or the i-th timed CreatePrimary. */
TSS2_RC create_primary(struct srv *s, unsigned i, ESYS_TR *out);
/* Flushes the storage primary and frees what the operations kept. */
void bench_srv_release(struct srv *s);

#endif
