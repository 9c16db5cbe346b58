/* The relay's few settings, from the root-owned /etc/dosh/helper.conf (KEY=VALUE lines, # comments). Pure parser,
 * fuzzed (shell/fuzz/); the file's ownership is checked by the caller before it is read. */
#ifndef DOSH_CONF_H
#define DOSH_CONF_H

#include <stddef.h>

/* STORE + "/api.sock" must fit a Unix socket address (108 bytes). */
#define CONF_STORE_MAX 96

struct conf {
  char store[CONF_STORE_MAX];
  unsigned login_timeout_ms;
  int trace;
};

void conf_defaults(struct conf *c);

/* Returns 0, or -1 with a message naming the line in err ("LINE: what was wrong"). */
int conf_parse(const char *text, size_t len, struct conf *c, char *err, size_t errcap);

#endif
