/* The host's side of OCALL_TIME_TOKEN: it carries the enclave's nonce to the
 * time authority and the signed token back. It is trusted with nothing: the
 * enclave checks the token's signature against the key the tenant pinned and
 * its nonce against the one it issued. */
#ifndef SVTPM_TIMECLIENT_H
#define SVTPM_TIMECLIENT_H
#include <stdint.h>
#include "err.h"

/* addr: "HOST:PORT" (numeric IPv4). Sends the 32-byte nonce, reads
 * TIMETOKEN_LEN bytes into out; at most 2 s in all. */
svtpm_err time_token_fetch(const char *addr, const uint8_t nonce[32], uint8_t *out);

#endif
