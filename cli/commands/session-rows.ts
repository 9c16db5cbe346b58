// The columns of a session in `get sessions`, shared by the list and its --watch lines.
import { CliError } from '../context.ts';
import { age } from '../format.ts';
import type { Session } from '../../api/session.ts';

export const SESSION_HEAD = ['NAME', 'USER', 'PHASE', 'MODE', 'TTY', 'CONTAINER', 'AGE'];
export const SESSION_HEAD_WIDE = ['NODE', 'IMAGE', 'RELAY-PID', 'EXIT', 'REASON'];

export function sessionRow(s: Session, wide: boolean, now: number): string[] {
  const r = [s.metadata.name, s.spec.user, s.status.phase, s.spec.mode, s.spec.tty ? 'yes' : 'no', s.status.container?.name ?? '<none>', age(s.metadata.creationTimestamp, now)];
  if (wide) r.push(s.spec.node, s.status.container?.image ?? '<none>', String(s.spec.relay.pid), s.status.exitCode === undefined ? '' : String(s.status.exitCode), s.status.reason ?? '');
  return r;
}

export function checkOutput(o: string): void {
  if (o !== '' && o !== 'wide' && o !== 'json' && o !== 'yaml' && o !== 'name') throw new CliError(`-o ${o}: expected wide, json, yaml or name`, 2);
}
