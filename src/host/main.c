/* svtpm: the untrusted host half of the vTPM (sockets, files, process), and
 * the command-line front door. Invoked as `swtpm` it behaves as swtpm does for
 * the options QEMU, libvirt and swtpm_setup use. */
#include "config.h"
#include "import_cmd.h"
#include "audit.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "server.h"
#include "version.h"

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void print_capabilities(const struct config *c)
{
    /* Only what svtpm implements: no tpm-1.2, no cmdarg-migration, no seccomp
     * profile switch, no file backend. */
    printf("{ \"type\": \"swtpm\", \"features\": [ \"tpm-2.0\", \"tpm-send-command-header\", "
           "\"flags-opt-startup\", \"flags-opt-disable-auto-shutdown\", \"ctrl-opt-terminate\", "
           "\"cmdarg-seccomp\", \"cmdarg-key-fd\", \"cmdarg-pwd-fd\", \"cmdarg-print-states\", \"nvram-backend-dir\", "
           "\"rsa-keysize-1024\", \"rsa-keysize-2048\", \"rsa-keysize-3072\" ], "
           "\"version\": \"%s\" }\n",
           c->swtpm_name ? SVTPM_SWTPM_COMPAT_VERSION : SVTPM_VERSION);
}

static int print_states(const struct config *c)
{
    char p[4096];
    struct stat st;
    printf("{ \"type\": \"swtpm\", \"states\": [");
    snprintf(p, sizeof p, "%s/svtpm.permall", c->state_dir);
    bool any = false;
    if (stat(p, &st) == 0) {
        printf(" {\"name\": \"permall\", \"size\": %lld}", (long long)st.st_size);
        any = true;
    }
    snprintf(p, sizeof p, "%s/tpm2-00.permall", c->state_dir);
    if (!any && stat(p, &st) == 0) {
        /* swtpm state not imported yet: it is what the next start will use */
        printf(" {\"name\": \"permall\", \"size\": %lld}", (long long)st.st_size);
        any = true;
    }
    snprintf(p, sizeof p, "%s/svtpm.volatilestate", c->state_dir);
    if (stat(p, &st) == 0)
        printf("%s {\"name\": \"volatilestate\", \"size\": %lld}", any ? "," : "", (long long)st.st_size);
    printf(" ] }");
    return 0;
}

static int run_socket(struct config *c)
{
    int ready_fd = -1, rc = 1;
    char pidpath[4096] = "";
    struct server s = { .cfg = c, .ctrl_listen = -1, .ctrl_conn = -1, .data_listen = -1,
                        .data_conn = -1, .sigfd = -1 };
    if (c->daemon && (ready_fd = proc_daemon_begin()) < 0) {
        fprintf(stderr, "%s: cannot daemonize\n", c->progname);
        return 1;
    }
    if (c->runas && proc_runas(c->runas))
        goto out;
    if (log_open(&c->log) || audit_open(c->audit_file))
        goto out;
    if (c->print_capabilities) {
        print_capabilities(c);
        rc = 0;
        goto out;
    }
    if (c->print_states) {
        rc = print_states(c);
        goto out;
    }
    if (server_spawn_enclave(&s))
        goto out_server;
    if (sandbox_apply((enum sandbox_action)c->seccomp_action))
        goto out_server;
    /* The binding and the state are judged before any socket exists: a
     * starter that waits for the socket (libvirt) then sees a refused start
     * as the process exiting, with the audit record written, instead of
     * starting QEMU against a vTPM that is about to refuse. */
    if (server_start_tpm(&s))
        goto out_server;
    if (server_open_sockets(&s))
        goto out_server;
    if (proc_write_pidfile(c, pidpath, sizeof pidpath))
        goto out_server;
    hlog(2, "%s %s ready", c->progname, SVTPM_VERSION);
    proc_daemon_ready(ready_fd);
    ready_fd = -1;
    rc = server_run(&s);
out_server:
    server_close(&s);
    if (pidpath[0])
        unlink(pidpath);
out:
    audit_close();
    log_close();
    return rc;
}

int main(int argc, char **argv)
{
    struct config c = { 0 };
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    c.swtpm_name = strcmp(base, "swtpm") == 0;
    c.progname = c.swtpm_name ? "swtpm" : "svtpm";

    if (argc < 2) {
        fprintf(stderr, "%s: missing TPM interface type (socket)\n", c.progname);
        return 1;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-v") || !strcmp(sub, "--version")) {
        if (c.swtpm_name)
            printf("TPM emulator version %s, Copyright (c) 2014-2021 IBM Corp. (svtpm %s)\n",
                   SVTPM_SWTPM_COMPAT_VERSION, SVTPM_VERSION);
        else
            printf("svtpm %s (swtpm-compatible %s)\n", SVTPM_VERSION, SVTPM_SWTPM_COMPAT_VERSION);
        return 0;
    }
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        config_usage(&c, STDOUT_FILENO);
        return 0;
    }
    if (!strcmp(sub, "import") && !c.swtpm_name)
        return import_main(argc - 1, argv + 1);
    if (!strcmp(sub, "chardev") || !strcmp(sub, "cuse")) {
        fprintf(stderr, "%s: interface '%s' is not supported; svtpm serves 'socket' only\n", c.progname, sub);
        return 1;
    }
    if (strcmp(sub, "socket") != 0) {
        fprintf(stderr, "%s: unknown interface type '%s' (expected socket)\n", c.progname, sub);
        return 1;
    }
    int rc = config_parse(&c, argc - 1, argv + 1);
    if (rc == 0 && c.help)
        config_usage(&c, STDOUT_FILENO);
    else if (rc == 0 && c.version)
        printf("svtpm %s\n", SVTPM_VERSION);
    else if (rc == 0)
        rc = run_socket(&c);
    config_free(&c);
    return rc;
}
