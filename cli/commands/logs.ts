// doshctl logs session NAME: a recorded terminal session (RECORDSESSIONS), as doshd's relay wrote it. By default what
// her terminal showed, at once; --replay with its timing (pauses over MAX_PAUSE_S shortened); --follow a live one until
// it ends; -o asciicast the file itself (asciinema plays it). Printed output goes through ReplayFilter: sequences that
// would act on the administrator's terminal rather than draw are dropped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_RECORDINGS } from '../../api/constants.ts';
import { isLive } from '../../api/session.ts';
import { controllerFile, readJsonFile, type ControllerRecord } from '../../store/layout.ts';
import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { ReplayFilter } from '../replay-safe.ts';

const MAX_PAUSE_S = 2;
const POLL_MS = 200;

export const logsSession: Command = {
  path: ['logs', 'session'],
  aliases: [['logs', 'sessions']],
  usage: 'doshctl logs session NAME [-f|--follow] [--replay] [-o asciicast]',
  summary: "a recorded terminal session's output (RECORDSESSIONS): -f for a live one, --replay with its timing, -o asciicast for the file",
  needs: ['root'],
  args: 'sessions',
  flags: {
    follow: { type: 'boolean', short: 'f', help: 'keep printing what a live session shows, until it ends or Ctrl-C' },
    replay: { type: 'boolean', help: `print with the recorded timing (pauses over ${MAX_PAUSE_S} s shortened)` },
    output: { type: 'string', short: 'o', help: 'asciicast: the recording file as it is' },
  },
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) throw new CliError('logs session: a session NAME is required', 2);
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (o !== '' && o !== 'asciicast') throw new CliError(`-o ${o}: expected asciicast`, 2);
    const store = ctx.sessions();
    const s = store.get(name);
    const file = s?.status.recording?.file ?? findRecording(ctx.storeRoot, name);
    if (!file || !fs.existsSync(file)) {
      const why = s && !s.status.recording ? `session "${name}" was not recorded (${s.spec.tty ? 'its policy does not set RECORDSESSIONS, or its user was over her cap: see doshctl events' : 'only terminal sessions are recorded'})` : `no recording of session "${name}"${file ? ` (${file} is gone: past --record-retention?)` : ''}`;
      throw new CliError(why);
    }
    const stopped = s?.status.recording?.stopped;
    const live = () => {
      const cur = store.get(name);
      return cur !== undefined && isLive(cur);
    };
    const reader = new CastReader(file, o === 'asciicast');
    const filter = new ReplayFilter();
    const signal = interrupted();
    let clock: number | undefined;
    for (;;) {
      for (const item of reader.read()) {
        if (o === 'asciicast') {
          ctx.raw(item.line + '\n');
          continue;
        }
        if (item.kind !== 'o') continue;
        if (ctx.flags.replay && clock !== undefined) await sleep(Math.min(MAX_PAUSE_S, Math.max(0, item.time - clock)) * 1000, signal);
        clock = item.time;
        if (signal.aborted) return;
        ctx.raw(filter.push(item.data));
      }
      if (!ctx.flags.follow || signal.aborted || (!live() && !reader.grew())) break;
      await sleep(POLL_MS, signal);
    }
    if (stopped && o !== 'asciicast') ctx.err(`\nnote: the recording stopped before the session ended: ${stopped}\n`);
  },
};

type Item = { line: string; kind: 'header' | 'o' | 'other'; time: number; data: string };

/** Reads an asciicast v2 file from where it last stopped: complete lines only, each checked. */
class CastReader {
  private offset = 0;
  private lineNo = 0;
  private partial = '';
  private size = 0;

  constructor(
    private readonly file: string,
    private readonly raw: boolean,
  ) {}

  /** Whether the file grew since the last read (a relay still appending). */
  grew(): boolean {
    return fs.statSync(this.file).size > this.size;
  }

  read(): Item[] {
    const fd = fs.openSync(this.file, 'r');
    const chunks: Buffer[] = [];
    try {
      const buf = Buffer.alloc(1 << 16);
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, this.offset)) > 0; this.offset += n) chunks.push(Buffer.from(buf.subarray(0, n)));
    } finally {
      fs.closeSync(fd);
    }
    this.size = this.offset;
    const text = this.partial + Buffer.concat(chunks).toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines.map((l) => this.item(l));
  }

  private item(line: string): Item {
    const at = `${this.file}:${++this.lineNo}`;
    if (this.lineNo === 1) {
      if (!/^\{.*"version":\s*2[,}]/.test(line)) throw new CliError(`${at}: not an asciicast v2 recording (its header)`);
      return { line, kind: 'header', time: 0, data: '' };
    }
    if (this.raw) return { line, kind: 'other', time: 0, data: '' };
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      throw new CliError(`${at}: not an asciicast event (not JSON)`);
    }
    if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== 'number' || typeof e[1] !== 'string' || typeof e[2] !== 'string') throw new CliError(`${at}: not an asciicast event ([time, code, data])`);
    return { line, kind: e[1] === 'o' ? 'o' : 'other', time: e[0], data: e[2] };
  }
}

/** A recording by session name under the recordings directory of the store's doshd (a session already collected). */
function findRecording(store: string, name: string): string | undefined {
  if (!/^[a-z0-9.-]+$/.test(name)) return undefined;
  const dir = readJsonFile<ControllerRecord>(controllerFile(store))?.recordings ?? DEFAULT_RECORDINGS;
  try {
    for (const u of fs.readdirSync(dir)) {
      const f = path.join(dir, u, `${name}.cast`);
      if (fs.existsSync(f)) return f;
    }
  } catch {
    // no recordings
  }
  return undefined;
}

function interrupted(): AbortSignal {
  const ac = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ac.abort());
  return ac.signal;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

