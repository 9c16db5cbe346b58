// The Pod a user of the kubernetes backend gets: her resolved policy (the same create body the docker path sends the
// engine) read back into a pod, with her identity and the secure defaults forced afterwards, as
// controller/container-spec.ts does for a container. Pure: no API call, and @kubernetes/client-node only as types, so
// the policy layer loads nothing of it. The flags a pod cannot honour were refused before (policy/pod-flags.ts);
// meeting one here is a bug, and is still refused rather than dropped.
import type { V1Container, V1HostAlias, V1Pod, V1ResourceRequirements, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { LABEL_IDLE, LABEL_MANAGED, LABEL_NODE, LABEL_UID, LABEL_USER } from '../api/labels.ts';
import type { PodSettings } from '../api/pod-settings.ts';
import type { EffectivePolicy, Provenance, UserInfo } from '../api/policy.ts';
import { BUILTIN } from './collector.ts';
import { fail } from './errors.ts';
import { parseVolume } from './mounts.ts';
import { ramInBytes } from './units.ts';

/** Where her pod goes when the policy names no namespace. */
export const DEFAULT_NAMESPACE = 'dosh';
/** The one container of her pod. */
export const POD_CONTAINER = 'dosh';

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(?=.{0,63}$)([A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)?$/;
const KI = 1024;

export interface PodOptions {
  /** The login node that makes the pod (its LABEL_NODE), when one does. */
  node?: string;
}

/** Bytes as a quantity, in the largest binary unit that holds them exactly. */
export function bytesQuantity(n: number): string {
  for (const [unit, size] of [['Ti', KI ** 4], ['Gi', KI ** 3], ['Mi', KI ** 2], ['Ki', KI]] as const) if (n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

/** Nano-CPUs as a quantity; a pod's CPU is counted in thousandths, so a finer value is rounded up. */
export function cpuQuantity(nano: number): string {
  const milli = Math.ceil(nano / 1e6);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

export function podManifest(policy: EffectivePolicy, user: UserInfo, opts: PodOptions = {}): V1Pod {
  const where = (k: string): Provenance => {
    const p = policy.provenance[k];
    return p && p.file !== BUILTIN.file ? p : { file: policy.provenance.backend?.file ?? '(policy)', line: policy.provenance.backend?.line ?? 1, section: '' };
  };
  const create = policy.create;
  const hc = create.HostConfig;
  const pod: PodSettings = policy.pod ?? {};

  const name = `${policy.prefixName}${user.name}`;
  if (!DNS_SUBDOMAIN.test(name)) fail(where('prefixName'), `for user ${user.name}: her pod would be named ${JSON.stringify(name)}, which is not a valid Kubernetes name (lower case letters, digits, '-' and '.'); the kubernetes backend cannot serve this account`);
  if (!LABEL_VALUE.test(user.name)) fail(where('backend'), `for user ${user.name}: her user name cannot be a Kubernetes label value (at most 63 letters, digits, '-', '_' and '.')`);

  const { volumes, mounts } = podVolumes(policy, user, where);
  const container: V1Container = {
    name: POD_CONTAINER,
    image: policy.image,
    imagePullPolicy: 'IfNotPresent',
    // args, not command: the engine's Cmd keeps the image's entrypoint, and so does a pod's args.
    args: policy.command,
    stdin: true,
    tty: true,
    env: envList([`HOME=${user.home}`, `USER=${user.name}`, `LOGNAME=${user.name}`, ...(create.Env ?? [])]),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'], ...(hc.CapAdd?.length ? { add: hc.CapAdd.map((c) => c.replace(/^CAP_/, '')) } : {}) },
      ...(hc.ReadonlyRootfs ? { readOnlyRootFilesystem: true } : {}),
    },
  };
  if (create.WorkingDir !== undefined) container.workingDir = create.WorkingDir;
  const resources = podResources(policy, pod);
  if (resources) container.resources = resources;
  if (mounts.length) container.volumeMounts = mounts;

  const primary = user.gid;
  const groups = [...new Set([...user.groups.map((g) => g.gid).filter((g) => g !== primary), ...(hc.GroupAdd ?? []).map(Number)])];
  const labels: Record<string, string> = {
    [LABEL_MANAGED]: 'true',
    [LABEL_USER]: user.name,
    [LABEL_UID]: String(user.uid),
    [LABEL_IDLE]: String(policy.idleTimeoutSeconds),
    ...(opts.node ? { [LABEL_NODE]: opts.node } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: pod.namespace ?? DEFAULT_NAMESPACE, labels },
    spec: {
      // Kept like her container: the shell waits on an open stdin, logins are execs beside it.
      restartPolicy: 'Always',
      automountServiceAccountToken: pod.automountServiceAccountToken ?? false,
      // A Service's variables in her environment would be variables the policy never set.
      enableServiceLinks: false,
      // The pause container as PID 1 reaps her orphans, as docker's --init does.
      shareProcessNamespace: hc.Init !== false,
      ...(pod.serviceAccountName !== undefined ? { serviceAccountName: pod.serviceAccountName } : {}),
      ...(pod.nodeSelector !== undefined ? { nodeSelector: pod.nodeSelector } : {}),
      ...(pod.tolerations !== undefined ? { tolerations: pod.tolerations } : {}),
      ...(pod.runtimeClassName !== undefined ? { runtimeClassName: pod.runtimeClassName } : {}),
      ...(create.Hostname !== undefined ? { hostname: create.Hostname } : {}),
      ...(hc.ExtraHosts?.length ? { hostAliases: hostAliases(hc.ExtraHosts) } : {}),
      ...(create.StopTimeout !== undefined && create.StopTimeout >= 0 ? { terminationGracePeriodSeconds: create.StopTimeout } : {}),
      securityContext: {
        runAsUser: user.uid,
        runAsGroup: user.gid,
        runAsNonRoot: user.uid !== 0,
        ...(groups.length ? { supplementalGroups: groups } : {}),
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container],
      ...(volumes.length ? { volumes } : {}),
    },
  };
}

/** Docker's `NAME=VALUE` list as a pod's env: a later value of a name replaces the earlier one, as with docker. */
function envList(env: string[]): { name: string; value: string }[] {
  const m = new Map<string, string>();
  for (const e of env) {
    const eq = e.indexOf('=');
    m.delete(e.slice(0, eq));
    m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return [...m].map(([name, value]) => ({ name, value }));
}

/** --memory and --cpus as limits, then pod.resources over them: the pod's own keys say more precisely what is meant. */
function podResources(policy: EffectivePolicy, pod: PodSettings): V1ResourceRequirements | undefined {
  const hc = policy.create.HostConfig;
  const limits: Record<string, string> = {};
  if (hc.Memory) limits.memory = bytesQuantity(hc.Memory);
  if (hc.NanoCpus) limits.cpu = cpuQuantity(hc.NanoCpus);
  const q = (m: Record<string, string | number> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));
  Object.assign(limits, q(pod.resources?.limits));
  const requests = q(pod.resources?.requests);
  if (!Object.keys(limits).length && !Object.keys(requests).length) return undefined;
  return { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
}

function hostAliases(extra: string[]): V1HostAlias[] {
  const byIp = new Map<string, string[]>();
  for (const h of extra) {
    const i = h.indexOf(':');
    const ip = h.slice(i + 1);
    byIp.set(ip, [...(byIp.get(ip) ?? []), h.slice(0, i)]);
  }
  return [...byIp].map(([ip, hostnames]) => ({ ip, hostnames }));
}

function tmpfsSize(opts: string): string | undefined {
  const size = opts.split(',').find((o) => o.startsWith('size='));
  const n = size ? ramInBytes(size.slice(5)) : null;
  return n ? bytesQuantity(n) : undefined;
}

/** Her binds as host paths (of the node the pod runs on), tmpfs and anonymous volumes as emptyDirs, and her home. */
function podVolumes(policy: EffectivePolicy, user: UserInfo, where: (k: string) => Provenance): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const hc = policy.create.HostConfig;
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const add = (prefix: string, v: Omit<V1Volume, 'name'>, target: string, readOnly: boolean | undefined, at: string) => {
    if (mounts.some((m) => m.mountPath === target)) fail(where(at), `for user ${user.name}: two mounts at ${target} in her pod`);
    const name = `${prefix}-${volumes.filter((x) => x.name.startsWith(prefix + '-')).length}`;
    volumes.push({ name, ...v });
    mounts.push({ name, mountPath: target, ...(readOnly ? { readOnly: true } : {}) });
  };
  for (const b of hc.Binds ?? []) {
    const s = parseVolume(b);
    if (typeof s === 'string' || s.kind !== 'bind') return fail(where('create.HostConfig.Binds'), `for user ${user.name}: ${b} cannot be mounted in a pod`);
    add('host', { hostPath: { path: s.source } }, s.target, (b.split(':')[2] ?? '').split(',').includes('ro'), 'create.HostConfig.Binds');
  }
  for (const m of hc.Mounts ?? []) {
    if (m.Type === 'bind' && m.Source) add('host', { hostPath: { path: m.Source } }, m.Target, m.ReadOnly, 'create.HostConfig.Mounts');
    else if (m.Type === 'tmpfs') {
      const n = m.TmpfsOptions?.SizeBytes;
      add('tmp', { emptyDir: { medium: 'Memory', ...(n ? { sizeLimit: bytesQuantity(n) } : {}) } }, m.Target, m.ReadOnly, 'create.HostConfig.Mounts');
    } else fail(where('create.HostConfig.Mounts'), `for user ${user.name}: a ${m.Type} mount at ${m.Target} cannot be made in a pod`);
  }
  for (const [target, opts] of Object.entries(hc.Tmpfs ?? {})) {
    const size = tmpfsSize(opts);
    add('tmp', { emptyDir: { medium: 'Memory', ...(size ? { sizeLimit: size } : {}) } }, target, false, 'create.HostConfig.Tmpfs');
  }
  for (const target of Object.keys(policy.create.Volumes ?? {})) add('anon', { emptyDir: {} }, target, false, 'create.Volumes');
  const home = policy.pod?.home;
  if (home) {
    const src = 'persistentVolumeClaim' in home ? { persistentVolumeClaim: home.persistentVolumeClaim } : (home.volume as Omit<V1Volume, 'name'>);
    if (mounts.some((m) => m.mountPath === user.home)) fail(where('pod.home'), `for user ${user.name}: pod.home is mounted at her home ${user.home}, where a mount of the policy already is`);
    volumes.push({ name: 'home', ...src });
    mounts.push({ name: 'home', mountPath: user.home });
  }
  return { volumes, mounts };
}
