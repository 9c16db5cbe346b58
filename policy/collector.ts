// Collects translated docker run flags (last one wins for single values, lists accumulate,
// as with the docker CLI) and builds the Engine API create body with DoSH's secure defaults.
import type { ContainerCreate, HostConfig, Mount } from '../api/policy.ts';
import { PolicyError, type Origin } from './errors.ts';
import { kvMap } from './csv.ts';
import type { PolicyHost } from './host-path.ts';
import { isStatic } from './template.ts';
import { UNSAFE_KEY, type FlagOcc } from './types.ts';

export const BUILTIN: Origin = { file: '(built-in default)', line: 0, section: '(defaults)' };
export const DEFAULT_PIDS_LIMIT = 1024;
export const DEFAULT_SECURITY_OPT = 'no-new-privileges:true';

type DeviceMapping = NonNullable<HostConfig['Devices']>[number];
type DeviceRequest = NonNullable<HostConfig['DeviceRequests']>[number];
type Ulimit = NonNullable<HostConfig['Ulimits']>[number];
type Throttle = NonNullable<HostConfig['BlkioDeviceReadBps']>[number];

export class Collector {
  binds: string[] = [];
  volumes: string[] = [];
  mounts: Mount[] = [];
  env: string[] = [];
  envFile: string[] = [];
  labels: string[] = [];
  workdir?: string;
  hostname?: string;
  stopTimeout?: number;
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  nanoCpus?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  devices: DeviceMapping[] = [];
  gpus: DeviceRequest[] = [];
  capAdd: string[] = [];
  networks: string[] = [];
  dns: string[] = [];
  extraHosts: string[] = [];
  readOnly?: boolean;
  tmpfs: Record<string, string> = {};
  shmSize?: number;
  ulimits: Ulimit[] = [];
  securityOpt: string[] = [];
  unconfinedSystemPaths = false;
  groupAdd: string[] = [];
  init?: boolean;
  restart?: { Name: string; MaximumRetryCount: number };
  logDriver?: string;
  logOpts: string[] = [];
  oomScoreAdj?: number;
  blkioWeight?: number;
  readBps: Throttle[] = [];
  writeBps: Throttle[] = [];
  readIOps: Throttle[] = [];
  writeIOps: Throttle[] = [];
  privileged?: boolean;
  modes: Partial<Record<'PidMode' | 'IpcMode' | 'UTSMode' | 'UsernsMode' | 'CgroupnsMode', string>> = {};

  /** The unsafe settings used, each with its location. */
  unsafeUsed: string[] = [];
  prov: Record<string, Origin> = {};

  /**
   * @param host what host path checks may look at; none: only the paths as written are judged.
   * @param fsFor `static` at load time, when values hold a stand-in user: the host's files are looked at only for
   *   values without variables (the others are looked at for each user at her login).
   */
  constructor(
    private readonly host?: PolicyHost,
    private readonly fsFor: 'all' | 'static' = 'all',
  ) {}

  /** The host to check this flag's paths against. */
  hostFor(occ: FlagOcc): PolicyHost | undefined {
    if (this.fsFor === 'all') return this.host;
    const fixed = (occ.value === null || isStatic(occ.value)) && (occ.csv ?? []).every(([, t]) => t === null || isStatic(t));
    return fixed ? this.host : { enginePaths: this.host?.enginePaths };
  }

  /** Records which flag set a create field, for `explain`. */
  at(field: string, occ: FlagOcc): void {
    this.prov['create.' + field] = occ.origin;
  }

  /** `why` says what makes it unsafe, when `what` does not. */
  unsafe(occ: FlagOcc, what: string, why = "it weakens what confines the user's container (see the unsafe settings in docs/POLICY.md)"): void {
    if (!occ.unsafeOk) {
      throw new PolicyError(
        occ.origin,
        `${what} is refused: ${why}. ` +
          (occ.origin.yamlPath !== undefined
            ? 'Set allowUnsafeDockerParametersIUnderstandTheRisk: true in this rule to allow it anyway'
            : `Set ${UNSAFE_KEY}=true in this section to allow it anyway`),
      );
    }
    const o = occ.origin;
    this.unsafeUsed.push(`${what} (${o.file}:${o.line} [${o.section}])`);
  }

  /** Combinations the engine refuses at container creation, which would otherwise surface only at a login. */
  private checkMemory(): void {
    const swapAt = this.prov['create.HostConfig.MemorySwap'];
    const resAt = this.prov['create.HostConfig.MemoryReservation'];
    if (this.memorySwap !== undefined && this.memorySwap > 0 && swapAt) {
      if (this.memory === undefined || this.memory === 0) throw new PolicyError(swapAt, '--memory-swap needs a memory limit (-m/--memory) as well');
      if (this.memorySwap < this.memory) throw new PolicyError(swapAt, '--memory-swap (memory plus swap) must be at least the memory limit');
    }
    if (this.memoryReservation && this.memory && this.memoryReservation > this.memory && resAt) {
      throw new PolicyError(resAt, '--memory-reservation must not exceed the memory limit');
    }
  }

