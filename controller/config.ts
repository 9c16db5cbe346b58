// doshd's command line: every flag documented in --help, every bad value a message naming the flag.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import type { Level } from '../lib/log.ts';
import { DEFAULT_STORE } from '../store/layout.ts';
import { DEFAULT_DOCKER_SOCKET } from '../engine/docker.ts';
import { ramInBytes } from '../policy/units.ts';
import { DEFAULT_TOOLBOX } from '../api/toolbox.ts';
import { DEFAULT_RECORDINGS } from '../api/constants.ts';

export const DEFAULT_AUDIT_LOG = '/var/log/dosh/audit.log';

export interface DoshdConfig {
  store: string;
  config: string;
  metricsAddress: { host: string; port: number } | undefined;
  dockerSocket: string;
  node: string;
  workers: number;
  resyncIntervalMs: number;
  endedRetentionMs: number;
  eventTtlMs: number;
  maxEvents: number;
  killGraceMs: number;
  loginRate: { perSecond: number; burst: number };
  /** The toolbox of the host's file-transfer programs (controller/toolbox.ts); undefined: none. */
  toolbox: string | undefined;
  /** The audit log (controller/audit-log.ts); undefined: none. maxBytes 0: rotated by the administrator's logrotate. */
  audit: { file: string; maxBytes: number } | undefined;
  /** Session recordings (RECORDSESSIONS): where, kept how long, and how much per user. */
  recordings: { dir: string; retentionMs: number; userCapBytes: number };
  logLevel: Level;
  logFormat: 'json' | 'text' | 'auto';
  /** Kubernetes mode: mirror sessions to Session resources and take the cluster's DoshPolicy. */
  kube?: { kubeconfig?: string; inCluster: boolean; namespace: string; resyncIntervalMs: number; podNamespaces: string[] };
}

