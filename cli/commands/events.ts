import * as fs from 'node:fs';
import type { Event } from '../../api/event.ts';
import { eventStore } from '../../store/events.ts';
import type { CliContext, Command } from '../context.ts';
import { CliError } from '../context.ts';
import { age, list, render, table } from '../format.ts';

const HEAD = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];

export const events: Command = {
  path: ['events'],
  aliases: [['get', 'events'], ['get', 'event'], ['get', 'ev']],
  usage: 'doshctl events [--for session/NAME|user/NAME] [--watch] [-o json|yaml]',
  summary: 'what happened to sessions and containers: admissions, refusals, hooks, ends, garbage collection',
  needs: ['root'],
  flags: {
    for: { type: 'string', help: 'only the events of this object: session/NAME or user/NAME' },
    watch: { type: 'boolean', short: 'w', help: 'after the list, print events as they happen or repeat, until interrupted' },
    output: { type: 'string', short: 'o', help: 'json or yaml' },
  },
  async run(ctx) {
    const o = (ctx.flags.output as string | undefined) ?? '';
    if (o !== '' && o !== 'json' && o !== 'yaml') throw new CliError(`-o ${o}: expected json or yaml`, 2);
    const wanted = parseFor(ctx.flags.for as string | undefined);
    const store = eventStore(ctx.storeRoot);
    const items = sortEvents(store.list().filter(wanted));
    if (!ctx.flags.watch) {
      if (o) return void ctx.out(render(list('Event', items), o));
      if (items.length === 0) return void ctx.err('No events found.\n');
      return void ctx.out(table([HEAD, ...items.map((e) => eventRow(e, ctx.now()))]));
    }
    if (!fs.existsSync(store.dir)) throw new CliError(`${store.dir} does not exist: doshd has not recorded any events here (is doshd running?)`);
    const widths = HEAD.map((h, i) => Math.max(h.length, ...items.map((e) => eventRow(e, ctx.now())[i].length)));
    const print = (e: Event) => ctx.out(o === 'json' ? JSON.stringify(e) + '\n' : o === 'yaml' ? `---\n${render(e, 'yaml')}` : aligned(eventRow(e, ctx.now()), widths));
    if (!o) ctx.out(aligned(HEAD, widths));
    const seen = new Map<string, string>();
    for (const e of items) {
      seen.set(e.metadata.name, e.metadata.resourceVersion);
      print(e);
    }
    await watchUntilInterrupted(ctx, store.watch.bind(store), (name) => {
      const e = store.get(name);
      if (!e || !wanted(e) || seen.get(name) === e.metadata.resourceVersion) return;
      seen.set(name, e.metadata.resourceVersion);
      print(e);
    });
  },
};

/** The events of one object as describe shows them: kubectl's Type, Reason, Age, From, Message. */
export function describeEvents(ctx: Pick<CliContext, 'storeRoot' | 'now'>, kind: 'Session' | 'User', name: string): string[] {
  const items = sortEvents(eventStore(ctx.storeRoot).list().filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name));
  if (items.length === 0) return ['Events:  <none>'];
  const rows = [['Type', 'Reason', 'Age', 'From', 'Message'], ['----', '------', '----', '----', '-------'], ...items.map((e) => [e.type, e.reason, lastSeen(e, ctx.now()), e.source.component, e.message])];
  return ['Events:', ...table(rows).trimEnd().split('\n').map((l) => `  ${l}`)];
}

export function eventRow(e: Event, now: number): string[] {
  return [lastSeen(e, now), e.type, e.reason, `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}`, e.message];
}

/** kubectl's "5m (x3 over 20m)" for an event that repeated. */
function lastSeen(e: Event, now: number): string {
  return e.count > 1 ? `${age(e.lastTimestamp, now)} (x${e.count} over ${age(e.firstTimestamp, now)})` : age(e.lastTimestamp, now);
}

function sortEvents(items: Event[]): Event[] {
  return items.sort((a, b) => a.lastTimestamp.localeCompare(b.lastTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
}

function parseFor(v: string | undefined): (e: Event) => boolean {
  if (v === undefined) return () => true;
  const m = /^(session|sessions|user|users)\/(.+)$/i.exec(v);
  if (!m) throw new CliError(`--for ${v}: expected session/NAME or user/NAME`, 2);
  const kind = m[1].toLowerCase().startsWith('session') ? 'Session' : 'User';
  return (e) => e.involvedObject.kind === kind && e.involvedObject.name === m[2];
}

function aligned(row: string[], widths: number[]): string {
  return row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd() + '\n';
}

function watchUntilInterrupted(ctx: CliContext, watch: (fn: (name: string) => void) => () => void, onChange: (name: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const unwatch = watch((name) => {
      try {
        onChange(name);
      } catch (e) {
        ctx.err(`Error: ${(e as Error).message}\n`);
      }
    });
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      unwatch();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
