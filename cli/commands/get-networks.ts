import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { list, render, table } from '../format.ts';
import { LABEL_MANAGED, LABEL_USER } from '../../api/labels.ts';

const USERS_SHOWN = 4;

export const getNetworks: Command = {
  path: ['get', 'networks'],
  aliases: [['get', 'network'], ['get', 'net']],
  usage: 'doshctl get networks [NAME] [-o wide|json|yaml|name]',
  summary: "Docker networks that users' containers are attached to, with those users",
  needs: ['root'],
  flags: { output: { type: 'string', short: 'o', help: 'wide, json, yaml or name' } },
  async run(ctx) {
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (!['', 'wide', 'json', 'yaml', 'name'].includes(o)) throw new CliError(`-o ${o}: expected wide, json, yaml or name`, 2);
    const engine = ctx.engine();
    const [networks, managed] = await Promise.all([engine.listNetworks(), engine.listContainers(`${LABEL_MANAGED}=true`)]);
    const userOf = new Map(managed.map((c) => [c.id, c.labels[LABEL_USER] ?? '']));
    const name = ctx.args[0];
    const items = networks
      .filter((n) => !name || n.name === name || n.id.startsWith(name))
      .map((n) => {
        const containers = n.containers.filter((c) => userOf.has(c.id)).map((c) => ({ name: c.name, id: c.id, user: userOf.get(c.id)!, ipv4: c.ipv4 }));
        containers.sort((a, b) => a.user.localeCompare(b.user));
        return { name: n.name, id: n.id, driver: n.driver, scope: n.scope, internal: n.internal, subnets: n.subnets, users: [...new Set(containers.map((c) => c.user))], containers };
      })
      .filter((n) => name || n.containers.length > 0)
      .sort((a, b) => a.name.localeCompare(b.name));
    if (name && items.length === 0) throw new CliError(`network "${name}" not found`);
    if (o === 'json' || o === 'yaml') return void ctx.out(render(list('Network', items), o));
    if (o === 'name') return void ctx.out(items.map((n) => `network/${n.name}\n`).join(''));
    if (items.length === 0) return void ctx.err('No networks with user containers found.\n');
    const wide = o === 'wide';
    const users = (u: string[]) => (wide || u.length <= USERS_SHOWN ? u.join(',') : `${u.slice(0, USERS_SHOWN).join(',')} +${u.length - USERS_SHOWN} more`);
    const head = ['NAME', 'DRIVER', 'SCOPE', 'CONTAINERS', ...(wide ? ['ID', 'SUBNETS', 'INTERNAL'] : []), 'USERS'];
    const rows = items.map((n) => [n.name, n.driver, n.scope, String(n.containers.length), ...(wide ? [n.id.slice(0, 12), n.subnets.join(',') || '-', String(n.internal)] : []), users(n.users) || '-']);
    ctx.out(table([head, ...rows]));
  },
};
