// One hyperfine run of named commands, side by side (the benchmarks compare within one run, never across days).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const RUNS = Number(process.env.BENCH_N ?? 40);

export interface Result {
  command: string;
  median: number;
  mean: number;
  stddev: number;
}

/** One hyperfine run of the named commands (each with its own --prepare when given); medians in ms by name. */
export function hyperfine(cmds: { name: string; run: string; prepare?: string }[], runs = RUNS): Map<string, Result> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-hyperfine-'));
  const json = path.join(dir, 'out.json');
  const args = ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', json, '--style', 'none'];
  const prepared = cmds.some((c) => c.prepare);
  for (const c of cmds) {
    if (prepared) args.push('--prepare', c.prepare ?? 'true');
    args.push('-n', c.name, c.run);
  }
  const r = spawnSync('hyperfine', args, { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/root', TERM: 'dumb' } });
  if (r.status !== 0) throw new Error(`hyperfine failed: ${r.stderr}`);
  const out = new Map<string, Result>();
  for (const x of JSON.parse(readFileSync(json, 'utf8')).results as Result[]) out.set(x.command, { ...x, median: x.median * 1000, mean: x.mean * 1000, stddev: x.stddev * 1000 });
  rmSync(dir, { recursive: true, force: true });
  return out;
}

