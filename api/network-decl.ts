// The schema of declared networks (dosh.yaml's top-level `networks:`): the checks that make a bad declaration fail at
// load, with its line, instead of at some user's login when the engine refuses it.
import { isIP } from 'node:net';
import { z } from 'zod';
import { NETWORK_PREFIX } from './constants.ts';

/** The engine's own network name rule. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Names the engine reserves, or that mean a network mode rather than a network. */
const RESERVED = new Set(['bridge', 'host', 'none', 'default']);

/** `ADDRESS/PREFIX` with a prefix the address family allows; null when it is one. */
export function cidrProblem(v: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v);
  const fam = m ? isIP(m[1]) : 0;
  if (!m || fam === 0) return `${JSON.stringify(v)} is not an address range such as 10.200.0.0/24`;
  if (Number(m[2]) > (fam === 4 ? 32 : 128)) return `${JSON.stringify(v)}: the prefix length is larger than the address`;
  return null;
}

function v4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Whether an IPv4 address lies in an IPv4 range (other families are left to the engine). */
export function inRange(addr: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  if (isIP(addr) !== 4 || isIP(base) !== 4) return true;
  const size = 2 ** (32 - Number(len));
  return Math.floor(v4(addr) / size) === Math.floor(v4(base) / size);
}

const Cidr = z.string().superRefine((v, ctx) => {
  const p = cidrProblem(v);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

export const YamlNetwork = z
  .strictObject({
    driver: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'a driver name such as bridge or macvlan').default('bridge'),
    subnet: Cidr.optional(),
    gateway: z.string().refine((v) => isIP(v) !== 0, 'an IP address such as 10.200.0.1').optional(),
    ipRange: Cidr.optional(),
    internal: z.boolean().default(false),
    options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  })
  .superRefine((n, ctx) => {
    if ((n.gateway || n.ipRange) && !n.subnet) ctx.addIssue({ code: 'custom', path: [n.gateway ? 'gateway' : 'ipRange'], message: 'needs a subnet' });
    if (n.subnet && n.gateway && !inRange(n.gateway, n.subnet)) ctx.addIssue({ code: 'custom', path: ['gateway'], message: `${n.gateway} is not in the subnet ${n.subnet}` });
    if (n.subnet && n.ipRange && !cidrProblem(n.ipRange) && !inRange(n.ipRange.split('/')[0], n.subnet)) {
      ctx.addIssue({ code: 'custom', path: ['ipRange'], message: `${n.ipRange} is not in the subnet ${n.subnet}` });
    }
  });

export const YamlNetworks = z.record(z.string(), YamlNetwork).superRefine((m, ctx) => {
  for (const name of Object.keys(m)) {
    if (!NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)} is not a valid network name (letters, digits, _ . -)` });
    else if (RESERVED.has(name)) ctx.addIssue({ code: 'custom', path: [name], message: `${name} is the engine's own network and cannot be declared` });
    else if (name.startsWith(NETWORK_PREFIX)) ctx.addIssue({ code: 'custom', path: [name], message: `names starting with ${NETWORK_PREFIX} are the users' own networks (networkPerUser)` });
  }
});
export type YamlNetworks = z.infer<typeof YamlNetworks>;
