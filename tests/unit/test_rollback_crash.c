/* src/enclave/rollback.h under crash injection at every write point
 * (fixture: tests/lib/rbfix.h): every fault pattern of the fake host at
 * every state and counter-store write of two write streams, a second crash
 * during recovery, and errors the process survives. After each, a new
 * process must load each file as the last acknowledged save left it or the
 * one in flight: never older, never refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "content.h"
#include "fakehost.h"
#include "manifest.h"
#include "nrs.h"
#include "rbfix.h"
#include "rollback.h"
#include "sealfmt.h"
#include "store.h"
#include "testplat.h"
#include "tpmstate.h"
#include "vectors.h"

/* ---- g. crash injection at every write point ---- */

struct pattern {
    enum fh_fault fault;
    uint32_t arg;
    const char *name;
};

static const struct pattern patterns[] = {
    { FH_FAIL,            0,    "fail, process lives on" },
    { FH_FULL_FAIL,       0,    "durable, error, process lives on" },
    { FH_FAIL_DIE,        0,    "fail (nothing written)" },
    { FH_TEAR_SECTORS,    0,    "tear: 0 sectors" },
    { FH_TEAR_SECTORS,    1,    "tear: 1 sector" },
    { FH_TEAR_SECTORS,    2,    "tear: 2 sectors" },
    { FH_TEAR_SECTORS,    9,    "tear: 9 sectors" },
    { FH_TEAR_SECTORS,    130,  "tear: 130 sectors" },
    { FH_TEAR_SECTORS,    1000, "tear: all sectors, no ack" },
    { FH_TEAR_SUBSET,     1,    "tear: random sectors #1" },
    { FH_TEAR_SUBSET,     2,    "tear: random sectors #2" },
    { FH_TEAR_SUBSET,     3,    "tear: random sectors #3" },
    { FH_TEAR_BYTES,      100,  "tear: first 100 bytes" },
    { FH_TEAR_BYTES,      193,  "tear: first 193 bytes" },
    { FH_FULL_DIE,        0,    "durable, no retire, no ack" },
    { FH_FULL_RETIRE_DIE, 0,    "durable, retired, no ack" },
    { FH_SKIP_RETIRE,     0,    "acked, retire lost" },
};
#define NPAT (sizeof patterns / sizeof patterns[0])

#define NSAVES 20

static uint32_t size_of(uint32_t k)
{
    static const uint32_t sizes[NSAVES] = {
        1315, 9000, 1, 0, 511, 512, 513, 66000, 4096, 200000,
        3, SVTPM_STATE_PLAIN_MAX, 1400, 1024, 150000, 7, 30000, 1316, 2048, 100000,
    };
    return sizes[k % NSAVES];
}

enum expect { EXP_ACKED, EXP_INFLIGHT, EXP_EITHER };
enum stream { ST_PERM, ST_ALTERNATE };

static uint32_t stream_file(enum stream st, uint32_t k)
{
    return st == ST_ALTERNATE && k % 2 ? VOL : PERM;
}

/* What a crash left: per file, the last acknowledged save and the one in
 * flight (-1: none), and what a reload must give for the in-flight file. */
struct outcome {
    int64_t acked[3];
    int64_t inflight;
    uint32_t inflight_file;
    enum expect want;
    uint32_t fault_file;
};

struct crash_stats {
    size_t runs, recoveries, failures, nested_runs, nested_fired;
    size_t first_save_failures;   /* ... with nothing acknowledged yet (test_first_save_crash_enrols) */
    size_t got_acked, got_inflight, got_nothing;
    size_t by_file[4];   /* runs by the file the faulted write was to */
    char first[40][400]; /* the first failures, for the report */
};

