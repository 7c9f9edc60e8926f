/* svtpm-tenant: the tenant's own tool, run on the tenant's machine, never on
 * the host. It holds the tenant's Ed25519 key and signs the two documents the
 * enclave checks (common/manifest.h): binding manifests and restore
 * authorisations. The host only ever sees their signed bytes. */
#include "bytes.h"
#include "edtool.h"
#include "manifest.h"
#include "sigstruct.h"
#include "uuid.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char tool_name[] = "svtpm-tenant";

static const char usage_text[] =
    "usage: svtpm-tenant COMMAND [OPTIONS]\n"
    "  keygen --out KEY.pem             new Ed25519 tenant key (mode 0600); prints the tenant id\n"
    "  id --key KEY.pem                 prints the tenant id (SHA-256 of the raw public key)\n"
    "  bind --key KEY.pem --vtpm-id UUID --policy strict|snapshot --out FILE\n"
    "       [--image PATH]...                    boot image digests (SHA-256), up to 8, in order\n"
    "       [--enclave-sigstruct SIG]...         allow that SIGSTRUCT's signer, product, SVN >= its own\n"
    "       [--enclave-signer HEX64[:PRODID[:MINSVN]]]...     allow an MRSIGNER\n"
    "       [--enclave-mrenclave HEX64[:PRODID[:MINSVN]]]...  allow an MRENCLAVE\n"
    "       [--generation N (1)] [--created UNIXSECONDS (now)]\n"
    "       [--resume charge|budget|free]      charge: a resume from volatile state (migration,\n"
    "                                          restore) after a DA-protected use costs a failed try;\n"
    "                                          budget: one such resume per recoveryTime is free, the\n"
    "                                          others are charged (needs --time-authority);\n"
    "                                          free: resumes cost nothing, so a host that discards\n"
    "                                          unacknowledged writes can guess PINs without limit.\n"
    "                                          Default: budget with --time-authority, free without\n"
    "       [--time-authority PUB]             trust this time authority's tokens (its raw 32-byte\n"
    "                                          Ed25519 key: svtpm-timeauth pubkey)\n"
    "       at least one enclave entry, up to 8; PRODID defaults to 1, MINSVN to 0\n"
    "  authorize-restore --key KEY.pem --vtpm-id UUID --from N --to M [--created S] --out FILE\n"
    "       lets the vTPM at state version N go back to the older version M (M < N)\n"
    "  show FILE                        prints a manifest or authorisation, checks its signature\n"
    "exit status: 0 ok, 1 error or invalid signature, 2 usage error\n";

enum cmd { C_KEYGEN = 1, C_ID = 2, C_BIND = 4, C_RESTORE = 8, C_SHOW = 16 };
/* Options after O_IMAGE repeat and keep their order (parse_args). */
enum opt { O_KEY, O_OUT, O_VTPM, O_POLICY, O_GEN, O_CREATED, O_FROM, O_TO, O_RESUME, O_TIMEAUTH,
           O_IMAGE, O_SIGSTRUCT, O_SIGNER, O_MRENCLAVE, O__N };

static const struct tool_opt opt_defs[O__N] = {
    [O_KEY] = { "--key", C_ID | C_BIND | C_RESTORE },
    [O_OUT] = { "--out", C_KEYGEN | C_BIND | C_RESTORE },
    [O_VTPM] = { "--vtpm-id", C_BIND | C_RESTORE },
    [O_POLICY] = { "--policy", C_BIND },
    [O_GEN] = { "--generation", C_BIND },
    [O_CREATED] = { "--created", C_BIND | C_RESTORE },
    [O_FROM] = { "--from", C_RESTORE },
    [O_TO] = { "--to", C_RESTORE },
    [O_RESUME] = { "--resume", C_BIND },
    [O_TIMEAUTH] = { "--time-authority", C_BIND },
    [O_IMAGE] = { "--image", C_BIND },
    [O_SIGSTRUCT] = { "--enclave-sigstruct", C_BIND },
    [O_SIGNER] = { "--enclave-signer", C_BIND },
    [O_MRENCLAVE] = { "--enclave-mrenclave", C_BIND },
};

struct args {
    const char *one[O__N];          /* options given at most once */
    const char *file;               /* show's operand */
    const char *images[MANIFEST_MAX_IMAGES];
    unsigned n_images;
    struct { enum opt kind; const char *val; } enc[MANIFEST_MAX_ENCLAVES];
    unsigned n_enc;
};

static int hash_file(const char *path, uint8_t out[32])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail("cannot open image %s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    static unsigned char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(md, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    fclose(f);
    return ok ? 0 : fail("cannot hash image %s", path);
}

static int cmd_keygen(const struct args *a)
{
    return keygen_to(a->one[O_OUT]);
}

