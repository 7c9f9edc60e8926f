/* The control channel: frames one CMD_* request (with its SCM_RIGHTS fd for
 * SET_DATAFD), runs it and answers in one write, as QEMU, libvirt, the TSS
 * and swtpm_setup expect. */
#include "ctrl_proto.h"
#include "abi.h"
#include "bytes.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CTRL_DEADLINE_MS 500      /* swtpm's budget to assemble a command */
#define CTRL_BULK_DEADLINE_MS 10000
#define CTRL_BUF (16u + SVTPM_SEALED_REC_MAX)

static void close_ctrl(struct server *s)
{
    close(s->ctrl_conn);
    s->ctrl_conn = -1;
    /* a clientfd (swtpm_setup) or a terminate= channel has nobody after it */
    if (s->cfg->ctrl.kind == CH_UNIX_CLIENTFD || s->cfg->ctrl.terminate) {
        hlog(2, "control client gone: terminating");
        s->quit = true;
    }
}

static void reply(struct server *s, const void *p, size_t n)
{
    hlog_hex(20, " Ctrl Rsp", p, n);
    ssize_t w = send(s->ctrl_conn, p, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n)
        hlog(1, "control reply not fully sent: %s", w < 0 ? strerror(errno) : "short write");
}

static void reply_u32(struct server *s, uint32_t result)
{
    uint8_t b[4];
    put_be32(b, result);
    reply(s, b, 4);
}

static void reply_err(struct server *s, uint32_t code, uint32_t result)
{
    uint8_t b[16];
    reply(s, b, ctrl_error_reply(code, result, b, sizeof b));
}

/* Accepts the fd QEMU sends with SET_DATAFD, if it is what it should be. */
static int take_datafd(struct msghdr *m)
{
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *fds = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            if (fd < 0)
                fd = fds[i];
            else
                close(fds[i]);   /* never keep more than the one we asked for */
        }
    }
    return fd;
}

/* Reads one request; returns its length, 0 when the client left or broke the
 * framing (the connection is then closed). */
static size_t read_request(struct server *s, int *fd_out, bool *trailing)
{
    *trailing = false;
    size_t len = 0, need = 4;
    int64_t deadline = server_now_ms() + CTRL_DEADLINE_MS;
    bool first = true;
    *fd_out = -1;
    while (need > 0) {
        if (len + need > s->cbuf_cap)
            goto fail;
        int64_t left = deadline - server_now_ms();
        if (left <= 0) {
            hlog(1, "control request incomplete after %d ms: closing the connection", CTRL_DEADLINE_MS);
            goto fail;
        }
        struct pollfd p = { s->ctrl_conn, POLLIN, 0 };
        if (!first && poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n;
        if (first && s->ctrl_is_unix) {
            union { char b[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } cm;
            struct iovec iov = { s->cbuf + len, need };
            struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                                .msg_controllen = sizeof cm.b };
            n = recvmsg(s->ctrl_conn, &m, MSG_CMSG_CLOEXEC);
            if (n > 0) {
                int fd = take_datafd(&m);
                if (m.msg_flags & MSG_CTRUNC) {
                    if (fd >= 0)
                        close(fd);
                    fd = -1;
                    hlog(1, "control message carried too many file descriptors");
                }
                if (fd >= 0 && *fd_out >= 0)
                    close(*fd_out);
                if (fd >= 0)
                    *fd_out = fd;
            }
        } else {
            n = recv(s->ctrl_conn, s->cbuf + len, need, 0);
        }
        first = false;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            goto fail;
        len += (size_t)n;
        if (ctrl_need(s->cbuf, len, &need)) {
            /* a length field over its limit: answer, then drop the stream */
            reply_err(s, get_be32(s->cbuf), PTM_BAD_PARAMETER);
            goto fail;
        }
        if (need > 4096)
            deadline = server_now_ms() + CTRL_BULK_DEADLINE_MS;
    }
    const struct ctrl_desc *d = ctrl_desc(get_be32(s->cbuf));
    if (d && d->req_max > d->req_min && len == 4 + d->req_min) {
        /* SET_LOCALITY & co: QEMU adds 3 padding bytes, the TSS does not */
        ssize_t n = recv(s->ctrl_conn, s->cbuf + len, d->req_max - d->req_min, MSG_DONTWAIT);
        if (n > 0)
            len += (size_t)n;
    }
    /* Clients send one request and wait for its reply; bytes right behind a
     * complete request mean its length was wrong (swtpm: BAD_PARAMETER). */
    uint8_t junk[512];
    while (recv(s->ctrl_conn, junk, sizeof junk, MSG_DONTWAIT) > 0)
        *trailing = true;
    hlog_hex(20, " Ctrl Cmd", s->cbuf, len);
    return len;
fail:
    if (*fd_out >= 0)
        close(*fd_out);
    *fd_out = -1;
    close_ctrl(s);
    return 0;
}

static bool datafd_ok(int fd)
{
    struct stat st;
    int dom = 0, type = 0;
    socklen_t l = sizeof dom;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) != 0 || dom != AF_UNIX)
        return false;
    l = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_STREAM;
}

