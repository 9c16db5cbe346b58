/* The relay proper, after the privilege drop: her bytes between her file descriptors and the exec's stream, and the
 * login's control channel to doshd. Two threads, like the docker CLI's two copies: stdin to the stream (blocking, so
 * a command that does not read its input slows the sender, not memory), and everything else here, on one poll loop.
 * The relay decides nothing: the exit status, the messages, what a hang-up ends are doshd's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"
#include "demux.h"
#include "dosh.h"

struct state {
  struct relay_args *a;
  int ctl;
  struct reader in;
  struct demux demux;
  uint64_t bytes_out;
  uint64_t bytes_in; /* written by the stdin thread, read once it has stopped or at the end */
  int first_byte_sent;
  int stream_ended;
  int notify[2]; /* the stdin thread tells the loop that her terminal hung up */
  struct termios saved;
  int raw;
};

static void restore_terminal(struct state *s) {
  if (!s->raw) return;
  tcsetattr(0, TCSANOW, &s->saved);
  s->raw = 0;
  say_raw(0);
}

static void set_raw(struct state *s) {
  if (!s->a->tty || tcgetattr(0, &s->saved) != 0) return;
  struct termios t = s->saved;
  cfmakeraw(&t);
  if (tcsetattr(0, TCSANOW, &t) == 0) {
    s->raw = 1;
    say_raw(1);
  }
}

static int winsize(struct winsize *ws) {
  for (int fd = 0; fd < 3; fd++)
    if (ioctl(fd, TIOCGWINSZ, ws) == 0 && ws->ws_row && ws->ws_col) return 0;
  return -1;
}

/* The control channel is best effort: with doshd away (restarting) the login goes on and a new doshd reattaches. */
static void ctl_send(struct state *s, struct wbuf *b) {
  if (s->ctl >= 0 && send_frame(s->ctl, b) != 0) {
    close(s->ctl);
    s->ctl = -1;
  }
}

static void ctl_u32(struct state *s, uint8_t type, uint8_t tag, uint32_t v) {
  uint8_t buf[32];
  struct wbuf b;
  wb_init(&b, buf, sizeof buf, type);
  if (tag) wb_u32(&b, tag, v);
  ctl_send(s, &b);
}

void report_recording_stopped(int ctl, const struct recorder *r) {
  uint8_t buf[256];
  struct wbuf b;
  wb_init(&b, buf, sizeof buf, MSG_RECORDING_STOPPED);
  wb_bytes(&b, F_MESSAGE, r->why, strlen(r->why));
  wb_u64(&b, F_RECORDED, r->written);
  if (ctl >= 0) (void)send_frame(ctl, &b);
}

/* A recording that stops (a full disk, her cap) is reported once; the login goes on. */
static void recorded(struct state *s, int rc) {
  if (rc != 0) report_recording_stopped(s->ctl, s->a->rec);
}

static void send_resize(struct state *s) {
  struct winsize ws;
  if (!s->a->tty || winsize(&ws) != 0) return;
  if (s->a->rec->fd >= 0) recorded(s, rec_resize(s->a->rec, ws.ws_col, ws.ws_row));
  uint8_t buf[64];
  struct wbuf b;
  wb_init(&b, buf, sizeof buf, MSG_RESIZE);
  wb_u32(&b, F_ROWS, ws.ws_row);
  wb_u32(&b, F_COLS, ws.ws_col);
  ctl_send(s, &b);
}

static void send_stream_end(struct state *s, uint8_t type) {
  uint8_t buf[256];
  struct wbuf b;
  wb_init(&b, buf, sizeof buf, type);
  /* Which exec it carries: doshd learns the exit status from it even when the session object is gone. */
  wb_bytes(&b, F_EXEC_ID, s->a->exec_id, strlen(s->a->exec_id));
  if (type == MSG_REATTACH) {
    wb_bytes(&b, F_SESSION, s->a->session, strlen(s->a->session));
    wb_u32(&b, F_STREAM_ENDED, (uint32_t)s->stream_ended);
  }
  wb_u64(&b, F_BYTES_IN, __atomic_load_n(&s->bytes_in, __ATOMIC_RELAXED));
  wb_u64(&b, F_BYTES_OUT, s->bytes_out);
  ctl_send(s, &b);
}

/* The client is gone: doshd ends her processes; the status is that of a shell killed by the signal. */
static int hang_up(struct state *s, int sig) {
  restore_terminal(s);
  ctl_u32(s, MSG_HANGUP, F_SIGNAL, (uint32_t)sig);
  return 128 + sig;
}

static void *stdin_to_stream(void *arg) {
  struct state *s = arg;
  static uint8_t buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n > 0) {
      if (write_all(s->a->efd, buf, (size_t)n) != 0) break;
      __atomic_add_fetch(&s->bytes_in, (uint64_t)n, __ATOMIC_RELAXED);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    /* In raw mode ^D is a byte like any other: a terminal reads EOF or EIO only once it has hung up. Without one,
     * EOF is a half-close, so the command sees EOF (tar c . | ssh host 'tar x'). */
    if (s->a->tty) (void)!write(s->notify[1], "H", 1);
    else shutdown(s->a->efd, SHUT_WR);
    break;
  }
  return NULL;
}

struct out {
  struct iovec v[2][64];
  int n[2];
  int failed;
  uint64_t payload;
};

static int flush_stream(struct out *o, int k) {
  int fd = k == 0 ? 1 : 2;
  struct iovec *v = o->v[k];
  int n = o->n[k];
  o->n[k] = 0;
  while (n > 0 && !o->failed) {
    ssize_t w = writev(fd, v, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {fd, POLLOUT, 0};
        (void)poll(&p, 1, -1);
        continue;
      }
      o->failed = 1;
      return -1;
    }
    while (n > 0 && (size_t)w >= v->iov_len) w -= (ssize_t)v->iov_len, v++, n--;
    if (n > 0) v->iov_base = (uint8_t *)v->iov_base + w, v->iov_len -= (size_t)w;
  }
  return o->failed ? -1 : 0;
}

