#ifndef SVTPM_IMPORT_CMD_H
#define SVTPM_IMPORT_CMD_H
#include <stdbool.h>
#include "config.h"
#include "enclave_host.h"

/* `svtpm import`: turns an swtpm state directory into sealed svtpm state. */
int import_main(int argc, char **argv);

/* Does DIR hold swtpm (TPM 2) state? */
bool import_swtpm_present(const char *dir);
/* Seals swtpm's tpm2-00.permall (and volatilestate) from `from` through the
 * running enclave `eh` (whose statedir is the destination), with the swtpm
 * --key if set. The source is read under its .lock unless `locked` says the
 * caller holds it (same directory). Returns 0 or -1 (reason already logged). */
int import_swtpm_dir(struct enclave_host *eh, const char *from, const struct key_cfg *key, bool locked);
#endif
