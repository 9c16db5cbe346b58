// `doshctl get sessions --watch`: the list, then one line per change, like `kubectl get -w`. The store is watched
// with fs.watch (DirStore.watch); events are only hints, so each one re-reads the object and prints it only when its
// resourceVersion moved. Column widths are fixed by the first table so that later lines stay aligned with it.
import type { CliContext } from '../context.ts';
import { CliError } from '../context.ts';
import type { Session } from '../../api/session.ts';
import type { DirStore } from '../../store/dirstore.ts';
import { render } from '../format.ts';
import { SESSION_HEAD, SESSION_HEAD_WIDE, sessionRow } from './session-rows.ts';

export function watchSessions(ctx: CliContext, store: DirStore<Session>, initial: Session[], o: string): Promise<number> {
  const name = ctx.args[0];
  const user = ctx.flags.user as string | undefined;
  const wide = o === 'wide';
  const head = [...SESSION_HEAD, ...(wide ? SESSION_HEAD_WIDE : [])];
  const widths = head.map((h) => h.length);
  const seen = new Map<string, { version: string; last: Session }>();

  const line = (s: Session, phase?: string): string => {
    if (o === 'json') return JSON.stringify(s) + '\n';
    if (o === 'yaml') return `---\n${render(s, 'yaml')}`;
    if (o === 'name') return `session/${s.metadata.name}\n`;
    const r = sessionRow(s, wide, ctx.now());
    if (phase) r[2] = phase;
    return fmt(r);
  };
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd() + '\n';
  const wanted = (s: Session) => (!name || s.metadata.name === name) && (!user || s.spec.user === user);

  for (const s of initial) {
    seen.set(s.metadata.name, { version: s.metadata.resourceVersion, last: s });
    if (o === '' || o === 'wide') sessionRow(s, wide, ctx.now()).forEach((c, i) => (widths[i] = Math.max(widths[i], c.length)));
  }
  if (o === '' || o === 'wide') ctx.out(fmt(head));
  for (const s of initial) ctx.out(line(s));

  const changed = (n: string) => {
    let cur: Session | undefined;
    try {
      cur = store.get(n);
    } catch {
      return; // a name that is not an object name, or the file vanished mid-read: the next event tells
    }
    const prev = seen.get(n);
    if (!cur) {
      if (prev) {
        seen.delete(n);
        if (wanted(prev.last)) ctx.out(line(prev.last, 'Deleted'));
      }
      return;
    }
    if (prev?.version === cur.metadata.resourceVersion) return;
    seen.set(n, { version: cur.metadata.resourceVersion, last: cur });
    if (wanted(cur)) ctx.out(line(cur));
  };

  return new Promise((resolve, reject) => {
    let stop: () => void;
    try {
      stop = store.watch(changed);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return reject(code === 'ENOENT' ? new CliError(`no session store at ${store.dir}: is doshd installed and has it run?`) : e);
    }
    const end = () => {
      stop();
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
      resolve(0);
    };
    process.on('SIGINT', end);
    process.on('SIGTERM', end);
  });
}
