// What a login may cost, checked before doshd writes anything for it. A control byte costs six bytes in JSON, the
// store is on a tmpfs (/run) that every service of the host shares, and a user can start logins as fast as her
// rate allows: so her arguments are measured as stored, bounded per login, per user and in all, and only live
// sessions hold them (an ended session drops them). The rate limit is her token bucket (rate-limit.ts).
import type { Session } from '../../api/session.ts';
import { RefusedError } from '../../lib/errors.ts';
import { UserRateLimiter, type RateLimitOptions } from '../rate-limit.ts';
import type { LoginGate } from './logins.ts';
import type { LoginRequest } from './login-request.ts';

export interface StoreBounds {
  /** Bytes one login's arguments may take as stored. */
  perLogin: number;
  /** Bytes the arguments of one user's sessions may take together. */
  perUser: number;
  /** Bytes the arguments of all sessions may take together. */
  total: number;
}

export const DEFAULT_STORE_BOUNDS: StoreBounds = { perLogin: 1 << 20, perUser: 8 << 20, total: 64 << 20 };

/** The stored size of a session's arguments (the command and its words), as the gate counts it. */
export function storedArgBytes(spec: Pick<Session['spec'], 'command' | 'args'>): number {
  return Buffer.byteLength(JSON.stringify([spec.command ?? '', ...spec.args]));
}

export class Gate implements LoginGate {
  private readonly rate: UserRateLimiter;
  /** Argument bytes by session name; rebuilt from the store on every housekeeping pass, added to at each login. */
  private held = new Map<string, { user: string; bytes: number }>();

  constructor(
    private readonly rateOpts: RateLimitOptions,
    private readonly bounds: StoreBounds,
    now: () => number,
  ) {
    this.rate = new UserRateLimiter(rateOpts, now);
  }

  charge(user: string): void {
    const wait = this.rate.take(user);
    if (wait !== undefined) {
      throw new RefusedError('RateLimited', `${user} is starting logins faster than this host allows (${this.rateOpts.burst} at once, then ${this.rateOpts.perSecond} a second); try again in ${wait} s`);
    }
  }

  fits(user: string, req: LoginRequest): void {
    const b = req.storedArgBytes;
    if (b > this.bounds.perLogin) throw new RefusedError('ArgumentsTooLong', `arguments too long (${b} bytes as stored, at most ${this.bounds.perLogin})`);
    let mine = 0;
    let all = 0;
    for (const h of this.held.values()) {
      all += h.bytes;
      if (h.user === user) mine += h.bytes;
    }
    if (mine + b > this.bounds.perUser) throw new RefusedError('StoreFull', `${user}'s open sessions already hold ${mine} bytes of arguments, and this login's ${b} would pass the ${this.bounds.perUser} a user may; end some sessions and try again`);
    if (all + b > this.bounds.total) throw new RefusedError('StoreFull', `the sessions on this host already hold ${all} bytes of arguments, and this login's ${b} would pass the ${this.bounds.total} allowed in all; try again later`);
  }

  /** A login's object was written. */
  add(name: string, user: string, bytes: number): void {
    this.held.set(name, { user, bytes });
  }

  /** The store as it is (housekeeping): what ended sessions held is free again, and idle buckets are dropped. */
  account(sessions: readonly Session[]): void {
    const next = new Map<string, { user: string; bytes: number }>();
    for (const s of sessions) {
      const bytes = storedArgBytes(s.spec);
      if (bytes > 4) next.set(s.metadata.name, { user: s.spec.user, bytes });
    }
    this.held = next;
    this.rate.prune();
  }
}
