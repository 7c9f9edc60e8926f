/* Helpers for the protocol tests (tests/proto/test_*.c): start build/svtpm (or
 * Debian's swtpm, the reference) as a child process, talk to its control and
 * data channels directly, and always clean up.
 *
 * Header-only: every test binary includes it once. Everything here fails the
 * current cmocka test on a broken expectation (the helpers use cmocka's
 * assertions), and every process started is killed at exit even when a test
 * fails half way.
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
#include <ftw.h>
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

#define PU static __attribute__((unused))

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
/* bytes                                                               */

PU void pt_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
PU void pt_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
PU uint32_t pt_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
PU uint16_t pt_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Hex of at most 64 bytes (then "... (N bytes)"), in a rotating static buffer. */
PU const char *pt_hex(const void *p, size_t n)
{
    static char bufs[8][64 * 3 + 48];
    static int k;
    char *b = bufs[k++ & 7];
    const uint8_t *u = p;
    size_t shown = n > 64 ? 64 : n, o = 0;
    b[0] = 0;
    for (size_t i = 0; i < shown; i++)
        o += (size_t)snprintf(b + o, sizeof bufs[0] - o, "%s%02X", i ? " " : "", u[i]);
    if (n > shown)
        snprintf(b + o, sizeof bufs[0] - o, " ... (%zu bytes)", n);
    else if (n == 0)
        snprintf(b, sizeof bufs[0], "(nothing)");
    return b;
}

/* ------------------------------------------------------------------ */
/* time, logging                                                       */

PU int64_t pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PU void pt_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int pt_verbose = -1;

/* What the test checks, printed before it checks it. */
PU __attribute__((format(printf, 1, 2))) void pt_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  - ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

PU void pt_trace(const char *who, const char *dir, const void *p, size_t n)
{
    if (pt_verbose < 0)
        pt_verbose = getenv("PT_VERBOSE") && atoi(getenv("PT_VERBOSE")) > 0;
    if (pt_verbose) {
        printf("      %s %s %s\n", who, dir, pt_hex(p, n));
        fflush(stdout);
    }
}

/* Fails the test if got != want, printing both. */
#define pt_expect_bytes(what, got, glen, want, wlen) \
    pt_expect_bytes_(what, got, glen, want, wlen, __FILE__, __LINE__)
PU void pt_expect_bytes_(const char *what, const void *got, size_t glen, const void *want,
                         size_t wlen, const char *file, int line)
{
    if (glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0))
        return;
    print_error("%s:%d: %s:\n    expected %s\n    actual   %s\n", file, line, what,
                pt_hex(want, wlen), pt_hex(got, glen));
    _fail(file, line);
}

