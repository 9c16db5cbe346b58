// doshctl entry point: finds the command in the table, parses its flags, runs it, maps errors to exit statuses.
import { exitAfterFlush } from '../lib/exit.ts';
import { parseArgs } from 'node:util';
import { DEFAULT_STORE } from '../store/layout.ts';
import { sessionStore } from '../store/sessions.ts';
import { Engine, DEFAULT_DOCKER_SOCKET } from '../engine/docker.ts';
import { COMMANDS } from './commands/index.ts';
import { CliError, type Command } from './context.ts';
import { preflight } from './preflight.ts';
import { terminalSafe } from './format.ts';

const GLOBAL_FLAGS = { store: { type: 'string' as const, help: `the session store (default ${DEFAULT_STORE})` }, help: { type: 'boolean' as const, short: 'h', help: 'help' } };

/** Flags whose value is the next word, wherever they stand: their values are never command words. */
const VALUE_FLAGS = new Set(['--store', ...COMMANDS.flatMap((c) => Object.entries(c.flags ?? {}).flatMap(([k, f]) => (f.type === 'string' ? [`--${k}`, ...(f.short ? [`-${f.short}`] : [])] : [])))]);

function help(): string {
  const w = Math.max(...COMMANDS.map((c) => c.usage.length));
  return `doshctl - control DoSH sessions on this host\n\nCommands:\n${COMMANDS.map((c) => `  ${c.usage.padEnd(w)}  ${c.summary}`).join('\n')}\n\nGlobal flags:\n  --store DIR   ${GLOBAL_FLAGS.store.help}\n  -h, --help    show help\n`;
}

function find(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  // A global flag's value may come before the command (`doshctl --store DIR get sessions`): it is not a command word.
  const words = argv.filter((a, i) => !a.startsWith('-') && !VALUE_FLAGS.has(argv[i - 1]));
  for (const cmd of COMMANDS) {
    for (const p of [cmd.path, ...(cmd.aliases ?? [])]) {
      if (p.every((w, i) => words[i] === w)) {
        const rest = [...argv];
        for (const w of p) rest.splice(rest.indexOf(w), 1);
        return { cmd, rest };
      }
    }
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const found = find(argv);
  if (!found) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(help()), argv.length ? 0 : 2;
    process.stderr.write(`doshctl: unknown command "${argv.filter((a) => !a.startsWith('-')).join(' ')}"\n\n${help()}`);
    return 2;
  }
  const { cmd, rest } = found;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...GLOBAL_FLAGS, ...(cmd.flags ?? {}) } });
  } catch (e) {
    process.stderr.write(`doshctl ${cmd.path.join(' ')}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}\nUsage: ${cmd.usage}\n`);
    return 2;
  }
  if (parsed.values.help) return void process.stdout.write(`Usage: ${cmd.usage}\n\n${cmd.summary}\n`), 0;
  const storeRoot = (parsed.values.store as string | undefined) ?? DEFAULT_STORE;
  preflight(cmd, { uid: process.getuid?.() ?? 0, storeRoot }, parsed.values);
  const code = await cmd.run({
    args: parsed.positionals,
    flags: parsed.values,
    storeRoot,
    sessions: () => sessionStore(storeRoot),
    engine: () => new Engine(DEFAULT_DOCKER_SOCKET),
    out: (s) => process.stdout.write(terminalSafe(s)),
    err: (s) => process.stderr.write(terminalSafe(s)),
    raw: (s) => process.stdout.write(s),
    now: Date.now,
    commands: COMMANDS,
  });
  return code ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err) => {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof CliError) process.stderr.write(`Error: ${err.message}\n`);
    else if (e?.code === 'EACCES') process.stderr.write(`Error: permission denied (${e.path ?? ''}): doshctl must run as root\n`);
    else process.stderr.write(`Error: ${e?.message ?? String(err)}\n`);
    exitAfterFlush(err instanceof CliError ? err.code : 1);
  },
);
