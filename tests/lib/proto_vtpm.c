/* A server under the protocol tests (proto.h): svtpm or the reference swtpm
 * started as a child in its own process group, in its own directory under
 * the test's temporary directory; ready once it answers GET_CAPABILITY;
 * stopped by SIGTERM (exit 0 and no sanitizer report required), killed when
 * it does not stop. */
#include "proto.h"

static void pt_print_file_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *all[400] = { 0 };
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        free(all[n % 400]);
        all[n % 400] = strdup(line);
        n++;
    }
    fclose(f);
    int from = n > lines ? n - lines : 0;
    for (int i = from; i < n; i++)
        fprintf(stderr, "      | %s", all[i % 400] ? all[i % 400] : "\n");
    for (int i = 0; i < 400; i++)
        free(all[i]);
}

void vtpm_dump(const struct vtpm *v)
{
    fprintf(stderr, "    %s (pid %d) log %s:\n", v->name, (int)v->pid, v->log);
    pt_print_file_tail(v->log, 30);
    fprintf(stderr, "    %s stderr:\n", v->name);
    pt_print_file_tail(v->err, 10);
}

bool vtpm_exited(struct vtpm *v)
{
    if (v->exited || v->pid <= 0)
        return true;
    int st;
    pid_t r = waitpid(v->pid, &st, WNOHANG);
    if (r == v->pid) {
        v->exited = true;
        v->wstatus = st;
        pt_untrack(v->pid);
        /* anything left of its group (the enclave) goes too */
        kill(-v->pid, SIGKILL);
        return true;
    }
    return false;
}

bool vtpm_wait_exit(struct vtpm *v, int ms)
{
    int64_t end = pt_now_ms() + ms;
    while (!vtpm_exited(v)) {
        if (pt_now_ms() > end)
            return false;
        pt_sleep_ms(10);
    }
    return true;
}

int vtpm_ctrl(struct vtpm *v)
{
    return v->ctrl[0] ? pt_connect_unix(v->ctrl) : pt_connect_tcp(v->ctrl_port);
}

int vtpm_data(struct vtpm *v)
{
    int fd = -1;
    if (v->srv[0])
        fd = pt_connect_unix(v->srv);
    else if (v->port)
        fd = pt_connect_tcp(v->port);
    if (fd < 0)
        fail_msg("%s: cannot connect to the data channel: %s", v->name, strerror(errno));
    return fd;
}

