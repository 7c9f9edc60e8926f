/* The protocol tests' sockets (proto.h): connecting over UnixIO and TCP,
 * writing all of a request, and reading with a deadline on every wait. */
#include "proto.h"

int pt_connect_unix(const char *path)
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

int pt_connect_tcp(int port)
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

void pt_write_all(int fd, const void *p, size_t n)
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

ssize_t pt_read_once(int fd, void *buf, size_t cap, int ms)
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

size_t pt_read_min(int fd, uint8_t *buf, size_t cap, size_t want, int ms, bool *eof)
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

bool pt_wait_closed(int fd, int ms, size_t *bytes)
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

bool pt_still_open(int fd, int ms)
{
    uint8_t b[64];
    ssize_t r = pt_read_once(fd, b, sizeof b, ms);
    return r < 0;
}
