/* The svtpm daemon's state: one vTPM, its sockets and its enclave. Single
 * threaded, as swtpm: libtpms serves one command at a time anyway. */
#ifndef SVTPM_SERVER_H
#define SVTPM_SERVER_H
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "enclave_host.h"
#include "statedir.h"
#include "abi.h"

struct server {
    const struct config *cfg;
    struct enclave_host eh;
    struct statedir sd;
    struct statedir nrs;       /* the counters directory, when bound */
    bool running;               /* the TPM is powered on */
    uint8_t locality;
    uint32_t buffersize;        /* negotiated TPM buffer size */
    int ctrl_listen, ctrl_conn;
    bool ctrl_is_unix;
    int data_listen, data_conn;
    bool data_conn_terminal;    /* closing it ends the process */
    uint8_t din[SVTPM_TPM_CMD_MAX + 16];  /* bytes received, not yet a whole frame */
    size_t din_len;
    int64_t din_deadline_ms;    /* a partial frame must complete by then */
    int sigfd;
    bool quit;
    int exit_code;
    uint8_t *cbuf;              /* one control request */
    size_t cbuf_cap;
    uint64_t commands;
};

/* Starts the enclave process early: it loads while the host sets up. */
svtpm_err server_spawn_enclave(struct server *s);
svtpm_err server_open_sockets(struct server *s);
/* Initialises the enclave and, with not-need-init, powers the TPM on. */
svtpm_err server_start_tpm(struct server *s);
int server_run(struct server *s);
void server_close(struct server *s);

/* ctrl.c */
void ctrl_handle(struct server *s);
/* data.c */
void data_handle(struct server *s);
/* ms until the partial frame's deadline, -1 when none is pending */
int data_timeout_ms(struct server *s);
void data_expire(struct server *s);
/* CLOCK_MONOTONIC in ms, for the channels' deadlines */
int64_t server_now_ms(void);
/* power helpers shared by ctrl and start-up */
uint32_t server_power_on(struct server *s, uint32_t flags);
void server_power_off(struct server *s);
void server_fatal_enclave(struct server *s, svtpm_err err);

#endif
