// `doshctl get sessions --kubeconfig FILE`: the Session resources of every node of a fleet, as the nodes' doshd
// mirror them (doshd --kubeconfig), in the same columns as the local list plus the node.
import type { Session } from '../../api/session.ts';
import { CliError, type CliContext } from '../context.ts';
import { list, render, table } from '../format.ts';
import { checkOutput, SESSION_HEAD, SESSION_HEAD_WIDE, sessionRow } from './session-rows.ts';

export async function listClusterSessions(ctx: CliContext): Promise<number | void> {
  const o = (ctx.flags.output as string | undefined) ?? '';
  checkOutput(o);
  if (ctx.flags.watch) throw new CliError('--watch with --kubeconfig: use kubectl get sessions -A --watch', 2);
  const { KubeClient } = await import('../../kube/client.ts');
  let objs;
  try {
    const kube = await KubeClient.load({ kubeconfig: ctx.flags.kubeconfig as string, fieldManager: 'doshctl' });
    objs = await kube.listSessions(ctx.flags.namespace as string | undefined);
  } catch (e) {
    throw new CliError(`--kubeconfig ${ctx.flags.kubeconfig}: ${(e as Error).message}`);
  }
  // The resources carry the local objects' spec and status as they are: the same rows fit them.
  let items = objs.filter((x) => x.spec && x.status).map((x) => ({ ...x, metadata: { ...x.metadata, creationTimestamp: x.metadata.creationTimestamp ?? '' } }) as unknown as Session);
  const name = ctx.args[0];
  if (name) items = items.filter((s) => s.metadata.name === name);
  if (name && items.length === 0) throw new CliError(`session "${name}" not found`);
  if (ctx.flags.user) items = items.filter((s) => s.spec.user === ctx.flags.user);
  items.sort((a, b) => a.spec.node.localeCompare(b.spec.node) || a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
  if (o === 'json' || o === 'yaml') return void ctx.out(render(name ? items[0] : list('Session', items), o));
  if (o === 'name') return void ctx.out(items.map((s) => `session/${s.metadata.name}\n`).join(''));
  if (items.length === 0) return void ctx.err('No sessions found.\n');
  // NODE second: on a fleet, where a session runs matters first.
  const rows = items.map((s) => {
    const r = sessionRow(s, o === 'wide', ctx.now());
    return [r[0], s.spec.node, ...r.slice(1)];
  });
  const wideHead = SESSION_HEAD_WIDE.filter((h) => h !== 'NODE');
  ctx.out(table([[SESSION_HEAD[0], 'NODE', ...SESSION_HEAD.slice(1), ...(o === 'wide' ? wideHead : [])], ...rows.map((r) => (o === 'wide' ? [...r.slice(0, 8), ...r.slice(9)] : r))]));
}
