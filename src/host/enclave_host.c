#include "enclave_host.h"
#include "timeclient.h"
#include "timetoken.h"
#include "abi.h"
#include "audit.h"
#include "manifest.h"
#include "bytes.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define LIVENESS_MS 200

static const char *default_enclave(char *buf, size_t len)
{
    const char *env = getenv("SVTPM_ENCLAVE");
    if (env && *env)
        return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        snprintf(buf, len, "%s/svtpm-enclave", dirname(self));
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return "/usr/libexec/svtpm/svtpm-enclave";
}

svtpm_err eh_start(struct enclave_host *eh, const struct enclave_start *st, struct statedir *sd)
{
    memset(eh, 0, sizeof *eh);
    eh->sd = sd;
    eh->pid = -1;
    int memfd = -1, passfd = -1;
    svtpm_err err = chan_create(&eh->chan, &memfd);
    if (err) {
        herr("cannot create the enclave channel: %s", strerror(errno));
        return err;
    }
    const char *spin = getenv("SVTPM_HOST_SPIN_NS");
    eh->chan.spin_max_ns = spin ? (uint32_t)strtoul(spin, NULL, 10) : 200000;

    char pathbuf[PATH_MAX + 32], fdarg[16];
    const char *path = st->enclave_path ? st->enclave_path : default_enclave(pathbuf, sizeof pathbuf);
    /* The channel goes to fd 3 of the enclave; nothing else is passed on
     * purpose (the enclave closes anything inherited by accident). */
    passfd = fcntl(memfd, F_DUPFD_CLOEXEC, 64);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, passfd, 3);
    snprintf(fdarg, sizeof fdarg, "%d", 3);
    char *argv[] = { (char *)path, "--chan-fd", fdarg, "--platform-key", (char *)st->platform_key,
                     "--seccomp", (char *)(st->seccomp ? st->seccomp : "kill"), NULL };
    int rc = passfd < 0 ? errno : posix_spawn(&eh->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(memfd);
    if (passfd >= 0)
        close(passfd);
    if (rc != 0) {
        herr("cannot start the enclave %s: %s", path, strerror(rc));
        chan_unmap(&eh->chan);
        eh->pid = -1;
        return SVTPM_E_PEER;
    }
    hlog(2, "enclave %s started, pid %d", path, (int)eh->pid);
    return SVTPM_OK;
}

void eh_stop(struct enclave_host *eh)
{
    if (eh->pid > 0) {
        kill(eh->pid, SIGKILL);
        waitpid(eh->pid, NULL, 0);
    }
    eh->pid = -1;
    chan_unmap(&eh->chan);
}

