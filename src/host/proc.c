#include "proc.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int proc_daemon_begin(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        char c;
        ssize_t n = read(p[0], &c, 1);
        if (n == 1)
            _exit(0);
        int st = 0;
        waitpid(pid, &st, 0);
        _exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1);
    }
    close(p[0]);
    setsid();
    pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);   /* the original sees EOF only if the grandchild dies */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        if (devnull > 2)
            close(devnull);
    }
    return p[1];
}

void proc_daemon_ready(int fd)
{
    if (fd < 0)
        return;
    ssize_t n = write(fd, "0", 1);
    (void)n;
    close(fd);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, STDERR_FILENO);
        close(devnull);
    }
}

int proc_runas(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        herr("--runas: unknown user '%s'", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        herr("--runas %s: %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

int proc_write_pidfile(const struct config *c, char *path_out, size_t len)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d", (int)getpid());   /* no newline, as swtpm */
    path_out[0] = 0;
    if (c->pid_file) {
        int fd = open(c->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, (size_t)n) != n) {
            herr("cannot write pid file %s: %s", c->pid_file, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
        snprintf(path_out, len, "%s", c->pid_file);
    } else if (c->pid_fd >= 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", c->pid_fd);
        ssize_t l = readlink(link, path_out, len - 1);
        path_out[l > 0 ? l : 0] = 0;
        if (ftruncate(c->pid_fd, 0) != 0 || pwrite(c->pid_fd, buf, (size_t)n, 0) != n) {
            herr("cannot write the pid to fd %d: %s", c->pid_fd, strerror(errno));
            return -1;
        }
        close(c->pid_fd);
    }
    return 0;
}
