/* The exact control/data sequence QEMU 7.2 (-tpmdev emulator) sends
 * (swtpm-interface.md §1.7), spoken directly to build/svtpm: object creation
 * (SET_DATAFD + probe + GET_CAPABILITY), machine resets for tpm-crb and
 * tpm-tis, the guest's first commands, an outgoing migration (GET_STATEBLOB
 * 1, 2, 3, LOCK_STORAGE on resume), and the incoming side on a new instance
 * with a fresh state directory (STOP, SET_STATEBLOB header/body, INIT(1), the
 * TPM resumes without Startup), then CMD_SHUTDOWN.
 *
 * The same sequence then runs against Debian's swtpm 0.7.1 and every
 * deterministic reply is compared byte for byte (documented differences:
 * the capability word 0x1FFFF vs 0xFFFF, LOCK_STORAGE which 0.7.1 lacks, the
 * state blobs themselves). */
#include "proto.h"

#include <openssl/sha.h>

#define MAX_STEPS 64

struct step {
    char name[96];
    uint8_t rep[96];
    size_t n;
};

struct transcript {
    bool done;
    int n;
    struct step s[MAX_STEPS];
};

static struct transcript t_sv, t_sw;

static void rec(struct transcript *t, const char *name, const void *p, size_t n)
{
    assert_true(t->n < MAX_STEPS);
    struct step *s = &t->s[t->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->n = n > sizeof s->rep ? sizeof s->rep : n;
    memcpy(s->rep, p, s->n);
}

struct blob {
    uint32_t flags, len;
    uint8_t *data;
};

static const uint8_t EXTEND_DIGEST[32] = {
    0x53, 0x56, 0x54, 0x50, 0x4d, 0x2d, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x2d, 0x71, 0x65, 0x6d, 0x75,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};
#define TEST_PCR 16u

/* ctrl command with u32 args on the persistent connection; checks size and
 * result, records the reply. */
static void step_ctrl(struct vtpm *v, struct transcript *t, int c, const char *name, uint32_t code,
                      int nargs, const uint32_t *args, size_t rlen, const uint8_t *want)
{
    uint8_t r[64];
    ctrl_cmd_fd(v, c, code, nargs, args, rlen, r);
    if (want)
        pt_expect_bytes(name, r, rlen, want, rlen);
    rec(t, name, r, rlen);
}

/* QEMU's tpm_emulator_set_buffer_size + startup_tpm for one machine reset.
 * `current` is the buffer size in effect (libtpms keeps it across INIT). */
static void machine_reset(struct vtpm *v, struct transcript *t, int c, uint32_t current, uint32_t bufsize,
                          bool init)
{
    static const uint8_t ok4[4] = { 0 };
    uint8_t query[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0xF8, 0, 0, 0x10, 0 };
    uint8_t set[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0xF8, 0, 0, 0x10, 0 };
    pt_put32(query + 4, current);
    pt_put32(set + 4, bufsize);
    uint32_t zero = 0;
    char nm[96];

    pt_say("STOP -> 00000000");
    step_ctrl(v, t, c, "STOP", PT_STOP, 0, NULL, 4, ok4);
    pt_say("SET_BUFFERSIZE(0) (query) -> 16 bytes 00000000 %08X 00000AF8 00001000", current);
    step_ctrl(v, t, c, "SET_BUFFERSIZE(0)", PT_SET_BUFFERSIZE, 1, &zero, 16, query);
    pt_say("STOP -> 00000000");
    step_ctrl(v, t, c, "STOP", PT_STOP, 0, NULL, 4, ok4);
    snprintf(nm, sizeof nm, "SET_BUFFERSIZE(%u)", bufsize);
    pt_say("%s -> 00000000 %08X 00000AF8 00001000", nm, bufsize);
    step_ctrl(v, t, c, nm, PT_SET_BUFFERSIZE, 1, &bufsize, 16, set);
    if (init) {
        pt_say("INIT(0) -> 00000000");
        step_ctrl(v, t, c, "INIT(0)", PT_INIT, 1, &zero, 4, ok4);
    }
}

/* QEMU object creation: SET_DATAFD, the TPM2_ReadClock probe, GET_CAPABILITY.
 * Returns QEMU's end of the data socketpair. */
static int object_creation(struct vtpm *v, struct transcript *t, int c)
{
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    pt_say("SET_DATAFD: socketpair end as SCM_RIGHTS on the sendmsg of the 4 command bytes -> 00000000");
    uint32_t res = ctrl_set_datafd(v, c, sp[1]);
    close(sp[1]);   /* QEMU closes its copy after the reply */
    assert_int_equal(res, 0);
    uint8_t r4[4] = { 0 };
    rec(t, "SET_DATAFD", r4, 4);

    pt_say("pre-INIT probe TPM2_ReadClock on the data fd -> exactly 80 01 00 00 00 0A 00 00 01 01 in one read()");
    pt_write_all(sp[0], TPM_READCLOCK, sizeof TPM_READCLOCK);
    uint8_t r[1024];
    int64_t t0 = pt_now_ms();
    ssize_t n = pt_read_once(sp[0], r, sizeof r, PT_REPLY_MS);
    int64_t dt = pt_now_ms() - t0;
    pt_expect_bytes("probe reply (one read)", r, n > 0 ? (size_t)n : 0, PT_RC_FAILURE_RESP, 10);
    if (dt > 1000)
        pt_note("%s answered the probe after %lld ms; QEMU waits at most 1000 ms", v->name, (long long)dt);
    rec(t, "probe TPM2_ReadClock", r, (size_t)n);

    pt_say("GET_CAPABILITY -> 8 bytes, first 4 zero, caps include 0x%X", PT_QEMU_CAPS);
    uint8_t cap[8];
    ctrl_cmd_fd(v, c, PT_GET_CAPABILITY, 0, NULL, 8, cap);
    assert_int_equal(pt_get32(cap), 0);
    uint32_t caps = pt_get32(cap + 4);
    if ((caps & PT_QEMU_CAPS) != PT_QEMU_CAPS)
        fail_msg("%s: caps 0x%X lack QEMU's minimum 0x%X", v->name, caps, PT_QEMU_CAPS);
    if ((caps & 0x700) != 0x700)
        fail_msg("%s: caps 0x%X lack GET/SET_STATEBLOB|STOP (QEMU installs a migration blocker)", v->name, caps);
    if (!v->ref) {
        pt_say("svtpm advertises 0x1FFFF (LOCK_STORAGE included)");
        assert_int_equal(caps, 0x1FFFF);
    }
    return sp[0];
}

static void sha256_extend(const uint8_t old[32], const uint8_t d[32], uint8_t out[32])
{
    uint8_t b[64];
    memcpy(b, old, 32);
    memcpy(b + 32, d, 32);
    SHA256(b, 64, out);
}

/* Reads a GET_STATEBLOB reply: 16-byte header then `length` bytes, all sent
 * without a further request. */
static uint32_t get_stateblob(struct vtpm *v, int c, uint32_t type, uint8_t hdr[16], struct blob *b)
{
    uint8_t req[16];
    pt_put32(req, PT_GET_STATEBLOB);
    pt_put32(req + 4, 1);      /* PTM_STATE_FLAG_DECRYPTED, as QEMU */
    pt_put32(req + 8, type);
    pt_put32(req + 12, 0);
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    pt_trace(v->name, "ctrl >", req, 16);
    pt_write_all(c, req, 16);
    size_t n = pt_read_min(c, buf, cap, 16, PT_REPLY_MS, NULL);
    if (n < 16) {
        free(buf);
        fail_msg("%s: GET_STATEBLOB(%u): short reply header %s", v->name, type, pt_hex(buf, n));
    }
    uint32_t res = pt_get32(buf), tot = pt_get32(buf + 8), len = pt_get32(buf + 12);
    if (res == 0 && len > 0 && n < 16 + (size_t)len && 16 + (size_t)len <= cap)
        n += pt_read_min(c, buf + n, cap - n, 16 + len - n, PT_REPLY_MS, NULL);
    pt_trace(v->name, "ctrl <", buf, n);
    memcpy(hdr, buf, 16);
    if (res == 0) {
        if (tot != len)
            fail_msg("%s: GET_STATEBLOB(%u): totlength %u != length %u (QEMU requires equality)", v->name,
                     type, tot, len);
        if (n != 16 + (size_t)len)
            fail_msg("%s: GET_STATEBLOB(%u): header says %u blob bytes, %zu arrived", v->name, type, len,
                     n - 16);
        b->flags = pt_get32(buf + 4);
        b->len = len;
        b->data = malloc(len ? len : 1);
        assert_non_null(b->data);
        memcpy(b->data, buf + 16, len);
    } else if (n != 16) {
        fail_msg("%s: GET_STATEBLOB(%u): error reply must be the 16-byte header, got %s", v->name, type,
                 pt_hex(buf, n));
    }
    free(buf);
    return res;
}

/* CMD_SHUTDOWN: 4-byte 0, then the process exits 0 and unlinks its socket. */
static void shutdown_and_check(struct vtpm *v, struct transcript *t, int c)
{
    static const uint8_t ok4[4] = { 0 };
    pt_say("CMD_SHUTDOWN -> 00000000, then %s exits with status 0 and unlinks %s", v->name, v->ctrl);
    step_ctrl(v, t, c, "SHUTDOWN", PT_SHUTDOWN, 0, NULL, 4, ok4);
    if (!vtpm_wait_exit(v, PT_EXIT_MS)) {
        vtpm_dump(v);
        fail_msg("%s still running %d ms after CMD_SHUTDOWN", v->name, PT_EXIT_MS);
    }
    if (!WIFEXITED(v->wstatus) || WEXITSTATUS(v->wstatus) != 0) {
        vtpm_dump(v);
        fail_msg("%s: exit status after CMD_SHUTDOWN: 0x%X (want exit 0)", v->name, v->wstatus);
    }
    struct stat st;
    if (lstat(v->ctrl, &st) == 0)
        fail_msg("%s: control socket %s still exists after CMD_SHUTDOWN", v->name, v->ctrl);
    v->pid = 0;
    vtpm_check_sanitizer(v);
}

static void run_qemu_sequence(bool ref, struct transcript *t)
{
    static const uint8_t ok4[4] = { 0 };
    struct blob blobs[2] = { { 0 } };
    uint8_t r[4096], hdr[16], pcr_before[32], pcr_want[32], zeros[32] = { 0 };
    uint32_t zero = 0, one = 1;
    struct vtpm src, dst;

    printf("== %s: QEMU 7.2 object creation, resets, guest commands, outgoing migration\n",
           ref ? "swtpm 0.7.1 (reference)" : "svtpm");
    vtpm_start(&src, &(struct vtpm_opts){ .ref = ref });
    int c = vtpm_ctrl(&src);   /* QEMU's chardev: one persistent control connection */
    assert_true(c >= 0);
    int d = object_creation(&src, t, c);

    pt_say("machine reset as tpm-crb (buffer 3968 = 0x0F80)");
    machine_reset(&src, t, c, 4096, 3968, true);
    pt_say("TPM2_Startup(SU_CLEAR) on the data fd -> 80 01 00 00 00 0A 00 00 00 00");
    size_t n = tpm_xfer(&src, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, r, sizeof r);
    pt_expect_bytes("TPM2_Startup(SU_CLEAR) response", r, n, TPM_SUCCESS10, 10);
    rec(t, "crb: TPM2_Startup", r, n);

    pt_say("machine reset as tpm-tis (buffer 4096)");
    machine_reset(&src, t, c, 3968, 4096, true);
    pt_say("GET_TPMESTABLISHED -> 8 bytes, result 0");
    step_ctrl(&src, t, c, "GET_TPMESTABLISHED", PT_GET_TPMESTABLISHED, 0, NULL, 8, NULL);
    assert_int_equal(pt_get32(t->s[t->n - 1].rep), 0);
    pt_say("SET_LOCALITY with QEMU's 4-byte payload (00 00 00 00) -> 00000000");
    step_ctrl(&src, t, c, "SET_LOCALITY(0)", PT_SET_LOCALITY, 1, &zero, 4, ok4);

    pt_say("TPM2_Startup(SU_CLEAR) -> success");
    n = tpm_xfer(&src, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, r, sizeof r);
    pt_expect_bytes("TPM2_Startup(SU_CLEAR) response", r, n, TPM_SUCCESS10, 10);
    rec(t, "tis: TPM2_Startup", r, n);
    pt_say("TPM2_SelfTest(full) -> success");
    n = tpm_xfer(&src, d, TPM_SELFTEST, sizeof TPM_SELFTEST, r, sizeof r);
    pt_expect_bytes("TPM2_SelfTest response", r, n, TPM_SUCCESS10, 10);
    rec(t, "TPM2_SelfTest", r, n);
    pt_say("TPM2_PCR_Extend(PCR %u) -> success; PCR_Read gives SHA256(0^32 || digest)", TEST_PCR);
    uint8_t cmd[128];
    n = tpm_ok(&src, d, "TPM2_PCR_Extend", cmd, tpm_cmd_pcr_extend(cmd, TEST_PCR, EXTEND_DIGEST), r, sizeof r);
    rec(t, "TPM2_PCR_Extend", r, n);
    tpm_pcr_value(&src, d, TEST_PCR, pcr_before);
    sha256_extend(zeros, EXTEND_DIGEST, pcr_want);
    pt_expect_bytes("PCR 16 after one extend", pcr_before, 32, pcr_want, 32);
    rec(t, "PCR 16 value", pcr_before, 32);
    pt_say("TPM2_GetRandom(8) -> 20-byte response, 8 random bytes");
    n = tpm_ok(&src, d, "TPM2_GetRandom", TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    static const uint8_t rnd_hdr[12] = { 0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 8 };
    pt_expect_bytes("TPM2_GetRandom(8) header", r, n >= 12 ? 12 : n, rnd_hdr, 12);
    rec(t, "TPM2_GetRandom header", r, 12);
    pt_say("CANCEL_TPM_CMD (guest aborts a command; nothing is executing) -> 00000000");
    step_ctrl(&src, t, c, "CANCEL_TPM_CMD", PT_CANCEL_TPM_CMD, 0, NULL, 4, ok4);
    uint32_t loc3 = 0x03000000u;   /* u8 locality 3 + 3 padding bytes, as QEMU */
    pt_say("RESET_TPMESTABLISHED from locality 3 (03 00 00 00) -> 00000000");
    step_ctrl(&src, t, c, "RESET_TPMESTABLISHED(3)", PT_RESET_TPMESTABLISHED, 1, &loc3, 4, ok4);
    static const uint8_t bad_loc[4] = { 0, 0, 0, 0x3D };
    pt_say("RESET_TPMESTABLISHED from locality 0 -> 0000003D (TPM_BAD_LOCALITY)");
    step_ctrl(&src, t, c, "RESET_TPMESTABLISHED(0)", PT_RESET_TPMESTABLISHED, 1, &zero, 4, bad_loc);
    static const uint8_t est0[8] = { 0 };
    pt_say("GET_TPMESTABLISHED -> 00000000 00000000 (bit clear)");
    step_ctrl(&src, t, c, "GET_TPMESTABLISHED", PT_GET_TPMESTABLISHED, 0, NULL, 8, est0);
    pt_say("the locality is still 0 for the guest: TPM2_GetRandom works");
    tpm_ok(&src, d, "TPM2_GetRandom", TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);

    /* outgoing migration (pre_save: the VM is stopped, the TPM still runs) */
    for (uint32_t type = 1; type <= 2; type++) {
        pt_say("GET_STATEBLOB(flags=DECRYPTED, type %u, offset 0) -> result 0, totlength == length, blob in the same reply",
               type);
        uint32_t res = get_stateblob(&src, c, type, hdr, &blobs[type - 1]);
        if (res != 0)
            fail_msg("%s: GET_STATEBLOB(%u) result 0x%X (%s)", src.name, type, res, pt_hex(hdr, 16));
        if (blobs[type - 1].len == 0)
            fail_msg("%s: GET_STATEBLOB(%u): empty blob", src.name, type);
        printf("      type %u: state_flags %u, %u bytes\n", type, blobs[type - 1].flags, blobs[type - 1].len);
        if (!ref && blobs[type - 1].flags != 2)
            fail_msg("svtpm: GET_STATEBLOB(%u) state_flags %u, want 2 (encrypted svtpm blob)", type,
                     blobs[type - 1].flags);
    }
    pt_say("GET_STATEBLOB(type 3 = savestate) -> 00000800 00000000 00000000 00000000 (TPM_RETRY, no blob)");
    struct blob b3 = { 0 };
    uint32_t res = get_stateblob(&src, c, 3, hdr, &b3);
    static const uint8_t retry16[16] = { 0, 0, 0x08, 0 };
    pt_expect_bytes("GET_STATEBLOB(3) reply", hdr, 16, retry16, 16);
    (void)res;
    rec(t, "GET_STATEBLOB(3)", hdr, 16);

    /* the migration is abandoned and the VM resumes on the source */
    uint32_t retries = 300;
    pt_say("LOCK_STORAGE(300) (VM resumes on the source) -> %s", ref ? "(0.7.1 lacks it)" : "00000000");
    uint8_t lr[4];
    ctrl_cmd_fd(&src, c, PT_LOCK_STORAGE, 1, &retries, 4, lr);
    if (ref)
        printf("      swtpm 0.7.1 answers LOCK_STORAGE with %s (it predates the command)\n", pt_hex(lr, 4));
    else
        pt_expect_bytes("LOCK_STORAGE(300) reply", lr, 4, ok4, 4);
    pt_say("the source TPM still works after LOCK_STORAGE: TPM2_GetRandom");
    tpm_ok(&src, d, "TPM2_GetRandom", TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    shutdown_and_check(&src, t, c);
    close(c);
    close(d);

    /* incoming side: a new instance, fresh state directory, QEMU -incoming */
    printf("== %s: incoming migration on a new instance with an empty state directory\n", ref ? "swtpm" : "svtpm");
    vtpm_start(&dst, &(struct vtpm_opts){ .ref = ref });
    c = vtpm_ctrl(&dst);
    assert_true(c >= 0);
    d = object_creation(&dst, t, c);
    pt_say("reset with -incoming: STOP, SET_BUFFERSIZE(0), STOP, SET_BUFFERSIZE(4096), no INIT");
    machine_reset(&dst, t, c, 4096, 4096, false);
    pt_say("post_load: STOP -> 00000000");
    step_ctrl(&dst, t, c, "post_load STOP", PT_STOP, 0, NULL, 4, ok4);
    for (uint32_t type = 1; type <= 2; type++) {
        struct blob *b = &blobs[type - 1];
        pt_say("SET_STATEBLOB type %u: 12-byte header write, then a separate body write of %u bytes -> 00000000",
               type, b->len);
        uint8_t h[16];
        pt_put32(h, PT_SET_STATEBLOB);
        pt_put32(h + 4, b->flags);
        pt_put32(h + 8, type);
        pt_put32(h + 12, b->len);
        pt_trace(dst.name, "ctrl >", h, 16);
        pt_write_all(c, h, 16);
        pt_sleep_ms(20);   /* two writes, as QEMU, and visibly so */
        pt_trace(dst.name, "ctrl >", b->data, b->len);
        pt_write_all(c, b->data, b->len);
        uint8_t sr[64];
        size_t sn = pt_read_min(c, sr, sizeof sr, 4, PT_REPLY_MS, NULL);
        pt_trace(dst.name, "ctrl <", sr, sn);
        pt_expect_bytes("SET_STATEBLOB reply", sr, sn, ok4, 4);
        rec(t, type == 1 ? "SET_STATEBLOB(1)" : "SET_STATEBLOB(2)", sr, sn);
    }
    pt_say("INIT(1 = DELETE_VOLATILE) -> 00000000");
    step_ctrl(&dst, t, c, "INIT(1)", PT_INIT, 1, &one, 4, ok4);
    pt_say("SET_LOCALITY(0) -> 00000000");
    step_ctrl(&dst, t, c, "SET_LOCALITY(0)", PT_SET_LOCALITY, 1, &zero, 4, ok4);
    pt_say("the TPM resumed without Startup: PCR %u still has the value extended before the save", TEST_PCR);
    uint8_t pcr_after[32];
    tpm_pcr_value(&dst, d, TEST_PCR, pcr_after);
    pt_expect_bytes("PCR 16 after the migration", pcr_after, 32, pcr_before, 32);
    rec(t, "incoming: PCR 16 value", pcr_after, 32);
    pt_say("TPM2_GetRandom works");
    tpm_ok(&dst, d, "TPM2_GetRandom", TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    pt_say("TPM2_Startup now answers TPM_RC_INITIALIZE (0x100): the TPM is already started");
    n = tpm_xfer(&dst, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, r, sizeof r);
    static const uint8_t rc_init[10] = { 0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0x01, 0x00 };
    pt_expect_bytes("TPM2_Startup after the incoming migration", r, n, rc_init, 10);
    rec(t, "incoming: TPM2_Startup", r, n);
    shutdown_and_check(&dst, t, c);
    close(c);
    close(d);
    free(blobs[0].data);
    free(blobs[1].data);
    t->done = true;
}

static void test_qemu_sequence_svtpm(void **state)
{
    (void)state;
    run_qemu_sequence(false, &t_sv);
}

static void test_qemu_sequence_swtpm_compare(void **state)
{
    (void)state;
    if (!pt_ref_bin()) {
        printf("reference swtpm not available: comparison skipped\n");
        skip();
    }
    if (!t_sv.done)
        fail_msg("the svtpm run did not complete: nothing to compare");
    run_qemu_sequence(true, &t_sw);
    printf("== comparing %d replies, svtpm vs swtpm 0.7.1\n", t_sv.n);
    assert_int_equal(t_sv.n, t_sw.n);
    int diffs = 0;
    for (int i = 0; i < t_sv.n; i++) {
        struct step *a = &t_sv.s[i], *b = &t_sw.s[i];
        assert_string_equal(a->name, b->name);
        if (a->n == b->n && memcmp(a->rep, b->rep, a->n) == 0)
            continue;
        printf("    DIFF %-28s svtpm %s\n    %-33s swtpm %s\n", a->name, pt_hex(a->rep, a->n), "",
               pt_hex(b->rep, b->n));
        diffs++;
    }
    if (diffs)
        fail_msg("%d replies differ from swtpm's", diffs);
    pt_say("all %d recorded replies identical", t_sv.n);
}

int main(void)
{
    pt_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_qemu_sequence_svtpm, pt_teardown),
        cmocka_unit_test_teardown(test_qemu_sequence_swtpm_compare, pt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
