/* The TPM data channel of build/svtpm, spoken directly
 * (swtpm-interface.md §2): raw frames over TCP and UnixIO, the 9-byte TCG
 * TPM_SEND_COMMAND prefix and its sticky locality, commands split across
 * writes, bad commandSize values, commands while the TPM is powered off,
 * `--server ...,disconnect`, and `--terminate` with a SET_DATAFD channel.
 * Where swtpm 0.7.1 frames the same way (everything but split and oversized
 * commands, which it mis-frames by design) its replies are compared. */
#include "proto.h"

static bool have_ref(void) { return pt_ref_bin() != NULL; }

static const uint8_t RANDOM_HDR[12] = { 0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 8 };

static void getrandom_checks(struct vtpm *v, uint8_t raw_hdr[12], uint8_t pre_hdr[12])
{
    uint8_t r[256];
    int d = vtpm_data(v);
    pt_say("%s: TPM2_GetRandom(8) raw -> 20-byte response 80 01 00 00 00 14 00 00 00 00 00 08 + 8 bytes", v->name);
    size_t n = tpm_xfer(v, d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    assert_int_equal(n, 20);
    pt_expect_bytes("GetRandom response header", r, 12, RANDOM_HDR, 12);
    memcpy(raw_hdr, r, 12);
    pt_say("%s: the same with the TCG prefix 00000008 00 0000000C -> u32 20 + response + u32 0 (28 bytes)", v->name);
    n = tpm_xfer_prefixed(v, d, 0, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    assert_int_equal(n, 20);
    pt_expect_bytes("prefixed GetRandom response header", r, 12, RANDOM_HDR, 12);
    memcpy(pre_hdr, r, 12);
    pt_say("%s: a raw command after a prefixed one on the same connection", v->name);
    n = tpm_xfer(v, d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    pt_expect_bytes("GetRandom response header", r, 12, RANDOM_HDR, 12);
    pt_say("%s: without disconnect the connection stays open after a response", v->name);
    if (!pt_still_open(d, 200))
        fail_msg("%s: the data connection was closed after a response (no disconnect option)", v->name);
    close(d);
}

static void test_getrandom_tcp(void **state)
{
    (void)state;
    struct vtpm sv, sw;
    uint8_t a[12], b[12], c[12], e[12];
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp", .flags = "not-need-init,startup-clear" });
    getrandom_checks(&sv, a, b);
    if (have_ref()) {
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .server = "tcp", .flags = "not-need-init,startup-clear" });
        getrandom_checks(&sw, c, e);
        pt_same_as_ref("raw GetRandom header", a, 12, c, 12);
        pt_same_as_ref("prefixed GetRandom header", b, 12, e, 12);
        vtpm_stop(&sw);
    }
    vtpm_stop(&sv);
}

static void test_getrandom_unixio(void **state)
{
    (void)state;
    struct vtpm sv;
    uint8_t a[12], b[12];
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "unix", .flags = "not-need-init,startup-clear" });
    getrandom_checks(&sv, a, b);
    vtpm_stop(&sv);
}

/* The prefix's locality byte becomes the locality of later raw commands:
 * TPM2_Startup is accepted from locality 0 or 3 only. Records the 5
 * responses into out. */
