#include "statedir.h"
#include "abi.h"
#include "bytes.h"
#include "log.h"
#include "sealfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* svtpm.nrs lives in the host-wide counters directory, not a VM's. */
static const char *const names[4] = { NULL, "svtpm.permall", "svtpm.volatilestate", "svtpm.nrs" };

static bool valid(uint32_t file) { return file >= STATE_FILE_PERMALL && file <= STATE_FILE_NRS; }

svtpm_err sd_init(struct statedir *sd, const char *dir, mode_t mode)
{
    memset(sd, 0, sizeof *sd);
    sd->lock_fd = -1;
    for (int i = 0; i < 4; i++)
        sd->fd[i] = -1;
    sd->mode = mode;
    sd->dir = strdup(dir);
    return sd->dir ? SVTPM_OK : SVTPM_E_NOMEM;
}

void sd_fini(struct statedir *sd)
{
    for (int i = 0; i < 4; i++)
        if (sd->fd[i] >= 0)
            close(sd->fd[i]);
    if (sd->lock_fd >= 0)
        close(sd->lock_fd);
    free(sd->dir);
    memset(sd, 0, sizeof *sd);
}

const char *sd_path(const struct statedir *sd, uint32_t file, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", sd->dir, valid(file) ? names[file] : "?");
    return buf;
}

bool sd_exists(const struct statedir *sd, uint32_t file)
{
    char p[4096];
    struct stat st;
    return valid(file) && lstat(sd_path(sd, file, p, sizeof p), &st) == 0;
}

svtpm_err sd_lock(struct statedir *sd, unsigned retries)
{
    char p[4096];
    svtpm_err err = SVTPM_OK;
    if (sd->locked)
        goto out;
    snprintf(p, sizeof p, "%s/.lock", sd->dir);
    if (sd->lock_fd < 0)
        sd->lock_fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660);
    if (sd->lock_fd < 0) {
        herr("cannot open lock file %s: %s", p, strerror(errno));
        err = SVTPM_E_IO;
        goto out;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    uint64_t budget_us = (uint64_t)retries * 10000u, waited_us = 0, step_us = 50;
    while (fcntl(sd->lock_fd, F_OFD_SETLK, &fl) != 0) {
        if ((errno != EAGAIN && errno != EACCES) || waited_us >= budget_us) {
            herr("could not lock access to %s: another vTPM (svtpm or swtpm) uses %s", p, sd->dir);
            err = SVTPM_E_IO;
            goto out;
        }
        usleep((useconds_t)step_us);
        waited_us += step_us;
        step_us = step_us * 2 > 10000 ? 10000 : step_us * 2;
    }
    sd->locked = true;
out:
    return err;
}

void sd_unlock(struct statedir *sd)
{
    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
    if (sd->locked && fcntl(sd->lock_fd, F_OFD_SETLK, &fl) != 0) {
        close(sd->lock_fd);   /* an OFD lock goes with its last descriptor */
        sd->lock_fd = -1;
    }
    sd->locked = false;
}

static int open_file(struct statedir *sd, uint32_t file)
{
    if (sd->fd[file] >= 0)
        return sd->fd[file];
    char p[4096];
    sd->fd[file] = open(sd_path(sd, file, p, sizeof p), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    return sd->fd[file];
}

static svtpm_err pread_full(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return SVTPM_E_IO;
        done += (size_t)r;
    }
    return SVTPM_OK;
}

static svtpm_err pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return SVTPM_E_IO;
        done += (size_t)r;
    }
    return SVTPM_OK;
}

