#include "wire.h"

#include <string.h>

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void put(struct wbuf *b, const void *p, size_t n) {
  if (b->overflow || n > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void wb_init(struct wbuf *b, uint8_t *storage, size_t cap, uint8_t type) {
  b->data = storage;
  b->cap = cap;
  b->len = 0;
  b->overflow = cap < 5;
  if (!b->overflow) {
    memset(storage, 0, 4);
    storage[4] = type;
    b->len = 5;
  }
}

static void field_head(struct wbuf *b, uint8_t tag, size_t n) {
  uint8_t h[5];
  if (n > UINT32_MAX) {
    b->overflow = 1;
    return;
  }
  h[0] = tag;
  put32(h + 1, (uint32_t)n);
  put(b, h, sizeof h);
}

void wb_u32(struct wbuf *b, uint8_t tag, uint32_t v) {
  uint8_t p[4];
  put32(p, v);
  field_head(b, tag, 4);
  put(b, p, 4);
}

void wb_u64(struct wbuf *b, uint8_t tag, uint64_t v) {
  uint8_t p[8];
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
  field_head(b, tag, 8);
  put(b, p, 8);
}

void wb_bytes(struct wbuf *b, uint8_t tag, const void *p, size_t n) {
  field_head(b, tag, n);
  put(b, p, n);
}

size_t wb_finish(struct wbuf *b) {
  if (b->overflow || b->len < 5 || b->len - 4 > UINT32_MAX) return 0;
  put32(b->data, (uint32_t)(b->len - 4));
  return b->len;
}

long wire_split(const uint8_t *buf, size_t len, size_t max, struct wmsg *out) {
  if (len < 4) return 0;
  uint32_t n = get32(buf);
  if (n < 1 || n > max) return -1;
  if (len - 4 < n) return 0;
  out->type = buf[4];
  out->fields = buf + 5;
  out->len = n - 1;
  return (long)n + 4;
}

/* Walks the fields: calls back on each until it returns non-zero; -1 when a field is malformed. */
static int each_field(const struct wmsg *m, int (*fn)(void *ctx, uint8_t tag, const uint8_t *p, uint32_t n), void *ctx) {
  size_t off = 0;
  while (off < m->len) {
    if (m->len - off < 5) return -1;
    uint8_t tag = m->fields[off];
    uint32_t n = get32(m->fields + off + 1);
    off += 5;
    if (n > m->len - off) return -1;
    int r = fn(ctx, tag, m->fields + off, n);
    if (r) return r;
    off += n;
  }
  return 0;
}

static int ok_field(void *ctx, uint8_t tag, const uint8_t *p, uint32_t n) {
  (void)ctx;
  (void)tag;
  (void)p;
  (void)n;
  return 0;
}

int wire_valid(const struct wmsg *m) { return each_field(m, ok_field, NULL) == 0; }

struct find {
  uint8_t tag;
  const uint8_t *p;
  uint32_t n;
};

static int find_field(void *ctx, uint8_t tag, const uint8_t *p, uint32_t n) {
  struct find *f = ctx;
  if (tag != f->tag) return 0;
  f->p = p;
  f->n = n;
  return 1;
}

int wire_bytes(const struct wmsg *m, uint8_t tag, const uint8_t **p, size_t *n) {
  struct find f = {tag, NULL, 0};
  if (each_field(m, find_field, &f) != 1) return -1;
  *p = f.p;
  *n = f.n;
  return 0;
}

int wire_u32(const struct wmsg *m, uint8_t tag, uint32_t *out) {
  const uint8_t *p;
  size_t n;
  if (wire_bytes(m, tag, &p, &n) != 0 || n != 4) return -1;
  *out = get32(p);
  return 0;
}

int wire_u64(const struct wmsg *m, uint8_t tag, uint64_t *out) {
  const uint8_t *p;
  size_t n;
  if (wire_bytes(m, tag, &p, &n) != 0 || n != 8) return -1;
  *out = ((uint64_t)get32(p) << 32) | get32(p + 4);
  return 0;
}

int wire_str(const struct wmsg *m, uint8_t tag, char *out, size_t cap) {
  const uint8_t *p;
  size_t n;
  if (cap == 0 || wire_bytes(m, tag, &p, &n) != 0 || n >= cap || memchr(p, 0, n)) return -1;
  memcpy(out, p, n);
  out[n] = 0;
  return 0;
}
