// Where things live under the store root, and the small non-Session files doshd keeps there.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_STORE = '/run/dosh';

export interface ControllerRecord {
  pid: number;
  startTime: string;
  node: string;
  version: string;
  startedAt: string;
  /** Where this doshd keeps what doshctl reads beside the store: its toolbox, recordings and audit log (when it has them). */
  toolbox?: string;
  recordings?: string;
  auditLog?: string;
}

/** What doshd publishes about the policy in force (policyStatusFile), for `doshctl policy status`. */
export interface PolicyStatus {
  file: string;
  /** Set while a cluster policy (Kubernetes mode's DoshPolicy) is in force instead of the file. */
  override?: string;
  loaded: boolean;
  loadedAt?: string;
  files: string[];
  /** The last failed load, cleared by the next good one. */
  error?: { message: string; file?: string; line?: number; at: string };
}

export function controllerFile(root: string): string {
  return path.join(root, 'doshd.json');
}

export function cordonFile(root: string): string {
  return path.join(root, 'cordon.json');
}

export function policyStatusFile(root: string): string {
  return path.join(root, 'policy-status.json');
}

/** When each idle container went idle (controller/gc.ts), so a doshd restart does not start the idle timers again. */
export function idleClocksFile(root: string): string {
  return path.join(root, 'idle.json');
}

export function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function writeJsonFileAtomic(file: string, data: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true }); // a full or read-only store: no half-written file left behind
    throw e;
  }
}
