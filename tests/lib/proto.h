/* Helpers for the protocol tests (tests/proto/test_*.c): start build/svtpm (or
 * Debian's swtpm, the reference) as a child process, talk to its control and
 * data channels directly, and always clean up.
 *
 * Every test binary includes this header; the helpers are in
 *   proto_io.c    bytes, hex, time, what the test says and expects
 *   proto_sock.c  connecting, writing and bounded reading on sockets
 *   proto_env.c   the environment, the temporary directory, process cleanup
 *   proto_vtpm.c  a server: start, stop, liveness, its log
 *   proto_chan.c  the control and data channels, the TPM commands used
 * Everything here fails the current cmocka test on a broken expectation (the
 * helpers use cmocka's assertions), and every process started is killed at
 * exit even when a test fails half way.
 *
 * Environment:
 *   BUILD        build directory of the svtpm under test (default "build"),
 *                relative to the repository top
 *   SVTPM_TOP    repository top (default: derived from this binary's path,
 *                BUILD/tests/proto/test_x)
 *   SWTPM_REF    the reference swtpm (default /usr/bin/swtpm; "none" or a
 *                missing file disables the side-by-side comparisons)
 *   PT_KEEP=1    keep the temporary directory (its path is printed)
 *   PT_VERBOSE=1 print every request and reply in hex
 *
 * Bounds: every wait is bounded (PT_REPLY_MS for a reply, PT_START_MS for a
 * start), and the bounds are generous so that an ASan build passes. */
#ifndef TESTS_PROTO_H
#define TESTS_PROTO_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PT_REPLY_MS   20000   /* one reply (generous: ASan, a loaded machine) */
#define PT_START_MS   30000   /* a server start until it answers GET_CAPABILITY */
#define PT_EXIT_MS    15000   /* a graceful exit */
#define PT_MAX_PROCS  32

/* ------------------------------------------------------------------ */
/* control channel codes and results (swtpm-interface.md §1.2, §1.4)   */

enum {
    PT_GET_CAPABILITY = 0x01, PT_INIT, PT_SHUTDOWN, PT_GET_TPMESTABLISHED,
    PT_SET_LOCALITY, PT_HASH_START, PT_HASH_DATA, PT_HASH_END, PT_CANCEL_TPM_CMD,
    PT_STORE_VOLATILE, PT_RESET_TPMESTABLISHED, PT_GET_STATEBLOB, PT_SET_STATEBLOB,
    PT_STOP, PT_GET_CONFIG, PT_SET_DATAFD, PT_SET_BUFFERSIZE, PT_GET_INFO,
    PT_LOCK_STORAGE,
};
#define PT_RES_BAD_PARAMETER 0x03u
#define PT_RES_FAIL          0x09u
#define PT_RES_BAD_ORDINAL   0x0Au
#define PT_RES_IOERROR       0x1Fu
#define PT_RES_BAD_LOCALITY  0x3Du
#define PT_RES_RETRY         0x800u
#define PT_QEMU_CAPS         0x348Fu

/* TPM 2.0 response codes */
#define PT_RC_SUCCESS    0x000u
#define PT_RC_INITIALIZE 0x100u
#define PT_RC_FAILURE    0x101u
#define PT_RC_LOCALITY   0x907u   /* RC_WARN + 7 */

static const uint8_t PT_RC_FAILURE_RESP[10] = { 0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0x01, 0x01 };

/* ------------------------------------------------------------------ */
/* bytes, time, logging (proto_io.c)                                   */

void pt_put32(uint8_t *p, uint32_t v);
void pt_put16(uint8_t *p, uint16_t v);
uint32_t pt_get32(const uint8_t *p);
uint16_t pt_get16(const uint8_t *p);
/* Hex of at most 64 bytes (then "... (N bytes)"), in a rotating static buffer. */
const char *pt_hex(const void *p, size_t n);

int64_t pt_now_ms(void);
void pt_sleep_ms(int ms);

/* What the test checks, printed before it checks it. */
__attribute__((format(printf, 1, 2))) void pt_say(const char *fmt, ...);
/* Prints who, dir and the bytes in hex when PT_VERBOSE is set. */
void pt_trace(const char *who, const char *dir, const void *p, size_t n);

/* Fails the test if got != want, printing both. */
#define pt_expect_bytes(what, got, glen, want, wlen) \
    pt_expect_bytes_(what, got, glen, want, wlen, __FILE__, __LINE__)
void pt_expect_bytes_(const char *what, const void *got, size_t glen, const void *want,
                      size_t wlen, const char *file, int line);

/* Records a finding without failing (for information only). */
__attribute__((format(printf, 1, 2))) void pt_note(const char *fmt, ...);

