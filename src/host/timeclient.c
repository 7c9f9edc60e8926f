#include "timeclient.h"
#include "log.h"
#include "timetoken.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static svtpm_err parse_addr(const char *addr, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (!colon || hl == 0 || hl >= sizeof host || !end || *end || port <= 0 || port > 65535)
        return SVTPM_E_INVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? SVTPM_OK : SVTPM_E_INVAL;
}

svtpm_err time_token_fetch(const char *addr, const uint8_t nonce[32], uint8_t *out)
{
    struct sockaddr_in sa;
    struct timeval tv = { .tv_sec = 2 };
    svtpm_err err = parse_addr(addr, &sa);
    int fd = err ? -1 : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!err && (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
                 setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
                 connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
                 write(fd, nonce, 32) != 32))
        err = SVTPM_E_IO;
    size_t got = 0;
    while (!err && got < TIMETOKEN_LEN) {
        ssize_t n = read(fd, out + got, TIMETOKEN_LEN - got);
        if (n > 0)
            got += (size_t)n;
        else if (!(n < 0 && errno == EINTR))
            err = SVTPM_E_IO;
    }
    if (err)
        hlog(1, "time authority %s: no token (%s)", addr, err == SVTPM_E_INVAL ? "bad address" : strerror(errno));
    if (fd >= 0)
        close(fd);
    return err;
}
