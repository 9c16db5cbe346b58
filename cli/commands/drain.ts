import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { FileCordon } from '../../store/cordon.ts';
import { ANNOTATION_MESSAGE } from '../../api/labels.ts';
import { isLive } from '../../api/session.ts';
import { NotFoundError } from '../../lib/errors.ts';

export const drain: Command = {
  path: ['drain'],
  usage: 'doshctl drain [--message TEXT] [--grace-period SECONDS]',
  summary: 'cordon, warn every logged-in user on her terminal, then end all sessions after the grace period',
  needs: ['root', 'doshd'],
  flags: {
    message: { type: 'string', short: 'm', help: 'what users are told' },
    'grace-period': { type: 'string', help: 'seconds between the warning and the end (default 60)' },
  },
  async run(ctx) {
    const grace = Number((ctx.flags['grace-period'] as string | undefined) ?? '60');
    if (!Number.isFinite(grace) || grace < 0) throw new CliError(`--grace-period: expected a number of seconds, got ${JSON.stringify(ctx.flags['grace-period'])}`, 2);
    const message = (ctx.flags.message as string | undefined) ?? 'this host is being drained by the administrator';
    new FileCordon(ctx.storeRoot).set(message, new Date(ctx.now()).toISOString());
    ctx.out(`node cordoned: new logins are refused with "${message}"\n`);
    const store = ctx.sessions();
    const live = store.list().filter(isLive);
    const warning = `${message}; your session will be ended in ${grace} seconds`;
    for (const s of live) {
      try {
        store.mutate(s.metadata.name, (cur) => ({ ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata.annotations, [ANNOTATION_MESSAGE]: warning } } }));
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    ctx.out(`warned ${live.length} session${live.length === 1 ? '' : 's'}; ending them in ${grace} s\n`);
    await new Promise((r) => setTimeout(r, grace * 1000));
    let ended = 0;
    for (const s of live) {
      try {
        store.mutate(s.metadata.name, (cur) => (cur.metadata.deletionTimestamp || !isLive(cur) ? undefined : { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date(ctx.now()).toISOString() } }));
        ended++;
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    ctx.out(`node drained: ${ended} session${ended === 1 ? '' : 's'} ended; run 'doshctl uncordon' to allow logins again\n`);
  },
};