static int cmd_id(const struct args *a)
{
    return print_id_of(a->one[O_KEY]);
}

static int enclave_from_sigstruct(const char *path, struct manifest_enclave *e)
{
    uint8_t buf[SIGSTRUCT_LEN + 1];
    struct sigstruct ss;
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n < 0)
        return 1;
    svtpm_err err = sigstruct_parse(buf, (size_t)n, &ss);
    if (err != SVTPM_OK)
        return fail("%s: not a SIGSTRUCT (%s)", path, svtpm_strerror(err));
    /* Its signer is what gets trusted: a corrupt file must not name one. */
    if (!ed25519_verify(ss.pubkey, buf, SIGSTRUCT_SIGNED_LEN, ss.signature))
        return fail("%s: SIGSTRUCT signature does not verify", path);
    e->kind = MANIFEST_ENCLAVE_MRSIGNER;
    e->isv_prod_id = ss.isv_prod_id;
    e->min_isv_svn = ss.isv_svn;
    return sha256(ss.pubkey, 32, e->value) ? 0 : fail("SHA-256 failed");
}

static int enclave_from_spec(const char *spec, uint8_t kind, struct manifest_enclave *e)
{
    char tmp[80];
    size_t len = strlen(spec);
    uint64_t prod = SVTPM_ISV_PROD_ID, svn = 0;
    char *p = NULL, *s = NULL;
    if (len < sizeof tmp) {
        memcpy(tmp, spec, len + 1);
        if ((p = strchr(tmp, ':')) != NULL && (s = strchr(++p, ':')) != NULL)
            *s++ = '\0';
        if (p)
            p[-1] = '\0';
    }
    if (len >= sizeof tmp || !from_hex(tmp, e->value, 32) || (p && !parse_u64(p, 0xffff, &prod)) ||
        (s && !parse_u64(s, 0xffff, &svn)))
        return fail("bad enclave entry '%s' (want HEX64[:PRODID[:MINSVN]])", spec);
    e->kind = kind;
    e->isv_prod_id = (uint16_t)prod;
    e->min_isv_svn = (uint16_t)svn;
    return 0;
}

static int cmd_bind(const struct args *a)
{
    struct manifest m = { .n_images = (uint8_t)a->n_images, .n_enclaves = (uint8_t)a->n_enc };
    uint64_t gen = 1, created = (uint64_t)time(NULL);
    uint8_t doc[MANIFEST_MAX_LEN];
    EVP_PKEY *pk = NULL;
    int rc = 1;
    const char *pol = a->one[O_POLICY];
    m.policy = !strcmp(pol, "strict") ? ROLLBACK_STRICT : !strcmp(pol, "snapshot") ? ROLLBACK_SNAPSHOT : 0;
    if (!m.policy)
        rc = fail("--policy must be strict or snapshot, not '%s'", pol);
    else if (!uuid_parse(a->one[O_VTPM], strlen(a->one[O_VTPM]), m.vtpm_id))
        rc = fail("--vtpm-id: not a UUID: '%s'", a->one[O_VTPM]);
    else if (a->one[O_GEN] && (!parse_u64(a->one[O_GEN], UINT32_MAX, &gen) || gen == 0))
        rc = fail("--generation must be 1..4294967295");
    else if (a->one[O_CREATED] && !parse_u64(a->one[O_CREATED], UINT64_MAX, &created))
        rc = fail("--created: not a number of seconds: '%s'", a->one[O_CREATED]);
    else if (a->one[O_RESUME] && strcmp(a->one[O_RESUME], "charge") && strcmp(a->one[O_RESUME], "budget") &&
             strcmp(a->one[O_RESUME], "free"))
        rc = fail("--resume must be charge, budget or free, not '%s'", a->one[O_RESUME]);
    else if (a->one[O_RESUME] && !strcmp(a->one[O_RESUME], "budget") && !a->one[O_TIMEAUTH])
        rc = fail("--resume budget needs --time-authority: the budget is counted on the TPM clock, "
                  "which only a time authority keeps honest");
    else if (a->n_enc == 0)
        rc = fail("bind needs at least one --enclave-sigstruct, --enclave-signer or --enclave-mrenclave");
    else
        rc = 0;
    m.generation = (uint32_t)gen;
    /* The budget is the balanced answer to the write oracle, so it is the
     * default wherever the TPM clock can meter it; charge would cost every
     * legitimate migration a failed try, so it is only ever asked for. */
    const char *resume = a->one[O_RESUME] ? a->one[O_RESUME] : a->one[O_TIMEAUTH] ? "budget" : "free";
    if (!strcmp(resume, "charge"))
        m.flags |= MANIFEST_F_CHARGE_RESUME;
    if (!strcmp(resume, "budget"))
        m.flags |= MANIFEST_F_RESUME_BUDGET;
    if (rc == 0 && !a->one[O_RESUME] && !strcmp(resume, "free"))
        fprintf(stderr, "%s: warning: resume policy free: a host that discards unacknowledged state "
                        "writes and resumes the vTPM can guess DA-protected PINs without limit "
                        "(docs/security.md, \"The write oracle\"); choose --resume charge, or pin a "
                        "--time-authority for the default budget\n", tool_name);
    if (rc == 0 && a->one[O_TIMEAUTH]) {
        uint8_t pub[33];
        ssize_t n = read_small(a->one[O_TIMEAUTH], pub, sizeof pub);
        if (n != 32)
            rc = n < 0 ? 1 : fail("%s: not a raw 32-byte Ed25519 public key (svtpm-timeauth pubkey)",
                                  a->one[O_TIMEAUTH]);
        else
            memcpy(m.time_authority, pub, 32);
        m.flags |= MANIFEST_F_TIME_AUTHORITY;
    }
    m.created = created;
    for (unsigned i = 0; rc == 0 && i < a->n_images; i++)
        rc = hash_file(a->images[i], m.images[i]);
    for (unsigned i = 0; rc == 0 && i < a->n_enc; i++)
        rc = a->enc[i].kind == O_SIGSTRUCT ? enclave_from_sigstruct(a->enc[i].val, &m.enclaves[i])
           : enclave_from_spec(a->enc[i].val, a->enc[i].kind == O_SIGNER ? MANIFEST_ENCLAVE_MRSIGNER
                                                                        : MANIFEST_ENCLAVE_MRENCLAVE, &m.enclaves[i]);
    if (rc == 0 && (!(pk = load_key(a->one[O_KEY])) || !raw_pub(pk, m.tenant_pub)))
        rc = 1;
    if (rc == 0)
        rc = sign_and_write(pk, doc, manifest_pack_body(&m, doc, sizeof doc - MANIFEST_SIG_LEN), a->one[O_OUT]);
    EVP_PKEY_free(pk);
    return rc;
}

