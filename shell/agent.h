/* ssh agent forwarding into her container: a socket the relay binds while root where doshd says (a directory of
 * doshd's that her container mounts), handed to her uid; after the drop, each connection to it is carried to her own
 * SSH_AUTH_SOCK (sshd's socket for this login), connected to as her. Root never opens her socket. */
#ifndef DOSH_AGENT_H
#define DOSH_AGENT_H

#include <sys/types.h>

/* While root: the listening socket at path, owned by uid:gid, mode 0600. -1 with errno. */
int agent_listen(const char *path, uid_t uid, gid_t gid);

/* After the drop: whether auth_sock is her own agent socket (a socket she owns, in a directory of hers that nobody
 * else may write, as sshd makes them). 0, or -1 with why filled. */
int agent_usable(const char *auth_sock, uid_t uid, char *why, size_t cap);

/* A connection on the listening socket: carried to auth_sock on a thread of its own (at most AGENT_MAX at once). */
void agent_accept(int lfd, const char *auth_sock);

#define AGENT_MAX 16

#endif
