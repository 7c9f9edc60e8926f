/* Audit records: one per attack the enclave refused. Always logged as an
 * error; with --audit file=F also appended to F as a JSON line and made
 * durable, so a refused replacement or rollback leaves a trace that survives
 * the process. Like the log, the destination is process-wide and set once. */
#ifndef SVTPM_AUDIT_H
#define SVTPM_AUDIT_H
#include <stddef.h>
#include "err.h"

svtpm_err audit_open(const char *path);
void audit_close(void);
/* text: "attack=NAME detail", as the enclave wrote it (untrusted bytes). */
void audit_record(const char *text, size_t n);

#endif
