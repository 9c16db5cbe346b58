/* Starting an exec on the Docker engine's socket: the one HTTP request the relay makes, and the parsing of the one
 * response it reads (the engine upgrades the connection to a raw stream). Pure functions, fuzzed (shell/fuzz/). */
#ifndef DOSH_HIJACK_H
#define DOSH_HIJACK_H

#include <stddef.h>

/* Writes the exec start request into out; returns its length, or 0 when the id is not an engine id or out is too
 * small. */
size_t hijack_request(char *out, size_t cap, const char *exec_id, int tty);

/* An engine id: 64 lowercase hex digits. */
int engine_id_valid(const char *id);

struct http_head {
  int status;
  /* -1 when absent. */
  long content_length;
  /* Header bytes, the blank line included: what follows is the body or, after 101/200, the stream. */
  size_t size;
};

/* Parses a response head from the start of buf. Returns 1 when complete (h filled), 0 when more bytes are needed,
 * -1 when malformed. */
int http_parse_head(const char *buf, size_t len, struct http_head *h);

/* The engine's error body ({"message":"..."}) as printable text: the message's value when it has one, else the body
 * with control bytes dropped. */
void engine_error_text(const char *body, size_t len, char *out, size_t cap);

#endif
