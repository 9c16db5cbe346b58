// The embedded store: one JSON file per object in a root-only directory, like systemd-logind's /run/systemd/sessions.
// Writes are atomic (temp file, then rename), updates are compare-and-swap on resourceVersion under a short
// per-object lock file, and a file that fails to parse is quarantined, never fatal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { iso, realClock, realRandom, type Clock, type Random } from '../lib/clock.ts';
import { isSameProcessAlive, processStartTime } from '../lib/proc.ts';
import type { ObjectMeta } from '../api/meta.ts';

export interface StoredObject {
  metadata: ObjectMeta;
}

export type NewObject<T extends StoredObject> = Omit<T, 'metadata'> & {
  metadata: Pick<ObjectMeta, 'name'> & Partial<ObjectMeta>;
};

/** How stored JSON becomes a typed object: zod in doshd and doshctl; a lighter check in the helper (see codec.ts). */
export interface Codec<T> {
  decode(data: unknown): { ok: true; value: T } | { ok: false; error: string };
}

export interface StoreOptions {
  clock?: Clock;
  random?: Random;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** How long to wait for another writer's lock before calling it a conflict. */
  lockWaitMs?: number;
  /**
   * fsync each object before it is renamed into place (default false). The store is runtime state, as logind's
   * /run/systemd/sessions is: no process crash can tear an object (rename is atomic either way), and what an OS crash
   * could tear on a disk-backed /run describes logins that ended with it (a torn file is quarantined when read). On a
   * disk, an fsync per write was a third of doshd's time in a login flood (BENCHMARKS.md).
   */
  fsync?: boolean;
}

const LOCK_SPIN = new Int32Array(new SharedArrayBuffer(4));

export class DirStore<T extends StoredObject> {
  readonly dir: string;
  private readonly quarantineDir: string;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly log: NonNullable<StoreOptions['log']>;
  private readonly lockWaitMs: number;
  private readonly fsync: boolean;

  constructor(
    root: string,
    readonly resource: string,
    private readonly codec: Codec<T>,
    opts: StoreOptions = {},
  ) {
    this.dir = path.join(root, resource);
    this.quarantineDir = path.join(root, 'quarantine');
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? realRandom;
    this.log = opts.log ?? (() => {});
    this.lockWaitMs = opts.lockWaitMs ?? 2000;
    this.fsync = opts.fsync ?? false;
  }

  /** Creates the directories root-only; refuses a store that another user could write into. */
  init(): void {
    for (const d of [path.dirname(this.dir), this.dir, this.quarantineDir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      const st = fs.lstatSync(d);
      if (!st.isDirectory()) throw new Error(`store path ${d} is not a directory`);
      if (process.getuid?.() === 0 && st.uid !== 0) throw new Error(`store directory ${d} is not owned by root`);
      if (st.mode & 0o022) fs.chmodSync(d, st.mode & ~0o022 & 0o7777);
    }
  }

  private file(name: string): string {
    if (!isObjectName(name)) throw new NotFoundError(`invalid name ${JSON.stringify(name)}`);
    return path.join(this.dir, `${name}.json`);
  }

  get(name: string): T | undefined {
    const file = this.file(name);
    let text: string;
    try {
      text = readObjectFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'EISDIR') {
        this.quarantine(file, 'a directory where an object file belongs');
        return undefined;
      }
      if (code === 'ENOTREG') {
        this.quarantine(file, 'not a regular file (a FIFO, socket or device) where an object file belongs');
        return undefined;
      }
      throw e;
    }
    return this.parse(file, text);
  }

