/* soft TEE platform. Same semantics as SGX for sealing and identity; none of
 * its protection: anyone who is root on the host can read the platform key
 * file or the process memory. It exists so the trusted code path runs, and is
 * tested, on machines without SGX. */
#include "platform.h"
#include "bytes.h"
#include "crypto.h"
#include "sealfmt.h"
#include "sigstruct.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Platform key file: "SVTPMPK1" | secret[32] | cpu_svn[16] */
#define PK_MAGIC "SVTPMPK1"
#define PK_LEN (8 + 32 + 16)
#define EXE_MAX (256u << 20)

static svtpm_err read_all(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    size_t off = 0;
    for (;;) {
        if (off == cap) {       /* one more byte means too big */
            uint8_t extra;
            ssize_t n = read(fd, &extra, 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n != 0)
                return n < 0 ? SVTPM_E_IO : SVTPM_E_TOOBIG;
            break;
        }
        ssize_t n = read(fd, buf + off, cap - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SVTPM_E_IO;
        if (n == 0)
            break;
        off += (size_t)n;
    }
    *len = off;
    return SVTPM_OK;
}

static svtpm_err load_or_create_key(struct tee_platform *p, const char *path, char *why, size_t wl)
{
    uint8_t buf[PK_LEN];
    size_t len = 0;
    svtpm_err err;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        memcpy(buf, PK_MAGIC, 8);
        err = crypto_random(buf + 8, 32);
        memset(buf + 40, 0, 16);
        if (err)
            goto out;
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", path);
        char *slash = strrchr(tmp, '/');
        if (slash && slash != tmp) {
            *slash = 0;
            mkdir(tmp, 0700);   /* first use on this host; EEXIST is fine */
        }
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
        int wfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (wfd < 0) {
            snprintf(why, wl, "cannot create platform key %s: %s", path, strerror(errno));
            err = SVTPM_E_IO;
            goto out;
        }
        int ok = write(wfd, buf, PK_LEN) == PK_LEN && fsync(wfd) == 0;
        close(wfd);
        /* link() fails if another instance created the key meanwhile; then use theirs */
        if (ok && link(tmp, path) != 0 && errno != EEXIST)
            ok = 0;
        unlink(tmp);
        if (!ok) {
            snprintf(why, wl, "cannot write platform key %s: %s", path, strerror(errno));
            err = SVTPM_E_IO;
            goto out;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        snprintf(why, wl, "cannot open platform key %s: %s", path, strerror(errno));
        err = SVTPM_E_IO;
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        snprintf(why, wl, "platform key %s must be a regular file readable by its owner only", path);
        err = SVTPM_E_PERM;
        goto out_close;
    }
    err = read_all(fd, buf, sizeof buf, &len);
    if (err == SVTPM_OK && (len != PK_LEN || memcmp(buf, PK_MAGIC, 8) != 0))
        err = SVTPM_E_FORMAT;
    if (err) {
        snprintf(why, wl, "platform key %s: %s", path, svtpm_strerror(err));
        goto out_close;
    }
    memcpy(p->secret, buf + 8, 32);
    memcpy(p->id.cpu_svn, buf + 40, 16);
out_close:
    close(fd);
out:
    secure_wipe(buf, sizeof buf);
    return err;
}

/* MRENCLAVE := SHA-256 of the enclave binary, checked against the SIGSTRUCT. */
static svtpm_err measure(struct tee_platform *p, const char *exe, const char *sig,
                         char *why, size_t wl)
{
    svtpm_err err = SVTPM_E_IO;
    void *img = NULL;
    size_t len = 0, slen = 0;
    uint8_t sbuf[SIGSTRUCT_LEN + 1];
    struct sigstruct ss;
    int fd = open(exe, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, wl, "cannot measure %s: %s", exe, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > EXE_MAX) {
        snprintf(why, wl, "cannot measure %s: bad size", exe);
        goto out;
    }
    /* mapped, not copied: measuring leaves nothing resident behind */
    img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (img == MAP_FAILED) {
        img = NULL;
        snprintf(why, wl, "cannot map %s to measure it", exe);
        goto out;
    }
    len = (size_t)st.st_size;
    struct iovc part = { img, len };
    err = crypto_sha256(&part, 1, p->id.mrenclave);
    munmap(img, len);
    img = NULL;
    if (err)
        goto out;
    close(fd);
    fd = open(sig, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, wl, "no SIGSTRUCT %s: %s (sign the enclave: make)", sig, strerror(errno));
        err = SVTPM_E_IO;
        goto out;
    }
    err = read_all(fd, sbuf, sizeof sbuf, &slen);
    if (!err)
        err = sigstruct_parse(sbuf, slen, &ss);
    if (err) {
        snprintf(why, wl, "SIGSTRUCT %s: %s", sig, svtpm_strerror(err));
        goto out;
    }
    if (!ct_equal(ss.mrenclave, p->id.mrenclave, 32)) {
        snprintf(why, wl, "SIGSTRUCT %s does not match the enclave binary %s", sig, exe);
        err = SVTPM_E_AUTH;
        goto out;
    }
    err = crypto_ed25519_verify(ss.pubkey, sbuf, SIGSTRUCT_SIGNED_LEN, ss.signature);
    if (err) {
        snprintf(why, wl, "SIGSTRUCT %s: bad signature", sig);
        goto out;
    }
    struct iovc pk = { ss.pubkey, 32 };
    err = crypto_sha256(&pk, 1, p->id.mrsigner);
    p->id.isv_prod_id = ss.isv_prod_id;
    p->id.isv_svn = ss.isv_svn;
out:
    if (fd >= 0)
        close(fd);
    return err;
}

