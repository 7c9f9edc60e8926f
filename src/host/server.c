#include "server.h"
#include "abi.h"
#include "bytes.h"
#include "import_cmd.h"
#include "manifest.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t server_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int unix_listen(const struct chan_cfg *c, const char *what)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(c->path) >= sizeof sa.sun_path) {
        herr("%s socket path too long: %s", what, c->path);
        return -1;
    }
    strcpy(sa.sun_path, c->path);
    unlink(c->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        chmod(c->path, c->mode) != 0 ||
        ((c->have_uid || c->have_gid) &&
         chown(c->path, c->have_uid ? c->uid : (uid_t)-1, c->have_gid ? c->gid : (gid_t)-1) != 0) ||
        listen(fd, 1) != 0) {
        herr("cannot create %s socket %s: %s", what, c->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int tcp_listen(const struct chan_cfg *c, const char *what)
{
    bool v6 = strchr(c->bindaddr, ':') != NULL;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_storage ss = { 0 };
    socklen_t sl;
    int ok;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)c->port);
        ok = inet_pton(AF_INET6, c->bindaddr, &a->sin6_addr) == 1;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)c->port);
        ok = inet_pton(AF_INET, c->bindaddr, &a->sin_addr) == 1;
        sl = sizeof *a;
    }
    if (fd < 0 || !ok || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1) != 0) {
        herr("cannot listen for %s on %s port %u: %s", what, c->bindaddr, c->port,
             ok ? strerror(errno) : "bad address");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

svtpm_err server_open_sockets(struct server *s)
{
    const struct config *c = s->cfg;
    s->ctrl_listen = s->ctrl_conn = s->data_listen = s->data_conn = -1;
    switch (c->ctrl.kind) {
    case CH_UNIX_PATH:
        s->ctrl_is_unix = true;
        s->ctrl_listen = unix_listen(&c->ctrl, "control");
        break;
    case CH_UNIX_FD:
    case CH_TCP_FD:
        s->ctrl_is_unix = c->ctrl.kind == CH_UNIX_FD;
        s->ctrl_listen = is_socket(c->ctrl.fd) ? c->ctrl.fd : -1;
        break;
    case CH_UNIX_CLIENTFD:
        s->ctrl_is_unix = true;
        s->ctrl_conn = is_socket(c->ctrl.fd) ? c->ctrl.fd : -1;
        if (s->ctrl_conn < 0)
            herr("control clientfd %d is not a socket", c->ctrl.fd);
        break;
    case CH_TCP_PORT:
        s->ctrl_listen = tcp_listen(&c->ctrl, "control");
        break;
    case CH_NONE:
        break;
    }
    if (c->ctrl.kind != CH_NONE && s->ctrl_listen < 0 && s->ctrl_conn < 0)
        return SVTPM_E_IO;
    switch (c->server.kind) {
    case CH_UNIX_PATH:
        s->data_listen = unix_listen(&c->server, "data");
        break;
    case CH_UNIX_FD:
        s->data_listen = is_socket(c->server.fd) ? c->server.fd : -1;
        break;
    case CH_TCP_PORT:
        s->data_listen = tcp_listen(&c->server, "data");
        break;
    case CH_TCP_FD:
        /* a connected stream (swtpm_setup passes a socketpair end) */
        s->data_conn = is_socket(c->server.fd) ? c->server.fd : -1;
        s->data_conn_terminal = true;
        if (s->data_conn < 0)
            herr("data fd %d is not a socket", c->server.fd);
        break;
    default:
        break;
    }
    if (c->server.kind != CH_NONE && s->data_listen < 0 && s->data_conn < 0)
        return SVTPM_E_IO;
    return SVTPM_OK;
}

void server_fatal_enclave(struct server *s, svtpm_err err)
{
    herr("the enclave failed (%s); the vTPM cannot continue", svtpm_strerror(err));
    s->quit = true;
    s->exit_code = 1;
}

uint32_t server_power_on(struct server *s, uint32_t flags)
{
    uint32_t rc = 0, file = 0;
    svtpm_err serr = SVTPM_OK;
    if (sd_lock(&s->sd, 0)) {
        s->running = false;
        return 0x09u /* TPM_FAIL */;
    }
    svtpm_err err = eh_power_on(&s->eh, flags, &rc, &serr, &file);
    if (err) {
        server_fatal_enclave(s, err);
        s->running = false;
        return 0x09u /* TPM_FAIL */;
    }
    s->running = rc == 0;
    if (rc) {
        char p[4096];
        if (serr == SVTPM_E_PERM && file == 0)
            herr("power-on refused: a VM image does not match the tenant's binding manifest "
                 "(see the audit record above)");
        else if (serr == SVTPM_E_AUTH)
            herr("cannot open sealed state %s: %s; the file is left untouched (is %s the platform "
                 "key it was sealed under? --platform-key / SVTPM_PLATFORM_KEY)",
                 sd_path(&s->sd, file, p, sizeof p), svtpm_strerror(serr), s->cfg->platform_key);
        else if (serr == SVTPM_E_PERM)
            herr("cannot open sealed state %s: sealed for another enclave signer or product or a "
                 "newer SVN, or its header was tampered with; the file is left untouched",
                 sd_path(&s->sd, file, p, sizeof p));
        else if (serr)
            herr("cannot open sealed state %s: %s; the file is left untouched",
                 sd_path(&s->sd, file, p, sizeof p), svtpm_strerror(serr));
        else
            herr("TPM initialisation failed (libtpms result 0x%x)", rc);
    } else {
        struct enclave_state_info si;
        if (eh_state_info(&s->eh, &si) == SVTPM_OK)
            hlog(2, "TPM powered on: sealed state version %llu, opened in %u ns",
                 (unsigned long long)si.seq, si.open_ns);
    }
    return rc;
}

void server_power_off(struct server *s)
{
    if (!s->running)
        return;
    svtpm_err err = eh_power_off(&s->eh);
    if (err)
        server_fatal_enclave(s, err);
    s->running = false;
}

static svtpm_err send_startup(struct server *s)
{
    uint8_t cmd[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, (uint8_t)s->cfg->startup };
    const uint8_t *resp;
    uint32_t rlen;
    svtpm_err err = eh_process(&s->eh, s->locality, cmd, sizeof cmd, &resp, &rlen);
    if (err)
        return err;
    if (rlen >= 10 && get_be32(resp + 6) != 0)
        hlog(1, "TPM2_Startup returned 0x%x", get_be32(resp + 6));
    return SVTPM_OK;
}

svtpm_err server_spawn_enclave(struct server *s)
{
    const struct config *c = s->cfg;
    struct enclave_start st = { .enclave_path = c->enclave, .platform_key = c->platform_key,
                                .seccomp = c->enclave_seccomp };
    svtpm_err err = sd_init(&s->sd, c->state_dir, c->state_mode);
    if (!err)
        err = eh_start(&s->eh, &st, &s->sd);
    return err;
}

/* The manifest is read here and judged only by the enclave. */
/* A small tenant document, read whole; its contents are the enclave's to judge. */
static svtpm_err read_doc(const char *path, const char *what, uint8_t *buf, size_t max, size_t *len)
{
    ssize_t n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, max + 1);
        close(fd);
    }
    if (n < 0) {
        herr("cannot read the %s %s: %s", what, path, strerror(errno));
        return SVTPM_E_IO;
    }
    if ((size_t)n > max) {
        herr("the %s %s is larger than %zu bytes: not one", what, path, max);
        return SVTPM_E_TOOBIG;
    }
    *len = (size_t)n;
    return SVTPM_OK;
}

