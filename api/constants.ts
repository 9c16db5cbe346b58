// Plain constants of the API, importable without loading zod (the session helper's start-up pays for every module).
export const API_GROUP = 'dosh.io';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const SESSION_KIND = 'Session';

/** The users' own networks (networkPerUser) are named this and the user's name; declared networks may not be. */
export const NETWORK_PREFIX = 'dosh-net-';

/**
 * Where DoSH's own mounts appear in every user's container: the toolbox of file-transfer programs (read-only, from
 * the host) and, for logins that forward an ssh agent, the directory of her agent sockets. The policy may not mount
 * anything there.
 */
export const DOSH_MOUNT_ROOT = '/.dosh';
export const TOOLBOX_MOUNT = `${DOSH_MOUNT_ROOT}/toolbox`;
export const AGENT_MOUNT = `${DOSH_MOUNT_ROOT}/agent`;

/** Where doshd writes session recordings by default (--recordings), one root-only directory per user. */
export const DEFAULT_RECORDINGS = '/var/log/dosh/recordings';
