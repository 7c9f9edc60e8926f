#include "tpmcmd.h"
#include "bytes.h"

#define ST_SESSIONS        0x8002u
#define HT_POLICY_SESSION  0x03u
#define CC_POLICY_SECRET   0x151u
#define CC_POLICY_SIGNED   0x160u
#define CC_POLICY_COUNTER_TIMER 0x16Du
#define CC_POLICY_TICKET   0x172u

/* cHandles per command code from TPMA_CC as libtpms 0.9 reports it
 * (TPM2_GetCapability(TPM_CAP_COMMANDS)); X: not implemented.
 * tests/unit/test_tpmcmd.c checks this table against the linked libtpms. */
#define X (-1)
static const signed char handles[TPMCMD_CC_LAST - TPMCMD_CC_FIRST + 1] = {
    2, 2, 1, 2, X, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x11F-0x12E */
    X, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1,  /* 0x12F-0x13E */
    1, 1, X, 0, 0, 0, 0, 0, 2, 2, 3, 2, 2, 2, 3, 2,  /* 0x13F-0x14E */
    2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, X, 1, 1, 1, 1,  /* 0x14F-0x15E */
    X, 2, 0, 1, 1, 1, 0, X, 0, 1, 1, 1, 1, 1, 1, 1,  /* 0x15F-0x16E */
    1, 1, 1, 1, 1, 1, X, 2, 1, 0, X, 0, 0, 0, 0, 0,  /* 0x16F-0x17E */
    1, 1, 0, 1, 1, 3, 2, 0, 1, 1, 1, 0, 1, 1, 1, 0,  /* 0x17F-0x18E */
    1, 1, 1, 3, 1, X, X, X, 2,                       /* 0x18F-0x197 */
};
#undef X

int tpmcmd_handles(uint32_t cc)
{
    if (cc < TPMCMD_CC_FIRST || cc > TPMCMD_CC_LAST)
        return -1;
    return handles[cc - TPMCMD_CC_FIRST];
}

static bool time_bound_policy(uint32_t cc)
{
    return cc == CC_POLICY_SECRET || cc == CC_POLICY_SIGNED || cc == CC_POLICY_TICKET ||
           cc == CC_POLICY_COUNTER_TIMER;
}

/* The authorization area: true if any session is a policy session, or if the
 * area does not parse (libtpms will refuse it; a token is the safe side). */
static bool policy_session_in(struct rd *r)
{
    uint32_t size = rd_be32(r);
    const uint8_t *area = rd_ptr(r, size);
    if (!rd_ok(r))
        return true;
    struct rd a = rd_init(area, size);
    bool policy = false;
    while (rd_ok(&a) && rd_left(&a) && !policy) {
        uint32_t handle = rd_be32(&a);
        (void)rd_ptr(&a, rd_be16(&a));   /* nonceCaller */
        (void)rd_u8(&a);                 /* sessionAttributes */
        (void)rd_ptr(&a, rd_be16(&a));   /* hmac */
        policy = (handle >> 24) == HT_POLICY_SESSION;
    }
    return policy || !rd_ok(&a);
}

bool tpmcmd_needs_fresh_time(const uint8_t *cmd, size_t len)
{
    struct rd r = rd_init(cmd, len);
    uint16_t tag = rd_be16(&r);
    (void)rd_be32(&r);   /* commandSize: libtpms checks it against len */
    uint32_t cc = rd_be32(&r);
    bool fresh;
    if (!rd_ok(&r))
        fresh = false;   /* not a command libtpms will run */
    else if (time_bound_policy(cc))
        fresh = true;
    else if (tag != ST_SESSIONS)
        fresh = false;   /* no authorization area, so no policy session */
    else if (tpmcmd_handles(cc) < 0)
        fresh = true;    /* unknown to this table: cannot find the area */
    else {
        (void)rd_ptr(&r, 4u * (size_t)tpmcmd_handles(cc));
        fresh = policy_session_in(&r);
    }
    return fresh;
}
