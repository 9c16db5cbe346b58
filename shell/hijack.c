#include "hijack.h"

#include <stdio.h>
#include <string.h>

int engine_id_valid(const char *id) {
  size_t n = strlen(id);
  if (n != 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
  return 1;
}

size_t hijack_request(char *out, size_t cap, const char *exec_id, int tty) {
  if (!engine_id_valid(exec_id)) return 0;
  const char *body = tty ? "{\"Detach\":false,\"Tty\":true}" : "{\"Detach\":false,\"Tty\":false}";
  int n = snprintf(out, cap,
                   "POST /exec/%s/start HTTP/1.1\r\n"
                   "Host: docker\r\n"
                   "User-Agent: dosh\r\n"
                   "Content-Type: application/json\r\n"
                   "Connection: Upgrade\r\n"
                   "Upgrade: tcp\r\n"
                   "Content-Length: %zu\r\n"
                   "\r\n"
                   "%s",
                   exec_id, strlen(body), body);
  if (n < 0 || (size_t)n >= cap) return 0;
  return (size_t)n;
}

static int ieq_prefix(const char *p, size_t n, const char *name) {
  size_t k = strlen(name);
  if (n < k) return 0;
  for (size_t i = 0; i < k; i++) {
    char a = p[i], b = name[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (a != b) return 0;
  }
  return 1;
}

int http_parse_head(const char *buf, size_t len, struct http_head *h) {
  const char *end = NULL;
  for (size_t i = 0; i + 3 < len; i++) {
    if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
      end = buf + i;
      break;
    }
  }
  if (!end) return 0;
  /* Status line: HTTP/1.x SP 3DIGIT SP reason */
  size_t head = (size_t)(end - buf);
  if (head < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ') return -1;
  for (int i = 9; i < 12; i++)
    if (buf[i] < '0' || buf[i] > '9') return -1;
  if (head > 12 && buf[12] != ' ') return -1;
  h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  h->content_length = -1;
  h->size = head + 4;
  /* Header lines: only Content-Length matters (to read an error's body). */
  const char *p = memchr(buf, '\n', head);
  while (p && p < end) {
    const char *line = p + 1;
    const char *nl = memchr(line, '\n', (size_t)(end + 2 - line));
    size_t n = (size_t)((nl ? nl : end) - line);
    if (n && line[n - 1] == '\r') n--;
    if (ieq_prefix(line, n, "content-length:")) {
      size_t i = 15;
      while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
      if (i == n) return -1;
      long v = 0;
      for (; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
        if (v > 100000000L) return -1;
        v = v * 10 + (line[i] - '0');
      }
      while (i < n && (line[i] == ' ' || line[i] == '\t')) i++;
      if (i != n) return -1;
      h->content_length = v;
    }
    p = nl;
  }
  return 1;
}

void engine_error_text(const char *body, size_t len, char *out, size_t cap) {
  if (cap == 0) return;
  const char *key = "\"message\":\"";
  size_t k = strlen(key);
  size_t from = 0, to = len;
  for (size_t i = 0; i + k <= len; i++) {
    if (memcmp(body + i, key, k) == 0) {
      from = i + k;
      to = from;
      while (to < len && body[to] != '"') to += body[to] == '\\' && to + 1 < len ? 2 : 1;
      break;
    }
  }
  size_t o = 0;
  for (size_t i = from; i < to && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)body[i];
    if (c == '\\' && i + 1 < to) c = (unsigned char)body[++i];
    if (c >= 0x20 && c != 0x7f) out[o++] = (char)c;
  }
  out[o] = 0;
}
