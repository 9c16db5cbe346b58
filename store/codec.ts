// Codecs for the store. doshd and doshctl validate every object with its zod schema. The session helper runs once
// per login and pays for every module it loads (zod alone is ~30 ms of its start-up, see BENCHMARKS.md), so it uses
// a structural check of the fields it reads; the store directory is root-only and doshd re-validates everything.
import type { z } from 'zod';
import type { Codec } from './dirstore.ts';
import type { Session } from '../api/session.ts';

export function zodCodec<T>(schema: z.ZodType<T>): Codec<T> {
  return {
    decode(data) {
      const r = schema.safeParse(data);
      return r.success ? { ok: true, value: r.data } : { ok: false, error: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
    },
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const sessionShapeCodec: Codec<Session> = {
  decode(data) {
    if (!isObj(data) || data.kind !== 'Session' || typeof data.apiVersion !== 'string') return { ok: false, error: 'not a Session object' };
    const m = data.metadata;
    if (!isObj(m) || typeof m.name !== 'string' || typeof m.resourceVersion !== 'string' || typeof m.creationTimestamp !== 'string') return { ok: false, error: 'metadata: missing name, resourceVersion or creationTimestamp' };
    if (!isObj(data.spec) || typeof data.spec.user !== 'string' || typeof data.spec.uid !== 'number') return { ok: false, error: 'spec: missing user or uid' };
    if (!isObj(data.status) || typeof data.status.phase !== 'string' || !Array.isArray(data.status.conditions)) return { ok: false, error: 'status: missing phase or conditions' };
    return { ok: true, value: data as unknown as Session };
  },
};