static int cmd_restore(const struct args *a)
{
    struct restore_auth ra = { .created = (uint64_t)time(NULL) };
    uint8_t doc[RESTORE_AUTH_LEN];
    EVP_PKEY *pk = NULL;
    int rc = 1;
    if (!uuid_parse(a->one[O_VTPM], strlen(a->one[O_VTPM]), ra.vtpm_id))
        rc = fail("--vtpm-id: not a UUID: '%s'", a->one[O_VTPM]);
    else if (!parse_u64(a->one[O_FROM], UINT64_MAX, &ra.from_version) ||
             !parse_u64(a->one[O_TO], UINT64_MAX, &ra.to_version))
        rc = fail("--from and --to must be state version numbers");
    else if (ra.to_version == 0 || ra.to_version >= ra.from_version)
        rc = fail("--to must be an older state version than --from (0 < M < N)");
    else if (a->one[O_CREATED] && !parse_u64(a->one[O_CREATED], UINT64_MAX, &ra.created))
        rc = fail("--created: not a number of seconds: '%s'", a->one[O_CREATED]);
    else if ((pk = load_key(a->one[O_KEY])) && raw_pub(pk, ra.tenant_pub))
        rc = 0;
    if (rc == 0)
        rc = sign_and_write(pk, doc, restore_auth_pack_body(&ra, doc, RESTORE_AUTH_SIGNED_LEN), a->one[O_OUT]);
    EVP_PKEY_free(pk);
    return rc;
}

