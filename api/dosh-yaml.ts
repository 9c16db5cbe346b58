// The dosh.yaml schema: `defaults` plus an ordered list of `rules`, each a set of settings
// for the users it matches. Values may use $USER-style variables ($$ is a literal $).
import { z } from 'zod';
import { YamlNetworks } from './network-decl.ts';
import { Backend, PodSettings } from './pod-settings.ts';

const Text = z.string();
/** Bytes, or a docker size such as `512m` or `2g`. */
const Size = z.union([z.number().int().nonnegative(), z.string().min(1)]);
/** Seconds, or with a unit: `90s`, `30m`, `12h`, `7d`. */
const Duration = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+[smhd]?$/, 'expected seconds or a duration such as 30m, 12h, 7d')]);
const Words = z.union([z.string().min(1), z.array(z.string()).min(1)]);

export const YamlMount = z.strictObject({
  type: z.enum(['bind', 'volume', 'tmpfs']).default('bind'),
  source: Text.optional(),
  target: Text,
  readOnly: z.boolean().optional(),
  propagation: z.enum(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']).optional(),
  noCopy: z.boolean().optional(),
  tmpfsSize: Size.optional(),
  tmpfsMode: z.string().regex(/^[0-7]+$/, 'an octal mode such as 1777').optional(),
});

export const YamlSettings = z.strictObject({
  image: Text.optional(),
  /** The shell: a list of words, or one string split like a shell would. */
  command: Words.optional(),
  workdir: Text.optional(),
  /** Variables in order: a map, or a list of NAME=VALUE. */
  env: z.union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.array(z.string())]).optional(),
  resources: z
    .strictObject({
      memory: Size,
      memorySwap: z.union([z.literal(-1), Size]),
      memoryReservation: Size,
      cpus: z.union([z.number().positive(), z.string()]),
      cpuShares: z.number().int(),
      cpusetCpus: z.string(),
      pids: z.number().int(),
    })
    .partial()
    .optional(),
  capabilities: z.strictObject({ add: z.array(z.string()), drop: z.array(z.string()) }).partial().optional(),
  /** `SOURCE:TARGET[:OPTIONS]` strings (like -v) or mount objects. */
  mounts: z.array(z.union([z.string(), YamlMount])).optional(),
  /** `HOST[:CONTAINER][:PERMISSIONS]` (like --device). */
  devices: z.array(z.string()).optional(),
  networks: z.array(z.string()).optional(),
  hooks: z.strictObject({ runScripts: z.boolean(), scriptsFolder: Text.nullable() }).partial().optional(),
  idleTimeout: Duration.optional(),
  maxSessionSeconds: Duration.optional(),
  maxSessionsPerUser: z.number().int().nonnegative().optional(),
  /** Any other supported docker run flags: a list of arguments, or one string split like a shell would. */
  dockerFlags: z.union([z.string(), z.array(z.string())]).optional(),
  /** Like dosh.conf's INHERIT: from here on (for the users this applies to) flags add to (true) or replace (false) earlier ones. */
  inherit: z.boolean().optional(),
  prefixName: Text.optional(),
  logFile: Text.nullable().optional(),
  debug: z.boolean().optional(),
  verbose: z.boolean().optional(),
  runCommands: z.boolean().optional(),
  /** Like dosh.conf's NETWORKPERUSER: each user's container on a bridge network of her own. */
  networkPerUser: z.boolean().optional(),
  /** Like dosh.conf's ALLOWOTHERSHELL: accounts whose login shell is not DoSH's may log in through it. */
  allowOtherShell: z.boolean().optional(),
  /** Like dosh.conf's FORWARDAGENT: a login with `ssh -A` reaches her ssh agent from inside her container. */
  forwardAgent: z.boolean().optional(),
  /** Like dosh.conf's RECORDSESSIONS: her terminal sessions are recorded (asciicast v2) where she cannot read them. */
  recordSessions: z.boolean().optional(),
  allowUnsafeDockerParametersIUnderstandTheRisk: z.boolean().optional(),
  /** Like dosh.conf's BACKEND: her container on this host's Docker engine (docker, the default) or as a Pod (kubernetes). */
  backend: Backend.optional(),
  /** The pod's own settings, for the kubernetes backend (api/pod-settings.ts); each key replaces the one set before. */
  pod: PodSettings.optional(),
});
export type YamlSettings = z.infer<typeof YamlSettings>;

export const YamlMatch = z
  .strictObject({
    users: z.array(z.string().min(1)),
    groups: z.array(z.string().min(1)),
    /** `1000-1999` ranges or single uids. */
    uids: z.array(
      z.union([
        z.number().int().nonnegative(),
        z
          .string()
          .regex(/^\d+(-\d+)?$/, 'a uid or a range such as 1000-1999')
          .refine((r) => r.split('-').map(Number).reduce((a, b) => (a <= b ? b : Infinity)) !== Infinity, 'the range ends before it starts'),
      ]),
    ),
  })
  .partial();

export const YamlRule = YamlSettings.extend({
  name: z.string().optional(),
  match: YamlMatch.optional(),
});
export type YamlRule = z.infer<typeof YamlRule>;

export const YamlPolicy = z.strictObject({
  version: z.literal(1),
  /** Networks doshd creates when a login first needs one, and removes once unused (api/network-decl.ts). */
  networks: YamlNetworks.optional(),
  defaults: YamlSettings.optional(),
  rules: z.array(YamlRule).optional(),
});
export type YamlPolicy = z.infer<typeof YamlPolicy>;
