/* src/enclave/clock.h: the enclave's clock against a hostile source.
 *
 * A simulation: `real` is real time (the time authority signs it), `raw` is
 * the source the host controls. Each scenario steers raw (jumps forward by
 * hours, back, freezes, runs 10x fast) while tokens arrive as a host that
 * fetches them honestly (but late) would deliver them, and checks the
 * promises in clock.h at every step: never backwards, never more than
 * max_lead ahead of real elapsed time, and (with tokens) never further behind
 * than the token interval plus the delivery delay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"

#define MS 1000000ull
#define S  (1000 * MS)
#define LEAD (2 * S)

struct sim {
    uint64_t real;     /* ns since the simulation began */
    uint64_t raw;      /* what the host's source reads */
    uint64_t epoch_ms; /* real time 0 on the authority's clock */
    uint32_t nonce_ctr;
};

static uint64_t read_raw(void *ctx)
{
    return ((struct sim *)ctx)->raw;
}

static void setup_clock(struct tclock *c, struct sim *s, bool require_anchor)
{
    memset(s, 0, sizeof *s);
    s->raw = 100000 * S;   /* the source's origin is not the clock's (and room to go back) */
    s->epoch_ms = 1790000000000ull;
    struct tclock_cfg cfg = { .max_lead_ns = LEAD, .require_anchor = require_anchor };
    tclock_init(c, (struct tclock_source){ read_raw, s }, &cfg, 42 * S);
}

/* Real time passes by dt; the source by dt * rate_num / rate_den. */
static void pass(struct sim *s, uint64_t dt, uint64_t rate_num, uint64_t rate_den)
{
    s->real += dt;
    s->raw += dt * rate_num / rate_den;
}

static void next_nonce(struct sim *s, uint8_t n[TCLOCK_NONCE_LEN])
{
    memset(n, 0, TCLOCK_NONCE_LEN);
    s->nonce_ctr++;
    memcpy(n, &s->nonce_ctr, sizeof s->nonce_ctr);
}

/* One token round: the nonce now, signed after `to_sign`, delivered after
 * `to_deliver` more (the source at rate num/den meanwhile). */
static void token(struct tclock *c, struct sim *s, uint64_t to_sign, uint64_t to_deliver,
                  uint64_t num, uint64_t den)
{
    uint8_t n[TCLOCK_NONCE_LEN];
    next_nonce(s, n);
    tclock_request(c, n);
    pass(s, to_sign, num, den);
    uint64_t signed_ms = s->epoch_ms + s->real / MS;
    pass(s, to_deliver, num, den);
    assert_int_equal(tclock_anchor(c, n, signed_ms, 0), SVTPM_OK);
}

/* The promises, checked after every step against where both started. */
struct check {
    uint64_t c0, r0, last;
};

static void check_step(struct tclock *c, struct sim *s, struct check *k, uint64_t max_behind)
{
    uint64_t now = tclock_now(c);
    assert_true(now >= k->last);                                  /* never backwards */
    uint64_t ce = now - k->c0, re = s->real - k->r0;
    if (ce > re + LEAD)
        fail_msg("clock ran ahead: %llu ms elapsed against %llu ms real (lead %llu ms)",
                 (unsigned long long)(ce / MS), (unsigned long long)(re / MS),
                 (unsigned long long)(LEAD / MS));
    if (max_behind && re > ce + max_behind)
        fail_msg("clock fell behind: %llu ms elapsed against %llu ms real",
                 (unsigned long long)(ce / MS), (unsigned long long)(re / MS));
    k->last = now;
}

/* A run of `seconds` of real time in 100 ms steps, the source at num/den,
 * a token every `every` seconds (signed 20 ms after the request, delivered
 * 30 ms later). */
