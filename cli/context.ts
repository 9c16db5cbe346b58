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
  /** Standard output as it is, unfiltered: for what the command makes safe itself (a recording's replay). */
  raw: (s: string) => void;
  now: () => number;
  /** Every doshctl command (cli/commands/index.ts), for the commands that list them (completion). */
  commands: readonly Command[];
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

/** root: the store, the Docker socket and the cgroups are root's; doshd: the command only takes effect through doshd. */
export type Need = 'root' | 'doshd';

export interface Command {
  /** Words that select the command, e.g. ['get', 'sessions']. */
  path: string[];
  aliases?: string[][];
  usage: string;
  summary: string;
  flags?: Record<string, { type: 'string' | 'boolean'; short?: string; help: string }>;
  /** Checked before run (cli/preflight.ts), so the caller reads why instead of an errno; may depend on the flags. */
  needs?: Need[] | ((flags: CliContext['flags']) => Need[]);
  /** What completion offers for the positional arguments: object names looked up live. */
  args?: 'sessions' | 'users';
  run(ctx: CliContext): Promise<number | void>;
}
