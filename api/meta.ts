// Kubernetes-style object metadata and conditions, shared by every DoSH object.
import { z } from 'zod';

export { API_GROUP, API_VERSION } from './constants.ts';

/** DNS-1123 subdomain, as Kubernetes requires of object names. */
export const ObjectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be lowercase letters, digits, "-" or "." (DNS-1123)');

export const ObjectMeta = z.object({
  name: ObjectName,
  uid: z.string().min(1),
  resourceVersion: z.string(),
  generation: z.number().int().nonnegative().default(1),
  creationTimestamp: z.string(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).default({}),
  annotations: z.record(z.string(), z.string()).default({}),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);

export const Condition = z.object({
  type: z.string(),
  status: ConditionStatus,
  reason: z.string(),
  message: z.string().default(''),
  lastTransitionTime: z.string(),
});
export type Condition = z.infer<typeof Condition>;

/** Returns a new conditions list with `next` set, keeping lastTransitionTime when the status did not change. */
export function setCondition(conditions: readonly Condition[], next: Condition): Condition[] {
  const old = conditions.find((c) => c.type === next.type);
  const kept = old && old.status === next.status ? { ...next, lastTransitionTime: old.lastTransitionTime } : next;
  return [...conditions.filter((c) => c.type !== next.type), kept];
}
