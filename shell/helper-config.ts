// The helper's few settings, from a root-owned file only: the helper runs as root for any user, so nothing in the
// environment or the arguments may point it at another store or engine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RefusedError } from '../lib/errors.ts';
import { DEFAULT_STORE } from '../store/layout.ts';
import { DEFAULT_DOCKER_SOCKET } from '../engine/docker.ts';

export const HELPER_CONFIG = '/etc/dosh/helper.conf';

export interface HelperConfig {
  store: string;
  dockerSocket: string;
  loginTimeoutMs: number;
  killGraceMs: number;
  trace: boolean;
}

export function loadHelperConfig(file = HELPER_CONFIG): HelperConfig {
  const cfg: HelperConfig = { store: DEFAULT_STORE, dockerSocket: DEFAULT_DOCKER_SOCKET, loginTimeoutMs: 30_000, killGraceMs: 5_000, trace: false };
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.uid !== 0 || st.mode & 0o022) throw new Error(`${file} must be owned by root and not writable by others`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return cfg;
    throw e;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    const bad = () => new Error(`${file}:${i + 1}: ${line}: expected STORE=DIR, DOCKER_SOCKET=PATH, LOGIN_TIMEOUT=SECONDS, KILL_GRACE=SECONDS or TRACE=true|false`);
    if (!m) throw bad();
    const [, k, v] = m;
    const secs = () => {
      if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`${file}:${i + 1}: ${k} must be a number of seconds`);
      return Number(v) * 1000;
    };
    if (k === 'STORE' && v.startsWith('/')) cfg.store = v;
    else if (k === 'DOCKER_SOCKET' && v.startsWith('/')) cfg.dockerSocket = v;
    else if (k === 'LOGIN_TIMEOUT') cfg.loginTimeoutMs = secs();
    else if (k === 'KILL_GRACE') cfg.killGraceMs = secs();
    else if (k === 'TRACE' && (v === 'true' || v === 'false')) cfg.trace = v === 'true';
    else throw bad();
  });
  return cfg;
}

/**
 * Refuses a store that anyone but root could write into: the helper writes her session there and trusts what doshd
 * answers in it. doshd's init() makes them so; this catches a STORE= pointing somewhere else. Absent is fine (doshd has
 * not started yet: the login waits for it).
 */
export function checkStore(store: string, lstat: (p: string) => Pick<fs.Stats, 'uid' | 'mode' | 'isDirectory'> = fs.lstatSync): void {
  for (const dir of [store, path.join(store, 'sessions')]) {
    let st: Pick<fs.Stats, 'uid' | 'mode' | 'isDirectory'>;
    try {
      st = lstat(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (!st.isDirectory() || st.uid !== 0 || st.mode & 0o022) {
      const what = st.isDirectory() ? `owned by uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}` : 'not a directory';
      throw new RefusedError('StoreUnsafe', `the session store ${dir} is ${what}: only root may write there; an administrator must fix it (doshd creates it root-only)`);
    }
  }
}