static void run(struct tclock *c, struct sim *s, struct check *k, unsigned seconds, unsigned every,
                uint64_t num, uint64_t den)
{
    for (unsigned i = 1; i <= seconds * 10; i++) {
        pass(s, 100 * MS, num, den);
        if (every && i % (every * 10) == 0)
            token(c, s, 20 * MS, 30 * MS, num, den);
        check_step(c, s, k, every ? (uint64_t)(every + 1) * S : 0);
    }
}

/* A clock that needs an authority, its first token in, the checks started
 * from the first token's nonce (where the promises start). */
static void start_anchored(struct tclock *c, struct sim *s, struct check *k, uint64_t num, uint64_t den)
{
    setup_clock(c, s, true);
    token(c, s, 10 * MS, 10 * MS, num, den);
    *k = (struct check){ .c0 = c->ref_now, .r0 = s->real - 20 * MS, .last = tclock_now(c) };
}

static void test_follows_source_without_authority(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    setup_clock(&c, &s, false);
    assert_int_equal(tclock_now(&c), 42 * S);
    s.raw += 5 * MS;
    assert_int_equal(tclock_now(&c), 42 * S + 5 * MS);
    s.raw -= 3600 * S;                                   /* back by an hour */
    assert_int_equal(tclock_now(&c), 42 * S + 5 * MS);
    assert_int_equal(c.backsteps, 1);
    s.raw += 3 * MS;                                     /* steps go on from there */
    assert_int_equal(tclock_now(&c), 42 * S + 8 * MS);
    assert_int_equal(tclock_ceiling(&c), UINT64_MAX);
}

static void test_stands_still_until_first_token(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    setup_clock(&c, &s, true);
    pass(&s, 3600 * S, 1, 1);
    assert_int_equal(tclock_now(&c), 42 * S);
    assert_true(c.held_ns >= 3600 * S);
    token(&c, &s, 10 * MS, 10 * MS, 1, 1);
    pass(&s, 10 * S, 1, 1);
    /* anchored: it may run, but only max_lead past the nonce until the next token */
    assert_int_equal(tclock_now(&c), 42 * S + LEAD);
}

static void test_jump_forward_hours(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    struct check k;
    start_anchored(&c, &s, &k, 1, 1);
    run(&c, &s, &k, 60, 10, 1, 1);
    s.raw += 3 * 3600 * S;                               /* the host jumps 3 hours ahead */
    check_step(&c, &s, &k, 0);
    run(&c, &s, &k, 300, 10, 1, 1);                      /* and the run goes on */
    assert_true(c.held_ns >= 3 * 3600 * S - 2 * LEAD);
}

static void test_jump_backward_hours(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    struct check k;
    start_anchored(&c, &s, &k, 1, 1);
    run(&c, &s, &k, 60, 10, 1, 1);
    s.raw -= 3 * 3600 * S;                               /* back 3 hours: held, then tokens catch up */
    run(&c, &s, &k, 300, 10, 1, 1);
    assert_int_equal(c.backsteps, 1);
}

static void test_frozen_source(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    struct check k;
    start_anchored(&c, &s, &k, 1, 1);
    run(&c, &s, &k, 600, 15, 0, 1);                      /* the source never moves */
    assert_true(c.pulled_ns >= 560 * S);                 /* the tokens carried it */
}

static void test_ten_times_fast(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    struct check k;
    start_anchored(&c, &s, &k, 10, 1);
    run(&c, &s, &k, 1800, 20, 10, 1);
}

/* The DA scenario: a lockout of 1000 s (lockoutRecovery) must take at least
 * 1000 s - max_lead of real time however the host runs the source, and
 * ends within one token interval of its time when tokens flow. */
static uint64_t real_until(struct tclock *c, struct sim *s, uint64_t span, uint64_t num, uint64_t den,
                           unsigned every, bool withhold)
{
    uint64_t start = tclock_now(c), r0 = s->real;
    for (unsigned i = 1; tclock_now(c) - start < span; i++) {
        assert_true(i < 10 * 100000);
        pass(s, 100 * MS, num, den);
        if (!withhold && i % (every * 10) == 0)
            token(c, s, 20 * MS, 30 * MS, num, den);
    }
    return s->real - r0;
}

