/* svtpm-enclave: the trusted half of svtpm. Started by the host process with
 * the shared channel on a file descriptor; never opens a socket and, once
 * running, never touches a file: everything it needs from outside is an OCALL.
 *
 *   svtpm-enclave --chan-fd N --platform-key PATH [--seccomp kill|log|off]
 */
#include "ecall.h"
#include "harden.h"
#include "platform.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *msg)
{
    fprintf(stderr, "svtpm-enclave: %s\n", msg);
    exit(1);
}

int main(int argc, char **argv)
{
    int chan_fd = -1;
    const char *key_path = NULL;
    enum seccomp_mode sc = SECCOMP_KILL;
    char why[512] = "";

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--chan-fd") == 0)
            chan_fd = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--platform-key") == 0)
            key_path = argv[i + 1];
        else if (strcmp(argv[i], "--seccomp") == 0)
            sc = strcmp(argv[i + 1], "off") == 0 ? SECCOMP_OFF :
                 strcmp(argv[i + 1], "log") == 0 ? SECCOMP_LOG : SECCOMP_KILL;
        else
            die("unknown argument (this program is started by svtpm, not by hand)");
    }
    if (chan_fd < 3 || !key_path)
        die("missing --chan-fd or --platform-key");

    if (harden_process(why, sizeof why))
        die(why);
    /* Nothing inherited but the channel (and stderr) stays open. */
    close_range(3, (unsigned)chan_fd - 1, 0);
    close_range((unsigned)chan_fd + 1, ~0u, 0);

    static struct enclave e;
    if (chan_attach(&e.chan, chan_fd))
        die("bad channel");
    close(chan_fd);
    e.chan.spin_max_ns = 200000;
    const char *spin = getenv("SVTPM_ENCLAVE_SPIN_NS");
    if (spin)
        e.chan.spin_max_ns = (uint32_t)strtoul(spin, NULL, 10);

    char exe[PATH_MAX], sig[PATH_MAX + 8];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        die("cannot find own binary to measure");
    exe[n] = 0;
    snprintf(sig, sizeof sig, "%s.sig", exe);

    bool locked_all = harden_lock_memory() == SVTPM_OK;
    if (tee_soft_init(&e.plat, key_path, "/proc/self/exe", sig, why, sizeof why))
        die(why);
    /* Without a memlock limit for everything, lock the secret buffers, each
     * page when first touched (locking them whole would make them resident). */
    if (!locked_all)
        mlock2(&e.plat, sizeof e.plat, MLOCK_ONFAULT);
    if (enclave_setup(&e))
        die("out of memory");
    if (!locked_all)
        mlock2(e.store.plain, 256 * 1024, MLOCK_ONFAULT);
    if (harden_seccomp(sc))
        die("cannot install the syscall filter");

    for (;;)
        if (enclave_serve_one(&e))
            break;
    enclave_teardown(&e);
    return 0;
}
