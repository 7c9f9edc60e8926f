#include "binding.h"
#include "eclock.h"
#include "bytes.h"
#include "crypto.h"

#include <stdio.h>
#include <string.h>

static void hex8(char out[17], const uint8_t *p)
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static bool enclave_allowed(const struct manifest *m, const struct tee_identity *id)
{
    bool ok = false;
    for (unsigned i = 0; i < m->n_enclaves; i++) {
        const struct manifest_enclave *e = &m->enclaves[i];
        const uint8_t *mine = e->kind == MANIFEST_ENCLAVE_MRSIGNER ? id->mrsigner : id->mrenclave;
        ok |= ct_equal(e->value, mine, 32) && e->isv_prod_id == id->isv_prod_id &&
              id->isv_svn >= e->min_isv_svn;
    }
    return ok;
}

svtpm_err binding_set(struct binding *b, struct store *s, const struct tee_identity *id,
                      const uint8_t *named_id, const uint8_t *buf, size_t len,
                      uint32_t n_host_images, bool counters, struct ocall_ctx *oc)
{
    struct manifest m;
    size_t signed_len = 0;
    uint8_t tenant[32];
    char t8[17];
    svtpm_err err = SVTPM_E_STATE;
    if (b->bound)
        goto out;   /* one binding per enclave: a second would be a switch of tenant */
    err = manifest_parse(buf, len, &m, &signed_len);
    if (err) {
        eaudit(oc, "manifest-invalid", "the binding manifest is not a valid manifest (%s): refused",
               svtpm_strerror(err));
        goto out;
    }
    err = crypto_ed25519_verify(m.tenant_pub, buf, signed_len, m.signature);
    if (err) {
        eaudit(oc, "manifest-forged", "the binding manifest's signature does not verify with the "
               "tenant key it names: edited after signing, or not signed by that key: refused");
        err = SVTPM_E_AUTH;
        goto out;
    }
    struct iovc pub = { m.tenant_pub, 32 };
    err = crypto_sha256(&pub, 1, tenant);
    if (err)
        goto out;
    hex8(t8, tenant);
    if (named_id && !ct_equal(named_id, m.vtpm_id, 16)) {
        eaudit(oc, "manifest-replacement", "the manifest (tenant %s...) binds another vTPM id than "
               "the --vtpm-id this vTPM was started with: refused", t8);
        err = SVTPM_E_FOREIGN;
        goto out;
    }
    if (!enclave_allowed(&m, id)) {
        eaudit(oc, "enclave-not-allowed", "this enclave (ISVPRODID %u, ISVSVN %u) is not one the "
               "manifest of tenant %s... allows: refused", id->isv_prod_id, id->isv_svn, t8);
        err = SVTPM_E_PERM;
        goto out;
    }
    if (n_host_images != m.n_images) {
        elog(oc, LOG_ERR, "the manifest names %u VM image(s) to measure, the host %u "
             "(give each with --vm-image, in the manifest's order)", m.n_images, n_host_images);
        err = SVTPM_E_INVAL;
        goto out;
    }
    if (!counters) {
        eaudit(oc, "rollback-unprotected", "the manifest of tenant %s... asks for rollback policy %s, "
               "and the host offers no counter store (--counters): refused", t8,
               rollback_policy_name(m.policy));
        err = SVTPM_E_PERM;
        goto out;
    }
    b->m = m;
    memcpy(b->tenant, tenant, 32);
    b->n_host_images = n_host_images;
    b->bound = true;
    store_bind(s, m.vtpm_id, tenant, m.generation);
    s->rb.active = true;
    s->rb.policy = m.policy;
    s->rb.charge_resume = (m.flags & MANIFEST_F_CHARGE_RESUME) != 0;
    s->rb.resume_budget = (m.flags & MANIFEST_F_RESUME_BUDGET) != 0;
    if (m.flags & MANIFEST_F_TIME_AUTHORITY)
        eclock_set_authority(oc, m.time_authority);
    elog(oc, LOG_INFO, "bound to tenant %s..., manifest generation %u, rollback policy %s%s, %u image(s)%s",
         t8, m.generation, rollback_policy_name(m.policy),
         s->rb.charge_resume ? ", resumes charged" : s->rb.resume_budget ? ", resumes on a budget" : "",
         m.n_images,
         m.flags & MANIFEST_F_TIME_AUTHORITY ? ", time from the pinned time authority" : "");
    err = SVTPM_OK;
out:
    return err;
}

