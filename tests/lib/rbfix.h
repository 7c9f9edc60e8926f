/* The fixture of the rollback-guard tests (test_rollback.c,
 * test_rollback_crash.c): bound vTPMs (policy strict) over in-memory fake
 * hosts (fakehost.h) with a counter store, and the helpers that save,
 * load and inspect them. Every store operation is followed by
 * fh_ecall_end(): each stands for an ECALL, and the fake host checks that
 * each counter-store write is a read-modify-write under the store's lock. */
#ifndef TESTS_RBFIX_H
#define TESTS_RBFIX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fakehost.h"
#include "nrs.h"
#include "platform.h"
#include "sealfmt.h"
#include "store.h"

#define PERM STATE_FILE_PERMALL
#define VOL  STATE_FILE_VOLATILE
#define NRS  STATE_FILE_NRS

extern const uint8_t ID_A[16];
extern const uint8_t ID_B[16];
extern const uint8_t TENANT_A[32];
extern const uint8_t TENANT_B[32];
#define BIND_GEN 3u

/* One vTPM: its enclave process (store) and its host (state files; the
 * counter store may be another vTPM's host's). */
struct vt {
    const struct tee_platform *plat;
    const uint8_t *id, *tenant;
    struct fakehost h;
    struct ocall_ctx oc;
    struct store s;
};

struct fx {
    struct tee_platform plat;
    struct vt a, b;        /* b: only in the two-vTPM tests */
    bool b_up;
    uint8_t *buf;          /* SEAL_SLOT_SIZE scratch for contents */
};

/* The scratch buffer (SEAL_SLOT_SIZE) the content helpers write into. */
extern uint8_t *g_buf;

void vt_bind(struct vt *v);
void vt_restart(struct vt *v);
void vt_up(struct vt *v, const struct tee_platform *plat, const uint8_t *id, const uint8_t *tenant);
void vt_wipe(struct vt *v);
void vt_down(struct vt *v);
int rb_setup(void **state);
int rb_teardown(void **state);
svtpm_err save_v(struct vt *v, uint32_t file, uint32_t len, uint32_t ver);
svtpm_err load_raw(struct vt *v, uint32_t file, uint8_t **out, uint32_t *n);
void expect_load(struct vt *v, uint32_t file, uint32_t len, uint32_t ver);
svtpm_err expect_load_fails(struct vt *v, uint32_t file);
svtpm_err peek_entry(struct vt *v, const uint8_t id[16], struct nrs_entry *e, uint32_t *count);
struct nrs_entry entry_of(struct vt *v);
void assert_entry(struct vt *v, uint64_t version, uint64_t perm_seq, uint64_t vol_seq);
struct seal_hdr written_hdr(struct vt *v, uint64_t idx);
void replace_file(struct vt *v, uint32_t file, const uint8_t *b, size_t n);
/* Saves the real libtpms permall vector `name` (vectors.h) as the next
 * permall record, its TPM clock set to clock_ms. */
void save_blob(struct vt *v, const char *name, uint64_t clock_ms);

#endif
