#include "edtool.h"
#include "bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tool_complain(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", tool_name);
    vfprintf(stderr, fmt, ap);
    if (rc == 2)
        fprintf(stderr, "\n(%s --help for usage)\n", tool_name);
    else
        fputs("\n", stderr);
    va_end(ap);
    return rc;
}

void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

bool from_hex(const char *s, uint8_t *out, size_t n)
{
    size_t got = 0;
    return strlen(s) == 2 * n && OPENSSL_hexstr2buf_ex(out, n, &got, s, '\0') == 1 && got == n;
}

/* Decimal only: a leading '-' or '+' would silently wrap in strtoull. */
bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* Reads a whole small file. Returns bytes read (cap means "cap or more"), or
 * -1 with a message. Plain read(2): no stdio buffer left holding key bytes. */
ssize_t read_small(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    ssize_t n = fd < 0 ? -1 : 1;
    while (n > 0 && got < cap) {
        n = read(fd, buf + got, cap - got);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno == EINTR)
            n = 1;
    }
    if (n < 0)
        fail("cannot read %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return n < 0 ? -1 : (ssize_t)got;
}

bool sha256(const void *p, size_t n, uint8_t out[32])
{
    size_t len = 32;
    return EVP_Q_digest(NULL, "SHA256", NULL, p, n, out, &len) == 1 && len == 32;
}

EVP_PKEY *load_key(const char *path)
{
    uint8_t buf[8192];
    EVP_PKEY *pk = NULL;
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n > 0 && (size_t)n < sizeof buf) {
        BIO *b = BIO_new_mem_buf(buf, (int)n);
        pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    secure_wipe(buf, sizeof buf);
    if (n >= 0 && (!pk || !EVP_PKEY_is_a(pk, "ED25519"))) {
        fail("%s is not an Ed25519 private key in PEM", path);
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    return pk;
}

bool raw_pub(EVP_PKEY *pk, uint8_t pub[32])
{
    size_t len = 32;
    return EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == 32;
}

bool ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len, const uint8_t sig[64])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = pk && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
              EVP_DigestVerify(c, sig, 64, msg, len) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

/* Temp file, then rename, or link, which never replaces an existing file: a
 * reader never sees half a document and a crash leaves no half-written key. */
int write_atomic(const char *path, const void *buf, size_t len, mode_t mode, bool replace)
{
    size_t plen = strlen(path) + 8;
    char *tmp = malloc(plen);
    int fd = -1, rc = 1;
    if (tmp) {
        snprintf(tmp, plen, "%s.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
    }
    if (fd < 0) {
        rc = fail("cannot create a file next to %s: %s", path, strerror(errno));
    } else {
        bool ok = fchmod(fd, mode) == 0 && write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && (replace ? rename(tmp, path) : link(tmp, path)) == 0)
            rc = 0;
        else if (ok && errno == EEXIST)
            rc = fail("%s exists; refusing to overwrite it", path);
        else
            rc = fail("cannot write %s: %s", path, strerror(errno));
        if (rc != 0 || !replace)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Signs doc's first `body` bytes into the 64 after them, writes the document. */
bool sign_doc(EVP_PKEY *pk, uint8_t *doc, size_t body)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t siglen = 64;
    bool ok = body && c && EVP_DigestSignInit(c, NULL, NULL, NULL, pk) == 1 &&
              EVP_DigestSign(c, doc + body, &siglen, doc, body) == 1 && siglen == 64;
    EVP_MD_CTX_free(c);
    return ok;
}

int sign_and_write(EVP_PKEY *pk, uint8_t *doc, size_t body, const char *path)
{
    return sign_doc(pk, doc, body) ? write_atomic(path, doc, body + 64, 0644, true)
                                   : fail("cannot pack or sign %s", path);
}

bool print_key_id(const uint8_t pub[32])
{
    uint8_t id[32];
    char hex[65];
    bool ok = sha256(pub, 32, id);
    to_hex(id, 32, hex);
    printf("%s\n", ok ? hex : "?");
    return ok;
}

int keygen_to(const char *path)
{
    uint8_t pub[32];
    char *pem = NULL;
    long n = 0;
    int rc = 1;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *b = BIO_new(BIO_s_secmem());   /* cleared when freed */
    if (!pk || !b || !raw_pub(pk, pub) || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(b, &pem)) <= 0)
        rc = fail("cannot create an Ed25519 key");
    /* Never replace: losing a key orphans everything that trusts it. */
    else if ((rc = write_atomic(path, pem, (size_t)n, 0600, false)) == 0 && !print_key_id(pub))
        rc = fail("SHA-256 failed");
    BIO_free(b);
    EVP_PKEY_free(pk);
    return rc;
}

int print_id_of(const char *path)
{
    uint8_t pub[32];
    EVP_PKEY *pk = load_key(path);
    int rc = pk && raw_pub(pk, pub) ? 0 : 1;
    if (rc == 0 && !print_key_id(pub))
        rc = fail("SHA-256 failed");
    EVP_PKEY_free(pk);
    return rc;
}

int tool_main(int argc, char **argv, const char *usage, bool (*run)(int argc, char **argv, int *rc))
{
    int rc = 2;
    if (argc < 2)
        fputs(usage, stderr);
    else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        rc = -1;
    else if (!run(argc, argv, &rc))
        rc = usage_error("unknown command '%s'", argv[1]);
    if (rc < 0) {
        fputs(usage, stdout);
        rc = 0;
    }
    return rc;
}

int tool_parse(int argc, char **argv, const struct tool_cmd_args *c)
{
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        int id = -1, rc = 0;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return -1;
        for (int k = 0; k < c->n_opts; k++)
            if (!strcmp(arg, c->opts[k].name) && (c->opts[k].cmds & c->bit))
                id = k;
        if (id < 0 && c->takes_file && arg[0] != '-' && !*c->file) {
            *c->file = arg;
            continue;
        }
        if (id < 0)
            return usage_error("%s: unexpected argument '%s'", c->cmd, arg);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", arg);
        const char *v = argv[++i];
        if (c->repeat && c->repeat(id, v, c->ctx, &rc)) {
            if (rc)
                return rc;
        } else if (c->one[id]) {
            return usage_error("%s given twice", arg);
        } else {
            c->one[id] = v;
        }
    }
    for (int k = 0; k < c->n_opts; k++)
        if ((c->need >> k & 1) && !c->one[k])
            return usage_error("%s needs %s", c->cmd, c->opts[k].name);
    return c->takes_file && !*c->file ? usage_error("%s needs a FILE", c->cmd) : 0;
}
