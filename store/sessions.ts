// The Session store as doshd and doshctl open it: every object validated by its zod schema.
import { Session } from '../api/session.ts';
import { DirStore, type StoreOptions } from './dirstore.ts';
import { zodCodec } from './codec.ts';

export function sessionStore(root: string, opts?: StoreOptions): DirStore<Session> {
  return new DirStore<Session>(root, 'sessions', zodCodec(Session), opts);
}
