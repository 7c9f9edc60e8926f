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

static void close_data(struct server *s)
{
    close(s->data_conn);
    s->data_conn = -1;
    s->din_len = 0;
    if (s->data_conn_terminal) {
        hlog(2, "data connection closed: terminating");
        s->quit = true;
    }
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

/* Length of the first frame in din: 0 if incomplete, -1 if malformed. With
 * the TCG prefix, *hdr is 9 (the prefix) and *loc its locality. */
static long frame_len(const uint8_t *b, size_t n, size_t *hdr, uint8_t *loc)
{
    *hdr = 0;
    if (n < 10)
        return 0;
    uint16_t tag = get_be16(b);
    uint32_t size;
    if (tag != 0x8001 && tag != 0x8002 && get_be32(b) == TPM_SEND_COMMAND) {
        /* u32 8, u8 locality, u32 size, then the command; the locality sticks */
        *hdr = 9;
        *loc = b[4];
        size = get_be32(b + 5);
    } else {
        size = get_be32(b + 2);
    }
    if (size < 10 || size > SVTPM_TPM_CMD_MAX)
        return -1;
    return n >= *hdr + size ? (long)(*hdr + size) : 0;
}

static void process_frame(struct server *s, const uint8_t *cmd, uint32_t size, bool prefixed)
{
    hlog_hex(20, " SWTPM_IO_Read", cmd, size);
    s->commands++;
    if (get_be32(cmd + 6) == TPM2_CC_SET_LOCALITY_VENDOR) {
        /* Linux vtpm-proxy's in-band locality change, only when allowed */
        static const uint8_t ok[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
        uint8_t resp[10];
        memcpy(resp, rc_failure, 10);
        if (size < 11) {
            put_be32(resp + 6, 0x9a);        /* TPM_RC_INSUFFICIENT, checked first as swtpm */
        } else if (s->cfg->allow_set_locality) {
            uint8_t l = cmd[10];
            if (l > 4 || (l == 4 && s->cfg->reject_locality_4))
                put_be32(resp + 6, 0x107);   /* TPM_RC_LOCALITY */
            else {
                s->locality = l;
                memcpy(resp, ok, 10);
            }
        }
        send_resp(s, prefixed, resp, 10);
        return;
    }
    if (!s->running) {
        /* swtpm: answered without the TPM, which is powered off */
        send_resp(s, prefixed, rc_failure, sizeof rc_failure);
        return;
    }
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = eh_process(&s->eh, s->locality, cmd, size, &resp, &rlen);
    if (err) {
        server_fatal_enclave(s, err);
        send_resp(s, prefixed, rc_failure, sizeof rc_failure);
        return;
    }
    /* QEMU copies size-10 bytes into its buffer unchecked: never send a
     * frame that is short, inconsistent, or over the negotiated size. */
    if (rlen < 10 || get_be32(resp + 2) != rlen || (s->buffersize && rlen > s->buffersize)) {
        hlog(1, "TPM response of %u bytes is malformed or over the buffer size %u", rlen, s->buffersize);
        send_resp(s, prefixed, rc_failure, sizeof rc_failure);
        return;
    }
    send_resp(s, prefixed, resp, rlen);
}

int data_timeout_ms(struct server *s)
{
    if (s->data_conn < 0 || s->din_len == 0)
        return -1;
    int64_t left = s->din_deadline_ms - server_now_ms();
    return left > 0 ? (int)left : 0;
}

void data_expire(struct server *s)
{
    if (data_timeout_ms(s) == 0) {
        hlog(1, "incomplete TPM command for %d ms: closing the data connection", DATA_DEADLINE_MS);
        close_data(s);
    }
}

void data_handle(struct server *s)
{
    /* One recv normally brings the whole command (clients write it at once);
     * frames are cut by their header's size, partial ones wait for more. */
    ssize_t n = recv(s->data_conn, s->din + s->din_len, sizeof s->din - s->din_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (s->din_len)
            hlog(1, "data connection closed inside a TPM command");
        close_data(s);
        return;
    }
    if (s->din_len == 0)
        s->din_deadline_ms = server_now_ms() + DATA_DEADLINE_MS;
    s->din_len += (size_t)n;
    for (;;) {
        size_t hdr;
        uint8_t loc = s->locality;
        long len = frame_len(s->din, s->din_len, &hdr, &loc);
        if (len < 0) {
            hlog(1, "malformed TPM command frame: closing the data connection");
            close_data(s);
            return;
        }
        if (len == 0)
            return;
        if (hdr)
            s->locality = loc;
        process_frame(s, s->din + hdr, (uint32_t)(len - (long)hdr), hdr != 0);
        if (s->data_conn < 0)
            return;
        memmove(s->din, s->din + len, s->din_len - (size_t)len);
        s->din_len -= (size_t)len;
        s->din_deadline_ms = server_now_ms() + DATA_DEADLINE_MS;
        if (s->cfg->server.disconnect && !s->data_conn_terminal) {
            close_data(s);
            return;
        }
        if (s->din_len == 0 || s->quit)
            return;
    }
}
