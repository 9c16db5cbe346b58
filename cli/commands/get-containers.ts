import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { list, render, table } from '../format.ts';
import { LABEL_HASH, LABEL_MANAGED, LABEL_NODE, LABEL_USER } from '../../api/labels.ts';
import { isLive } from '../../api/session.ts';

export const getContainers: Command = {
  path: ['get', 'containers'],
  aliases: [['get', 'container'], ['get', 'users'], ['get', 'user']],
  usage: 'doshctl get containers|users [-o wide|json|yaml|name]',
  summary: "list users' containers with their live sessions",
  needs: ['root'],
  flags: { output: { type: 'string', short: 'o', help: 'wide, json, yaml or name' } },
  async run(ctx) {
    const containers = await ctx.engine().listContainers(`${LABEL_MANAGED}=true`);
    const live = new Map<string, number>();
    const outdated = new Set<string>();
    for (const s of ctx.sessions().list().filter(isLive)) {
      live.set(s.spec.user, (live.get(s.spec.user) ?? 0) + 1);
      if (s.status.conditions.some((c) => c.type === 'ContainerOutdated' && c.status === 'True') && s.status.container) outdated.add(s.status.container.id);
    }
    const items = containers
      .map((c) => ({ user: c.labels[LABEL_USER] ?? '', container: c.name, id: c.id, state: c.state, outdated: outdated.has(c.id), sessions: live.get(c.labels[LABEL_USER] ?? '') ?? 0, node: c.labels[LABEL_NODE] ?? '', policyHash: c.labels[LABEL_HASH] ?? '' }))
      .sort((a, b) => a.user.localeCompare(b.user));
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (o === 'json' || o === 'yaml') return void ctx.out(render(list('UserContainer', items), o));
    if (o === 'name') return void ctx.out(items.map((i) => `container/${i.container}\n`).join(''));
    if (o !== '' && o !== 'wide') throw new CliError(`-o ${o}: expected wide, json, yaml or name`, 2);
    const head = ['USER', 'CONTAINER', 'STATE', 'POLICY', 'SESSIONS', ...(o === 'wide' ? ['ID', 'NODE', 'POLICY-HASH'] : [])];
    const rows = items.map((i) => [i.user, i.container, i.state, i.outdated ? 'outdated' : 'current', String(i.sessions), ...(o === 'wide' ? [i.id.slice(0, 12), i.node, i.policyHash] : [])]);
    if (rows.length === 0) return void ctx.err('No containers found.\n');
    ctx.out(table([head, ...rows]));
  },
};