/* svtpm's reply must equal swtpm's (byte for byte). */
#define pt_same_as_ref(what, sv, svlen, sw, swlen) pt_same_as_ref_(what, sv, svlen, sw, swlen, __FILE__, __LINE__)
void pt_same_as_ref_(const char *what, const void *sv, size_t svlen, const void *sw, size_t swlen,
                     const char *file, int line);

/* ------------------------------------------------------------------ */
/* the environment: top, build, temp dir, processes (proto_env.c)      */

/* Call once from main(): finds the repository top, makes the temporary
 * directory, arranges cleanup at exit and on SIGTERM/SIGINT/SIGHUP; exits
 * 77 (skip) when the svtpm binary is not built. */
void pt_init(void);
/* The temporary directory pt_init made (removed at exit unless PT_KEEP). */
const char *pt_temp_dir(void);
/* $SVTPM_TOP/$BUILD/svtpm (BUILD may also be absolute) */
void pt_svtpm_bin(char *out, size_t cap);
/* The reference swtpm, or NULL when comparisons are off. */
const char *pt_ref_bin(void);
/* A TCP port on the loopback that was free a moment ago. */
int pt_free_port(void);

/* Servers started (process group leaders), killed at teardown and exit. */
void pt_track(pid_t pid);
void pt_untrack(pid_t pid);
/* cmocka teardown: nothing a test started outlives it. */
int pt_teardown(void **state);

/* ------------------------------------------------------------------ */
/* sockets (proto_sock.c)                                              */

/* A connected stream socket, or -1 (errno set). */
int pt_connect_unix(const char *path);
int pt_connect_tcp(int port);
/* Writes all n bytes (no SIGPIPE); fails the test if it cannot. */
void pt_write_all(int fd, const void *p, size_t n);
/* One poll + one read(): > 0 bytes, 0 EOF (or connection reset), -1 timeout. */
ssize_t pt_read_once(int fd, void *buf, size_t cap, int ms);
/* Reads until `want` bytes are in (then also whatever was already sent right
 * behind them), EOF, or the deadline. Returns the byte count; *eof says
 * whether the peer closed. */
size_t pt_read_min(int fd, uint8_t *buf, size_t cap, size_t want, int ms, bool *eof);
/* Waits for the peer to close. Returns true if it closed within ms; *bytes
 * counts what arrived before the close. */
bool pt_wait_closed(int fd, int ms, size_t *bytes);
/* True if the connection is still open and silent after ms. */
bool pt_still_open(int fd, int ms);

/* ------------------------------------------------------------------ */
/* a server: svtpm or the reference swtpm (proto_vtpm.c)               */

struct vtpm_opts {
    bool ref;              /* Debian's swtpm instead of svtpm */
    const char *server;    /* NULL (data only through SET_DATAFD), "tcp" or "unix" */
    bool disconnect;       /* --server ...,disconnect */
    bool ctrl_tcp;         /* --ctrl type=tcp,port= instead of unixio */
    bool terminate;        /* --terminate */
    const char *flags;     /* --flags VALUE */
    const char *locality;  /* --locality VALUE */
    const char *dir;       /* existing state dir; NULL: a new empty one */
};

struct vtpm {
    const char *name;      /* "svtpm" / "swtpm" */
    bool ref;
    pid_t pid;
    bool exited;
    int wstatus;
    char dir[512];
    char ctrl[600];        /* unixio control socket path ("" for TCP) */
    char srv[600];         /* unixio data socket path */
    char log[600];
    char err[600];         /* stdout+stderr of the process */
    int port;              /* TCP data port */
    int ctrl_port;         /* TCP control port */
};

/* Starts a server and waits until it answers GET_CAPABILITY. Fails the test
 * (with the server's log) if it does not. */
void vtpm_start(struct vtpm *v, const struct vtpm_opts *o);
/* Graceful stop (SIGTERM), then SIGKILL to its group after PT_EXIT_MS.
 * A SIGTERM must end the server with exit status 0 (as swtpm), and the
 * server's stderr must hold no sanitizer report. */
void vtpm_stop(struct vtpm *v);
/* Prints the tails of the server's log and stderr. */
void vtpm_dump(const struct vtpm *v);
/* Has it exited? (reaps it) */
bool vtpm_exited(struct vtpm *v);
/* Waits up to ms for the process to exit. */
bool vtpm_wait_exit(struct vtpm *v, int ms);
/* Fails the test if the server's stderr holds a sanitizer report. */
void vtpm_check_sanitizer(struct vtpm *v);
/* Fails the test unless the server is still alive. */
void vtpm_assert_alive(struct vtpm *v);
/* A new control connection, or -1 (errno set). */
int vtpm_ctrl(struct vtpm *v);
/* A new data connection (TCP or UnixIO server); fails the test if none. */
int vtpm_data(struct vtpm *v);

