// A fake /proc: processes with parents and start times, and a record of the signals sent.
import type { ProcFs } from '../../lib/proc.ts';

export class FakeProc implements ProcFs {
  procs = new Map<number, { ppid: number; start: string; state: string; session: number }>();
  signals: string[] = [];

  add(pid: number, start: string, ppid = 1, session = 0): void {
    this.procs.set(pid, { ppid, start, state: 'S', session });
  }

  readStat(pid: number): string | undefined {
    const p = this.procs.get(pid);
    if (!p) return undefined;
    const rest = Array.from({ length: 15 }, () => '0');
    return `${pid} (proc name) ${p.state} ${p.ppid} ${pid} ${p.session} ${rest.join(' ')} ${p.start} 0 0`;
  }

  listPids(): number[] {
    return [...this.procs.keys()];
  }

  kill(pid: number, signal: NodeJS.Signals): void {
    this.signals.push(`${signal} ${pid}`);
    if (signal === 'SIGKILL' || signal === 'SIGHUP') this.procs.delete(pid);
  }
}
