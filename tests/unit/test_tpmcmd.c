/* src/enclave/tpmcmd.h: which commands get fresh authenticated time. The
 * handle table is checked against the linked libtpms (TPM2_GetCapability
 * TPM_CAP_COMMANDS: every command it implements, with its cHandles), so a
 * libtpms that adds or changes a command fails here instead of silently
 * running a policy-session command on a lagging clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>

#include "bytes.h"
#include "tpmcmd.h"

/* --- libtpms, in memory, nothing stored --------------------------------------------- */
static TPM_RESULT cb_init(void) { return TPM_SUCCESS; }
static TPM_RESULT cb_load(unsigned char **d, uint32_t *l, uint32_t n, const char *name)
{
    (void)d, (void)l, (void)n, (void)name;
    return TPM_RETRY;   /* nothing stored: manufacture */
}
static TPM_RESULT cb_store(const unsigned char *d, uint32_t l, uint32_t n, const char *name)
{
    (void)d, (void)l, (void)n, (void)name;
    return TPM_SUCCESS;
}
static TPM_RESULT cb_delete(uint32_t n, const char *name, TPM_BOOL must)
{
    (void)n, (void)name, (void)must;
    return TPM_SUCCESS;
}
static TPM_RESULT cb_io(void) { return TPM_SUCCESS; }
static TPM_RESULT cb_loc(TPM_MODIFIER_INDICATOR *l, uint32_t n)
{
    (void)n;
    *l = 0;
    return TPM_SUCCESS;
}

static void test_table_matches_libtpms(void **state)
{
    (void)state;
    static struct libtpms_callbacks cbs = {
        .sizeOfStruct = sizeof(struct libtpms_callbacks),
        .tpm_nvram_init = cb_init, .tpm_nvram_loaddata = cb_load,
        .tpm_nvram_storedata = cb_store, .tpm_nvram_deletename = cb_delete,
        .tpm_io_init = cb_io, .tpm_io_getlocality = cb_loc,
    };
    assert_int_equal(TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2), TPM_SUCCESS);
    assert_int_equal(TPMLIB_RegisterCallbacks(&cbs), TPM_SUCCESS);
    assert_int_equal(TPMLIB_MainInit(), TPM_SUCCESS);
    unsigned char *r = NULL;
    uint32_t rlen = 0, rsize = 0;
    unsigned char startup[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
    assert_int_equal(TPMLIB_Process(&r, &rlen, &rsize, startup, sizeof startup), TPM_SUCCESS);
    /* GetCapability(TPM_CAP_COMMANDS, TPM_CC_FIRST, 256) */
    unsigned char gc[] = { 0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7A,
                           0, 0, 0, 2, 0, 0, 0x01, 0x1F, 0, 0, 1, 0 };
    assert_int_equal(TPMLIB_Process(&r, &rlen, &rsize, gc, sizeof gc), TPM_SUCCESS);
    assert_true(rlen >= 19);
    assert_int_equal(get_be32(r + 6), 0);
    assert_int_equal(r[10], 0);   /* moreData: all of them in one answer */
    uint32_t n = get_be32(r + 15);
    assert_true(rlen >= 19 + 4 * n);
    bool listed[TPMCMD_CC_LAST + 1] = { false };
    for (uint32_t i = 0; i < n; i++) {
        uint32_t attr = get_be32(r + 19 + 4 * i), cc = attr & 0xFFFFu;
        assert_false(attr & 0x20000000u);   /* no vendor commands */
        assert_true(cc >= TPMCMD_CC_FIRST && cc <= TPMCMD_CC_LAST);
        listed[cc] = true;
        if (tpmcmd_handles(cc) != (int)((attr >> 25) & 7))
            fail_msg("command 0x%03x: %d handles in the table, libtpms says %u", cc, tpmcmd_handles(cc),
                     (attr >> 25) & 7);
    }
    for (uint32_t cc = TPMCMD_CC_FIRST; cc <= TPMCMD_CC_LAST; cc++)
        if (!listed[cc] && tpmcmd_handles(cc) != -1)
            fail_msg("command 0x%03x is in the table, libtpms does not implement it", cc);
    assert_int_equal(tpmcmd_handles(0), -1);
    assert_int_equal(tpmcmd_handles(TPMCMD_CC_LAST + 1), -1);
    assert_int_equal(tpmcmd_handles(0x2000011Fu), -1);
    TPMLIB_Terminate();
    free(r);
}

/* --- commands ------------------------------------------------------------------------- */
#define PW      0x40000009u   /* TPM_RS_PW */
#define HMACS   0x02000000u
#define POLICY  0x03000001u

struct sess { uint32_t handle; uint16_t nonce, hmac; };

/* A command: tag, cc, nh handles, the sessions (if tag is ST_SESSIONS), then
 * `params` parameter bytes. Returns its length. */
