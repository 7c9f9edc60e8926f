/* Bounds-checked big-endian reading and writing over (buf, len).
 * A reader that runs out sets its error once and every later read fails, so a
 * parser can do all its reads and check rd_ok() at the end (tpm2-tss style). */
#ifndef SVTPM_BYTES_H
#define SVTPM_BYTES_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct rd {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

struct wr {
    uint8_t *p;
    size_t cap, off;
    bool bad;
};

static inline struct rd rd_init(const void *p, size_t len)
{
    struct rd r = { .p = p, .len = len };
    return r;
}
static inline struct wr wr_init(void *p, size_t cap)
{
    struct wr w = { .p = p, .cap = cap };
    return w;
}

bool rd_ok(const struct rd *r);
size_t rd_left(const struct rd *r);
uint8_t rd_u8(struct rd *r);
uint16_t rd_be16(struct rd *r);
uint32_t rd_be32(struct rd *r);
uint64_t rd_be64(struct rd *r);
/* copies n bytes out; on failure dst is zeroed */
void rd_bytes(struct rd *r, void *dst, size_t n);
/* returns a pointer into the reader's buffer (n bytes), or NULL */
const uint8_t *rd_ptr(struct rd *r, size_t n);

bool wr_ok(const struct wr *w);
void wr_u8(struct wr *w, uint8_t v);
void wr_be16(struct wr *w, uint16_t v);
void wr_be32(struct wr *w, uint32_t v);
void wr_be64(struct wr *w, uint64_t v);
void wr_bytes(struct wr *w, const void *src, size_t n);
void wr_zero(struct wr *w, size_t n);

uint16_t get_be16(const uint8_t *p);
uint32_t get_be32(const uint8_t *p);
uint64_t get_be64(const uint8_t *p);
void put_be16(uint8_t *p, uint16_t v);
void put_be32(uint8_t *p, uint32_t v);
void put_be64(uint8_t *p, uint64_t v);

/* Secrets: wipe that the compiler cannot elide, and constant-time compare. */
void secure_wipe(void *p, size_t n);
bool ct_equal(const void *a, const void *b, size_t n);

#endif
