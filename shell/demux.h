/* The engine's multiplexed exec stream (no TTY): 8-byte headers (stream, 0, 0, 0, big-endian length) before each
 * payload. Splits any sequence of reads into stdout/stderr payloads without copying; a frame split across reads is
 * emitted in parts, in order. Pure, fuzzed (shell/fuzz/). */
#ifndef DOSH_DEMUX_H
#define DOSH_DEMUX_H

#include <stddef.h>
#include <stdint.h>

struct demux {
  uint8_t header[8];
  unsigned have; /* header bytes collected */
  uint8_t stream;
  uint32_t left; /* payload bytes of the current frame still to come */
};

/* Called for each payload piece; stream is 1 (stdout) or 2 (stderr), anything else is stdout (as the docker CLI
 * reads stdin echoes, stream 0). A non-zero return stops the push and is returned. */
typedef int (*demux_emit)(void *ctx, int stream, const uint8_t *p, size_t n);

int demux_push(struct demux *d, const uint8_t *p, size_t n, demux_emit emit, void *ctx);

/* Bytes of the current frame still missing (0 at a frame boundary). */
size_t demux_pending(const struct demux *d);

#endif
