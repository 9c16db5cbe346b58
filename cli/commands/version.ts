import type { Command } from '../context.ts';
import { VERSION } from '../../lib/version.ts';

export const version: Command = {
  path: ['version'],
  usage: 'doshctl version',
  summary: 'print the version',
  async run(ctx) {
    ctx.out(`doshctl ${VERSION}\n`);
  },
};