static bool alive(struct enclave_host *eh)
{
    int status;
    pid_t r = waitpid(eh->pid, &status, WNOHANG);
    if (r == 0)
        return true;
    if (r == eh->pid) {
        if (WIFSIGNALED(status))
            herr("the enclave process died with signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGSYS ? " (a system call outside its allowlist)" : "");
        else
            herr("the enclave process exited with status %d", WEXITSTATUS(status));
        eh->pid = -1;
    }
    return false;
}

/* One piece of a VM image for the enclave to measure: u64 size, then up to
 * SVTPM_IMAGE_CHUNK_MAX bytes from off. */
static svtpm_err image_read(const char *path, uint64_t off, uint8_t *out, uint32_t *len)
{
    svtpm_err err = SVTPM_E_IO;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        herr("cannot read VM image %s: %s", path, strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    size_t want = off < size ? (size - off < SVTPM_IMAGE_CHUNK_MAX ? size - off : SVTPM_IMAGE_CHUNK_MAX) : 0;
    ssize_t n = want ? pread(fd, out + 8, want, (off_t)off) : 0;
    if (n < 0) {
        herr("cannot read VM image %s: %s", path, strerror(errno));
        goto out;
    }
    put_be64(out, size);
    *len = 8 + (uint32_t)n;
    err = SVTPM_OK;
out:
    if (fd >= 0)
        close(fd);
    return err;
}

static struct statedir *dir_of(struct enclave_host *eh, uint32_t file)
{
    return file == STATE_FILE_NRS ? eh->nrs : eh->sd;
}

static void serve_ocall(struct enclave_host *eh)
{
    struct chan_shm *s = eh->chan.shm;
    uint32_t call = s->call, len = s->len, status = SVTPM_OK, rlen = 0;
    const struct svtpm_call_desc *d = abi_ocall(call);
    eh->ocalls++;
    if (!d || len > d->req_max || len > SVTPM_CHAN_DATA_MAX) {
        status = SVTPM_E_INVAL;
        goto out;
    }
    struct rd r = rd_init(s->data, len);
    switch (call) {
    case OCALL_LOG: {
        uint32_t lvl = rd_be32(&r);
        size_t n = rd_left(&r);
        const char *txt = (const char *)rd_ptr(&r, n);
        if (!txt)
            break;
        if (lvl == 0)
            audit_record(txt, n);
        else if (lvl == 1)
            herr("enclave: %.*s", (int)n, txt);
        else
            hlog(lvl == 2 ? 1 : lvl == 3 ? 2 : 4, "enclave: %.*s", (int)n, txt);
        break;
    }
    case OCALL_STATE_READ: {
        uint32_t file = rd_be32(&r);
        struct statedir *sd = dir_of(eh, file);
        /* The counter store is shared by the host's vTPMs: read-modify-write
         * under its lock (released by the write or at the end of the ECALL). */
        status = !rd_ok(&r) || !sd ? SVTPM_E_INVAL :
                 file == STATE_FILE_NRS && sd_lock(sd, 500) ? SVTPM_E_IO :
                 sd_read(sd, file, s->data, SVTPM_CHAN_DATA_MAX, &rlen);
        break;
    }
    case OCALL_STATE_WRITE: {
        uint32_t file = rd_be32(&r), slot = rd_be32(&r), retire = rd_be32(&r);
        size_t n = rd_left(&r);
        const uint8_t *rec = rd_ptr(&r, n);
        struct statedir *sd = dir_of(eh, file);
        status = rd_ok(&r) && sd ? sd_write(sd, file, slot, rec, n, retire) : SVTPM_E_INVAL;
        if (sd && file == STATE_FILE_NRS)
            sd_unlock(sd);
        break;
    }
    case OCALL_IMAGE_READ: {
        uint32_t idx = rd_be32(&r);
        uint64_t off = rd_be64(&r);
        status = rd_ok(&r) && idx < eh->n_images ? image_read(eh->images[idx], off, s->data, &rlen)
                                                 : SVTPM_E_NOTFOUND;
        break;
    }
    case OCALL_TIME_TOKEN:
        status = len == 32 && eh->time_authority
                 ? time_token_fetch(eh->time_authority, s->data, s->data) : SVTPM_E_NOTFOUND;
        rlen = status ? 0 : TIMETOKEN_LEN;
        break;
    case OCALL_STATE_DELETE: {
        uint32_t file = rd_be32(&r);
        status = rd_ok(&r) && file != STATE_FILE_NRS ? sd_delete(eh->sd, file) : SVTPM_E_INVAL;
        break;
    }
    default:
        status = SVTPM_E_INVAL;
    }
out:
    if (status)
        rlen = 0;
    chan_post(&eh->chan, TURN_OCALL_RET, call, status, rlen);
}

/* Runs one ECALL whose request (req_len bytes) is already in the shared area. */
static svtpm_err call(struct enclave_host *eh, uint32_t id, uint32_t req_len,
                      const uint8_t **resp, uint32_t *resp_len)
{
    const struct svtpm_call_desc *d = abi_ecall(id);
    if (eh->pid <= 0)
        return SVTPM_E_PEER;
    if (!d || req_len > d->req_max)
        return SVTPM_E_INVAL;
    chan_post(&eh->chan, TURN_ECALL, id, 0, req_len);
    for (;;) {
        uint32_t turn;
        svtpm_err err = chan_wait(&eh->chan, TURN_BIT(TURN_OCALL) | TURN_BIT(TURN_ECALL_RET),
                                  LIVENESS_MS, &turn);
        if (err == SVTPM_E_TIMEOUT) {
            if (!alive(eh))
                return SVTPM_E_PEER;
            continue;
        }
        if (turn == TURN_OCALL) {
            serve_ocall(eh);
            continue;
        }
        break;
    }
    if (eh->nrs)
        sd_unlock(eh->nrs);   /* a counter-store lock never outlives its ECALL */
    struct chan_shm *s = eh->chan.shm;
    uint32_t status = s->status, len = s->len;
    atomic_store(&s->turn, TURN_IDLE);
    if (status >= SVTPM_E__COUNT || len > d->resp_max)
        return SVTPM_E_PROTO;
    if (resp)
        *resp = s->data;
    if (resp_len)
        *resp_len = len;
    return (svtpm_err)status;
}

static uint8_t *req(struct enclave_host *eh) { return eh->chan.shm->data; }

svtpm_err eh_ping(struct enclave_host *eh, uint32_t len)
{
    uint32_t rlen = 0;
    if (len > 64)
        return SVTPM_E_INVAL;
    memset(req(eh), 0x5a, len);
    svtpm_err err = call(eh, ECALL_PING, len, NULL, &rlen);
    return err ? err : rlen == len ? SVTPM_OK : SVTPM_E_PROTO;
}

svtpm_err eh_init(struct enclave_host *eh, const uint8_t *vtpm_id, uint32_t flags,
                  struct enclave_identity *id)
{
    struct wr w = wr_init(req(eh), INIT_REQ_LEN);
    static const uint8_t none[16];
    wr_be32(&w, (vtpm_id ? INIT_F_HAVE_VTPM_ID : 0) | (flags & INIT_F_NO_AUTO_SHUTDOWN));
    wr_bytes(&w, vtpm_id ? vtpm_id : none, 16);
    wr_be32(&w, 0);
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, ECALL_INIT, (uint32_t)w.off, &resp, &rlen);
    if (err)
        return err;
    struct rd r = rd_init(resp, rlen);
    id->mode = rd_u8(&r);
    rd_bytes(&r, id->mrenclave, 32);
    rd_bytes(&r, id->mrsigner, 32);
    id->isv_prod_id = rd_be16(&r);
    id->isv_svn = rd_be16(&r);
    return rd_ok(&r) ? SVTPM_OK : SVTPM_E_PROTO;
}

svtpm_err eh_power_on(struct enclave_host *eh, uint32_t flags, uint32_t *tpm_result,
                      svtpm_err *state_err, uint32_t *state_file)
{
    put_be32(req(eh), flags);
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, ECALL_POWER_ON, 4, &resp, &rlen);
    if (err)
        return err;
    struct rd r = rd_init(resp, rlen);
    *tpm_result = rd_be32(&r);
    uint32_t se = rd_be32(&r);
    *state_err = se < SVTPM_E__COUNT ? (svtpm_err)se : SVTPM_E_PROTO;
    *state_file = rd_be32(&r);
    return rd_ok(&r) ? SVTPM_OK : SVTPM_E_PROTO;
}

