// Kubernetes-style events for sessions and users' containers, written by doshd to the `events` store resource.
// Like kubelet's recorder: a repeat of the same event aggregates into a count, recording never fails the caller,
// and what is kept is bounded (a time to live, the newest N per object, and at most M in all: per-object bounds
// alone let a user with many short sessions fill the store, which would refuse everyone's logins).
import { API_VERSION } from '../api/constants.ts';
import { EVENT_KIND, type Event, type EventType, type InvolvedObject } from '../api/event.ts';
import type { EventReason } from '../api/reasons.ts';
import { iso, type Clock } from '../lib/clock.ts';
import { ConflictError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { DirStore } from '../store/dirstore.ts';
import type { Session } from '../api/session.ts';
import type { HookRun } from './hook-scripts.ts';

/** What the controller records events through (a recording fake in unit tests). */
export interface EventSink {
  /**
   * Never throws. With `once`, nothing is recorded if the object already has an event with this reason: false then
   * (true otherwise, also when the store could not take it: the moment happened, and the audit log records it).
   */
  record(object: InvolvedObject, type: EventType, reason: EventReason, message: string, opts?: { once?: boolean }): boolean;
  /** Deletes events past their time to live, and all but the newest per object; never throws. */
  sweep(now: number): void;
  /** Writes the repeats counted in memory but not yet stored; never throws. */
  flush(): void;
}

export interface EventRecorderOptions {
  store: DirStore<Event>;
  clock: Clock;
  log: Logger;
  host: string;
  ttlMs: number;
  /** The newest events kept per involved object (default 50). */
  maxPerObject?: number;
  /** A repeat within this window increments the count of the earlier event (default 10 minutes, like kubelet). */
  aggregateWindowMs?: number;
  /** The most events kept in all (default 10,000); past it the oldest go, whatever they are about. */
  maxTotal?: number;
  /** A repeat is written at most this often per event (default 1 s); the count in between is kept in memory. */
  flushIntervalMs?: number;
}

const MAX_MESSAGE = 1024;

export class EventRecorder implements EventSink {
  /** doshd is the only writer, so the store is read once and then kept in step here (re-read after an error). */
  private byObject?: Map<string, Event[]>;
  private total = 0;
  private seq = 0;
  private readonly maxPerObject: number;
  private readonly windowMs: number;
  private readonly maxTotal: number;
  private readonly flushMs: number;
  /** Repeats counted but not yet written, by event name; and when each event was last written. */
  private readonly dirty = new Map<string, Event>();
  private readonly writtenAt = new Map<string, number>();

  constructor(private readonly o: EventRecorderOptions) {
    this.maxPerObject = o.maxPerObject ?? 50;
    this.windowMs = o.aggregateWindowMs ?? 10 * 60_000;
    this.maxTotal = o.maxTotal ?? 10_000;
    this.flushMs = o.flushIntervalMs ?? 1000;
  }

  record(object: InvolvedObject, type: EventType, reason: EventReason, message: string, opts: { once?: boolean } = {}): boolean {
    try {
      return this.recordOrThrow(object, type, reason, truncate(message), opts.once ?? false);
    } catch (err) {
      // An event is worth less than the login it describes: a full or broken store must not fail the reconcile.
      this.forget();
      this.o.log.warn('could not record an event', { object: `${object.kind}/${object.name}`, reason, error: String(err) });
      return true;
    }
  }

  flush(): void {
    try {
      this.flushDirty(Infinity);
    } catch (err) {
      this.forget();
      this.o.log.warn('could not record an event', { error: String(err) });
    }
  }

  sweep(now: number): void {
    try {
      this.flushDirty(Infinity);
      const index = this.index();
      for (const [key, events] of index) {
        const kept: Event[] = [];
        for (const [i, e] of newestFirst(events).entries()) {
          if (now - Date.parse(e.lastTimestamp) > this.o.ttlMs || i >= this.maxPerObject) this.remove(e);
          else kept.push(e);
        }
        if (kept.length) index.set(key, kept);
        else index.delete(key);
      }
      this.o.store.sweep(60_000);
    } catch (err) {
      this.forget();
      this.o.log.warn('could not sweep events', { error: String(err) });
    }
  }

  private recordOrThrow(object: InvolvedObject, type: EventType, reason: string, message: string, once: boolean): boolean {
    const now = this.o.clock.now();
    const key = objectKey(object);
    const index = this.index();
    const mine = index.get(key) ?? [];
    if (once && mine.some((e) => e.reason === reason)) return false;
    const repeat = mine.find((e) => e.reason === reason && e.message === message && e.type === type && now - Date.parse(e.lastTimestamp) <= this.windowMs);
    if (repeat) {
      // A user refused many times a second (a login flood) must not cost a store write per refusal: the count is
      // kept here and written at most once a second per event, or by the next sweep.
      const next = { ...repeat, count: repeat.count + 1, lastTimestamp: iso(now) };
      index.set(key, mine.map((e) => (e === repeat ? next : e)));
      this.dirty.set(next.metadata.name, next);
      this.flushDirty(now);
      return true;
    }
    const created = this.create(object, type, reason, message, now);
    this.total++;
    const all = newestFirst([...mine, created]);
    for (const old of all.slice(this.maxPerObject)) this.remove(old);
    index.set(key, all.slice(0, this.maxPerObject));
    if (this.total > this.maxTotal) this.trim(Math.floor(this.maxTotal * 0.9));
    return true;
  }

  /** Writes the pending repeats of every event last written at least the flush interval before `now`. */
  private flushDirty(now: number): void {
    for (const [name, pending] of this.dirty) {
      if (now - (this.writtenAt.get(name) ?? -Infinity) < this.flushMs) continue;
      const stored = this.o.store.update(pending);
      this.dirty.delete(name);
      this.writtenAt.set(name, Number.isFinite(now) ? now : this.o.clock.now());
      const key = objectKey(stored.involvedObject);
      const events = this.byObject?.get(key);
      if (events) this.byObject!.set(key, events.map((e) => (e.metadata.name === name ? stored : e)));
    }
  }

  /** After a store error: re-read the store on the next call; counts not yet written are lost (they are only counts). */
  private forget(): void {
    this.byObject = undefined;
    this.dirty.clear();
    this.writtenAt.clear();
  }

  /** Deletes the oldest events, whatever they are about, down to `target` (a tenth under the cap: trimming is rare). */
  private trim(target: number): void {
    const index = this.index();
    const oldestFirst = newestFirst([...index.values()].flat()).reverse();
    const gone = new Set<string>();
    for (const e of oldestFirst.slice(0, Math.max(0, oldestFirst.length - target))) {
      this.remove(e);
      gone.add(e.metadata.name);
    }
    for (const [key, events] of index) {
      const kept = events.filter((e) => !gone.has(e.metadata.name));
      if (kept.length) index.set(key, kept);
      else index.delete(key);
    }
    this.o.log.warn('more events than --max-events: the oldest were deleted', { deleted: gone.size, kept: this.total });
  }

  private remove(e: Event): void {
    this.dirty.delete(e.metadata.name);
    this.writtenAt.delete(e.metadata.name);
    this.o.store.delete(e.metadata.name);
    this.total--;
  }

  private create(object: InvolvedObject, type: EventType, reason: string, message: string, now: number): Event {
    for (let attempt = 0; ; attempt++) {
      const name = `${object.kind.toLowerCase()}.${nameSafe(object.name)}.${now.toString(16)}${(this.seq++).toString(16).padStart(4, '0')}`;
      try {
        return this.o.store.create({
          apiVersion: API_VERSION,
          kind: EVENT_KIND,
          metadata: { name },
          involvedObject: object,
          type,
          reason,
          message,
          count: 1,
          firstTimestamp: iso(now),
          lastTimestamp: iso(now),
          source: { component: 'doshd', host: this.o.host },
        });
      } catch (e) {
        // A name left by an earlier doshd in the same millisecond: take the next sequence number.
        if (!(e instanceof ConflictError) || attempt >= 3) throw e;
      }
    }
  }

  private index(): Map<string, Event[]> {
    if (!this.byObject) {
      this.byObject = new Map();
      this.total = 0;
      for (const e of this.o.store.list()) {
        this.total++;
        const key = objectKey(e.involvedObject);
        this.byObject.set(key, [...(this.byObject.get(key) ?? []), e]);
      }
    }
    return this.byObject;
  }
}

function objectKey(o: InvolvedObject): string {
  return `${o.kind}/${o.name}`;
}

function newestFirst(events: Event[]): Event[] {
  return [...events].sort((a, b) => Date.parse(b.lastTimestamp) - Date.parse(a.lastTimestamp) || b.metadata.name.localeCompare(a.metadata.name));
}

/** A DNS-1123 fragment of an object's name (user names may hold characters object names cannot). */
function nameSafe(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 200);
  return s || 'x';
}

function truncate(message: string): string {
  return message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE - 1) + '…' : message;
}

export function sessionRef(s: Session): InvolvedObject {
  return { kind: 'Session', name: s.metadata.name };
}

export function userRef(name: string): InvolvedObject {
  return { kind: 'User', name };
}

export function endedMessage(s: Session): string {
  const st = s.status;
  if (st.exitCode !== undefined) return `session ended with exit code ${st.exitCode}${st.reason && st.reason !== 'Exited' ? ` (${st.reason})` : ''}`;
  return `session ended (${st.reason ?? st.phase})${st.message ? `: ${st.message}` : ''}`;
}

export function hookRunMessage(run: HookRun): string {
  const how = run.timedOut ? 'timed out' : run.signal ? `was killed by ${run.signal}` : `exited with status ${run.exitCode}`;
  return `${run.moment} hook ${run.script} ${how} after ${Math.round(run.durationMs)} ms`;
}