static size_t build(uint8_t *buf, size_t cap, uint16_t tag, uint32_t cc, int nh,
                    const struct sess *s, size_t ns, size_t params)
{
    struct wr w = wr_init(buf, cap);
    wr_be16(&w, tag);
    wr_be32(&w, 0);
    wr_be32(&w, cc);
    for (int i = 0; i < nh; i++)
        wr_be32(&w, 0x80000000u + (uint32_t)i);
    if (tag == 0x8002) {
        size_t at = w.off, size = 0;
        wr_be32(&w, 0);
        for (size_t i = 0; i < ns; i++) {
            wr_be32(&w, s[i].handle);
            wr_be16(&w, s[i].nonce);
            wr_zero(&w, s[i].nonce);
            wr_u8(&w, 1);
            wr_be16(&w, s[i].hmac);
            wr_zero(&w, s[i].hmac);
            size += 9u + s[i].nonce + s[i].hmac;
        }
        put_be32(buf + at, (uint32_t)size);
    }
    wr_zero(&w, params);
    assert_true(wr_ok(&w));
    put_be32(buf + 2, (uint32_t)w.off);
    return w.off;
}

static void test_plain_commands(void **state)
{
    (void)state;
    uint8_t c[256];
    static const struct sess pw = { PW, 0, 5 }, hmac = { HMACS, 32, 32 };
    /* no sessions: GetRandom, ReadClock, PCR_Read */
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8001, 0x17B, 0, NULL, 0, 2)));
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8001, 0x181, 0, NULL, 0, 0)));
    /* password and HMAC sessions: Unseal (1 handle), NV_Write (2), Duplicate (2) */
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x15E, 1, &pw, 1, 0)));
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x137, 2, &hmac, 1, 12)));
    struct sess two[2] = { pw, hmac };
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x14B, 2, two, 2, 40)));
    /* an empty authorization area */
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x15E, 1, NULL, 0, 0)));
    /* too short to be a command */
    assert_false(tpmcmd_needs_fresh_time(c, 9));
    assert_false(tpmcmd_needs_fresh_time(NULL, 0));
    /* unknown code without sessions: libtpms refuses it before any authorisation */
    assert_false(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8001, 0x198, 0, NULL, 0, 4)));
}

static void test_policy_sessions(void **state)
{
    (void)state;
    uint8_t c[256];
    static const struct sess pw = { PW, 0, 5 }, hmac = { HMACS, 32, 32 }, pol = { POLICY, 32, 0 };
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x15E, 1, &pol, 1, 0)));
    /* the policy session second, after an HMAC one (NV_Write: 2 handles) */
    struct sess two[2] = { hmac, pol };
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x137, 2, two, 2, 12)));
    /* three handles (PolicyNV), a policy session authorising the NV read */
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x149, 3, &pol, 1, 8)));
    /* the handle area's length matters: with the wrong count the parse would
     * land elsewhere; ActivateCredential has 2, Load 1 */
    struct sess three[3] = { pw, pw, pol };
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x147, 2, three, 3, 20)));
}

static void test_time_bound_policy_commands(void **state)
{
    (void)state;
    uint8_t c[256];
    static const struct sess pw = { PW, 0, 0 };
    /* PolicySecret and PolicySigned carry sessions, PolicyTicket and
     * PolicyCounterTimer need none: all four always get fresh time */
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x151, 2, &pw, 1, 16)));
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8001, 0x160, 2, NULL, 0, 16)));
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8001, 0x172, 1, NULL, 0, 16)));
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8001, 0x16D, 1, NULL, 0, 16)));
    assert_true(tpmcmd_needs_fresh_time(c, 10));   /* the header is enough */
}

static void test_unparsable_is_fresh(void **state)
{
    (void)state;
    uint8_t c[256];
    static const struct sess pw = { PW, 0, 5 };
    /* unknown code with sessions: the area cannot be found */
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x198, 1, &pw, 1, 0)));
    assert_true(tpmcmd_needs_fresh_time(c, build(c, sizeof c, 0x8002, 0x20000001u, 1, &pw, 1, 0)));
    /* every truncation of a password-session Unseal inside its handle or
     * authorization area errs on the fresh side; past it, the parse is done */
    size_t n = build(c, sizeof c, 0x8002, 0x15E, 1, &pw, 1, 6);
    size_t area_end = 10 + 4 + 4 + 9 + 5;
    for (size_t len = 10; len < n; len++)
        assert_int_equal(tpmcmd_needs_fresh_time(c, len), len < area_end);
    /* an area size larger than the command */
    put_be32(c + 14, 0x7FFFFFFFu);
    assert_true(tpmcmd_needs_fresh_time(c, n));
    /* a session whose nonce runs past the area's end */
    n = build(c, sizeof c, 0x8002, 0x15E, 1, &pw, 1, 64);
    put_be16(c + 22, 40);
    assert_true(tpmcmd_needs_fresh_time(c, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_libtpms),
        cmocka_unit_test(test_plain_commands),
        cmocka_unit_test(test_policy_sessions),
        cmocka_unit_test(test_time_bound_policy_commands),
        cmocka_unit_test(test_unparsable_is_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