svtpm_err sd_read(struct statedir *sd, uint32_t file, uint8_t *out, size_t cap, uint32_t *len)
{
    char p[4096];
    if (!valid(file))
        return SVTPM_E_INVAL;
    int fd = open_file(sd, file);
    if (fd < 0) {
        if (errno == ENOENT)
            return SVTPM_E_NOTFOUND;
        herr("cannot open state file %s: %s", sd_path(sd, file, p, sizeof p),
             errno == ELOOP ? "it is a symbolic link (refused)" :
             errno == EISDIR ? "it is a directory" : strerror(errno));
        return SVTPM_E_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        herr("state file %s is not a regular file", sd_path(sd, file, p, sizeof p));
        return SVTPM_E_IO;
    }
    struct wr w = wr_init(out, cap);
    wr_be64(&w, (uint64_t)st.st_size);
    for (uint32_t slot = 0; slot < 2; slot++) {
        off_t off = (off_t)slot * SEAL_SLOT_SIZE;
        size_t avail = st.st_size > off ? (size_t)(st.st_size - off) : 0;
        if (avail > SEAL_SLOT_SIZE)
            avail = SEAL_SLOT_SIZE;
        uint8_t hdr[SEAL_HDR_LEN];
        size_t hn = avail < SEAL_HDR_LEN ? avail : SEAL_HDR_LEN;
        if (hn && pread_full(fd, hdr, hn, off))
            return SVTPM_E_IO;
        size_t n = seal_slot_extent(hdr, avail);
        wr_be32(&w, (uint32_t)n);
        if (!wr_ok(&w) || n > cap - w.off)
            return SVTPM_E_TOOBIG;
        if (n && pread_full(fd, out + w.off, n, off))
            return SVTPM_E_IO;
        w.off += n;
    }
    *len = (uint32_t)w.off;
    return SVTPM_OK;
}

static svtpm_err fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return SVTPM_E_IO;
    int rc = fsync(dfd);
    close(dfd);
    return rc == 0 ? SVTPM_OK : SVTPM_E_IO;
}

static svtpm_err create_file(struct statedir *sd, uint32_t file, uint32_t slot,
                             const uint8_t *rec, size_t len)
{
    char path[4096], tmp[4200];
    sd_path(sd, file, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    svtpm_err err = SVTPM_E_IO;
    unlink(tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, sd->mode);
    if (fd < 0)
        goto out;
    fchmod(fd, sd->mode);
    /* Real zeros, not a hole: later in-place writes then need no block
     * allocation, so one fdatasync stays one cheap flush. */
    static const uint8_t zero[64 * 1024];
    for (off_t off = 0; off < (off_t)SEAL_FILE_SIZE; off += sizeof zero)
        if (pwrite_full(fd, zero, sizeof zero, off))
            goto out_close;
    if (pwrite_full(fd, rec, len, (off_t)slot * SEAL_SLOT_SIZE) || fsync(fd) != 0)
        goto out_close;
    if (rename(tmp, path) != 0)
        goto out_close;
    err = fsync_dir(sd->dir);
    if (!err) {
        sd->fd[file] = fd;
        return SVTPM_OK;
    }
out_close:
    close(fd);
    unlink(tmp);
out:
    herr("cannot create state file %s: %s", path, strerror(errno));
    return err;
}

svtpm_err sd_write(struct statedir *sd, uint32_t file, uint32_t slot, const uint8_t *rec, size_t len,
                   uint32_t retire_off)
{
    char p[4096];
    if (!valid(file) || slot > 1 || len > SEAL_SLOT_SIZE ||
        (retire_off && (retire_off < SEAL_HDR_LEN || retire_off > SEAL_SLOT_SIZE - SEAL_TAG_LEN)))
        return SVTPM_E_INVAL;
    int fd = open_file(sd, file);
    if (fd < 0 && errno == ENOENT)
        return create_file(sd, file, slot, rec, len);
    if (fd < 0) {
        herr("cannot open state file %s: %s", sd_path(sd, file, p, sizeof p), strerror(errno));
        return SVTPM_E_IO;
    }
    if (pwrite_full(fd, rec, len, (off_t)slot * SEAL_SLOT_SIZE) || fdatasync(fd) != 0) {
        herr("cannot write state file %s: %s", sd_path(sd, file, p, sizeof p), strerror(errno));
        return SVTPM_E_IO;
    }
    sd->writes++;
    /* No sync needed: if this is lost in a crash, both records are authentic
     * and the newer one still wins. */
    static const uint8_t zero[SEAL_TAG_LEN];
    if (retire_off && pwrite_full(fd, zero, sizeof zero, (off_t)(slot ^ 1) * SEAL_SLOT_SIZE + retire_off))
        hlog(1, "could not retire the old record in %s", sd_path(sd, file, p, sizeof p));
    return SVTPM_OK;
}

svtpm_err sd_delete(struct statedir *sd, uint32_t file)
{
    char p[4096];
    if (!valid(file))
        return SVTPM_E_INVAL;
    if (sd->fd[file] >= 0) {
        close(sd->fd[file]);
        sd->fd[file] = -1;
    }
    if (unlink(sd_path(sd, file, p, sizeof p)) != 0)
        return errno == ENOENT ? SVTPM_E_NOTFOUND : SVTPM_E_IO;
    return fsync_dir(sd->dir);
}
