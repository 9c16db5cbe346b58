// doshd records its pid, process start time, node and version in the store (doshd.json), which tells doshctl whether
// doshd runs. (That one doshd serves a store is the session API socket's business: session-api/server.ts.)
import { processStartTime } from '../lib/proc.ts';
import { controllerFile, writeJsonFileAtomic, type ControllerRecord } from '../store/layout.ts';

/** Records this process as the store's doshd. */
export function recordInstance(store: string, node: string, version: string, now: Date, paths: Pick<ControllerRecord, 'toolbox' | 'recordings' | 'auditLog'> = {}): void {
  const record: ControllerRecord = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', node, version, startedAt: now.toISOString(), ...paths };
  writeJsonFileAtomic(controllerFile(store), record);
}
