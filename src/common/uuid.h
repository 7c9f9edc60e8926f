/* vTPM ids in text: the canonical 8-4-4-4-12 hex form (libvirt's, the
 * tenant tool's, the log's). No I/O. */
#ifndef SVTPM_UUID_H
#define SVTPM_UUID_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37   /* 36 characters and the NUL */

/* s[0..n) is exactly a canonical UUID (either case); out gets its bytes. */
bool uuid_parse(const char *s, size_t n, uint8_t out[16]);
/* Lower-case canonical form. */
void uuid_format(const uint8_t id[16], char out[UUID_STR_LEN]);

#endif
