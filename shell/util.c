#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dosh.h"

static int raw_mode;
static int tracing;
static long started_at = -1;

void say_raw(int raw) { raw_mode = raw; }

/* Drops C0 and C1 control bytes (C1 as UTF-8: 0xC2 0x80-0x9F): nothing printed may move the cursor or set a title. */
static size_t printable(const uint8_t *p, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    uint8_t c = p[i];
    if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
      i++;
      continue;
    }
    if (c < 0x20 || c == 0x7f) continue;
    out[o++] = (char)c;
  }
  out[o] = 0;
  return o;
}

static void emit(const char *text) {
  char line[4200];
  int n = snprintf(line, sizeof line, "%sdosh: %s%s", raw_mode ? "\r\n" : "", text, raw_mode ? "\r\n" : "\n");
  if (n > 0) (void)write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void say(const char *fmt, ...) {
  char msg[4096], clean[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printable((const uint8_t *)msg, strlen(msg), clean, sizeof clean);
  emit(clean);
}

void say_text(const uint8_t *p, size_t n) {
  char clean[4096];
  if (printable(p, n, clean, sizeof clean)) emit(clean);
}

long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static double now_fine(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void trace_on(int on) { tracing = on; }

void trace(const char *step) {
  static double t0;
  if (started_at < 0) {
    started_at = 0;
    t0 = now_fine();
  }
  if (!tracing) return;
  say("trace: %.1f ms %s", now_fine() - t0, step);
}

int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        (void)poll(&pfd, 1, -1);
        continue;
      }
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int reader_fill(struct reader *r, int fd) {
  if (r->take) {
    memmove(r->buf, r->buf + r->take, r->len - r->take);
    r->len -= r->take;
    r->take = 0;
  }
  if (r->len == sizeof r->buf) return -1; /* a frame larger than the limit would have been refused already */
  ssize_t n = recv(fd, r->buf + r->len, sizeof r->buf - r->len, MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EINTR ? 1 : -1;
  if (n == 0) return 0;
  r->len += (size_t)n;
  return 1;
}

int reader_next(struct reader *r, struct wmsg *m) {
  if (r->take) {
    memmove(r->buf, r->buf + r->take, r->len - r->take);
    r->len -= r->take;
    r->take = 0;
  }
  long k = wire_split(r->buf, r->len, PROTO_RELAY_FRAME_MAX, m);
  if (k < 0) return -1;
  if (k == 0) return 0;
  if (!wire_valid(m)) return -1;
  r->take = (size_t)k;
  return 1;
}

int send_frame(int fd, struct wbuf *b) {
  size_t n = wb_finish(b);
  if (n == 0) {
    errno = EMSGSIZE;
    return -1;
  }
  return write_all(fd, b->data, n);
}

int send_simple(int fd, uint8_t type) {
  uint8_t s[16];
  struct wbuf b;
  wb_init(&b, s, sizeof s, type);
  return send_frame(fd, &b);
}

int send_u32(int fd, uint8_t type, uint8_t tag, uint32_t v) {
  uint8_t s[32];
  struct wbuf b;
  wb_init(&b, s, sizeof s, type);
  wb_u32(&b, tag, v);
  return send_frame(fd, &b);
}

int wait_readable(int fd, int sigfd, long deadline) {
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p[2] = {{fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
    int n = poll(p, 2, (int)(left > 1000000 ? 1000000 : left));
    if (n < 0 && errno != EINTR) return 0;
    if (n <= 0) continue;
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int s = (int)si.ssi_signo;
        if (s == SIGINT || s == SIGQUIT || s == SIGHUP || s == SIGTERM) return -s;
      }
    }
    if (p[0].revents) return 1;
  }
}