svtpm_err eh_power_off(struct enclave_host *eh)
{
    return call(eh, ECALL_POWER_OFF, 0, NULL, NULL);
}

svtpm_err eh_process(struct enclave_host *eh, uint8_t loc, const uint8_t *cmd, uint32_t len,
                     const uint8_t **resp, uint32_t *resp_len)
{
    if (len > SVTPM_TPM_CMD_MAX)
        return SVTPM_E_TOOBIG;
    uint8_t *p = req(eh);
    p[0] = loc;
    memcpy(p + 1, cmd, len);
    return call(eh, ECALL_PROCESS, 1 + len, resp, resp_len);
}

static svtpm_err result_u32(struct enclave_host *eh, uint32_t id, uint32_t req_len, uint32_t *result)
{
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, id, req_len, &resp, &rlen);
    if (err)
        return err;
    if (rlen != 4)
        return SVTPM_E_PROTO;
    *result = get_be32(resp);
    return SVTPM_OK;
}

svtpm_err eh_set_buffersize(struct enclave_host *eh, uint32_t wanted, uint32_t out[3])
{
    put_be32(req(eh), wanted);
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, ECALL_SET_BUFFERSIZE, 4, &resp, &rlen);
    if (err)
        return err;
    if (rlen != 12)
        return SVTPM_E_PROTO;
    for (int i = 0; i < 3; i++)
        out[i] = get_be32(resp + 4 * i);
    return SVTPM_OK;
}

svtpm_err eh_get_info(struct enclave_host *eh, uint64_t flags, const char **json, uint32_t *len)
{
    put_be64(req(eh), flags);
    const uint8_t *resp;
    svtpm_err err = call(eh, ECALL_GET_INFO, 8, &resp, len);
    *json = (const char *)resp;
    return err;
}

svtpm_err eh_est_get(struct enclave_host *eh, uint32_t *result, uint8_t *bit)
{
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, ECALL_EST_GET, 0, &resp, &rlen);
    if (err)
        return err;
    if (rlen != 5)
        return SVTPM_E_PROTO;
    *result = get_be32(resp);
    *bit = resp[4];
    return SVTPM_OK;
}

