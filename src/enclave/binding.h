/* VM binding: the tenant-signed manifest that ties this vTPM to a tenant,
 * a vTPM id, the VM's boot image(s), the enclaves allowed to run it and a
 * rollback policy. The enclave checks the signature itself and takes the
 * tenant id from the key that signed; the sealed store then refuses state of
 * any other tenant, vTPM or later manifest generation.
 *
 * The images are measured here, from bytes the host streams in: the host
 * decides which file it reads, so this catches a changed or wrong image on an
 * honest host; against a lying host the defence is the vTPM's own PCR quote,
 * verified remotely (docs/security.md). */
#ifndef SVTPM_BINDING_H
#define SVTPM_BINDING_H
#include <stdbool.h>
#include "manifest.h"
#include "ocall.h"
#include "platform.h"
#include "store.h"

struct binding {
    bool bound;
    struct manifest m;
    uint8_t tenant[32];      /* SHA-256(m.tenant_pub) */
    uint32_t n_host_images;  /* images the host offers to stream */
    bool measured_at_bind;   /* the images were measured by ECALL_BIND and no
                                power-on has happened since */
};

/* Verifies `buf` as a manifest for an enclave of identity `id`, with the
 * host naming `n_host_images` images (it must name exactly the manifest's).
 * named_id: the vTPM id the host was started with, or NULL; counters: the
 * host keeps a counter store, which the manifest's rollback policy needs. On
 * success the store is bound and its rollback guard on. Every refusal is an
 * audit record. */
svtpm_err binding_set(struct binding *b, struct store *s, const struct tee_identity *id,
                      const uint8_t *named_id, const uint8_t *buf, size_t len,
                      uint32_t n_host_images, bool counters, struct ocall_ctx *oc);

/* Verifies a restore authorisation (manifest.h) against the bound tenant
 * key and vTPM id; the rollback guard may then open that one older state. */
svtpm_err binding_restore_auth(const struct binding *b, struct store *s, const uint8_t *buf,
                               size_t len, struct ocall_ctx *oc);

/* Measures every image the manifest names and compares; SVTPM_E_PERM on a
 * mismatch (audit record "image-changed"). A no-op when unbound. */
svtpm_err binding_check_images(const struct binding *b, struct ocall_ctx *oc);

#endif
