/* src/host/bindings.h: a directory of bindings, found by vTPM id (libvirt). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bindings.h"
#include "config.h"

#define U "0a6b349e-76ca-40f1-a856-85f66d73f8a2"
static const uint8_t U_BYTES[16] = { 0x0a, 0x6b, 0x34, 0x9e, 0x76, 0xca, 0x40, 0xf1,
                                     0xa8, 0x56, 0x85, 0xf6, 0x6d, 0x73, 0xf8, 0xa2 };

static void test_libvirt_paths(void **state)
{
    (void)state;
    uint8_t id[16];
    assert_true(bindings_libvirt_id("/var/lib/libvirt/swtpm/" U "/tpm2", id));
    assert_memory_equal(id, U_BYTES, 16);
    assert_true(bindings_libvirt_id("/var/lib/libvirt/swtpm/" U "/tpm2//", id));
    assert_true(bindings_libvirt_id(U "/tpm2", id));                 /* relative */
    assert_true(bindings_libvirt_id("/x/0A6B349E-76CA-40F1-A856-85F66D73F8A2/tpm2", id));
    assert_memory_equal(id, U_BYTES, 16);
    /* not libvirt's layout */
    assert_false(bindings_libvirt_id("/var/lib/libvirt/swtpm/" U "/tpm1.2", id));
    assert_false(bindings_libvirt_id("/var/lib/libvirt/swtpm/" U, id));
    assert_false(bindings_libvirt_id("/var/lib/libvirt/swtpm/" U "/tpm2/x", id));
    assert_false(bindings_libvirt_id("/x/0a6b349e76ca40f1a85685f66d73f8a2/tpm2", id));   /* no dashes */
    assert_false(bindings_libvirt_id("/x/0a6b349e-76ca-40f1-a856-85f66d73f8a/tpm2", id));  /* short */
    assert_false(bindings_libvirt_id("/x/0a6b349e-76ca-40f1-a856-85f66d73f8a22/tpm2", id)); /* long */
    assert_false(bindings_libvirt_id("/x/0a6b349e-76ca-40f1-a856-85f66d73f8ag/tpm2", id));  /* not hex */
    assert_false(bindings_libvirt_id("/x/0a6b349e+76ca-40f1-a856-85f66d73f8a2/tpm2", id));
    assert_false(bindings_libvirt_id("/tpm2", id));
    assert_false(bindings_libvirt_id("tpm2", id));
    assert_false(bindings_libvirt_id("", id));
    assert_false(bindings_libvirt_id("/", id));
}

struct fx {
    char root[64];      /* the bindings directory */
    char entry[160];    /* root/<U> */
};

static void put(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->root, "/tmp/svtpm-bindings.XXXXXX");
    if (!f || !mkdtemp(f->root))
        return -1;
    snprintf(f->entry, sizeof f->entry, "%s/%s", f->root, U);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* A config as config_parse leaves it before bindings_apply. */
static void cfg(struct config *c, const char *root, const char *state_dir)
{
    memset(c, 0, sizeof *c);
    c->bindings_dir = strdup(root);
    c->state_dir = strdup(state_dir);
}

static void test_apply(void **state)
{
    struct fx *f = *state;
    struct config c;
    char why[512] = "", p[256];

    /* no entry for this id: unbound, nothing filled in */
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    assert_null(c.manifest);
    assert_false(c.have_vtpm_id);
    config_free(&c);

    /* an entry without a manifest is the operator's mistake: refused */
    assert_int_equal(mkdir(f->entry, 0700), 0);
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 1);
    assert_non_null(strstr(why, "manifest"));
    config_free(&c);

    /* the manifest, two images (a gap ends the list) and a restore authorisation */
    snprintf(p, sizeof p, "%s/manifest", f->entry);
    put(p);
    snprintf(p, sizeof p, "%s/image.0", f->entry);
    put(p);
    snprintf(p, sizeof p, "%s/image.1", f->entry);
    assert_int_equal(symlink("image.0", p), 0);
    snprintf(p, sizeof p, "%s/image.3", f->entry);
    put(p);
    snprintf(p, sizeof p, "%s/restore-auth", f->entry);
    put(p);
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    snprintf(p, sizeof p, "%s/manifest", f->entry);
    assert_string_equal(c.manifest, p);
    assert_true(c.have_vtpm_id);
    assert_memory_equal(c.vtpm_id, U_BYTES, 16);
    assert_int_equal(c.n_vm_images, 2);
    snprintf(p, sizeof p, "%s/image.1", f->entry);
    assert_string_equal(c.vm_images[1], p);
    assert_non_null(c.restore_auth);
    config_free(&c);

    /* --vtpm-id names the entry whatever the state path */
    cfg(&c, f->root, "/srv/vm1");
    memcpy(c.vtpm_id, U_BYTES, 16);
    c.have_vtpm_id = true;
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    assert_non_null(c.manifest);
    config_free(&c);

    /* an explicit --binding, or explicit --vm-image, wins */
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    c.manifest = strdup("/etc/m");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    assert_string_equal(c.manifest, "/etc/m");
    assert_int_equal(c.n_vm_images, 0);
    config_free(&c);
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    c.vm_images[c.n_vm_images++] = strdup("/boot/vmlinuz");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    assert_int_equal(c.n_vm_images, 1);
    assert_string_equal(c.vm_images[0], "/boot/vmlinuz");
    config_free(&c);

    /* an image that is not a file */
    snprintf(p, sizeof p, "%s/image.2", f->entry);
    assert_int_equal(mkdir(p, 0700), 0);
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 1);
    assert_non_null(strstr(why, "image.2"));
    config_free(&c);

    /* the time authority, one line as --time-authority takes it */
    snprintf(p, sizeof p, "%s/image.2", f->entry);
    assert_int_equal(rmdir(p), 0);
    snprintf(p, sizeof p, "%s/time-authority", f->entry);
    FILE *ta = fopen(p, "w");
    assert_non_null(ta);
    fputs("tcp=127.0.0.1:4711\n", ta);
    fclose(ta);
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    assert_string_equal(c.time_authority, "127.0.0.1:4711");
    config_free(&c);
    const char *bad_ta[] = { "udp=1.2.3.4:5\n", "tcp=\n", "tcp=a:1\ntcp=b:2\n", "" };
    for (size_t i = 0; i < sizeof bad_ta / sizeof bad_ta[0]; i++) {
        ta = fopen(p, "w");
        assert_non_null(ta);
        fputs(bad_ta[i], ta);
        fclose(ta);
        cfg(&c, f->root, "/var/lib/libvirt/swtpm/" U "/tpm2");
        assert_int_equal(bindings_apply(&c, why, sizeof why), 1);
        assert_non_null(strstr(why, "time-authority"));
        config_free(&c);
    }
    assert_int_equal(unlink(p), 0);

    /* an entry that is not a directory */
    snprintf(p, sizeof p, "%s/%s", f->root, "11111111-2222-3333-4444-555555555555");
    put(p);
    cfg(&c, f->root, "/var/lib/libvirt/swtpm/11111111-2222-3333-4444-555555555555/tpm2");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 1);
    assert_non_null(strstr(why, "not a directory"));
    config_free(&c);

    /* no id: a state path that is not libvirt's, and no --vtpm-id */
    cfg(&c, f->root, "/srv/vm1");
    assert_int_equal(bindings_apply(&c, why, sizeof why), 0);
    assert_null(c.manifest);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libvirt_paths),
        cmocka_unit_test_setup_teardown(test_apply, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