static void test_lockout_not_shortened(void **state)
{
    (void)state;
    static const struct { uint64_t num, den; const char *name; } rates[] = {
        { 1, 1, "honest" }, { 10, 1, "10x fast" }, { 1000, 1, "1000x fast" }, { 0, 1, "frozen" },
        { 1, 10, "10x slow" },
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        struct tclock c;
        struct sim s;
        setup_clock(&c, &s, true);
        token(&c, &s, 10 * MS, 10 * MS, rates[i].num, rates[i].den);
        uint64_t took = real_until(&c, &s, 1000 * S, rates[i].num, rates[i].den, 30, false);
        if (took < 1000 * S - LEAD || took > 1000 * S + 31 * S)
            fail_msg("%s source: a 1000 s lockout took %llu ms of real time", rates[i].name,
                     (unsigned long long)(took / MS));
    }
}

/* A host that withholds tokens stops the clock at the ceiling: the lockout
 * lasts longer, never shorter. */
static void test_withheld_tokens_stop_the_clock(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    setup_clock(&c, &s, true);
    token(&c, &s, 10 * MS, 10 * MS, 10, 1);
    uint64_t start = tclock_now(&c);
    pass(&s, 3600 * S, 10, 1);
    assert_true(tclock_now(&c) - start <= LEAD);
}

static void test_token_refusals(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    uint8_t n[TCLOCK_NONCE_LEN], other[TCLOCK_NONCE_LEN];
    setup_clock(&c, &s, true);
    next_nonce(&s, n);
    assert_int_equal(tclock_anchor(&c, n, s.epoch_ms, 0), SVTPM_E_AUTH);   /* never asked */
    tclock_request(&c, n);
    next_nonce(&s, other);
    assert_int_equal(tclock_anchor(&c, other, s.epoch_ms, 0), SVTPM_E_AUTH);   /* another nonce */
    assert_int_equal(tclock_anchor(&c, n, s.epoch_ms, 0), SVTPM_OK);
    assert_int_equal(tclock_anchor(&c, n, s.epoch_ms + 3600000, 0), SVTPM_E_AUTH);   /* replayed */
    /* a new request replaces the old: the old nonce's token no longer counts */
    tclock_request(&c, n);
    tclock_request(&c, other);
    assert_int_equal(tclock_anchor(&c, n, s.epoch_ms + 1000, 0), SVTPM_E_AUTH);
    /* an authority time that went back lowers nothing */
    uint64_t low = c.low_ms;
    assert_int_equal(tclock_anchor(&c, other, s.epoch_ms - 60000, 0), SVTPM_OK);
    assert_int_equal(c.low_ms, low);
}

/* The authority's accuracy widens both bounds: the clock is never pulled
 * past what the worst case of its error allows. */
static void test_accuracy(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    uint8_t n[TCLOCK_NONCE_LEN];
    setup_clock(&c, &s, true);
    next_nonce(&s, n);
    tclock_request(&c, n);
    assert_int_equal(tclock_anchor(&c, n, s.epoch_ms, 500), SVTPM_OK);
    pass(&s, 10 * S, 0, 1);                              /* frozen source, 10 s */
    next_nonce(&s, n);
    tclock_request(&c, n);
    assert_int_equal(tclock_anchor(&c, n, s.epoch_ms + 10000, 500), SVTPM_OK);
    /* 10 s passed, each reading ±0.5 s: at least 9 s certainly did */
    assert_int_equal(tclock_now(&c) - 42 * S, 9 * S);
}

/* Restarts (tclock_cap). A host that rushes the source runs each process's
 * clock at its ceiling, and after every crash the clock resumes ahead of
 * where it stopped (the TPM clock's lease, up to LEAD here). With the
 * ceiling carried from the first run (base = -offset, the offset being
 * authority ms minus clock ms at the first reference), five crash-restarts
 * leave the clock at most 2 * LEAD ahead of real time, and it never goes
 * back across one; with `carry` false (a new reference per process) it
 * gains about LEAD per restart. Returns the largest lead seen (ns). */
