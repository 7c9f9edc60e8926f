/* The counter service: where a bound vTPM's non-rollback entry (nrs.h) lives,
 * outside the VM's rollback domain. rollback.c decides what the entry must
 * say; a backend only keeps it. Each use is one transaction: begin reads the
 * entry and holds whatever makes the read-modify-write atomic (the local
 * backend: the host-wide store's lock, which the host drops at the end of the
 * ECALL at the latest), then commit writes the new entry durably, or end
 * gives up.
 *
 * Backends: `local` (counters_local.c), a sealed file per host that the host
 * keeps (`--counters dir=`); a remote one (the KMC's counter service) is to
 * come. */
#ifndef SVTPM_COUNTERS_H
#define SVTPM_COUNTERS_H
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "nrs.h"

struct store;

struct counter_txn {
    struct store *s;
    uint8_t *payload;    /* local: the whole store as read (NULL: none yet) */
    uint32_t len;
};

struct counter_ops {
    const char *name;
    /* Reads id's entry into *e (*have: it exists). */
    svtpm_err (*begin)(struct counter_txn *t, struct store *s, const uint8_t id[16],
                       struct nrs_entry *e, bool *have);
    /* Writes e (inserted or replaced) durably. */
    svtpm_err (*commit)(struct counter_txn *t, const struct nrs_entry *e);
    /* Ends the transaction (after commit, or instead of it). */
    void (*end)(struct counter_txn *t);
};

extern const struct counter_ops counters_local;

#endif
