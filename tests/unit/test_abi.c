/* src/common/abi.h: the ECALL/OCALL tables and their limits, and that the
 * enclave's entry points (enclave_dispatch, ocall_invoke) refuse anything
 * outside them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "abi.h"
#include "chan.h"
#include "ecall.h"
#include "fakehost.h"
#include "ocall.h"
#include "sealfmt.h"
#include "testplat.h"

static void check_table(const struct svtpm_call_desc *(*get)(uint32_t), uint32_t end, const char *what)
{
    for (uint32_t id = 1; id < end; id++) {
        const struct svtpm_call_desc *d = get(id);
        if (!d)
            fail_msg("%s %u has no descriptor", what, id);
        assert_int_equal(d->id, id);
        assert_non_null(d->name);
        assert_true(strlen(d->name) > 0);
        if (d->req_max > SVTPM_CHAN_DATA_MAX || d->resp_max > SVTPM_CHAN_DATA_MAX)
            fail_msg("%s %s: limits %u/%u over the channel's %u", what, d->name,
                     d->req_max, d->resp_max, SVTPM_CHAN_DATA_MAX);
        for (uint32_t j = 1; j < id; j++)
            assert_string_not_equal(get(j)->name, d->name);
    }
    const uint32_t outside[] = { 0, end, end + 1, 0x100, 0x80000000u, 0xffffffffu };
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++)
        if (get(outside[i]))
            fail_msg("%s id %u outside the enum has a descriptor", what, outside[i]);
}

static void test_ecall_table(void **state)
{
    check_table(abi_ecall, ECALL__END, "ECALL");
}

static void test_ocall_table(void **state)
{
    check_table(abi_ocall, OCALL__END, "OCALL");
}

static void test_limits_consistent(void **state)
{
    /* what each call must be able to carry */
    assert_true(abi_ecall(ECALL_PROCESS)->req_max >= 1 + SVTPM_TPM_CMD_MAX);
    assert_true(abi_ecall(ECALL_PROCESS)->resp_max >= SVTPM_TPM_RESP_MAX);
    assert_int_equal(abi_ecall(ECALL_INIT)->req_max, INIT_REQ_LEN);
    assert_int_equal(abi_ecall(ECALL_INIT)->resp_max, INIT_RESP_LEN);
    assert_int_equal(abi_ecall(ECALL_STATE_INFO)->resp_max, STATE_INFO_RESP_LEN);
    assert_true(abi_ecall(ECALL_HASH_DATA)->req_max >= SVTPM_HASH_CHUNK_MAX);
    assert_true(abi_ecall(ECALL_GET_INFO)->resp_max >= SVTPM_INFO_MAX);
    assert_true(abi_ecall(ECALL_GET_STATEBLOB)->resp_max >= 4 + seal_rec_len(SVTPM_STATE_PLAIN_MAX));
    assert_true(abi_ecall(ECALL_SET_STATEBLOB)->req_max >= 4 + seal_rec_len(SVTPM_STATE_PLAIN_MAX));
    assert_true(abi_ecall(ECALL_IMPORT_SWTPM)->req_max >= 16 + SVTPM_KEY_MAX + SVTPM_IMPORT_MAX);
    assert_true(abi_ocall(OCALL_LOG)->req_max >= 4 + SVTPM_LOG_MAX - 1);
    /* a write carries one whole record; a read two, plus their framing */
    assert_true(abi_ocall(OCALL_STATE_WRITE)->req_max >= 12 + seal_rec_len(SVTPM_STATE_PLAIN_MAX));
    assert_true(abi_ocall(OCALL_STATE_READ)->resp_max >= 8 + 4 + 4 + 2 * seal_rec_len(SVTPM_STATE_PLAIN_MAX));
    /* records fit their slots, and the store's biggest request fits the channel */
    assert_true(SVTPM_SEALED_REC_MAX <= SEAL_SLOT_SIZE);
    assert_true(seal_rec_len(SVTPM_STATE_PLAIN_MAX) <= SVTPM_SEALED_REC_MAX);
    assert_true(12 + SVTPM_SEALED_REC_MAX <= SVTPM_CHAN_DATA_MAX);
    assert_int_equal(sizeof(((struct chan_shm *)0)->data), SVTPM_CHAN_DATA_MAX);
}

/* ---- the enclave side refuses ids and sizes outside the tables ---- */

static svtpm_err never(void *ud, uint32_t id, const uint8_t *req, uint32_t len,
                       uint8_t *resp, uint32_t cap, uint32_t *resp_len)
{
    (*(int *)ud)++;
    *resp_len = 0;
    return SVTPM_OK;
}