static void locality_sequence(struct vtpm *v, uint8_t out[5][32], size_t outn[5])
{
    uint8_t r[256];
    int d = vtpm_data(v);
    printf("    -- %s\n", v->name);
    pt_say("prefixed TPM2_GetRandom with locality 2 before Startup -> TPM_RC_INITIALIZE (0x100)");
    outn[0] = tpm_xfer_prefixed(v, d, 2, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    memcpy(out[0], r, outn[0] > 32 ? 32 : outn[0]);
    assert_int_equal(tpm_rc(r), PT_RC_INITIALIZE);
    pt_say("raw TPM2_Startup(SU_CLEAR): the prefix's locality 2 is still in effect -> TPM_RC_LOCALITY (0x907)");
    outn[1] = tpm_xfer(v, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, r, sizeof r);
    memcpy(out[1], r, outn[1] > 32 ? 32 : outn[1]);
    if (tpm_rc(r) != PT_RC_LOCALITY)
        fail_msg("%s: raw Startup after a locality-2 prefix: rc 0x%X (%s), want 0x907: the prefix locality did not stick",
                 v->name, tpm_rc(r), pt_hex(r, outn[1]));
    pt_say("prefixed TPM2_GetRandom with locality 0 -> TPM_RC_INITIALIZE");
    outn[2] = tpm_xfer_prefixed(v, d, 0, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    memcpy(out[2], r, outn[2] > 32 ? 32 : outn[2]);
    assert_int_equal(tpm_rc(r), PT_RC_INITIALIZE);
    pt_say("raw TPM2_Startup(SU_CLEAR) now at locality 0 -> success");
    outn[3] = tpm_xfer(v, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, r, sizeof r);
    memcpy(out[3], r, outn[3] > 32 ? 32 : outn[3]);
    pt_expect_bytes("Startup at locality 0", r, outn[3], TPM_SUCCESS10, 10);
    pt_say("raw TPM2_GetRandom -> success");
    outn[4] = tpm_xfer(v, d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    memcpy(out[4], r, 12);
    outn[4] = 12;
    pt_expect_bytes("GetRandom header", r, 12, RANDOM_HDR, 12);
    close(d);
}

static void test_prefix_locality_sticks(void **state)
{
    (void)state;
    struct vtpm sv, sw;
    uint8_t a[5][32], b[5][32];
    size_t an[5], bn[5];
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp", .flags = "not-need-init" });
    locality_sequence(&sv, a, an);
    if (have_ref()) {
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .server = "tcp", .flags = "not-need-init" });
        locality_sequence(&sw, b, bn);
        pt_say("all 5 responses identical to swtpm's");
        for (int i = 0; i < 5; i++)
            pt_same_as_ref("locality sequence response", a[i], an[i], b[i], bn[i]);
        vtpm_stop(&sw);
    }
    vtpm_stop(&sv);
}

/* Linux vtpm-proxy's in-band TPM2_CC_SET_LOCALITY (0x20001000), §2.4(3):
 * refused with TPM_RC_FAILURE unless --locality allow-set-locality. */
static int vendor_locality_sequence(struct vtpm *v, bool allowed, uint8_t out[8][16])
{
    static const char *const cmds[] = {
        "80 01 00 00 00 0B 20 00 10 00 05",   /* locality 5 */
        "80 01 00 00 00 0A 20 00 10 00",      /* no locality byte */
        "80 01 00 00 00 0B 20 00 10 00 02",   /* locality 2 */
        "80 01 00 00 00 0C 00 00 01 44 00 00",/* Startup(CLEAR) at locality 2 (when allowed) */
        "80 01 00 00 00 0B 20 00 10 00 00",   /* locality 0 */
        "80 01 00 00 00 0C 00 00 01 44 00 00",/* Startup(CLEAR) at locality 0 */
    };
    static const uint32_t want_allowed[] = { 0x107, 0x9A, 0, PT_RC_LOCALITY, 0, 0 };
    /* swtpm 0.7.1 [observed]: the length is checked before the option, so a
     * command without its locality byte is TPM_RC_INSUFFICIENT even when
     * the in-band command is not allowed */
    static const uint32_t want_refused[] = { PT_RC_FAILURE, 0x9A, PT_RC_FAILURE, 0, PT_RC_FAILURE, PT_RC_INITIALIZE };
    static const char *const what[] = { "locality 5", "no locality byte", "locality 2", "TPM2_Startup",
                                        "locality 0", "TPM2_Startup" };
    printf("    -- %s (%s)\n", v->name, allowed ? "--locality allow-set-locality" : "default");
    int d = vtpm_data(v);
    int k = 0;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        uint8_t c[16], r[64];
        size_t n = 0;
        for (const char *p = cmds[i]; *p; p++)
            if (*p != ' ') {
                sscanf(p, "%2hhx", &c[n++]);
                p++;
            }
        uint32_t want = allowed ? want_allowed[i] : want_refused[i];
        pt_say("%s: %s -> rc 0x%X", what[i], pt_hex(c, n), want);
        size_t m = tpm_xfer(v, d, c, n, r, sizeof r);
        if (tpm_rc(r) != want)
            fail_msg("%s: %s: rc 0x%X (%s), want 0x%X", v->name, what[i], tpm_rc(r), pt_hex(r, m), want);
        memcpy(out[k++], r, m > 16 ? 16 : m);
    }
    close(d);
    return k;
}

