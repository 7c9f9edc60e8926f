/* svtpm-timeauth: a local time authority (issue 5, trusted clock). It holds
 * an Ed25519 key and signs time tokens (common/timetoken.h): the current
 * time together with a nonce the enclave chose. Later the KMC takes this
 * role; the token format stays. A tenant pins the authority's raw public key
 * (`pubkey`); the token names it by its id, SHA-256 of that key.
 *
 * Key handling, hex, file reading and writing follow svtpm-tenant
 * (tools/tenant.c); the helpers marked "as tenant.c" are copies of its
 * static functions, kept identical so they can be factored out together. */
#include "bytes.h"
#include "edtool.h"
#include "timetoken.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

const char tool_name[] = "svtpm-timeauth";

static const char usage_text[] =
    "usage: svtpm-timeauth COMMAND [OPTIONS]\n"
    "  keygen --out KEY.pem             new Ed25519 authority key (mode 0600); prints the authority id\n"
    "  id --key KEY.pem                 prints the authority id (SHA-256 of the raw public key)\n"
    "  pubkey --key KEY.pem --out PUB   writes the raw 32-byte public key (what a tenant pins)\n"
    "  sign --key KEY.pem --nonce HEX64 --out FILE\n"
    "       [--time-ms N (now)]         the time to sign, ms since the Unix epoch (> 0)\n"
    "       [--accuracy-ms N (0)]       the authority's bound on its own error, ms\n"
    "       writes a 156-byte time token over the enclave's 32-byte nonce\n"
    "  serve --key KEY.pem --port P [--time-file F]\n"
    "       answers each connection on 127.0.0.1:P (a 32-byte nonce) with a token; while F\n"
    "       holds a number, signs that time instead of the real one (tests)\n"
    "  show FILE [--pubkey PUB]         prints a time token; with --pubkey, checks that the\n"
    "                                   token names that key and that its signature verifies\n"
    "exit status: 0 ok, 1 error, wrong authority or invalid signature, 2 usage error\n";

enum cmd { C_KEYGEN = 1, C_ID = 2, C_PUBKEY = 4, C_SIGN = 8, C_SHOW = 16, C_SERVE = 32 };
enum opt { O_KEY, O_OUT, O_NONCE, O_TIME, O_ACCURACY, O_PUBKEY, O_PORT, O_TIMEFILE, O__N };

static const struct tool_opt opt_defs[O__N] = {
    [O_KEY] = { "--key", C_ID | C_PUBKEY | C_SIGN | C_SERVE },
    [O_OUT] = { "--out", C_KEYGEN | C_PUBKEY | C_SIGN },
    [O_NONCE] = { "--nonce", C_SIGN },
    [O_TIME] = { "--time-ms", C_SIGN },
    [O_ACCURACY] = { "--accuracy-ms", C_SIGN },
    [O_PUBKEY] = { "--pubkey", C_SHOW },
    [O_PORT] = { "--port", C_SERVE },
    [O_TIMEFILE] = { "--time-file", C_SERVE },
};

struct args {
    const char *one[O__N];
    const char *file;               /* show's operand */
};

/* Never replaces a key file: tenants pin the authority's key, and losing it
 * means every tenant must pin a new one. */
static int cmd_keygen(const struct args *a)
{
    return keygen_to(a->one[O_OUT]);
}

static int cmd_id(const struct args *a)
{
    return print_id_of(a->one[O_KEY]);
}

static int cmd_pubkey(const struct args *a)
{
    uint8_t pub[32];
    EVP_PKEY *pk = load_key(a->one[O_KEY]);
    int rc = pk && raw_pub(pk, pub) ? write_atomic(a->one[O_OUT], pub, 32, 0644, true) : 1;
    EVP_PKEY_free(pk);
    return rc;
}

