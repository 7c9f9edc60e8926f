/* The hand-built seccomp filters: in a forked child, an allowlist lets the
 * listed calls through and kills on anything else (SIGSYS), the one
 * argument-checked call passes only with its value; a denylist kills on the
 * listed calls only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "sanitizer.h"
#include "sfilter.h"

/* Runs fn in a child under filter f; returns the signal that ended it, or
 * 0 with *code set when it exited. */
static int in_child(const struct sfilter *f, int (*fn)(void), int *code)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (sfilter_install(f) != SVTPM_OK)
            _exit(99);
        _exit(fn());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        return WTERMSIG(st);
    *code = WEXITSTATUS(st);
    return 0;
}

static const long allow[] = { SYS_exit, SYS_exit_group, SYS_getpid, SYS_write, SYS_rt_sigreturn };

static int call_getpid(void) { return syscall(SYS_getpid) > 0 ? 7 : 1; }
static int call_getppid(void) { (void)syscall(SYS_getppid); return 8; }
static int call_ioctl_tcgets(void)
{
    struct termios t;
    (void)syscall(SYS_ioctl, 0, TCGETS, &t);    /* the result does not matter, the filter does */
    return 9;
}
static int call_ioctl_other(void)
{
    int n;
    (void)syscall(SYS_ioctl, 0, FIONREAD, &n);
    return 10;
}

static void test_allowlist(void **state)
{
#if SANITIZED
    /* the sanitizer runtime makes calls outside any tight allowlist (the
     * enclave's filter is off in sanitizer runs for the same reason) */
    skip();
#endif
    struct sfilter f = { SFILTER_ALLOWLIST, SFILTER_KILL, allow, sizeof allow / sizeof allow[0],
                         SYS_ioctl, TCGETS };
    int code = -1;
    assert_int_equal(in_child(&f, call_getpid, &code), 0);
    assert_int_equal(code, 7);
    assert_int_equal(in_child(&f, call_getppid, &code), SIGSYS);
    assert_int_equal(in_child(&f, call_ioctl_tcgets, &code), 0);
    assert_int_equal(code, 9);
    assert_int_equal(in_child(&f, call_ioctl_other, &code), SIGSYS);
}

static void test_denylist(void **state)
{
    static const long deny[] = { SYS_getppid, -1 };
    struct sfilter f = { SFILTER_DENYLIST, SFILTER_KILL, deny, 2, -1, 0 };
    int code = -1;
    assert_int_equal(in_child(&f, call_getppid, &code), SIGSYS);
    assert_int_equal(in_child(&f, call_getpid, &code), 0);
    assert_int_equal(code, 7);
    assert_int_equal(in_child(&f, call_ioctl_other, &code), 0);
    assert_int_equal(code, 10);
}

static void test_log_mode_does_not_kill(void **state)
{
    static const long deny[] = { SYS_getppid };
    struct sfilter f = { SFILTER_DENYLIST, SFILTER_LOG, deny, 1, -1, 0 };
    int code = -1;
    assert_int_equal(in_child(&f, call_getppid, &code), 0);
    assert_int_equal(code, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowlist),
        cmocka_unit_test(test_denylist),
        cmocka_unit_test(test_log_mode_does_not_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
