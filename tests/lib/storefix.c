#include "storefix.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "content.h"
#include "seal.h"
#include "testplat.h"

int sf_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    testplat_init(&f->plat, 7);
    fh_init(&f->h);
    fh_ctx(&f->h, &f->oc);
    assert_int_equal(store_init(&f->s, &f->plat, &f->oc), SVTPM_OK);
    f->buf = malloc(SEAL_SLOT_SIZE);
    *state = f;
    return 0;
}

int sf_teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->h.bad_requests, 0);   /* the store never sent a malformed OCALL */
    store_fini(&f->s);
    fh_ctx_free(&f->oc);
    fh_fini(&f->h);
    free(f->buf);
    free(f);
    return 0;
}

void sf_restart(struct fx *f)
{
    store_fini(&f->s);
    fh_revive(&f->h);
    assert_int_equal(store_init(&f->s, &f->plat, &f->oc), SVTPM_OK);
}

svtpm_err sf_save_v(struct fx *f, uint32_t file, uint32_t len, uint32_t v)
{
    content(f->buf, len, v);
    return store_save(&f->s, file, f->buf, len);
}

void sf_expect_load(struct fx *f, uint32_t file, uint32_t len, uint32_t v)
{
    uint8_t *out = NULL;
    uint32_t n = 0;
    svtpm_err e = store_load(&f->s, file, &out, &n);
    if (e != SVTPM_OK)
        fail_msg("load of %s: %s, expected version %u", store_file_name(file), svtpm_strerror(e), v);
    assert_non_null(out);
    if (!is_content(out, n, len, v))
        fail_msg("load of %s: wrong content (len %u, expected version %u len %u)",
                 store_file_name(file), n, v, len);
    free(out);
}

const uint8_t *sf_slot_ptr(struct fx *f, uint32_t file, int slot)
{
    size_t n;
    uint8_t *b = fh_bytes(&f->h, file, &n);
    assert_non_null(b);
    return b + (size_t)slot * SEAL_SLOT_SIZE;
}
