// List-then-watch of one resource into a cache, the way client-go's reflector does it, with the time limits that
// client-node's informer lacks: a list or a watch that gets no answer fails after a timeout instead of hanging, and a
// watch that goes silent (no event, no bookmark) past its server-side timeout is given up. "Synced" means a list
// succeeded and its items are in the cache; it is reported after that, never before (client-node's informer says
// "connect" before it lists). Pure logic: the list and watch requests and the timers are injected.
import type { KubeObject, WatchEvent } from './types.ts';

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

/** One line of a watch stream, as the API server sends it. */
export type WatchLine = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: KubeObject } | { type: 'ERROR'; object: { code?: number; message?: string } };

export interface OpenWatch {
  /** Resolves when the server ends the watch (its timeoutSeconds passed), rejects when the stream fails. */
  done: Promise<void>;
  abort(): void;
}

export interface Timers {
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export interface ReflectorDeps {
  /** One list request; rejects (with a typed error) on failure or timeout. */
  list(): Promise<ListResult>;
  /** Opens a watch from resourceVersion; resolves once the server answered, rejects on failure or timeout. */
  watch(resourceVersion: string, onLine: (line: WatchLine) => void): Promise<OpenWatch>;
  timers: Timers;
  backoff: { baseMs: number; maxMs: number };
  /** A watch with no line for this long is given up (the server ends watches sooner: see client.ts). */
  idleMs: number;
  onEvent(type: WatchEvent, obj: KubeObject): void;
  /** A list succeeded and the cache holds it: a moment to resync. */
  onSynced(): void;
  /** The list or watch failed; it starts again (with a fresh list) after retryInMs. */
  onError(err: Error, retryInMs: number): void;
}

/** The server said the resourceVersion is too old (410 Gone): list again, at once. */
class Expired extends Error {}

const key = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Reflector {
  private readonly cache = new Map<string, KubeObject>();
  private stopped = false;
  private current?: OpenWatch;
  private sleeping?: { wake(): void };

  constructor(private readonly d: ReflectorDeps) {}

  get(name: string, namespace?: string): KubeObject | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  list(): KubeObject[] {
    return [...this.cache.values()];
  }

  /** Runs until stop(): list, watch until the watch ends, watch again from where it was; list again after a failure. */
  async run(): Promise<void> {
    let failures = 0;
    let rv = '';
    while (!this.stopped) {
      try {
        if (!rv) {
          const listed = await this.d.list();
          if (this.stopped) return;
          this.replace(listed.items);
          rv = listed.resourceVersion;
          failures = 0;
          this.d.onSynced();
        }
        rv = await this.watchOnce(rv);
      } catch (e) {
        if (this.stopped) return;
        rv = '';
        if (e instanceof Expired) continue;
        const delay = Math.min(this.d.backoff.maxMs, this.d.backoff.baseMs * 2 ** failures++);
        this.d.onError(e as Error, delay);
        await this.sleep(delay);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.abort();
    this.sleeping?.wake();
  }

  /** Watches from rv until the server ends the watch; returns the last resourceVersion seen. */
  private async watchOnce(rv: string): Promise<string> {
    let last = rv;
    let idle: { cancel(): void } | undefined;
    let failed: Error | undefined;
    let w: OpenWatch | undefined;
    const armIdle = () => {
      idle?.cancel();
      idle = this.d.timers.setTimer(() => {
        failed = new Error(`the watch sent nothing for ${Math.round(this.d.idleMs / 1000)}s`);
        w?.abort();
      }, this.d.idleMs);
    };
    const onLine = (line: WatchLine) => {
      armIdle();
      if (line.type === 'ERROR') {
        // 410 Gone: the resourceVersion is too old; anything else ends this watch as a failure.
        failed = line.object.code === 410 ? new Expired() : new Error(`watch error ${line.object.code ?? ''}: ${line.object.message ?? ''}`);
        w?.abort();
        return;
      }
      const obj = line.object;
      if (obj.metadata?.resourceVersion) last = obj.metadata.resourceVersion;
      if (line.type === 'BOOKMARK') return;
      if (line.type === 'DELETED') {
        this.cache.delete(key(obj));
        this.d.onEvent('delete', obj);
      } else {
        const had = this.cache.has(key(obj));
        this.cache.set(key(obj), obj);
        this.d.onEvent(had ? 'update' : 'add', obj);
      }
    };
    try {
      w = await this.d.watch(rv, onLine);
      this.current = w;
      if (this.stopped) w.abort();
      armIdle();
      await w.done;
    } catch (e) {
      throw failed ?? e;
    } finally {
      idle?.cancel();
      this.current = undefined;
    }
    if (failed) throw failed;
    return last;
  }

  /** The cache becomes the list; what changed is reported as events. */
  private replace(items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const k = key(obj);
      seen.add(k);
      const had = this.cache.get(k);
      this.cache.set(k, obj);
      if (!had) this.d.onEvent('add', obj);
      else if (had.metadata.resourceVersion !== obj.metadata.resourceVersion) this.d.onEvent('update', obj);
    }
    for (const [k, obj] of [...this.cache]) {
      if (seen.has(k)) continue;
      this.cache.delete(k);
      this.d.onEvent('delete', obj);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.d.timers.setTimer(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      this.sleeping = {
        wake: () => {
          t.cancel();
          this.sleeping = undefined;
          resolve();
        },
      };
    });
  }
}
