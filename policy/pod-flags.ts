// Which docker run flags a Pod can honour (policy/pod-spec.ts translates them) and why the others are refused when
// her backend is kubernetes: a flag a pod would silently ignore would give her a container other than the one the
// policy describes. Checked at load for the sections that choose the kubernetes backend, and again at each login for
// flags that reach a kubernetes user from another section.
import { PolicyError } from './errors.ts';
import { occValue } from './flag-parse.ts';
import { parseMount, parseVolume } from './mounts.ts';
import { PROBE_VARS, type Vars } from './template.ts';
import type { FlagOcc, Setting } from './types.ts';
import { parseGoBool, ramInBytes } from './units.ts';

/** The flags a pod has an equivalent for (their values are checked by valueProblem). */
export const POD_FLAGS: ReadonlySet<string> = new Set(['volume', 'mount', 'tmpfs', 'workdir', 'env', 'env-file', 'memory', 'cpus', 'cap-add', 'cap-drop', 'hostname', 'add-host', 'read-only', 'group-add', 'stop-timeout', 'init', 'security-opt']);

/** Why each other supported flag has no place in a pod; the key is the flag's canonical name. */
export const POD_REFUSED: Readonly<Record<string, string>> = {
  'memory-swap': "swap is the kubelet's to allow, for the whole node (memorySwap.swapBehavior), not a pod's",
  'memory-reservation': 'a soft limit has no Kubernetes equivalent; set pod.resources.requests.memory instead',
  'cpu-shares': "set pod.resources.requests.cpu instead (a pod's CPU request is its CPU weight)",
  'cpuset-cpus': "CPU pinning is the kubelet's CPU manager's to decide (whole CPUs for a Guaranteed pod)",
  'pids-limit': "a Pod has no pids limit of its own: the kubelet's podPidsLimit (--pod-max-pids) sets one for every pod on the node",
  device: 'a pod reaches host devices only through a device plugin: request one in pod.resources.limits',
  gpus: 'request GPUs from their device plugin in pod.resources.limits (e.g. nvidia.com/gpu: 1)',
  network: "a pod is on the cluster's pod network; confine it with a NetworkPolicy",
  dns: "a pod's DNS is the cluster's (dnsPolicy)",
  'shm-size': 'a pod has no /dev/shm size setting',
  ulimit: 'a pod has no per-container rlimits (they are the container runtime\'s defaults)',
  label: 'the pod carries only DoSH\'s own labels',
  restart: 'the pod restarts per its restartPolicy, which DoSH sets',
  'log-driver': 'a pod logs as its kubelet logs',
  'log-opt': 'a pod logs as its kubelet logs',
  'oom-score-adj': "the kubelet sets the OOM score from the pod's QoS class",
  'blkio-weight': 'a pod has no block I/O weight',
  'device-read-bps': 'a pod has no block I/O throttling',
  'device-write-bps': 'a pod has no block I/O throttling',
  'device-read-iops': 'a pod has no block I/O throttling',
  'device-write-iops': 'a pod has no block I/O throttling',
  privileged: 'DoSH never makes a privileged pod',
  pid: 'DoSH never shares the node\'s namespaces with a pod',
  ipc: 'DoSH never shares the node\'s namespaces with a pod',
  uts: 'DoSH never shares the node\'s namespaces with a pod',
  userns: 'DoSH never shares the node\'s namespaces with a pod',
  cgroupns: 'DoSH never shares the node\'s namespaces with a pod',
};

