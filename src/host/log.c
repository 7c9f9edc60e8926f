/* The log destination is process-wide by nature (one log per vTPM process);
 * it is set once at start-up and only read afterwards. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    int fd;
    unsigned level;
    char prefix[64];
} L = { .fd = -1 };

svtpm_err log_open(const struct log_cfg *c)
{
    L.level = c->level;
    snprintf(L.prefix, sizeof L.prefix, "%s", c->prefix ? c->prefix : "");
    if (c->file) {
        if (strcmp(c->file, "-") == 0)
            return SVTPM_OK;          /* swtpm: file=- disables the log */
        int fl = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (c->truncate ? O_TRUNC : 0);
        L.fd = open(c->file, fl, 0640);
        if (L.fd < 0) {
            fprintf(stderr, "svtpm: cannot open log file %s: %s\n", c->file, strerror(errno));
            return SVTPM_E_IO;
        }
    } else if (c->fd >= 0) {
        L.fd = c->fd;
    }
    if (L.fd >= 0 && L.level == 0)
        L.level = 1;
    return SVTPM_OK;
}

void log_close(void)
{
    if (L.fd > 2)
        close(L.fd);
    L.fd = -1;
}

unsigned log_level(void) { return L.fd >= 0 ? L.level : 0; }

static void emit(int fd, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%s%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ svtpm[%d]: ", L.prefix,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, (int)getpid());
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(fd, line, len);   /* one write per line: no interleaving */
    (void)w;
}

void hlog(unsigned level, const char *fmt, ...)
{
    if (L.fd < 0 || level > L.level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(L.fd, fmt, ap);
    va_end(ap);
}

void herr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(STDERR_FILENO, fmt, ap);
    va_end(ap);
    if (L.fd >= 0 && L.fd != STDERR_FILENO) {
        va_start(ap, fmt);
        emit(L.fd, fmt, ap);
        va_end(ap);
    }
}

void hlog_hex(unsigned level, const char *what, const void *p, size_t n)
{
    if (L.fd < 0 || level > L.level)
        return;
    char buf[3 * 64 + 1];
    const unsigned char *b = p;
    for (size_t off = 0; off < n; off += 64) {
        size_t k = n - off < 64 ? n - off : 64, o = 0;
        for (size_t i = 0; i < k; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%02x ", b[off + i]);
        hlog(level, "%s[%zu]: %s", what, off, buf);
    }
}
