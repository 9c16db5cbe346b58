import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { list, render, table } from '../format.ts';
import { detectCgroup } from '../../lib/cgroup-usage.ts';
import { LABEL_MANAGED } from '../../api/labels.ts';
import { isLive } from '../../api/session.ts';
import { bytes, millicores, usageByUser } from './usage-common.ts';

/** CPU use is a rate: two reads of the cgroup's CPU time this far apart. */
const SAMPLE_MS = 500;

export const topUsers: Command = {
  path: ['top', 'users'],
  aliases: [['top', 'user']],
  usage: 'doshctl top users [--sort-by cpu|memory] [-o json|yaml]',
  summary: "each user's CPU, memory against her limit, processes and sessions, from the cgroups",
  needs: ['root'],
  flags: {
    'sort-by': { type: 'string', help: 'cpu or memory (largest first); by user name when absent' },
    output: { type: 'string', short: 'o', help: 'json or yaml' },
  },
  async run(ctx) {
    const sortBy = (ctx.flags['sort-by'] as string | undefined) ?? '';
    if (!['', 'cpu', 'memory'].includes(sortBy)) throw new CliError(`--sort-by ${sortBy}: expected cpu or memory`, 2);
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (!['', 'json', 'yaml'].includes(o)) throw new CliError(`-o ${o}: expected json or yaml`, 2);
    const containers = (await ctx.engine().listContainers(`${LABEL_MANAGED}=true`)).filter((c) => c.state === 'running');
    let layout;
    try {
      layout = detectCgroup();
    } catch (e) {
      throw new CliError(`cannot read container usage: ${(e as Error).message}`);
    }
    const t0 = performance.now();
    const first = usageByUser(layout, containers);
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    const second = usageByUser(layout, containers);
    const seconds = (performance.now() - t0) / 1000;
    const sessions = new Map<string, number>();
    for (const s of ctx.sessions().list().filter(isLive)) sessions.set(s.spec.user, (sessions.get(s.spec.user) ?? 0) + 1);
    const items = [...second.values()].map((u) => ({
      ...u,
      // A container recreated between the reads restarts its counter: never report a negative rate.
      cpuCores: Math.max(0, (u.cpuSeconds - (first.get(u.user)?.cpuSeconds ?? u.cpuSeconds)) / seconds),
      sessions: sessions.get(u.user) ?? 0,
    }));
    items.sort((a, b) =>
      sortBy === 'cpu' ? b.cpuCores - a.cpuCores || a.user.localeCompare(b.user) : sortBy === 'memory' ? b.memoryWorkingSetBytes - a.memoryWorkingSetBytes || a.user.localeCompare(b.user) : a.user.localeCompare(b.user),
    );
    if (o) return void ctx.out(render(list('UserUsage', items), o));
    if (items.length === 0) return void ctx.err('No running user containers found.\n');
    const head = ['USER', 'CPU(cores)', 'MEMORY(bytes)', 'LIMIT', 'MEMORY%', 'PIDS', 'SESSIONS'];
    const rows = items.map((i) => [
      i.user,
      millicores(i.cpuCores),
      bytes(i.memoryWorkingSetBytes),
      bytes(i.memoryLimitBytes),
      i.memoryLimitBytes ? `${Math.round((100 * i.memoryWorkingSetBytes) / i.memoryLimitBytes)}%` : '-',
      i.pidsLimit ? `${i.pids}/${i.pidsLimit}` : String(i.pids),
      String(i.sessions),
    ]);
    ctx.out(table([head, ...rows]));
  },
};
