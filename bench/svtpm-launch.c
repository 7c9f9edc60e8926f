/*
 * svtpm-launch: measures launch time of a swtpm-compatible server.
 *
 *   svtpm-launch -p PORT [-t TIMEOUT_MS] [-i POLL_US] [-c CPU] -- <server command...>
 *
 * t0 = just before fork(); the child becomes its own process group leader and
 * execs the command.  The parent poll-connects to 127.0.0.1:PORT (the data
 * port) and sends a raw TPM2_GetRandom(8); t1 = when a successful response
 * (TPM_RC_SUCCESS) has been read.  A refused connection, a closed connection or
 * an error response (e.g. TPM_RC_INITIALIZE while the server is still starting)
 * counts as "not ready yet" and is retried.  -c pins the server (and so all
 * its children) to one CPU before exec.  Then the server is stopped (see
 * stop_group) and reaped, so the next launch starts clean.
 *
 * Output: LAUNCH <us> <attempts>      exit 0
 *         LAUNCH-FAIL <reason>        exit 1
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* 1 = success response, 0 = not ready (retry). */
static int try_getrandom(int port)
{
    static const uint8_t cmd[] = {0x80, 0x01, 0x00, 0x00, 0x00, 0x0c,
                                  0x00, 0x00, 0x01, 0x7b, 0x00, 0x08};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto out;
    if (write(fd, cmd, sizeof(cmd)) != (ssize_t)sizeof(cmd))
        goto out;
    uint8_t rsp[64];
    size_t got = 0;
    while (got < 10) {
        ssize_t r = read(fd, rsp + got, sizeof(rsp) - got);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    uint32_t rc = (uint32_t)rsp[6] << 24 | (uint32_t)rsp[7] << 16 | (uint32_t)rsp[8] << 8 | rsp[9];
    ok = rc == 0;
out:
    close(fd);
    return ok;
}

/* SIGTERM to the server process (as libvirt does); once it has exited (or after
 * 3 s), whatever is left of its process group gets SIGTERM, then SIGKILL. */
static void stop_group(pid_t pid)
{
    int st, reaped = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 300 && !reaped; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            reaped = 1;
        else
            sleep_us(10000);
    }
    for (int i = 0; i < 100 && kill(-pid, 0) == 0; i++)
        sleep_us(10000);
    if (kill(-pid, 0) == 0) {
        kill(-pid, SIGTERM);
        for (int i = 0; i < 100 && kill(-pid, 0) == 0; i++)
            sleep_us(10000);
        kill(-pid, SIGKILL);
    }
    if (!reaped)
        waitpid(pid, &st, 0);
}

int main(int argc, char **argv)
{
    int port = 0, c, cpu = -1;
    long timeout_ms = 20000, poll_us = 200;
    while ((c = getopt(argc, argv, "+p:t:i:c:")) != -1) {
        switch (c) {
        case 'p': port = atoi(optarg); break;
        case 't': timeout_ms = atol(optarg); break;
        case 'i': poll_us = atol(optarg); break;
        case 'c': cpu = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: svtpm-launch -p PORT [-t TIMEOUT_MS] [-i POLL_US] [-c CPU] -- cmd...\n");
            return 2;
        }
    }
    if (port <= 0 || optind >= argc) {
        fprintf(stderr, "usage: svtpm-launch -p PORT [-t TIMEOUT_MS] [-i POLL_US] [-c CPU] -- cmd...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    double t0 = now_us();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        setpgid(0, 0);
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (sched_setaffinity(0, sizeof(set), &set) != 0)
                perror("sched_setaffinity");
        }
        execvp(argv[optind], argv + optind);
        perror(argv[optind]);
        _exit(127);
    }
    setpgid(pid, pid); /* both sides, to avoid the race */

    long attempts = 0;
    double deadline = t0 + (double)timeout_ms * 1000.0;
    for (;;) {
        attempts++;
        if (try_getrandom(port)) {
            double t1 = now_us();
            printf("LAUNCH %.1f %ld\n", t1 - t0, attempts);
            fflush(stdout);
            stop_group(pid);
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            printf("LAUNCH-FAIL server exited (status 0x%x) before answering\n", st);
            kill(-pid, SIGKILL); /* leftovers of its process group, if any */
            return 1;
        }
        if (now_us() > deadline) {
            printf("LAUNCH-FAIL no answer within %ld ms\n", timeout_ms);
            stop_group(pid);
            return 1;
        }
        sleep_us(poll_us);
    }
}