static void test_vendor_set_locality(void **state)
{
    (void)state;
    for (int allowed = 1; allowed >= 0; allowed--) {
        uint8_t a[8][16], b[8][16];
        struct vtpm sv, sw;
        struct vtpm_opts o = { .server = "tcp", .flags = "not-need-init",
                               .locality = allowed ? "allow-set-locality" : NULL };
        vtpm_start(&sv, &o);
        int k = vendor_locality_sequence(&sv, allowed, a);
        vtpm_stop(&sv);
        if (have_ref()) {
            o.ref = true;
            vtpm_start(&sw, &o);
            vendor_locality_sequence(&sw, allowed, b);
            vtpm_stop(&sw);
            pt_say("all %d responses identical to swtpm's", k);
            for (int i = 0; i < k; i++)
                pt_same_as_ref("in-band SET_LOCALITY sequence", a[i], 10, b[i], 10);
        }
    }
}

/* Writes `cmd` in pieces (cut points), sleeping between them. */
static void write_split(int fd, const uint8_t *cmd, size_t len, const size_t *cuts, int ncuts, int ms)
{
    size_t at = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        pt_write_all(fd, cmd + at, end - at);
        at = end;
        if (i < ncuts)
            pt_sleep_ms(ms);
    }
}

static void test_split_command(void **state)
{
    (void)state;
    struct vtpm sv;
    uint8_t r[256];
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp", .flags = "not-need-init,startup-clear" });
    int d = vtpm_data(&sv);
    struct { const char *what; size_t cuts[12]; int n; int ms; } plans[] = {
        { "5 + 7 bytes, 200 ms apart", { 5 }, 1, 200 },
        { "10-byte header + 2-byte body, 200 ms apart", { 10 }, 1, 200 },
        { "1 byte at a time, 20 ms apart", { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, 11, 20 },
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        pt_say("TPM2_GetRandom split as %s -> one correct response", plans[i].what);
        write_split(d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, plans[i].cuts, plans[i].n, plans[i].ms);
        size_t n = pt_read_min(d, r, sizeof r, 20, PT_REPLY_MS, NULL);
        if (n != 20)
            fail_msg("split command (%s): got %s", plans[i].what, pt_hex(r, n));
        pt_expect_bytes("split GetRandom header", r, 12, RANDOM_HDR, 12);
    }
    pt_say("prefixed TPM2_GetRandom: the 9-byte prefix, 200 ms, then the command -> 28-byte framed response");
    uint8_t pre[9 + 12] = { 0, 0, 0, 8, 0, 0, 0, 0, 12 };
    memcpy(pre + 9, TPM_GETRANDOM8, 12);
    size_t cut = 9;
    write_split(d, pre, sizeof pre, &cut, 1, 200);
    size_t n = pt_read_min(d, r, sizeof r, 28, PT_REPLY_MS, NULL);
    if (n != 28 || pt_get32(r) != 20 || pt_get32(r + 24) != 0)
        fail_msg("split prefixed command: got %s", pt_hex(r, n));
    pt_expect_bytes("split prefixed GetRandom header", r + 4, 12, RANDOM_HDR, 12);
    pt_say("two commands in one write -> two responses, in order");
    uint8_t two[24];
    memcpy(two, TPM_GETRANDOM8, 12);
    memcpy(two + 12, TPM_READCLOCK, 10);
    pt_write_all(d, two, 22);
    n = pt_read_min(d, r, sizeof r, 20, PT_REPLY_MS, NULL);
    if (n < 20)
        fail_msg("pipelined commands: got %s", pt_hex(r, n));
    pt_expect_bytes("first response header", r, 12, RANDOM_HDR, 12);
    if (n < 20 + 10)
        n += pt_read_min(d, r + n, sizeof r - n, 20 + 10 - n, PT_REPLY_MS, NULL);
    if (n < 30 || pt_get32(r + 20 + 2) + 20 != n || tpm_rc(r + 20) != 0)
        fail_msg("pipelined commands: second response %s", pt_hex(r + 20, n > 20 ? n - 20 : 0));
    close(d);
    vtpm_stop(&sv);
}

static void expect_closed_silently(struct vtpm *v, const char *what, const void *req, size_t len)
{
    int d = vtpm_data(v);
    pt_say("%s: %s -> connection closed, no response", what, pt_hex(req, len));
    pt_write_all(d, req, len);
    size_t got = 0;
    bool closed = pt_wait_closed(d, 10000, &got);
    close(d);
    if (!closed || got)
        fail_msg("%s: %s: %s, %zu response bytes (want: closed without a response)", v->name, what,
                 closed ? "closed" : "NOT closed within 10 s", got);
    vtpm_assert_alive(v);
}

static void test_bad_command_size(void **state)
{
    (void)state;
    struct vtpm sv;
    uint8_t r[4200];
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp", .flags = "not-need-init,startup-clear" });
    static const uint32_t sizes[] = { 0, 8, 9, 4097, 0x10000, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t h[10] = { 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0x01, 0x7B };
        pt_put32(h + 2, sizes[i]);
        char what[64];
        snprintf(what, sizeof what, "commandSize %u", sizes[i]);
        expect_closed_silently(&sv, what, h, sizeof h);
    }
    static const uint32_t inner[] = { 5, 4097, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof inner / sizeof inner[0]; i++) {
        uint8_t p[9 + 12] = { 0, 0, 0, 8, 0 };
        pt_put32(p + 5, inner[i]);
        memcpy(p + 9, TPM_GETRANDOM8, 12);
        char what[64];
        snprintf(what, sizeof what, "TCG prefix with size %u", inner[i]);
        expect_closed_silently(&sv, what, p, sizeof p);
    }
    pt_say("the server still serves new connections: TPM2_GetRandom");
    int d = vtpm_data(&sv);
    tpm_ok(&sv, d, "TPM2_GetRandom", TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    close(d);

    pt_say("a 4096-byte command (the maximum; GetRandom with 4084 trailing bytes) gets a TPM error response");
    uint8_t *big = calloc(1, 4096);
    assert_non_null(big);
    memcpy(big, TPM_GETRANDOM8, 12);
    pt_put32(big + 2, 4096);
    d = vtpm_data(&sv);
    size_t n = tpm_xfer(&sv, d, big, 4096, r, sizeof r);
    printf("      svtpm: %s\n", pt_hex(r, n));
    assert_true(tpm_rc(r) != 0);
    close(d);
    if (have_ref()) {
        struct vtpm sw;
        uint8_t rr[4200];
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .server = "tcp", .flags = "not-need-init,startup-clear" });
        d = vtpm_data(&sw);
        size_t m = tpm_xfer(&sw, d, big, 4096, rr, sizeof rr);
        close(d);
        pt_same_as_ref("response to a 4096-byte command", r, n, rr, m);
        vtpm_stop(&sw);
    }
    free(big);
    vtpm_stop(&sv);
}

