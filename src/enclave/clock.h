/* The enclave's clock (issue 5): elapsed time the host cannot rewind, and
 * cannot rush beyond a bound once an authority vouches for the time.
 *
 * The fine-grained source is untrusted (the host kernel's monotonic clock in
 * `soft` mode; a VMM can steer the TSC under SGX). The clock follows its
 * steps but:
 *   - never goes backwards: a source that steps back moves the clock by 0;
 *   - with a time authority, never runs ahead of authenticated time by more
 *     than max_lead. A token (timetoken.h) for a nonce the enclave issued at
 *     clock value M0 and signed at authority time A0 proves that real time at
 *     the nonce was at most A0; a later token signed at A proves real time is
 *     now at least A. So real time elapsed since the nonce is at least A - A0,
 *     and the clock may read at most M0 + (A - A0) + max_lead: a host that
 *     rushes the source gains at most max_lead, whatever it does, and one that
 *     withholds tokens only stops the clock at that ceiling;
 *   - is pulled forward to M0 + (A - A0) when a token shows the source was
 *     slow or frozen (that much real time certainly passed);
 *   - with require_anchor, stands still until the first token.
 * So against real time the clock is at most max_lead ahead and at most (the
 * token interval + the host's delivery delay) behind.
 *
 * A pure module: the source is injected (tests script a hostile one), the
 * caller supplies nonces' randomness and verifies tokens' signatures. */
#ifndef SVTPM_CLOCK_H
#define SVTPM_CLOCK_H
#include <stdbool.h>
#include <stdint.h>
#include "err.h"

#define TCLOCK_NONCE_LEN 32u

struct tclock_source {
    uint64_t (*read_ns)(void *ctx);   /* monotonic nanoseconds, untrusted */
    void *ctx;
};

struct tclock_cfg {
    uint64_t max_lead_ns;    /* how far ahead of authenticated time it may run */
    bool require_anchor;     /* stand still until the first authenticated time */
};

struct tclock {
    struct tclock_source src;
    struct tclock_cfg cfg;
    uint64_t raw_last;       /* the source's last reading */
    uint64_t now;            /* the clock's last reading: never decreases */
    /* authenticated time */
    bool anchored;
    uint64_t ref_now;        /* the clock when the first accepted token's nonce was issued */
    uint64_t ref_ms;         /* that token's time plus its accuracy: real time at the
                                nonce was at most this */
    uint64_t low_ms;         /* the largest token time minus its accuracy: real time
                                now is at least this */
    /* a ceiling carried from an earlier run (tclock_cap) */
    bool capped;
    int64_t cap_base_ns;
    /* the outstanding request */
    bool pending;
    uint8_t nonce[TCLOCK_NONCE_LEN];
    uint64_t nonce_now;      /* the clock when the nonce was issued */
    /* what the clamps did, for logs and tests */
    uint64_t held_ns;        /* source time not passed on: over the ceiling, or before an anchor */
    uint64_t pulled_ns;      /* time added by tokens (a slow or frozen source) */
    uint32_t backsteps;      /* readings below the previous one */
};

/* The clock starts at `start_ns` (for example a high-water mark). */
void tclock_init(struct tclock *c, struct tclock_source src, const struct tclock_cfg *cfg,
                 uint64_t start_ns);
/* Reads the source and returns the clock (ns). */
uint64_t tclock_now(struct tclock *c);
/* The highest value the clock may take now (UINT64_MAX with no authority). */
uint64_t tclock_ceiling(const struct tclock *c);
/* A second ceiling, from what an earlier run (another process) proved: once
 * a token is in, the clock also never exceeds base_ns + low_ms (in ns) +
 * max_lead, signed. Without it every restart would start a new reference
 * and so a new max_lead of room; with it the room is the earlier run's.
 * A token's pull-forward never goes past it either. Replaces an earlier cap. */
void tclock_cap(struct tclock *c, int64_t base_ns);
/* Starts a request for authenticated time with `nonce` (the caller's fresh
 * random bytes); a new request replaces an outstanding one. */
void tclock_request(struct tclock *c, const uint8_t nonce[TCLOCK_NONCE_LEN]);
/* A token whose signature the caller verified: for the outstanding nonce
 * (else SVTPM_E_AUTH: stale, replayed or never asked for), signed at
 * time_ms ± accuracy_ms authority time. Ends the request. */
svtpm_err tclock_anchor(struct tclock *c, const uint8_t nonce[TCLOCK_NONCE_LEN], uint64_t time_ms,
                        uint32_t accuracy_ms);

#endif
