/* The protocol tests' environment (proto.h): the repository top and the
 * svtpm under test, the reference swtpm, one temporary directory per test
 * binary, and the servers started, all killed at teardown, at exit and on a
 * fatal signal (the temporary directory removed with them). */
#include "proto.h"

#include <ftw.h>

static char pt_top_dir[PATH_MAX];
static char pt_base[256];
static pid_t pt_procs[PT_MAX_PROCS];
static bool pt_inited;

static int pt_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

void pt_track(pid_t pid)
{
    for (int i = 0; i < PT_MAX_PROCS; i++)
        if (pt_procs[i] == 0) {
            pt_procs[i] = pid;
            return;
        }
}

void pt_untrack(pid_t pid)
{
    for (int i = 0; i < PT_MAX_PROCS; i++)
        if (pt_procs[i] == pid)
            pt_procs[i] = 0;
}

/* Kills (SIGKILL, whole process group: the server and its enclave) every
 * server still running. */
static void pt_kill_all(void)
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

int pt_teardown(void **state)
{
    (void)state;
    pt_kill_all();
    return 0;
}

/* pt_kill_all, and removes the temporary directory. */
static void pt_cleanup(void)
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

static void pt_on_signal(int sig)
{
    pt_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static const char *pt_build(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

void pt_svtpm_bin(char *out, size_t cap)
{
    const char *b = pt_build();
    if (b[0] == '/')
        snprintf(out, cap, "%s/svtpm", b);
    else
        snprintf(out, cap, "%s/%s/svtpm", pt_top_dir, b);
}

void pt_init(void)
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

const char *pt_temp_dir(void)
{
    return pt_base;
}

const char *pt_ref_bin(void)
{
    const char *r = getenv("SWTPM_REF");
    if (!r || !*r)
        r = "/usr/bin/swtpm";
    if (!strcmp(r, "none") || access(r, X_OK) != 0)
        return NULL;
    return r;
}

int pt_free_port(void)
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
