import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { age, render, table } from '../format.ts';
import { NssDirectory } from '../../lib/users.ts';
import { isLive, type Session } from '../../api/session.ts';
import { LABEL_HASH, LABEL_MANAGED, LABEL_USER } from '../../api/labels.ts';
import { type ContainerUsage, detectCgroup, readUsage } from '../../lib/cgroup-usage.ts';
import { bytes } from './usage-common.ts';
import { describeEvents } from './events.ts';

const RECENT_ENDED = 10;

export const describeUser: Command = {
  path: ['describe', 'user'],
  aliases: [['describe', 'users']],
  usage: 'doshctl describe user USER [-o json|yaml]',
  summary: 'one user: identity, container, resource use, live and recently ended sessions',
  needs: ['root'],
  args: 'users',
  flags: { output: { type: 'string', short: 'o', help: 'json or yaml' } },
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) throw new CliError('describe user: a USER is required', 2);
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (!['', 'json', 'yaml'].includes(o)) throw new CliError(`-o ${o}: expected json or yaml`, 2);
    const nss = await new NssDirectory().lookup(name);
    const all = ctx.sessions().list().filter((s) => s.spec.user === name);
    const engine = ctx.engine();
    // The label filter is exact; the managed check keeps out a look-alike container not made by doshd.
    const summaries = (await engine.listContainers(`${LABEL_USER}=${name}`)).filter((c) => c.labels[LABEL_MANAGED] === 'true');
    if (!nss && all.length === 0 && summaries.length === 0) throw new CliError(`user "${name}" is not known to this host (getent passwd) and has no sessions or container`);
    const live = all.filter(isLive).sort(byCreation);
    const outdatedIds = new Set(live.filter((s) => s.status.conditions.some((c) => c.type === 'ContainerOutdated' && c.status === 'True')).map((s) => s.status.container?.id));
    let layout: ReturnType<typeof detectCgroup> | undefined;
    try {
      layout = detectCgroup();
    } catch {
      layout = undefined; // no cgroup hierarchy readable: the description goes without resource use
    }
    const containers = await Promise.all(
      summaries.map(async (c) => {
        const info = await engine.inspectContainer(c.id).catch(() => undefined);
        const usage = layout && info?.running ? (readUsage(layout, c.id, info.pid || undefined) ?? null) : null;
        return { name: c.name, id: c.id, state: c.state, image: info?.image ?? '', startedAt: info?.startedAt ?? null, policyHash: c.labels[LABEL_HASH] ?? '', outdated: outdatedIds.has(c.id), usage };
      }),
    );
    const ended = all
      .filter((s) => !isLive(s))
      .sort((a, b) => (b.status.endedAt ?? b.metadata.creationTimestamp).localeCompare(a.status.endedAt ?? a.metadata.creationTimestamp))
      .slice(0, RECENT_ENDED);
    const summary = (s: Session) => ({
      name: s.metadata.name,
      phase: s.status.phase,
      mode: s.spec.mode,
      tty: s.spec.tty,
      client: s.spec.client ?? null,
      container: s.status.container?.name ?? null,
      creationTimestamp: s.metadata.creationTimestamp,
      endedAt: s.status.endedAt ?? null,
      exitCode: s.status.exitCode ?? null,
      reason: s.status.reason ?? null,
    });
    const obj = {
      apiVersion: 'v1',
      kind: 'UserDescription',
      name,
      identity: nss ?? null,
      containers,
      sessions: live.map(summary),
      endedSessions: ended.map(summary),
    };
    if (o) return void ctx.out(render(obj, o));

    const now = ctx.now();
    const lines: string[] = [`Name:         ${name}`];
    if (nss) {
      lines.push(`UID:          ${nss.uid}`, `GID:          ${nss.gid}`, `Home:         ${nss.home}`, `Shell:        ${nss.shell}`, `Groups:       ${nss.groups.map((g) => `${g.name}(${g.gid})`).join(', ')}`);
    } else {
      lines.push('Identity:     <not known to NSS on this host>');
    }
    if (containers.length === 0) lines.push('Container:    <none>');
    for (const c of containers) {
      lines.push('Container:', `  Name:         ${c.name}`, `  ID:           ${c.id.slice(0, 12)}`, `  State:        ${c.state}${c.startedAt && c.state === 'running' ? ` (started ${age(c.startedAt, now)} ago)` : ''}`, `  Image:        ${c.image}`, `  Policy Hash:  ${c.policyHash}`, `  Policy:       ${c.outdated ? 'outdated (predates the current policy; recreated when her sessions end)' : 'current'}`);
      lines.push(...usageLines(c.usage));
    }
    lines.push(`Sessions:     ${live.length === 0 ? '<none>' : ''}`.trimEnd());
    if (live.length) lines.push(indent(table([['NAME', 'PHASE', 'MODE', 'TTY', 'CLIENT', 'AGE'], ...live.map((s) => [s.metadata.name, s.status.phase, s.spec.mode, s.spec.tty ? 'yes' : 'no', s.spec.client ?? '-', age(s.metadata.creationTimestamp, now)])])));
    lines.push(`Recently Ended Sessions:${ended.length === 0 ? '  <none>' : ''}`);
    if (ended.length) {
      const rows = ended.map((s) => [s.metadata.name, s.status.phase, s.status.exitCode === undefined ? '-' : String(s.status.exitCode), s.status.reason ?? '-', s.status.endedAt ? `${age(s.status.endedAt, now)} ago` : '-']);
      lines.push(indent(table([['NAME', 'PHASE', 'EXIT', 'REASON', 'ENDED'], ...rows])));
    }
    lines.push(...describeEvents(ctx, 'User', name));
    ctx.out(lines.join('\n').replace(/\n+$/, '') + '\n');
  },
};

function usageLines(u: ContainerUsage | null): string[] {
  if (!u) return ['  Resources:    <not running on this host>'];
  return [
    '  Resources:',
    `    CPU time:     ${u.cpuSeconds.toFixed(2)}s`,
    `    Memory:       ${bytes(u.memoryWorkingSetBytes)} working set, ${bytes(u.memoryUsageBytes)} with cache, limit ${u.memoryLimitBytes === undefined ? 'none' : bytes(u.memoryLimitBytes)}`,
    `    PIDs:         ${u.pids}${u.pidsLimit === undefined ? '' : ` of ${u.pidsLimit}`}`,
    `    OOM kills:    ${u.oomKills}`,
    `    Block I/O:    ${bytes(u.blkioReadBytes)} read, ${bytes(u.blkioWriteBytes)} written`,
    ...(u.networkReceiveBytes === undefined ? [] : [`    Network:      ${bytes(u.networkReceiveBytes)} received, ${bytes(u.networkTransmitBytes)} sent`]),
  ];
}

function indent(t: string): string {
  return t.replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n');
}

function byCreation(a: Session, b: Session): number {
  return a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp);
}
