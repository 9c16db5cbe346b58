/*
 * dosh: the login shell a sysadmin gives to users (usermod -s /usr/local/bin/dosh USER), installed setuid root.
 *
 * It is a relay, not a shell, and it decides nothing: it tells doshd's session API who is logging in (her uid, as
 * the kernel gives it) and what she asked for (argv[0] and the arguments as bytes, TERM, LANG, the terminal, the ssh
 * client); doshd writes the Session object, applies the policy, makes her container and the exec, and answers with
 * the exec to start or a refusal. While root, the relay only connects: to doshd, to the engine (to start that one
 * exec), and binds the socket a restarted doshd reattaches to. Then it drops to her uid, gid and groups for good,
 * before one byte of her stream moves, and relays until the command ends. See docs/SECURITY.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <signal.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"
#include "dosh.h"

/* What survives of the environment she chose: passed to doshd as bytes, never interpreted here. */
struct taken_env {
  const char *term, *lang, *ssh_connection;
  /* Her agent's socket (sshd's, for `ssh -A`): only ever opened after the drop, as her. */
  const char *auth_sock;
};

/* A copy of one variable before the environment is cleared (at most 4 KiB; longer is dropped). */
static const char *keep(const char *name, char *buf, size_t cap) {
  const char *v = getenv(name);
  if (!v || strlen(v) >= cap) return NULL;
  memcpy(buf, v, strlen(v) + 1);
  return buf;
}

static int load_conf(struct conf *c) {
  conf_defaults(c);
  int fd = open(DOSH_CONF, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    say("%s: %s%s", DOSH_CONF, strerror(errno), errno == EACCES && geteuid() != 0 ? " (dosh must be installed setuid root)" : "");
    return -1;
  }
  struct stat st;
  static char text[65536];
  ssize_t n = -1;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
    say("%s must be a regular file owned by root and not writable by others", DOSH_CONF);
  } else if ((n = read(fd, text, sizeof text)) < 0 || (size_t)n == sizeof text) {
    say("%s: cannot read it whole", DOSH_CONF);
    n = -1;
  }
  close(fd);
  char err[256];
  if (n < 0) return -1;
  if (conf_parse(text, (size_t)n, c, err, sizeof err) != 0) {
    say("%s:%s", DOSH_CONF, err);
    return -1;
  }
  return 0;
}

/* The store is where doshd's socket lives: one anyone but root could write into could hold someone else's socket. */
static int store_safe(const char *store) {
  struct stat st;
  if (lstat(store, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
    say("the session store %s is not a root-only directory: only root may write there; an administrator must fix it (doshd creates it root-only)", store);
    return -1;
  }
  return 0;
}

static int unix_connect(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return errno = ENAMETOOLONG, -1;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    return errno = e, -1;
  }
  return fd;
}

/* The socket a restarted doshd connects to (doshd names it, under its root-only store). -1 when it cannot be made:
 * the login goes on, but a doshd restart would then end it. */
static int listen_for_doshd(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (path[0] != '/' || strlen(path) >= sizeof sa.sun_path) return -1;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 2) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The login request; `attempt` is 1, or more when doshd went away before answering an earlier one. */
static size_t login_frame(uint8_t **out, int argc, char **argv, const struct taken_env *env, int tty, uint32_t attempt) {
  size_t cap = 512;
  for (int i = 0; i < argc; i++) cap += strlen(argv[i]) + 5;
  const char *vals[] = {env->term, env->lang, env->ssh_connection};
  for (int i = 0; i < 3; i++) cap += vals[i] ? strlen(vals[i]) + 5 : 0;
  if (cap > PROTO_FRAME_MAX) return 0;
  free(*out);
  if (!(*out = malloc(cap))) return 0;
  struct wbuf b;
  wb_init(&b, *out, cap, MSG_LOGIN);
  wb_u32(&b, F_VERSION, PROTO_VERSION);
  wb_u32(&b, F_UID, (uint32_t)getuid());
  wb_u32(&b, F_GID, (uint32_t)getgid());
  wb_u32(&b, F_PID, (uint32_t)getpid());
  wb_u32(&b, F_ATTEMPT, attempt);
  const char *argv0 = argc > 0 && argv[0] ? argv[0] : "dosh";
  wb_bytes(&b, F_ARGV0, argv0, strlen(argv0));
  for (int i = 1; i < argc; i++) wb_bytes(&b, F_ARG, argv[i], strlen(argv[i]));
  if (env->term) wb_bytes(&b, F_TERM, env->term, strlen(env->term));
  if (env->lang) wb_bytes(&b, F_LANG, env->lang, strlen(env->lang));
  if (env->ssh_connection) wb_bytes(&b, F_SSH_CONNECTION, env->ssh_connection, strlen(env->ssh_connection));
  wb_u32(&b, F_TTY, (uint32_t)tty);
  if (env->auth_sock) wb_u32(&b, F_AGENT, 1);
  struct winsize ws;
  for (int fd = 0; fd < 3; fd++) {
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
      wb_u32(&b, F_ROWS, ws.ws_row);
      wb_u32(&b, F_COLS, ws.ws_col);
      break;
    }
  }
  return wb_finish(&b);
}

