/*
 * dosh: the login shell a sysadmin gives to users (usermod -s /usr/local/bin/dosh USER).
 *
 * It is a launcher, not the shell: it only execs the root session helper through the one sudoers rule, passing its
 * own argv[0] (a leading '-' means login shell, which an interpreted script can never see) and its arguments
 * untouched. Everything else, in TypeScript, is in the helper. A native launcher also keeps a login from paying for
 * a second Node.js start and a second resident process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SUDO
#define SUDO "/usr/bin/sudo"
#endif
#ifndef HELPER
#define HELPER "/usr/local/lib/dosh/dosh-helper.mjs"
#endif

int main(int argc, char **argv) {
  /* sudo, dosh-helper, "--", argv0, args..., NULL */
  char **av = calloc((size_t)argc + 6, sizeof(char *));
  if (av == NULL) {
    fputs("dosh: out of memory\n", stderr);
    return 1;
  }
  int n = 0;
  av[n++] = "sudo";
  av[n++] = "-n"; /* never prompt: the rule is NOPASSWD, and a prompt would mean a broken install */
  av[n++] = "--";
  av[n++] = HELPER;
  av[n++] = (argc > 0 && argv[0] != NULL) ? argv[0] : "dosh";
  for (int i = 1; i < argc; i++) av[n++] = argv[i];
  av[n] = NULL;
  execv(SUDO, av);
  perror("dosh: cannot run " SUDO);
  return 126;
}
