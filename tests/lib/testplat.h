/* A test TEE platform: a plain struct tee_platform with a fixed identity and
 * a platform secret derived from `seed`, after crypto_init(). */
#ifndef TESTS_TESTPLAT_H
#define TESTS_TESTPLAT_H
#include <stdint.h>
#include "platform.h"

#define TESTPLAT_SIGNER_BYTE   0x51
#define TESTPLAT_ENCLAVE_BYTE  0xE7

/* isv_prod_id 1, isv_svn 1, cpu_svn all zero, mrsigner all 0x51, mrenclave
 * all 0xE7, secret[i] = seed * 31 + i. Aborts if crypto_init fails. */
void testplat_init(struct tee_platform *p, uint8_t seed);

/* Runs a shell command with output to stderr; returns its exit status
 * (-1 when it could not run or was killed). */
int testutil_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a whole file (malloc'd); NULL on error. */
uint8_t *testutil_slurp(const char *path, size_t *len);
/* Writes a whole file; 0 on success. */
int testutil_spit(const char *path, const void *p, size_t len);

#endif
