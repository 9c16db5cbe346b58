// bench/scale's measurement windows: over each phase of the run, the CPU of doshd, of the login relays and of the
// engine (% of one core) and the host's busy share, and doshd's memory and descriptors at the end (with the peak of
// its memory over the window); printed as each closes and, at the end, as one markdown table.
import { sleep } from '../test/e2e/harness.ts';
import { cpuWindow, engineTicks, fds, maxMem, type Mem, mem, sumTicks, ticksOf, ZERO } from './procstats.ts';
import { mib, pct } from './stats.ts';

export interface Window {
  label: string;
  wallMs: number;
  doshdCpu: number;
  relaysCpu: number;
  engineCpu: number;
  hostBusy: number;
  doshd: Mem;
  doshdMax: Mem;
  fds: number;
  logins?: { n: number; ok: number; p50: number; max: number };
}

/** The logins of a window: n spawned, the ms to the shell's answer of those that answered (p50 and max of these). */
export const loginStats = (n: number, okMs: number[]): Window['logins'] => ({ n, ok: okMs.length, p50: pct(okMs, 0.5), max: pct(okMs, 1) });

export class Windows {
  readonly closed: Window[] = [];

  /** doshdPid and relayPids are asked at each reading: doshd may be restarted, sessions come and go. */
  constructor(
    private readonly doshdPid: () => number,
    private readonly relayPids: () => number[],
  ) {}

  open() {
    return cpuWindow({ doshd: () => ticksOf(this.doshdPid()), relays: () => sumTicks(this.relayPids()), engine: engineTicks });
  }

  /** doshd's memory now (zero if it is gone). */
  doshdMem(): Mem {
    return mem(this.doshdPid()) ?? ZERO;
  }

  /** Closes a window opened by open(): CPU as % of one core over its wall time, doshd's memory now. */
  close(label: string, s0: ReturnType<Windows['open']>, peak: Mem, logins?: Window['logins']): Window {
    const cpu = s0();
    const m = this.doshdMem();
    const w: Window = {
      label,
      wallMs: cpu.wallMs,
      doshdCpu: cpu.doshd,
      relaysCpu: cpu.relays,
      engineCpu: cpu.engine,
      hostBusy: cpu.host,
      doshd: m,
      doshdMax: maxMem(m, peak),
      fds: fds(this.doshdPid()),
      logins,
    };
    this.closed.push(w);
    console.error(`  ${label}: ${(w.wallMs / 1000).toFixed(1)} s, doshd ${w.doshdCpu.toFixed(1)}% CPU, RSS ${mib(m.rss)}, PSS ${mib(m.pss)} MiB; relays ${w.relaysCpu.toFixed(1)}%, engine ${w.engineCpu.toFixed(1)}%, host ${w.hostBusy.toFixed(0)}% busy${logins ? `; ${logins.ok}/${logins.n} logged in, p50 ${logins.p50.toFixed(0)} ms, max ${logins.max.toFixed(0)} ms` : ''}`);
    return w;
  }

  /** An idle window of `seconds`, doshd's memory sampled every second (the peak is reported too). */
  async idle(label: string, seconds: number): Promise<Window> {
    const s0 = this.open();
    let peak = ZERO;
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      peak = maxMem(peak, this.doshdMem());
    }
    return this.close(label, s0, peak);
  }

  /** Every closed window, one row each, as a markdown table. */
  table(): string[] {
    return [
      '| phase | wall | logins (ok / n, p50, max: spawn → shell answers) | doshd CPU | doshd RSS | doshd PSS | doshd fds | relays CPU | engine CPU | host busy |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...this.closed.map((w) => {
        const l = w.logins ? `${w.logins.ok}/${w.logins.n}, ${w.logins.p50.toFixed(0)} ms, ${w.logins.max.toFixed(0)} ms` : '';
        return `| ${w.label} | ${(w.wallMs / 1000).toFixed(1)} s | ${l} | ${w.doshdCpu.toFixed(1)}% | ${mib(w.doshd.rss)} MiB (${mib(w.doshdMax.rss)}) | ${mib(w.doshd.pss)} MiB (${mib(w.doshdMax.pss)}) | ${w.fds} | ${w.relaysCpu.toFixed(1)}% | ${w.engineCpu.toFixed(1)}% | ${w.hostBusy.toFixed(0)}% |`;
      }),
    ];
  }
}