static uint64_t restarts(bool carry)
{
    struct tclock c;
    struct sim s;
    struct check k;
    start_anchored(&c, &s, &k, 1000, 1);
    int64_t offset_ms = (int64_t)c.ref_ms - (int64_t)(c.ref_now / MS);
    uint64_t worst = 0;
    for (int r = 0; r < 5; r++) {
        for (int i = 0; i < 30; i++) {   /* 3 s of use, tokens every 0.5 s, source 1000x */
            pass(&s, 100 * MS, 1000, 1);
            if (i % 5 == 4)
                token(&c, &s, 20 * MS, 30 * MS, 1000, 1);
            uint64_t now = tclock_now(&c);
            assert_true(now >= k.last);
            uint64_t ahead = now - k.c0 > s.real - k.r0 ? now - k.c0 - (s.real - k.r0) : 0;
            worst = ahead > worst ? ahead : worst;
            k.last = now;
        }
        /* crash; a new process resumes LEAD above the last reading */
        pass(&s, 200 * MS, 1000, 1);
        struct tclock_cfg cfg = { .max_lead_ns = LEAD, .require_anchor = true };
        tclock_init(&c, (struct tclock_source){ read_raw, &s }, &cfg, k.last + LEAD);
        if (carry)
            tclock_cap(&c, -offset_ms * (int64_t)MS);
        token(&c, &s, 20 * MS, 30 * MS, 1000, 1);
    }
    return worst;
}

static void test_restart_gives_no_new_lead(void **state)
{
    (void)state;
    uint64_t carried = restarts(true), fresh = restarts(false);
    if (carried > 2 * LEAD + 100 * MS)
        fail_msg("with the carried ceiling the clock ran %llu ms ahead", (unsigned long long)(carried / MS));
    if (fresh < 4 * LEAD)
        fail_msg("without it only %llu ms ahead: the test does not show the gain", (unsigned long long)(fresh / MS));
}

/* The carried ceiling also bounds a token's pull-forward, and one below the
 * clock holds it until authenticated time passes it. */
static void test_cap_holds(void **state)
{
    (void)state;
    struct tclock c;
    struct sim s;
    setup_clock(&c, &s, true);
    /* carried: the clock may read at most (authority time - 10 s) + lead */
    int64_t base = 42 * (int64_t)S - (int64_t)(s.epoch_ms * MS) - 10 * (int64_t)S;
    tclock_cap(&c, base);
    token(&c, &s, 10 * MS, 10 * MS, 1, 1);
    uint64_t start = tclock_now(&c);
    assert_int_equal(start, 42 * S);
    pass(&s, 5 * S, 1, 1);
    token(&c, &s, 10 * MS, 10 * MS, 1, 1);
    assert_int_equal(tclock_now(&c), start);          /* 5 s real: still held */
    pass(&s, 10 * S, 0, 1);                            /* frozen source, 10 s real */
    token(&c, &s, 10 * MS, 10 * MS, 0, 1);
    uint64_t now = tclock_now(&c);
    /* real elapsed ~15 s: pulled to the carried ceiling (15 - 10 + lead), not to +15 s */
    assert_true(now <= start + 5 * S + LEAD + 100 * MS);
    assert_true(now >= start + 5 * S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follows_source_without_authority),
        cmocka_unit_test(test_stands_still_until_first_token),
        cmocka_unit_test(test_jump_forward_hours),
        cmocka_unit_test(test_jump_backward_hours),
        cmocka_unit_test(test_frozen_source),
        cmocka_unit_test(test_ten_times_fast),
        cmocka_unit_test(test_lockout_not_shortened),
        cmocka_unit_test(test_withheld_tokens_stop_the_clock),
        cmocka_unit_test(test_token_refusals),
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_restart_gives_no_new_lead),
        cmocka_unit_test(test_cap_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
