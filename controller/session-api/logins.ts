// A login request becomes a Session object, admitted at once: doshd writes the object (the source of truth doshctl,
// metrics, events and the Kubernetes mirror see), enqueues it and answers the relay as soon as syncSession has
// admitted or refused it, with no watch round trip. What a request can cost is bounded before anything is written:
// a request that is malformed, from an unknown uid, too large, or over its user's rate is refused without an object.
import { API_VERSION, SESSION_KIND } from '../../api/constants.ts';
import { Msg } from '../../api/relay-protocol.ts';
import type { FrameReader } from '../../api/relay-wire.ts';
import { isLive, type Session } from '../../api/session.ts';
import type { Clock, Random } from '../../lib/clock.ts';
import { RefusedError } from '../../lib/errors.ts';
import type { RefusalReason } from '../../api/reasons.ts';
import { userRef, type EventSink } from '../events.ts';
import type { Logger } from '../../lib/log.ts';
import type { UserDirectory } from '../../lib/users.ts';
import type { DirStore } from '../../store/dirstore.ts';
import type { RelayConnection } from './connection.ts';
import type { RelayLinks } from './links.ts';
import { BadRequest, readLoginRequest, type LoginRequest, type RelayProcess } from './login-request.ts';
import { auditedCommand, type AuditRecord, type AuditSink } from '../audit-log.ts';
import { sessionRef } from '../events.ts';
import type { Recordings } from '../recordings.ts';

export interface Admission {
  enqueueSession(name: string): void;
  /** The session once it is no longer Pending (undefined when it was deleted meanwhile); rejects when its sync failed. */
  settled(name: string): Promise<Session | undefined>;
  /** Ends a live session (the controller's endSessionNamed). */
  endSessionNamed(name: string, reason: 'NotAdmitted', message: string): Promise<void>;
}

/** Checks made before a login writes anything; each throws RefusedError. */
export interface LoginGate {
  /** The per-user login rate; the reason is RateLimited. */
  charge(user: string): void;
  /** Bounds on what the login's object may add to the store. */
  fits(user: string, req: LoginRequest): void;
  /** The login's object was written, holding this many bytes of arguments. */
  add(name: string, user: string, bytes: number): void;
}

export interface LoginDeps {
  store: DirStore<Session>;
  users: UserDirectory;
  proc: RelayProcess;
  links: RelayLinks;
  admission: Admission;
  gate: LoginGate;
  clock: Clock;
  random: Random;
  log: Logger;
  events: EventSink;
  /** Counts a refusal made here, by reason (dosh_logins_refused_total). */
  refused: (reason: RefusalReason) => void;
  /** Where those refusals are audited (no Session object records them). */
  audit?: AuditSink;
  /** Makes a recording's file when its login is answered (RECORDSESSIONS). */
  recordings?: Pick<Recordings, 'create'>;
  node: string;
  engineSocket: string;
  /** Where a pod login's exec is started (controller/pods/exec-bridge.ts), when doshd serves the kubernetes backend. */
  podSocket?: string;
  relaySocket: (session: string) => string;
}

export class LoginService {
  constructor(private readonly d: LoginDeps) {}

  /** Serves one login request on its connection; never throws. */
  login(conn: RelayConnection, frame: FrameReader): void {
    this.serve(conn, frame).catch((e) => {
      this.d.log.error('login request failed', { error: String(e) });
      conn.end(Msg.Refuse, { Message: `login failed: ${(e as Error).message}`, ExitCode: 1 });
    });
  }

  private async serve(conn: RelayConnection, frame: FrameReader): Promise<void> {
    let req: LoginRequest;
    try {
      req = readLoginRequest(frame, this.d.proc);
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      // The uid as the relay reported it (its getuid()): unchecked, since the request was not usable.
      this.refuse(conn, 'BadRequest', e.message, e.code, { uid: safeU32(frame, 'Uid') });
      return;
    }
    const who: Partial<AuditRecord> = { uid: req.uid, sshClient: req.sshClient, command: auditedCommand(req.invocation.command), tty: req.tty, mode: req.invocation.mode };
    const user = await this.d.users.lookup(req.uid).catch((e: unknown) => (e instanceof RefusedError ? e : Promise.reject(e)));
    if (user instanceof RefusedError) return this.refuse(conn, user.reason, user.message, 1, who);
    if (!user || user.uid !== req.uid) return this.refuse(conn, 'UnknownUser', `uid ${req.uid} is not known to this host`, 1, who);
    who.user = user.name;
    // Asked again after a doshd restart cut its first request short: the session that request made is this login's.
    const adopted = req.attempt > 1 ? this.adoptable(req) : undefined;
    if (adopted) {
      this.d.log.info('a login asked again after a doshd restart: its session is taken up', { session: adopted.metadata.name, user: user.name });
      return this.admitAndAnswer(conn, adopted, req);
    }
    try {
      this.d.gate.fits(user.name, req);
      this.d.gate.charge(user.name);
    } catch (e) {
      if (!(e instanceof RefusedError)) throw e;
      this.refuse(conn, e.reason, e.message, 1, who);
      // One event on the user for what no session object records; the rate's message is the same every time, so a
      // flood aggregates into one event with a count.
      const message = e.reason === 'RateLimited' ? `logins of ${user.name} refused: started faster than this host allows` : e.message;
      this.d.events.record(userRef(user.name), 'Warning', e.reason === 'RateLimited' ? 'RateLimited' : 'Refused', message);
      return;
    }
    const s = this.create(user.name, user.gid, req, this.d.proc.runs(req.relay.pid, user.shell));
    this.d.gate.add(s.metadata.name, user.name, req.storedArgBytes);
    return this.admitAndAnswer(conn, s, req);
  }

