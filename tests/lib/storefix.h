/* The fixture of the sealed A/B store tests (test_store.c,
 * test_store_tamper.c, test_store_crash.c): one store (src/enclave/store.h)
 * on test platform 7 (testplat.h) over an in-memory fake host (fakehost.h),
 * and the helpers that save, load, restart and inspect it. The helpers fail
 * the current cmocka test on a broken expectation. */
#ifndef TESTS_STOREFIX_H
#define TESTS_STOREFIX_H
#include <stdint.h>

#include "fakehost.h"
#include "platform.h"
#include "sealfmt.h"
#include "store.h"

#define PERM STATE_FILE_PERMALL
#define VOL  STATE_FILE_VOLATILE

struct fx {
    struct tee_platform plat;
    struct fakehost h;
    struct ocall_ctx oc;
    struct store s;
    uint8_t *buf;          /* SEAL_SLOT_SIZE scratch for contents */
};

/* cmocka setup/teardown; the teardown also checks that the store never sent
 * a malformed OCALL. */
int sf_setup(void **state);
int sf_teardown(void **state);
/* A fresh enclave process on the same host files. */
void sf_restart(struct fx *f);
/* Saves content(len, v) (content.h) to file. */
svtpm_err sf_save_v(struct fx *f, uint32_t file, uint32_t len, uint32_t v);
/* Fails the test unless file loads as content(len, v). */
void sf_expect_load(struct fx *f, uint32_t file, uint32_t len, uint32_t v);
/* The start of slot 0 (A) or 1 (B) of file on the fake host (which must
 * exist). */
const uint8_t *sf_slot_ptr(struct fx *f, uint32_t file, int slot);

#endif
