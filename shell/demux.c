#include "demux.h"

#include <string.h>

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | (uint32_t)p[7];
}

int demux_push(struct demux *d, const uint8_t *p, size_t n, demux_emit emit, void *ctx) {
  size_t i = 0;
  while (i < n) {
    if (d->left > 0) {
      size_t k = n - i < d->left ? n - i : d->left;
      int r = emit(ctx, d->stream == 2 ? 2 : 1, p + i, k);
      if (r) return r;
      d->left -= (uint32_t)k;
      i += k;
    } else if (d->have == 0 && n - i >= 8) {
      d->stream = p[i];
      d->left = be32(p + i);
      i += 8;
    } else {
      size_t k = 8 - d->have < n - i ? 8 - d->have : n - i;
      memcpy(d->header + d->have, p + i, k);
      d->have += (unsigned)k;
      i += k;
      if (d->have == 8) {
        d->stream = d->header[0];
        d->left = be32(d->header);
        d->have = 0;
      }
    }
  }
  return 0;
}

size_t demux_pending(const struct demux *d) { return d->have > 0 ? 8 - d->have : d->left; }
