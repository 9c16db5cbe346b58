import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { list, render, table } from '../format.ts';
import { watchSessions } from './watch-sessions.ts';
import { listClusterSessions } from './get-sessions-kube.ts';
import { checkOutput, SESSION_HEAD, SESSION_HEAD_WIDE, sessionRow } from './session-rows.ts';

export const getSessions: Command = {
  path: ['get', 'sessions'],
  aliases: [['get', 'session'], ['get', 'sess']],
  usage: 'doshctl get sessions [NAME] [-o wide|json|yaml|name] [--user USER] [-w] [--kubeconfig FILE [--namespace NS]]',
  summary: 'list login sessions; --watch goes on printing each change; --kubeconfig: every node\'s, from the cluster',
  // The cluster's list needs no local store, so no root.
  needs: (flags) => (flags.kubeconfig ? [] : ['root']),
  args: 'sessions',
  flags: {
    output: { type: 'string', short: 'o', help: 'wide, json, yaml or name' },
    user: { type: 'string', help: 'only this user' },
    watch: { type: 'boolean', short: 'w', help: 'after the list, print a line per changed session until interrupted' },
    kubeconfig: { type: 'string', help: 'list the Session resources of every node from this cluster (doshd in Kubernetes mode)' },
    namespace: { type: 'string', help: 'with --kubeconfig: the namespace of the Session resources (default: all)' },
  },
  async run(ctx) {
    if (ctx.flags.kubeconfig) return listClusterSessions(ctx);
    const store = ctx.sessions();
    const name = ctx.args[0];
    const o = (ctx.flags.output as string | undefined) ?? '';
    checkOutput(o);
    let items = name ? [store.get(name)].filter((s) => s !== undefined) : store.list();
    if (name && items.length === 0 && !ctx.flags.watch) throw new CliError(`session "${name}" not found`);
    if (ctx.flags.user) items = items.filter((s) => s.spec.user === ctx.flags.user);
    items.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
    if (ctx.flags.watch) return watchSessions(ctx, store, items, o);
    if (o === 'json' || o === 'yaml') return void ctx.out(render(name ? items[0] : list('Session', items), o));
    if (o === 'name') return void ctx.out(items.map((s) => `session/${s.metadata.name}\n`).join(''));
    const rows = items.map((s) => sessionRow(s, o === 'wide', ctx.now()));
    if (rows.length === 0) return void ctx.err('No sessions found.\n');
    ctx.out(table([[...SESSION_HEAD, ...(o === 'wide' ? SESSION_HEAD_WIDE : [])], ...rows]));
  },
};
