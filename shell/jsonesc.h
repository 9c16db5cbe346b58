/* Terminal output as the text of a JSON string, for the session recording (asciicast v2): UTF-8 checked byte by
 * byte, across reads (a character split between two reads is kept until the rest comes), what is not UTF-8 replaced
 * by U+FFFD, and `"`, `\` and control characters escaped. Whatever bytes her programs print, the line written is one
 * valid JSON string: she cannot end it early and forge an event. Pure, fuzzed (shell/fuzz/fuzz_jsonesc.c). */
#ifndef DOSH_JSONESC_H
#define DOSH_JSONESC_H

#include <stddef.h>
#include <stdint.h>

struct jsonesc {
  uint8_t pend[3]; /* the start of a character the previous call ended in */
  uint8_t npend;
};

/* The output room one call needs at most: every byte (and each pending one) may become six (\u001b). */
#define JSONESC_MAX(n) (6 * ((size_t)(n) + 3))

/* Escapes `in` into `out` (no quotes, no NUL); returns the bytes written. `cap` must be at least JSONESC_MAX(n).
 * With `final`, a pending incomplete character is replaced too (the stream ended). */
size_t json_escape(struct jsonesc *st, const uint8_t *in, size_t n, int final, char *out, size_t cap);

#endif
