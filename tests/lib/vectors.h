/* Test vectors committed under tests/unit/data/, found from the top of the
 * tree (the current directory, as tests/run.sh runs) or $SVTPM_TOP. */
#ifndef TESTS_VECTORS_H
#define TESTS_VECTORS_H
#include <stddef.h>
#include <stdint.h>

/* tests/unit/data/NAME, malloc'd (NULL, with a message, when unreadable). */
uint8_t *test_vector(const char *name, size_t *len);

#endif
