/* The TPM data channel: raw TPM 2.0 command/response frames, optionally
 * behind the TCG simulator's 9-byte TPM_SEND_COMMAND prefix. Unlike swtpm,
 * frames are read by their header's size, so a command split across reads
 * works and an oversized one closes the connection instead of desynchronising. */
#include "abi.h"
#include "bytes.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DATA_DEADLINE_MS 10000
#define TPM_SEND_COMMAND 8u
#define TPM2_CC_SET_LOCALITY_VENDOR 0x20001000u

static const uint8_t rc_failure[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01 };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_data(struct server *s)
{
    close(s->data_conn);
    s->data_conn = -1;
    if (s->data_conn_terminal) {
        hlog(2, "data connection closed: terminating");
        s->quit = true;
    }
}

/* 1: got n bytes; 0: clean EOF before the first byte; -1: error/timeout. */
static int read_exact(int fd, uint8_t *p, size_t n, int64_t deadline, bool at_start)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0)
            return at_start && got == 0 ? 0 : -1;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        int64_t left = deadline - now_ms();
        struct pollfd pf = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            return -1;
    }
    return 1;
}

static void send_resp(struct server *s, bool prefixed, const uint8_t *resp, uint32_t len)
{
    uint8_t pre[4], post[4] = { 0 };
    put_be32(pre, len);
    struct iovec iov[3] = { { pre, 4 }, { (void *)resp, len }, { post, 4 } };
    struct iovec *v = prefixed ? iov : iov + 1;
    int cnt = prefixed ? 3 : 1;
    size_t total = len + (prefixed ? 8u : 0u);
    hlog_hex(20, " SWTPM_IO_Write", resp, len);
    struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)cnt };
    ssize_t w = sendmsg(s->data_conn, &m, MSG_NOSIGNAL);
    if (w != (ssize_t)total)
        hlog(1, "TPM response not fully sent: %s", w < 0 ? strerror(errno) : "short write");
}

void data_handle(struct server *s)
{
    uint8_t cmd[SVTPM_TPM_CMD_MAX + 16];
    int64_t deadline = now_ms() + DATA_DEADLINE_MS;
    bool prefixed = false;
    uint32_t size = 0;
    uint8_t locality = s->locality;

    int r = read_exact(s->data_conn, cmd, 10, deadline, true);
    if (r <= 0)
        goto close;
    uint16_t tag = get_be16(cmd);
    if (tag != 0x8001 && tag != 0x8002 && get_be32(cmd) == TPM_SEND_COMMAND) {
        /* u32 8, u8 locality, u32 size, then the command; the locality sticks */
        prefixed = true;
        locality = cmd[4];
        size = get_be32(cmd + 5);
        if (size < 10 || size > SVTPM_TPM_CMD_MAX)
            goto bad;
        memmove(cmd, cmd + 9, 1);
        if (read_exact(s->data_conn, cmd + 1, size - 1, deadline, false) < 0)
            goto close;
        s->locality = locality;
    } else {
        size = get_be32(cmd + 2);
        if (size < 10 || size > SVTPM_TPM_CMD_MAX)
            goto bad;
        if (size > 10 && read_exact(s->data_conn, cmd + 10, size - 10, deadline, false) < 0)
            goto close;
    }
    hlog_hex(20, " SWTPM_IO_Read", cmd, size);
    s->commands++;

    if (get_be32(cmd + 6) == TPM2_CC_SET_LOCALITY_VENDOR) {
        /* Linux vtpm-proxy's in-band locality change, only when allowed */
        static const uint8_t ok[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
        uint8_t resp[10];
        memcpy(resp, rc_failure, 10);
        if (s->cfg->allow_set_locality && size >= 11) {
            uint8_t l = cmd[10];
            if (l > 4 || (l == 4 && s->cfg->reject_locality_4))
                put_be32(resp + 6, 0x107);   /* TPM_RC_LOCALITY */
            else {
                s->locality = l;
                memcpy(resp, ok, 10);
            }
        } else if (s->cfg->allow_set_locality) {
            put_be32(resp + 6, 0x9a);        /* TPM_RC_INSUFFICIENT */
        }
        send_resp(s, prefixed, resp, 10);
        goto done;
    }
    if (!s->running) {
        /* swtpm: answered without the TPM, which is powered off */
        send_resp(s, prefixed, rc_failure, sizeof rc_failure);
        goto done;
    }
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = eh_process(&s->eh, s->locality, cmd, size, &resp, &rlen);
    if (err) {
        server_fatal_enclave(s, err);
        send_resp(s, prefixed, rc_failure, sizeof rc_failure);
        goto close;
    }
    /* QEMU copies size-10 bytes into its buffer unchecked: never send a
     * frame that is short, inconsistent, or over the negotiated size. */
    if (rlen < 10 || get_be32(resp + 2) != rlen || (s->buffersize && rlen > s->buffersize)) {
        hlog(1, "TPM response of %u bytes is malformed or over the buffer size %u", rlen, s->buffersize);
        send_resp(s, prefixed, rc_failure, sizeof rc_failure);
        goto done;
    }
    send_resp(s, prefixed, resp, rlen);
done:
    if (s->cfg->server.disconnect && s->data_conn >= 0 && !s->data_conn_terminal)
        goto close;
    return;
bad:
    hlog(1, "malformed TPM command frame (size %u): closing the data connection", size);
close:
    close_data(s);
}
