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

uint64_t tclock_ceiling(const struct tclock *c)
{
    if (!c->anchored)
        return c->cfg.require_anchor ? c->now : UINT64_MAX;
    return sat_add(sat_add(c->ref_now, elapsed_lb_ns(c)), c->cfg.max_lead_ns);
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
    uint64_t floor = sat_add(c->ref_now, elapsed_lb_ns(c));
    if (floor > c->now) {
        c->pulled_ns = sat_add(c->pulled_ns, floor - c->now);
        c->now = floor;
    }
    return SVTPM_OK;
}
