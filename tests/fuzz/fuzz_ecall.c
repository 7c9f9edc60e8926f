/* Fuzz target: the enclave's ECALL message parsing (src/enclave/ecall.h
 * enclave_dispatch) on an enclave set up in-process against a fake host
 * (tests/fuzz/fuzz_common.h) that keeps state files in memory.
 *
 * Input: a flags byte (FZ_EC_* in fuzz_common.h), then up to MAX_CALLS calls,
 * each u8 ECALL id, u16 length (big-endian), payload. Unless
 * FZ_EC_NO_AUTO_INIT is set, an ECALL_INIT with no vTPM id runs first (the
 * dispatcher refuses most calls before INIT). Each payload is handed over in
 * a buffer of exactly its size, as serve_one's private copy. The response
 * area is the whole shared area, as serve_one gives, or with
 * FZ_EC_SMALL_CAP a small buffer of exactly the cap.
 *
 * libtpms is one per process and slow to power on, so:
 *   - POWER_ON and PROCESS run only with FZ_EC_POWER, and PROCESS only for a
 *     few cheap commands (the point is our glue, not libtpms);
 *   - the fake host starts every run with the same "golden" permall (made
 *     once, by manufacturing a TPM at start-up), and the enclave's own state
 *     (INIT, vTPM id, store, TPM power) is reset between runs.
 * Invariants: a response never exceeds the cap or the call's named limit and
 * is empty on error; fixed-size responses have their size; PING echoes;
 * a blob GET_STATEBLOB hands out is a well-formed sealed migration record
 * this platform opens; every record written to the host is well-formed
 * (checked by the fake host). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>

#include "abi.h"
#include "bytes.h"
#include "crypto.h"
#include "ecall.h"
#include "seal.h"
#include "sealfmt.h"
#include "fuzz_common.h"
#include "fuzz_known_states.h"

#include <dlfcn.h>

#define MAX_CALLS 16

static uint32_t cur_call;        /* the ECALL being dispatched */

/* libtpms' own state unmarshalling is not what this target fuzzes, and it
 * reads out of bounds on some malformed blobs (tests/fuzz/crashes/ecall/
 * README). IMPORT_SWTPM is the one path where unauthenticated bytes reach it,
 * so there this interposer lets only the real swtpm states of the seeds
 * (fuzz_known_states.h) through to libtpms and answers anything else as
 * libtpms does for a malformed blob. SET_STATEBLOB blobs are authenticated,
 * so they always pass. FZ_REAL_LIBTPMS=1 turns the filter off. */
TPM_RESULT TPMLIB_SetState(enum TPMLIB_StateType st, const unsigned char *buf, uint32_t len)
{
    typedef TPM_RESULT (*fn)(enum TPMLIB_StateType, const unsigned char *, uint32_t);
    static fn real;
    static int all = -1;
    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "TPMLIB_SetState");
        FZ_CHECK(real != NULL);
        all = getenv("FZ_REAL_LIBTPMS") != NULL;
    }
    if (cur_call == ECALL_IMPORT_SWTPM && buf && !all) {
        uint8_t h[32];
        struct iovc part = { buf, len };
        FZ_CHECK(crypto_sha256(&part, 1, h) == SVTPM_OK);
        bool known = false;
        for (size_t i = 0; i < sizeof fz_known_states / sizeof fz_known_states[0]; i++)
            known |= memcmp(h, fz_known_states[i], 32) == 0;
        if (!known)
            return TPM_BAD_PARAMETER;
    }
    return real(st, buf, len);
}

static struct enclave *e;
static struct fz_host host;
static uint8_t *resp;
static uint8_t *golden;          /* the permall file every run starts with */
static uint8_t *plain;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void reset_enclave(void)
{
    if (e->tpm.running)
        tpm_power_off(&e->tpm);
    /* Blobs SET_STATEBLOB or IMPORT_SWTPM handed to TPMLIB_SetState stay
     * cached in libtpms until the next TPMLIB_MainInit; switching the TPM
     * version is the one public way to drop them (ClearAllCachedState). */
    FZ_CHECK(TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_1_2) == TPM_SUCCESS);
    FZ_CHECK(TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2) == TPM_SUCCESS);
    e->initialised = false;
    store_reset(&e->store);
    memset(e->store.vtpm_id, 0, 16);
    e->store.have_id = e->store.id_named = false;
    e->store.last_err = SVTPM_OK;
    e->store.last_file = 0;
    e->store.open_ns = 0;
    e->tpm.locality = 0;
    e->tpm.last_ordinal = 0;
    uint32_t mn, mx;
    TPMLIB_SetBufferSize(SVTPM_TPM_CMD_MAX, &mn, &mx);   /* SET_BUFFERSIZE is sticky */
}

