#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dosh.h"
#include "record.h"

/* Output is recorded in pieces of at most this many bytes, each one event. */
#define PIECE 16384

int rec_open(struct recorder *r, const char *path, uint64_t limit) {
  memset(r, 0, sizeof *r);
  r->fd = -1;
  r->limit = limit;
  int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || st.st_nlink != 1 || (st.st_mode & 077)) {
    snprintf(r->why, sizeof r->why, "the recording %s is not a root-only file (%s)", path, fd < 0 ? strerror(errno) : "owner, mode or links");
    if (fd >= 0) close(fd);
    return -1;
  }
  r->fd = fd;
  r->start_ms = now_ms();
  return 0;
}

static int stop(struct recorder *r, const char *why) {
  snprintf(r->why, sizeof r->why, "%s", why);
  close(r->fd);
  r->fd = -1;
  return -1;
}

/* Appends one event line, or stops the recording. */
static int append(struct recorder *r, const char *line, size_t n) {
  if (r->written + n > r->limit) return stop(r, "the recording reached the size its user's recordings may take (--record-user-cap)");
  if (write_all(r->fd, line, n) != 0) {
    char why[120];
    snprintf(why, sizeof why, "the recording could not be written: %s", strerror(errno));
    return stop(r, why);
  }
  r->written += n;
  return 0;
}

static double elapsed(const struct recorder *r) { return (double)(now_ms() - r->start_ms) / 1000.0; }

static int event(struct recorder *r, const uint8_t *p, size_t n, int final) {
  static char line[JSONESC_MAX(PIECE) + 64];
  int head = snprintf(line, sizeof line, "[%.3f, \"o\", \"", elapsed(r));
  size_t o = (size_t)head + json_escape(&r->esc, p, n, final, line + head, sizeof line - (size_t)head - 4);
  if (o == (size_t)head) return 0; /* all of it is the start of a character still to come */
  memcpy(line + o, "\"]\n", 3);
  return append(r, line, o + 3);
}

int rec_output(struct recorder *r, const uint8_t *p, size_t n) {
  for (size_t at = 0; r->fd >= 0 && at < n; at += PIECE) {
    if (event(r, p + at, n - at < PIECE ? n - at : PIECE, 0) != 0) return -1;
  }
  return r->fd >= 0 ? 0 : -1;
}

int rec_resize(struct recorder *r, unsigned cols, unsigned rows) {
  if (r->fd < 0) return 0;
  char line[96];
  int n = snprintf(line, sizeof line, "[%.3f, \"r\", \"%ux%u\"]\n", elapsed(r), cols, rows);
  return append(r, line, (size_t)n);
}

void rec_close(struct recorder *r) {
  if (r->fd < 0) return;
  if (r->esc.npend) (void)event(r, NULL, 0, 1);
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
}
