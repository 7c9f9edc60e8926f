/* An in-memory host for running enclave modules (store, import, ...) in
 * process: it implements the host's OCALL table (src/host/enclave_host.c
 * serve_ocall + src/host/statedir.c) over byte arrays, with fault injection
 * for crash-consistency tests.
 *
 * Model of the real host (statedir.c):
 *   - a state file is SEAL_FILE_SIZE bytes, slot A at 0, slot B at
 *     SEAL_SLOT_SIZE; it is created zero-filled by the first write, and that
 *     creation is atomic (the real host builds it aside and renames it), so
 *     a fault during creation leaves no file at all;
 *   - STATE_WRITE writes the record into its slot, makes it durable, then
 *     zeroes the 16-byte tag at retire_tag_off in the other slot;
 *   - STATE_READ answers u64 file_size, u32 n0, rec0, u32 n1, rec1, where each
 *     n is statedir.c's slot_extent.
 *
 * Faults are injected on the STATE_WRITE with index fault_at (0-based count
 * of STATE_WRITE requests seen by this host). A fault that models a crash
 * marks the host `dead`: every later OCALL fails with SVTPM_E_PEER until the
 * test "restarts" with fh_revive().
 *
 * The counter store STATE_FILE_NRS (svtpm.nrs, in the host-wide counters
 * directory) exists only on a host that keeps one (svtpm --counters):
 * fh_counters(h, true). Without it (the default) every STATE_READ/WRITE of
 * file 3 is answered SVTPM_E_INVAL, as enclave_host.c does, and counted in
 * nrs_refused (not as a bad request: the request itself is well-formed).
 * With it, the file is kept like the state files (same A/B layout, same
 * faults, STATE_WRITEs to it count for fault_at), with what enclave_host.c
 * adds:
 *   - a STATE_READ of it takes the store's lock (nrs_locked), the next
 *     STATE_WRITE of it releases it (whatever its outcome), as does the end
 *     of the ECALL (fh_ecall_end) and a restart (fh_revive); a STATE_WRITE
 *     of it without the lock held is counted in nrs_unlocked_writes (a
 *     read-modify-write that could lose another vTPM's update);
 *   - STATE_DELETE of it is refused (SVTPM_E_INVAL, a bad request);
 *   - several fake hosts (one per vTPM) may share one counter store: after
 *     fh_share_nrs(h, owner) every access of h to file 3 (OCALLs and the
 *     fh_bytes/fh_put/... helpers) goes to owner's file. */
#ifndef TESTS_FAKEHOST_H
#define TESTS_FAKEHOST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "abi.h"
#include "err.h"
#include "ocall.h"

#define FH_SECTOR 512u
#define FH_MAX_WRITES 1024u

enum fh_fault {
    FH_NONE = 0,
    FH_FAIL,            /* nothing reaches the file; error; the process lives on */
    FH_FULL_FAIL,       /* the whole record is durable, no retire, error; lives on */
    FH_FAIL_DIE,        /* nothing reaches the file; error; the process dies */
    FH_TEAR_SECTORS,    /* the first fault_arg 512-byte sectors reach the file; error; dies */
    FH_TEAR_SUBSET,     /* a random subset of sectors (PRNG seeded by fault_arg); error; dies */
    FH_TEAR_BYTES,      /* the first fault_arg bytes reach the file (finer than a
                         * sector: not a realistic disk, see test_store); error; dies */
    FH_FULL_DIE,        /* the whole record is durable, the retire is not done,
                         * the ack is lost: error; dies */
    FH_FULL_RETIRE_DIE, /* record durable, old tag zeroed, ack lost: error; dies */
    FH_SKIP_RETIRE,     /* record durable and acknowledged (OK), the retire never
                         * reaches the disk (power lost): dies after the OK */
};

struct fh_file {
    bool exists;
    uint8_t *data;
    size_t size;
};

struct fh_write {
    uint32_t file, slot, retire_off, len;
};

struct fakehost {
    struct fh_file f[4];            /* by STATE_FILE_* (f[0] unused) */
    bool counters;                  /* keeps a counter store (file 3): fh_counters */
    struct fakehost *nrs_host;      /* holds the counter store, NULL: this host */
    /* counters */
    uint64_t writes;                /* STATE_WRITE requests seen (the fault index) */
    uint64_t writes_ok;             /* ... that returned OK */
    uint64_t reads, deletes, retires, bad_requests;
    struct fh_write wlog[FH_MAX_WRITES];   /* the first FH_MAX_WRITES writes */
    /* fault injection */
    int64_t fault_at;               /* STATE_WRITE index to fault, -1 none */
    enum fh_fault fault;
    uint32_t fault_arg;
    bool fail_reads;                /* STATE_READ answers SVTPM_E_IO */
    bool dead;                      /* a crash happened: every OCALL fails */
    /* the counter store's lock, as the enclave host takes it */
    bool nrs_locked;                /* held by this host (read, not yet written) */
    uint64_t nrs_locks;             /* STATE_READs of the counter store */
    uint64_t nrs_unlocked_writes;   /* STATE_WRITEs of it without the lock held */
    uint64_t nrs_refused;           /* file 3 OCALLs refused: no counter store */
    /* enclave log */
    char **log;
    int *log_level;
    size_t nlog;
    bool echo_log;                  /* also print log lines (env FH_VERBOSE) */
};

void fh_init(struct fakehost *h);
void fh_fini(struct fakehost *h);
/* Fills an ocall_ctx to talk to h (allocates fake_req and resp). */
void fh_ctx(struct fakehost *h, struct ocall_ctx *oc);
void fh_ctx_free(struct ocall_ctx *oc);
/* The ocall_host_fn. */
svtpm_err fh_ocall(void *ud, uint32_t id, const uint8_t *req, uint32_t len,
                   uint8_t *resp, uint32_t cap, uint32_t *resp_len);

/* Arms a fault on STATE_WRITE number `at` (0-based; counted from fh_init). */
void fh_fault(struct fakehost *h, int64_t at, enum fh_fault f, uint32_t arg);
/* The process "restarts": faults disarmed, dead cleared, counter-store lock
 * released; files kept. */
void fh_revive(struct fakehost *h);
/* The end of an ECALL: the host drops the counter store's lock. */
void fh_ecall_end(struct fakehost *h);
/* The host keeps a counter store (file 3), or not (the default). */
void fh_counters(struct fakehost *h, bool on);
/* h keeps a counter store and it is owner's file 3 from now on (owner == h
 * or NULL: its own again). owner must outlive h's use of it. */
void fh_share_nrs(struct fakehost *h, struct fakehost *owner);

/* Raw file access for tampering: NULL when the file does not exist. */
uint8_t *fh_bytes(struct fakehost *h, uint32_t file, size_t *size);
/* Resizes (truncates or zero-extends) an existing file. */
void fh_resize(struct fakehost *h, uint32_t file, size_t size);
/* Creates/overwrites a file with the given bytes. */
void fh_put(struct fakehost *h, uint32_t file, const uint8_t *data, size_t size);
void fh_remove(struct fakehost *h, uint32_t file);
/* A malloc'd copy of a file (NULL if absent). */
uint8_t *fh_snapshot(const struct fakehost *h, uint32_t file, size_t *size);

/* Log lines seen through OCALL_LOG. */
bool fh_log_has(const struct fakehost *h, const char *needle);
void fh_log_clear(struct fakehost *h);

/* statedir.c's slot_extent, for tests that build replies themselves. */
size_t fh_slot_extent(const uint8_t *hdr, size_t avail);

#endif
