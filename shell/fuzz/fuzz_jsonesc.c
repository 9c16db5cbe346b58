/* libFuzzer target: the session recording's JSON escaping of terminal output. Whatever the bytes and however they are
 * split into reads, what it writes must be the inside of one valid JSON string of valid UTF-8 (no raw `"`, `\` only in
 * escapes, no control byte), and ASCII printable input other than `"` and `\` must come through unchanged. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../jsonesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks s[0..n) is valid UTF-8 with only JSON string escapes; returns the number of code points. */
static void check(const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    if (c == '\\') {
      assert(i + 1 < n);
      char e = (char)p[i + 1];
      if (e == 'u') {
        assert(i + 5 < n);
        for (int k = 2; k < 6; k++) assert(strchr("0123456789abcdef", p[i + (size_t)k]) != NULL);
        i += 6;
      } else {
        assert(strchr("\"\\nrtbf", e) != NULL);
        i += 2;
      }
      continue;
    }
    assert(c != '"' && c >= 0x20);
    int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
    assert(c < 0x80 || (c >= 0xc2 && c <= 0xf4));
    assert(i + (size_t)len <= n);
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int k = 1; k < len; k++) {
      assert((p[i + (size_t)k] & 0xc0) == 0x80);
      cp = (cp << 6) | (p[i + (size_t)k] & 0x3f);
    }
    assert(!(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff);
    assert((len == 2 && cp >= 0x80) || (len == 3 && cp >= 0x800) || (len == 4 && cp >= 0x10000) || len == 1);
    i += (size_t)len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  /* The first byte chooses where the input is split into reads. */
  size_t step = (size_t)data[0] % 7 + 1;
  data++;
  size--;
  struct jsonesc st = {{0}, 0};
  char *out = malloc(JSONESC_MAX(size) + 1);
  char *all = malloc(JSONESC_MAX(size) * 2 + 16);
  size_t total = 0;
  for (size_t at = 0; at < size; at += step) {
    size_t n = size - at < step ? size - at : step;
    size_t o = json_escape(&st, data + at, n, 0, out, JSONESC_MAX(n));
    assert(st.npend <= 3);
    memcpy(all + total, out, o);
    total += o;
  }
  size_t o = json_escape(&st, NULL, 0, 1, out, JSONESC_MAX(0));
  assert(st.npend == 0);
  memcpy(all + total, out, o);
  total += o;
  check(all, total);
  /* Printable ASCII without quotes or backslashes passes through as it is. */
  int plain = 1;
  for (size_t i = 0; i < size; i++) plain &= data[i] >= 0x20 && data[i] < 0x7f && data[i] != '"' && data[i] != '\\';
  if (plain) assert(total == size && memcmp(all, data, size) == 0);
  free(out);
  free(all);
  return 0;
}
