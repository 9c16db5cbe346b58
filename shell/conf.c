#include "conf.h"

#include <stdio.h>
#include <string.h>

void conf_defaults(struct conf *c) {
  snprintf(c->store, sizeof c->store, "%s", "/run/dosh");
  c->login_timeout_ms = 30000;
  c->trace = 0;
}

/* Seconds with up to three decimals, at most a day, as milliseconds; -1 when not such a number. */
static long seconds_ms(const char *v, size_t n) {
  long ms = 0;
  size_t i = 0;
  if (n == 0) return -1;
  for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
    ms = ms * 10 + (v[i] - '0');
    if (ms > 86400) return -1;
  }
  if (i == 0) return -1;
  ms *= 1000;
  if (i < n) {
    if (v[i++] != '.' || i == n) return -1;
    long scale = 100;
    for (; i < n; i++) {
      if (v[i] < '0' || v[i] > '9' || scale == 0) return -1;
      ms += (v[i] - '0') * scale;
      scale /= 10;
    }
  }
  return ms;
}

static int is(const char *k, size_t kn, const char *name) { return kn == strlen(name) && memcmp(k, name, kn) == 0; }

int conf_parse(const char *text, size_t len, struct conf *c, char *err, size_t errcap) {
  size_t at = 0;
  for (int line = 1; at < len; line++) {
    const char *s = text + at;
    const char *nl = memchr(s, '\n', len - at);
    size_t n = nl ? (size_t)(nl - s) : len - at;
    at += n + (nl ? 1 : 0);
    const char *hash = memchr(s, '#', n);
    if (hash) n = (size_t)(hash - s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    if (!n) continue;
    if (memchr(s, 0, n)) {
      snprintf(err, errcap, "%d: a NUL byte", line);
      return -1;
    }
    const char *eq = memchr(s, '=', n);
    if (!eq) {
      snprintf(err, errcap, "%d: expected KEY=VALUE", line);
      return -1;
    }
    size_t kn = (size_t)(eq - s);
    const char *v = eq + 1;
    size_t vn = n - kn - 1;
    if (is(s, kn, "STORE")) {
      if (vn == 0 || v[0] != '/' || vn >= sizeof c->store) {
        snprintf(err, errcap, "%d: STORE must be an absolute path of at most %zu bytes", line, sizeof c->store - 1);
        return -1;
      }
      for (size_t i = 0; i < vn; i++) {
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) {
          snprintf(err, errcap, "%d: STORE must be a path of printable characters without spaces", line);
          return -1;
        }
      }
      memcpy(c->store, v, vn);
      c->store[vn] = 0;
    } else if (is(s, kn, "LOGIN_TIMEOUT")) {
      long ms = seconds_ms(v, vn);
      if (ms < 0) {
        snprintf(err, errcap, "%d: LOGIN_TIMEOUT must be a number of seconds (at most 86400)", line);
        return -1;
      }
      c->login_timeout_ms = (unsigned)ms;
    } else if (is(s, kn, "TRACE")) {
      if (is(v, vn, "true")) c->trace = 1;
      else if (is(v, vn, "false")) c->trace = 0;
      else {
        snprintf(err, errcap, "%d: TRACE must be true or false", line);
        return -1;
      }
    } else if (is(s, kn, "DOCKER_SOCKET") || is(s, kn, "KILL_GRACE")) {
      /* Settings of the Node.js helper this relay replaced: doshd owns them now (--docker-socket, --kill-grace).
       * Accepted so that an existing file keeps working. */
    } else {
      snprintf(err, errcap, "%d: unknown setting (expected STORE=DIR, LOGIN_TIMEOUT=SECONDS or TRACE=true|false)", line);
      return -1;
    }
  }
  return 0;
}
