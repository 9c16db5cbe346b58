// The Event object: something notable that happened to a session or a user's container, kept for a bounded time
// (doshd's --event-ttl) like Kubernetes' core/v1 Event, and shown by `doshctl events` and `doshctl describe`.
import { z } from 'zod';
import { ObjectMeta } from './meta.ts';
import { API_VERSION } from './constants.ts';

export const EVENT_KIND = 'Event';

export const InvolvedObject = z.object({
  kind: z.enum(['Session', 'User']),
  name: z.string().min(1).max(256),
});
export type InvolvedObject = z.infer<typeof InvolvedObject>;

export const EventType = z.enum(['Normal', 'Warning']);
export type EventType = z.infer<typeof EventType>;

export const Event = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(EVENT_KIND),
  metadata: ObjectMeta,
  involvedObject: InvolvedObject,
  type: EventType,
  /** Short CamelCase, machine-readable: Ready, Refused, GarbageCollected... */
  reason: z.string().min(1).max(128),
  message: z.string().max(4096),
  /** How many times this same event (object, reason, message) happened between the two timestamps. */
  count: z.number().int().positive(),
  firstTimestamp: z.string(),
  lastTimestamp: z.string(),
  source: z.object({ component: z.literal('doshd'), host: z.string() }),
});
export type Event = z.infer<typeof Event>;
