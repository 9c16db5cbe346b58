/* Shared pieces of the login relay (dosh.c): messages, time, whole writes, the session API connection. */
#ifndef DOSH_H
#define DOSH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "record.h"
#include "wire.h"

/* Where the relay's settings live: root-owned, not writable by others (compiled in; test builds point elsewhere). */
#ifndef DOSH_CONF
#define DOSH_CONF "/etc/dosh/helper.conf"
#endif

/* "dosh: MSG" on stderr; "\r\n" line ends while the terminal is raw. Control bytes of MSG are dropped. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say_raw(int raw);
/* Prints text that came from doshd (bytes, not a format). */
void say_text(const uint8_t *p, size_t n);

/* Milliseconds on the monotonic clock. */
long now_ms(void);
void trace_on(int on);
void trace(const char *step);

/* Writes all of p to fd (blocking); 0, or -1 with errno. */
int write_all(int fd, const void *p, size_t n);

/* Frames read from the session API connection, incrementally. */
struct reader {
  uint8_t buf[PROTO_RELAY_FRAME_MAX + 4];
  size_t len;
  size_t take; /* bytes of the frame handed out by reader_next, dropped on the next call */
};

/* Reads what the (non-blocking) fd has. 1 when bytes came, 0 at EOF, -1 on error (EAGAIN counts as 1). */
int reader_fill(struct reader *r, int fd);
/* The next complete frame: 1 (m filled, valid until the next call), 0 when none yet, -1 when malformed. */
int reader_next(struct reader *r, struct wmsg *m);

/* Sends a frame built with wb_*; -1 on error. */
int send_frame(int fd, struct wbuf *b);
/* A frame of one type with no fields, or one u32 field. */
int send_simple(int fd, uint8_t type);
int send_u32(int fd, uint8_t type, uint8_t tag, uint32_t v);

/* Waits until fd is readable, or one of the signals that end a login arrives on sigfd. Returns 1 readable, 0 at
 * the deadline (ms on the monotonic clock), or -signo. */
int wait_readable(int fd, int sigfd, long deadline);

/* priv.c */
void priv_sanitize(void);
int priv_signalfd(void);
int priv_drop(uid_t uid, gid_t gid);

/* engine.c: connects to the engine and starts the exec; the fd of the hijacked stream, or -1 with err filled. Bytes
 * of the stream that came with the response head are copied to early. */
int engine_start(const char *socket_path, const char *exec_id, int tty, long deadline, uint8_t *early, size_t *early_len, size_t early_cap, char *err, size_t errcap);

/* relay.c */
struct relay_args {
  int efd;
  int ctl;
  int lfd;
  int sigfd;
  int tty;
  const char *session;
  const char *exec_id;
  unsigned exit_wait_ms;
  const uint8_t *early;
  size_t early_len;
  /* The agent socket her container connects to (-1: no forwarding) and her own agent's socket. */
  int afd;
  const char *auth_sock;
  /* The session recording (fd -1: not recording). */
  struct recorder *rec;
};
/* Tells doshd the recording stopped (why, and the bytes it holds). */
void report_recording_stopped(int ctl, const struct recorder *r);
/* Relays until the command ends or the client goes away; returns the relay's exit status. */
int relay_run(struct relay_args *a);

#endif
