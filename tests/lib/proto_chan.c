/* The protocol tests' view of a server's channels (proto.h): control
 * commands (also SET_DATAFD with SCM_RIGHTS, as QEMU sends it), framed TPM
 * commands raw and with the TCG TPM_SEND_COMMAND prefix, and the few TPM 2.0
 * commands the tests build (PCR extend/read, NV define/write/read). */
#include "proto.h"

size_t ctrl_xfer_fd(struct vtpm *v, int fd, const void *req, size_t len, uint8_t *resp,
                    size_t cap, size_t want)
{
    pt_trace(v->name, "ctrl >", req, len);
    pt_write_all(fd, req, len);
    size_t n = pt_read_min(fd, resp, cap, want, PT_REPLY_MS, NULL);
    pt_trace(v->name, "ctrl <", resp, n);
    return n;
}

size_t ctrl_xfer(struct vtpm *v, const void *req, size_t len, uint8_t *resp, size_t cap,
                 size_t want)
{
    int fd = vtpm_ctrl(v);
    if (fd < 0) {
        vtpm_assert_alive(v);
        fail_msg("%s: cannot connect to the control channel: %s", v->name, strerror(errno));
    }
    size_t n = ctrl_xfer_fd(v, fd, req, len, resp, cap, want);
    close(fd);
    return n;
}

uint32_t ctrl_cmd_fd(struct vtpm *v, int fd, uint32_t code, int nargs, const uint32_t *args,
                     size_t rlen, uint8_t *out)
{
    uint8_t req[4 + 4 * 8], resp[4096];
    pt_put32(req, code);
    for (int i = 0; i < nargs; i++)
        pt_put32(req + 4 + 4 * i, args[i]);
    size_t n = fd >= 0 ? ctrl_xfer_fd(v, fd, req, 4 + 4 * (size_t)nargs, resp, sizeof resp, rlen)
                       : ctrl_xfer(v, req, 4 + 4 * (size_t)nargs, resp, sizeof resp, rlen);
    if (n != rlen) {
        vtpm_dump(v);
        fail_msg("%s: control command 0x%02X (%s): expected a %zu-byte reply, got %s", v->name, code,
                 pt_hex(req, 4 + 4 * (size_t)nargs), rlen, pt_hex(resp, n));
    }
    if (out)
        memcpy(out, resp, rlen);
    return pt_get32(resp);
}

uint32_t ctrl_alive(struct vtpm *v)
{
    vtpm_assert_alive(v);
    uint8_t r[8];
    uint32_t res = ctrl_cmd_fd(v, -1, PT_GET_CAPABILITY, 0, NULL, 8, r);
    if (res != 0)
        fail_msg("%s: GET_CAPABILITY: first 4 bytes not zero: %s", v->name, pt_hex(r, 8));
    return pt_get32(r + 4);
}

uint32_t ctrl_set_datafd(struct vtpm *v, int ctrl_fd, int pass)
{
    uint8_t code[4] = { 0, 0, 0, PT_SET_DATAFD };
    union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } cm;
    struct iovec iov = { code, 4 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (pass >= 0) {
        memset(&cm, 0, sizeof cm);
        m.msg_control = cm.b;
        m.msg_controllen = sizeof cm.b;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass, sizeof(int));
    }
    pt_trace(v->name, "ctrl >", code, 4);
    if (sendmsg(ctrl_fd, &m, MSG_NOSIGNAL) != 4)
        fail_msg("sendmsg SET_DATAFD: %s", strerror(errno));
    uint8_t r[64];
    size_t n = pt_read_min(ctrl_fd, r, sizeof r, 4, PT_REPLY_MS, NULL);
    pt_trace(v->name, "ctrl <", r, n);
    if (n != 4)
        fail_msg("%s: SET_DATAFD: expected a 4-byte reply, got %s", v->name, pt_hex(r, n));
    return pt_get32(r);
}

/* ------------------------------------------------------------------ */
/* data channel                                                        */

size_t tpm_xfer(struct vtpm *v, int fd, const void *cmd, size_t len, uint8_t *resp, size_t cap)
{
    pt_trace(v->name, "data >", cmd, len);
    pt_write_all(fd, cmd, len);
    bool eof;
    size_t n = pt_read_min(fd, resp, cap, 10, PT_REPLY_MS, &eof);
    if (n < 10) {
        vtpm_dump(v);
        fail_msg("%s: command %s: short response %s%s", v->name, pt_hex(cmd, len), pt_hex(resp, n),
                 eof ? " (connection closed)" : " (timeout)");
    }
    uint32_t size = pt_get32(resp + 2);
    if (size < 10 || size > cap)
        fail_msg("%s: response size field %u out of range: %s", v->name, size, pt_hex(resp, n));
    if (n < size)
        n += pt_read_min(fd, resp + n, cap - n, size - n, PT_REPLY_MS, NULL);
    pt_trace(v->name, "data <", resp, n);
    if (n != size)
        fail_msg("%s: response size field %u but %zu bytes arrived: %s", v->name, size, n, pt_hex(resp, n));
    return n;
}

uint32_t tpm_rc(const uint8_t *resp) { return pt_get32(resp + 6); }

size_t tpm_ok(struct vtpm *v, int fd, const char *what, const void *cmd, size_t len, uint8_t *resp,
              size_t cap)
{
    size_t n = tpm_xfer(v, fd, cmd, len, resp, cap);
    if (tpm_rc(resp) != 0)
        fail_msg("%s: %s failed: TPM rc 0x%X (response %s)", v->name, what, tpm_rc(resp), pt_hex(resp, n));
    return n;
}

