/* svtpm-only benchmark rows, printed as `ROW name|value|unit|target`:
 *   - the bare ECALL round trip (ECALL_PING, no payload): the cost of the
 *     enclave boundary itself, host → enclave → host;
 *   - opening the sealed state inside the enclave: authenticating and
 *     decrypting the current record (the enclave's own measurement, read back
 *     with ECALL_STATE_INFO after each power-on), on a copy of a real state.
 * Usage: svtpm-enclave-bench STATE_DIR_COPY [pings] [opens] */
#include "enclave_host.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s STATE_DIR [pings] [opens]\n", argv[0]);
        return 2;
    }
    int pings = argc > 2 ? atoi(argv[2]) : 20000, opens = argc > 3 ? atoi(argv[3]) : 200;
    struct statedir sd;
    struct enclave_host eh;
    struct enclave_identity id;
    const char *pk = getenv("SVTPM_PLATFORM_KEY");
    struct enclave_start st = { .enclave_path = getenv("SVTPM_ENCLAVE"), .platform_key = pk ? pk : "",
                                .seccomp = getenv("SVTPM_ENCLAVE_SECCOMP") ? getenv("SVTPM_ENCLAVE_SECCOMP") : "kill" };
    struct log_cfg lc = { .fd = -1 };
    log_open(&lc);
    if (sd_init(&sd, argv[1], 0600) || eh_start(&eh, &st, &sd) || eh_init(&eh, NULL, 0, &id)) {
        fprintf(stderr, "cannot start the enclave\n");
        return 1;
    }
    double *t = malloc(sizeof(double) * (size_t)(pings > opens ? pings : opens));
    for (int i = 0; i < 1000; i++)
        eh_ping(&eh, 0);
    for (int i = 0; i < pings; i++) {
        double a = now_us();
        if (eh_ping(&eh, 0))
            return 1;
        t[i] = now_us() - a;
    }
    qsort(t, (size_t)pings, sizeof *t, cmp);
    printf("ROW ECALL round trip, bare (us)|%.2f|us|\n", t[pings / 2]);
    printf("ping p10 %.2f p90 %.2f us\n", t[pings / 10], t[pings * 9 / 10]);

    int n = 0;
    for (int i = 0; i < opens; i++) {
        uint32_t rc, file;
        svtpm_err serr;
        struct enclave_state_info si;
        if (eh_power_on(&eh, 0, &rc, &serr, &file) || rc || eh_state_info(&eh, &si)) {
            fprintf(stderr, "power-on failed (0x%x, %s)\n", rc, svtpm_strerror(serr));
            return 1;
        }
        t[n++] = si.open_ns / 1000.0;
        eh_power_off(&eh);
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("ROW open sealed state in enclave (us)|%.2f|us|<=15\n", t[n / 2]);
    printf("open p10 %.2f p90 %.2f us\n", t[n / 10], t[n * 9 / 10]);
    eh_stop(&eh);
    sd_fini(&sd);
    return 0;
}