struct admitted {
  int ctl;
  char session[254];
  char exec_id[65];
  char engine[108];
  char relay_socket[108];
  int tty;
  char agent_socket[108]; /* empty: no agent forwarding */
  char recording[512];    /* empty: not recorded */
  uint64_t record_limit;
};

/* An optional text field: 0 absent (out empty), 1 present, -1 malformed. */
static int opt_str(const struct wmsg *m, uint8_t tag, char *out, size_t cap) {
  const uint8_t *p;
  size_t n;
  out[0] = 0;
  if (wire_bytes(m, tag, &p, &n) != 0) return 0;
  return wire_str(m, tag, out, cap) == 0 ? 1 : -1;
}

struct request {
  int argc;
  char **argv;
  const struct taken_env *env;
  int tty;
};

/* Asks doshd to admit the login, waiting for it (up to LOGIN_TIMEOUT) when it is not running or restarting; a
 * doshd that went away before answering is asked again, saying so (the new one adopts the session the old one made).
 * Returns 0 with a filled, or an exit status. */
static int request_login(const struct conf *c, int sigfd, const struct request *q, struct admitted *a) {
  char path[CONF_STORE_MAX + 16];
  snprintf(path, sizeof path, "%s/api.sock", c->store);
  long start = now_ms(), deadline = start + (long)c->login_timeout_ms;
  int warned = 0;
  uint32_t attempt = 0;
  static uint8_t *frame; /* reachable for the whole run: a leak checker sees no leak on an early exit */
  static struct reader in;
  for (;;) {
    int fd = unix_connect(path);
    if (fd < 0) {
      if (errno != ENOENT && errno != ECONNREFUSED) {
        say("cannot reach the DoSH controller at %s: %s%s", path, strerror(errno), geteuid() != 0 ? " (dosh must be installed setuid root)" : "");
        return EXIT_FAILED;
      }
      if (now_ms() >= deadline) {
        say("login failed: the DoSH controller (doshd) is not running; ask your administrator");
        return EXIT_FAILED;
      }
      if (!warned && now_ms() - start >= 2000) {
        warned = 1;
        say("the DoSH controller (doshd) is not running; waiting for it to start...");
      }
      long next = now_ms() + 100;
      int r = wait_readable(-1, sigfd, next < deadline ? next : deadline);
      if (r < 0) return 128 - r;
      continue;
    }
    trace("connected to doshd");
    in.len = in.take = 0;
    size_t flen = login_frame(&frame, q->argc, q->argv, q->env, q->tty, ++attempt);
    if (flen == 0) {
      close(fd);
      say("login failed: arguments too long (more than a login request may carry)");
      return EXIT_FAILED;
    }
    if (write_all(fd, frame, flen) != 0) {
      close(fd);
      continue;
    }
    for (;;) {
      int r = wait_readable(fd, sigfd, deadline);
      if (r < 0) return close(fd), 128 - r;
      if (r == 0) {
        close(fd);
        say("login timed out waiting for the DoSH controller (doshd)");
        return EXIT_FAILED;
      }
      int filled = reader_fill(&in, fd);
      struct wmsg m;
      int got;
      while ((got = reader_next(&in, &m)) > 0) {
        const uint8_t *p;
        size_t n;
        uint32_t v = 0;
        if (m.type == MSG_NOTICE && wire_bytes(&m, F_MESSAGE, &p, &n) == 0) say_text(p, n);
        if (m.type == MSG_REFUSE) {
          if (wire_bytes(&m, F_MESSAGE, &p, &n) == 0) say_text(p, n);
          free(frame);
          close(fd);
          return wire_u32(&m, F_EXIT_CODE, &v) == 0 && v > 0 && v < 256 ? (int)v : EXIT_FAILED;
        }
        if (m.type == MSG_ADMIT) {
          if (wire_str(&m, F_SESSION, a->session, sizeof a->session) || wire_str(&m, F_EXEC_ID, a->exec_id, sizeof a->exec_id) ||
              wire_str(&m, F_ENGINE_SOCKET, a->engine, sizeof a->engine) || wire_str(&m, F_RELAY_SOCKET, a->relay_socket, sizeof a->relay_socket) ||
              wire_u32(&m, F_TTY, &v) || opt_str(&m, F_AGENT_SOCKET, a->agent_socket, sizeof a->agent_socket) < 0 ||
              opt_str(&m, F_RECORDING, a->recording, sizeof a->recording) < 0 || (a->recording[0] && wire_u64(&m, F_RECORD_LIMIT, &a->record_limit))) {
            close(fd);
            say("login failed: doshd sent an incomplete answer");
            return EXIT_FAILED;
          }
          a->tty = v != 0;
          a->ctl = fd;
          free(frame);
          return 0;
        }
      }
      /* doshd went away before answering (a restart): ask the new one. */
      if (filled <= 0 || got < 0) {
        close(fd);
        break;
      }
    }
  }
}

