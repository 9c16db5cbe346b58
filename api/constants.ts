// Plain constants of the API, importable without loading zod (the session helper's start-up pays for every module).
export const API_GROUP = 'dosh.io';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const SESSION_KIND = 'Session';

/** The users' own networks (networkPerUser) are named this and the user's name; declared networks may not be. */
export const NETWORK_PREFIX = 'dosh-net-';
