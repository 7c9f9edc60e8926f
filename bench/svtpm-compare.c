/*
 * svtpm-compare: turns raw svtpm-bench output into ratios with confidence
 * intervals.
 *
 *   svtpm-compare [-b BOOTSTRAP] [-k OP,OP] A B FILE...
 *
 * Reads the "OP <server> <op> <n> ... <samples_us,...>" lines of FILE...
 * (the round is the "seed=" of each file's "# svtpm-bench" header line; files
 * without one are a round of their own) and prints, per operation in order of
 * first appearance:
 *
 *   CMP <op> <nA> <nB> <medA> <medB> <ratio> <ci_lo> <ci_hi> <method> <round_lo> <round_hi> <rounds>
 *
 * ratio = B/A.  method "paired": A and B were measured back to back in the same
 * file (svtpm-bench with both servers, or launch pairs) with equal counts, so
 * the ratio is the median over all pairs of B_i/A_i, which cancels machine noise
 * slower than one iteration.  method "medians": ratio of the pooled medians (for
 * the operations named with -k, e.g. key generation, whose cost is random per
 * call, and for data not measured back to back).  ci_lo/ci_hi: 95% percentile
 * bootstrap interval of that ratio (pairs resampled, or A and B resampled
 * independently), fixed seed so reruns on the same data agree.  round_lo/hi:
 * the same estimator on each round alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct rec {
    char *file;
    long round;
    int side; /* 0 = A, 1 = B */
    char *op;
    double *v;
    int n;
};

static struct rec *recs;
static int nrec, caprec;
static int n_boot = 2000;
static const char *unpaired_ops = "CreatePrimary,Create";

static void *xrealloc(void *p, size_t sz)
{
    p = realloc(p, sz ? sz : 1);
    if (!p) {
        perror("realloc");
        exit(2);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of v[0..n) (sorts v in place) */
static double median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double pctl(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t bound)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % bound);
}

static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
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

static void load_file(const char *path, const char *a, const char *b, long fileno_round)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    long round = fileno_round;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "# svtpm-bench", 13) == 0) {
            char *s = strstr(line, " seed=");
            if (s)
                round = strtol(s + 6, NULL, 10);
            continue;
        }
        if (strncmp(line, "OP ", 3) != 0)
            continue;
        char *save = NULL, *tok[9];
        int nt = 0;
        for (char *t = strtok_r(line, " \n", &save); t && nt < 9; t = strtok_r(NULL, " \n", &save))
            tok[nt++] = t;
        if (nt < 9)
            continue;
        int side = strcmp(tok[1], a) == 0 ? 0 : strcmp(tok[1], b) == 0 ? 1 : -1;
        if (side < 0)
            continue;
        if (nrec == caprec) {
            caprec = caprec ? caprec * 2 : 64;
            recs = xrealloc(recs, sizeof(*recs) * (size_t)caprec);
        }
        struct rec *r = &recs[nrec++];
        r->file = strdup(path);
        r->round = round;
        r->side = side;
        r->op = strdup(tok[2]);
        r->n = 0;
        r->v = NULL;
        int vcap = 0;
        for (char *t = strtok_r(tok[8], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (r->n == vcap) {
                vcap = vcap ? vcap * 2 : 256;
                r->v = xrealloc(r->v, sizeof(double) * (size_t)vcap);
            }
            r->v[r->n++] = strtod(t, NULL);
        }
    }
    free(line);
    fclose(f);
}

/* Collected data of one operation (optionally restricted to one round). */
struct set {
    double *a, *b;   /* pooled samples */
    int na, nb;
    double *pr;      /* paired ratios b_i/a_i */
    int np;
    int paired_ok;   /* every A record has its B partner in the same file */
};

static void collect(const char *op, int all_rounds, long round, struct set *s)
{
    memset(s, 0, sizeof(*s));
    s->paired_ok = 1;
    int any = 0;
    for (int i = 0; i < nrec; i++) {
        struct rec *r = &recs[i];
        if (strcmp(r->op, op) != 0 || (!all_rounds && r->round != round))
            continue;
        any = 1;
        double **dst = r->side ? &s->b : &s->a;
        int *dn = r->side ? &s->nb : &s->na;
        *dst = xrealloc(*dst, sizeof(double) * (size_t)(*dn + r->n));
        memcpy(*dst + *dn, r->v, sizeof(double) * (size_t)r->n);
        *dn += r->n;
        if (r->side == 0) {
            struct rec *p = NULL;
            for (int j = 0; j < nrec; j++)
                if (recs[j].side == 1 && strcmp(recs[j].op, op) == 0 &&
                    strcmp(recs[j].file, r->file) == 0)
                    p = &recs[j];
            if (!p || p->n != r->n) {
                s->paired_ok = 0;
                continue;
            }
            s->pr = xrealloc(s->pr, sizeof(double) * (size_t)(s->np + r->n));
            for (int k = 0; k < r->n; k++)
                s->pr[s->np++] = r->v[k] > 0 ? p->v[k] / r->v[k] : 1.0;
        }
    }
    if (!any || s->na == 0 || s->nb == 0 || s->np == 0)
        s->paired_ok = 0;
}