static void test_ocall_invoke_refuses(void **state)
{
    int called = 0;
    struct ocall_ctx oc = { .chan = NULL, .fake = never, .fake_ud = &called };
    oc.fake_req = calloc(1, SVTPM_CHAN_DATA_MAX);
    oc.resp = calloc(1, SVTPM_CHAN_DATA_MAX);
    oc.resp_cap = SVTPM_CHAN_DATA_MAX;
    const uint8_t *resp;
    uint32_t rlen;
    const uint32_t bad_ids[] = { 0, OCALL__END, 99, 0xffffffffu };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(ocall_invoke(&oc, bad_ids[i], 0, &resp, &rlen), SVTPM_E_INVAL);
    for (uint32_t id = 1; id < OCALL__END; id++) {
        uint32_t max = abi_ocall(id)->req_max;
        assert_int_equal(ocall_invoke(&oc, id, max + 1, &resp, &rlen), SVTPM_E_INVAL);
    }
    assert_int_equal(called, 0);
    /* in range: reaches the host */
    assert_int_equal(ocall_invoke(&oc, OCALL_STATE_DELETE, 4, &resp, &rlen), SVTPM_OK);
    assert_int_equal(called, 1);
    free(oc.fake_req);
    free(oc.resp);
}

static void test_dispatch_refuses(void **state)
{
    struct enclave *e = calloc(1, sizeof *e);
    struct fakehost h;
    fh_init(&h);
    testplat_init(&e->plat, 3);
    fh_ctx(&h, &e->oc);
    assert_int_equal(store_init(&e->store, &e->plat, &e->oc), SVTPM_OK);
    uint8_t *req = calloc(1, SVTPM_CHAN_DATA_MAX);
    uint8_t *resp = calloc(1, SVTPM_CHAN_DATA_MAX);
    uint32_t rlen = 99;

    const uint32_t bad_ids[] = { 0, ECALL__END, 0x1000, 0xffffffffu };
    for (size_t i = 0; i < 4; i++) {
        rlen = 99;
        assert_int_equal(enclave_dispatch(e, bad_ids[i], req, 0, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                         SVTPM_E_INVAL);
        assert_int_equal(rlen, 0);
    }
    /* before INIT: only PING and INIT */
    memset(req, 0x5a, 64);
    assert_int_equal(enclave_dispatch(e, ECALL_PING, req, 64, resp, SVTPM_CHAN_DATA_MAX, &rlen), SVTPM_OK);
    assert_int_equal(rlen, 64);
    assert_memory_equal(resp, req, 64);
    assert_int_equal(enclave_dispatch(e, ECALL_PING, req, 65, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                     SVTPM_E_INVAL);
    for (uint32_t id = ECALL_POWER_ON; id < ECALL__END; id++)
        assert_int_equal(enclave_dispatch(e, id, req, 0, resp, SVTPM_CHAN_DATA_MAX, &rlen), SVTPM_E_STATE);
    /* INIT with a malformed request, then a good one, then a second one */
    memset(req, 0, INIT_REQ_LEN);
    assert_int_equal(enclave_dispatch(e, ECALL_INIT, req, INIT_REQ_LEN - 1, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                     SVTPM_E_INVAL);
    req[3] = 0x80;   /* unknown flag */
    assert_int_equal(enclave_dispatch(e, ECALL_INIT, req, INIT_REQ_LEN, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                     SVTPM_E_INVAL);
    req[3] = 0;
    assert_int_equal(enclave_dispatch(e, ECALL_INIT, req, INIT_REQ_LEN, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                     SVTPM_OK);
    assert_int_equal(rlen, INIT_RESP_LEN);
    assert_memory_equal(resp + 33, e->plat.id.mrsigner, 32);
    assert_int_equal(enclave_dispatch(e, ECALL_INIT, req, INIT_REQ_LEN, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                     SVTPM_E_STATE);
    /* every id's limit is enforced before its handler runs */
    for (uint32_t id = 1; id < ECALL__END; id++) {
        uint32_t max = abi_ecall(id)->req_max;
        if (max + 1 > SVTPM_CHAN_DATA_MAX)
            continue;
        rlen = 99;
        assert_int_equal(enclave_dispatch(e, id, req, max + 1, resp, SVTPM_CHAN_DATA_MAX, &rlen),
                         SVTPM_E_INVAL);
        assert_int_equal(rlen, 0);
    }
    /* STATE_INFO: a handler that needs no TPM */
    assert_int_equal(enclave_dispatch(e, ECALL_STATE_INFO, req, 0, resp, SVTPM_CHAN_DATA_MAX, &rlen), SVTPM_OK);
    assert_int_equal(rlen, STATE_INFO_RESP_LEN);
    assert_int_equal(h.bad_requests, 0);

    store_fini(&e->store);
    fh_ctx_free(&e->oc);
    fh_fini(&h);
    free(req);
    free(resp);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecall_table),
        cmocka_unit_test(test_ocall_table),
        cmocka_unit_test(test_limits_consistent),
        cmocka_unit_test(test_ocall_invoke_refuses),
        cmocka_unit_test(test_dispatch_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