svtpm_err binding_restore_auth(const struct binding *b, struct store *s, const uint8_t *buf,
                               size_t len, struct ocall_ctx *oc)
{
    struct restore_auth a;
    svtpm_err err = restore_auth_parse(buf, len, &a);
    if (!err && !ct_equal(a.tenant_pub, b->m.tenant_pub, 32))
        err = SVTPM_E_FOREIGN;
    if (!err && !ct_equal(a.vtpm_id, b->m.vtpm_id, 16))
        err = SVTPM_E_FOREIGN;
    if (!err && crypto_ed25519_verify(a.tenant_pub, buf, RESTORE_AUTH_SIGNED_LEN, a.signature))
        err = SVTPM_E_AUTH;
    if (!err && b->m.policy != ROLLBACK_SNAPSHOT)
        err = SVTPM_E_PERM;
    if (err) {
        eaudit(oc, "restore-auth-invalid", "the restore authorisation is %s: refused",
               err == SVTPM_E_FOREIGN ? "for another tenant or vTPM" :
               err == SVTPM_E_AUTH ? "not signed by the tenant (forged or edited)" :
               err == SVTPM_E_PERM ? "for a vTPM whose manifest says policy strict" : "malformed");
        return err;
    }
    s->rb.auth = a;
    s->rb.have_auth = true;
    elog(oc, LOG_INFO, "restore authorisation: state version %llu may replace %llu",
         (unsigned long long)a.to_version, (unsigned long long)a.from_version);
    return SVTPM_OK;
}

static svtpm_err measure(uint32_t index, struct ocall_ctx *oc, uint8_t out[32])
{
    struct crypto_hash *h = NULL;
    uint64_t off = 0, size = 0;
    svtpm_err err = crypto_sha256_begin(&h);
    while (!err) {
        uint8_t *req = ocall_req(oc);
        put_be32(req, index);
        put_be64(req + 4, off);
        const uint8_t *resp;
        uint32_t rlen;
        err = ocall_invoke(oc, OCALL_IMAGE_READ, 12, &resp, &rlen);
        if (err)
            break;
        if (rlen < 8) {
            err = SVTPM_E_PROTO;
            break;
        }
        uint64_t sz = get_be64(resp);
        uint32_t n = rlen - 8;
        /* The size is fixed by the first answer; a file that changes while
         * it is read is not a measurement of anything. */
        if ((off && sz != size) || n > sz - off || (n == 0 && off < sz)) {
            err = SVTPM_E_PROTO;
            break;
        }
        size = sz;
        err = crypto_sha256_update(h, resp + 8, n);
        off += n;
        if (off == size)
            break;
    }
    svtpm_err e2 = crypto_sha256_end(h, out);
    return err ? err : e2;
}

svtpm_err binding_check_images(const struct binding *b, struct ocall_ctx *oc)
{
    svtpm_err err = SVTPM_OK;
    if (!b->bound)
        goto out;
    for (uint32_t i = 0; i < b->m.n_images && !err; i++) {
        uint8_t d[32];
        err = measure(i, oc, d);
        if (err) {
            elog(oc, LOG_ERR, "VM image %u could not be measured: %s", i + 1, svtpm_strerror(err));
            break;
        }
        if (!ct_equal(d, b->m.images[i], 32)) {
            char got[17], want[17];
            hex8(got, d);
            hex8(want, b->m.images[i]);
            eaudit(oc, "image-changed", "VM image %u measures %s..., the tenant's manifest "
                   "(generation %u) expects %s...: power-on refused (a legitimate image update "
                   "needs a re-binding: a new manifest with a higher generation)",
                   i + 1, got, b->m.generation, want);
            err = SVTPM_E_PERM;
        }
    }
out:
    return err;
}
