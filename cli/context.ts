// What every doshctl command gets: parsed flags, the store, output streams. Commands never call process.exit.
import type { Session } from '../api/session.ts';
import type { DirStore } from '../store/dirstore.ts';
import type { Engine } from '../engine/docker.ts';

export interface CliContext {
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  storeRoot: string;
  sessions: () => DirStore<Session>;
  engine: () => Engine;
  out: (s: string) => void;
  err: (s: string) => void;
  now: () => number;
}

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export interface Command {
  /** Words that select the command, e.g. ['get', 'sessions']. */
  path: string[];
  aliases?: string[][];
  usage: string;
  summary: string;
  flags?: Record<string, { type: 'string' | 'boolean'; short?: string; help: string }>;
  run(ctx: CliContext): Promise<number | void>;
}