svtpm_err eh_est_reset(struct enclave_host *eh, uint8_t loc, uint32_t *result)
{
    req(eh)[0] = loc;
    return result_u32(eh, ECALL_EST_RESET, 1, result);
}

svtpm_err eh_simple(struct enclave_host *eh, uint32_t id, uint32_t *result)
{
    if (id == ECALL_CANCEL) {
        *result = 0;
        return call(eh, id, 0, NULL, NULL);
    }
    return result_u32(eh, id, 0, result);
}

svtpm_err eh_hash_data(struct enclave_host *eh, const uint8_t *p, uint32_t len, uint32_t *result)
{
    if (len > SVTPM_HASH_CHUNK_MAX)
        return SVTPM_E_TOOBIG;
    memcpy(req(eh), p, len);
    return result_u32(eh, ECALL_HASH_DATA, len, result);
}

svtpm_err eh_get_stateblob(struct enclave_host *eh, uint32_t type, uint32_t *result,
                           const uint8_t **blob, uint32_t *len)
{
    put_be32(req(eh), type);
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, ECALL_GET_STATEBLOB, 4, &resp, &rlen);
    if (err)
        return err;
    if (rlen < 4)
        return SVTPM_E_PROTO;
    *result = get_be32(resp);
    *blob = resp + 4;
    *len = rlen - 4;
    return SVTPM_OK;
}

svtpm_err eh_set_stateblob(struct enclave_host *eh, uint32_t type, const uint8_t *blob, uint32_t len,
                           uint32_t *result)
{
    if (len > SVTPM_SEALED_REC_MAX)
        return SVTPM_E_TOOBIG;
    put_be32(req(eh), type);
    memcpy(req(eh) + 4, blob, len);
    return result_u32(eh, ECALL_SET_STATEBLOB, 4 + len, result);
}

svtpm_err eh_state_info(struct enclave_host *eh, struct enclave_state_info *si)
{
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = call(eh, ECALL_STATE_INFO, 0, &resp, &rlen);
    if (err)
        return err;
    struct rd r = rd_init(resp, rlen);
    si->have_permall = rd_u8(&r);
    si->seq = rd_be64(&r);
    rd_bytes(&r, si->vtpm_id, 16);
    si->open_ns = rd_be32(&r);
    return rd_ok(&r) ? SVTPM_OK : SVTPM_E_PROTO;
}

svtpm_err eh_bind(struct enclave_host *eh, const uint8_t *manifest, uint32_t len,
                  const uint8_t *auth, uint32_t auth_len, uint32_t *state_file)
{
    const uint8_t *resp;
    uint32_t rlen = 0;
    *state_file = 0;
    if (len > SVTPM_MANIFEST_MAX || auth_len > RESTORE_AUTH_LEN)
        return SVTPM_E_TOOBIG;
    uint8_t *p = req(eh);
    put_be32(p, eh->n_images);
    put_be32(p + 4, eh->nrs ? BIND_F_COUNTERS : 0);
    put_be32(p + 8, len);
    memcpy(p + 12, manifest, len);
    if (auth_len)
        memcpy(p + 12 + len, auth, auth_len);
    svtpm_err err = call(eh, ECALL_BIND, 12 + len + auth_len, &resp, &rlen);
    if (!err && rlen != 8)
        err = SVTPM_E_PROTO;
    if (!err) {
        uint32_t verdict = get_be32(resp);
        *state_file = get_be32(resp + 4);
        err = verdict < SVTPM_E__COUNT ? (svtpm_err)verdict : SVTPM_E_PROTO;
    }
    return err;
}

svtpm_err eh_import(struct enclave_host *eh, uint32_t file, uint32_t kind, uint32_t keylen,
                    const uint8_t *secret, uint32_t slen, const uint8_t *blob, uint32_t len)
{
    if (slen > SVTPM_KEY_MAX || len > SVTPM_IMPORT_MAX)
        return SVTPM_E_TOOBIG;
    struct wr w = wr_init(req(eh), SVTPM_CHAN_DATA_MAX);
    wr_be32(&w, file);
    wr_be32(&w, kind);
    wr_be32(&w, keylen);
    wr_be32(&w, slen);
    wr_bytes(&w, secret, slen);
    wr_bytes(&w, blob, len);
    svtpm_err err = call(eh, ECALL_IMPORT_SWTPM, (uint32_t)w.off, NULL, NULL);
    secure_wipe(req(eh), w.off);
    return err;
}