int main(int argc, char **argv) {
  trace("relay started");
  priv_sanitize();
  static char term[4097], lang[4097], sshc[4097], sock[108];
  struct taken_env env = {keep("TERM", term, sizeof term), keep("LANG", lang, sizeof lang), keep("SSH_CONNECTION", sshc, sizeof sshc), keep("SSH_AUTH_SOCK", sock, sizeof sock)};
  clearenv();
  struct conf conf;
  if (load_conf(&conf) != 0 || store_safe(conf.store) != 0) return EXIT_MISCONFIGURED;
  trace_on(conf.trace);
  uid_t uid = getuid();
  gid_t gid = getgid();
  pid_t parent = getppid();
  int sigfd = priv_signalfd();
  if (sigfd < 0) {
    say("login failed: %s", strerror(errno));
    return EXIT_FAILED;
  }
  struct admitted a;
  struct request q = {argc, argv, &env, isatty(0)};
  int code = request_login(&conf, sigfd, &q, &a);
  if (code != 0) return code;
  trace("admitted");

  int lfd = listen_for_doshd(a.relay_socket);
  static uint8_t early[16384];
  size_t early_len = 0;
  char err[1200];
  int efd = engine_start(a.engine, a.exec_id, a.tty, now_ms() + (long)conf.login_timeout_ms, early, &early_len, sizeof early, err, sizeof err);
  if (efd < 0) {
    uint8_t buf[1300];
    struct wbuf b;
    wb_init(&b, buf, sizeof buf, MSG_START_FAILED);
    wb_bytes(&b, F_MESSAGE, err, strlen(err));
    (void)send_frame(a.ctl, &b);
    say("login failed: %s", err);
    return EXIT_FAILED;
  }
  trace("exec started");

  /* While root, in doshd's root-only directories: the recording is opened (her output is appended after the drop),
   * the agent socket of her container bound and given to her. Neither fails the login. */
  static struct recorder rec = {.fd = -1};
  if (a.recording[0] && a.tty && rec_open(&rec, a.recording, a.record_limit) != 0) report_recording_stopped(a.ctl, &rec);
  int afd = -1;
  if (a.agent_socket[0] && env.auth_sock && (afd = agent_listen(a.agent_socket, uid, gid)) < 0) say("ssh agent not forwarded: cannot listen on %s: %s", a.agent_socket, strerror(errno));

  if (priv_drop(uid, gid) != 0) {
    say("login failed: cannot drop root privileges: %s", strerror(errno));
    return EXIT_MISCONFIGURED;
  }
  trace("root dropped");
  char why[160];
  if (afd >= 0 && agent_usable(env.auth_sock, uid, why, sizeof why) != 0) {
    say("ssh agent not forwarded: %s", why);
    close(afd);
    afd = -1;
  }
  /* Her login program going away (a dropped ssh connection sends no signal: sshd's session process just exits) is a
   * hang-up. Set after the drop, which clears it, and checked once for a parent that went before it was set. */
  prctl(PR_SET_PDEATHSIG, SIGHUP, 0, 0, 0);
  if (getppid() != parent) kill(getpid(), SIGHUP);
  (void)send_simple(a.ctl, MSG_STARTED);

  struct relay_args r = {
      .efd = efd, .ctl = a.ctl, .lfd = lfd, .sigfd = sigfd, .tty = a.tty, .session = a.session, .exec_id = a.exec_id, .exit_wait_ms = conf.login_timeout_ms, .early = early, .early_len = early_len,
      .afd = afd, .auth_sock = env.auth_sock, .rec = &rec,
  };
  return relay_run(&r);
}
