import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { NotFoundError } from '../../lib/errors.ts';

export const deleteSession: Command = {
  path: ['delete', 'session'],
  aliases: [['delete', 'sessions']],
  usage: 'doshctl delete session NAME...',
  summary: 'end logins: doshd hangs up their processes and records the end',
  needs: ['root', 'doshd'],
  args: 'sessions',
  async run(ctx) {
    if (ctx.args.length === 0) throw new CliError('delete session: at least one session NAME is required', 2);
    const store = ctx.sessions();
    let failed = 0;
    for (const name of ctx.args) {
      try {
        store.mutate(name, (cur) => (cur.metadata.deletionTimestamp ? undefined : { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date(ctx.now()).toISOString() } }));
        ctx.out(`session "${name}" deleted\n`);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        ctx.err(`Error: session "${name}" not found\n`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
};