static void do_get_stateblob(struct server *s, const struct ctrl_req *r)
{
    uint8_t hdr[16] = { 0 };
    uint32_t rc = 0, len = 0;
    const uint8_t *blob = NULL;
    if (!s->running) {
        reply_err(s, r->code, PTM_BAD_ORDINAL);
        return;
    }
    svtpm_err err = eh_get_stateblob(&s->eh, r->u32b, &rc, &blob, &len);
    if (err) {
        server_fatal_enclave(s, err);
        reply_err(s, r->code, PTM_FAIL);
        return;
    }
    uint32_t off = r->u32c, n = rc == 0 && off < len ? len - off : 0;
    put_be32(hdr, rc);
    put_be32(hdr + 4, rc == 0 ? PTM_STATE_FLAG_ENCRYPTED : 0);
    put_be32(hdr + 8, n);
    put_be32(hdr + 12, n);
    /* header and blob in one writev: clients read the reply with one read() */
    struct iovec iov[2] = { { hdr, 16 }, { (void *)(blob ? blob + off : hdr), n } };
    ssize_t w = writev(s->ctrl_conn, iov, n ? 2 : 1);
    if (w != (ssize_t)(16 + n))
        hlog(1, "state blob reply not fully sent");
}

static void do_get_info(struct server *s, const struct ctrl_req *r)
{
    const char *json;
    uint32_t jlen;
    svtpm_err err = eh_get_info(&s->eh, r->u64, &json, &jlen);
    if (err) {
        reply_err(s, r->code, err == SVTPM_E_NOMEM ? PTM_SIZE : PTM_FAIL);
        return;
    }
    uint32_t off = r->u32a, total = jlen + 1;   /* the NUL counts, as swtpm */
    if (off >= jlen) {
        reply_u32(s, PTM_BAD_PARAMETER);
        return;
    }
    uint32_t n = total - off < PTM_GETINFO_CHUNK ? total - off : PTM_GETINFO_CHUNK;
    uint8_t out[12 + PTM_GETINFO_CHUNK];
    put_be32(out, 0);
    put_be32(out + 4, total);
    put_be32(out + 8, n);
    for (uint32_t i = 0; i < n; i++)
        out[12 + i] = off + i < jlen ? (uint8_t)json[off + i] : 0;
    reply(s, out, 12 + n);
}

