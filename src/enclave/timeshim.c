/* Linked into the enclave executable only (not libsvtpm-enclave.a, which the
 * unit tests and fuzzers link): defining clock_gettime and gettimeofday here
 * exports them, because libtpms.so references them, so libtpms' time (and
 * any other library's in this process) comes from the enclave's clock
 * (eclock.h). Other clocks, CLOCK_MONOTONIC_RAW among them (svtpm's own
 * deadlines), and the clock's own untrusted source go to the next definition
 * in the lookup order: libc's (or, in a test, a preloaded time double's). */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/time.h>
#include <time.h>

#include "eclock.h"

typedef int (*clock_fn)(clockid_t, struct timespec *);

static int next_clock(clockid_t id, struct timespec *ts)
{
    static clock_fn next;
    if (!next)
        next = (clock_fn)dlsym(RTLD_NEXT, "clock_gettime");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(id, ts);
}

static uint64_t read_next(clockid_t id)
{
    struct timespec ts = { 0 };
    next_clock(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t real_mono(void) { return read_next(CLOCK_MONOTONIC); }
static uint64_t real_wall(void) { return read_next(CLOCK_REALTIME); }

static void to_timespec(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    eclock_sources(real_mono, real_wall);
    switch (id) {
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
        to_timespec(eclock_tpm_mono_ns(), ts);
        return 0;
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        to_timespec(eclock_wall_ns(), ts);
        return 0;
    default:
        return next_clock(id, ts);
    }
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;
    (void)tz;   /* obsolete; libtpms passes NULL */
    eclock_sources(real_mono, real_wall);
    to_timespec(eclock_wall_ns(), &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}
