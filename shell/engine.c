/* Starting the exec doshd created: one connection to the engine's socket, one request, the connection upgraded to
 * the exec's stream. After this the relay holds only that stream: the engine no longer reads requests on it. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dosh.h"
#include "hijack.h"

/* Bytes read (> 0), 0 to try again, -1 when closed or failed, -2 at the deadline. */
static int read_some(int fd, char *buf, size_t cap, long deadline) {
  long left = deadline - now_ms();
  if (left <= 0) return -2;
  struct pollfd p = {fd, POLLIN, 0};
  int n = poll(&p, 1, (int)left);
  if (n == 0) return -2;
  if (n < 0) return errno == EINTR ? 0 : -1;
  ssize_t r = read(fd, buf, cap);
  if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
  return r == 0 ? -1 : (int)r;
}

int engine_start(const char *socket_path, const char *exec_id, int tty, long deadline, uint8_t *early, size_t *early_len, size_t early_cap, char *err, size_t errcap) {
  char req[512];
  size_t rn = hijack_request(req, sizeof req, exec_id, tty);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (rn == 0) {
    snprintf(err, errcap, "doshd sent an invalid exec id");
    return -1;
  }
  if (strlen(socket_path) >= sizeof sa.sun_path || socket_path[0] != '/') {
    snprintf(err, errcap, "doshd sent an invalid engine socket path");
    return -1;
  }
  memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    snprintf(err, errcap, "cannot reach the Docker engine at %s: %s", socket_path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if (write_all(fd, req, rn) != 0) {
    snprintf(err, errcap, "cannot start the session in the Docker engine: %s", strerror(errno));
    close(fd);
    return -1;
  }
  char head[16384];
  size_t have = 0;
  struct http_head h;
  for (;;) {
    int r = http_parse_head(head, have, &h);
    if (r == 1) break;
    if (r < 0 || have == sizeof head) {
      snprintf(err, errcap, "the Docker engine sent a malformed answer to the exec start");
      close(fd);
      return -1;
    }
    int n = read_some(fd, head + have, sizeof head - have, deadline);
    if (n < 0) {
      snprintf(err, errcap, n == -2 ? "the Docker engine did not answer the exec start in time" : "the Docker engine closed the connection before the session started");
      close(fd);
      return -1;
    }
    have += (size_t)n;
  }
  if (h.status == 101 || h.status == 200) {
    size_t rest = have - h.size;
    if (rest > early_cap) rest = early_cap; /* early_cap is at least the head buffer's size */
    memcpy(early, head + h.size, rest);
    *early_len = rest;
    return fd;
  }
  /* A refusal: its body says why ({"message":"..."}), read up to the length it announced. */
  size_t want = h.content_length > 0 && (size_t)h.content_length < sizeof head - h.size ? h.size + (size_t)h.content_length : have;
  while (have < want) {
    int n = read_some(fd, head + have, want - have, deadline);
    if (n < 0) break;
    have += (size_t)n;
  }
  char text[1024];
  engine_error_text(head + h.size, have - h.size, text, sizeof text);
  snprintf(err, errcap, "the Docker engine refused to start the session (HTTP %d): %s", h.status, text);
  close(fd);
  return -1;
}
