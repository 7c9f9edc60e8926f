#include "bytes.h"
#include <string.h>

uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }
void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
void put_be64(uint8_t *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }

bool rd_ok(const struct rd *r) { return !r->bad; }
size_t rd_left(const struct rd *r) { return r->bad ? 0 : r->len - r->off; }

const uint8_t *rd_ptr(struct rd *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t rd_u8(struct rd *r) { const uint8_t *p = rd_ptr(r, 1); return p ? p[0] : 0; }
uint16_t rd_be16(struct rd *r) { const uint8_t *p = rd_ptr(r, 2); return p ? get_be16(p) : 0; }
uint32_t rd_be32(struct rd *r) { const uint8_t *p = rd_ptr(r, 4); return p ? get_be32(p) : 0; }
uint64_t rd_be64(struct rd *r) { const uint8_t *p = rd_ptr(r, 8); return p ? get_be64(p) : 0; }

void rd_bytes(struct rd *r, void *dst, size_t n)
{
    const uint8_t *p = rd_ptr(r, n);
    if (p)
        memcpy(dst, p, n);
    else if (n)
        memset(dst, 0, n);
}

bool wr_ok(const struct wr *w) { return !w->bad; }

static uint8_t *wr_ptr(struct wr *w, size_t n)
{
    if (w->bad || n > w->cap - w->off) {
        w->bad = true;
        return NULL;
    }
    uint8_t *p = w->p + w->off;
    w->off += n;
    return p;
}

void wr_u8(struct wr *w, uint8_t v) { uint8_t *p = wr_ptr(w, 1); if (p) p[0] = v; }
void wr_be16(struct wr *w, uint16_t v) { uint8_t *p = wr_ptr(w, 2); if (p) put_be16(p, v); }
void wr_be32(struct wr *w, uint32_t v) { uint8_t *p = wr_ptr(w, 4); if (p) put_be32(p, v); }
void wr_be64(struct wr *w, uint64_t v) { uint8_t *p = wr_ptr(w, 8); if (p) put_be64(p, v); }
void wr_bytes(struct wr *w, const void *src, size_t n)
{
    uint8_t *p = wr_ptr(w, n);
    if (p && n)
        memcpy(p, src, n);
}
void wr_zero(struct wr *w, size_t n)
{
    uint8_t *p = wr_ptr(w, n);
    if (p && n)
        memset(p, 0, n);
}

void secure_wipe(void *p, size_t n)
{
    if (!p || !n)
        return;
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

bool ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}