void vtpm_start(struct vtpm *v, const struct vtpm_opts *o)
{
    static int seq;
    memset(v, 0, sizeof *v);
    v->ref = o->ref;
    v->name = o->ref ? "swtpm" : "svtpm";
    const char *bin;
    char svbin[PATH_MAX + 64];
    if (o->ref) {
        bin = pt_ref_bin();
        assert_non_null(bin);
    } else {
        pt_svtpm_bin(svbin, sizeof svbin);
        bin = svbin;
    }
    char rundir[400];
    snprintf(rundir, sizeof rundir, "%s/%s%d", pt_temp_dir(), v->name, ++seq);
    if (mkdir(rundir, 0700) != 0)
        fail_msg("mkdir %s: %s", rundir, strerror(errno));
    if (o->dir) {
        snprintf(v->dir, sizeof v->dir, "%s", o->dir);
    } else {
        snprintf(v->dir, sizeof v->dir, "%s/state", rundir);
        mkdir(v->dir, 0700);
    }
    snprintf(v->log, sizeof v->log, "%s/log", rundir);
    snprintf(v->err, sizeof v->err, "%s/stderr", rundir);

    char a_state[700], a_ctrl[700], a_srv[700], a_log[700], a_flags[300];
    const char *argv[24];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "socket";
    argv[n++] = "--tpm2";
    argv[n++] = "--tpmstate";
    snprintf(a_state, sizeof a_state, "dir=%s", v->dir);
    argv[n++] = a_state;
    argv[n++] = "--ctrl";
    if (o->ctrl_tcp) {
        v->ctrl_port = pt_free_port();
        snprintf(a_ctrl, sizeof a_ctrl, "type=tcp,port=%d", v->ctrl_port);
    } else {
        snprintf(v->ctrl, sizeof v->ctrl, "%s/ctrl.sock", rundir);
        snprintf(a_ctrl, sizeof a_ctrl, "type=unixio,path=%s", v->ctrl);
    }
    argv[n++] = a_ctrl;
    if (o->server) {
        argv[n++] = "--server";
        if (!strcmp(o->server, "tcp")) {
            do
                v->port = pt_free_port();
            while (v->port == v->ctrl_port);
            snprintf(a_srv, sizeof a_srv, "type=tcp,port=%d%s", v->port, o->disconnect ? ",disconnect" : "");
        } else {
            snprintf(v->srv, sizeof v->srv, "%s/data.sock", rundir);
            snprintf(a_srv, sizeof a_srv, "type=unixio,path=%s%s", v->srv, o->disconnect ? ",disconnect" : "");
        }
        argv[n++] = a_srv;
    }
    if (o->flags) {
        argv[n++] = "--flags";
        snprintf(a_flags, sizeof a_flags, "%s", o->flags);
        argv[n++] = a_flags;
    }
    if (o->locality) {
        argv[n++] = "--locality";
        argv[n++] = o->locality;
    }
    if (o->terminate)
        argv[n++] = "--terminate";
    argv[n++] = "--log";
    snprintf(a_log, sizeof a_log, "file=%s,level=20", v->log);
    argv[n++] = a_log;
    argv[n] = NULL;

    char key[400];
    snprintf(key, sizeof key, "%s/platform.key", pt_temp_dir());
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(v->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        setenv("SVTPM_PLATFORM_KEY", key, 1);
        signal(SIGPIPE, SIG_DFL);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    v->pid = pid;
    pt_track(pid);

    /* ready = answers GET_CAPABILITY */
    int64_t end = pt_now_ms() + PT_START_MS;
    for (;;) {
        if (vtpm_exited(v)) {
            vtpm_dump(v);
            fail_msg("%s exited during start (status 0x%x)", v->name, v->wstatus);
        }
        if (pt_now_ms() > end) {
            vtpm_dump(v);
            fail_msg("%s did not answer within %d ms of its start", v->name, PT_START_MS);
        }
        int fd = vtpm_ctrl(v);
        if (fd < 0) {
            pt_sleep_ms(10);
            continue;
        }
        static const uint8_t cap[4] = { 0, 0, 0, 1 };
        uint8_t r[16];
        pt_write_all(fd, cap, 4);
        size_t got = pt_read_min(fd, r, sizeof r, 8, (int)(end - pt_now_ms()), NULL);
        close(fd);
        if (got == 8)
            break;
        pt_sleep_ms(10);
    }
    /* a TCP data listener is bound before the control socket answers */
}

void vtpm_check_sanitizer(struct vtpm *v)
{
    FILE *f = fopen(v->err, "r");
    if (!f)
        return;
    char line[1024];
    bool bad = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            bad = true;
    fclose(f);
    if (bad) {
        fprintf(stderr, "    %s stderr (sanitizer report):\n", v->name);
        pt_print_file_tail(v->err, 60);
        fail_msg("%s: sanitizer report in %s", v->name, v->err);
    }
}

void vtpm_stop(struct vtpm *v)
{
    if (v->pid <= 0)
        return;
    bool termed = false;
    if (!vtpm_exited(v)) {
        kill(v->pid, SIGTERM);
        termed = true;
        if (!vtpm_wait_exit(v, PT_EXIT_MS)) {
            fprintf(stderr, "    %s (pid %d) ignored SIGTERM for %d ms: killed\n", v->name, (int)v->pid,
                    PT_EXIT_MS);
            kill(-v->pid, SIGKILL);
            kill(v->pid, SIGKILL);
            vtpm_wait_exit(v, PT_EXIT_MS);
            termed = false;
            v->pid = 0;
            fail_msg("%s did not exit on SIGTERM", v->name);
        }
    }
    kill(-v->pid, SIGKILL);
    pt_untrack(v->pid);
    v->pid = 0;
    vtpm_check_sanitizer(v);
    if (termed && !(WIFEXITED(v->wstatus) && WEXITSTATUS(v->wstatus) == 0)) {
        vtpm_dump(v);
        fail_msg("%s: exit status 0x%X after SIGTERM (want exit 0)", v->name, v->wstatus);
    }
}

void vtpm_assert_alive(struct vtpm *v)
{
    if (vtpm_exited(v)) {
        vtpm_dump(v);
        if (WIFSIGNALED(v->wstatus))
            fail_msg("%s died of signal %d", v->name, WTERMSIG(v->wstatus));
        fail_msg("%s exited with status %d", v->name, WEXITSTATUS(v->wstatus));
    }
}
