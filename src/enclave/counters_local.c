/* The local counter service: one sealed file (kind SEAL_KIND_NRS) holding
 * every vTPM's entry on this host, read and written through the store as
 * state file STATE_FILE_NRS; the host takes the file's lock on the read and
 * drops it on the write or at the end of the ECALL. One file for all vTPMs,
 * so one entry cannot be rolled back without rolling back every vTPM's. */
#include "counters.h"
#include "store.h"

#include <stdlib.h>

static svtpm_err local_begin(struct counter_txn *t, struct store *s, const uint8_t id[16],
                             struct nrs_entry *e, bool *have)
{
    t->s = s;
    t->payload = NULL;
    t->len = 0;
    *have = false;
    svtpm_err err = store_load(s, STATE_FILE_NRS, &t->payload, &t->len);
    if (err == SVTPM_E_NOTFOUND)
        return SVTPM_OK;   /* no store yet: the first entry creates it */
    if (!err) {
        err = nrs_find(t->payload, t->len, id, e);
        *have = err == SVTPM_OK;
        if (err == SVTPM_E_NOTFOUND)
            err = SVTPM_OK;
    }
    return err;
}

static svtpm_err local_commit(struct counter_txn *t, const struct nrs_entry *e)
{
    size_t cap = (size_t)t->len + NRS_ENTRY_LEN + 8, n = 0;
    uint8_t *buf = malloc(cap);
    svtpm_err err = buf ? nrs_put(t->payload, t->len, e, buf, cap, &n) : SVTPM_E_NOMEM;
    if (!err)
        err = store_save(t->s, STATE_FILE_NRS, buf, (uint32_t)n);
    free(buf);
    return err;
}

static void local_end(struct counter_txn *t)
{
    free(t->payload);
    t->payload = NULL;
    t->len = 0;
}

const struct counter_ops counters_local = {
    .name = "local",
    .begin = local_begin,
    .commit = local_commit,
    .end = local_end,
};