size_t tpm_xfer_prefixed(struct vtpm *v, int fd, uint8_t locality, const void *cmd, size_t len,
                         uint8_t *resp, size_t cap)
{
    uint8_t buf[4200], raw[4200];
    assert_true(len + 9 <= sizeof buf);
    pt_put32(buf, 8);
    buf[4] = locality;
    pt_put32(buf + 5, (uint32_t)len);
    memcpy(buf + 9, cmd, len);
    pt_trace(v->name, "data >", buf, len + 9);
    pt_write_all(fd, buf, len + 9);
    size_t n = pt_read_min(fd, raw, sizeof raw, 4 + 10, PT_REPLY_MS, NULL);
    if (n < 14)
        fail_msg("%s: prefixed command: short response %s", v->name, pt_hex(raw, n));
    uint32_t l = pt_get32(raw);
    if (l < 10 || l + 8 > sizeof raw || l > cap)
        fail_msg("%s: prefixed response length %u out of range: %s", v->name, l, pt_hex(raw, n));
    if (n < l + 8)
        n += pt_read_min(fd, raw + n, sizeof raw - n, l + 8 - n, PT_REPLY_MS, NULL);
    pt_trace(v->name, "data <", raw, n);
    if (n != l + 8)
        fail_msg("%s: prefixed response: length prefix %u, expected %u bytes in all, got %zu: %s",
                 v->name, l, l + 8, n, pt_hex(raw, n));
    if (pt_get32(raw + 4 + 2) != l)
        fail_msg("%s: prefixed response: prefix %u != TPM responseSize %u", v->name, l, pt_get32(raw + 6));
    if (pt_get32(raw + 4 + l) != 0)
        fail_msg("%s: prefixed response: trailer is not u32 0: %s", v->name, pt_hex(raw + 4 + l, 4));
    memcpy(resp, raw + 4, l);
    return l;
}

/* ------------------------------------------------------------------ */
/* TPM 2.0 commands used by the tests                                  */

/* password authorization area for an empty auth: TPM_RS_PW, nonce 0, attrs 0, hmac 0 */
static size_t pt_pw_auth(uint8_t *p)
{
    pt_put32(p, 9);
    pt_put32(p + 4, 0x40000009);
    pt_put16(p + 8, 0);
    p[10] = 0;
    pt_put16(p + 11, 0);
    return 13;
}

size_t tpm_cmd_pcr_extend(uint8_t *c, uint32_t pcr, const uint8_t digest[32])
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x182);
    pt_put32(c + o, pcr); o += 4;
    o += pt_pw_auth(c + o);
    pt_put32(c + o, 1); o += 4;
    pt_put16(c + o, 0x000B); o += 2;
    memcpy(c + o, digest, 32); o += 32;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

size_t tpm_cmd_pcr_read(uint8_t *c, uint32_t pcr)
{
    size_t o = 10;
    pt_put16(c, 0x8001);
    pt_put32(c + 6, 0x17E);
    pt_put32(c + o, 1); o += 4;
    pt_put16(c + o, 0x000B); o += 2;
    c[o++] = 3;
    c[o] = c[o + 1] = c[o + 2] = 0;
    c[o + pcr / 8] = (uint8_t)(1u << (pcr % 8));
    o += 3;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

void tpm_pcr_value(struct vtpm *v, int fd, uint32_t pcr, uint8_t out[32])
{
    uint8_t c[64], r[256];
    size_t n = tpm_ok(v, fd, "TPM2_PCR_Read", c, tpm_cmd_pcr_read(c, pcr), r, sizeof r);
    /* header 10, updateCounter 4, selection 10, count 4, size 2, digest 32 */
    if (n != 62 || pt_get32(r + 24) != 1 || pt_get16(r + 28) != 32)
        fail_msg("%s: unexpected TPM2_PCR_Read response %s", v->name, pt_hex(r, n));
    memcpy(out, r + 30, 32);
}

size_t tpm_cmd_nv_define(uint8_t *c, uint32_t index, uint16_t size)
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x12A);
    pt_put32(c + o, 0x40000001); o += 4;          /* TPM_RH_OWNER */
    o += pt_pw_auth(c + o);
    pt_put16(c + o, 0); o += 2;                   /* auth: empty */
    pt_put16(c + o, 14); o += 2;                  /* TPM2B_NV_PUBLIC size */
    pt_put32(c + o, index); o += 4;
    pt_put16(c + o, 0x000B); o += 2;              /* nameAlg SHA-256 */
    pt_put32(c + o, 0x00020002); o += 4;          /* OWNERWRITE | OWNERREAD */
    pt_put16(c + o, 0); o += 2;                   /* authPolicy */
    pt_put16(c + o, size); o += 2;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

size_t tpm_cmd_nv_write(uint8_t *c, uint32_t index, const uint8_t *data, uint16_t len)
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x137);
    pt_put32(c + o, 0x40000001); o += 4;
    pt_put32(c + o, index); o += 4;
    o += pt_pw_auth(c + o);
    pt_put16(c + o, len); o += 2;
    memcpy(c + o, data, len); o += len;
    pt_put16(c + o, 0); o += 2;                   /* offset */
    pt_put32(c + 2, (uint32_t)o);
    return o;
}

size_t tpm_cmd_nv_read(uint8_t *c, uint32_t index, uint16_t len)
{
    size_t o = 10;
    pt_put16(c, 0x8002);
    pt_put32(c + 6, 0x14E);
    pt_put32(c + o, 0x40000001); o += 4;
    pt_put32(c + o, index); o += 4;
    o += pt_pw_auth(c + o);
    pt_put16(c + o, len); o += 2;
    pt_put16(c + o, 0); o += 2;
    pt_put32(c + 2, (uint32_t)o);
    return o;
}
