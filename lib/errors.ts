// Small typed errors shared by the store, the engine adapter and the helper, so callers branch on types, never on messages.
import type { RefusalReason } from '../api/reasons.ts';

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** An optimistic-concurrency or name clash: retry from a fresh read. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** The engine or daemon could not be reached or answered 5xx: worth retrying with backoff. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

/** A request the engine refused as invalid (4xx other than 404/409): not worth retrying. */
export class InvalidError extends Error {
  override name = 'InvalidError';
}

/** A process ended with a status; entry points turn it into their own exit status. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A login refused for a reason the user should read (policy, cordon, limits). */
export class RefusedError extends Error {
  override name = 'RefusedError';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The Kubernetes client is bundled apart (dist/dosh-kube.mjs, see scripts/build.mjs) with its own copy of this module,
 * so the errors it throws are instances of other classes of the same names: `instanceof` on these four classes also
 * accepts an Error of the class's exact name (a subclass still needs its own prototype chain).
 */
for (const cls of [NotFoundError, ConflictError, UnavailableError, InvalidError]) {
  const name = cls.name;
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: Function, v: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this, v) || (this === cls && v instanceof Error && v.name === name);
    },
  });
}

export function isTransient(err: unknown): boolean {
  return err instanceof ConflictError || err instanceof UnavailableError;
}
