/* libFuzzer target: the engine's answer to the exec start (the only HTTP the relay reads, while still root). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../hijack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A heap copy of exactly size bytes: ASan catches any read past the end. */
  char *buf = malloc(size ? size : 1);
  memcpy(buf, data, size);
  struct http_head h;
  int r = http_parse_head(buf, size, &h);
  if (r == 1) {
    assert(h.size <= size && h.size >= 16);
    assert(h.status >= 0 && h.status <= 999);
    assert(h.content_length >= -1);
  }
  char text[256];
  engine_error_text(buf, size, text, sizeof text);
  assert(strlen(text) < sizeof text);
  for (size_t i = 0; text[i]; i++) assert((unsigned char)text[i] >= 0x20 && text[i] != 0x7f);
  char id[65];
  size_t n = size < 64 ? size : 64;
  memcpy(id, buf, n);
  id[n] = 0;
  char req[512];
  size_t q = hijack_request(req, sizeof req, id, size & 1);
  assert(q == 0 || (q < sizeof req && engine_id_valid(id)));
  free(buf);
  return 0;
}
