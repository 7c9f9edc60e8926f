/* Fuzz target: the control-channel framing and parser (src/host/ctrl_proto.h).
 *
 * The input is what one client writes on a control connection. It is framed
 * as src/host/ctrl.c read_request() does: ask ctrl_need() how much more is
 * needed, take exactly that much, repeat until it says complete; then, for
 * SET_LOCALITY-style commands, take up to req_max - req_min padding bytes.
 * The complete frame goes to ctrl_parse(); whatever follows is the next
 * request. Invariants checked:
 *   - ctrl_need is consistent: for every prefix between two framing steps it
 *     names the same end, so a short read never makes the server overshoot a
 *     request into the next one;
 *   - every frame read_request can produce parses (framing and parsing agree);
 *   - ctrl_parse only reports pointers inside the input, and lengths within
 *     the named limits; a known command's payload fits its table entry;
 *   - ctrl_error_reply never writes over cap and writes result + zeros. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "bytes.h"
#include "ctrl_proto.h"
#include "fuzz_common.h"

/* The server's request buffer: the biggest frame it accepts. */
#define CBUF_CAP (4 + 12 + SVTPM_SEALED_REC_MAX)

static void check_error_reply(uint32_t code, uint32_t result)
{
    const struct ctrl_desc *d = ctrl_desc(code);
    size_t full = d ? d->err_reply : 4;
    FZ_CHECK(full >= 4 && full <= 16);   /* ctrl.c reply_err uses a 16-byte buffer */
    uint8_t out[64];
    for (size_t cap = 0; cap <= 17; cap++) {
        memset(out, 0xAA, sizeof out);   /* canary: nothing at or past cap may change */
        size_t n = ctrl_error_reply(code, result, out, cap);
        FZ_CHECK(n <= cap);
        FZ_CHECK(n == (full < cap ? full : cap));
        if (n >= 4)
            FZ_CHECK(get_be32(out) == result);
        for (size_t i = n >= 4 ? 4 : 0; i < n; i++)
            FZ_CHECK(out[i] == 0);
        for (size_t i = n; i < sizeof out; i++)
            FZ_CHECK(out[i] == 0xAA);
    }
}

static void check_parsed(const uint8_t *buf, size_t len, const struct ctrl_req *r)
{
    FZ_CHECK(len >= 4);
    FZ_CHECK(r->code == get_be32(buf));
    FZ_CHECK(r->d == ctrl_desc(r->code));
    FZ_CHECK(r->payload == buf + 4 && r->payload_len == len - 4);
    if (r->data) {
        FZ_CHECK(r->data >= buf + 4);
        FZ_CHECK((size_t)(r->data - buf) <= len);
        FZ_CHECK(r->data_len <= len - (size_t)(r->data - buf));
        FZ_CHECK(r->data + r->data_len == buf + len);   /* bodies end the request */
    }
    if (!r->d)
        return;
    FZ_CHECK(r->payload_len >= r->d->req_min);
    FZ_CHECK(r->payload_len <= (size_t)r->d->req_max + r->data_len);
    switch (r->code) {
    case CMD_HASH_DATA:
        FZ_CHECK(r->data && r->data_len <= PTM_HASH_DATA_MAX);
        FZ_CHECK(r->data_len == get_be32(buf + 4));
        break;
    case CMD_SET_STATEBLOB:
        FZ_CHECK(r->data && r->data_len <= SVTPM_SEALED_REC_MAX);
        FZ_CHECK(r->data_len == get_be32(buf + 12));
        FZ_CHECK(r->u32a == get_be32(buf + 4) && r->u32b == get_be32(buf + 8));
        break;
    case CMD_SET_LOCALITY:
    case CMD_RESET_TPMESTABLISHED:
        FZ_CHECK(r->loc == buf[4]);
        break;
    case CMD_INIT:
    case CMD_SET_BUFFERSIZE:
    case CMD_LOCK_STORAGE:
        FZ_CHECK(r->u32a == get_be32(buf + 4));
        break;
    case CMD_GET_STATEBLOB:
        FZ_CHECK(r->u32a == get_be32(buf + 4) && r->u32b == get_be32(buf + 8) &&
                 r->u32c == get_be32(buf + 12));
        break;
    case CMD_GET_INFO:
        FZ_CHECK(r->u64 == get_be64(buf + 4) && r->u32a == get_be32(buf + 12));
        break;
    default:
        FZ_CHECK(r->data == NULL);
        break;
    }
}

/* Frames one request from in[0..n) as read_request() does. Returns its
 * length (0: the stream ended first, or a length field was refused). */
static size_t frame(const uint8_t *in, size_t n, bool *refused)
{
    size_t len = 0, need = 4;
    *refused = false;
    while (need > 0) {
        if (len + need > CBUF_CAP || len + need > n)
            return 0;
        size_t target = len + need;
        /* A short read may deliver any part of what was asked for: every
         * intermediate prefix must name the same end. Checking every prefix
         * is quadratic, so check a few (all of them for small frames). */
        size_t step = need <= 64 ? 1 : need / 16;
        for (size_t j = len + 1; j < target; j += step) {
            size_t nj;
            FZ_CHECK(ctrl_need(in, j, &nj) == SVTPM_OK);
            FZ_CHECK(j + nj == target);
        }
        len = target;
        if (ctrl_need(in, len, &need) != SVTPM_OK) {
            *refused = true;
            /* only the two length fields may be refused */
            uint32_t code = get_be32(in);
            FZ_CHECK(code == CMD_HASH_DATA || code == CMD_SET_STATEBLOB);
            return 0;
        }
        FZ_CHECK(need <= SVTPM_SEALED_REC_MAX + 16);
    }
    const struct ctrl_desc *d = ctrl_desc(get_be32(in));
    if (d && d->req_max > d->req_min && len == 4 + d->req_min) {
        size_t extra = d->req_max - d->req_min;
        if (extra > n - len)
            extra = n - len;
        len += extra;
    }
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The raw input as one buffer: nothing may crash or read past it. */
    size_t need;
    (void)ctrl_need(data, size, &need);
    struct ctrl_req r;
    if (ctrl_parse(data, size, &r) == SVTPM_OK)
        check_parsed(data, size, &r);

    size_t off = 0;
    for (int requests = 0; off < size && requests < 16; requests++) {
        bool refused;
        size_t len = frame(data + off, size - off, &refused);
        if (refused) {
            check_error_reply(get_be32(data + off), PTM_BAD_PARAMETER);
            break;
        }
        if (!len) {
            /* the stream ended mid-request: the server drops it, but the
             * parser must still refuse the fragment safely */
            if (ctrl_parse(data + off, size - off, &r) == SVTPM_OK)
                check_parsed(data + off, size - off, &r);
            break;
        }
        /* Copy the frame into a buffer of exactly its size, so ASan flags
         * any read past the request. */
        uint8_t *buf = malloc(len);
        FZ_CHECK(buf);
        memcpy(buf, data + off, len);
        svtpm_err err = ctrl_parse(buf, len, &r);
        FZ_CHECK(err == SVTPM_OK);       /* every frame read_request builds parses */
        check_parsed(buf, len, &r);
        check_error_reply(r.code, PTM_BAD_PARAMETER);
        check_error_reply(r.code, r.code ^ 0x5A5A5A5Au);
        /* A frame with its last byte cut must not parse as the same command
         * with a body (lengths are exact). */
        if (len > 4 && ctrl_parse(buf, len - 1, &r) == SVTPM_OK)
            check_parsed(buf, len - 1, &r);
        free(buf);
        off += len;
    }
    return 0;
}