static svtpm_err bind_manifest(struct server *s)
{
    const struct config *c = s->cfg;
    uint8_t buf[SVTPM_MANIFEST_MAX + 1], auth[RESTORE_AUTH_LEN + 1];
    size_t n = 0, na = 0;
    svtpm_err err = read_doc(c->manifest, "binding manifest", buf, SVTPM_MANIFEST_MAX, &n);
    if (!err && c->restore_auth)
        err = read_doc(c->restore_auth, "restore authorisation", auth, RESTORE_AUTH_LEN, &na);
    if (err)
        goto out;
    s->eh.images = c->vm_images;
    s->eh.n_images = c->n_vm_images;
    s->eh.time_authority = c->time_authority;
    if (c->counters && strcmp(c->counters, "none") != 0) {
        if (mkdir(c->counters, 0700) != 0 && errno != EEXIST) {
            herr("cannot create the counters directory %s: %s", c->counters, strerror(errno));
            goto out;
        }
        if ((err = sd_init(&s->nrs, c->counters, 0600)))
            goto out;
        s->eh.nrs = &s->nrs;
    }
    if ((err = sd_lock(&s->sd, 0)))
        goto out;
    uint32_t file = 0;
    char p[4096];
    err = eh_bind(&s->eh, buf, (uint32_t)n, auth, (uint32_t)na, &file);
    if (err && file)
        herr("refusing to start: the sealed state %s does not belong to the binding in %s (%s; the "
             "enclave's message above says why); every file is left untouched",
             sd_path(&s->sd, file, p, sizeof p), c->manifest, svtpm_strerror(err));
    else if (err)
        herr("refusing to start: the binding manifest %s does not hold for this vTPM (%s; the "
             "enclave's audit record above names the attack); every file is left untouched",
             c->manifest, svtpm_strerror(err));
out:
    return err;
}

