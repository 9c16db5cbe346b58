// Kubernetes mode: is this doshd connected to the API server? Connected means every watch has listed its resource
// since its last failure and no request has failed for want of an answer since the last one that got one; before the
// first list it is not connected. It feeds dosh_kube_connected, /readyz and the log (one line per change, and
// timed-out requests at most once a minute per operation, with how many were not logged).
import type { Logger } from '../../lib/log.ts';
import { UnavailableError } from '../../lib/errors.ts';
import type { KubeOperation, KubeRequestResult } from '../../kube/client.ts';

export interface ConnectionDeps {
  /** The watches that must have listed, e.g. ['sessions', 'doshpolicies']. */
  watches: string[];
  server: string;
  log: Logger;
  now(): number;
  setGauge(connected: boolean): void;
  countRequest(operation: KubeOperation, result: KubeRequestResult): void;
}

const LOG_EVERY_MS = 60_000;

export class ApiConnection {
  /** Per watch: undefined until it has listed, '' while fine, else its last error. */
  private readonly watchState = new Map<string, string | undefined>();
  private requestError = '';
  private was = false;
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly d: ConnectionDeps) {
    for (const w of d.watches) this.watchState.set(w, undefined);
    d.setGauge(false);
  }

  get connected(): boolean {
    return !this.requestError && [...this.watchState.values()].every((s) => s === '');
  }

  /** Why it is not connected (for /readyz), or undefined when it is. */
  notReady(): string | undefined {
    if (this.connected) return undefined;
    const failing = [...this.watchState].find(([, s]) => s);
    const why = this.requestError || (failing && `watch of ${failing[0]}: ${failing[1]}`) || `no list of ${[...this.watchState].filter(([, s]) => s === undefined).map(([w]) => w).join(' and ')} has succeeded yet`;
    return `kubernetes API ${this.d.server}: not connected: ${why}`;
  }

  listed(watch: string): void {
    this.watchState.set(watch, '');
    this.requestError = '';
    this.changed();
  }

  watchFailed(watch: string, err: Error): void {
    this.watchState.set(watch, err.message);
    this.changed();
  }

  /** Every request's outcome (client.ts onRequest). Lists and watches are judged by listed/watchFailed. */
  request(operation: KubeOperation, result: KubeRequestResult, err?: Error): void {
    this.d.countRequest(operation, result);
    if (result === 'timeout') this.logTimeout(operation, err!);
    if (operation === 'list' || operation === 'watch') return;
    // An answer, even a refusal (4xx), shows the server is there; no answer (timeout, refused connection, 5xx) not.
    this.requestError = result !== 'ok' && err instanceof UnavailableError ? err.message : '';
    this.changed();
  }

  private changed(): void {
    const now = this.connected;
    if (now === this.was) return;
    this.was = now;
    this.d.setGauge(now);
    if (now) this.d.log.info('Kubernetes API connected', { server: this.d.server });
    else this.d.log.warn('Kubernetes API not connected; logins go on, the mirror catches up when it returns', { reason: this.notReady() });
  }

  private logTimeout(operation: KubeOperation, err: Error): void {
    const last = this.lastLogged.get(operation);
    const t = this.d.now();
    if (last && t - last.at < LOG_EVERY_MS) {
      last.suppressed++;
      return;
    }
    this.d.log.warn('Kubernetes API request timed out', { operation, error: err.message, ...(last?.suppressed ? { notLogged: last.suppressed } : {}) });
    this.lastLogged.set(operation, { at: t, suppressed: 0 });
  }
}
