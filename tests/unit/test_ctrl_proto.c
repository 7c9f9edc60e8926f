/* src/host/ctrl_proto.h: swtpm control-channel framing and parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "abi.h"
#include "bytes.h"
#include "ctrl_proto.h"

/* The fixed request payload size of every command (after the 4-byte code),
 * per shared/reference/swtpm-interface.md §1 (ptm_* request structs). */
static const struct { uint32_t code; uint32_t fixed; uint32_t err_reply; } cmds[] = {
    { CMD_GET_CAPABILITY, 0, 8 },
    { CMD_INIT, 4, 4 },
    { CMD_SHUTDOWN, 0, 4 },
    { CMD_GET_TPMESTABLISHED, 0, 8 },
    { CMD_SET_LOCALITY, 1, 4 },
    { CMD_HASH_START, 0, 4 },
    { CMD_HASH_DATA, 4, 4 },
    { CMD_HASH_END, 0, 4 },
    { CMD_CANCEL_TPM_CMD, 0, 4 },
    { CMD_STORE_VOLATILE, 0, 4 },
    { CMD_RESET_TPMESTABLISHED, 1, 4 },
    { CMD_GET_STATEBLOB, 12, 16 },
    { CMD_SET_STATEBLOB, 12, 4 },
    { CMD_STOP, 0, 4 },
    { CMD_GET_CONFIG, 0, 8 },
    { CMD_SET_DATAFD, 0, 4 },
    { CMD_SET_BUFFERSIZE, 4, 16 },
    { CMD_GET_INFO, 16, 4 },
    { CMD_LOCK_STORAGE, 4, 4 },
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

/* A complete, valid request: code, fixed part (body length fields filled
 * with body_len for HASH_DATA/SET_STATEBLOB), body. */
static size_t build(uint8_t *b, uint32_t code, uint32_t fixed, uint32_t body_len)
{
    put_be32(b, code);
    for (uint32_t i = 0; i < fixed; i++)
        b[4 + i] = (uint8_t)(0x10 + i);
    if (code == CMD_HASH_DATA)
        put_be32(b + 4, body_len);
    if (code == CMD_SET_STATEBLOB)
        put_be32(b + 12, body_len);
    if (code == CMD_SET_LOCALITY || code == CMD_RESET_TPMESTABLISHED)
        b[4] = 3;
    for (uint32_t i = 0; i < body_len; i++)
        b[4 + fixed + i] = (uint8_t)(i * 3);
    return 4 + fixed + body_len;
}

static uint32_t body_for(uint32_t code)
{
    return code == CMD_HASH_DATA ? 100 : code == CMD_SET_STATEBLOB ? 300 : 0;
}

static void test_table_complete(void **state)
{
    /* every command code 1..0x13 has a descriptor with the sizes above */
    assert_int_equal(NCMDS, CMD_LOCK_STORAGE);
    for (size_t i = 0; i < NCMDS; i++) {
        const struct ctrl_desc *d = ctrl_desc(cmds[i].code);
        assert_non_null(d);
        assert_int_equal(d->code, cmds[i].code);
        assert_non_null(d->name);
        assert_int_equal(d->req_min, cmds[i].fixed);
        assert_int_equal(d->err_reply, cmds[i].err_reply);
        assert_true(d->req_max >= d->req_min);
    }
    assert_null(ctrl_desc(0));
    assert_null(ctrl_desc(CMD_LOCK_STORAGE + 1));
    assert_null(ctrl_desc(0xffffffffu));
    assert_null(ctrl_desc(0x01000000u));   /* little-endian 1 */
}

static void test_need_every_command(void **state)
{
    uint8_t *b = calloc(1, 64 * 1024);
    for (size_t i = 0; i < NCMDS; i++) {
        uint32_t body = body_for(cmds[i].code);
        size_t total = build(b, cmds[i].code, cmds[i].fixed, body);
        for (size_t len = 0; len <= total; len++) {
            size_t need = 12345;
            assert_int_equal(ctrl_need(b, len, &need), SVTPM_OK);
            size_t want;
            if (len < 4)
                want = 4 - len;
            else if (len < 4 + cmds[i].fixed)
                want = 4 + cmds[i].fixed - len;    /* the fixed part first */
            else
                want = total - len;                /* then the body it announces */
            if (need != want)
                fail_msg("%s: %zu bytes in, need %zu, expected %zu",
                         ctrl_desc(cmds[i].code)->name, len, need, want);
        }
        /* extra bytes received: nothing more needed */
        size_t need = 1;
        assert_int_equal(ctrl_need(b, total + 5, &need), SVTPM_OK);
        assert_int_equal(need, 0);
    }
    free(b);
}

static void test_parse_exact_sizes(void **state)
{
    uint8_t *b = calloc(1, 64 * 1024);
    for (size_t i = 0; i < NCMDS; i++) {
        uint32_t code = cmds[i].code;
        uint32_t body = body_for(code);
        size_t total = build(b, code, cmds[i].fixed, body);
        struct ctrl_req r;
        if (ctrl_parse(b, total, &r) != SVTPM_OK)
            fail_msg("%s: exact request refused", ctrl_desc(code)->name);
        assert_int_equal(r.code, code);
        assert_ptr_equal(r.d, ctrl_desc(code));
        assert_ptr_equal(r.payload, b + 4);
        assert_int_equal(r.payload_len, total - 4);
        /* one byte short */
        if (total > 4 && ctrl_parse(b, total - 1, &r) != SVTPM_E_INVAL)
            fail_msg("%s: short request accepted", ctrl_desc(code)->name);
        /* trailing bytes (SET_LOCALITY/RESET_TPMESTABLISHED take up to 4) */
        size_t extra = cmds[i].fixed == 1 ? 4 : 1;
        memset(b + total, 0, extra);
        if (ctrl_parse(b, total + extra, &r) != SVTPM_E_INVAL)
            fail_msg("%s: %zu trailing byte(s) accepted", ctrl_desc(code)->name, extra);
    }
    free(b);
}

static void test_parse_fields(void **state)
{
    uint8_t b[64];
    struct ctrl_req r;

    put_be32(b, CMD_INIT);
    put_be32(b + 4, 0x00000001);
    assert_int_equal(ctrl_parse(b, 8, &r), SVTPM_OK);
    assert_int_equal(r.u32a, 1);

    put_be32(b, CMD_SET_BUFFERSIZE);
    put_be32(b + 4, 4096);
    assert_int_equal(ctrl_parse(b, 8, &r), SVTPM_OK);
    assert_int_equal(r.u32a, 4096);

    put_be32(b, CMD_LOCK_STORAGE);
    put_be32(b + 4, 1000);
    assert_int_equal(ctrl_parse(b, 8, &r), SVTPM_OK);
    assert_int_equal(r.u32a, 1000);

    put_be32(b, CMD_GET_STATEBLOB);
    put_be32(b + 4, PTM_STATE_FLAG_ENCRYPTED);
    put_be32(b + 8, 2);
    put_be32(b + 12, 7000);
    assert_int_equal(ctrl_parse(b, 16, &r), SVTPM_OK);
    assert_int_equal(r.u32a, PTM_STATE_FLAG_ENCRYPTED);
    assert_int_equal(r.u32b, 2);
    assert_int_equal(r.u32c, 7000);

    put_be32(b, CMD_GET_INFO);
    put_be64(b + 4, 0x0000000000000003ULL);
    put_be32(b + 12, 3072);
    put_be32(b + 16, 0);
    assert_int_equal(ctrl_parse(b, 20, &r), SVTPM_OK);
    assert_true(r.u64 == 3);
    assert_int_equal(r.u32a, 3072);

    put_be32(b, CMD_HASH_DATA);
    put_be32(b + 4, 5);
    memcpy(b + 8, "abcde", 5);
    assert_int_equal(ctrl_parse(b, 13, &r), SVTPM_OK);
    assert_int_equal(r.data_len, 5);
    assert_ptr_equal(r.data, b + 8);

    put_be32(b, CMD_SET_STATEBLOB);
    put_be32(b + 4, 0);
    put_be32(b + 8, 1);
    put_be32(b + 12, 3);
    memcpy(b + 16, "xyz", 3);
    assert_int_equal(ctrl_parse(b, 19, &r), SVTPM_OK);
    assert_int_equal(r.u32a, 0);
    assert_int_equal(r.u32b, 1);
    assert_int_equal(r.data_len, 3);
    assert_ptr_equal(r.data, b + 16);
}

static void test_set_locality_1_and_4_bytes(void **state)
{
    const uint32_t codes[] = { CMD_SET_LOCALITY, CMD_RESET_TPMESTABLISHED };
    for (size_t c = 0; c < 2; c++) {
        uint8_t b[16] = { 0 };
        struct ctrl_req r;
        put_be32(b, codes[c]);
        b[4] = 4;
        /* TSS style: the byte alone */
        assert_int_equal(ctrl_parse(b, 5, &r), SVTPM_OK);
        assert_int_equal(r.loc, 4);
        /* QEMU style: the byte and 3 padding bytes */
        b[4] = 2;
        assert_int_equal(ctrl_parse(b, 8, &r), SVTPM_OK);
        assert_int_equal(r.loc, 2);
        size_t need = 9;
        assert_int_equal(ctrl_need(b, 5, &need), SVTPM_OK);
        assert_int_equal(need, 0);
        assert_int_equal(ctrl_need(b, 8, &need), SVTPM_OK);
        assert_int_equal(need, 0);
        /* none, or more than 4 */
        assert_int_equal(ctrl_parse(b, 4, &r), SVTPM_E_INVAL);
        assert_int_equal(ctrl_parse(b, 9, &r), SVTPM_E_INVAL);
    }
}

static void test_hash_data_limit(void **state)
{
    uint8_t *b = calloc(1, 8 + PTM_HASH_DATA_MAX + 16);
    struct ctrl_req r;
    size_t need;
    put_be32(b, CMD_HASH_DATA);
    put_be32(b + 4, PTM_HASH_DATA_MAX);
    assert_int_equal(ctrl_need(b, 8, &need), SVTPM_OK);
    assert_int_equal(need, PTM_HASH_DATA_MAX);
    assert_int_equal(ctrl_parse(b, 8 + PTM_HASH_DATA_MAX, &r), SVTPM_OK);
    assert_int_equal(r.data_len, PTM_HASH_DATA_MAX);
    const uint32_t over[] = { PTM_HASH_DATA_MAX + 1, 0x10000, 0x7fffffffu, 0xffffffffu };
    for (size_t i = 0; i < 4; i++) {
        put_be32(b + 4, over[i]);
        need = 0;
        assert_int_equal(ctrl_need(b, 8, &need), SVTPM_E_INVAL);
        assert_int_equal(ctrl_parse(b, 8 + PTM_HASH_DATA_MAX + 1, &r), SVTPM_E_INVAL);
    }
    free(b);
}

static void test_set_stateblob_limit(void **state)
{
    uint8_t *b = calloc(1, 16 + SVTPM_SEALED_REC_MAX + 16);
    struct ctrl_req r;
    size_t need;
    put_be32(b, CMD_SET_STATEBLOB);
    put_be32(b + 12, SVTPM_SEALED_REC_MAX);
    assert_int_equal(ctrl_need(b, 16, &need), SVTPM_OK);
    assert_int_equal(need, SVTPM_SEALED_REC_MAX);
    assert_int_equal(ctrl_parse(b, 16 + SVTPM_SEALED_REC_MAX, &r), SVTPM_OK);
    const uint32_t over[] = { SVTPM_SEALED_REC_MAX + 1, 0x01000000u, 0xffffffffu };
    for (size_t i = 0; i < 3; i++) {
        put_be32(b + 12, over[i]);
        assert_int_equal(ctrl_need(b, 16, &need), SVTPM_E_INVAL);
        assert_int_equal(ctrl_parse(b, 16 + SVTPM_SEALED_REC_MAX + 1, &r), SVTPM_E_INVAL);
    }
    free(b);
}

static void test_unknown_code(void **state)
{
    const uint32_t codes[] = { 0, 0x14, 0x100, 0xffffffffu };
    for (size_t i = 0; i < 4; i++) {
        uint8_t b[12] = { 0 };
        put_be32(b, codes[i]);
        struct ctrl_req r;
        memset(&r, 0x55, sizeof r);
        assert_int_equal(ctrl_parse(b, 4, &r), SVTPM_OK);
        assert_null(r.d);
        assert_int_equal(r.code, codes[i]);
        size_t need = 7;
        assert_int_equal(ctrl_need(b, 4, &need), SVTPM_OK);
        assert_int_equal(need, 0);
        /* with junk after it: still "unknown", never a crash */
        assert_int_equal(ctrl_parse(b, 12, &r), SVTPM_OK);
        assert_null(r.d);
    }
    /* less than a code */
    uint8_t b[4] = { 0, 0, 0, 1 };
    struct ctrl_req r;
    for (size_t len = 0; len < 4; len++)
        assert_int_equal(ctrl_parse(b, len, &r), SVTPM_E_INVAL);
}

static void test_error_reply(void **state)
{
    uint8_t out[64];
    for (uint32_t code = 0; code <= CMD_LOCK_STORAGE + 2; code++) {
        size_t want = 4;
        if (code == CMD_GET_CAPABILITY || code == CMD_GET_TPMESTABLISHED || code == CMD_GET_CONFIG)
            want = 8;
        if (code == CMD_SET_BUFFERSIZE || code == CMD_GET_STATEBLOB)
            want = 16;
        memset(out, 0xee, sizeof out);
        size_t n = ctrl_error_reply(code, PTM_BAD_PARAMETER | 0x12340000u, out, sizeof out);
        if (n != want)
            fail_msg("code 0x%x: error reply %zu bytes, expected %zu", code, n, want);
        assert_int_equal(get_be32(out), PTM_BAD_PARAMETER | 0x12340000u);
        for (size_t i = 4; i < n; i++)
            assert_int_equal(out[i], 0);
        assert_int_equal(out[n], 0xee);
    }
    /* a small buffer is never overrun */
    memset(out, 0xee, sizeof out);
    size_t n = ctrl_error_reply(CMD_GET_STATEBLOB, PTM_FAIL, out, 6);
    assert_true(n <= 6);
    assert_int_equal(out[6], 0xee);
    assert_int_equal(get_be32(out), PTM_FAIL);
    memset(out, 0xee, sizeof out);
    n = ctrl_error_reply(CMD_INIT, PTM_FAIL, out, 2);
    assert_true(n <= 2);
    assert_int_equal(out[2], 0xee);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_need_every_command),
        cmocka_unit_test(test_parse_exact_sizes),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_set_locality_1_and_4_bytes),
        cmocka_unit_test(test_hash_data_limit),
        cmocka_unit_test(test_set_stateblob_limit),
        cmocka_unit_test(test_unknown_code),
        cmocka_unit_test(test_error_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
