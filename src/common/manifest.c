#include "manifest.h"
#include "bytes.h"
#include <string.h>

const char *rollback_policy_name(uint8_t policy)
{
    return policy == ROLLBACK_STRICT ? "strict" : policy == ROLLBACK_SNAPSHOT ? "snapshot" : "?";
}

static bool ranges_ok(const struct manifest *m)
{
    if (m->generation == 0 || (m->policy != ROLLBACK_STRICT && m->policy != ROLLBACK_SNAPSHOT) ||
        (m->flags & ~MANIFEST_F_KNOWN))
        return false;
    /* A budget on a clock the host runs would be no budget. */
    if ((m->flags & MANIFEST_F_RESUME_BUDGET) &&
        (!(m->flags & MANIFEST_F_TIME_AUTHORITY) || (m->flags & MANIFEST_F_CHARGE_RESUME)))
        return false;
    /* A manifest that allows no enclave would bind nothing. */
    if (m->n_images > MANIFEST_MAX_IMAGES || m->n_enclaves == 0 || m->n_enclaves > MANIFEST_MAX_ENCLAVES)
        return false;
    for (unsigned i = 0; i < m->n_enclaves; i++)
        if (m->enclaves[i].kind != MANIFEST_ENCLAVE_MRENCLAVE && m->enclaves[i].kind != MANIFEST_ENCLAVE_MRSIGNER)
            return false;
    return true;
}

size_t manifest_pack_body(const struct manifest *m, uint8_t *out, size_t cap)
{
    if (!ranges_ok(m))
        return 0;
    struct wr w = wr_init(out, cap);
    wr_bytes(&w, MANIFEST_MAGIC, 8);
    wr_be16(&w, MANIFEST_VERSION);
    wr_be16(&w, m->flags);
    wr_bytes(&w, m->vtpm_id, 16);
    wr_bytes(&w, m->tenant_pub, 32);
    wr_be32(&w, m->generation);
    wr_be64(&w, m->created);
    wr_u8(&w, m->policy);
    wr_u8(&w, m->n_images);
    wr_u8(&w, m->n_enclaves);
    wr_u8(&w, 0);
    for (unsigned i = 0; i < m->n_images; i++)
        wr_bytes(&w, m->images[i], 32);
    for (unsigned i = 0; i < m->n_enclaves; i++) {
        const struct manifest_enclave *e = &m->enclaves[i];
        wr_u8(&w, e->kind);
        wr_u8(&w, 0);
        wr_be16(&w, e->isv_prod_id);
        wr_be16(&w, e->min_isv_svn);
        wr_be16(&w, 0);
        wr_bytes(&w, e->value, 32);
    }
    if (m->flags & MANIFEST_F_TIME_AUTHORITY)
        wr_bytes(&w, m->time_authority, 32);
    return wr_ok(&w) ? w.off : 0;
}

svtpm_err manifest_parse(const uint8_t *buf, size_t len, struct manifest *m, size_t *signed_len)
{
    memset(m, 0, sizeof *m);
    if (len > MANIFEST_MAX_LEN)
        return SVTPM_E_TOOBIG;
    struct rd r = rd_init(buf, len);
    const uint8_t *magic = rd_ptr(&r, 8);
    uint16_t version = rd_be16(&r);
    m->flags = rd_be16(&r);
    rd_bytes(&r, m->vtpm_id, 16);
    rd_bytes(&r, m->tenant_pub, 32);
    m->generation = rd_be32(&r);
    m->created = rd_be64(&r);
    m->policy = rd_u8(&r);
    m->n_images = rd_u8(&r);
    m->n_enclaves = rd_u8(&r);
    uint8_t rsv = rd_u8(&r);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;
    if (memcmp(magic, MANIFEST_MAGIC, 8) != 0 || version != MANIFEST_VERSION ||
        (m->flags & ~MANIFEST_F_KNOWN) || rsv)
        return SVTPM_E_FORMAT;
    if (m->n_images > MANIFEST_MAX_IMAGES || m->n_enclaves > MANIFEST_MAX_ENCLAVES)
        return SVTPM_E_FORMAT;
    for (unsigned i = 0; i < m->n_images; i++)
        rd_bytes(&r, m->images[i], 32);
    bool zero_ok = true;
    for (unsigned i = 0; i < m->n_enclaves; i++) {
        struct manifest_enclave *e = &m->enclaves[i];
        e->kind = rd_u8(&r);
        zero_ok &= rd_u8(&r) == 0;
        e->isv_prod_id = rd_be16(&r);
        e->min_isv_svn = rd_be16(&r);
        zero_ok &= rd_be16(&r) == 0;
        rd_bytes(&r, e->value, 32);
    }
    if (m->flags & MANIFEST_F_TIME_AUTHORITY)
        rd_bytes(&r, m->time_authority, 32);
    size_t body = r.off;
    rd_bytes(&r, m->signature, MANIFEST_SIG_LEN);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;
    if (rd_left(&r))
        return SVTPM_E_FORMAT;
    if (!zero_ok || !ranges_ok(m))
        return SVTPM_E_FORMAT;
    *signed_len = body;
    return SVTPM_OK;
}

size_t restore_auth_pack_body(const struct restore_auth *a, uint8_t *out, size_t cap)
{
    if (a->to_version == 0 || a->to_version >= a->from_version)
        return 0;   /* what the parser would refuse is never made */
    struct wr w = wr_init(out, cap);
    wr_bytes(&w, RESTORE_AUTH_MAGIC, 8);
    wr_be16(&w, MANIFEST_VERSION);
    wr_be16(&w, 0);
    wr_bytes(&w, a->vtpm_id, 16);
    wr_bytes(&w, a->tenant_pub, 32);
    wr_be64(&w, a->from_version);
    wr_be64(&w, a->to_version);
    wr_be64(&w, a->created);
    return wr_ok(&w) ? w.off : 0;
}

svtpm_err restore_auth_parse(const uint8_t *buf, size_t len, struct restore_auth *a)
{
    memset(a, 0, sizeof *a);
    if (len != RESTORE_AUTH_LEN)
        return len < RESTORE_AUTH_LEN ? SVTPM_E_TRUNCATED : SVTPM_E_TOOBIG;
    struct rd r = rd_init(buf, len);
    const uint8_t *magic = rd_ptr(&r, 8);
    uint16_t version = rd_be16(&r), flags = rd_be16(&r);
    rd_bytes(&r, a->vtpm_id, 16);
    rd_bytes(&r, a->tenant_pub, 32);
    a->from_version = rd_be64(&r);
    a->to_version = rd_be64(&r);
    a->created = rd_be64(&r);
    rd_bytes(&r, a->signature, 64);
    if (!rd_ok(&r))
        return SVTPM_E_TRUNCATED;
    if (memcmp(magic, RESTORE_AUTH_MAGIC, 8) != 0 || version != MANIFEST_VERSION || flags)
        return SVTPM_E_FORMAT;
    /* Only an older state needs authorising. */
    if (a->to_version == 0 || a->to_version >= a->from_version)
        return SVTPM_E_FORMAT;
    return SVTPM_OK;
}