/* ------------------------------------------------------------------ */
/* control channel (proto_chan.c)                                      */

/* Sends req on fd, reads at least `want` reply bytes (and whatever came with
 * them). Returns the count. */
size_t ctrl_xfer_fd(struct vtpm *v, int fd, const void *req, size_t len, uint8_t *resp,
                    size_t cap, size_t want);
/* The same on a new connection, closed afterwards. */
size_t ctrl_xfer(struct vtpm *v, const void *req, size_t len, uint8_t *resp, size_t cap,
                 size_t want);
/* A command of code + u32 payload words (on fd, or on a new connection when
 * fd < 0); returns the u32 result of a reply that must be exactly `rlen`
 * bytes long, copied to out when not NULL. */
uint32_t ctrl_cmd_fd(struct vtpm *v, int fd, uint32_t code, int nargs, const uint32_t *args,
                     size_t rlen, uint8_t *out);
/* GET_CAPABILITY on a new connection must answer 8 bytes, first 4 zero;
 * returns the capability word. */
uint32_t ctrl_alive(struct vtpm *v);
/* SET_DATAFD with `pass` (or no fd when pass < 0) as SCM_RIGHTS on the same
 * sendmsg as the 4 command bytes, as QEMU does. Returns the 4-byte result. */
uint32_t ctrl_set_datafd(struct vtpm *v, int ctrl_fd, int pass);

/* ------------------------------------------------------------------ */
/* data channel (proto_chan.c)                                         */

/* Sends a raw TPM command, reads one framed response (10-byte header, then
 * size-10). Returns the response length (>= 10). */
size_t tpm_xfer(struct vtpm *v, int fd, const void *cmd, size_t len, uint8_t *resp, size_t cap);
/* The response code of a response. */
uint32_t tpm_rc(const uint8_t *resp);
/* A TPM command that must succeed (TPM_RC_SUCCESS). */
size_t tpm_ok(struct vtpm *v, int fd, const char *what, const void *cmd, size_t len, uint8_t *resp,
              size_t cap);
/* The same with the 9-byte TCG TPM_SEND_COMMAND prefix: returns the TPM
 * response (without the u32 length prefix and the u32 0 trailer, which are
 * checked). */
size_t tpm_xfer_prefixed(struct vtpm *v, int fd, uint8_t locality, const void *cmd, size_t len,
                         uint8_t *resp, size_t cap);

/* ------------------------------------------------------------------ */
/* TPM 2.0 commands used by the tests (proto_chan.c)                   */

static const uint8_t TPM_READCLOCK[10] = { 0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0x01, 0x81 };
static const uint8_t TPM_STARTUP_CLEAR[12] = { 0x80, 0x01, 0, 0, 0, 0x0C, 0, 0, 0x01, 0x44, 0, 0 };
static const uint8_t TPM_SELFTEST[11] = { 0x80, 0x01, 0, 0, 0, 0x0B, 0, 0, 0x01, 0x43, 0x01 };
static const uint8_t TPM_GETRANDOM8[12] = { 0x80, 0x01, 0, 0, 0, 0x0C, 0, 0, 0x01, 0x7B, 0, 8 };
static const uint8_t TPM_SUCCESS10[10] = { 0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0, 0 };

/* Each builds the command in c (authorised with an empty password where it
 * needs one) and returns its length. */
/* TPM2_PCR_Extend(pcr, SHA-256 digest) */
size_t tpm_cmd_pcr_extend(uint8_t *c, uint32_t pcr, const uint8_t digest[32]);
/* TPM2_PCR_Read(SHA-256, one PCR < 24) */
size_t tpm_cmd_pcr_read(uint8_t *c, uint32_t pcr);
/* TPM2_NV_DefineSpace(owner, index, size) with owner read/write */
size_t tpm_cmd_nv_define(uint8_t *c, uint32_t index, uint16_t size);
/* TPM2_NV_Write(owner, index, data) at offset 0 */
size_t tpm_cmd_nv_write(uint8_t *c, uint32_t index, const uint8_t *data, uint16_t len);
/* TPM2_NV_Read(owner, index, len) at offset 0 */
size_t tpm_cmd_nv_read(uint8_t *c, uint32_t index, uint16_t len);
/* Reads one SHA-256 PCR through fd into out[32]. */
void tpm_pcr_value(struct vtpm *v, int fd, uint32_t pcr, uint8_t out[32]);

#endif
