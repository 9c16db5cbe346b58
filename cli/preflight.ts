// The checks a command declares in `needs`, run before it: a clear sentence instead of EACCES or a silent no-op.
import { controllerFile, readJsonFile, type ControllerRecord } from '../store/layout.ts';
import { isSameProcessAlive, type ProcFs } from '../lib/proc.ts';
import { CliError, type Command } from './context.ts';

export interface PreflightEnv {
  uid: number;
  storeRoot: string;
  procFs?: ProcFs;
}

export function preflight(cmd: Command, env: PreflightEnv, flags: Record<string, string | boolean | undefined> = {}): void {
  const needs = typeof cmd.needs === 'function' ? cmd.needs(flags) : (cmd.needs ?? []);
  const what = `doshctl ${cmd.path.join(' ')}`;
  if (needs.includes('root') && env.uid !== 0) {
    throw new CliError(`doshctl must run as root: ${what} reads the session store, the Docker socket or the cgroups (try: sudo ${what})`, 4);
  }
  if (needs.includes('doshd')) {
    const file = controllerFile(env.storeRoot);
    const rec = readJsonFile<ControllerRecord>(file);
    if (!rec) throw new CliError(`doshd is not running (no ${file}): start it with "systemctl start doshd" (or "doshd &")`, 3);
    if (!isSameProcessAlive(rec.pid, rec.startTime, env.procFs)) {
      throw new CliError(`doshd is not running (pid ${rec.pid}, started ${rec.startedAt}, recorded in ${file}, is gone): start it with "systemctl start doshd"`, 3);
    }
  }
}
