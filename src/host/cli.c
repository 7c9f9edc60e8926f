#include "bindings.h"
#include "config.h"
#include "optval.h"

#include <ctype.h>
#include <stdarg.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PLATFORM_KEY "/var/lib/svtpm/platform.key"
#define DEFAULT_COUNTERS "/var/lib/svtpm/counters"

enum {
    O_CTRL = 1000, O_SERVER, O_TPMSTATE, O_TPM2, O_LOG, O_LOCALITY, O_KEY, O_MIGKEY, O_PID,
    O_SECCOMP, O_FLAGS, O_MIGRATION, O_PRINTCAPS, O_PRINTSTATES, O_VTPMID, O_PLATKEY,
    O_ENCLAVE, O_ENCSECCOMP, O_IMPORT, O_PROFILE, O_PRINTPROFILES, O_PRINTINFO, O_PCAP,
    O_BINDING, O_VMIMAGE, O_AUDIT, O_COUNTERS, O_RESTOREAUTH, O_TIMEAUTH, O_BINDINGS,
};

static const struct option longopts[] = {
    { "port", required_argument, NULL, 'p' },
    { "fd", required_argument, NULL, 'f' },
    { "terminate", no_argument, NULL, 't' },
    { "daemon", no_argument, NULL, 'd' },
    { "runas", required_argument, NULL, 'r' },
    { "chroot", required_argument, NULL, 'R' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { "ctrl", required_argument, NULL, O_CTRL },
    { "server", required_argument, NULL, O_SERVER },
    { "tpmstate", required_argument, NULL, O_TPMSTATE },
    { "tpm2", no_argument, NULL, O_TPM2 },
    { "log", required_argument, NULL, O_LOG },
    { "locality", required_argument, NULL, O_LOCALITY },
    { "key", required_argument, NULL, O_KEY },
    { "migration-key", required_argument, NULL, O_MIGKEY },
    { "pid", required_argument, NULL, O_PID },
    { "seccomp", required_argument, NULL, O_SECCOMP },
    { "flags", required_argument, NULL, O_FLAGS },
    { "migration", required_argument, NULL, O_MIGRATION },
    { "profile", required_argument, NULL, O_PROFILE },
    { "print-profiles", no_argument, NULL, O_PRINTPROFILES },
    { "print-info", required_argument, NULL, O_PRINTINFO },
    { "pcap", required_argument, NULL, O_PCAP },
    { "print-capabilities", no_argument, NULL, O_PRINTCAPS },
    { "print-states", no_argument, NULL, O_PRINTSTATES },
    { "vtpm-id", required_argument, NULL, O_VTPMID },
    { "platform-key", required_argument, NULL, O_PLATKEY },
    { "enclave", required_argument, NULL, O_ENCLAVE },
    { "enclave-seccomp", required_argument, NULL, O_ENCSECCOMP },
    { "import-swtpm", no_argument, NULL, O_IMPORT },
    { "binding", required_argument, NULL, O_BINDING },
    { "vm-image", required_argument, NULL, O_VMIMAGE },
    { "audit", required_argument, NULL, O_AUDIT },
    { "counters", required_argument, NULL, O_COUNTERS },
    { "time-authority", required_argument, NULL, O_TIMEAUTH },
    { "restore-auth", required_argument, NULL, O_RESTOREAUTH },
    { "bindings", required_argument, NULL, O_BINDINGS },
    { NULL, 0, NULL, 0 },
};

static int bad(const struct config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const struct config *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* --OPT KEY=PATH, the only key OPT takes; a repeated option replaces. */
static int parse_one_path(struct config *c, const char *arg, const char *opt, const char *key, char **out)
{
    char why[256];
    svtpm_err err = optval_one(arg, key, out, why, sizeof why);
    if (err == SVTPM_E_NOTFOUND)
        return bad(c, "%s: expected %s=PATH", opt, key);
    if (err)
        return bad(c, "%s: %s", opt, err == SVTPM_E_INVAL ? why : svtpm_strerror(err));
    return 0;
}

static int parse_fd(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_port(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v == 0 || v > 65535)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int ids(struct chan_cfg *ch, const struct optval *o)
{
    const char *u = optval_get(o, "uid"), *g = optval_get(o, "gid");
    if (u) {
        struct passwd *pw = isdigit((unsigned char)u[0]) ? NULL : getpwnam(u);
        char *end;
        unsigned long v = pw ? pw->pw_uid : strtoul(u, &end, 10);
        if (!pw && (!*u || *end))
            return -1;
        ch->uid = (uid_t)v;
        ch->have_uid = true;
    }
    if (g) {
        struct group *gr = isdigit((unsigned char)g[0]) ? NULL : getgrnam(g);
        char *end;
        unsigned long v = gr ? gr->gr_gid : strtoul(g, &end, 10);
        if (!gr && (!*g || *end))
            return -1;
        ch->gid = (gid_t)v;
        ch->have_gid = true;
    }
    return 0;
}

/* --ctrl and --server share the syntax. */
static int parse_chan(struct config *c, struct chan_cfg *ch, const char *arg, bool is_ctrl)
{
    static const char *const names_ctrl[] = { "type", "path", "mode", "uid", "gid", "fd", "clientfd",
                                              "port", "bindaddr", "ifname", "terminate", NULL };
    static const char *const names_srv[] = { "type", "path", "mode", "uid", "gid", "fd", "port",
                                             "bindaddr", "ifname", "disconnect", NULL };
    char why[256];
    struct optval o;
    int rc = 1;
    if (optval_parse(arg, is_ctrl ? names_ctrl : names_srv, &o, why, sizeof why))
        return bad(c, "%s %s", is_ctrl ? "--ctrl:" : "--server:", why);
    const char *type = optval_get(&o, "type");
    if (!type)
        type = is_ctrl ? "" : "tcp";
    free(ch->path);
    free(ch->bindaddr);
    memset(ch, 0, sizeof *ch);
    const char *opt = is_ctrl ? "--ctrl" : "--server";
    ch->mode = 0770;
    ch->fd = -1;
    if (optval_has(&o, "mode") && optval_mode(&o, "mode", &ch->mode)) {
        bad(c, "%s: bad mode '%s'", opt, optval_get(&o, "mode"));
        goto out;
    }
    if (ids(ch, &o)) {
        bad(c, "%s: unknown uid or gid in '%s'", opt, arg);
        goto out;
    }
    if (optval_has(&o, "ifname")) {
        bad(c, "%s: ifname= (IPv6 link-local) is not supported by svtpm", opt);
        goto out;
    }
    ch->terminate = optval_bool(&o, "terminate");
    ch->disconnect = optval_bool(&o, "disconnect");
    const char *path = optval_get(&o, "path"), *fd = optval_get(&o, "fd"),
               *cfd = optval_get(&o, "clientfd"), *port = optval_get(&o, "port");
    if (!strcmp(type, "unixio")) {
        if (path && *path) {
            ch->kind = CH_UNIX_PATH;
            ch->path = strdup(path);
        } else if (fd) {
            ch->kind = CH_UNIX_FD;
            if (parse_fd(fd, &ch->fd)) { bad(c, "%s: bad fd '%s'", opt, fd); goto out; }
        } else if (cfd && is_ctrl) {
            ch->kind = CH_UNIX_CLIENTFD;
            if (parse_fd(cfd, &ch->fd)) { bad(c, "%s: bad clientfd '%s'", opt, cfd); goto out; }
        } else {
            bad(c, "%s: type=unixio needs path= or fd=%s", opt, is_ctrl ? " or clientfd=" : "");
            goto out;
        }
    } else if (!strcmp(type, "tcp")) {
        const char *ba = optval_get(&o, "bindaddr");
        ch->bindaddr = strdup(ba && *ba ? ba : "127.0.0.1");
        if (fd) {
            ch->kind = CH_TCP_FD;
            if (parse_fd(fd, &ch->fd)) { bad(c, "%s: bad fd '%s'", opt, fd); goto out; }
        } else {
            const char *p = port ? port : (!is_ctrl ? getenv("TPM_PORT") : NULL);
            if (!p || parse_port(p, &ch->port)) {
                bad(c, "%s: type=tcp needs a valid port= or fd=", opt);
                goto out;
            }
            ch->kind = CH_TCP_PORT;
        }
    } else {
        bad(c, "%s: unsupported type '%s' (use unixio or tcp)", opt, type);
        goto out;
    }
    rc = 0;
out:
    optval_free(&o);
    return rc;
}

static int parse_tpmstate(struct config *c, const char *arg)
{
    static const char *const names[] = { "dir", "mode", "backend-uri", "lock", NULL };
    char why[256];
    struct optval o;
    int rc = 1;
    if (optval_parse(arg, names, &o, why, sizeof why))
        return bad(c, "--tpmstate: %s", why);
    const char *dir = optval_get(&o, "dir"), *uri = optval_get(&o, "backend-uri");
    c->state_mode = 0640;
    if (optval_has(&o, "lock") && !optval_bool(&o, "lock")) {
        bad(c, "--tpmstate: lock=false is not supported: svtpm always locks its state directory");
        goto out;
    }
    if (optval_has(&o, "mode") && optval_mode(&o, "mode", &c->state_mode)) {
        bad(c, "--tpmstate: bad mode '%s'", optval_get(&o, "mode"));
        goto out;
    }
    if (uri) {
        if (strncmp(uri, "dir://", 6) != 0) {
            bad(c, "--tpmstate: backend-uri '%s' is not supported (svtpm keeps sealed state in a directory: dir://)", uri);
            goto out;
        }
        dir = uri + 6;
    }
    if (!dir || !*dir) {
        bad(c, "--tpmstate: dir= is required");
        goto out;
    }
    free(c->state_dir);
    c->state_dir = strdup(dir);
    rc = 0;
out:
    optval_free(&o);
    return rc;
}

static int parse_log(struct config *c, const char *arg)
{
    static const char *const names[] = { "file", "fd", "level", "prefix", "truncate", NULL };
    char why[256];
    struct optval o;
    if (optval_parse(arg, names, &o, why, sizeof why))
        return bad(c, "--log: %s", why);
    int rc = 0;
    const char *f = optval_get(&o, "file"), *fd = optval_get(&o, "fd"), *p = optval_get(&o, "prefix");
    unsigned long lvl = 0;
    /* a repeated option replaces the earlier one */
    free((char *)c->log.file);
    free((char *)c->log.prefix);
    c->log.file = c->log.prefix = NULL;
    c->log.fd = -1;
    if (f)
        c->log.file = strdup(f);
    else if (fd && parse_fd(fd, &c->log.fd))
        rc = bad(c, "--log: bad fd '%s'", fd);
    if (optval_has(&o, "level") && optval_uint(&o, "level", 100, &lvl))
        rc = bad(c, "--log: bad level '%s'", optval_get(&o, "level"));
    c->log.level = (unsigned)lvl;
    if (p)
        c->log.prefix = strdup(p);
    c->log.truncate = optval_bool(&o, "truncate");
    if (!f && !fd)
        rc = bad(c, "--log: file= or fd= is required");
    optval_free(&o);
    return rc;
}

static int parse_flags(struct config *c, const char *arg)
{
    static const char *const names[] = { "not-need-init", "startup-clear", "startup-state",
                                         "startup-deactivated", "startup-none",
                                         "disable-auto-shutdown", NULL };
    char why[256];
    struct optval o;
    if (optval_parse(arg, names, &o, why, sizeof why))
        return bad(c, "--flags: %s", why);
    int rc = 0;
    c->not_need_init |= optval_bool(&o, "not-need-init");
    if (optval_has(&o, "startup-clear")) c->startup = 0;
    if (optval_has(&o, "startup-state")) c->startup = 1;
    if (optval_has(&o, "startup-none")) c->startup = -1;
    if (optval_has(&o, "startup-deactivated"))
        rc = bad(c, "--flags: startup-deactivated is for TPM 1.2 only");
    if (c->startup >= 0)
        c->not_need_init = true;
    c->disable_auto_shutdown |= optval_bool(&o, "disable-auto-shutdown");
    optval_free(&o);
    return rc;
}

static int parse_pid(struct config *c, const char *arg)
{
    static const char *const names[] = { "file", "fd", NULL };
    char why[256];
    struct optval o;
    if (optval_parse(arg, names, &o, why, sizeof why))
        return bad(c, "--pid: %s", why);
    int rc = 0;
    const char *f = optval_get(&o, "file"), *fd = optval_get(&o, "fd");
    free(c->pid_file);
    c->pid_file = NULL;
    c->pid_fd = -1;
    if (f && *f)
        c->pid_file = strdup(f);
    else if (!fd || parse_fd(fd, &c->pid_fd))
        rc = bad(c, "--pid: file= or fd= is required");
    optval_free(&o);
    return rc;
}

static int parse_locality(struct config *c, const char *arg)
{
    static const char *const names[] = { "reject-locality-4", "allow-set-locality", NULL };
    char why[256];
    struct optval o;
    if (optval_parse(arg, names, &o, why, sizeof why))
        return bad(c, "--locality: %s", why);
    c->reject_locality_4 = optval_bool(&o, "reject-locality-4");
    c->allow_set_locality = optval_bool(&o, "allow-set-locality");
    optval_free(&o);
    return 0;
}

int config_parse_key(struct config *c, struct key_cfg *k, const char *arg, const char *opt)
{
    static const char *const names[] = { "file", "fd", "pwdfile", "pwdfd", "format", "mode", "kdf",
                                         "remove", NULL };
    char why[256];
    struct optval o;
    if (optval_parse(arg, names, &o, why, sizeof why))
        return bad(c, "%s: %s", opt, why);
    int rc = 0;
    free(k->file);
    free(k->pwdfile);
    memset(k, 0, sizeof *k);
    k->set = true;
    k->fd = k->pwdfd = -1;
    k->keylen = 16;
    const char *v;
    if ((v = optval_get(&o, "file"))) k->file = strdup(v);
    if ((v = optval_get(&o, "pwdfile"))) k->pwdfile = strdup(v);
    if ((v = optval_get(&o, "fd")) && parse_fd(v, &k->fd)) rc = bad(c, "%s: bad fd '%s'", opt, v);
    if ((v = optval_get(&o, "pwdfd")) && parse_fd(v, &k->pwdfd)) rc = bad(c, "%s: bad pwdfd '%s'", opt, v);
    if ((v = optval_get(&o, "format"))) {
        if (!strcmp(v, "binary")) k->binary = true;
        else if (strcmp(v, "hex")) rc = bad(c, "%s: unknown format '%s'", opt, v);
    }
    if ((v = optval_get(&o, "mode"))) {
        if (!strcmp(v, "aes-256-cbc")) k->keylen = 32;
        else if (strcmp(v, "aes-cbc") && strcmp(v, "aes-128-cbc")) rc = bad(c, "%s: unknown mode '%s'", opt, v);
    }
    if ((v = optval_get(&o, "kdf"))) {
        if (!strcmp(v, "sha512")) k->kdf_sha512 = true;
        else if (strcmp(v, "pbkdf2")) rc = bad(c, "%s: unknown kdf '%s'", opt, v);
    }
    k->remove = optval_bool(&o, "remove");
    if (!k->file && !k->pwdfile && k->fd < 0 && k->pwdfd < 0)
        rc = bad(c, "%s: one of file=, fd=, pwdfile=, pwdfd= is required", opt);
    optval_free(&o);
    return rc;
}

static int parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-')
            continue;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || n == 16)
            return -1;
        char h[3] = { p[0], p[1], 0 };
        out[n++] = (uint8_t)strtoul(h, NULL, 16);
        p++;
    }
    return n == 16 ? 0 : -1;
}

