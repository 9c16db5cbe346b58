/* libFuzzer target: /etc/dosh/helper.conf (root-owned, but the parser runs in a setuid program: no input may make it
 * read or write out of bounds, and what it accepts is always well formed). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  memcpy(text, data, size);
  struct conf c;
  conf_defaults(&c);
  char err[128];
  if (conf_parse(text, size, &c, err, sizeof err) == 0) {
    assert(c.store[0] == '/' && strlen(c.store) < sizeof c.store);
    assert(c.login_timeout_ms <= 86400u * 1000u + 999u);
    assert(c.trace == 0 || c.trace == 1);
  } else {
    assert(strlen(err) < sizeof err && err[0] >= '1' && err[0] <= '9');
  }
  free(text);
  return 0;
}
