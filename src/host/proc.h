/* Process plumbing shared with swtpm's behaviour: pid file, daemon, runas. */
#ifndef SVTPM_PROC_H
#define SVTPM_PROC_H
#include "config.h"

/* -d: fork early; the original process exits only when the daemon calls
 * proc_daemon_ready() (status 0) or dies (its failure). */
int proc_daemon_begin(void);
void proc_daemon_ready(int fd);
int proc_runas(const char *user);
int proc_write_pidfile(const struct config *c, char *path_out, size_t len);

#endif