int config_parse(struct config *c, int argc, char **argv)
{
    c->startup = -1;
    c->pid_fd = -1;
    c->log.fd = -1;
    c->ctrl.fd = c->server.fd = -1;
    c->tpm2 = !c->swtpm_name;   /* svtpm is TPM 2 only; as swtpm, --tpm2 is required */
    int ch, rc = 0;
    optind = 1;
    while (rc == 0 && (ch = getopt_long(argc, argv, "p:f:tdr:R:hv", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (parse_port(optarg, &c->server.port)) { rc = bad(c, "bad port '%s'", optarg); break; }
            c->server.kind = CH_TCP_PORT;
            c->server.disconnect = true;
            free(c->server.bindaddr);
            c->server.bindaddr = strdup("127.0.0.1");
            break;
        case 'f':
            if (parse_fd(optarg, &c->server.fd) || c->server.fd < 3) { rc = bad(c, "bad fd '%s'", optarg); break; }
            c->server.kind = CH_TCP_FD;
            break;
        case 't': c->terminate = true; break;
        case 'd': c->daemon = true; break;
        case 'r': c->runas = strdup(optarg); break;
        case 'R': rc = bad(c, "--chroot is not supported by svtpm"); break;
        case 'h': c->help = true; break;
        case 'v': c->version = true; break;
        case O_CTRL: rc = parse_chan(c, &c->ctrl, optarg, true); break;
        case O_SERVER: rc = parse_chan(c, &c->server, optarg, false); break;
        case O_TPMSTATE: rc = parse_tpmstate(c, optarg); break;
        case O_TPM2: c->tpm2 = true; break;
        case O_LOG: rc = parse_log(c, optarg); break;
        case O_LOCALITY: rc = parse_locality(c, optarg); break;
        case O_KEY: rc = config_parse_key(c, &c->key, optarg, "--key"); break;
        case O_MIGKEY: rc = config_parse_key(c, &c->migration_key, optarg, "--migration-key"); break;
        case O_PID: rc = parse_pid(c, optarg); break;
        case O_SECCOMP: {
            /* The host's own filter; the enclave's allowlist is not the
             * host's to switch off (see --enclave-seccomp). */
            static const char *const names[] = { "action", NULL };
            char why[256];
            struct optval o;
            if (optval_parse(optarg, names, &o, why, sizeof why)) {
                rc = bad(c, "--seccomp: %s", why);
                break;
            }
            const char *a = optval_get(&o, "action");
            if (a && !strcmp(a, "none")) c->seccomp_action = 2;
            else if (a && !strcmp(a, "log")) c->seccomp_action = 1;
            else if (a && !strcmp(a, "kill")) c->seccomp_action = 0;
            else rc = bad(c, "--seccomp: expected action=none|kill|log, got '%s'", optarg);
            optval_free(&o);
            break;
        }
        case O_FLAGS: rc = parse_flags(c, optarg); break;
        case O_MIGRATION:
            rc = bad(c, "--migration is not supported yet (svtpm does not advertise cmdarg-migration)");
            break;
        case O_PROFILE: case O_PRINTPROFILES: case O_PRINTINFO:
            rc = bad(c, "profiles need libtpms 0.10; not supported");
            break;
        case O_PCAP: rc = bad(c, "--pcap is not supported"); break;
        case O_PRINTCAPS: c->print_capabilities = true; break;
        case O_PRINTSTATES: c->print_states = true; break;
        case O_VTPMID:
            if (parse_uuid(optarg, c->vtpm_id)) rc = bad(c, "--vtpm-id: not a UUID: '%s'", optarg);
            c->have_vtpm_id = true;
            break;
        case O_PLATKEY: free(c->platform_key); c->platform_key = strdup(optarg); break;
        case O_ENCLAVE: free(c->enclave); c->enclave = strdup(optarg); break;
        case O_IMPORT: c->import_swtpm = true; break;
        case O_BINDING: rc = parse_one_path(c, optarg, "--binding", "manifest", &c->manifest); break;
        case O_AUDIT: rc = parse_one_path(c, optarg, "--audit", "file", &c->audit_file); break;
        case O_RESTOREAUTH:
            rc = parse_one_path(c, optarg, "--restore-auth", "file", &c->restore_auth);
            break;
        case O_COUNTERS:
            if (!strcmp(optarg, "none")) {
                free(c->counters);
                c->counters = strdup("none");
            } else {
                rc = parse_one_path(c, optarg, "--counters", "dir", &c->counters);
            }
            break;
        case O_TIMEAUTH:
            rc = parse_one_path(c, optarg, "--time-authority", "tcp", &c->time_authority);
            break;
        case O_BINDINGS: rc = parse_one_path(c, optarg, "--bindings", "dir", &c->bindings_dir); break;
        case O_VMIMAGE:
            if (c->n_vm_images == sizeof c->vm_images / sizeof c->vm_images[0])
                rc = bad(c, "--vm-image: at most %zu images", sizeof c->vm_images / sizeof c->vm_images[0]);
            else
                c->vm_images[c->n_vm_images++] = strdup(optarg);
            break;
        case O_ENCSECCOMP:
            if (strcmp(optarg, "kill") && strcmp(optarg, "log") && strcmp(optarg, "off"))
                rc = bad(c, "--enclave-seccomp: expected kill, log or off, got '%s'", optarg);
            free(c->enclave_seccomp);
            c->enclave_seccomp = strdup(optarg);
            break;
        default:
            rc = bad(c, "unknown option; try --help");
        }
    }
    if (rc)
        return rc;
    if (optind < argc)
        return bad(c, "unexpected argument '%s'", argv[optind]);
    if (c->help || c->version || c->print_capabilities)
        return 0;
    if (!c->tpm2)
        return bad(c, "svtpm emulates a TPM 2.0 only: pass --tpm2 (TPM 1.2 is not supported)");
    if (!c->state_dir) {
        const char *env = getenv("TPM_PATH");
        if (env && *env)
            c->state_dir = strdup(env);
    }
    if (!c->state_dir)
        return bad(c, "missing --tpmstate dir=...");
    if (c->print_states)
        return 0;
    if (!c->bindings_dir) {
        const char *env = getenv("SVTPM_BINDINGS");
        if (env && *env)
            c->bindings_dir = strdup(env);
    }
    char why[512];
    if (bindings_apply(c, why, sizeof why))
        return bad(c, "%s", why);
    if (c->n_vm_images && !c->manifest)
        return bad(c, "--vm-image needs --binding manifest=...: the image is checked against it");
    if (c->time_authority && !c->manifest)
        return bad(c, "--time-authority needs --binding manifest=...: the manifest pins the authority's key");
    if (c->restore_auth && !c->manifest)
        return bad(c, "--restore-auth needs --binding manifest=...: it is checked against the tenant's key");
    if (c->manifest && !c->counters) {
        const char *env = getenv("SVTPM_COUNTERS");
        c->counters = strdup(env && *env ? env : DEFAULT_COUNTERS);
    }
    if (!c->platform_key) {
        const char *env = getenv("SVTPM_PLATFORM_KEY");
        c->platform_key = strdup(env && *env ? env : DEFAULT_PLATFORM_KEY);
    }
    if (!c->enclave_seccomp) {
        const char *env = getenv("SVTPM_ENCLAVE_SECCOMP");
        c->enclave_seccomp = strdup(env && *env ? env : "kill");
        if (strcmp(c->enclave_seccomp, "kill") && strcmp(c->enclave_seccomp, "log") &&
            strcmp(c->enclave_seccomp, "off"))
            return bad(c, "SVTPM_ENCLAVE_SECCOMP: expected kill, log or off, got '%s'", c->enclave_seccomp);
    }
    const char *imp = getenv("SVTPM_IMPORT_SWTPM");
    if (imp && !strcmp(imp, "1"))
        c->import_swtpm = true;
    if (c->ctrl.kind == CH_NONE && c->server.kind == CH_NONE)
        return bad(c, "nothing to serve: give --ctrl and/or --server");
    return 0;
}

void config_free(struct config *c)
{
    free(c->state_dir);
    free(c->ctrl.path);
    free(c->ctrl.bindaddr);
    free(c->server.path);
    free(c->server.bindaddr);
    free((char *)c->log.file);
    free((char *)c->log.prefix);
    free(c->pid_file);
    free(c->key.file);
    free(c->key.pwdfile);
    free(c->migration_key.file);
    free(c->migration_key.pwdfile);
    free(c->runas);
    free(c->platform_key);
    free(c->enclave);
    free(c->enclave_seccomp);
    free(c->manifest);
    for (unsigned i = 0; i < c->n_vm_images; i++)
        free(c->vm_images[i]);
    free(c->audit_file);
    free(c->counters);
    free(c->time_authority);
    free(c->restore_auth);
    free(c->bindings_dir);
}

void config_usage(const struct config *c, int fd)
{
    dprintf(fd,
        "Usage: %s socket [options]\n"
        "\n"
        "svtpm: a virtual TPM 2.0 whose TPM engine and secrets run in an enclave,\n"
        "with sealed, durable state; a drop-in for 'swtpm socket'.\n"
        "\n"
        "swtpm-compatible options:\n"
        "  --tpm2                       TPM 2.0 (the only kind svtpm emulates)\n"
        "  --tpmstate dir=DIR[,mode=0640] | backend-uri=dir://DIR\n"
        "                               directory of the sealed state ($TPM_PATH)\n"
        "  --ctrl type=unixio,path=P[,mode=0770][,uid=][,gid=][,terminate]\n"
        "  --ctrl type=unixio,fd=N | clientfd=N\n"
        "  --ctrl type=tcp,port=P[,bindaddr=127.0.0.1] | type=tcp,fd=N\n"
        "                               control channel (swtpm CMD_* protocol)\n"
        "  --server type=tcp,port=P[,bindaddr=A][,disconnect] | type=tcp,fd=N\n"
        "  --server type=unixio,path=P[,mode=0770] | type=unixio,fd=N\n"
        "                               TPM data channel ($TPM_PORT)\n"
        "  -p, --port P                 legacy: --server type=tcp,port=P,disconnect\n"
        "  -f, --fd N                   legacy: connected data socket\n"
        "  --flags [not-need-init][,startup-clear|startup-state|startup-none]\n"
        "          [,disable-auto-shutdown]\n"
        "  --locality [reject-locality-4][,allow-set-locality]\n"
        "  --log file=F|fd=N[,level=N][,prefix=S][,truncate]\n"
        "  --pid file=F|fd=N            write the pid when ready\n"
        "  --key file=|fd=|pwdfile=|pwdfd=...[,mode=aes-256-cbc][,kdf=]\n"
        "                               key of an swtpm-encrypted state to import\n"
        "  -t, --terminate              exit when the data connection closes\n"
        "  -d, --daemon                 run in the background once ready\n"
        "  -r, --runas USER             drop to USER (when started as root)\n"
        "  --seccomp action=kill|log|none  the host process's syscall denylist (default kill)\n"
        "  --print-capabilities         JSON capabilities, as swtpm\n"
        "  --print-states               JSON list of stored states, as swtpm\n"
        "  -v, --version, -h, --help\n"
        "\n"
        "svtpm's own options:\n"
        "  --vtpm-id UUID               this vTPM's identity; state of another id is refused\n"
        "  --platform-key FILE          soft TEE platform key ($SVTPM_PLATFORM_KEY,\n"
        "                               default " DEFAULT_PLATFORM_KEY "; created 0600 if absent)\n"
        "  --enclave PATH               the enclave program ($SVTPM_ENCLAVE)\n"
        "  --enclave-seccomp kill|log|off  enclave syscall filter ($SVTPM_ENCLAVE_SECCOMP;\n"
        "                               off only for sanitizer builds)\n"
        "  --import-swtpm               seal swtpm state found in the state directory on\n"
        "                               first start ($SVTPM_IMPORT_SWTPM=1); without it svtpm\n"
        "                               refuses to start over swtpm state\n"
        "  --binding manifest=FILE      the tenant's signed binding manifest (svtpm-tenant\n"
        "                               bind): tenant, vTPM id, VM image(s), allowed enclaves,\n"
        "                               rollback policy; state of any other binding is refused\n"
        "  --vm-image PATH              a boot image the manifest names, measured at every\n"
        "                               power-on (repeat, in the manifest's order)\n"
        "  --counters dir=DIR|none      the host-wide counter store that keeps bound vTPMs'\n"
        "                               state versions outside the VMs' directories\n"
        "                               ($SVTPM_COUNTERS, default " DEFAULT_COUNTERS ")\n"
        "  --time-authority tcp=HOST:PORT  where the enclave's clock gets signed time tokens\n"
        "                               (the manifest pins the authority's key)\n"
        "  --restore-auth file=FILE     the tenant's authorisation to open one older state\n"
        "                               (svtpm-tenant authorize-restore; policy snapshot)\n"
        "  --audit file=FILE            append an audit record (JSON line) per refused attack\n"
        "                               (always also logged)\n"
        "  --bindings dir=DIR           without --binding: bind with DIR/<id>/manifest, the\n"
        "                               images DIR/<id>/image.0.., DIR/<id>/restore-auth and\n"
        "                               DIR/<id>/time-authority (tcp=HOST:PORT) when present;\n"
        "                               <id> is --vtpm-id or the UUID of a\n"
        "                               libvirt state path .../<UUID>/tpm2 ($SVTPM_BINDINGS)\n"
        "\n"
        "Not supported (refused with a message): TPM 1.2, chardev/cuse, --migration,\n"
        "--chroot, profiles, --pcap, non-directory state backends.\n"
        "\n"
        "Other commands: svtpm import --help\n",
        c->progname);
}