/** Volume options a hostPath mount honours (ro/rw) or that change nothing on Linux (the Docker Desktop ones). */
const VOLUME_OPTS = new Set(['ro', 'rw', 'consistent', 'cached', 'delegated']);
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why this flag's value cannot be put in a pod, or null when it can. */
export function valueProblem(flag: string, v: string): string | null {
  switch (flag) {
    case 'volume': {
      const s = parseVolume(v);
      if (typeof s === 'string') return null; // the docker path reports it
      if (s.kind === 'volume') return `the named docker volume ${JSON.stringify(s.source)} has no Kubernetes equivalent: use pod.home, or a host path`;
      const opts = (v.split(':')[2] ?? '').split(',').filter(Boolean);
      const odd = opts.find((o) => !VOLUME_OPTS.has(o));
      return odd ? `the volume option ${JSON.stringify(odd)} has no Kubernetes equivalent` : null;
    }
    case 'mount': {
      const m = parseMount(v);
      if (typeof m === 'string') return null;
      if (m.Type !== 'bind' && m.Type !== 'tmpfs') return `a ${m.Type} mount has no Kubernetes equivalent: use pod.home, a bind (host path) or a tmpfs`;
      if (m.BindOptions?.Propagation && !/^r?private$/.test(m.BindOptions.Propagation)) return `bind propagation ${m.BindOptions.Propagation} is refused in a pod`;
      if (m.BindOptions?.NonRecursive) return 'a non-recursive bind has no Kubernetes equivalent';
      if (m.TmpfsOptions?.Mode !== undefined) return 'a tmpfs mode has no Kubernetes equivalent (an emptyDir is 0777)';
      return null;
    }
    case 'tmpfs': {
      const opts = v.includes(':') ? v.slice(v.indexOf(':') + 1).split(',').filter(Boolean) : [];
      const odd = opts.find((o) => !o.startsWith('size=') || ramInBytes(o.slice(5)) === null);
      return odd ? `the tmpfs option ${JSON.stringify(odd)} has no Kubernetes equivalent (only size= is kept, as the emptyDir's sizeLimit)` : null;
    }
    case 'group-add':
      return /^\d+$/.test(v) ? null : `group ${JSON.stringify(v)}: a pod takes supplementary groups by number only`;
    case 'hostname':
      return DNS_LABEL.test(v) ? null : `hostname ${JSON.stringify(v)} is not a DNS label (lower case letters, digits and '-', at most 63), which a pod's hostname must be`;
    case 'add-host':
      return /[=:]host-gateway$/.test(v) ? 'host-gateway has no meaning in a pod' : null;
    case 'security-opt': {
      const t = v.trim();
      return /^no-new-privileges([=:]|$)/.test(t) && parseGoBool(t.slice(18) || 'true') !== false ? null : `${JSON.stringify(t)}: a pod keeps the runtime's default seccomp and AppArmor confinement, always with no-new-privileges`;
    }
    default:
      return null;
  }
}

/** Throws at the first flag a pod cannot honour, with its file, line, flag and why. */
export function checkPodFlags(occs: FlagOcc[], vars: Vars): void {
  for (const occ of occs) {
    const refused = POD_REFUSED[occ.flag];
    const why = refused ?? (POD_FLAGS.has(occ.flag) ? valueProblem(occ.flag, occValue(occ, vars)) : 'it has no Kubernetes equivalent');
    if (why) throw new PolicyError(occ.origin, `${occ.written} is refused with the kubernetes backend: ${why}`);
  }
}

/**
 * At load: a section (or rule) that sets the kubernetes backend may not set what a pod cannot honour, wherever in it
 * either is written (a later BACKEND=docker in the same section does not excuse it: the section says both).
 */
export function checkKubernetesBlock(settings: Setting[]): void {
  if (!settings.some((s) => s.key === 'backend' && s.backend === 'kubernetes')) return;
  for (const s of settings) {
    if (s.key === 'dockerParameters') checkPodFlags(s.flags, PROBE_VARS);
    if (s.key === 'networkPerUser' && s.bool) throw new PolicyError(s.origin, NETWORK_PER_USER_REFUSED);
  }
}

export const NETWORK_PER_USER_REFUSED = "NETWORKPERUSER (networkPerUser) is refused with the kubernetes backend: a pod is on the cluster's pod network (confine it with a NetworkPolicy)";