static int collect(void *ctx, int stream, const uint8_t *p, size_t n) {
  struct out *o = ctx;
  int k = stream == 2 ? 1 : 0;
  if (o->n[k] == 64 && flush_stream(o, k) != 0) return -1;
  o->v[k][o->n[k]].iov_base = (void *)(uintptr_t)p; /* writev only reads it */
  o->v[k][o->n[k]].iov_len = n;
  o->n[k]++;
  o->payload += n;
  return 0;
}

/* One read of the stream to her stdout/stderr (each stream's pieces in one writev). -1 when her output is gone. */
static int deliver(struct state *s, const uint8_t *p, size_t n) {
  if (s->a->tty) {
    if (write_all(1, p, n) != 0) return -1;
    s->bytes_out += n;
    if (s->a->rec->fd >= 0) recorded(s, rec_output(s->a->rec, p, n));
  } else {
    struct out o = {.failed = 0, .payload = 0};
    o.n[0] = o.n[1] = 0;
    if (demux_push(&s->demux, p, n, collect, &o) != 0 || flush_stream(&o, 0) != 0 || flush_stream(&o, 1) != 0) return -1;
    s->bytes_out += o.payload;
  }
  if (!s->first_byte_sent && s->bytes_out > 0) {
    s->first_byte_sent = 1;
    ctl_u32(s, MSG_FIRST_BYTE, 0, 0);
  }
  return 0;
}

static void stream_ended(struct state *s) {
  if (s->stream_ended) return;
  s->stream_ended = 1;
  trace("stream ended");
  rec_close(s->a->rec);
  restore_terminal(s);
  send_stream_end(s, MSG_STREAM_END);
}

/* A message from doshd; returns an exit status to end with, or -1 to go on. */
static int on_control(struct state *s, const struct wmsg *m) {
  const uint8_t *p;
  size_t n;
  uint32_t code;
  if (m->type == MSG_NOTICE && wire_bytes(m, F_MESSAGE, &p, &n) == 0) say_text(p, n);
  if (m->type == MSG_EXIT) {
    trace("exit status from doshd");
    restore_terminal(s);
    if (wire_bytes(m, F_MESSAGE, &p, &n) == 0) say_text(p, n);
    return wire_u32(m, F_EXIT_CODE, &code) == 0 && code < 256 ? (int)code : EXIT_UNKNOWN;
  }
  return -1;
}

/* A restarted doshd connects to the relay's socket (only root can reach it; checked again here). */
static void on_reattach(struct state *s) {
  int fd = accept4(s->a->lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return;
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || cr.uid != 0) {
    close(fd);
    return;
  }
  if (s->ctl >= 0) close(s->ctl);
  s->ctl = fd;
  s->in.len = s->in.take = 0;
  send_stream_end(s, MSG_REATTACH);
}

int relay_run(struct relay_args *a) {
  static struct state st;
  static uint8_t buf[131072];
  struct state *s = &st;
  s->a = a;
  s->ctl = a->ctl;
  if (pipe2(s->notify, O_CLOEXEC) != 0) return EXIT_FAILED;
  set_raw(s);
  send_resize(s);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, stdin_to_stream, s) != 0) {
    restore_terminal(s);
    say("cannot start the session relay: %s", strerror(errno));
    return EXIT_FAILED;
  }
  if (a->early_len && deliver(s, a->early, a->early_len) != 0) return hang_up(s, SIGPIPE);
  long exit_deadline = 0;
  for (;;) {
    struct pollfd p[6] = {
        {s->stream_ended ? -1 : a->efd, POLLIN, 0}, {s->ctl, POLLIN, 0}, {a->lfd, POLLIN, 0}, {a->sigfd, POLLIN, 0}, {s->notify[0], POLLIN, 0}, {a->afd, POLLIN, 0},
    };
    int timeout = -1;
    if (s->stream_ended) {
      long left = exit_deadline - now_ms();
      if (left <= 0) {
        say("the exit status of the command is unknown: the DoSH controller (doshd) did not answer");
        return EXIT_UNKNOWN;
      }
      timeout = (int)left;
    }
    if (poll(p, 6, timeout) < 0 && errno != EINTR) return EXIT_FAILED;
    if (a->afd >= 0 && p[5].revents) agent_accept(a->afd, a->auth_sock);
    if (p[0].revents) {
      ssize_t n = recv(a->efd, buf, sizeof buf, 0);
      if (n > 0) {
        if (deliver(s, buf, (size_t)n) != 0) return hang_up(s, SIGPIPE);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stream_ended(s);
        exit_deadline = now_ms() + a->exit_wait_ms;
      }
    }
    if (s->ctl >= 0 && p[1].revents) {
      int r = reader_fill(&s->in, s->ctl);
      struct wmsg m;
      int got = 0;
      while (r > 0 && (got = reader_next(&s->in, &m)) > 0) {
        int code = on_control(s, &m);
        if (code >= 0) return code;
      }
      if (r <= 0 || got < 0) {
        close(s->ctl);
        s->ctl = -1;
      }
    }
    if (p[2].revents) on_reattach(s);
    if (p[3].revents) {
      struct signalfd_siginfo si;
      while (read(a->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGWINCH) send_resize(s);
        else if (sig == SIGINT || sig == SIGQUIT) ctl_u32(s, MSG_SIGNAL, F_SIGNAL, (uint32_t)sig);
        else return hang_up(s, sig);
      }
    }
    if (p[4].revents) return hang_up(s, SIGHUP);
  }
}
