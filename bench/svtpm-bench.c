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

#include "bench_ops.h"

#define MAX_SERVERS 4

static int n_fast = 500, n_keygen = 15, n_warm = 20;
static const char *only_ops; /* comma list, NULL = all */
static int failures;

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
            MAX_SERVERS, n_fast, n_keygen, n_warm, 0x01500b01u);
    for (int i = 0; i < bench_n_ops; i++)
        fprintf(f, " %s", bench_ops[i].name);
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
        case 's': bench_round_seed = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'x': bench_nv_index = (uint32_t)strtoul(optarg, NULL, 0); break;
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
        for (int i = 0; i < bench_n_ops; i++)
            known |= strlen(bench_ops[i].name) == l && strncasecmp(p, bench_ops[i].name, l) == 0;
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
           n_warm, bench_round_seed, n_srv, n_srv > 1 ? " (interleaved)" : "");
    printf("# columns: OP server op n median_us min_us p90_us max_us samples_us(csv)\n");
    fflush(stdout);

    for (int i = 0; i < bench_n_ops; i++)
        if (selected(bench_ops[i].name))
            run_op(&bench_ops[i]);

    for (int k = 0; k < n_srv; k++) {
        struct srv *s = &srvs[k];
        bench_srv_release(s);
        Esys_Finalize(&s->ctx);
        Tss2_TctiLdr_Finalize(&s->tcti);
    }
    return failures ? 1 : 0;
}