static void dispatch(struct server *s, const struct ctrl_req *r, int *fd)
{
    uint8_t out[16];
    uint32_t rc = 0;
    svtpm_err err = SVTPM_OK;

    switch (r->code) {
    case CMD_GET_CAPABILITY:
        put_be32(out, 0);
        put_be32(out + 4, PTM_CAPS);
        reply(s, out, 8);
        return;
    case CMD_INIT:
        reply_u32(s, server_power_on(s, r->u32a));
        return;
    case CMD_SHUTDOWN:
        server_power_off(s);
        reply_u32(s, PTM_SUCCESS);
        s->quit = true;
        return;
    case CMD_STOP:
        server_power_off(s);
        reply_u32(s, PTM_SUCCESS);
        return;
    case CMD_SET_LOCALITY:
        if (r->loc > 4 || (r->loc == 4 && s->cfg->reject_locality_4)) {
            reply_u32(s, PTM_BAD_LOCALITY);
            return;
        }
        s->locality = r->loc;
        reply_u32(s, PTM_SUCCESS);
        return;
    case CMD_GET_CONFIG:
        put_be32(out, 0);
        put_be32(out + 4, (s->cfg->key.set ? 1u : 0u) | (s->cfg->migration_key.set ? 2u : 0u));
        reply(s, out, 8);
        return;
    case CMD_SET_DATAFD:
        if (!s->ctrl_is_unix || *fd < 0 || !datafd_ok(*fd)) {
            reply_u32(s, PTM_BAD_PARAMETER);
            return;
        }
        if (s->data_conn >= 0) {
            reply_u32(s, PTM_IOERROR);
            return;
        }
        s->data_conn = *fd;
        s->data_conn_terminal = s->cfg->terminate;
        *fd = -1;
        reply_u32(s, PTM_SUCCESS);
        return;
    case CMD_SET_BUFFERSIZE: {
        if (r->u32a && s->running) {
            reply_err(s, r->code, PTM_BAD_ORDINAL);
            return;
        }
        uint32_t v[3];
        if ((err = eh_set_buffersize(&s->eh, r->u32a, v)))
            break;
        if (r->u32a)
            s->buffersize = v[0];
        uint8_t b[16];
        put_be32(b, 0);
        put_be32(b + 4, v[0]);
        put_be32(b + 8, v[1]);
        put_be32(b + 12, v[2]);
        reply(s, b, 16);
        return;
    }
    case CMD_GET_INFO:
        do_get_info(s, r);
        return;
    case CMD_LOCK_STORAGE:
        reply_u32(s, sd_lock(&s->sd, r->u32a) == SVTPM_OK ? PTM_SUCCESS : PTM_FAIL);
        return;
    case CMD_SET_STATEBLOB:
        if (s->running) {
            reply_u32(s, PTM_BAD_ORDINAL);
            return;
        }
        if (sd_lock(&s->sd, 0)) {
            reply_u32(s, PTM_IOERROR);
            return;
        }
        if ((err = eh_set_stateblob(&s->eh, r->u32b, r->data, r->data_len, &rc)))
            break;
        reply_u32(s, rc);
        return;
    case CMD_GET_STATEBLOB:
        do_get_stateblob(s, r);
        return;
    default:
        break;
    }
    if (err) {
        server_fatal_enclave(s, err);
        reply_err(s, r->code, PTM_FAIL);
        return;
    }

    /* The rest need a running TPM. */
    if (!s->running) {
        reply_err(s, r->code, PTM_BAD_ORDINAL);
        return;
    }
    switch (r->code) {
    case CMD_GET_TPMESTABLISHED: {
        uint8_t bit = 0;
        if ((err = eh_est_get(&s->eh, &rc, &bit)))
            break;
        memset(out, 0, 8);
        put_be32(out, rc);
        out[4] = bit;
        reply(s, out, 8);
        return;
    }
    case CMD_RESET_TPMESTABLISHED:
        if (r->loc > 4) {
            reply_u32(s, PTM_BAD_LOCALITY);
            return;
        }
        err = eh_est_reset(&s->eh, r->loc, &rc);
        break;
    case CMD_HASH_START:
        err = eh_simple(&s->eh, ECALL_HASH_START, &rc);
        break;
    case CMD_HASH_DATA:
        err = r->data_len ? eh_hash_data(&s->eh, r->data, r->data_len, &rc) : SVTPM_OK;
        if (!r->data_len)
            rc = PTM_BAD_PARAMETER;
        break;
    case CMD_HASH_END:
        err = eh_simple(&s->eh, ECALL_HASH_END, &rc);
        break;
    case CMD_CANCEL_TPM_CMD:
        /* Commands run to completion before the next control request is
         * read (as in swtpm's socket mode), so there is nothing to cancel. */
        err = eh_simple(&s->eh, ECALL_CANCEL, &rc);
        break;
    case CMD_STORE_VOLATILE:
        err = eh_simple(&s->eh, ECALL_STORE_VOLATILE, &rc);
        break;
    default:
        rc = PTM_BAD_ORDINAL;
    }
    if (err) {
        server_fatal_enclave(s, err);
        rc = PTM_FAIL;
    }
    reply_u32(s, rc);
}

void ctrl_handle(struct server *s)
{
    if (!s->cbuf) {
        s->cbuf_cap = CTRL_BUF;
        s->cbuf = malloc(s->cbuf_cap);
        if (!s->cbuf) {
            close_ctrl(s);
            return;
        }
    }
    int fd = -1;
    bool trailing;
    size_t len = read_request(s, &fd, &trailing);
    if (!len)
        return;
    struct ctrl_req r;
    if (ctrl_parse(s->cbuf, len, &r) != SVTPM_OK || (trailing && ctrl_desc(r.code))) {
        reply_err(s, r.code, PTM_BAD_PARAMETER);
    } else if (!r.d) {
        reply_u32(s, PTM_BAD_ORDINAL);
    } else {
        dispatch(s, &r, &fd);
    }
    if (fd >= 0)
        close(fd);   /* an fd that came with anything but a good SET_DATAFD */
}
