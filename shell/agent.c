#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "dosh.h"

static int live; /* connections being carried, changed atomically */

int agent_listen(const char *path, uid_t uid, gid_t gid) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (path[0] != '/' || strlen(path) >= sizeof sa.sun_path) return errno = ENAMETOOLONG, -1;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  unlink(path);
  /* The directory is doshd's and root's alone: nobody can put a link where the socket goes. */
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || chown(path, uid, gid) != 0 || chmod(path, 0600) != 0 || listen(fd, 8) != 0) {
    int e = errno;
    close(fd);
    unlink(path);
    return errno = e, -1;
  }
  return fd;
}

int agent_usable(const char *auth_sock, uid_t uid, char *why, size_t cap) {
  struct stat st, dir;
  char parent[sizeof ((struct sockaddr_un *)0)->sun_path];
  size_t n = strlen(auth_sock);
  const char *slash = strrchr(auth_sock, '/');
  if (auth_sock[0] != '/' || n >= sizeof parent || !slash) return snprintf(why, cap, "SSH_AUTH_SOCK is not an absolute path of a socket"), -1;
  memcpy(parent, auth_sock, (size_t)(slash - auth_sock));
  parent[slash == auth_sock ? 1 : slash - auth_sock] = 0;
  if (lstat(auth_sock, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != uid) return snprintf(why, cap, "SSH_AUTH_SOCK is not a socket of yours"), -1;
  if (lstat(parent, &dir) != 0 || !S_ISDIR(dir.st_mode) || dir.st_uid != uid || (dir.st_mode & 022)) return snprintf(why, cap, "SSH_AUTH_SOCK is not in a directory of yours that only you may write"), -1;
  return 0;
}

struct pair {
  int a, b;
};

/* Copies both ways until either side closes. */
static void *carry(void *arg) {
  struct pair *p = arg;
  uint8_t buf[16384];
  struct pollfd f[2] = {{p->a, POLLIN, 0}, {p->b, POLLIN, 0}};
  for (int done = 0; !done;) {
    if (poll(f, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && !done; i++) {
      if (!f[i].revents) continue;
      ssize_t r = read(f[i].fd, buf, sizeof buf);
      if (r <= 0 || write_all(f[1 - i].fd, buf, (size_t)r) != 0) done = 1;
    }
  }
  close(p->a);
  close(p->b);
  free(p);
  __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
  return NULL;
}

void agent_accept(int lfd, const char *auth_sock) {
  int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  int s = -1;
  struct pair *p = NULL;
  if (__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED) > AGENT_MAX) goto out;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, auth_sock, strlen(auth_sock) + 1); /* agent_usable checked that it fits */
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0 || !(p = malloc(sizeof *p))) goto out;
  p->a = c;
  p->b = s;
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, carry, p) == 0) return;
  free(p);
out:
  if (s >= 0) close(s);
  close(c);
  __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
}
