// Codecs for the store: doshd and doshctl validate every object with its zod schema.
import type { z } from 'zod';
import type { Codec } from './dirstore.ts';

export function zodCodec<T>(schema: z.ZodType<T>): Codec<T> {
  return {
    decode(data) {
      const r = schema.safeParse(data);
      return r.success ? { ok: true, value: r.data } : { ok: false, error: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
    },
  };
}
