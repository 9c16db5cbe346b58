/* The relay's side of the session API framing (api/relay-protocol.ts): building frames and reading them back.
 * Pure functions over buffers, so they can be fuzzed (shell/fuzz/). */
#ifndef DOSH_WIRE_H
#define DOSH_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A frame being built: 4-byte length, type, fields. Fixed capacity: a frame that would not fit fails. */
struct wbuf {
  uint8_t *data;
  size_t len;
  size_t cap;
  int overflow;
};

void wb_init(struct wbuf *b, uint8_t *storage, size_t cap, uint8_t type);
void wb_u32(struct wbuf *b, uint8_t tag, uint32_t v);
void wb_u64(struct wbuf *b, uint8_t tag, uint64_t v);
void wb_bytes(struct wbuf *b, uint8_t tag, const void *p, size_t n);
/* Writes the length prefix; returns the frame's size, or 0 when it overflowed. */
size_t wb_finish(struct wbuf *b);

/* A received frame: its type and its fields (the bytes after the type). */
struct wmsg {
  uint8_t type;
  const uint8_t *fields;
  size_t len;
};

/* Splits the first complete frame off buf. Returns its total size (> 0), 0 when more bytes are needed, -1 when the
 * frame is malformed or larger than max. */
long wire_split(const uint8_t *buf, size_t len, size_t max, struct wmsg *out);

/* 1 when every field of the message is well formed (tags and lengths within the frame, numbers of their size). */
int wire_valid(const struct wmsg *m);

/* The first field with this tag. Return 0 when found and well formed, -1 when missing or of the wrong size. */
int wire_u32(const struct wmsg *m, uint8_t tag, uint32_t *out);
int wire_bytes(const struct wmsg *m, uint8_t tag, const uint8_t **p, size_t *n);
int wire_u64(const struct wmsg *m, uint8_t tag, uint64_t *out);

/* Copies a bytes field into a NUL-terminated string of at most cap-1 bytes; -1 when missing, too long, or holding a
 * NUL byte. */
int wire_str(const struct wmsg *m, uint8_t tag, char *out, size_t cap);

#endif
