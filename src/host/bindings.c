#include "bindings.h"
#include "config.h"
#include "optval.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int hexval(char ch)
{
    return isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10;
}

/* Exactly 8-4-4-4-12 hex digits (libvirt's form), n bytes long. */
static bool parse_canonical_uuid(const char *s, size_t n, uint8_t id[16])
{
    if (n != 36)
        return false;
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
            return false;
        id[k++] = (uint8_t)(hexval(s[i]) << 4 | hexval(s[i + 1]));
        i++;
    }
    return k == 16;
}

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
    return parse_canonical_uuid(state_dir + start, end - start, id);
}

static void uuid_str(const uint8_t id[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
             id[12], id[13], id[14], id[15]);
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
    static const char *const names[] = { "tcp", NULL };
    char path[4200], line[256], err[256];
    struct optval o;
    snprintf(path, sizeof path, "%s/time-authority", dir);
    int r = c->time_authority ? 0 : read_line(path, line, sizeof line);
    if (r <= 0) {
        if (r < 0)
            snprintf(why, wl, "--bindings: %s: unreadable, or not one line", path);
        return r < 0;
    }
    if (optval_parse(line, names, &o, err, sizeof err)) {
        snprintf(why, wl, "--bindings: %s: %s", path, err);
        return 1;
    }
    const char *v = optval_get(&o, "tcp");
    int rc = 0;
    if (v && *v) {
        c->time_authority = strdup(v);
    } else {
        snprintf(why, wl, "--bindings: %s: expected tcp=HOST:PORT", path);
        rc = 1;
    }
    optval_free(&o);
    return rc;
}

int bindings_apply(struct config *c, char *why, size_t wl)
{
    char dir[4096], path[4200], u[37];
    uint8_t id[16];
    struct stat st;
    if (!c->bindings_dir || c->manifest)
        return 0;
    if (c->have_vtpm_id)
        memcpy(id, c->vtpm_id, 16);
    else if (!c->state_dir || !bindings_libvirt_id(c->state_dir, id))
        return 0;   /* no id to look up: an unbound vTPM, as without the directory */
    uuid_str(id, u);
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