/* A command larger than the buffer size QEMU negotiated (tpm-crb: 3968). */
static void over_buffer_sequence(struct vtpm *v, uint8_t *r, size_t cap, size_t *n1, size_t *n2)
{
    uint32_t zero = 0, crb = 3968;
    printf("    -- %s\n", v->name);
    pt_say("SET_BUFFERSIZE(3968) while stopped, INIT(0), TPM2_Startup");
    assert_int_equal(ctrl_cmd_fd(v, -1, PT_SET_BUFFERSIZE, 1, &crb, 16, NULL), 0);
    assert_int_equal(ctrl_cmd_fd(v, -1, PT_INIT, 1, &zero, 4, NULL), 0);
    int d = vtpm_data(v);
    uint8_t s[16];
    size_t n = tpm_xfer(v, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, s, sizeof s);
    pt_expect_bytes("Startup", s, n, TPM_SUCCESS10, 10);
    uint8_t *big = calloc(1, 4000);
    assert_non_null(big);
    memcpy(big, TPM_GETRANDOM8, 12);
    pt_put32(big + 2, 3968);
    pt_say("a 3968-byte command (= the buffer size) -> a TPM response");
    *n1 = tpm_xfer(v, d, big, 3968, r, cap);
    printf("      %s\n", pt_hex(r, *n1));
    pt_put32(big + 2, 4000);
    pt_say("a 4000-byte command (> the buffer size) -> a TPM error response");
    *n2 = tpm_xfer(v, d, big, 4000, r + 64, cap - 64);
    printf("      %s\n", pt_hex(r + 64, *n2));
    assert_true(tpm_rc(r + 64) != 0);
    free(big);
    close(d);
}

static void test_command_over_buffer_size(void **state)
{
    (void)state;
    struct vtpm sv, sw;
    uint8_t a[256], b[256];
    size_t a1, a2, b1, b2;
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp" });
    over_buffer_sequence(&sv, a, sizeof a, &a1, &a2);
    vtpm_stop(&sv);
    if (have_ref()) {
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .server = "tcp" });
        over_buffer_sequence(&sw, b, sizeof b, &b1, &b2);
        vtpm_stop(&sw);
        pt_same_as_ref("response to a command of the buffer size", a, a1, b, b1);
        pt_same_as_ref("response to a command over the buffer size", a + 64, a2, b + 64, b2);
    }
}