svtpm_err tee_soft_init(struct tee_platform *p, const char *key_path,
                        const char *exe_path, const char *sig_path, char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    p->id.mode = TEE_SOFT;
    svtpm_err err = crypto_init();
    if (err) {
        snprintf(why, whylen, "crypto library initialisation failed");
        return err;
    }
    err = measure(p, exe_path, sig_path, why, whylen);
    if (!err)
        err = load_or_create_key(p, key_path, why, whylen);
    if (err)
        tee_wipe(p);
    return err;
}

svtpm_err tee_get_key(const struct tee_platform *p, const struct tee_keyreq *req,
                      uint8_t key[TEE_KEY_LEN])
{
    /* As EGETKEY: keys for the current or an older SVN only. */
    if (req->isv_svn > p->id.isv_svn)
        return SVTPM_E_PERM;
    for (int i = 0; i < 16; i++)
        if (req->cpu_svn[i] > p->id.cpu_svn[i])
            return SVTPM_E_PERM;
    if (req->policy != SEAL_POLICY_MRSIGNER && req->policy != SEAL_POLICY_MRENCLAVE)
        return SVTPM_E_INVAL;

    static const uint8_t zero[32];
    uint8_t fixed[6];
    put_be16(fixed, req->key_name);
    put_be16(fixed + 2, req->policy);
    put_be16(fixed + 4, p->id.isv_prod_id);
    uint8_t svn[2];
    put_be16(svn, req->isv_svn);
    struct iovc parts[] = {
        { "svtpm-soft-egetkey-v1", 21 },
        { fixed, sizeof fixed },
        { req->policy & SEAL_POLICY_MRENCLAVE ? p->id.mrenclave : zero, 32 },
        { req->policy & SEAL_POLICY_MRSIGNER ? p->id.mrsigner : zero, 32 },
        { svn, 2 },
        { req->cpu_svn, 16 },
        { req->key_id, 32 },
    };
    uint8_t full[32];
    svtpm_err err = crypto_hmac_sha256(p->secret, sizeof p->secret, parts,
                                       sizeof parts / sizeof parts[0], full);
    memcpy(key, full, TEE_KEY_LEN);
    secure_wipe(full, sizeof full);
    return err;
}

void tee_wipe(struct tee_platform *p)
{
    secure_wipe(p->secret, sizeof p->secret);
}