static void free_set(struct set *s)
{
    free(s->a);
    free(s->b);
    free(s->pr);
}

static double estimate(struct set *s, int paired)
{
    if (paired) {
        double *t = xrealloc(NULL, sizeof(double) * (size_t)s->np);
        memcpy(t, s->pr, sizeof(double) * (size_t)s->np);
        double m = median(t, s->np);
        free(t);
        return m;
    }
    double *ta = xrealloc(NULL, sizeof(double) * (size_t)s->na);
    double *tb = xrealloc(NULL, sizeof(double) * (size_t)s->nb);
    memcpy(ta, s->a, sizeof(double) * (size_t)s->na);
    memcpy(tb, s->b, sizeof(double) * (size_t)s->nb);
    double ma = median(ta, s->na), mb = median(tb, s->nb);
    free(ta);
    free(tb);
    return ma > 0 ? mb / ma : 0;
}

static void bootstrap(struct set *s, int paired, double *lo, double *hi)
{
    double *est = xrealloc(NULL, sizeof(double) * (size_t)n_boot);
    int m = paired ? s->np : (s->na > s->nb ? s->na : s->nb);
    double *ta = xrealloc(NULL, sizeof(double) * (size_t)m);
    double *tb = xrealloc(NULL, sizeof(double) * (size_t)m);
    for (int i = 0; i < n_boot; i++) {
        if (paired) {
            for (int k = 0; k < s->np; k++)
                ta[k] = s->pr[rnd((uint32_t)s->np)];
            est[i] = median(ta, s->np);
        } else {
            for (int k = 0; k < s->na; k++)
                ta[k] = s->a[rnd((uint32_t)s->na)];
            for (int k = 0; k < s->nb; k++)
                tb[k] = s->b[rnd((uint32_t)s->nb)];
            double ma = median(ta, s->na), mb = median(tb, s->nb);
            est[i] = ma > 0 ? mb / ma : 0;
        }
    }
    *lo = pctl(est, n_boot, 0.025);
    *hi = pctl(est, n_boot, 0.975);
    free(est);
    free(ta);
    free(tb);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "b:k:")) != -1) {
        switch (c) {
        case 'b': n_boot = atoi(optarg); break;
        case 'k': unpaired_ops = optarg; break;
        default: goto usage;
        }
    }
    if (argc - optind < 3 || n_boot < 10)
        goto usage;
    const char *a = argv[optind], *b = argv[optind + 1];
    for (int i = optind + 2; i < argc; i++)
        load_file(argv[i], a, b, -1000 - i);

    for (int i = 0; i < nrec; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= strcmp(recs[j].op, recs[i].op) == 0;
        if (seen)
            continue;
        const char *op = recs[i].op;
        struct set s;
        collect(op, 1, 0, &s);
        if (s.na == 0 || s.nb == 0) {
            free_set(&s);
            continue;
        }
        int paired = s.paired_ok && !in_list(unpaired_ops, op);
        double *ta = xrealloc(NULL, sizeof(double) * (size_t)s.na);
        double *tb = xrealloc(NULL, sizeof(double) * (size_t)s.nb);
        memcpy(ta, s.a, sizeof(double) * (size_t)s.na);
        memcpy(tb, s.b, sizeof(double) * (size_t)s.nb);
        double ma = median(ta, s.na), mb = median(tb, s.nb);
        free(ta);
        free(tb);
        double r = estimate(&s, paired), lo, hi;
        bootstrap(&s, paired, &lo, &hi);

        /* per round */
        double rlo = 0, rhi = 0;
        int nr = 0, nvalid = 0;
        long done[256];
        for (int j = 0; j < nrec && nr < 256; j++) {
            if (strcmp(recs[j].op, op) != 0)
                continue;
            int dup = 0;
            for (int k = 0; k < nr; k++)
                dup |= done[k] == recs[j].round;
            if (dup)
                continue;
            done[nr++] = recs[j].round;
            struct set rs;
            collect(op, 0, recs[j].round, &rs);
            if (rs.na && rs.nb && (!paired || rs.paired_ok)) {
                double e = estimate(&rs, paired);
                if (!nvalid++ || e < rlo)
                    rlo = e;
                if (nvalid == 1 || e > rhi)
                    rhi = e;
            }
            free_set(&rs);
        }
        printf("CMP %s %d %d %.1f %.1f %.3f %.3f %.3f %s %.3f %.3f %d\n", op, s.na, s.nb, ma, mb,
               r, lo, hi, paired ? "paired" : "medians", rlo, rhi, nvalid);
        free_set(&s);
    }
    return 0;
usage:
    fprintf(stderr, "usage: svtpm-compare [-b BOOTSTRAP] [-k OP,OP] A B FILE...\n");
    return 2;
}