svtpm_err server_start_tpm(struct server *s)
{
    const struct config *c = s->cfg;
    struct enclave_identity id;
    svtpm_err err = eh_init(&s->eh, c->have_vtpm_id ? c->vtpm_id : NULL,
                            c->disable_auto_shutdown ? INIT_F_NO_AUTO_SHUTDOWN : 0, &id);
    if (err) {
        herr("cannot start the enclave: %s", svtpm_strerror(err));
        return err;
    }
    char mr[65];
    for (int i = 0; i < 32; i++)
        snprintf(mr + 2 * i, 3, "%02x", id.mrsigner[i]);
    if (c->manifest && (err = bind_manifest(s)))
        return err;
    if (id.mode == 0)
        hlog(1, "TEE platform 'soft': the enclave is an isolated, hardened process; this does NOT "
                "protect TPM secrets against root on this host (use the sgx platform for that). "
                "MRSIGNER %s, ISVSVN %u", mr, id.isv_svn);
    if (strcmp(c->enclave_seccomp, "kill") != 0)
        hlog(1, "enclave syscall filter is '%s' (not enforcing)", c->enclave_seccomp);
    /* An swtpm being replaced in place: never manufacture a new TPM under
     * the VM's feet. Importing means feeding files the host controls to
     * libtpms' state parser inside the enclave (libtpms 0.9.2 has an
     * out-of-bounds read on crafted state), so it happens only when the
     * operator asks for it. */
    if (!sd_exists(&s->sd, STATE_FILE_PERMALL) && import_swtpm_present(c->state_dir) && !c->import_swtpm) {
        herr("%s holds swtpm state (tpm2-00.permall) and no svtpm state: import it with "
             "`svtpm import --from %s --tpmstate dir=%s [--key ...]`, or start with --import-swtpm "
             "(SVTPM_IMPORT_SWTPM=1); refusing to start with a new, different TPM",
             c->state_dir, c->state_dir, c->state_dir);
        return SVTPM_E_STATE;
    }
    if (!sd_exists(&s->sd, STATE_FILE_PERMALL) && import_swtpm_present(c->state_dir)) {
        if (sd_lock(&s->sd, 0) || import_swtpm_dir(&s->eh, c->state_dir, &c->key, true)) {
            herr("%s holds swtpm state that could not be imported%s; refusing to start rather than "
                 "replace the VM's TPM", c->state_dir, c->key.set ? "" : " (is it encrypted? pass its --key)");
            return SVTPM_E_STATE;
        }
        hlog(1, "imported the swtpm state in %s into sealed state; the swtpm files (tpm2-00.*) are "
                "left as they were: remove them once the VM runs on svtpm, they are not encrypted "
                "by svtpm", c->state_dir);
    }
    uint32_t sizes[3];
    if (eh_set_buffersize(&s->eh, 0, sizes) == SVTPM_OK)
        s->buffersize = sizes[0];
    if (c->not_need_init) {
        if (server_power_on(s, 0) != 0)
            return SVTPM_E_STATE;
        if (c->startup >= 0 && (err = send_startup(s)))
            return err;
    }
    return SVTPM_OK;
}

