// Who is logging in: only what sudo guarantees (our real uid is 0 and sudo set SUDO_UID), resolved through NSS.
import { RefusedError } from '../lib/errors.ts';
import type { NssUser } from '../lib/users.ts';

/** The passwd entry for a uid; the helper needs no groups (doshd resolves them for the container). */
export interface PasswdLookup {
  byUid(uid: number): Promise<Omit<NssUser, 'groups'> | undefined>;
}

export async function callerIdentity(env: Readonly<Record<string, string | undefined>>, uid: number, users: PasswdLookup): Promise<Omit<NssUser, 'groups'>> {
  if (uid !== 0) throw new RefusedError('NotPrivileged', 'the session helper must be started by the dosh login shell through sudo');
  const raw = env.SUDO_UID ?? '';
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new RefusedError('NoIdentity', 'the session helper was not started through sudo by a regular user');
  const user = await users.byUid(Number(raw));
  if (!user) throw new RefusedError('UnknownUser', `uid ${raw} is not known to this host`);
  // The name always comes from NSS for the uid; SUDO_USER is informative only and a mismatch is not an attack vector.
  return user;
}
