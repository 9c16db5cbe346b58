// What doshd does when a login's relay reports something: the relay carries bytes and decides nothing, so the
// session's facts (Running, the first byte, the exit status, a hang-up) are recorded here, in the store, by doshd.
import type { EndReason } from '../../api/reasons.ts';
import { iso, type Clock } from '../../lib/clock.ts';
import { NotFoundError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { isSameProcessAlive, processStartTime, type ProcFs } from '../../lib/proc.ts';
import { isLive, LIVE_PHASES, type Session, type SessionStatus } from '../../api/session.ts';
import type { DirStore } from '../../store/dirstore.ts';
import type { Engine } from '../../engine/docker.ts';
import type { RelayEvents } from './links.ts';
import type { EventSink } from '../events.ts';

export type ExecEnginePort = Pick<Engine, 'inspectExec' | 'resizeExec' | 'inspectContainer'>;

export interface RelayEventsDeps {
  store: DirStore<Session>;
  engine: ExecEnginePort;
  proc: ProcFs;
  clock: Clock;
  log: Logger;
  /** Gives a login's exec its own cgroup (lib/cgroup.ts); undefined where the host cannot. */
  cgroups: { enclose(session: string, exec: { pid: number; start: string }, init: { pid: number }): string | undefined };
  /** Where a stopped recording is told (a Warning event on the session). */
  events?: EventSink;
  /** For a pod login cut short: why, as the cluster says (controller/pods/pod-backend.ts); none without the backend. */
  pods?: { why(pod: { namespace: string; name: string }): Promise<string | undefined> };
  /** Ends a live session with a reason and hangs up its processes (the controller's endSessionNamed). */
  end(name: string, reason: EndReason | 'EngineRefused', message: string): Promise<void>;
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 13: 'SIGPIPE', 15: 'SIGTERM' };

export class SessionRelayEvents implements RelayEvents {
  constructor(private readonly d: RelayEventsDeps) {}

  started(name: string, size: { rows: number; cols: number } | undefined): void {
    void this.recordRunning(name, size).catch((e) => this.d.log.warn('could not record a session start', { session: name, error: String(e) }));
  }

  resize(name: string, rows: number, cols: number): void {
    const execId = this.d.store.get(name)?.status.execId;
    if (execId) this.d.engine.resizeExec(execId, rows, cols).catch((e) => this.d.log.debug('resize failed', { session: name, error: String(e) }));
  }

  signal(name: string, signal: number): void {
    // Only what a terminal's keys would send; a hang-up is its own message.
    const sig = signal === 2 ? 'SIGINT' : signal === 3 ? 'SIGQUIT' : undefined;
    const st = this.d.store.get(name)?.status;
    if (sig && st?.execPid && st.execPidStartTime && isSameProcessAlive(st.execPid, st.execPidStartTime, this.d.proc)) this.d.proc.kill(st.execPid, sig);
  }

  firstByte(name: string): void {
    this.record(name, (st) => (st.firstByteAt ? undefined : { ...st, firstByteAt: iso(this.d.clock.now()) }));
  }

  async streamEnded(name: string, bytes: { in: bigint; out: bigint }, relayExecId: string | undefined): Promise<{ code: number; message?: string }> {
    const s = this.d.store.get(name);
    // The session's own exec; the relay's word for it only when the object is gone (the store wiped under a login).
    const execId = s?.status.execId ?? relayExecId;
    if (!execId) return { code: 255, message: 'the exit status of the command is unknown: the session was removed before it ended' };
    let code: number;
    let message: string | undefined;
    try {
      const c = await this.exitCode(execId);
      code = c?.exitCode ?? 255;
      if (c === undefined) message = 'the container did not report the exit status of the command';
      // 126 from an exec that never had a process: the runtime failed to start it (the engine wrote its own error
      // into her stream, "OCI runtime exec failed: ..."), not her command; she is told it is worth another try.
      else if (c.exitCode === 126 && c.pid === 0) message = 'the login did not start in its container: the container runtime failed to start its process (its message is above); log in again';
    } catch (e) {
      code = 255;
      // A pod login's stream was carried by a doshd that is gone (restarted, upgraded): the exec went with it.
      if (s?.status.container?.pod) message = 'the session was cut: doshd, which carried it to her pod, restarted; log in again';
      // The stream ended because the engine went away (stopped, restarted): the container's processes are gone.
      else message = `the session was cut: the Docker engine stopped or restarted (${(e as Error).message})`;
    }
    const now = this.d.store.get(name) ?? s;
    if (now && !isLive(now)) message ??= now.status.message;
    // Killed, or never ended in its own words (126: the exec's end carried no status): her pod may be gone.
    else if (code > 125 && s?.status.container?.pod && this.d.pods) message = (await this.d.pods.why(s.status.container.pod)) ?? message;
    else if (message === undefined && code > 128 && s?.status.container && !s.status.container.pod && !(await this.containerRunning(s.status.container.id))) {
      message = 'the session was cut: its container stopped (the Docker engine stopped or restarted, or an administrator stopped it)';
    }
    const counts = { bytesIn: Number(bytes.in), bytesOut: Number(bytes.out) };
    this.record(name, (st) =>
      LIVE_PHASES.includes(st.phase)
        ? { ...st, ...counts, phase: code === 0 ? 'Succeeded' : 'Failed', reason: 'Exited', message: `exited with status ${code}`, exitCode: code, endedAt: iso(this.d.clock.now()) }
        : { ...st, ...counts, exitCode: st.exitCode ?? code },
    );
    return { code, message };
  }

  hangUp(name: string, signal: number): void {
    this.end(name, 'ClientGone', `the client went away (${SIGNALS[signal] ?? `signal ${signal}`})`);
  }

  startFailed(name: string, message: string): void {
    this.end(name, 'EngineRefused', message);
  }

  recordingStopped(name: string, message: string, recorded: bigint): void {
    this.d.log.warn('a session recording stopped; the login goes on', { session: name, why: message, bytes: Number(recorded) });
    this.d.events?.record({ kind: 'Session', name }, 'Warning', 'RecordingStopped', `${message} (after ${recorded} bytes); the session goes on unrecorded`);
    this.record(name, (st) => (st.recording && !st.recording.stopped ? { ...st, recording: { ...st.recording, stopped: message } } : undefined));
  }

  lost(name: string, why: string): void {
    this.end(name, 'RelayGone', `the login program (dosh) went away without ending the session: ${why}`);
  }

  /** Never throws: a store that cannot take the end now (full, read-only) leaves it to the next sync. */
  private end(name: string, reason: EndReason | 'EngineRefused', message: string): void {
    this.d.end(name, reason, message).catch((e) => this.d.log.warn('could not end a session', { session: name, reason, error: String(e) }));
  }

  private async recordRunning(name: string, size: { rows: number; cols: number } | undefined): Promise<void> {
    const s = this.d.store.get(name);
    if (!s?.status.execId) return;
    // At once: the engine holds a resize until the exec has started, and her shell's first prompt needs the size.
    if (s.spec.tty && size) this.resize(name, size.rows, size.cols);
    // The engine answers the start before the process exists; its host pid is what doshd signals and hangs up.
    const proc = await this.execProcess(s.status.execId);
    const cgroup = proc && s.status.container ? await this.enclose(name, proc, s.status.container.id) : undefined;
    this.record(name, (st) =>
      st.phase === 'Ready' ? { ...st, phase: 'Running', execPid: proc?.pid, execPidStartTime: proc?.start, cgroup, startedAt: iso(this.d.clock.now()) } : undefined,
    );
  }

  private async enclose(name: string, exec: { pid: number; start: string }, container: string): Promise<string | undefined> {
    try {
      const init = await this.d.engine.inspectContainer(container);
      return this.d.cgroups.enclose(name, exec, { pid: init.pid });
    } catch (e) {
      // The login runs on; only an administrator's end of it would miss what escaped its process tree.
      this.d.log.warn('could not give the login its own cgroup', { session: name, error: String(e) });
      return undefined;
    }
  }

  private async execProcess(execId: string): Promise<{ pid: number; start: string } | undefined> {
    for (let i = 0; i < 400; i++) {
      const s = await this.d.engine.inspectExec(execId).catch(() => undefined);
      if (!s) return undefined;
      // An exec with no process on this host (a pod's): nothing to signal or enclose here.
      if (s.pid < 0) return undefined;
      if (s.pid > 0) {
        const start = processStartTime(s.pid, this.d.proc);
        return start ? { pid: s.pid, start } : undefined;
      }
      if (!s.running && s.exitCode !== null) return undefined;
      await this.d.clock.sleep(5);
    }
    return undefined;
  }

  /** The exec's exit code and host pid (0: it never had a process); undefined when the engine has not recorded it after a while; throws when the engine cannot be asked. */
  private async exitCode(execId: string): Promise<{ exitCode: number; pid: number } | undefined> {
    // The stream closes a moment before the engine records the exit code.
    for (let i = 0; i < 1000; i++) {
      const s = await this.d.engine.inspectExec(execId);
      if (!s.running && s.exitCode !== null) return { exitCode: s.exitCode, pid: s.pid };
      await this.d.clock.sleep(2);
    }
    return undefined;
  }

  private async containerRunning(id: string): Promise<boolean> {
    // The engine may still be stopping the container when the exec dies first: watch it for a moment.
    for (let i = 0; i < 10; i++) {
      if (!(await this.d.engine.inspectContainer(id).then((c) => c.running, () => false))) return false;
      await this.d.clock.sleep(100);
    }
    return true;
  }

  private record(name: string, change: (st: SessionStatus) => SessionStatus | undefined): void {
    try {
      this.d.store.mutate(name, (cur) => {
        const st = change(cur.status);
        return st ? { ...cur, status: st } : undefined;
      });
    } catch (e) {
      if (!(e instanceof NotFoundError)) this.d.log.warn('could not record a session fact', { session: name, error: String(e) });
    }
  }
}