/* CLOCK_REALTIME in ms since the epoch; 0 if the clock is before it. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int cmd_sign(const struct args *a)
{
    struct timetoken t = { 0 };
    uint8_t doc[TIMETOKEN_LEN], pub[32];
    uint64_t acc = 0;
    /* the values' syntax was checked in check_values */
    from_hex(a->one[O_NONCE], t.nonce, 32);
    if (a->one[O_TIME])
        parse_u64(a->one[O_TIME], UINT64_MAX, &t.time_ms);
    else if ((t.time_ms = now_ms()) == 0)
        return fail("the system clock is before 1970");
    if (a->one[O_ACCURACY])
        parse_u64(a->one[O_ACCURACY], UINT32_MAX, &acc);
    t.accuracy_ms = (uint32_t)acc;
    EVP_PKEY *pk = load_key(a->one[O_KEY]);
    int rc = 1;
    if (pk && !raw_pub(pk, pub))
        rc = fail("cannot read the public key of %s", a->one[O_KEY]);
    else if (pk && !sha256(pub, 32, t.authority_id))
        rc = fail("SHA-256 failed");
    else if (pk)
        rc = sign_and_write(pk, doc, timetoken_pack_body(&t, doc, TIMETOKEN_SIGNED_LEN), a->one[O_OUT]);
    EVP_PKEY_free(pk);
    return rc;
}

/* The time to sign: real time, or while `file` holds a number, that number
 * (a test's authority that stops or jumps). */
static uint64_t serve_time(const char *file)
{
    uint8_t buf[32];
    uint64_t v = 0;
    ssize_t n = file && access(file, R_OK) == 0 ? read_small(file, buf, sizeof buf - 1) : -1;
    if (n > 0) {
        buf[n] = '\0';
        buf[strcspn((char *)buf, "\n")] = '\0';
        if (parse_u64((char *)buf, UINT64_MAX, &v) && v)
            return v;
    }
    return now_ms();
}

/* One token per connection: read the nonce, sign, answer. Loopback only: a
 * stand-in for the KMC's time service in tests and labs. */
static int cmd_serve(const struct args *a)
{
    uint64_t port = 0;
    uint8_t pub[32];
    struct timetoken t = { 0 };
    EVP_PKEY *pk = load_key(a->one[O_KEY]);
    int rc = 1, fd = -1, one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (!pk || !raw_pub(pk, pub) || !sha256(pub, 32, t.authority_id))
        goto out;
    if (!parse_u64(a->one[O_PORT], 65535, &port) || port == 0) {
        rc = usage_error("--port must be 1..65535");
        goto out;
    }
    sa.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        rc = fail("cannot listen on 127.0.0.1:%" PRIu64 ": %s", port, strerror(errno));
        goto out;
    }
    fprintf(stderr, "%s: serving time tokens on 127.0.0.1:%" PRIu64 "\n", tool_name, port);
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        uint8_t doc[TIMETOKEN_LEN];
        struct timeval tv = { .tv_sec = 2 };
        size_t got = 0;
        ssize_t n = 1;
        if (c < 0)
            continue;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (got < 32 && (n = read(c, t.nonce + got, 32 - got)) > 0)
            got += (size_t)n;
        t.time_ms = serve_time(a->one[O_TIMEFILE]);
        if (got == 32 && t.time_ms && sign_doc(pk, doc, timetoken_pack_body(&t, doc, TIMETOKEN_SIGNED_LEN)) &&
            write(c, doc, sizeof doc) != (ssize_t)sizeof doc)
            fprintf(stderr, "%s: a client went away\n", tool_name);
        close(c);
    }
out:
    if (fd >= 0)
        close(fd);
    EVP_PKEY_free(pk);
    return rc;
}

