#include "bindings.h"
#include "config.h"
#include "optval.h"
#include "uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool bindings_libvirt_id(const char *state_dir, uint8_t id[16])
{
    size_t n = strlen(state_dir);
    while (n > 1 && state_dir[n - 1] == '/')
        n--;
    if (n < 5 || memcmp(state_dir + n - 5, "/tpm2", 5) != 0)
        return false;
    size_t end = n - 5, start = end;
    while (start > 0 && state_dir[start - 1] != '/')
        start--;
    return uuid_parse(state_dir + start, end - start, id);
}

/* 1 exists (regular file, or a symlink to one), 0 absent, -1 anything else. */
static int have_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return S_ISREG(st.st_mode) ? 1 : -1;
}

/* The one line of a small file (its newline dropped): 1 read, 0 absent,
 * -1 unreadable, too long or more than one line. */
static int read_line(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t n = read(fd, buf, cap);
    close(fd);
    if (n < 0 || (size_t)n == cap)
        return -1;
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = 0;
    return memchr(buf, '\n', (size_t)n) || strlen(buf) != (size_t)n ? -1 : 1;
}

/* DIR/<id>/time-authority: "tcp=HOST:PORT", as --time-authority takes it. */
static int time_authority(struct config *c, const char *dir, char *why, size_t wl)
{
    char path[4200], line[256], err[256];
    snprintf(path, sizeof path, "%s/time-authority", dir);
    int r = c->time_authority ? 0 : read_line(path, line, sizeof line);
    if (r < 0)
        snprintf(why, wl, "--bindings: %s: unreadable, or not one line", path);
    if (r <= 0)
        return r < 0;
    svtpm_err e = optval_one(line, "tcp", &c->time_authority, err, sizeof err);
    if (e)
        snprintf(why, wl, "--bindings: %s: %s", path,
                 e == SVTPM_E_INVAL ? err : e == SVTPM_E_NOTFOUND ? "expected tcp=HOST:PORT" : svtpm_strerror(e));
    return e != SVTPM_OK;
}

int bindings_apply(struct config *c, char *why, size_t wl)
{
    char dir[4096], path[4200], u[UUID_STR_LEN];
    uint8_t id[16];
    struct stat st;
    if (!c->bindings_dir || c->manifest)
        return 0;
    if (c->have_vtpm_id)
        memcpy(id, c->vtpm_id, 16);
    else if (!c->state_dir || !bindings_libvirt_id(c->state_dir, id))
        return 0;   /* no id to look up: an unbound vTPM, as without the directory */
    uuid_format(id, u);
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", c->bindings_dir, u) >= sizeof dir) {
        snprintf(why, wl, "--bindings: the path %s/%s is too long", c->bindings_dir, u);
        return 1;
    }
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0;   /* this vTPM is not bound */
        snprintf(why, wl, "--bindings: cannot read %s: %s", dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, wl, "--bindings: %s is not a directory", dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/manifest", dir);
    if (have_file(path) != 1) {
        snprintf(why, wl, "--bindings: %s exists but %s is not a readable manifest file", dir, path);
        return 1;
    }
    c->manifest = strdup(path);
    memcpy(c->vtpm_id, id, 16);
    c->have_vtpm_id = true;
    bool explicit_images = c->n_vm_images > 0;   /* --vm-image given: those are the images */
    for (unsigned i = 0; !explicit_images && i < sizeof c->vm_images / sizeof c->vm_images[0]; i++) {
        snprintf(path, sizeof path, "%s/image.%u", dir, i);
        int h = have_file(path);
        if (h == 0)
            break;
        if (h < 0) {
            snprintf(why, wl, "--bindings: %s is not a file (nor a symlink to one)", path);
            return 1;
        }
        c->vm_images[c->n_vm_images++] = strdup(path);
    }
    snprintf(path, sizeof path, "%s/restore-auth", dir);
    if (!c->restore_auth && have_file(path) == 1)
        c->restore_auth = strdup(path);
    return time_authority(c, dir, why, wl);
}
