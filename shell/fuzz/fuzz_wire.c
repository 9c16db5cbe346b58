/* libFuzzer target: the session API framing the relay reads from doshd. Any bytes split into frames and read field by
 * field stay within their buffers; a frame built from fuzzed fields reads back exactly. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "../protocol.h"
#include "../wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all_fields(const struct wmsg *m) {
  for (unsigned tag = 0; tag < 32; tag++) {
    uint32_t v;
    uint64_t w;
    const uint8_t *p;
    size_t n;
    char s[64];
    (void)wire_u32(m, (uint8_t)tag, &v);
    (void)wire_u64(m, (uint8_t)tag, &w);
    if (wire_bytes(m, (uint8_t)tag, &p, &n) == 0) assert(p >= m->fields && p + n <= m->fields + m->len);
    if (wire_str(m, (uint8_t)tag, s, sizeof s) == 0) assert(strlen(s) < sizeof s);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* 1. As a byte stream from doshd. */
  size_t off = 0;
  while (off < size) {
    struct wmsg m;
    long k = wire_split(data + off, size - off, PROTO_RELAY_FRAME_MAX, &m);
    if (k <= 0) break;
    assert((size_t)k <= size - off);
    if (wire_valid(&m)) read_all_fields(&m);
    off += (size_t)k;
  }
  /* 2. As fields to write: tag, length byte, bytes; then read back. */
  static uint8_t frame[4096];
  struct wbuf b;
  wb_init(&b, frame, sizeof frame, 66);
  size_t i = 0, nfields = 0;
  uint8_t tags[256];
  const uint8_t *vals[256];
  size_t lens[256];
  while (i + 2 <= size && nfields < 256) {
    uint8_t tag = data[i], n = data[i + 1];
    i += 2;
    if (n > size - i) n = (uint8_t)(size - i);
    wb_bytes(&b, tag, data + i, n);
    tags[nfields] = tag;
    vals[nfields] = data + i;
    lens[nfields++] = n;
    i += n;
  }
  size_t total = wb_finish(&b);
  if (total) {
    struct wmsg m;
    assert(wire_split(frame, total, sizeof frame, &m) == (long)total);
    assert(m.type == 66 && wire_valid(&m));
    for (size_t f = 0; f < nfields; f++) {
      size_t first = f;
      for (size_t g = 0; g < f; g++)
        if (tags[g] == tags[f]) {
          first = g;
          break;
        }
      const uint8_t *p;
      size_t n;
      assert(wire_bytes(&m, tags[f], &p, &n) == 0);
      assert(n == lens[first] && memcmp(p, vals[first], n) == 0);
    }
  }
  return 0;
}
