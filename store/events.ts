// The Event store: a second resource under the same root as the sessions (/run/dosh/events/), validated by zod.
import { Event } from '../api/event.ts';
import { DirStore, type StoreOptions } from './dirstore.ts';
import { zodCodec } from './codec.ts';

export function eventStore(root: string, opts?: StoreOptions): DirStore<Event> {
  return new DirStore<Event>(root, 'events', zodCodec(Event), opts);
}
