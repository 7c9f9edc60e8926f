/* svtpm import --from SWTPM_DIR --tpmstate dir=DIR [--key ...] [--vtpm-id UUID]
 *              [--platform-key FILE] [--log ...]
 *
 * Reads swtpm's tpm2-00.permall (and tpm2-00.volatilestate, if any) while
 * holding swtpm's own .lock on the source, hands them to the enclave, which
 * decrypts them (with the swtpm --key, if given), checks libtpms accepts them
 * and seals them into DIR. The source directory is left as it was. */
#include "import_cmd.h"
#include "abi.h"
#include "bytes.h"
#include "config.h"
#include "enclave_host.h"
#include "log.h"
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* import.h's IMPORT_KEY_* values, part of the ECALL ABI */
enum { KEY_NONE = 0, KEY_BINARY = 1, KEY_HEX = 2, KEY_PBKDF2 = 3, KEY_SHA512 = 4 };

static int read_fd_all(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    size_t off = 0;
    for (;;) {
        ssize_t n = read(fd, buf + off, cap - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        off += (size_t)n;
        if (off == cap) {
            uint8_t extra;
            if (read(fd, &extra, 1) > 0)
                return -2;
            break;
        }
    }
    *len = off;
    return 0;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    int rc = read_fd_all(fd, buf, cap, len);
    close(fd);
    return rc;
}

/* The key material as swtpm would read it; the derivation is the enclave's. */
static int read_key(const struct key_cfg *k, uint32_t *kind, uint8_t *buf, size_t *len)
{
    int fd = -1, rc;
    const char *path = k->file ? k->file : k->pwdfile;
    bool pwd = k->pwdfile || k->pwdfd >= 0;
    if (path)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    else
        fd = k->fd >= 0 ? k->fd : k->pwdfd;
    if (fd < 0) {
        herr("import: cannot open the key %s: %s", path ? path : "fd", strerror(errno));
        return -1;
    }
    rc = read_fd_all(fd, buf, SVTPM_KEY_MAX, len);
    close(fd);
    if (rc) {
        herr("import: cannot read the key (or it is over %u bytes)", SVTPM_KEY_MAX);
        return -1;
    }
    if (k->remove && path)
        unlink(path);
    *kind = pwd ? (k->kdf_sha512 ? KEY_SHA512 : KEY_PBKDF2) : (k->binary ? KEY_BINARY : KEY_HEX);
    return 0;
}

bool import_swtpm_present(const char *dir)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/tpm2-00.permall", dir);
    return stat(p, &st) == 0;
}

int import_swtpm_dir(struct enclave_host *eh, const char *from, const struct key_cfg *key, bool locked)
{
    static const char *const names[3] = { NULL, "tpm2-00.permall", "tpm2-00.volatilestate" };
    int rc = -1;
    uint8_t *blob = malloc(SVTPM_IMPORT_MAX), secret[SVTPM_KEY_MAX];
    size_t blen = 0, slen = 0;
    uint32_t kind = KEY_NONE;
    struct statedir src;
    bool src_ok = !locked && sd_init(&src, from, 0600) == SVTPM_OK;
    if (!blob || (!locked && (!src_ok || sd_lock(&src, 0))))
        goto out;
    if (key->set && read_key(key, &kind, secret, &slen))
        goto out;
    for (uint32_t f = STATE_FILE_PERMALL; f <= STATE_FILE_VOLATILE; f++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", from, names[f]);
        int r = read_file(p, blob, SVTPM_IMPORT_MAX, &blen);
        if (r == 1 && f == STATE_FILE_VOLATILE)
            continue;
        if (r) {
            herr("import: cannot read %s: %s", p, r == 1 ? "no such file" : r == -2 ? "too large" : strerror(errno));
            goto out;
        }
        svtpm_err err = eh_import(eh, f, kind, key->keylen, secret, (uint32_t)slen, blob, (uint32_t)blen);
        if (err) {
            herr("import: %s refused: %s", p, svtpm_strerror(err));
            goto out;
        }
        hlog(2, "import: sealed %s", p);
    }
    rc = 0;
out:
    secure_wipe(secret, sizeof secret);
    free(blob);
    if (src_ok)
        sd_fini(&src);
    return rc;
}

