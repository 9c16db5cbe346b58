import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { age, list, render, table } from '../format.ts';

export const getSessions: Command = {
  path: ['get', 'sessions'],
  aliases: [['get', 'session'], ['get', 'sess']],
  usage: 'doshctl get sessions [NAME] [-o wide|json|yaml|name] [--user USER]',
  summary: 'list login sessions',
  flags: { output: { type: 'string', short: 'o', help: 'wide, json, yaml or name' }, user: { type: 'string', help: 'only this user' } },
  async run(ctx) {
    const store = ctx.sessions();
    const name = ctx.args[0];
    let items = name ? [store.get(name)].filter((s) => s !== undefined) : store.list();
    if (name && items.length === 0) throw new CliError(`session "${name}" not found`);
    if (ctx.flags.user) items = items.filter((s) => s.spec.user === ctx.flags.user);
    items.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (o === 'json' || o === 'yaml') return void ctx.out(render(name ? items[0] : list('Session', items), o));
    if (o === 'name') return void ctx.out(items.map((s) => `session/${s.metadata.name}\n`).join(''));
    if (o !== '' && o !== 'wide') throw new CliError(`-o ${o}: expected wide, json, yaml or name`, 2);
    const head = ['NAME', 'USER', 'PHASE', 'MODE', 'TTY', 'CONTAINER', 'AGE'];
    if (o === 'wide') head.push('NODE', 'IMAGE', 'HELPER-PID', 'EXIT', 'REASON');
    const rows = items.map((s) => {
      const r = [s.metadata.name, s.spec.user, s.status.phase, s.spec.mode, s.spec.tty ? 'yes' : 'no', s.status.container?.name ?? '<none>', age(s.metadata.creationTimestamp, ctx.now())];
      if (o === 'wide') r.push(s.spec.node, s.status.container?.image ?? '<none>', String(s.spec.helper.pid), s.status.exitCode === undefined ? '' : String(s.status.exitCode), s.status.reason ?? '');
      return r;
    });
    if (rows.length === 0) return void ctx.err('No sessions found.\n');
    ctx.out(table([head, ...rows]));
  },
};
