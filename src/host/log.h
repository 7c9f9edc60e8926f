/* Host logging, swtpm style: --log file=F|fd=N[,level=N][,prefix=S][,truncate].
 * Level 1 errors (also always to stderr, which libvirt captures), 2 warnings
 * and notices, 3+ more detail, 20 dumps traffic. */
#ifndef SVTPM_LOG_H
#define SVTPM_LOG_H
#include <stddef.h>
#include "err.h"

struct log_cfg {
    const char *file;
    int fd;
    unsigned level;
    const char *prefix;
    int truncate;
};

svtpm_err log_open(const struct log_cfg *c);
void log_close(void);
unsigned log_level(void);
void hlog(unsigned level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error the operator must see: to the log and to stderr. */
void herr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hlog_hex(unsigned level, const char *what, const void *p, size_t n);

#endif