export const DOSHD_HELP = `doshd - the DoSH controller: reconciles per-user login containers

Usage: doshd [flags]

Flags:
  --store DIR                 the session store directory (default ${DEFAULT_STORE})
  --config FILE               the policy: a legacy dosh.conf, or a dosh.yaml when the name ends in .yaml/.yml
                              (default /etc/dosh/dosh.conf, or /etc/dosh.conf when only that one exists)
  --metrics-address HOST:PORT serve /metrics, /healthz and /readyz there (default 127.0.0.1:9469; "" disables)
  --docker-socket PATH        the Docker engine's socket (default ${DEFAULT_DOCKER_SOCKET}; DOCKER_HOST is ignored)
  --node NAME                 this login node's name (default: the host name)
  --workers N                 sessions reconciled in parallel (default 4)
  --resync-interval SECONDS   how often every session and container is re-checked and idle ones collected (default 5)
  --ended-retention SECONDS   how long an ended session stays visible before it is deleted (default 300)
  --event-ttl SECONDS         how long an event is kept after it last happened (default 3600)
  --max-events N              the most events kept in all; past it the oldest are deleted (default 10000)
  --kill-grace SECONDS        between SIGHUP and SIGKILL when a session's processes are ended (default 5)
  --kubeconfig FILE           Kubernetes mode: mirror this node's sessions to Session resources on that cluster,
                              and take the cluster's DoshPolicy "default" as the policy when it exists
  --in-cluster                Kubernetes mode with the pod's service account (doshd in a DaemonSet)
  --kube-namespace NS         the namespace of the Session resources (default dosh-system)
  --kube-resync SECONDS       how often every session is compared with its resource (default 30)
  --pod-namespaces NS,...     the namespaces of users' pods (BACKEND=kubernetes) this node collects idle ones in and
                              reports on from its start (default: those of the pod logins it serves, once it has)
  --login-rate PER_SECOND     logins a user may start per second once her burst is spent; more are refused with
                              a message (default 10; 0 turns the limit off)
  --login-burst N             logins a user may start at once (default 60)
  --toolbox DIR               where doshd copies the host's sftp-server, scp and rsync with their libraries at start,
                              mounted read-only into every container so that file transfers work in any image
                              (default ${DEFAULT_TOOLBOX}; "" disables it)
  --audit-log FILE            one JSON line per login start, refusal and end (default ${DEFAULT_AUDIT_LOG};
                              "" disables it); reopened when it is moved (logrotate) and on SIGHUP
  --audit-max-size BYTES      rotate the audit log to FILE.1 past this size (1G, 100M...; default 0: never, leave it
                              to logrotate)
  --recordings DIR            where recorded terminal sessions go (RECORDSESSIONS; default ${DEFAULT_RECORDINGS})
  --record-retention SECONDS  how long a recording is kept (30d, 12h...; default 30d)
  --record-user-cap BYTES     the most one user's recordings may take (default 1G); past it her sessions are not
                              recorded (an event says so) until old ones expire
  --log-level LEVEL           debug, info, warn or error (default info)
  --log-format FORMAT         json, text or auto: text on a terminal, json otherwise (default auto)
  --version                   print the version and exit
  -h, --help                  print this help and exit
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type ParsedCommand = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: DoshdConfig };

export function parseDoshdArgs(argv: string[], fileExists: (p: string) => boolean = fs.existsSync): ParsedCommand {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        store: { type: 'string' },
        config: { type: 'string' },
        'metrics-address': { type: 'string' },
        'docker-socket': { type: 'string' },
        node: { type: 'string' },
        workers: { type: 'string' },
        'resync-interval': { type: 'string' },
        'ended-retention': { type: 'string' },
        'event-ttl': { type: 'string' },
        'max-events': { type: 'string' },
        'kill-grace': { type: 'string' },
        'login-rate': { type: 'string' },
        'login-burst': { type: 'string' },
        toolbox: { type: 'string' },
        'audit-log': { type: 'string' },
        'audit-max-size': { type: 'string' },
        recordings: { type: 'string' },
        'record-retention': { type: 'string' },
        'record-user-cap': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        kubeconfig: { type: 'string' },
        'in-cluster': { type: 'boolean' },
        'kube-namespace': { type: 'string' },
        'kube-resync': { type: 'string' },
        'pod-namespaces': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const str = (k: string) => values[k] as string | undefined;
  const num = (k: string, def: number, min: number) => {
    const v = str(k);
    if (v === undefined) return def;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min) throw new UsageError(`--${k}: expected a number >= ${min}, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const level = str('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level: expected debug, info, warn or error, got ${JSON.stringify(level)}`);
  const format = str('log-format') ?? 'auto';
  if (!['json', 'text', 'auto'].includes(format)) throw new UsageError(`--log-format: expected json, text or auto, got ${JSON.stringify(format)}`);
  const kubeconfig = str('kubeconfig');
  if (kubeconfig !== undefined && values['in-cluster']) throw new UsageError('--kubeconfig and --in-cluster: give one of them');
  const kubeMode = kubeconfig !== undefined || values['in-cluster'] === true;
  for (const k of ['kube-namespace', 'kube-resync', 'pod-namespaces']) if (!kubeMode && str(k) !== undefined) throw new UsageError(`--${k}: only with --kubeconfig or --in-cluster`);
  const NS = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  const namespace = str('kube-namespace') ?? 'dosh-system';
  if (!NS.test(namespace)) throw new UsageError(`--kube-namespace: expected a namespace name (lowercase letters, digits, "-"), got ${JSON.stringify(namespace)}`);
  const podNamespaces = (str('pod-namespaces') ?? '').split(',').filter((n) => n !== '');
  for (const n of podNamespaces) if (!NS.test(n)) throw new UsageError(`--pod-namespaces: expected namespace names separated by commas, got ${JSON.stringify(n)}`);
  const bytes = (k: string, def: number) => {
    const v = str(k);
    if (v === undefined) return def;
    const n = /^\d+$/.test(v) ? Number(v) : ramInBytes(v);
    if (n === null || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${k}: expected a size in bytes (1G, 512M, 1048576), got ${JSON.stringify(v)}`);
    return n;
  };
  const seconds = (k: string, def: number) => {
    const v = str(k);
    if (v === undefined) return def;
    const m = /^(\d+)([smhd]?)$/.exec(v);
    if (!m) throw new UsageError(`--${k}: expected seconds or a duration (90s, 30m, 12h, 30d), got ${JSON.stringify(v)}`);
    return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]];
  };
  const optionalPath = (k: string, def: string) => {
    const v = str(k) ?? def;
    return v === '' ? undefined : absolute(k, v);
  };
  const auditFile = optionalPath('audit-log', DEFAULT_AUDIT_LOG);
  const config = str('config') ?? (!fileExists('/etc/dosh/dosh.conf') && fileExists('/etc/dosh.conf') ? '/etc/dosh.conf' : '/etc/dosh/dosh.conf');
  return {
    kind: 'run',
    config: {
      store: absolute('store', str('store') ?? DEFAULT_STORE),
      config: absolute('config', config),
      metricsAddress: parseAddress(str('metrics-address') ?? '127.0.0.1:9469'),
      dockerSocket: absolute('docker-socket', str('docker-socket') ?? DEFAULT_DOCKER_SOCKET),
      node: str('node') ?? os.hostname(),
      workers: Math.floor(num('workers', 4, 1)),
      resyncIntervalMs: num('resync-interval', 5, 0.05) * 1000,
      endedRetentionMs: num('ended-retention', 300, 0) * 1000,
      eventTtlMs: num('event-ttl', 3600, 1) * 1000,
      maxEvents: Math.floor(num('max-events', 10_000, 100)),
      killGraceMs: num('kill-grace', 5, 0) * 1000,
      loginRate: { perSecond: num('login-rate', 10, 0), burst: Math.floor(num('login-burst', 60, 1)) },
      toolbox: optionalPath('toolbox', DEFAULT_TOOLBOX),
      audit: auditFile ? { file: auditFile, maxBytes: bytes('audit-max-size', 0) } : undefined,
      recordings: { dir: absolute('recordings', str('recordings') ?? DEFAULT_RECORDINGS), retentionMs: seconds('record-retention', 30 * 86400) * 1000, userCapBytes: bytes('record-user-cap', 2 ** 30) },
      logLevel: level as Level,
      logFormat: format as DoshdConfig['logFormat'],
      kube: kubeMode
        ? { kubeconfig: kubeconfig === undefined ? undefined : absolute('kubeconfig', kubeconfig), inCluster: values['in-cluster'] === true, namespace, resyncIntervalMs: num('kube-resync', 30, 1) * 1000, podNamespaces }
        : undefined,
    },
  };
}

function absolute(flag: string, p: string): string {
  if (!p.startsWith('/')) throw new UsageError(`--${flag}: expected an absolute path, got ${JSON.stringify(p)}`);
  return p;
}

function parseAddress(v: string): DoshdConfig['metricsAddress'] {
  if (v === '') return undefined;
  // Brackets hold an IPv6 address, or any IP (the chart writes [$(POD_IP)]:PORT for either family).
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--metrics-address: expected HOST:PORT, got ${JSON.stringify(v)}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
