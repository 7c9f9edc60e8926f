/* The state directory as the host sees it: opaque sealed files it reads and
 * writes for the enclave, and the swtpm-compatible `.lock`. The host never
 * learns what is inside; it only places bytes where the enclave says. */
#ifndef SVTPM_STATEDIR_H
#define SVTPM_STATEDIR_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "err.h"

struct statedir {
    char *dir;
    mode_t mode;
    int lock_fd;             /* `.lock`, open once locked (kept open after unlock) */
    bool locked;
    int fd[4];               /* open sealed files, by STATE_FILE_* */
    uint64_t writes;         /* durable updates done (for logs and tests) */
};

svtpm_err sd_init(struct statedir *sd, const char *dir, mode_t mode);
void sd_fini(struct statedir *sd);
/* Takes the `.lock` write lock (OFD lock: excludes swtpm too), waiting up to
 * `retries` x 10 ms for another holder (polling from 50 us, backing off to
 * 10 ms: the counter store's lock is held for a few hundred us at a time).
 * Holding it already is success. */
svtpm_err sd_lock(struct statedir *sd, unsigned retries);
void sd_unlock(struct statedir *sd);
/* Path of a state file (for messages). */
const char *sd_path(const struct statedir *sd, uint32_t file, char *buf, size_t len);
bool sd_exists(const struct statedir *sd, uint32_t file);

/* OCALL_STATE_READ reply: u64 file size, u32 n0, slot A record, u32 n1,
 * slot B record. SVTPM_E_NOTFOUND when the file does not exist. */
svtpm_err sd_read(struct statedir *sd, uint32_t file, uint8_t *out, size_t cap, uint32_t *len);
/* Writes one sealed record into a slot and makes it durable before returning;
 * then zeroes the 16-byte tag at retire_off in the other slot (0: none).
 * A new file is built aside and renamed into place, so it is never partial. */
svtpm_err sd_write(struct statedir *sd, uint32_t file, uint32_t slot, const uint8_t *rec, size_t len,
                   uint32_t retire_off);
svtpm_err sd_delete(struct statedir *sd, uint32_t file);

#endif
