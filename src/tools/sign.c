/* svtpm-sign: writes the enclave's SIGSTRUCT (see common/sigstruct.h).
 *   svtpm-sign --key KEY.pem --enclave BINARY --out BINARY.sig
 * Creates an Ed25519 signing key in KEY.pem (mode 0600) if there is none:
 * that key is the enclave signer (MRSIGNER), so keep it to keep opening
 * state sealed by enclaves it signed. */
#include "sigstruct.h"
#include "version.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *what)
{
    fprintf(stderr, "svtpm-sign: %s\n", what);
    return 1;
}

static EVP_PKEY *load_or_make_key(const char *path)
{
    EVP_PKEY *pk = NULL;
    FILE *f = fopen(path, "r");
    if (f) {
        pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        return pk;
    }
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pk)
        return NULL;
    mode_t old = umask(077);
    f = fopen(path, "w");
    umask(old);
    if (!f || !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL)) {
        if (f)
            fclose(f);
        EVP_PKEY_free(pk);
        return NULL;
    }
    fclose(f);
    fprintf(stderr, "svtpm-sign: created enclave signing key %s\n", path);
    return pk;
}

int main(int argc, char **argv)
{
    const char *key = NULL, *enc = NULL, *out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--key")) key = argv[i + 1];
        else if (!strcmp(argv[i], "--enclave")) enc = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else return fail("usage: svtpm-sign --key KEY.pem --enclave BINARY --out SIG");
    }
    if (!key || !enc || !out)
        return fail("usage: svtpm-sign --key KEY.pem --enclave BINARY --out SIG");

    struct sigstruct ss = { .version = 1, .isv_prod_id = SVTPM_ISV_PROD_ID, .isv_svn = SVTPM_ISV_SVN };
    FILE *f = fopen(enc, "rb");
    if (!f)
        return fail("cannot open the enclave binary");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    fclose(f);
    EVP_DigestFinal_ex(md, ss.mrenclave, NULL);
    EVP_MD_CTX_free(md);

    EVP_PKEY *pk = load_or_make_key(key);
    if (!pk)
        return fail("cannot load or create the signing key");
    size_t publen = 32;
    if (!EVP_PKEY_get_raw_public_key(pk, ss.pubkey, &publen) || publen != 32)
        return fail("signing key is not Ed25519");
    uint8_t blob[SIGSTRUCT_LEN];
    sigstruct_pack(&ss, blob);
    EVP_MD_CTX *sctx = EVP_MD_CTX_new();
    size_t siglen = 64;
    if (!sctx || EVP_DigestSignInit(sctx, NULL, NULL, NULL, pk) != 1 ||
        EVP_DigestSign(sctx, ss.signature, &siglen, blob, SIGSTRUCT_SIGNED_LEN) != 1 || siglen != 64)
        return fail("signing failed");
    EVP_MD_CTX_free(sctx);
    EVP_PKEY_free(pk);
    sigstruct_pack(&ss, blob);
    f = fopen(out, "wb");
    if (!f || fwrite(blob, 1, sizeof blob, f) != sizeof blob || fclose(f) != 0)
        return fail("cannot write the SIGSTRUCT");
    return 0;
}