/* Commands while the TPM is off, on, and stopped again; records every
 * response (GetRandom's random bytes cut off). */
static int powered_off_sequence(struct vtpm *v, uint8_t out[8][32], size_t outn[8])
{
    uint8_t r[256];
    int k = 0;
    uint32_t zero = 0;
    printf("    -- %s\n", v->name);
    int d = vtpm_data(v);
    pt_say("TPM2_ReadClock before INIT -> 80 01 00 00 00 0A 00 00 01 01 (TPM_RC_FAILURE)");
    size_t n = tpm_xfer(v, d, TPM_READCLOCK, sizeof TPM_READCLOCK, r, sizeof r);
    pt_expect_bytes("ReadClock while powered off", r, n, PT_RC_FAILURE_RESP, 10);
    memcpy(out[k], r, n); outn[k++] = n;
    pt_say("TPM2_GetRandom before INIT, with the TCG prefix -> 0000000A + the same 10 bytes + 00000000");
    n = tpm_xfer_prefixed(v, d, 0, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    pt_expect_bytes("prefixed GetRandom while powered off", r, n, PT_RC_FAILURE_RESP, 10);
    memcpy(out[k], r, n); outn[k++] = n;
    pt_say("CMD_INIT(0), TPM2_Startup(SU_CLEAR), TPM2_GetRandom -> success");
    assert_int_equal(ctrl_cmd_fd(v, -1, PT_INIT, 1, &zero, 4, NULL), 0);
    n = tpm_xfer(v, d, TPM_STARTUP_CLEAR, sizeof TPM_STARTUP_CLEAR, r, sizeof r);
    pt_expect_bytes("Startup", r, n, TPM_SUCCESS10, 10);
    memcpy(out[k], r, n); outn[k++] = n;
    n = tpm_ok(v, d, "TPM2_GetRandom", TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    memcpy(out[k], r, 12); outn[k++] = 12;
    pt_say("CMD_STOP, then TPM2_GetRandom -> TPM_RC_FAILURE 10 bytes; the data connection survives");
    assert_int_equal(ctrl_cmd_fd(v, -1, PT_STOP, 0, NULL, 4, NULL), 0);
    n = tpm_xfer(v, d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    pt_expect_bytes("GetRandom after STOP", r, n, PT_RC_FAILURE_RESP, 10);
    memcpy(out[k], r, n); outn[k++] = n;
    pt_say("CMD_INIT(0) again: TPM2_GetRandom before Startup -> TPM_RC_INITIALIZE");
    assert_int_equal(ctrl_cmd_fd(v, -1, PT_INIT, 1, &zero, 4, NULL), 0);
    n = tpm_xfer(v, d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    assert_int_equal(tpm_rc(r), PT_RC_INITIALIZE);
    memcpy(out[k], r, n); outn[k++] = n;
    close(d);
    return k;
}

static void test_powered_off(void **state)
{
    (void)state;
    struct vtpm sv, sw;
    uint8_t a[8][32], b[8][32];
    size_t an[8], bn[8];
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp" });
    int k = powered_off_sequence(&sv, a, an);
    if (have_ref()) {
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .server = "tcp" });
        powered_off_sequence(&sw, b, bn);
        pt_say("all %d responses identical to swtpm's", k);
        for (int i = 0; i < k; i++)
            pt_same_as_ref("powered-off sequence response", a[i], an[i], b[i], bn[i]);
        vtpm_stop(&sw);
    }
    vtpm_stop(&sv);
}

static void disconnect_sequence(struct vtpm *v)
{
    uint8_t r[256];
    printf("    -- %s\n", v->name);
    for (int i = 0; i < 3; i++) {
        int d = vtpm_data(v);
        pt_say("connection %d: TPM2_GetRandom -> full response, then the server closes", i + 1);
        size_t n = tpm_xfer(v, d, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
        pt_expect_bytes("GetRandom header", r, n >= 12 ? 12 : n, RANDOM_HDR, 12);
        size_t extra = 0;
        bool closed = pt_wait_closed(d, 10000, &extra);
        close(d);
        if (!closed || extra)
            fail_msg("%s: with disconnect: %s after the response, %zu more bytes", v->name,
                     closed ? "closed" : "NOT closed", extra);
    }
    int d = vtpm_data(v);
    pt_say("prefixed TPM2_GetRandom -> 28 bytes, then closed");
    tpm_xfer_prefixed(v, d, 0, TPM_GETRANDOM8, sizeof TPM_GETRANDOM8, r, sizeof r);
    bool closed = pt_wait_closed(d, 10000, NULL);
    close(d);
    if (!closed)
        fail_msg("%s: with disconnect: not closed after a prefixed response", v->name);
    ctrl_alive(v);
}

static void test_disconnect(void **state)
{
    (void)state;
    struct vtpm sv, sw;
    vtpm_start(&sv, &(struct vtpm_opts){ .server = "tcp", .disconnect = true,
                                          .flags = "not-need-init,startup-clear" });
    disconnect_sequence(&sv);
    if (have_ref()) {
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .server = "tcp", .disconnect = true,
                                              .flags = "not-need-init,startup-clear" });
        disconnect_sequence(&sw);
        vtpm_stop(&sw);
    }
    vtpm_stop(&sv);
}

/* --terminate: the process exits when the SET_DATAFD channel hangs up.
 * Returns the exit status. */
static int terminate_sequence(struct vtpm *v)
{
    printf("    -- %s\n", v->name);
    int c = vtpm_ctrl(v);
    assert_true(c >= 0);
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    pt_say("SET_DATAFD -> 00000000, the probe answers");
    assert_int_equal(ctrl_set_datafd(v, c, sp[1]), 0);
    close(sp[1]);
    uint8_t r[64];
    pt_write_all(sp[0], TPM_READCLOCK, sizeof TPM_READCLOCK);
    ssize_t n = pt_read_once(sp[0], r, sizeof r, PT_REPLY_MS);
    pt_expect_bytes("probe", r, n > 0 ? (size_t)n : 0, PT_RC_FAILURE_RESP, 10);
    close(c);
    pt_say("closing the data fd makes the process exit");
    close(sp[0]);
    if (!vtpm_wait_exit(v, PT_EXIT_MS)) {
        vtpm_dump(v);
        fail_msg("%s --terminate: still running %d ms after the data fd hung up", v->name, PT_EXIT_MS);
    }
    printf("      exit status: %s %d\n", WIFEXITED(v->wstatus) ? "exit" : "signal",
           WIFEXITED(v->wstatus) ? WEXITSTATUS(v->wstatus) : WTERMSIG(v->wstatus));
    if (!WIFEXITED(v->wstatus)) {
        vtpm_dump(v);
        fail_msg("%s --terminate: killed by signal %d", v->name, WTERMSIG(v->wstatus));
    }
    struct stat st;
    pt_say("its control socket is unlinked");
    if (lstat(v->ctrl, &st) == 0)
        fail_msg("%s: control socket %s still exists after the exit", v->name, v->ctrl);
    int status = v->wstatus;
    v->pid = 0;
    vtpm_check_sanitizer(v);
    return status;
}

static void test_terminate_with_datafd(void **state)
{
    (void)state;
    struct vtpm sv, sw;
    vtpm_start(&sv, &(struct vtpm_opts){ .terminate = true });
    int st = terminate_sequence(&sv);
    if (have_ref()) {
        vtpm_start(&sw, &(struct vtpm_opts){ .ref = true, .terminate = true });
        int st2 = terminate_sequence(&sw);
        pt_say("same exit status as swtpm (%d)", WEXITSTATUS(st2));
        assert_int_equal(WEXITSTATUS(st), WEXITSTATUS(st2));
    }

    pt_say("without --terminate, closing the data fd leaves the process running");
    struct vtpm v;
    vtpm_start(&v, &(struct vtpm_opts){ 0 });
    int c = vtpm_ctrl(&v);
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    assert_int_equal(ctrl_set_datafd(&v, c, sp[1]), 0);
    close(sp[1]);
    close(c);
    close(sp[0]);
    pt_sleep_ms(200);
    vtpm_assert_alive(&v);
    ctrl_alive(&v);
    vtpm_stop(&v);
}

int main(void)
{
    pt_init();
#define T(f) cmocka_unit_test_teardown(f, pt_teardown)
    const struct CMUnitTest tests[] = {
        T(test_getrandom_tcp),
        T(test_getrandom_unixio),
        T(test_prefix_locality_sticks),
        T(test_vendor_set_locality),
        T(test_split_command),
        T(test_bad_command_size),
        T(test_command_over_buffer_size),
        T(test_powered_off),
        T(test_disconnect),
        T(test_terminate_with_datafd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
