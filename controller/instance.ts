// One doshd per store: doshd records its pid and process start time in the store (doshd.json), and a second doshd
// started on the same store finds the first alive (pid and start time, so a reused pid does not count) and refuses
// to start. The record also tells doshctl and the login path whether doshd runs.
import { isSameProcessAlive, processStartTime } from '../lib/proc.ts';
import { controllerFile, readJsonFile, writeJsonFileAtomic, type ControllerRecord } from '../store/layout.ts';

/** The doshd other than this process that runs on the store, if any. */
export function otherInstance(store: string): ControllerRecord | undefined {
  const other = readJsonFile<ControllerRecord>(controllerFile(store));
  return other && other.pid !== process.pid && isSameProcessAlive(other.pid, other.startTime) ? other : undefined;
}

/** Records this process as the store's doshd. */
export function recordInstance(store: string, node: string, version: string, now: Date): void {
  const record: ControllerRecord = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', node, version, startedAt: now.toISOString() };
  writeJsonFileAtomic(controllerFile(store), record);
}