/* Records a finding without failing (for information only). */
PU __attribute__((format(printf, 1, 2))) void pt_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("    NOTE: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* the environment: top, build, temp dir, processes                    */

static char pt_top_dir[PATH_MAX];
static char pt_base[256];
static pid_t pt_procs[PT_MAX_PROCS];
static bool pt_inited;

PU int pt_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

PU void pt_track(pid_t pid)
{
    for (int i = 0; i < PT_MAX_PROCS; i++)
        if (pt_procs[i] == 0) {
            pt_procs[i] = pid;
            return;
        }
}

PU void pt_untrack(pid_t pid)
{
    for (int i = 0; i < PT_MAX_PROCS; i++)
        if (pt_procs[i] == pid)
            pt_procs[i] = 0;
}

/* Kills (SIGKILL, whole process group: the server and its enclave) every
 * server still running. */
PU void pt_kill_all(void)
{
    for (int i = 0; i < PT_MAX_PROCS; i++) {
        if (pt_procs[i] > 0) {
            kill(-pt_procs[i], SIGKILL);
            kill(pt_procs[i], SIGKILL);
            waitpid(pt_procs[i], NULL, 0);
            pt_procs[i] = 0;
        }
    }
}

/* cmocka teardown: nothing a test started outlives it. */
PU int pt_teardown(void **state)
{
    (void)state;
    pt_kill_all();
    return 0;
}

/* pt_kill_all, and removes the temporary directory. */
PU void pt_cleanup(void)
{
    pt_kill_all();
    if (pt_base[0]) {
        const char *keep = getenv("PT_KEEP");
        if (keep && atoi(keep) > 0)
            printf("kept %s\n", pt_base);
        else
            nftw(pt_base, pt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        pt_base[0] = 0;
    }
}

PU void pt_on_signal(int sig)
{
    pt_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

PU const char *pt_build(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

/* $SVTPM_TOP/$BUILD/svtpm (BUILD may also be absolute) */
PU void pt_svtpm_bin(char *out, size_t cap)
{
    const char *b = pt_build();
    if (b[0] == '/')
        snprintf(out, cap, "%s/svtpm", b);
    else
        snprintf(out, cap, "%s/%s/svtpm", pt_top_dir, b);
}

/* Call once from main(). */
PU void pt_init(void)
{
    if (pt_inited)
        return;
    pt_inited = true;
    signal(SIGPIPE, SIG_IGN);
    const char *top = getenv("SVTPM_TOP");
    if (top && *top) {
        snprintf(pt_top_dir, sizeof pt_top_dir, "%s", top);
    } else {
        /* BUILD/tests/proto/test_x: four levels up is the top */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) {
            fprintf(stderr, "cannot find the repository top: set SVTPM_TOP\n");
            exit(1);
        }
        exe[n] = 0;
        for (int i = 0; i < 4; i++) {
            char *s = strrchr(exe, '/');
            if (s)
                *s = 0;
        }
        snprintf(pt_top_dir, sizeof pt_top_dir, "%s", exe);
    }
    snprintf(pt_base, sizeof pt_base, "/tmp/svtpm-proto-XXXXXX");
    if (!mkdtemp(pt_base)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(pt_cleanup);
    signal(SIGTERM, pt_on_signal);
    signal(SIGINT, pt_on_signal);
    signal(SIGHUP, pt_on_signal);
    char bin[PATH_MAX + 64];
    pt_svtpm_bin(bin, sizeof bin);
    if (access(bin, X_OK) != 0) {
        printf("svtpm binary %s not found: run make first\n", bin);
        exit(77);
    }
    printf("svtpm under test: %s; temp dir %s\n", bin, pt_base);
    fflush(stdout);
}

/* The reference swtpm, or NULL when comparisons are off. */
PU const char *pt_ref_bin(void)
{
    const char *r = getenv("SWTPM_REF");
    if (!r || !*r)
        r = "/usr/bin/swtpm";
    if (!strcmp(r, "none") || access(r, X_OK) != 0)
        return NULL;
    return r;
}

PU int pt_free_port(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        close(fd);
        int p = ntohs(a.sin_port);
        if (p > 1024)
            return p;
    }
    fail_msg("no free TCP port");
    return -1;
}

/* ------------------------------------------------------------------ */
/* sockets                                                             */

PU int pt_connect_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t l = strlen(path);
    if (l >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, l + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

PU int pt_connect_tcp(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

PU void pt_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *u = p;
    while (n > 0) {
        ssize_t w = send(fd, u, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail_msg("write of %zu bytes failed: %s", n, w < 0 ? strerror(errno) : "0 written");
        u += w;
        n -= (size_t)w;
    }
}

/* One poll + one read(): > 0 bytes, 0 EOF (or connection reset), -1 timeout. */
PU ssize_t pt_read_once(int fd, void *buf, size_t cap, int ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    int64_t end = pt_now_ms() + ms;
    for (;;) {
        int left = (int)(end - pt_now_ms());
        if (left < 0)
            left = 0;
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n < 0)
            return 0;   /* ECONNRESET & co: the peer is gone */
        return n;
    }
}

/* Reads until `want` bytes are in (then also whatever was already sent right
 * behind them), EOF, or the deadline. Returns the byte count; *eof says
 * whether the peer closed. */
PU size_t pt_read_min(int fd, uint8_t *buf, size_t cap, size_t want, int ms, bool *eof)
{
    size_t got = 0;
    int64_t end = pt_now_ms() + ms;
    bool e = false;
    while (got < want) {
        int left = (int)(end - pt_now_ms());
        if (left <= 0)
            break;
        ssize_t n = pt_read_once(fd, buf + got, cap - got, left);
        if (n == 0) {
            e = true;
            break;
        }
        if (n < 0)
            break;
        got += (size_t)n;
    }
    /* a reply is written with one syscall: anything more is already here */
    while (!e && got < cap) {
        ssize_t n = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else {
            if (n == 0)
                e = true;
            break;
        }
    }
    if (eof)
        *eof = e;
    return got;
}

/* Waits for the peer to close. Returns true if it closed within ms; *bytes
 * counts what arrived before the close. */
PU bool pt_wait_closed(int fd, int ms, size_t *bytes)
{
    uint8_t b[4096];
    size_t n = 0;
    int64_t end = pt_now_ms() + ms;
    bool closed = false;
    for (;;) {
        int left = (int)(end - pt_now_ms());
        if (left <= 0)
            break;
        ssize_t r = pt_read_once(fd, b, sizeof b, left);
        if (r == 0) {
            closed = true;
            break;
        }
        if (r < 0)
            break;
        n += (size_t)r;
    }
    if (bytes)
        *bytes = n;
    return closed;
}

/* True if the connection is still open and silent after ms. */
PU bool pt_still_open(int fd, int ms)
{
    uint8_t b[64];
    ssize_t r = pt_read_once(fd, b, sizeof b, ms);
    return r < 0;
}

/* ------------------------------------------------------------------ */
/* a server: svtpm or the reference swtpm                              */

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

PU void pt_print_file_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *all[400] = { 0 };
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        free(all[n % 400]);
        all[n % 400] = strdup(line);
        n++;
    }
    fclose(f);
    int from = n > lines ? n - lines : 0;
    for (int i = from; i < n; i++)
        fprintf(stderr, "      | %s", all[i % 400] ? all[i % 400] : "\n");
    for (int i = 0; i < 400; i++)
        free(all[i]);
}

PU void vtpm_dump(const struct vtpm *v)
{
    fprintf(stderr, "    %s (pid %d) log %s:\n", v->name, (int)v->pid, v->log);
    pt_print_file_tail(v->log, 30);
    fprintf(stderr, "    %s stderr:\n", v->name);
    pt_print_file_tail(v->err, 10);
}

/* Has it exited? (reaps it) */
PU bool vtpm_exited(struct vtpm *v)
{
    if (v->exited || v->pid <= 0)
        return true;
    int st;
    pid_t r = waitpid(v->pid, &st, WNOHANG);
    if (r == v->pid) {
        v->exited = true;
        v->wstatus = st;
        pt_untrack(v->pid);
        /* anything left of its group (the enclave) goes too */
        kill(-v->pid, SIGKILL);
        return true;
    }
    return false;
}

/* Waits up to ms for the process to exit. */
PU bool vtpm_wait_exit(struct vtpm *v, int ms)
{
    int64_t end = pt_now_ms() + ms;
    while (!vtpm_exited(v)) {
        if (pt_now_ms() > end)
            return false;
        pt_sleep_ms(10);
    }
    return true;
}

PU int vtpm_ctrl(struct vtpm *v)
{
    return v->ctrl[0] ? pt_connect_unix(v->ctrl) : pt_connect_tcp(v->ctrl_port);
}

PU int vtpm_data(struct vtpm *v)
{
    int fd = -1;
    if (v->srv[0])
        fd = pt_connect_unix(v->srv);
    else if (v->port)
        fd = pt_connect_tcp(v->port);
    if (fd < 0)
        fail_msg("%s: cannot connect to the data channel: %s", v->name, strerror(errno));
    return fd;
}

/* Starts a server and waits until it answers GET_CAPABILITY. Fails the test
 * (with the server's log) if it does not. */
PU void vtpm_start(struct vtpm *v, const struct vtpm_opts *o)
{
    static int seq;
    memset(v, 0, sizeof *v);
    v->ref = o->ref;
    v->name = o->ref ? "swtpm" : "svtpm";
    const char *bin;
    char svbin[PATH_MAX + 64];
    if (o->ref) {
        bin = pt_ref_bin();
        assert_non_null(bin);
    } else {
        pt_svtpm_bin(svbin, sizeof svbin);
        bin = svbin;
    }
    char rundir[400];
    snprintf(rundir, sizeof rundir, "%s/%s%d", pt_base, v->name, ++seq);
    if (mkdir(rundir, 0700) != 0)
        fail_msg("mkdir %s: %s", rundir, strerror(errno));
    if (o->dir) {
        snprintf(v->dir, sizeof v->dir, "%s", o->dir);
    } else {
        snprintf(v->dir, sizeof v->dir, "%s/state", rundir);
        mkdir(v->dir, 0700);
    }
    snprintf(v->log, sizeof v->log, "%s/log", rundir);
    snprintf(v->err, sizeof v->err, "%s/stderr", rundir);

    char a_state[700], a_ctrl[700], a_srv[700], a_log[700], a_flags[300];
    const char *argv[24];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "socket";
    argv[n++] = "--tpm2";
    argv[n++] = "--tpmstate";
    snprintf(a_state, sizeof a_state, "dir=%s", v->dir);
    argv[n++] = a_state;
    argv[n++] = "--ctrl";
    if (o->ctrl_tcp) {
        v->ctrl_port = pt_free_port();
        snprintf(a_ctrl, sizeof a_ctrl, "type=tcp,port=%d", v->ctrl_port);
    } else {
        snprintf(v->ctrl, sizeof v->ctrl, "%s/ctrl.sock", rundir);
        snprintf(a_ctrl, sizeof a_ctrl, "type=unixio,path=%s", v->ctrl);
    }
    argv[n++] = a_ctrl;
    if (o->server) {
        argv[n++] = "--server";
        if (!strcmp(o->server, "tcp")) {
            do
                v->port = pt_free_port();
            while (v->port == v->ctrl_port);
            snprintf(a_srv, sizeof a_srv, "type=tcp,port=%d%s", v->port, o->disconnect ? ",disconnect" : "");
        } else {
            snprintf(v->srv, sizeof v->srv, "%s/data.sock", rundir);
            snprintf(a_srv, sizeof a_srv, "type=unixio,path=%s%s", v->srv, o->disconnect ? ",disconnect" : "");
        }
        argv[n++] = a_srv;
    }
    if (o->flags) {
        argv[n++] = "--flags";
        snprintf(a_flags, sizeof a_flags, "%s", o->flags);
        argv[n++] = a_flags;
    }
    if (o->locality) {
        argv[n++] = "--locality";
        argv[n++] = o->locality;
    }
    if (o->terminate)
        argv[n++] = "--terminate";
    argv[n++] = "--log";
    snprintf(a_log, sizeof a_log, "file=%s,level=20", v->log);
    argv[n++] = a_log;
    argv[n] = NULL;

    char key[400];
    snprintf(key, sizeof key, "%s/platform.key", pt_base);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(v->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        setenv("SVTPM_PLATFORM_KEY", key, 1);
        signal(SIGPIPE, SIG_DFL);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    v->pid = pid;
    pt_track(pid);

    /* ready = answers GET_CAPABILITY */
    int64_t end = pt_now_ms() + PT_START_MS;
    for (;;) {
        if (vtpm_exited(v)) {
            vtpm_dump(v);
            fail_msg("%s exited during start (status 0x%x)", v->name, v->wstatus);
        }
        if (pt_now_ms() > end) {
            vtpm_dump(v);
            fail_msg("%s did not answer within %d ms of its start", v->name, PT_START_MS);
        }
        int fd = vtpm_ctrl(v);
        if (fd < 0) {
            pt_sleep_ms(10);
            continue;
        }
        static const uint8_t cap[4] = { 0, 0, 0, 1 };
        uint8_t r[16];
        pt_write_all(fd, cap, 4);
        size_t got = pt_read_min(fd, r, sizeof r, 8, (int)(end - pt_now_ms()), NULL);
        close(fd);
        if (got == 8)
            break;
        pt_sleep_ms(10);
    }
    /* a TCP data listener is bound before the control socket answers */
}

/* Fails the test if the server's stderr holds a sanitizer report. */
PU void vtpm_check_sanitizer(struct vtpm *v)
{
    FILE *f = fopen(v->err, "r");
    if (!f)
        return;
    char line[1024];
    bool bad = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            bad = true;
    fclose(f);
    if (bad) {
        fprintf(stderr, "    %s stderr (sanitizer report):\n", v->name);
        pt_print_file_tail(v->err, 60);
        fail_msg("%s: sanitizer report in %s", v->name, v->err);
    }
}

/* Graceful stop (SIGTERM), then SIGKILL to its group after PT_EXIT_MS.
 * A SIGTERM must end the server with exit status 0 (as swtpm), and the
 * server's stderr must hold no sanitizer report. */
PU void vtpm_stop(struct vtpm *v)
{
    if (v->pid <= 0)
        return;
    bool termed = false;
    if (!vtpm_exited(v)) {
        kill(v->pid, SIGTERM);
        termed = true;
        if (!vtpm_wait_exit(v, PT_EXIT_MS)) {
            fprintf(stderr, "    %s (pid %d) ignored SIGTERM for %d ms: killed\n", v->name, (int)v->pid,
                    PT_EXIT_MS);
            kill(-v->pid, SIGKILL);
            kill(v->pid, SIGKILL);
            vtpm_wait_exit(v, PT_EXIT_MS);
            termed = false;
            v->pid = 0;
            fail_msg("%s did not exit on SIGTERM", v->name);
        }
    }
    kill(-v->pid, SIGKILL);
    pt_untrack(v->pid);
    v->pid = 0;
    vtpm_check_sanitizer(v);
    if (termed && !(WIFEXITED(v->wstatus) && WEXITSTATUS(v->wstatus) == 0)) {
        vtpm_dump(v);
        fail_msg("%s: exit status 0x%X after SIGTERM (want exit 0)", v->name, v->wstatus);
    }
}

/* Fails the test unless the server is still alive. */
PU void vtpm_assert_alive(struct vtpm *v)
{
    if (vtpm_exited(v)) {
        vtpm_dump(v);
        if (WIFSIGNALED(v->wstatus))
            fail_msg("%s died of signal %d", v->name, WTERMSIG(v->wstatus));
        fail_msg("%s exited with status %d", v->name, WEXITSTATUS(v->wstatus));
    }
}

/* ------------------------------------------------------------------ */
/* control channel                                                     */

/* Sends req on fd, reads at least `want` reply bytes (and whatever came with
 * them). Returns the count. */
PU size_t ctrl_xfer_fd(struct vtpm *v, int fd, const void *req, size_t len, uint8_t *resp,
                       size_t cap, size_t want)
{
    pt_trace(v->name, "ctrl >", req, len);
    pt_write_all(fd, req, len);
    size_t n = pt_read_min(fd, resp, cap, want, PT_REPLY_MS, NULL);
    pt_trace(v->name, "ctrl <", resp, n);
    return n;
}

/* The same on a new connection, closed afterwards. */
PU size_t ctrl_xfer(struct vtpm *v, const void *req, size_t len, uint8_t *resp, size_t cap,
                    size_t want)
{
    int fd = vtpm_ctrl(v);
    if (fd < 0) {
        vtpm_assert_alive(v);
        fail_msg("%s: cannot connect to the control channel: %s", v->name, strerror(errno));
    }
    size_t n = ctrl_xfer_fd(v, fd, req, len, resp, cap, want);
    close(fd);
    return n;
}

/* A command of code + u32 payload words; returns the u32 result of a reply
 * that must be exactly `rlen` bytes long. */
PU uint32_t ctrl_cmd_fd(struct vtpm *v, int fd, uint32_t code, int nargs, const uint32_t *args,
                        size_t rlen, uint8_t *out)
{
    uint8_t req[4 + 4 * 8], resp[4096];
    pt_put32(req, code);
    for (int i = 0; i < nargs; i++)
        pt_put32(req + 4 + 4 * i, args[i]);
    size_t n = fd >= 0 ? ctrl_xfer_fd(v, fd, req, 4 + 4 * (size_t)nargs, resp, sizeof resp, rlen)
                       : ctrl_xfer(v, req, 4 + 4 * (size_t)nargs, resp, sizeof resp, rlen);
    if (n != rlen) {
        vtpm_dump(v);
        fail_msg("%s: control command 0x%02X (%s): expected a %zu-byte reply, got %s", v->name, code,
                 pt_hex(req, 4 + 4 * (size_t)nargs), rlen, pt_hex(resp, n));
    }
    if (out)
        memcpy(out, resp, rlen);
    return pt_get32(resp);
}

/* GET_CAPABILITY on a new connection must answer 8 bytes, first 4 zero. */
PU uint32_t ctrl_alive(struct vtpm *v)
{
    vtpm_assert_alive(v);
    uint8_t r[8];
    uint32_t res = ctrl_cmd_fd(v, -1, PT_GET_CAPABILITY, 0, NULL, 8, r);
    if (res != 0)
        fail_msg("%s: GET_CAPABILITY: first 4 bytes not zero: %s", v->name, pt_hex(r, 8));
    return pt_get32(r + 4);
}

/* SET_DATAFD with `pass` (or no fd when pass < 0) as SCM_RIGHTS on the same
 * sendmsg as the 4 command bytes, as QEMU does. Returns the 4-byte result. */
PU uint32_t ctrl_set_datafd(struct vtpm *v, int ctrl_fd, int pass)
{
    uint8_t code[4] = { 0, 0, 0, PT_SET_DATAFD };
    union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } cm;
    struct iovec iov = { code, 4 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (pass >= 0) {
        memset(&cm, 0, sizeof cm);
        m.msg_control = cm.b;
        m.msg_controllen = sizeof cm.b;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass, sizeof(int));
    }
    pt_trace(v->name, "ctrl >", code, 4);
    if (sendmsg(ctrl_fd, &m, MSG_NOSIGNAL) != 4)
        fail_msg("sendmsg SET_DATAFD: %s", strerror(errno));
    uint8_t r[64];
    size_t n = pt_read_min(ctrl_fd, r, sizeof r, 4, PT_REPLY_MS, NULL);
    pt_trace(v->name, "ctrl <", r, n);
    if (n != 4)
        fail_msg("%s: SET_DATAFD: expected a 4-byte reply, got %s", v->name, pt_hex(r, n));
    return pt_get32(r);
}

/* ------------------------------------------------------------------ */
/* data channel                                                        */

/* Sends a raw TPM command, reads one framed response (10-byte header, then
 * size-10). Returns the response length (>= 10). */
PU size_t tpm_xfer(struct vtpm *v, int fd, const void *cmd, size_t len, uint8_t *resp, size_t cap)
{
    pt_trace(v->name, "data >", cmd, len);
    pt_write_all(fd, cmd, len);
    bool eof;
    size_t n = pt_read_min(fd, resp, cap, 10, PT_REPLY_MS, &eof);
    if (n < 10) {
        vtpm_dump(v);
        fail_msg("%s: command %s: short response %s%s", v->name, pt_hex(cmd, len), pt_hex(resp, n),
                 eof ? " (connection closed)" : " (timeout)");
    }
    uint32_t size = pt_get32(resp + 2);
    if (size < 10 || size > cap)
        fail_msg("%s: response size field %u out of range: %s", v->name, size, pt_hex(resp, n));
    if (n < size)
        n += pt_read_min(fd, resp + n, cap - n, size - n, PT_REPLY_MS, NULL);
    pt_trace(v->name, "data <", resp, n);
    if (n != size)
        fail_msg("%s: response size field %u but %zu bytes arrived: %s", v->name, size, n, pt_hex(resp, n));
    return n;
}

PU uint32_t tpm_rc(const uint8_t *resp) { return pt_get32(resp + 6); }

/* A TPM command that must succeed (TPM_RC_SUCCESS). */
PU size_t tpm_ok(struct vtpm *v, int fd, const char *what, const void *cmd, size_t len, uint8_t *resp,
                 size_t cap)
{
    size_t n = tpm_xfer(v, fd, cmd, len, resp, cap);
    if (tpm_rc(resp) != 0)
        fail_msg("%s: %s failed: TPM rc 0x%X (response %s)", v->name, what, tpm_rc(resp), pt_hex(resp, n));
    return n;
}

/* The same with the 9-byte TCG TPM_SEND_COMMAND prefix: returns the TPM
 * response (without the u32 length prefix and the u32 0 trailer, which are
 * checked). */
PU size_t tpm_xfer_prefixed(struct vtpm *v, int fd, uint8_t locality, const void *cmd, size_t len,
                            uint8_t *resp, size_t cap)
{
    uint8_t buf[4200], raw[4200];
    assert_true(len + 9 <= sizeof buf);
    pt_put32(buf, 8);
    buf[4] = locality;
    pt_put32(buf + 5, (uint32_t)len);
    memcpy(buf + 9, cmd, len);
    pt_trace(v->name, "data >", buf, len + 9);
    pt_write_all(fd, buf, len + 9);
    size_t n = pt_read_min(fd, raw, sizeof raw, 4 + 10, PT_REPLY_MS, NULL);
    if (n < 14)
        fail_msg("%s: prefixed command: short response %s", v->name, pt_hex(raw, n));
    uint32_t l = pt_get32(raw);
    if (l < 10 || l + 8 > sizeof raw || l > cap)
        fail_msg("%s: prefixed response length %u out of range: %s", v->name, l, pt_hex(raw, n));
    if (n < l + 8)
        n += pt_read_min(fd, raw + n, sizeof raw - n, l + 8 - n, PT_REPLY_MS, NULL);
    pt_trace(v->name, "data <", raw, n);
    if (n != l + 8)
        fail_msg("%s: prefixed response: length prefix %u, expected %u bytes in all, got %zu: %s",
                 v->name, l, l + 8, n, pt_hex(raw, n));
    if (pt_get32(raw + 4 + 2) != l)
        fail_msg("%s: prefixed response: prefix %u != TPM responseSize %u", v->name, l, pt_get32(raw + 6));
    if (pt_get32(raw + 4 + l) != 0)
        fail_msg("%s: prefixed response: trailer is not u32 0: %s", v->name, pt_hex(raw + 4 + l, 4));
    memcpy(resp, raw + 4, l);
    return l;
}

/* ------------------------------------------------------------------ */
/* TPM 2.0 commands used by the tests                                  */

static const uint8_t TPM_READCLOCK[10] = { 0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0x01, 0x81 };
static const uint8_t TPM_STARTUP_CLEAR[12] = { 0x80, 0x01, 0, 0, 0, 0x0C, 0, 0, 0x01, 0x44, 0, 0 };
static const uint8_t TPM_SELFTEST[11] = { 0x80, 0x01, 0, 0, 0, 0x0B, 0, 0, 0x01, 0x43, 0x01 };
static const uint8_t TPM_GETRANDOM8[12] = { 0x80, 0x01, 0, 0, 0, 0x0C, 0, 0, 0x01, 0x7B, 0, 8 };
static const uint8_t TPM_SUCCESS10[10] = { 0x80, 0x01, 0, 0, 0, 0x0A, 0, 0, 0, 0 };

/* password authorization area for an empty auth: TPM_RS_PW, nonce 0, attrs 0, hmac 0 */
PU size_t pt_pw_auth(uint8_t *p)
{
    pt_put32(p, 9);
    pt_put32(p + 4, 0x40000009);
    pt_put16(p + 8, 0);
    p[10] = 0;
    pt_put16(p + 11, 0);
    return 13;
}

/* TPM2_PCR_Extend(pcr, SHA-256 digest) */
PU size_t tpm_cmd_pcr_extend(uint8_t *c, uint32_t pcr, const uint8_t digest[32])
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x182);
    pt_put32(c + o, pcr); o += 4;
    o += pt_pw_auth(c + o);
    pt_put32(c + o, 1); o += 4;
    pt_put16(c + o, 0x000B); o += 2;
    memcpy(c + o, digest, 32); o += 32;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

/* TPM2_PCR_Read(SHA-256, one PCR < 24) */
PU size_t tpm_cmd_pcr_read(uint8_t *c, uint32_t pcr)
{
    size_t o = 10;
    pt_put16(c, 0x8001);
    pt_put32(c + 6, 0x17E);
    pt_put32(c + o, 1); o += 4;
    pt_put16(c + o, 0x000B); o += 2;
    c[o++] = 3;
    c[o] = c[o + 1] = c[o + 2] = 0;
    c[o + pcr / 8] = (uint8_t)(1u << (pcr % 8));
    o += 3;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

/* Reads one SHA-256 PCR through fd into out[32]. */
PU void tpm_pcr_value(struct vtpm *v, int fd, uint32_t pcr, uint8_t out[32])
{
    uint8_t c[64], r[256];
    size_t n = tpm_ok(v, fd, "TPM2_PCR_Read", c, tpm_cmd_pcr_read(c, pcr), r, sizeof r);
    /* header 10, updateCounter 4, selection 10, count 4, size 2, digest 32 */
    if (n != 62 || pt_get32(r + 24) != 1 || pt_get16(r + 28) != 32)
        fail_msg("%s: unexpected TPM2_PCR_Read response %s", v->name, pt_hex(r, n));
    memcpy(out, r + 30, 32);
}

/* TPM2_NV_DefineSpace(owner, index, size) with owner read/write */
PU size_t tpm_cmd_nv_define(uint8_t *c, uint32_t index, uint16_t size)
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x12A);
    pt_put32(c + o, 0x40000001); o += 4;          /* TPM_RH_OWNER */
    o += pt_pw_auth(c + o);
    pt_put16(c + o, 0); o += 2;                   /* auth: empty */
    pt_put16(c + o, 14); o += 2;                  /* TPM2B_NV_PUBLIC size */
    pt_put32(c + o, index); o += 4;
    pt_put16(c + o, 0x000B); o += 2;              /* nameAlg SHA-256 */
    pt_put32(c + o, 0x00020002); o += 4;          /* OWNERWRITE | OWNERREAD */
    pt_put16(c + o, 0); o += 2;                   /* authPolicy */
    pt_put16(c + o, size); o += 2;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

PU size_t tpm_cmd_nv_write(uint8_t *c, uint32_t index, const uint8_t *data, uint16_t len)
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x137);
    pt_put32(c + o, 0x40000001); o += 4;
    pt_put32(c + o, index); o += 4;
    o += pt_pw_auth(c + o);
    pt_put16(c + o, len); o += 2;
    memcpy(c + o, data, len); o += len;
    pt_put16(c + o, 0); o += 2;                   /* offset */
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

PU size_t tpm_cmd_nv_read(uint8_t *c, uint32_t index, uint16_t len)
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x14E);
    pt_put32(c + o, 0x40000001); o += 4;
    pt_put32(c + o, index); o += 4;
    o += pt_pw_auth(c + o);
    pt_put16(c + o, len); o += 2;
    pt_put16(c + o, 0); o += 2;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

/* ------------------------------------------------------------------ */
/* side-by-side comparison                                             */

/* svtpm's reply must equal swtpm's (byte for byte). */
#define pt_same_as_ref(what, sv, svlen, sw, swlen) pt_same_as_ref_(what, sv, svlen, sw, swlen, __FILE__, __LINE__)
PU void pt_same_as_ref_(const char *what, const void *sv, size_t svlen, const void *sw, size_t swlen,
                        const char *file, int line)
{
    char w[300];
    snprintf(w, sizeof w, "%s: svtpm differs from the reference swtpm 0.7.1 (expected = swtpm's reply)", what);
    pt_expect_bytes_(w, sv, svlen, sw, swlen, file, line);
}

#endif