static void print_common(const uint8_t vtpm_id[16], const uint8_t pub[32], uint64_t created)
{
    char when[32] = "?";
    struct tm tm;
    time_t t = (time_t)created;
    if ((uint64_t)t == created && gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("  vtpm id:      ");
    for (int i = 0; i < 16; i++)
        printf("%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", vtpm_id[i]);
    printf("\n  tenant id:    ");
    print_key_id(pub);
    printf("  created:      %" PRIu64 " (%s)\n", created, when);
}

static int cmd_show(const struct args *a)
{
    _Static_assert(RESTORE_AUTH_LEN <= MANIFEST_MAX_LEN, "show's buffer fits both documents");
    uint8_t buf[MANIFEST_MAX_LEN + 1];   /* one more: an overlong file reads as too big */
    char hex[65];
    bool valid = false;
    ssize_t n = read_small(a->file, buf, sizeof buf);
    if (n < 0)
        return 1;
    size_t len = (size_t)n, signed_len = 0;
    struct manifest m;
    struct restore_auth ra;
    svtpm_err err = SVTPM_E_FORMAT;
    if (len >= 8 && !memcmp(buf, MANIFEST_MAGIC, 8) && (err = manifest_parse(buf, len, &m, &signed_len)) == SVTPM_OK) {
        printf("binding manifest %s\n", a->file);
        print_common(m.vtpm_id, m.tenant_pub, m.created);
        printf("  generation:   %" PRIu32 "\n  policy:       %s\n  resume:       %s\n  images:       %u\n",
               m.generation, rollback_policy_name(m.policy),
               m.flags & MANIFEST_F_CHARGE_RESUME ? "charge" :
               m.flags & MANIFEST_F_RESUME_BUDGET ? "budget" : "free", m.n_images);
        for (unsigned i = 0; i < m.n_images; i++) {
            to_hex(m.images[i], 32, hex);
            printf("  image[%u]:     %s\n", i, hex);
        }
        if (m.flags & MANIFEST_F_TIME_AUTHORITY) {
            uint8_t id[32];
            if (!sha256(m.time_authority, 32, id))
                return fail("SHA-256 failed");
            to_hex(id, 32, hex);
            printf("  time authority: %s\n", hex);
        }
        printf("  enclaves:     %u\n", m.n_enclaves);
        for (unsigned i = 0; i < m.n_enclaves; i++) {
            const struct manifest_enclave *e = &m.enclaves[i];
            to_hex(e->value, 32, hex);
            printf("  enclave[%u]:   %s %s prod-id %u min-svn %u\n", i,
                   e->kind == MANIFEST_ENCLAVE_MRSIGNER ? "mrsigner" : "mrenclave", hex,
                   e->isv_prod_id, e->min_isv_svn);
        }
        valid = ed25519_verify(m.tenant_pub, buf, signed_len, m.signature);
    } else if (len >= 8 && !memcmp(buf, RESTORE_AUTH_MAGIC, 8) && (err = restore_auth_parse(buf, len, &ra)) == SVTPM_OK) {
        printf("restore authorisation %s\n", a->file);
        print_common(ra.vtpm_id, ra.tenant_pub, ra.created);
        printf("  from version: %" PRIu64 "\n  to version:   %" PRIu64 "\n", ra.from_version, ra.to_version);
        valid = ed25519_verify(ra.tenant_pub, buf, RESTORE_AUTH_SIGNED_LEN, ra.signature);
    } else {
        return fail("%s: not a valid binding manifest or restore authorisation (%s)", a->file, svtpm_strerror(err));
    }
    printf("signature: %s\n", valid ? "valid" : "INVALID");
    return valid ? 0 : 1;
}

static const struct command {
    const char *name;
    unsigned bit, need;             /* need: bit set of required enum opt */
    int (*run)(const struct args *);
} commands[] = {
    { "keygen", C_KEYGEN, 1u << O_OUT, cmd_keygen },
    { "id", C_ID, 1u << O_KEY, cmd_id },
    { "bind", C_BIND, 1u << O_KEY | 1u << O_VTPM | 1u << O_POLICY | 1u << O_OUT, cmd_bind },
    { "authorize-restore", C_RESTORE, 1u << O_KEY | 1u << O_VTPM | 1u << O_FROM | 1u << O_TO | 1u << O_OUT,
      cmd_restore },
    { "show", C_SHOW, 0, cmd_show },
};

/* --image and the enclave options repeat, in order. */
static bool repeat(int id, const char *v, void *ctx, int *rc)
{
    struct args *a = ctx;
    if (id < O_IMAGE)
        return false;
    if (id == O_IMAGE && a->n_images == MANIFEST_MAX_IMAGES)
        *rc = usage_error("at most %u --image", MANIFEST_MAX_IMAGES);
    else if (id == O_IMAGE)
        a->images[a->n_images++] = v;
    else if (a->n_enc == MANIFEST_MAX_ENCLAVES)
        *rc = usage_error("at most %u enclave entries", MANIFEST_MAX_ENCLAVES);
    else {
        a->enc[a->n_enc].kind = (enum opt)id;
        a->enc[a->n_enc++].val = v;
    }
    return true;
}

static int parse_args(int argc, char **argv, const struct command *c, struct args *a)
{
    const struct tool_cmd_args ca = {
        .cmd = c->name, .bit = c->bit, .need = c->need, .takes_file = c->bit == C_SHOW,
        .opts = opt_defs, .n_opts = O__N, .one = a->one, .file = &a->file, .repeat = repeat, .ctx = a,
    };
    return tool_parse(argc, argv, &ca);
}

static bool run(int argc, char **argv, int *rc)
{
    struct args a = { 0 };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            *rc = parse_args(argc, argv, &commands[i], &a);
            *rc = *rc ? *rc : commands[i].run(&a);
            return true;
        }
    return false;
}

int main(int argc, char **argv)
{
    return tool_main(argc, argv, usage_text, run);
}
