/* The protocol tests' basics (proto.h): big-endian bytes, hex for messages,
 * a monotonic clock, what a test says and notes, and the byte-for-byte
 * expectations (against a wanted reply or the reference swtpm's). */
#include "proto.h"

void pt_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
void pt_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
uint32_t pt_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
uint16_t pt_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

const char *pt_hex(const void *p, size_t n)
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

int64_t pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pt_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int pt_verbose = -1;

void pt_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  - ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

void pt_trace(const char *who, const char *dir, const void *p, size_t n)
{
    if (pt_verbose < 0)
        pt_verbose = getenv("PT_VERBOSE") && atoi(getenv("PT_VERBOSE")) > 0;
    if (pt_verbose) {
        printf("      %s %s %s\n", who, dir, pt_hex(p, n));
        fflush(stdout);
    }
}

void pt_expect_bytes_(const char *what, const void *got, size_t glen, const void *want,
                      size_t wlen, const char *file, int line)
{
    if (glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0))
        return;
    print_error("%s:%d: %s:\n    expected %s\n    actual   %s\n", file, line, what,
                pt_hex(want, wlen), pt_hex(got, glen));
    _fail(file, line);
}

void pt_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("    NOTE: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

void pt_same_as_ref_(const char *what, const void *sv, size_t svlen, const void *sw, size_t swlen,
                     const char *file, int line)
{
    char w[300];
    snprintf(w, sizeof w, "%s: svtpm differs from the reference swtpm 0.7.1 (expected = swtpm's reply)", what);
    pt_expect_bytes_(w, sv, svlen, sw, swlen, file, line);
}