  list(): T[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: T[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || n.startsWith('.')) continue;
      const name = n.slice(0, -5);
      if (!isObjectName(name)) {
        this.quarantine(path.join(this.dir, n), 'not a valid object name');
        continue;
      }
      const obj = this.get(name);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** Writes a new object; ConflictError when the name is taken. */
  create(obj: NewObject<T>): T {
    const now = iso(this.clock.now());
    const full = {
      ...obj,
      metadata: {
        labels: {},
        annotations: {},
        generation: 1,
        ...obj.metadata,
        uid: this.uuid(),
        creationTimestamp: now,
        resourceVersion: '1',
      },
    } as unknown as T;
    const valid = this.validate(full);
    const file = this.file(valid.metadata.name);
    const tmp = this.writeTemp(valid);
    try {
      fs.linkSync(tmp, file); // link fails with EEXIST where rename would silently replace
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ConflictError(`${this.resource} ${valid.metadata.name} already exists`);
      throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return valid;
  }

  /** Replaces the object if its resourceVersion still matches; returns the stored result. */
  update(obj: T): T {
    const name = obj.metadata.name;
    return this.withLock(name, () => {
      const cur = this.get(name);
      if (!cur) throw new NotFoundError(`${this.resource} ${name} not found`);
      if (cur.metadata.resourceVersion !== obj.metadata.resourceVersion) {
        throw new ConflictError(`${this.resource} ${name} was modified (resourceVersion ${cur.metadata.resourceVersion}, not ${obj.metadata.resourceVersion})`);
      }
      const next = this.validate({
        ...obj,
        metadata: { ...obj.metadata, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp, resourceVersion: String(Number(cur.metadata.resourceVersion) + 1) },
      } as T);
      const tmp = this.writeTemp(next);
      fs.renameSync(tmp, this.file(name));
      return next;
    });
  }

  /** Read-modify-write with retries on conflict: for writers whose change does not depend on what others wrote. */
  mutate(name: string, fn: (cur: T) => T | undefined, attempts = 20): T | undefined {
    for (let i = 0; ; i++) {
      const cur = this.get(name);
      if (!cur) throw new NotFoundError(`${this.resource} ${name} not found`);
      const next = fn(cur);
      if (!next) return cur;
      try {
        return this.update(next);
      } catch (e) {
        if (!(e instanceof ConflictError) || i >= attempts) throw e;
      }
    }
  }

  delete(name: string): boolean {
    return this.withLock(name, () => {
      try {
        fs.unlinkSync(this.file(name));
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
    });
  }

  /** Calls back with the object name on every change; the caller re-reads (level-triggered). */
  watch(onChange: (name: string) => void): () => void {
    const w = fs.watch(this.dir, (_event, filename) => {
      const f = filename?.toString();
      if (f && f.endsWith('.json') && isObjectName(f.slice(0, -5))) onChange(f.slice(0, -5));
    });
    w.on('error', (e) => this.log('store watch failed', { error: String(e) }));
    return () => w.close();
  }

  /** Removes temp and lock files that a killed writer left behind. */
  sweep(maxAgeMs: number): number {
    let n = 0;
    for (const f of safeReaddir(this.dir)) {
      if (!f.startsWith('.')) continue;
      const p = path.join(this.dir, f);
      try {
        const st = fs.statSync(p);
        if (this.clock.now() - st.mtimeMs > maxAgeMs) {
          fs.rmSync(p, { force: true });
          n++;
        }
      } catch {
        // Raced with its owner finishing.
      }
    }
    return n;
  }

  private parse(file: string, text: string): T | undefined {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      this.quarantine(file, `not valid JSON: ${(e as Error).message}`);
      return undefined;
    }
    const r = this.codec.decode(data);
    if (!r.ok) {
      this.quarantine(file, r.error);
      return undefined;
    }
    return r.value;
  }

  private quarantine(file: string, why: string): void {
    const dest = path.join(this.quarantineDir, `${path.basename(file)}.${this.clock.now()}`);
    try {
      fs.renameSync(file, dest);
      this.log('quarantined a corrupt store object', { file, quarantinedTo: dest, reason: why });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log('could not quarantine a corrupt store object', { file, reason: why, error: String(e) });
    }
  }

  private validate(obj: T): T {
    const r = this.codec.decode(obj);
    if (!r.ok) throw new Error(`invalid ${this.resource} object: ${r.error}`);
    return r.value;
  }

  private writeTemp(obj: T): string {
    const tmp = path.join(this.dir, `.tmp-${obj.metadata.name}-${this.random(6)}`);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(obj));
      if (this.fsync) fs.fsyncSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    fs.closeSync(fd);
    return tmp;
  }

  private withLock<R>(name: string, fn: () => R): R {
    const lock = path.join(this.dir, `.lock-${name}`);
    const deadline = this.clock.now() + this.lockWaitMs;
    while (!this.tryLock(lock, `${process.pid} ${processStartTime(process.pid) ?? ''}`)) {
      if (this.breakStaleLock(lock)) continue;
      if (this.clock.now() > deadline) throw new ConflictError(`${this.resource} ${name} is locked by another writer`);
      Atomics.wait(LOCK_SPIN, 0, 0, 1);
    }
    try {
      return fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  /** Creates the lock file with its owner in it, or returns false if it exists; never leaves a half-made lock. */
  private tryLock(lock: string, owner: string): boolean {
    let fd: number;
    try {
      fd = fs.openSync(lock, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      fs.writeSync(fd, owner);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true }); // e.g. ENOSPC: an empty lock would block the object for its expiry time
      throw e;
    }
    fs.closeSync(fd);
    return true;
  }

  /**
   * A lock whose writer died (kill -9 mid-update) would block the object forever; its owner's identity says so.
   * Judging and removing are two steps, so breakers take turns under a second lock and re-read the owner before
   * removing: otherwise one could remove the fresh lock another waiter took meanwhile, and both would write.
   */
  private breakStaleLock(lock: string): boolean {
    const breaker = `${lock}.break`;
    if (!this.tryLock(breaker, String(process.pid))) {
      // A breaker killed inside this tiny section would otherwise block breaking forever.
      try {
        if (this.clock.now() - fs.statSync(breaker).mtimeMs > 2000) fs.rmSync(breaker, { force: true });
      } catch {
        // gone meanwhile
      }
      return false;
    }
    try {
      if (!this.lockIsStale(lock)) return false;
      fs.rmSync(lock, { force: true });
      return true;
    } finally {
      fs.rmSync(breaker, { force: true });
    }
  }

  private lockIsStale(lock: string): boolean {
    let owner: string;
    try {
      owner = fs.readFileSync(lock, 'utf8');
    } catch {
      return false; // released meanwhile: just try to take it again
    }
    const [pid, start] = owner.split(' ');
    if (!pid || !start) {
      // Either still being written by its owner, or its owner died between open and write.
      try {
        return this.clock.now() - fs.statSync(lock).mtimeMs >= 5000;
      } catch {
        return false;
      }
    }
    return !isSameProcessAlive(Number(pid), start);
  }

  private uuid(): string {
    const h = this.random(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

/**
 * Reads an object file. Opened non-blocking and checked before reading: a FIFO named like an object would otherwise
 * block the reader (doshd's whole event loop) in open(), and a symlink to a device like /dev/zero would be read forever.
 */
function readObjectFile(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${file}'`), { code: 'EISDIR' });
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOTREG' });
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function isObjectName(name: string): boolean {
  return name.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name);
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