static void reset_host(void)
{
    if (host.writes || host.deletes || !host.file[STATE_FILE_PERMALL]) {
        fz_host_clear(&host);
        host.file[STATE_FILE_PERMALL] = malloc(SEAL_FILE_SIZE);
        FZ_CHECK(host.file[STATE_FILE_PERMALL]);
        memcpy(host.file[STATE_FILE_PERMALL], golden, SEAL_FILE_SIZE);
    }
    host.reads = host.writes = host.deletes = host.logs = 0;
}

static void setup(void)
{
    e = calloc(1, sizeof *e);
    FZ_CHECK(e);
    fz_platform(&e->plat);
    FZ_CHECK(enclave_setup(e) == SVTPM_OK);
    fz_ctx(&e->oc, &host);
    resp = malloc(SVTPM_CHAN_DATA_MAX);
    plain = malloc(SEAL_PAYLOAD_MAX);
    FZ_CHECK(resp && plain);
    /* The golden state: a freshly manufactured TPM of vTPM fz_vtpm_id. */
    uint64_t t0 = now_ns();
    store_name_id(&e->store, fz_vtpm_id);
    e->initialised = true;
    FZ_CHECK(tpm_power_on(&e->tpm, 0) == 0);
    uint64_t t1 = now_ns();
    tpm_power_off(&e->tpm);
    FZ_CHECK(host.file[STATE_FILE_PERMALL] != NULL);
    golden = malloc(SEAL_FILE_SIZE);
    FZ_CHECK(golden);
    memcpy(golden, host.file[STATE_FILE_PERMALL], SEAL_FILE_SIZE);
    /* how long a power-on over existing state takes, for the log */
    reset_enclave();
    reset_host();
    uint64_t t2 = now_ns();
    FZ_CHECK(tpm_power_on(&e->tpm, 0) == 0);
    uint64_t t3 = now_ns();
    reset_enclave();
    reset_host();
    fprintf(stderr, "fuzz_ecall: manufacture %.1f ms, power-on over existing state %.1f ms\n",
            (double)(t1 - t0) / 1e6, (double)(t3 - t2) / 1e6);
}

/* The TPM commands PROCESS may run: quick ones only. */
static bool cheap_command(const uint8_t *p, size_t n)
{
    if (n < 1 + 10)
        return true;            /* refused before libtpms sees it */
    switch (get_be32(p + 1 + 6)) {
    case 0x144:                 /* Startup */
    case 0x145:                 /* Shutdown */
    case 0x17A:                 /* GetCapability */
    case 0x17B:                 /* GetRandom */
    case 0x17C:                 /* GetTestResult */
    case 0x17E:                 /* PCR_Read */
    case 0x181:                 /* ReadClock */
    case 0x182:                 /* PCR_Extend */
    case 0x146:                 /* StirRandom */
        return true;
    default:
        return false;
    }
}

static void check_response(uint32_t call, const uint8_t *req, uint32_t len, svtpm_err err,
                           const uint8_t *r, uint32_t rlen, uint32_t cap)
{
    const struct svtpm_call_desc *d = abi_ecall(call);
    FZ_CHECK(err < SVTPM_E__COUNT);
    FZ_CHECK(rlen <= cap);
    if (err) {
        FZ_CHECK(rlen == 0);
        return;
    }
    FZ_CHECK(d != NULL && len <= d->req_max && rlen <= d->resp_max);
    switch (call) {
    case ECALL_PING:
        FZ_CHECK(rlen == len && memcmp(r, req, len) == 0);
        break;
    case ECALL_INIT:
        FZ_CHECK(rlen == INIT_RESP_LEN);
        FZ_CHECK(memcmp(r + 1, e->plat.id.mrenclave, 32) == 0);
        FZ_CHECK(memcmp(r + 33, e->plat.id.mrsigner, 32) == 0);
        break;
    case ECALL_POWER_ON:
    case ECALL_SET_BUFFERSIZE:
        FZ_CHECK(rlen == 12);
        break;
    case ECALL_EST_GET:
        FZ_CHECK(rlen == 5 && r[4] <= 1);
        break;
    case ECALL_EST_RESET:
    case ECALL_HASH_START:
    case ECALL_HASH_DATA:
    case ECALL_HASH_END:
    case ECALL_STORE_VOLATILE:
    case ECALL_SET_STATEBLOB:
        FZ_CHECK(rlen == 4);
        break;
    case ECALL_STATE_INFO:
        FZ_CHECK(rlen == STATE_INFO_RESP_LEN && r[0] <= 1);
        break;
    case ECALL_PROCESS:
        FZ_CHECK(rlen >= 10 && get_be32(r + 2) == rlen);
        break;
    case ECALL_GET_STATEBLOB: {
        FZ_CHECK(rlen >= 4);
        if (get_be32(r) != 0) {
            FZ_CHECK(rlen == 4);
            break;
        }
        struct seal_hdr h;
        uint32_t plen;
        FZ_CHECK(seal_open(&e->plat, r + 4, rlen - 4, &h, plain, &plen) == SVTPM_OK);
        FZ_CHECK(seal_rec_len(plen) == rlen - 4);
        uint32_t type = get_be32(req);
        FZ_CHECK(h.kind == (type == 1 ? SEAL_KIND_MIG_PERMALL : SEAL_KIND_MIG_VOLATILE));
        FZ_CHECK(memcmp(h.vtpm_id, e->store.vtpm_id, 16) == 0);
        break;
    }
    default:
        break;
    }
}

