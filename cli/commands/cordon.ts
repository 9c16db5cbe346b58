import type { Command } from '../context.ts';
import { FileCordon } from '../../store/cordon.ts';

export const cordon: Command = {
  path: ['cordon'],
  usage: 'doshctl cordon [--message TEXT]',
  summary: 'refuse new logins with a message; existing sessions continue',
  needs: ['root'],
  flags: { message: { type: 'string', short: 'm', help: 'what users are told' } },
  async run(ctx) {
    const message = (ctx.flags.message as string | undefined) ?? 'logins are temporarily disabled on this host by the administrator';
    new FileCordon(ctx.storeRoot).set(message, new Date(ctx.now()).toISOString());
    ctx.out(`node cordoned: new logins are refused with "${message}"\n`);
  },
};

export const uncordon: Command = {
  path: ['uncordon'],
  usage: 'doshctl uncordon',
  summary: 'allow new logins again',
  needs: ['root'],
  async run(ctx) {
    new FileCordon(ctx.storeRoot).clear();
    ctx.out('node uncordoned\n');
  },
};
