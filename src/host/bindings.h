/* A directory of bindings, for vTPMs whose starter passes only swtpm's
 * options (libvirt). The operator keeps, per vTPM id:
 *   DIR/<uuid>/manifest       the tenant's manifest (svtpm-tenant bind --vtpm-id <uuid>)
 *   DIR/<uuid>/image.0 ...    the images it names, in order (files or symlinks)
 *   DIR/<uuid>/restore-auth   a tenant's restore authorisation, while one is wanted
 *   DIR/<uuid>/time-authority one line, tcp=HOST:PORT, as --time-authority takes it
 * The id is --vtpm-id, or the <uuid> of a libvirt state path .../<uuid>/tpm2.
 * Nothing here is trusted by the enclave: it verifies the manifest's
 * signature, its vTPM id and the state's binding itself; the directory only
 * spares the operator a wrapper around `swtpm`. */
#ifndef SVTPM_BINDINGS_H
#define SVTPM_BINDINGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* The libvirt layout's vTPM id: state_dir is .../<uuid>/tpm2 (a trailing
 * slash allowed), <uuid> in the canonical 8-4-4-4-12 hex form. */
bool bindings_libvirt_id(const char *state_dir, uint8_t id[16]);

/* With c->bindings_dir and no --binding: fills c->manifest, c->vm_images,
 * c->restore_auth, c->time_authority and the vTPM id from DIR/<uuid>/ when the manifest is
 * there. Returns 0 (also when there is nothing to apply), else 1 with the
 * reason in why. */
int bindings_apply(struct config *c, char *why, size_t wl);

#endif
