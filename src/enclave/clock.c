#include "clock.h"
#include "bytes.h"

#include <string.h>

#define NS_PER_MS 1000000u

void tclock_init(struct tclock *c, struct tclock_source src, const struct tclock_cfg *cfg,
                 uint64_t start_ns)
{
    memset(c, 0, sizeof *c);
    c->src = src;
    c->cfg = *cfg;
    c->now = start_ns;
    c->raw_last = src.read_ns(src.ctx);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Real time certainly elapsed since the reference nonce, in ns. */
static uint64_t elapsed_lb_ns(const struct tclock *c)
{
    uint64_t ms = c->low_ms > c->ref_ms ? c->low_ms - c->ref_ms : 0;
    return ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX : ms * NS_PER_MS;
}

/* The carried ceiling, base + low + lead in signed ns, clamped at 0: each
 * term is kept below INT64_MAX / 4 in size, so the sum cannot overflow. */
static uint64_t cap_ceiling(const struct tclock *c)
{
    const int64_t lim = INT64_MAX / 4;
    int64_t base = c->cap_base_ns < -lim ? -lim : c->cap_base_ns > lim ? lim : c->cap_base_ns;
    int64_t low = c->low_ms > (uint64_t)lim / NS_PER_MS ? lim : (int64_t)(c->low_ms * NS_PER_MS);
    int64_t lead = c->cfg.max_lead_ns > (uint64_t)lim ? lim : (int64_t)c->cfg.max_lead_ns;
    int64_t v = base + low + lead;
    return v < 0 ? 0 : (uint64_t)v;
}

uint64_t tclock_ceiling(const struct tclock *c)
{
    if (!c->anchored)
        return c->cfg.require_anchor ? c->now : UINT64_MAX;
    uint64_t own = sat_add(sat_add(c->ref_now, elapsed_lb_ns(c)), c->cfg.max_lead_ns);
    if (c->capped) {
        uint64_t cap = cap_ceiling(c);
        if (cap < own)
            own = cap;
    }
    return own;
}

void tclock_cap(struct tclock *c, int64_t base_ns)
{
    c->capped = true;
    c->cap_base_ns = base_ns;
}

uint64_t tclock_now(struct tclock *c)
{
    uint64_t raw = c->src.read_ns(c->src.ctx), step = 0;
    if (raw >= c->raw_last)
        step = raw - c->raw_last;
    else
        c->backsteps++;   /* a source that went back moves the clock by nothing */
    c->raw_last = raw;
    uint64_t want = sat_add(c->now, step), ceiling = tclock_ceiling(c);
    if (want > ceiling) {
        c->held_ns = sat_add(c->held_ns, want - (ceiling > c->now ? ceiling : c->now));
        want = ceiling > c->now ? ceiling : c->now;
    }
    c->now = want;
    return c->now;
}

void tclock_request(struct tclock *c, const uint8_t nonce[TCLOCK_NONCE_LEN])
{
    memcpy(c->nonce, nonce, TCLOCK_NONCE_LEN);
    c->nonce_now = tclock_now(c);
    c->pending = true;
}

svtpm_err tclock_anchor(struct tclock *c, const uint8_t nonce[TCLOCK_NONCE_LEN], uint64_t time_ms,
                        uint32_t accuracy_ms)
{
    if (!c->pending || !ct_equal(nonce, c->nonce, TCLOCK_NONCE_LEN))
        return SVTPM_E_AUTH;
    c->pending = false;
    (void)tclock_now(c);   /* the source's steps up to now count under the old bounds */
    uint64_t low = time_ms > accuracy_ms ? time_ms - accuracy_ms : 0;
    if (!c->anchored) {
        c->anchored = true;
        c->ref_now = c->nonce_now;
        c->ref_ms = sat_add(time_ms, accuracy_ms);
        c->low_ms = low;
    } else if (low > c->low_ms) {
        c->low_ms = low;   /* an authority that went back teaches nothing */
    }
    uint64_t floor = sat_add(c->ref_now, elapsed_lb_ns(c)), ceiling = tclock_ceiling(c);
    if (floor > ceiling)
        floor = ceiling;   /* a carried ceiling holds the clock (tclock_cap) */
    if (floor > c->now) {
        c->pulled_ns = sat_add(c->pulled_ns, floor - c->now);
        c->now = floor;
    }
    return SVTPM_OK;
}
