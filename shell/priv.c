/* What the relay does about the state it inherits from the user who started it (it runs setuid root), and the
 * privilege drop. Everything here assumes the caller is hostile: she chose the signal mask and dispositions, the open
 * file descriptors, the umask, the working directory and the environment. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dosh.h"

void priv_sanitize(void) {
  /* Every signal blocked for the whole run: the ones that matter are read from a signalfd, so no handler ever runs
   * while root, and a SIG_IGN she set cannot hide a hang-up. Synchronous faults still kill, as they should. */
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  /* A closed output returns EPIPE instead of a signal that would skip the clean-up. */
  signal(SIGPIPE, SIG_IGN);
  /* 0, 1 and 2 open, so that no socket opened below can become someone's stdout. */
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n != fd) _exit(EXIT_MISCONFIGURED);
    }
  }
  /* Nothing else she passed is ours to hold while root. */
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 65536; fd++) close(fd);
  }
  umask(077);
  /* Her working directory is hers; no relative path is resolved below. */
  if (chdir("/") != 0) _exit(EXIT_MISCONFIGURED);
}

int priv_signalfd(void) {
  sigset_t s;
  sigemptyset(&s);
  int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&s, sigs[i]);
  return signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Her uid and gid for good, her supplementary groups as the login program (sshd, su, login) set them (a setuid
 * program keeps its caller's groups), no capability left, not dumpable (her processes cannot ptrace it or open its
 * /proc files, so what it holds stays out of her reach), and no way back (no_new_privs). */
int priv_drop(uid_t uid, gid_t gid) {
  if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) return -1;
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) return -1;
  if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid) return -1;
  if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) return -1;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) return -1;
  if (uid != 0 && (d[0].effective | d[1].effective | d[0].permitted | d[1].permitted)) return -1;
  return 0;
}