static int accept_one(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        hlog(1, "accept failed: %s", strerror(errno));
    return fd;
}

int server_run(struct server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);

    while (!s->quit) {
        struct pollfd p[5];
        int n = 0, i_sig, i_cl = -1, i_cc = -1, i_dl = -1, i_dc = -1;
        p[i_sig = n++] = (struct pollfd){ s->sigfd, POLLIN, 0 };
        /* One client per channel at a time; others wait in the backlog. */
        if (s->ctrl_conn >= 0)
            p[i_cc = n++] = (struct pollfd){ s->ctrl_conn, POLLIN, 0 };
        else if (s->ctrl_listen >= 0)
            p[i_cl = n++] = (struct pollfd){ s->ctrl_listen, POLLIN, 0 };
        if (s->data_conn >= 0)
            p[i_dc = n++] = (struct pollfd){ s->data_conn, POLLIN, 0 };
        else if (s->data_listen >= 0)
            p[i_dl = n++] = (struct pollfd){ s->data_listen, POLLIN, 0 };
        if (poll(p, (nfds_t)n, data_timeout_ms(s)) < 0) {
            if (errno == EINTR)
                continue;
            herr("poll: %s", strerror(errno));
            s->exit_code = 1;
            break;
        }
        if (p[i_sig].revents) {
            struct signalfd_siginfo si;
            if (read(s->sigfd, &si, sizeof si) == sizeof si) {
                hlog(2, "signal %u: shutting down", si.ssi_signo);
                s->quit = true;
            }
            continue;
        }
        data_expire(s);
        if (i_dc >= 0 && s->data_conn >= 0 && p[i_dc].revents)
            data_handle(s);
        else if (i_dl >= 0 && p[i_dl].revents) {
            s->data_conn = accept_one(s->data_listen);
            s->data_conn_terminal = s->cfg->terminate;   /* -t: the client leaving ends us */
            /* (TCP_DEFER_ACCEPT, to be woken once with the command, measured
             * slower here: 1.19-1.31x swtpm against 1.09-1.11x without.) */
        }
        if (s->quit)
            break;
        if (i_cc >= 0 && p[i_cc].revents && s->ctrl_conn >= 0)
            ctrl_handle(s);
        else if (i_cl >= 0 && p[i_cl].revents)
            s->ctrl_conn = accept_one(s->ctrl_listen);
    }
    server_power_off(s);
    return s->exit_code;
}

void server_close(struct server *s)
{
    eh_stop(&s->eh);
    sd_fini(&s->sd);
    if (s->eh.nrs)
        sd_fini(&s->nrs);
    if (s->cfg->ctrl.kind == CH_UNIX_PATH)
        unlink(s->cfg->ctrl.path);
    if (s->cfg->server.kind == CH_UNIX_PATH)
        unlink(s->cfg->server.path);
    int fds[] = { s->ctrl_listen, s->ctrl_conn, s->data_listen, s->data_conn, s->sigfd };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(s->cbuf);
}
