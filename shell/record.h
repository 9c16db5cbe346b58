/* The session recording: asciicast v2 events appended to the file doshd made (its header written), through a
 * descriptor the relay opened while root. After the drop the file is still out of her reach: root's, in a root-only
 * directory, and the relay is not dumpable. A failed write (a full disk) or the size her recordings may take ends the
 * recording, never the login. */
#ifndef DOSH_RECORD_H
#define DOSH_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "jsonesc.h"

struct recorder {
  int fd; /* -1: not recording */
  uint64_t written;
  uint64_t limit;
  long start_ms;
  struct jsonesc esc;
  char why[160]; /* why it stopped, once it has */
};

/* Opens the recording while root: a regular file of root's, not linked elsewhere, written by nobody else. -1 with
 * why filled when it is not such a file. */
int rec_open(struct recorder *r, const char *path, uint64_t limit);

/* An output event ("o") / a window size event ("r"). 0, or -1 when the recording stopped now (why says why). */
int rec_output(struct recorder *r, const uint8_t *p, size_t n);
int rec_resize(struct recorder *r, unsigned cols, unsigned rows);

/* Flushes a pending partial character and closes the file. */
void rec_close(struct recorder *r);

#endif