static void record_failure(struct crash_stats *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record_failure(struct crash_stats *cs, const char *fmt, ...)
{
    if (cs->failures < sizeof cs->first / sizeof cs->first[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cs->first[cs->failures], sizeof cs->first[0], fmt, ap);
        va_end(ap);
    }
    cs->failures++;
}

static enum expect expect_for(const struct pattern *p, bool state_write, bool creating, size_t reclen,
                              bool acked_newest)
{
    if (!state_write)   /* the state is durable; only its version is not */
        return acked_newest ? EXP_ACKED : EXP_INFLIGHT;
    switch (p->fault) {
    case FH_FAIL:
    case FH_FAIL_DIE:
        return EXP_ACKED;
    case FH_TEAR_SECTORS:
        return creating ? EXP_ACKED : (size_t)p->arg * FH_SECTOR >= reclen ? EXP_INFLIGHT : EXP_ACKED;
    case FH_TEAR_BYTES:
        return creating ? EXP_ACKED : p->arg >= reclen ? EXP_INFLIGHT : EXP_ACKED;
    case FH_TEAR_SUBSET:
        return creating ? EXP_ACKED : EXP_EITHER;
    case FH_FULL_FAIL:
    case FH_FULL_DIE:
    case FH_FULL_RETIRE_DIE:
    case FH_SKIP_RETIRE:   /* acked by the host, not by the store: its version is not recorded */
        return EXP_INFLIGHT;
    default:
        return EXP_EITHER;
    }
}

/* Reloads both files in a new process, in the given order; checks each
 * against the outcome. Returns false (and records why) on a violation. */
static bool check_recovery(struct vt *v, const struct outcome *o, const char *what, bool vol_first,
                           struct crash_stats *cs)
{
    bool all_ok = true;
    for (int j = 0; j < 2; j++) {
        uint32_t file = (j == 0) == vol_first ? VOL : PERM;
        uint8_t *out;
        uint32_t n;
        svtpm_err e = load_raw(v, file, &out, &n);
        int64_t ack = o->acked[file], inf = o->inflight_file == file ? o->inflight : -1;
        enum expect want = inf >= 0 ? o->want : EXP_ACKED;
        bool is_acked = ack >= 0 && e == SVTPM_OK && is_content(out, n, size_of((uint32_t)ack), (uint32_t)ack);
        bool is_inf = inf >= 0 && e == SVTPM_OK && is_content(out, n, size_of((uint32_t)inf), (uint32_t)inf);
        bool nothing = e == SVTPM_E_NOTFOUND;
        bool ok;
        switch (want) {
        case EXP_ACKED: ok = ack >= 0 ? is_acked : nothing; break;
        case EXP_INFLIGHT: ok = is_inf; break;
        default: ok = is_inf || (ack >= 0 ? is_acked : nothing); break;
        }
        if (ok) {
            if (is_inf && !is_acked)
                cs->got_inflight++;
            else if (is_acked)
                cs->got_acked++;
            else
                cs->got_nothing++;
        } else {
            if (o->acked[PERM] < 0 && o->acked[VOL] < 0 && e == SVTPM_E_ROLLBACK)
                cs->first_save_failures++;
            record_failure(cs, "%s: %s (acked v%lld, in flight v%lld) loaded %s%s%s [order %s]", what,
                           store_file_name(file), (long long)ack, (long long)inf, svtpm_strerror(e),
                           e == SVTPM_OK ? (is_acked ? " = acked" : is_inf ? " = in flight" : " = WRONG CONTENT") : "",
                           want == EXP_ACKED ? " (wanted acked)" : want == EXP_INFLIGHT ? " (wanted in flight)" : "",
                           vol_first ? "vol,perm" : "perm,vol");
            all_ok = false;
        }
        free(out);
    }
    return all_ok;
}

/* A stream of saves with a fault at write i; what a reload must give. */
static bool crash_stream(struct vt *v, enum stream st, uint32_t nsaves, const struct pattern *p, uint32_t i,
                         struct outcome *o, char *what, size_t wlen, struct crash_stats *cs)
{
    vt_wipe(v);
    fh_fault(&v->h, i, p->fault, p->arg);
    o->acked[PERM] = o->acked[VOL] = -1;
    o->inflight = -1;
    o->inflight_file = 0;
    for (uint32_t k = 0; k < nsaves; k++) {
        uint32_t file = stream_file(st, k);
        svtpm_err e = save_v(v, file, size_of(k), k);
        if (e == SVTPM_OK) {
            o->acked[file] = k;
        } else {
            o->inflight = k;
            o->inflight_file = file;
        }
        if (e != SVTPM_OK || v->h.dead)
            break;
    }
    snprintf(what, wlen, "%s stream, %s at write %u", st == ST_PERM ? "permall" : "alternating", p->name, i);
    if (v->h.writes != (uint64_t)i + 1) {
        record_failure(cs, "%s: the fault did not fire (%llu writes)", what, (unsigned long long)v->h.writes);
        return false;
    }
    const struct fh_write *w = &v->h.wlog[i];
    o->fault_file = w->file;
    bool creating = true;
    for (uint32_t k = 0; k < i; k++)
        if (v->h.wlog[k].file == w->file)
            creating = false;
    bool state_write = w->file != NRS;
    if (state_write && o->inflight >= 0 && w->file != o->inflight_file) {
        record_failure(cs, "%s: the faulted write is not the in-flight save's", what);
        return false;
    }
    int64_t last = o->inflight >= 0 ? o->inflight : -1;
    size_t reclen = last >= 0 ? seal_rec_len(size_of((uint32_t)last)) : 0;
    o->want = expect_for(p, state_write, creating, reclen, o->inflight < 0);
    cs->by_file[w->file]++;
    return true;
}

static void crash_run(struct vt *v, enum stream st, const struct pattern *p, uint32_t i, struct crash_stats *cs)
{
    struct outcome o;
    char what[200];
    cs->runs++;
    if (!crash_stream(v, st, NSAVES, p, i, &o, what, sizeof what, cs))
        return;
    /* the files as the crash left them: recovered in both orders */
    size_t sz[4] = { 0 };
    uint8_t *snap[4] = { NULL };
    for (uint32_t k = PERM; k <= NRS; k++)
        snap[k] = fh_snapshot(&v->h, k, &sz[k]);
    bool ok = true;
    for (int order = 0; order < 2 && ok; order++) {
        for (uint32_t k = PERM; k <= NRS; k++)
            replace_file(v, k, snap[k], sz[k]);
        vt_restart(v);
        ok = check_recovery(v, &o, what, order == 1, cs);
        cs->recoveries++;
    }
    /* life goes on: new saves on the recovered store, then a new process */
    for (uint32_t k = 100; ok && k < 104; k++) {
        uint32_t file = k % 2 ? VOL : PERM;
        svtpm_err e = save_v(v, file, 700 + k, k);
        if (e) {
            record_failure(cs, "%s: save after recovery: %s", what, svtpm_strerror(e));
            ok = false;
        }
    }
    if (ok) {
        vt_restart(v);
        uint8_t *out;
        uint32_t n;
        for (uint32_t file = PERM; file <= VOL; file++) {
            svtpm_err e = load_raw(v, file, &out, &n);
            uint32_t k = file == PERM ? 102 : 103;   /* the last of the saves above */
            if (e != SVTPM_OK || !is_content(out, n, 700 + k, k))
                record_failure(cs, "%s: after recovery and new saves, %s loads %s", what,
                               store_file_name(file), svtpm_strerror(e));
            free(out);
        }
    }
    for (uint32_t k = PERM; k <= NRS; k++)
        free(snap[k]);
}

static void report(const char *name, const struct crash_stats *cs)
{
    fprintf(stderr, "%s: %zu crash points (fault pattern x write index x stream; faulted writes: "
            "%zu permall, %zu volatilestate, %zu counter store), %zu recoveries checked "
            "(acked %zu, in flight %zu, nothing %zu)",
            name, cs->runs, cs->by_file[PERM], cs->by_file[VOL], cs->by_file[NRS], cs->recoveries,
            cs->got_acked, cs->got_inflight, cs->got_nothing);
    if (cs->nested_runs)
        fprintf(stderr, ", %zu nested recovery crashes (%zu fired)", cs->nested_runs, cs->nested_fired);
    fprintf(stderr, "; %zu failure(s), %zu of them a refused first save (test_first_save_crash_enrols)\n",
            cs->failures, cs->first_save_failures);
    for (size_t k = 0; k < cs->failures && k < sizeof cs->first / sizeof cs->first[0]; k++)
        fprintf(stderr, "  FAIL %s\n", cs->first[k]);
}

/* Every write point of a 20-save stream (each save: the state record, then
 * the counter store: 40 writes), every fault pattern, two streams (permall
 * only; permall and volatilestate alternating, whose versions interleave).
 * After the crash a new process must load each file: the last acknowledged
 * content or the one in flight, never older, never refused. */
static void test_crash_every_write(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    static struct crash_stats cs;
    memset(&cs, 0, sizeof cs);
    for (int st = ST_PERM; st <= ST_ALTERNATE; st++)
        for (size_t p = 0; p < NPAT; p++)
            for (uint32_t i = 0; i < 2 * NSAVES; i++)
                crash_run(v, (enum stream)st, &patterns[p], i, &cs);
    report("crash injection", &cs);
    assert_int_equal(cs.runs, 2 * NPAT * 2 * NSAVES);
    if (cs.failures)
        fail_msg("%zu of %zu crash points left a state that does not load as it must (see above)",
                 cs.failures, cs.runs);
}

/* The recovery itself crashes: after the first crash, the new process's
 * first load records the in-flight version, and that counter-store write
 * faults too (every pattern); the next process must still recover. */
static void test_crash_during_recovery(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    static struct crash_stats cs;
    memset(&cs, 0, sizeof cs);
    const uint32_t nsaves = 6;
    for (int st = ST_PERM; st <= ST_ALTERNATE; st++)
        for (size_t p = 0; p < NPAT; p++)
            for (uint32_t i = 0; i < 2 * nsaves; i++)
                for (size_t q = 0; q < NPAT; q++) {
                    struct outcome o;
                    char what[300];
                    cs.runs++;
                    if (!crash_stream(v, (enum stream)st, nsaves, &patterns[p], i, &o, what, sizeof what, &cs))
                        continue;
                    vt_restart(v);
                    uint64_t w = v->h.writes;
                    fh_fault(&v->h, (int64_t)w, patterns[q].fault, patterns[q].arg);
                    uint8_t *out;
                    uint32_t n;
                    for (uint32_t file = PERM; file <= VOL && !v->h.dead; file++) {
                        load_raw(v, file, &out, &n);
                        free(out);
                    }
                    cs.nested_runs++;
                    if (v->h.writes == w)
                        continue;   /* the recovery wrote nothing */
                    cs.nested_fired++;
                    size_t len = strlen(what);
                    snprintf(what + len, sizeof what - len, ", then %s at the recovery's write",
                             patterns[q].name);
                    vt_restart(v);
                    cs.recoveries++;
                    check_recovery(v, &o, what, false, &cs);
                }
    report("crash during recovery", &cs);
    if (cs.failures)
        fail_msg("%zu failure(s) (see above)", cs.failures);
}

/* A write fails and the process lives on (the host reported an error: the
 * record may or may not be durable), the stream goes on to its end, then the
 * process restarts. Each file must load as its last save left it: that
 * save's content if it was acknowledged, else that or the file's previous
 * acknowledged content. */
static void test_error_then_continue_every_write(void **state)
{
    struct fx *f = *state;
    struct vt *v = &f->a;
    g_buf = f->buf;
    static struct crash_stats cs;
    memset(&cs, 0, sizeof cs);
    static const struct pattern lives[] = {
        { FH_FAIL,      0, "fail, process lives on" },
        { FH_FULL_FAIL, 0, "durable, error, process lives on" },
    };
    for (int st = ST_PERM; st <= ST_ALTERNATE; st++)
        for (size_t p = 0; p < 2; p++)
            for (uint32_t i = 0; i < 2 * NSAVES; i++) {
                char what[200];
                snprintf(what, sizeof what, "%s stream, %s at write %u, then the stream goes on",
                         st == ST_PERM ? "permall" : "alternating", lives[p].name, i);
                cs.runs++;
                vt_wipe(v);
                fh_fault(&v->h, i, lives[p].fault, 0);
                struct outcome o = { .acked = { -1, -1, -1 }, .inflight = -1, .want = EXP_EITHER };
                for (uint32_t k = 0; k < NSAVES; k++) {
                    uint32_t file = stream_file((enum stream)st, k);
                    if (save_v(v, file, size_of(k), k) == SVTPM_OK) {
                        o.acked[file] = k;
                        if (o.inflight_file == file)
                            o.inflight = -1;   /* superseded by an acknowledged save */
                    } else {
                        o.inflight = k;
                        o.inflight_file = file;
                        /* wedged until the files are re-read: a power-on */
                        uint64_t w = v->h.writes;
                        if (save_v(v, file, size_of(k), k) != SVTPM_E_STATE || v->h.writes != w)
                            record_failure(&cs, "%s: a save after the failed one was not refused "
                                           "unwritten", what);
                        store_reset(&v->s);
                    }
                }
                if (v->h.writes <= i) {
                    record_failure(&cs, "%s: the fault did not fire", what);
                    continue;
                }
                cs.by_file[v->h.wlog[i].file]++;
                vt_restart(v);
                cs.recoveries++;
                check_recovery(v, &o, what, false, &cs);
            }
    report("error, then the stream goes on", &cs);
    if (cs.failures)
        fail_msg("%zu of %zu runs left a state that does not load as it must (see above)",
                 cs.failures, cs.runs);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rb_setup, rb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_crash_every_write),
        T(test_crash_during_recovery),
        T(test_error_then_continue_every_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
