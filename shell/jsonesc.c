#include "jsonesc.h"

#include <string.h>

/* The length of a UTF-8 sequence that starts with c, or 0 when c cannot start one (continuation bytes, C0, C1, F5..FF:
 * overlong two-byte leads and code points past U+10FFFF). */
static int seq_len(uint8_t c) {
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if (c >= 0xe0 && c <= 0xef) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

/* Whether b may be byte k (1..3) of a sequence led by c: a continuation byte, and for the second byte the ranges that
 * exclude overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4). */
static int cont_ok(uint8_t c, int k, uint8_t b) {
  if ((b & 0xc0) != 0x80) return 0;
  if (k != 1) return 1;
  if (c == 0xe0) return b >= 0xa0;
  if (c == 0xed) return b <= 0x9f;
  if (c == 0xf0) return b >= 0x90;
  if (c == 0xf4) return b <= 0x8f;
  return 1;
}

static size_t put_ascii(char *out, uint8_t c) {
  static const char hex[] = "0123456789abcdef";
  switch (c) {
  case '"': return memcpy(out, "\\\"", 2), 2;
  case '\\': return memcpy(out, "\\\\", 2), 2;
  case '\n': return memcpy(out, "\\n", 2), 2;
  case '\r': return memcpy(out, "\\r", 2), 2;
  case '\t': return memcpy(out, "\\t", 2), 2;
  case '\b': return memcpy(out, "\\b", 2), 2;
  case '\f': return memcpy(out, "\\f", 2), 2;
  default:
    if (c >= 0x20) return out[0] = (char)c, 1;
    memcpy(out, "\\u00", 4);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
  }
}

size_t json_escape(struct jsonesc *st, const uint8_t *in, size_t n, int final, char *out, size_t cap) {
  /* The input is the pending bytes followed by `in`: AT(k) reads that concatenation. */
  uint8_t pend[3];
  size_t np = st->npend;
  memcpy(pend, st->pend, sizeof pend);
  st->npend = 0;
#define AT(k) ((k) < np ? pend[k] : in[(k) - np])
  size_t total = np + n, i = 0, o = 0;
  if (cap < JSONESC_MAX(n)) return 0;
  while (i < total) {
    uint8_t c = AT(i);
    int len = seq_len(c);
    if (len == 1) {
      o += put_ascii(out + o, c);
      i++;
      continue;
    }
    int k = 1;
    while (len > 1 && k < len && i + (size_t)k < total && cont_ok(c, k, AT(i + (size_t)k))) k++;
    if (len > 1 && k == len) {
      for (int j = 0; j < len; j++) out[o++] = (char)AT(i + (size_t)j);
      i += (size_t)len;
      continue;
    }
    if (len > 1 && i + (size_t)k == total && !final) {
      /* The rest of this character is still to come. */
      for (size_t j = i; j < total; j++) st->pend[st->npend++] = AT(j);
      break;
    }
    /* Not UTF-8: the lead byte (and the continuation bytes that were right so far) become one U+FFFD. */
    memcpy(out + o, "\xef\xbf\xbd", 3);
    o += 3;
    i += (size_t)(len > 1 ? k : 1);
  }
#undef AT
  return o;
}
