#include "testplat.h"
#include "crypto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

void testplat_init(struct tee_platform *p, uint8_t seed)
{
    if (crypto_init() != SVTPM_OK) {
        fprintf(stderr, "testplat: crypto_init failed\n");
        abort();
    }
    memset(p, 0, sizeof *p);
    p->id.mode = TEE_SOFT;
    memset(p->id.mrsigner, TESTPLAT_SIGNER_BYTE, sizeof p->id.mrsigner);
    memset(p->id.mrenclave, TESTPLAT_ENCLAVE_BYTE, sizeof p->id.mrenclave);
    p->id.isv_prod_id = 1;
    p->id.isv_svn = 1;
    memset(p->id.cpu_svn, 0, sizeof p->id.cpu_svn);
    for (size_t i = 0; i < sizeof p->secret; i++)
        p->secret[i] = (uint8_t)(seed * 31u + i);
}

int testutil_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(2, 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint8_t *testutil_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, off = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        ssize_t r = read(fd, buf + off, cap - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (r == 0)
            break;
        off += (size_t)r;
        if (off == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    close(fd);
    if (buf)
        *len = off;
    return buf;
}

int testutil_spit(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, (const uint8_t *)p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}