  private checkLogging(): void {
    const at = this.prov['create.HostConfig.LogConfig'];
    if (!at || !this.logOpts.length) return;
    if (this.logDriver === 'none') throw new PolicyError(at, '--log-opt cannot be used with --log-driver none');
    if (this.logDriver === 'json-file' || this.logDriver === 'local') {
      const known = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];
      for (const o of this.logOpts) {
        const k = o.slice(0, o.indexOf('='));
        if (!known.includes(k)) throw new PolicyError(at, `unknown log option ${JSON.stringify(k)} for the ${this.logDriver} log driver`);
      }
    }
  }

  /** The create body, with the secure defaults wherever the policy did not say otherwise. */
  build(): { create: ContainerCreate; extraNetworks: string[] } {
    const hc: HostConfig = {};
    const c: ContainerCreate = { HostConfig: hc };
    const def = (field: string) => (this.prov['create.' + field] ??= BUILTIN);

    if (this.envFile.length || this.env.length) c.Env = [...this.envFile, ...this.env];
    if (this.workdir !== undefined) c.WorkingDir = this.workdir;
    if (this.hostname !== undefined) c.Hostname = this.hostname;
    if (this.labels.length) c.Labels = kvMap(this.labels);
    if (this.stopTimeout !== undefined) c.StopTimeout = this.stopTimeout;
    if (this.volumes.length) c.Volumes = Object.fromEntries(this.volumes.map((v) => [v, {}]));

    this.checkMemory();
    this.checkLogging();
    if (this.binds.length) hc.Binds = this.binds;
    if (this.mounts.length) hc.Mounts = this.mounts;
    if (this.memory !== undefined) hc.Memory = this.memory;
    if (this.memorySwap !== undefined) hc.MemorySwap = this.memorySwap;
    if (this.memoryReservation !== undefined) hc.MemoryReservation = this.memoryReservation;
    if (this.nanoCpus !== undefined) hc.NanoCpus = this.nanoCpus;
    if (this.cpuShares !== undefined) hc.CpuShares = this.cpuShares;
    if (this.cpusetCpus !== undefined) hc.CpusetCpus = this.cpusetCpus;
    hc.PidsLimit = this.pidsLimit ?? DEFAULT_PIDS_LIMIT;
    def('HostConfig.PidsLimit');
    if (this.devices.length) hc.Devices = this.devices;
    if (this.gpus.length) hc.DeviceRequests = this.gpus;

    // Every capability is dropped, always, and only what the policy adds comes back: a --cap-drop list must not
    // replace the drop of ALL, which would leave the engine's default set (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...).
    const add = capList(this.capAdd);
    if (add.length) hc.CapAdd = add;
    hc.CapDrop = ['ALL'];
    this.prov['create.HostConfig.CapDrop'] = BUILTIN;

    if (this.networks.length) hc.NetworkMode = this.networks[0];
    if (this.dns.length) hc.Dns = this.dns;
    if (this.extraHosts.length) hc.ExtraHosts = this.extraHosts;
    if (this.readOnly !== undefined) hc.ReadonlyRootfs = this.readOnly;
    if (Object.keys(this.tmpfs).length) hc.Tmpfs = this.tmpfs;
    if (this.shmSize !== undefined) hc.ShmSize = this.shmSize;
    if (this.ulimits.length) hc.Ulimits = [...this.ulimits].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));

    const sec = [...this.securityOpt];
    if (!sec.some((o) => /^no-new-privileges([=:]|$)/.test(o))) {
      sec.push(DEFAULT_SECURITY_OPT);
      this.prov['create.HostConfig.SecurityOpt'] ??= BUILTIN;
    }
    hc.SecurityOpt = sec;
    if (this.unconfinedSystemPaths) {
      hc.MaskedPaths = [];
      hc.ReadonlyPaths = [];
    }
    if (this.groupAdd.length) hc.GroupAdd = this.groupAdd;
    hc.Init = this.init ?? true;
    def('HostConfig.Init');
    if (this.restart) hc.RestartPolicy = this.restart;
    if (this.logDriver !== undefined || this.logOpts.length) {
      hc.LogConfig = { Type: this.logDriver ?? '', Config: kvMap(this.logOpts) };
    }
    if (this.oomScoreAdj !== undefined) hc.OomScoreAdj = this.oomScoreAdj;
    if (this.blkioWeight !== undefined) hc.BlkioWeight = this.blkioWeight;
    if (this.readBps.length) hc.BlkioDeviceReadBps = this.readBps;
    if (this.writeBps.length) hc.BlkioDeviceWriteBps = this.writeBps;
    if (this.readIOps.length) hc.BlkioDeviceReadIOps = this.readIOps;
    if (this.writeIOps.length) hc.BlkioDeviceWriteIOps = this.writeIOps;
    if (this.privileged !== undefined) hc.Privileged = this.privileged;
    Object.assign(hc, this.modes);
    return { create: c, extraNetworks: this.networks.slice(1) };
  }
}

export function normalizeCap(c: string): string {
  const u = c.trim().toUpperCase();
  return u === 'ALL' || u.startsWith('CAP_') ? u : 'CAP_' + u;
}

/** The CapAdd the docker CLI (28.x, measured by test/integration/flags-vs-cli.test.ts) sends: normalized, de-duplicated, sorted. */
export function capList(caps: string[]): string[] {
  return [...new Set(caps.map(normalizeCap))].filter((c) => c !== 'RESET').sort();
}