static int cmd_show(const struct args *a)
{
    uint8_t buf[TIMETOKEN_LEN + 1];   /* one more: an overlong file reads as too big */
    uint8_t pub[33];
    char hex[65], when[48] = "?";
    struct timetoken t;
    ssize_t n = read_small(a->file, buf, sizeof buf);
    if (n < 0)
        return 1;
    svtpm_err err = timetoken_parse(buf, (size_t)n, &t);
    if (err != SVTPM_OK)
        return fail("%s: not a valid time token (%s)", a->file, svtpm_strerror(err));
    ssize_t pn = 0;
    if (a->one[O_PUBKEY] && (pn = read_small(a->one[O_PUBKEY], pub, sizeof pub)) < 0)
        return 1;
    if (a->one[O_PUBKEY] && pn != 32)
        return fail("%s: not a raw 32-byte Ed25519 public key (%zd bytes)", a->one[O_PUBKEY], pn);

    struct tm tm;
    time_t secs = (time_t)(t.time_ms / 1000);
    if ((uint64_t)secs == t.time_ms / 1000 && gmtime_r(&secs, &tm)) {
        size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        if (k)
            snprintf(when + k, sizeof when - k, ".%03uZ", (unsigned)(t.time_ms % 1000));
    }
    printf("time token %s\n", a->file);
    to_hex(t.nonce, 32, hex);
    printf("  nonce:        %s\n", hex);
    printf("  time ms:      %" PRIu64 " (%s)\n", t.time_ms, when);
    printf("  accuracy ms:  %" PRIu32 "\n", t.accuracy_ms);
    to_hex(t.authority_id, 32, hex);
    printf("  authority id: %s\n", hex);
    if (!a->one[O_PUBKEY]) {
        printf("signature: not checked (no --pubkey)\n");
        return 0;
    }
    uint8_t id[32];
    if (!sha256(pub, 32, id))
        return fail("SHA-256 failed");
    /* Both are checked and shown: a token can name another authority yet
     * carry a signature by this key, or name this key with a bad signature. */
    bool same = memcmp(id, t.authority_id, 32) == 0;
    bool valid = ed25519_verify(pub, buf, TIMETOKEN_SIGNED_LEN, t.signature);
    to_hex(id, 32, hex);
    printf("authority: %s (%s is %s)\n", same ? "matches" : "MISMATCH", a->one[O_PUBKEY], hex);
    printf("signature: %s\n", valid ? "valid" : "INVALID");
    return same && valid ? 0 : 1;
}

static const struct command {
    const char *name;
    unsigned bit, need;             /* need: bit set of required enum opt */
    int (*run)(const struct args *);
} commands[] = {
    { "keygen", C_KEYGEN, 1u << O_OUT, cmd_keygen },
    { "id", C_ID, 1u << O_KEY, cmd_id },
    { "pubkey", C_PUBKEY, 1u << O_KEY | 1u << O_OUT, cmd_pubkey },
    { "sign", C_SIGN, 1u << O_KEY | 1u << O_NONCE | 1u << O_OUT, cmd_sign },
    { "show", C_SHOW, 0, cmd_show },
    { "serve", C_SERVE, 1u << O_KEY | 1u << O_PORT, cmd_serve },
};

/* The syntax of option values is a usage error (2), before any file is
 * touched: a malformed nonce or time never reaches the key. */
static int check_values(const struct args *a)
{
    uint8_t nonce[32];
    uint64_t v;
    if (a->one[O_NONCE] && !from_hex(a->one[O_NONCE], nonce, 32))
        return usage_error("--nonce must be 64 hex digits (32 bytes), not '%s'", a->one[O_NONCE]);
    if (a->one[O_TIME] && (!parse_u64(a->one[O_TIME], UINT64_MAX, &v) || v == 0))
        return usage_error("--time-ms must be 1..18446744073709551615 (ms since the Unix epoch), not '%s'",
                           a->one[O_TIME]);
    if (a->one[O_ACCURACY] && !parse_u64(a->one[O_ACCURACY], UINT32_MAX, &v))
        return usage_error("--accuracy-ms must be 0..4294967295, not '%s'", a->one[O_ACCURACY]);
    return 0;
}

static int parse_args(int argc, char **argv, const struct command *c, struct args *a)
{
    const struct tool_cmd_args ca = {
        .cmd = c->name, .bit = c->bit, .need = c->need, .takes_file = c->bit == C_SHOW,
        .opts = opt_defs, .n_opts = O__N, .one = a->one, .file = &a->file,
    };
    int rc = tool_parse(argc, argv, &ca);
    return rc ? rc : check_values(a);
}

static bool run(int argc, char **argv, int *rc)
{
    struct args a = { 0 };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            *rc = parse_args(argc, argv, &commands[i], &a);
            *rc = *rc ? *rc : commands[i].run(&a);
            return true;
        }
    return false;
}

int main(int argc, char **argv)
{
    return tool_main(argc, argv, usage_text, run);
}
