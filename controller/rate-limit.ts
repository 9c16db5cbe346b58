// Per-user login rate limit: a token bucket per user (burst, then a sustained rate), so that one user starting
// logins as fast as she can gets clear refusals instead of taking the controller from everyone else. Time is
// injected; idle buckets are dropped, so memory stays bounded by the users active within a refill period.

export interface RateLimitOptions {
  /** Logins per second a user may sustain; 0 turns the limit off. */
  perSecond: number;
  /** Logins a user may start at once, before the rate applies. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class UserRateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number,
  ) {}

  /** Takes one login for the user: undefined when allowed, else the seconds until the next one would be. */
  take(user: string): number | undefined {
    if (this.opts.perSecond <= 0) return undefined;
    const now = this.now();
    const b = this.refill(this.buckets.get(user), now);
    if (b.tokens >= 1) {
      this.buckets.set(user, { tokens: b.tokens - 1, at: now });
      return undefined;
    }
    this.buckets.set(user, b);
    return Math.max(1, Math.ceil((1 - b.tokens) / this.opts.perSecond));
  }

  /** Drops the buckets that have refilled completely: they hold nothing a new bucket would not. */
  prune(): void {
    const now = this.now();
    for (const [user, b] of this.buckets) if (this.refill(b, now).tokens >= this.opts.burst) this.buckets.delete(user);
  }

  size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket | undefined, now: number): Bucket {
    if (!b) return { tokens: this.opts.burst, at: now };
    // A clock that went backwards refills nothing (and takes nothing away).
    const elapsed = Math.max(0, now - b.at) / 1000;
    return { tokens: Math.min(this.opts.burst, b.tokens + elapsed * this.opts.perSecond), at: now };
  }
}
