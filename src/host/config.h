/* Everything the command line says, parsed and checked, before anything runs. */
#ifndef SVTPM_CONFIG_H
#define SVTPM_CONFIG_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "log.h"

enum chan_kind { CH_NONE = 0, CH_UNIX_PATH, CH_UNIX_FD, CH_UNIX_CLIENTFD, CH_TCP_PORT, CH_TCP_FD };

struct chan_cfg {
    enum chan_kind kind;
    char *path;
    mode_t mode;
    bool have_uid, have_gid;
    uid_t uid;
    gid_t gid;
    int fd;
    unsigned port;
    char *bindaddr;
    bool disconnect;       /* --server: close after each response */
    bool terminate;        /* --ctrl ...,terminate */
};

struct key_cfg {
    bool set;
    char *file, *pwdfile;
    int fd, pwdfd;
    bool binary;           /* format=binary */
    unsigned keylen;       /* 16 or 32, from mode= */
    bool kdf_sha512;       /* kdf=sha512 (default pbkdf2) */
    bool remove;
};

struct config {
    const char *progname;      /* "svtpm" or "swtpm" */
    bool swtpm_name;
    bool tpm2;
    char *state_dir;
    mode_t state_mode;
    struct chan_cfg ctrl, server;
    bool not_need_init;
    int startup;               /* -1 none, 0 SU_CLEAR, 1 SU_STATE */
    bool disable_auto_shutdown;
    struct log_cfg log;
    char *pid_file;
    int pid_fd;
    bool daemon, terminate;
    bool reject_locality_4, allow_set_locality;
    struct key_cfg key, migration_key;
    char *runas;
    bool print_capabilities, print_states, help, version;
    /* svtpm's own */
    bool have_vtpm_id;
    uint8_t vtpm_id[16];
    char *platform_key;
    char *enclave;
    char *enclave_seccomp;
    bool import_swtpm;         /* import swtpm state found in the state dir */
    int seccomp_action;        /* enum sandbox_action: --seccomp action= */
    char *manifest;            /* --binding manifest=: the tenant's binding manifest */
    char *vm_images[8];        /* --vm-image, in the manifest's order */
    unsigned n_vm_images;
    char *audit_file;          /* --audit file=: where refused attacks are recorded */
    char *restore_auth;        /* --restore-auth file=: a tenant's restore authorisation */
    char *counters;            /* --counters dir=: the host-wide counter store ("none": off) */
    char *time_authority;      /* --time-authority tcp=HOST:PORT: where time tokens come from */
    char *bindings_dir;        /* --bindings dir=: per-vTPM-id manifests (bindings.h) */
};

/* Parses argv for `socket`. Returns 0 on success, else prints the reason to
 * stderr and returns the exit code swtpm would use (1). */
int config_parse(struct config *c, int argc, char **argv);
void config_free(struct config *c);
int config_parse_key(struct config *c, struct key_cfg *k, const char *arg, const char *opt);
void config_usage(const struct config *c, int fd);

#endif
