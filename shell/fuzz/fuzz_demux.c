/* libFuzzer target: the multiplexed exec stream. The input is a stream of frames cut into reads at fuzzed points; what
 * the demuxer emits must be, byte for byte and in order, what a frame-at-a-time reference decoder reads. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "../demux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
  uint8_t out[2][1 << 16];
  size_t len[2];
};

static int collect(void *ctx, int stream, const uint8_t *p, size_t n) {
  struct sink *s = ctx;
  int k = stream == 2;
  assert(stream == 1 || stream == 2);
  assert(n > 0);
  assert(s->len[k] + n <= sizeof s->out[k]);
  memcpy(s->out[k] + s->len[k], p, n);
  s->len[k] += n;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 60000) return 0;
  /* The first byte seeds the cut points; the rest is the wire. */
  uint8_t seed = data[0];
  const uint8_t *wire = data + 1;
  size_t n = size - 1;
  static struct sink got, want;
  memset(got.len, 0, sizeof got.len);
  memset(want.len, 0, sizeof want.len);
  /* Reference: whole frames; a truncated last frame contributes what is there. */
  for (size_t i = 0; i + 8 <= n;) {
    uint32_t len = ((uint32_t)wire[i + 4] << 24) | ((uint32_t)wire[i + 5] << 16) | ((uint32_t)wire[i + 6] << 8) | wire[i + 7];
    int stream = wire[i] == 2 ? 2 : 1;
    i += 8;
    size_t take = len < n - i ? len : n - i;
    if (take) collect(&want, stream, wire + i, take);
    i += take;
  }
  struct demux d = {{0}, 0, 0, 0};
  size_t at = 0, step = (size_t)(seed % 17) + 1;
  while (at < n) {
    size_t k = step < n - at ? step : n - at;
    assert(demux_push(&d, wire + at, k, collect, &got) == 0);
    at += k;
    step = (step * 7 + seed) % 4099 + 1;
  }
  for (int k = 0; k < 2; k++) assert(got.len[k] == want.len[k] && memcmp(got.out[k], want.out[k], got.len[k]) == 0);
  return 0;
}