static void usage(void)
{
    printf("Usage: svtpm import --from SWTPM_STATE_DIR --tpmstate dir=DIR [options]\n"
           "\n"
           "Seals an existing swtpm (TPM 2) state directory into svtpm state, so an\n"
           "existing VM keeps its TPM (keys, NV, seeds) when it moves to svtpm.\n"
           "The source files are read while holding swtpm's .lock and left untouched.\n"
           "\n"
           "  --from DIR              swtpm state directory (tpm2-00.permall)\n"
           "  --tpmstate dir=DIR      svtpm state directory to create (must hold no state)\n"
           "  --key file=|fd=|pwdfile=|pwdfd=...[,format=hex|binary][,mode=aes-256-cbc][,kdf=]\n"
           "                          the key swtpm was started with, if its state is encrypted\n"
           "  --vtpm-id UUID          the vTPM's identity, sealed into the new state\n"
           "  --platform-key FILE     soft TEE platform key ($SVTPM_PLATFORM_KEY)\n"
           "  --enclave PATH          the enclave program\n"
           "  --log file=F[,level=N]\n");
}

int import_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'F' }, { "tpmstate", required_argument, NULL, 'S' },
        { "key", required_argument, NULL, 'K' }, { "vtpm-id", required_argument, NULL, 'I' },
        { "platform-key", required_argument, NULL, 'P' }, { "enclave", required_argument, NULL, 'E' },
        { "log", required_argument, NULL, 'L' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *from = NULL;
    int rc = 1, ch;
    struct statedir sd = { .lock_fd = -1, .fd = { -1, -1, -1, -1 } };
    struct enclave_host eh = { .pid = -1 };
    struct config c = { .progname = "svtpm import" };
    /* Reuse the socket parser for --tpmstate, --vtpm-id, --log, --platform-key. */
    char *sargv[16];
    int sargc = 0;
    sargv[sargc++] = "import";
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'F': from = optarg; break;
        case 'K':
            if (config_parse_key(&c, &c.key, optarg, "--key"))
                goto out;
            break;
        case 'S': case 'I': case 'P': case 'E': case 'L':
            if (sargc + 2 >= 16)
                goto out;
            sargv[sargc++] = ch == 'S' ? "--tpmstate" : ch == 'I' ? "--vtpm-id" : ch == 'P' ? "--platform-key"
                           : ch == 'E' ? "--enclave" : "--log";
            sargv[sargc++] = optarg;
            break;
        case 'h': usage(); rc = 0; goto out;
        default: usage(); goto out;
        }
    }
    sargv[sargc++] = "--ctrl";
    sargv[sargc++] = "type=unixio,fd=0";   /* satisfies "something to serve"; never opened */
    sargv[sargc] = NULL;
    if (config_parse(&c, sargc, sargv))
        goto out;
    if (!from) {
        fprintf(stderr, "svtpm import: --from is required\n");
        goto out;
    }
    if (log_open(&c.log))
        goto out;
    if (mkdir(c.state_dir, 0700) != 0 && errno != EEXIST) {
        herr("import: cannot create %s: %s", c.state_dir, strerror(errno));
        goto out;
    }
    if (sd_init(&sd, c.state_dir, c.state_mode))
        goto out;
    if (sd_lock(&sd, 0))
        goto out;
    if (sd_exists(&sd, STATE_FILE_PERMALL)) {
        herr("import: %s already holds svtpm state; refusing to overwrite it", c.state_dir);
        goto out;
    }
    struct enclave_start st = { .enclave_path = c.enclave, .platform_key = c.platform_key,
                                .seccomp = c.enclave_seccomp };
    struct enclave_identity id;
    if (eh_start(&eh, &st, &sd) || eh_init(&eh, c.have_vtpm_id ? c.vtpm_id : NULL, 0, &id))
        goto out;
    if (import_swtpm_dir(&eh, from, &c.key, false))
        goto out_clean;
    /* Prove the sealed state opens and runs before calling it done. */
    uint32_t tpm_rc = 0, file = 0;
    svtpm_err serr;
    if (eh_power_on(&eh, 0, &tpm_rc, &serr, &file) || tpm_rc) {
        herr("import: the imported state does not start (TPM result 0x%x, %s)", tpm_rc, svtpm_strerror(serr));
        goto out_clean;
    }
    eh_power_off(&eh);
    printf("imported %s into sealed state in %s\n", from, c.state_dir);
    rc = 0;
out_clean:
    if (rc) {
        /* nothing half-imported stays behind */
        sd_delete(&sd, STATE_FILE_PERMALL);
        sd_delete(&sd, STATE_FILE_VOLATILE);
    }
out:
    eh_stop(&eh);
    sd_fini(&sd);
    config_free(&c);
    log_close();
    return rc;
}