/* FZ_HISTORY_DIR=dir: keep the last HIST inputs and write them there (000 =
 * the last) if the process dies. For crashes that need state left behind by
 * earlier runs: libtpms is process-global, and reset_libtpms() clears what we
 * know of, but a crash that only reproduces after other inputs needs this. */
#define HIST 256
static uint8_t *hist[HIST];
static size_t hist_len[HIST];
static unsigned hist_n;
static const char *hist_dir;
void __sanitizer_set_death_callback(void (*cb)(void));
static void dump_hist(void)
{
    for (unsigned i = 0; i < HIST && i < hist_n; i++) {
        unsigned k = (hist_n - 1 - i) % HIST;
        char path[4096];
        snprintf(path, sizeof path, "%s/%03u", hist_dir, i);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(hist[k], 1, hist_len[k], f);
            fclose(f);
        }
    }
}

static void remember(const uint8_t *data, size_t size)
{
    unsigned k = hist_n++ % HIST;
    free(hist[k]);
    hist[k] = malloc(size ? size : 1);
    FZ_CHECK(hist[k]);
    memcpy(hist[k], data, size);
    hist_len[k] = size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!e) {
        setup();
        hist_dir = getenv("FZ_HISTORY_DIR");
        if (hist_dir)
            __sanitizer_set_death_callback(dump_hist);
    }
    if (hist_dir)
        remember(data, size);
    if (size < 1)
        return 0;
    reset_enclave();
    reset_host();
    uint8_t flags = data[0];
    bool empty_perm = false;
    static int no_filter = -1;
    if (no_filter < 0)
        no_filter = getenv("FZ_NO_KNOWN_BUG_FILTER") != NULL;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    uint32_t rlen;
    if (!(flags & FZ_EC_NO_AUTO_INIT)) {
        uint8_t init[INIT_REQ_LEN] = { 0 };
        FZ_CHECK(enclave_dispatch(e, ECALL_INIT, init, sizeof init, resp, SVTPM_CHAN_DATA_MAX, &rlen) ==
                 SVTPM_OK);
    }
    for (int i = 0; i < MAX_CALLS && left >= 3; i++) {
        uint32_t call = p[0];
        size_t len = get_be16(p + 1);
        p += 3;
        left -= 3;
        if (len > left)
            len = left;
        const uint8_t *payload = p;
        p += len;
        left -= len;
        if ((call == ECALL_POWER_ON || call == ECALL_PROCESS) && !(flags & FZ_EC_POWER))
            continue;
        if (call == ECALL_PROCESS && !cheap_command(payload, len))
            continue;
        /* (After an empty permanent SET_STATEBLOB libtpms 0.9.2 dereferences
         * NULL on a volatile state; svtpm refuses that sequence since
         * crashes/ecall/empty_permanent_*, which the fuzzer now reaches.) */
        (void)no_filter;
        uint8_t *req = malloc(len ? len : 1);     /* exact size, as serve_one's copy */
        FZ_CHECK(req);
        memcpy(req, payload, len);
        /* The dispatcher must keep to the cap it is given (serve_one always
         * gives the whole shared area). */
        uint32_t cap = SVTPM_CHAN_DATA_MAX;
        uint8_t *out = resp;
        if (flags & FZ_EC_SMALL_CAP) {
            cap = 1 + 4u * (flags >> 3);
            out = malloc(cap);          /* exact size: ASan sees overruns */
            FZ_CHECK(out);
        }
        cur_call = call;
        svtpm_err err = enclave_dispatch(e, call, req, (uint32_t)len, out, cap, &rlen);
        cur_call = 0;
        if (getenv("FZ_VERBOSE"))
            fprintf(stderr, "ecall %u len %zu: %s, %u bytes%s%08x\n", call, len, svtpm_strerror(err), rlen,
                    rlen >= 4 ? ", first word " : "", rlen >= 4 ? get_be32(out) : 0);
        check_response(call, req, (uint32_t)len, err, out, rlen, cap);
        if (call == ECALL_SET_STATEBLOB && !err && len == 4 && get_be32(req) == 1 && get_be32(out) == 0)
            empty_perm = true;
        if (call == ECALL_POWER_ON)
            empty_perm = false;        /* TPMLIB_MainInit consumed the cached blobs */
        if (out != resp)
            free(out);
        free(req);
    }
    /* leave libtpms powered off and its cached blobs consumed */
    reset_enclave();
    return 0;
}
