#include "eclock.h"
#include "bytes.h"
#include "clock.h"
#include "crypto.h"
#include "timetoken.h"

#include <string.h>
#include <time.h>

/* After a failed fetch, the next try waits for a second of source time or
 * RETRY_READS reads, whichever comes first: a frozen source must not keep
 * the clock from ever asking again. */
#define RETRY_NS 1000000000ull
#define RETRY_READS 4096u

static uint64_t direct(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t direct_mono(void) { return direct(CLOCK_MONOTONIC_RAW); }
static uint64_t direct_wall(void) { return direct(CLOCK_REALTIME); }

/* libtpms reads time through a libc call with no context, so, like tpm.c's
 * the_tpm, this is a process-wide singleton. */
static struct {
    bool ready;
    uint64_t (*mono)(void), (*wall)(void);
    struct tclock c;
    uint64_t wall_base, clock_base;   /* wall time and clock at start */
    struct ocall_ctx *oc;             /* with an authority */
    uint8_t pub[32], id[32];
    bool fetching;
    uint64_t next_try;                /* source time of the next attempt after a failure */
    uint32_t reads_left;              /* reads before the next attempt after a failure */
    uint64_t origin_ns, origin_at;    /* with an authority: libtpms' time (eclock_origin) */
} g;

/* The wall time libtpms sees with an authority: a fixed epoch (2020-01-01)
 * plus its monotonic time, so it looks like a date and never goes back. */
#define WALL_EPOCH_NS (1577836800000ull * 1000000ull)

static uint64_t source(void *ctx)
{
    (void)ctx;
    return g.mono();
}

static void setup(bool require_anchor, uint64_t start)
{
    struct tclock_cfg cfg = { .max_lead_ns = ECLOCK_MAX_LEAD_NS, .require_anchor = require_anchor };
    tclock_init(&g.c, (struct tclock_source){ source, NULL }, &cfg, start);
}

static void ready(void)
{
    if (g.ready)
        return;
    if (!g.mono || !g.wall) {
        g.mono = direct_mono;
        g.wall = direct_wall;
    }
    g.ready = true;
    setup(false, g.mono());
    g.clock_base = g.c.now;
    g.wall_base = g.wall();
}

void eclock_sources(uint64_t (*mono_ns)(void), uint64_t (*wall_ns)(void))
{
    if (!g.ready) {
        g.mono = mono_ns;
        g.wall = wall_ns;
    }
}

void eclock_set_authority(struct ocall_ctx *oc, const uint8_t pub[32])
{
    ready();
    memcpy(g.pub, pub, 32);
    crypto_sha256(&(struct iovc){ .p = pub, .n = 32 }, 1, g.id);
    g.oc = oc;
    setup(true, tclock_now(&g.c));   /* from here on, only authenticated time moves it */
    /* libtpms' time from here on: the TPM clock's origin, 0 until a state says */
    g.origin_ns = (uint64_t)ECLOCK_TPM_EPOCH_MS * 1000000u;
    g.origin_at = g.c.now;
}

bool eclock_pinned(void)
{
    return g.oc != NULL;
}

uint64_t eclock_tpm_mono_ns(void)
{
    uint64_t now = eclock_now_ns();
    return g.oc ? g.origin_ns + (now - g.origin_at) : now;
}

void eclock_origin(uint64_t tpm_ms)
{
    ready();
    if (!g.oc)
        return;
    uint64_t cur = eclock_tpm_mono_ns(), want = UINT64_MAX / 4;
    if (tpm_ms < want / 1000000u - ECLOCK_TPM_EPOCH_MS)
        want = (tpm_ms + ECLOCK_TPM_EPOCH_MS) * 1000000u;
    g.origin_ns = want > cur ? want : cur;
    g.origin_at = g.c.now;
}

#define NS_PER_MS 1000000

bool eclock_offset(uint64_t tpm_ms, uint64_t at_ns, int64_t *offset_ms)
{
    ready();
    if (!g.oc || !g.c.anchored || tpm_ms > (uint64_t)INT64_MAX / 4 || at_ns > (uint64_t)INT64_MAX / 4 ||
        g.c.ref_ms > (uint64_t)INT64_MAX / 4)
        return false;   /* (a TPM2_ClockSet near 2^64: no tie kept) */
    /* the TPM clock at the reference nonce: tpm_ms minus the clock's progress since */
    int64_t back_ms = ((int64_t)at_ns - (int64_t)g.c.ref_now) / NS_PER_MS;
    *offset_ms = (int64_t)g.c.ref_ms - ((int64_t)tpm_ms - back_ms);
    return true;
}

void eclock_carry(int64_t offset_ms, uint64_t tpm_ms)
{
    ready();
    const int64_t lim = INT64_MAX / 4 / NS_PER_MS;
    if (!g.oc || tpm_ms > (uint64_t)lim || offset_ms > lim || offset_ms < -lim ||
        offset_ms + (int64_t)tpm_ms > lim || offset_ms + (int64_t)tpm_ms < -lim)
        return;
    /* TPM clock = tpm_ms + (clock - now) / 1e6 and it may read at most
     * low - offset + lead, so the clock may read now - (offset + tpm_ms) * 1e6
     * + low * 1e6 + lead */
    int64_t now = (int64_t)tclock_now(&g.c);
    tclock_cap(&g.c, now - (offset_ms + (int64_t)tpm_ms) * NS_PER_MS);
}

void eclock_detach(void)
{
    g.oc = NULL;
}

static svtpm_err fetch(void)
{
    uint8_t nonce[TCLOCK_NONCE_LEN];
    const uint8_t *resp = NULL;
    uint32_t rlen = 0;
    struct timetoken t;
    svtpm_err err = crypto_random(nonce, sizeof nonce);
    if (err)
        return err;
    tclock_request(&g.c, nonce);
    memcpy(ocall_req(g.oc), nonce, sizeof nonce);
    err = ocall_invoke(g.oc, OCALL_TIME_TOKEN, sizeof nonce, &resp, &rlen);
    if (!err)
        err = timetoken_parse(resp, rlen, &t);
    if (!err && !ct_equal(t.authority_id, g.id, 32))
        err = SVTPM_E_FOREIGN;   /* another authority than the tenant pinned */
    if (!err)
        err = crypto_ed25519_verify(g.pub, resp, TIMETOKEN_SIGNED_LEN, t.signature);
    if (!err)
        err = tclock_anchor(&g.c, nonce, t.time_ms, t.accuracy_ms);
    return err;
}

/* One fetch, with the guard against re-entry (the OCALL's own waits read the
 * clock) and the warning a failure deserves. */
static svtpm_err try_fetch(const char *consequence)
{
    g.fetching = true;
    svtpm_err err = fetch();
    g.fetching = false;
    if (err) {
        g.next_try = g.c.raw_last + RETRY_NS;
        g.reads_left = RETRY_READS;
        elog(g.oc, LOG_WARN, "no time token from the time authority (%s): %s",
             err == SVTPM_E_FOREIGN ? "signed by another authority than the manifest pins" :
             err == SVTPM_E_AUTH ? "bad signature or stale nonce" : svtpm_strerror(err),
             consequence);
    }
    return err;
}

static bool can_fetch(void)
{
    /* Not while a request is being marshalled: a library reading the clock
     * in the middle (OpenSSL's DRBG reads it) must not overwrite it. */
    return g.oc && !g.fetching && !g.oc->composing;
}

uint64_t eclock_now_ns(void)
{
    ready();
    uint64_t now = tclock_now(&g.c);
    if (g.reads_left)
        g.reads_left--;
    if (can_fetch() && (g.c.raw_last >= g.next_try || !g.reads_left) &&
        now + ECLOCK_MAX_LEAD_NS / 2 >= tclock_ceiling(&g.c)) {
        (void)try_fetch("the TPM clock stops at its ceiling until one arrives");
        now = tclock_now(&g.c);
    }
    return now;
}

svtpm_err eclock_refresh(void)
{
    ready();
    if (!g.oc)
        return SVTPM_OK;
    if (!can_fetch())
        return SVTPM_E_STATE;
    return try_fetch("a command that needs fresh time is refused (TPM_RC_RETRY)");
}

uint64_t eclock_wall_ns(void)
{
    if (g.oc)
        return WALL_EPOCH_NS + eclock_tpm_mono_ns();
    uint64_t now = eclock_now_ns();
    return g.wall_base + (now - g.clock_base);
}
