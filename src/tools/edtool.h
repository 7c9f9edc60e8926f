/* What the Ed25519 document tools (svtpm-tenant, svtpm-timeauth) share: key
 * files, signing, verifying, careful file writes, argument parsing, and one
 * error convention. Each tool defines tool_name (its name in messages). */
#ifndef SVTPM_EDTOOL_H
#define SVTPM_EDTOOL_H
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern const char tool_name[];

/* Prints "<tool>: message" and returns rc: 1 for an error, 2 for a usage
 * error (which also points at --help). */
__attribute__((format(printf, 2, 3))) int tool_complain(int rc, const char *fmt, ...);
#define fail(...) tool_complain(1, __VA_ARGS__)
#define usage_error(...) tool_complain(2, __VA_ARGS__)

void to_hex(const uint8_t *p, size_t n, char *out);   /* out: 2n + 1 bytes */
bool from_hex(const char *s, uint8_t *out, size_t n);  /* exactly 2n hex digits */
/* Decimal only, at most max. */
bool parse_u64(const char *s, uint64_t max, uint64_t *out);
/* A whole small file: bytes read (cap means "cap or more"), or -1 with a
 * message. Plain read(2): no stdio buffer left holding key bytes. */
ssize_t read_small(const char *path, uint8_t *buf, size_t cap);
bool sha256(const void *p, size_t n, uint8_t out[32]);

/* An Ed25519 private key in PEM (NULL with a message). */
EVP_PKEY *load_key(const char *path);
bool raw_pub(EVP_PKEY *pk, uint8_t pub[32]);
/* Prints SHA-256 of a raw public key in hex: the key's id. */
bool print_key_id(const uint8_t pub[32]);
bool ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len, const uint8_t sig[64]);

/* Temp file, then rename (replace) or link (never replace): a reader never
 * sees half a document, a crash leaves no half-written key. */
int write_atomic(const char *path, const void *buf, size_t len, mode_t mode, bool replace);
/* Signs doc's first `body` bytes (0: refused) into the 64 after them. */
bool sign_doc(EVP_PKEY *pk, uint8_t *doc, size_t body);
/* The same, then writes the document. */
int sign_and_write(EVP_PKEY *pk, uint8_t *doc, size_t body, const char *path);
/* A new Ed25519 key written to path (mode 0600, never replacing a file);
 * prints its id. */
int keygen_to(const char *path);
/* Prints the id of the key in path. */
int print_id_of(const char *path);

/* Option syntax shared by the tools: `COMMAND [--name VALUE | FILE]...`. */
struct tool_opt {
    const char *name;
    unsigned cmds;                  /* bit set of the commands that take it */
};
struct tool_cmd_args {
    const char *cmd;                /* for messages */
    unsigned bit;                   /* this command's bit */
    unsigned need;                  /* bit set of required options (by index) */
    bool takes_file;                /* one positional FILE, required */
    const struct tool_opt *opts;
    int n_opts;
    const char **one;               /* n_opts: options given at most once */
    const char **file;
    /* Options this returns true for repeat (it keeps them); it may set *rc. */
    bool (*repeat)(int id, const char *value, void *ctx, int *rc);
    void *ctx;
};
/* 0, -1 for --help, or a usage error (2). */
int tool_parse(int argc, char **argv, const struct tool_cmd_args *c);

/* The tools' main: the usage without a command, --help/-h, an unknown
 * command. run() returns false when argv[1] names no command, else sets *rc
 * (< 0: print the usage on stdout and succeed). */
int tool_main(int argc, char **argv, const char *usage, bool (*run)(int argc, char **argv, int *rc));

#endif
