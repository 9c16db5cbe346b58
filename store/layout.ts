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

export function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function writeJsonFileAtomic(file: string, data: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
  fs.renameSync(tmp, file);
}
