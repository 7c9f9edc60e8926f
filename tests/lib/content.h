/* Test payloads: content(p, len, v) is distinct per version v and per byte,
 * so a test can tell which version a load returned. */
#ifndef TESTS_CONTENT_H
#define TESTS_CONTENT_H
#include <stdbool.h>
#include <stdint.h>

void content(uint8_t *p, uint32_t len, uint32_t v);
/* p (len bytes) is content(want_len, v). */
bool is_content(const uint8_t *p, uint32_t len, uint32_t want_len, uint32_t v);

#endif
