#include "audit.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int audit_fd = -1;

svtpm_err audit_open(const char *path)
{
    if (!path)
        return SVTPM_OK;
    audit_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (audit_fd < 0) {
        herr("cannot open the audit file %s: %s", path, strerror(errno));
        return SVTPM_E_IO;
    }
    return SVTPM_OK;
}

void audit_close(void)
{
    if (audit_fd >= 0)
        close(audit_fd);
    audit_fd = -1;
}

/* JSON string body: quotes, backslashes and control bytes escaped. */
static size_t json_escape(char *out, size_t cap, const char *in, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 7 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
    return o;
}

void audit_record(const char *text, size_t n)
{
    herr("AUDIT: %.*s", (int)n, text);
    if (audit_fd < 0)
        return;
    /* "attack=NAME rest": the name is its own field for whoever greps. */
    size_t name_len = 0;
    if (n > 7 && memcmp(text, "attack=", 7) == 0)
        while (7 + name_len < n && text[7 + name_len] != ' ')
            name_len++;
    char name[96], detail[2048], line[2400];
    json_escape(name, sizeof name, text + 7, name_len);
    size_t rest = name_len ? 7 + name_len + 1 : 0;
    json_escape(detail, sizeof detail, text + (rest < n ? rest : n), rest < n ? n - rest : 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int len = snprintf(line, sizeof line,
                       "{\"time\":%lld.%03ld,\"pid\":%d,\"event\":\"refused\",\"attack\":\"%s\",\"detail\":\"%s\"}\n",
                       (long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid(), name, detail);
    if (len > 0 && (size_t)len < sizeof line) {
        if (write(audit_fd, line, (size_t)len) != len || fdatasync(audit_fd) != 0)
            herr("cannot write the audit record: %s", strerror(errno));
    }
}