  /** A live session made for this very relay process that it never started: what an interrupted request left. */
  private adoptable(req: LoginRequest): Session | undefined {
    return this.d.store.list().find((o) => isLive(o) && !o.status.startedAt && o.spec.uid === req.uid && o.spec.relay.pid === req.relay.pid && o.spec.relay.startTime === req.relay.startTime);
  }

  private async admitAndAnswer(conn: RelayConnection, s: Session, req: LoginRequest): Promise<void> {
    const name = s.metadata.name;
    // Attached before the first sync: a Pending session without its relay's connection is one doshd lost.
    this.d.links.attach(name, conn, req.size);
    this.d.admission.enqueueSession(name);
    let done: Session | undefined;
    try {
      done = await this.d.admission.settled(name);
    } catch (e) {
      // Its sync failed for good (a full or read-only store): she is told now, not at her login's timeout.
      const message = `login failed: ${(e as Error).message}`;
      this.d.links.release(name);
      conn.end(Msg.Refuse, { Message: message, ExitCode: 1 });
      this.d.admission.endSessionNamed(name, 'NotAdmitted', message).catch((err) => this.d.log.warn('could not end a session', { session: name, error: String(err) }));
      return;
    }
    if (conn.isClosed) return; // the relay gave up (its user pressed ^C, or its timeout): the link ends the session
    const st = done?.status;
    if (st?.phase === 'Ready' && st.execId) {
      if (st.notice) conn.send(Msg.Notice, { Message: st.notice });
      const recording = st.recording && !st.recording.stopped && this.startRecording(done!, req) ? st.recording : undefined;
      conn.send(Msg.Admit, {
        Session: name,
        ExecId: st.execId,
        EngineSocket: st.container?.pod && this.d.podSocket ? this.d.podSocket : this.d.engineSocket,
        RelaySocket: this.d.relaySocket(name),
        Tty: s.spec.tty ? 1 : 0,
        AgentSocket: st.agentSocket,
        Recording: recording?.file,
        RecordLimit: recording ? BigInt(recording.limit) : undefined,
      });
    } else {
      conn.end(Msg.Refuse, { Message: st?.message ?? 'the session was removed before it started', ExitCode: 1 });
    }
  }

  /** The recording's file, with its header; false when it cannot be made (a full disk): recorded, and the login goes on. */
  private startRecording(s: Session, req: LoginRequest): boolean {
    if (!this.d.recordings || !s.status.recording) return false;
    try {
      this.d.recordings.create(s.status.recording.file, s, req.size);
      return true;
    } catch (e) {
      const why = `the recording could not be made: ${(e as Error).message}`;
      this.d.events.record(sessionRef(s), 'Warning', 'RecordingStopped', why);
      try {
        this.d.store.mutate(s.metadata.name, (cur) => (cur.status.recording ? { ...cur, status: { ...cur.status, recording: { ...cur.status.recording, stopped: why } } } : undefined));
      } catch {
        // the event says it; the status is only a convenience
      }
      return false;
    }
  }

  private create(user: string, gid: number, req: LoginRequest, loginShell: boolean): Session {
    const slug = user.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'user';
    const inv = req.invocation;
    return this.d.store.create({
      apiVersion: API_VERSION,
      kind: SESSION_KIND,
      metadata: { name: `${slug}-${this.d.random(5)}`, labels: { 'dosh.io/user': slug, 'dosh.io/node': this.d.node } },
      spec: {
        user,
        uid: req.uid,
        gid,
        node: this.d.node,
        mode: inv.mode,
        login: inv.login,
        command: inv.command,
        args: inv.args,
        tty: req.tty,
        term: req.term,
        lang: req.lang,
        relay: req.relay,
        loginShell,
        client: req.ssh ? 'ssh' : undefined,
        sshClient: req.sshClient,
        agent: req.agent || undefined,
        size: req.size,
      },
      status: { phase: 'Pending', conditions: [] },
    });
  }

  private refuse(conn: RelayConnection, reason: RefusalReason, message: string, code = 1, who: Partial<AuditRecord> = {}): void {
    this.d.refused(reason);
    this.d.log.warn('login refused', { reason, message });
    this.d.audit?.write({ event: 'refusal', ...who, reason, message });
    conn.end(Msg.Refuse, { Message: message, ExitCode: code });
  }
}

function safeU32(f: FrameReader, name: 'Uid'): number | undefined {
  try {
    return f.u32(name);
  } catch {
    return undefined;
  }
}
