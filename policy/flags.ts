// The supported docker run flags: how each value is checked and what it sets in the create body.
// Values are parsed as the docker CLI parses them; unsafe values go through Collector.unsafe.
import { Collector, normalizeCap } from './collector.ts';
import { parseGpus } from './gpus.ts';
import { hostPathProblem } from './host-path.ts';
import { mountExposes, parseDevice, parseMount, parseVolume, reservedTarget } from './mounts.ts';
import { canonicalIP, extraHost } from './net-addr.ts';
import type { FlagOcc } from './types.ts';
import { PolicyError } from './errors.ts';
import { parseGoBool, parseGoInt, parseNanoCpus, ramInBytes } from './units.ts';
import * as path from 'node:path';

function bad(occ: FlagOcc, reason: string): never {
  throw new PolicyError(occ.origin, `${occ.written}: ${reason}`);
}

export interface FlagSpec {
  name: string;
  aliases?: string[];
  short?: string;
  bool?: boolean;
  /** A representative value (for SUPPORTED_FLAGS and the docs). */
  example: string;
  apply(c: Collector, v: string, occ: FlagOcc): void;
}

/** capabilities(7) as of Linux 6.x, plus ALL: docker refuses any other name when the container is created. */
const KNOWN_CAPS = new Set(
  ['ALL', ...'CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE'.split(' ').map((c) => `CAP_${c}`)],
);
/**
 * The capabilities a policy may add without the unsafe opt-in. Her processes run as her uid with no-new-privileges, so
 * an added capability stays in the bounding set (no setuid or file-capability binary can raise it); these five could
 * not reach past her own container even if a process held them: signals in her own pid namespace (KILL), ports below
 * 1024 in her own network namespace (NET_BIND_SERVICE), broadcast sockets (NET_BROADCAST, unused by the kernel),
 * chroot with no setuid binary to trick (SYS_CHROOT), and alarm timers that wake a suspended machine (WAKE_ALARM).
 * Every other one acts on files, processes or traffic beyond her own (CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETFCAP,
 * MKNOD on bind-mounted host directories; NET_RAW and NET_ADMIN spoof other containers on a shared bridge;
 * AUDIT_WRITE floods the host's audit log) or is a known escape (SYS_ADMIN, SYS_PTRACE, ...).
 */
export const SAFE_CAPS: ReadonlySet<string> = new Set(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_SYS_CHROOT', 'CAP_WAKE_ALARM']);
const ULIMITS = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$/;
const CPUSET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
const NETWORK = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function int(occ: FlagOcc, v: string, min = -Infinity, max = Infinity): number {
  const n = parseGoInt(v);
  if (n === null) bad(occ, `expected an integer, got ${JSON.stringify(v)}`);
  if (n < min || n > max) bad(occ, `${n} is out of range (${min} to ${max})`);
  return n;
}

function bytes(occ: FlagOcc, v: string): number {
  const n = ramInBytes(v);
  if (n === null) bad(occ, `invalid size ${JSON.stringify(v)} (a number with an optional unit b, k, m, g, t, p)`);
  return n;
}

function bool(occ: FlagOcc, v: string): boolean {
  const b = parseGoBool(v);
  if (b === null) bad(occ, `expected true or false, got ${JSON.stringify(v)}`);
  return b;
}

function hostPathCheck(c: Collector, occ: FlagOcc, p: string): void {
  const d = hostPathProblem(p, c.hostFor(occ));
  if (d) c.unsafe(occ, `${occ.written} ${d}`);
}

function throttle(occ: FlagOcc, v: string, iops: boolean) {
  const i = v.indexOf(':');
  const dev = i === -1 ? '' : v.slice(0, i);
  const rate = v.slice(i + 1);
  if (dev === '') bad(occ, `bad format ${JSON.stringify(v)} (expected /dev/DEVICE:RATE)`);
  if (!dev.startsWith('/dev/')) bad(occ, `bad format for device path ${JSON.stringify(dev)} (must start with /dev/)`);
  const n = iops ? (/^\d+$/.test(rate) ? parseGoInt(rate, 10) : null) : ramInBytes(rate);
  if (n === null || n < 0) bad(occ, `invalid rate ${JSON.stringify(rate)}`);
  return { Path: dev, Rate: n };
}

function mode(field: 'PidMode' | 'IpcMode' | 'UTSMode' | 'UsernsMode' | 'CgroupnsMode', valid: string[], unsafe: (v: string) => boolean) {
  return (c: Collector, v: string, occ: FlagOcc) => {
    const ok = valid.includes(v) || (valid.includes('container:') && v.startsWith('container:') && v.length > 10);
    if (!ok) bad(occ, `invalid mode ${JSON.stringify(v)} (valid: ${valid.map((x) => (x === '' ? '""' : x === 'container:' ? 'container:NAME' : x)).join(', ')})`);
    if (unsafe(v)) c.unsafe(occ, `${occ.written}=${v}`);
    c.modes[field] = v;
    c.at('HostConfig.' + field, occ);
  };
}

export const FLAG_SPECS: FlagSpec[] = [
  {
    name: 'volume', short: 'v', example: '/srv/data:/data:ro',
    apply(c, v, occ) {
      const s = parseVolume(v);
      if (typeof s === 'string') bad(occ, s);
      if (s.kind === 'bind') hostPathCheck(c, occ, s.source);
      if (s.kind === 'anonymous') {
        c.volumes.push(s.target);
        c.at('Volumes', occ);
      } else {
        c.binds.push(v);
        c.at('HostConfig.Binds', occ);
      }
    },
  },
  {
    name: 'mount', example: 'type=bind,source=/srv/data,target=/data,readonly',
    apply(c, v, occ) {
      const m = parseMount(v);
      if (typeof m === 'string') bad(occ, m);
      const exposed = mountExposes(m);
      if (exposed && 'hostPath' in exposed) hostPathCheck(c, occ, exposed.hostPath);
      else if (exposed) c.unsafe(occ, `${occ.written} mounting ${exposed.problem}`);
      c.mounts.push(m);
      c.at('HostConfig.Mounts', occ);
    },
  },
  {
    name: 'tmpfs', example: '/run:size=64m',
    apply(c, v, occ) {
      const i = v.indexOf(':');
      const p = i === -1 ? v : v.slice(0, i);
      if (!path.posix.isAbsolute(p)) bad(occ, `tmpfs path must be absolute: ${JSON.stringify(p)}`);
      const reserved = reservedTarget(p);
      if (reserved) bad(occ, reserved);
      c.tmpfs[p] = i === -1 ? '' : v.slice(i + 1);
      c.at('HostConfig.Tmpfs', occ);
    },
  },
  {
    name: 'workdir', short: 'w', example: '/home/alice',
    apply(c, v, occ) {
      if (!path.posix.isAbsolute(v)) bad(occ, `working directory must be an absolute path: ${JSON.stringify(v)}`);
      c.workdir = v;
      c.at('WorkingDir', occ);
    },
  },
  {
    name: 'env', short: 'e', example: 'LANG=C.UTF-8',
    apply(c, v, occ) {
      const eq = v.indexOf('=');
      if (eq === 0 || v === '') bad(occ, `invalid environment variable ${JSON.stringify(v)}: empty name`);
      if (eq === -1) bad(occ, `${JSON.stringify(v)} has no value: docker would copy it from doshd's own environment; write NAME=VALUE`);
      c.env.push(v);
      c.at('Env', occ);
    },
  },
  {
    name: 'env-file', example: '/etc/dosh/env',
    apply(c, _v, occ) {
      c.envFile.push(...(occ.envFile ?? []));
      c.at('Env', occ);
    },
  },
  {
    name: 'memory', short: 'm', example: '2g',
    apply(c, v, occ) {
      c.memory = bytes(occ, v);
      // The engine's own minimum: a smaller limit would be refused at container creation, i.e. at her login.
      if (c.memory > 0 && c.memory < 6 * 1024 * 1024) bad(occ, `memory limit ${v} is below the engine's minimum of 6 MiB`);
      c.at('HostConfig.Memory', occ);
    },
  },
  {
    name: 'memory-swap', example: '-1',
    apply(c, v, occ) {
      c.memorySwap = v === '-1' ? -1 : bytes(occ, v);
      c.at('HostConfig.MemorySwap', occ);
    },
  },
  { name: 'memory-reservation', example: '1g', apply(c, v, occ) { c.memoryReservation = bytes(occ, v); c.at('HostConfig.MemoryReservation', occ); } },
  {
    name: 'cpus', example: '1.5',
    apply(c, v, occ) {
      const n = parseNanoCpus(v);
      if (n === null) bad(occ, `expected a number of CPUs with at most 9 decimals, got ${JSON.stringify(v)}`);
      c.nanoCpus = n;
      c.at('HostConfig.NanoCpus', occ);
    },
  },
  { name: 'cpu-shares', short: 'c', example: '512', apply(c, v, occ) { c.cpuShares = int(occ, v); c.at('HostConfig.CpuShares', occ); } },
  {
    name: 'cpuset-cpus', example: '0-3',
    apply(c, v, occ) {
      if (!CPUSET.test(v)) bad(occ, `invalid CPU list ${JSON.stringify(v)} (e.g. 0-3 or 0,1)`);
      c.cpusetCpus = v;
      c.at('HostConfig.CpusetCpus', occ);
    },
  },
  { name: 'pids-limit', example: '512', apply(c, v, occ) { c.pidsLimit = int(occ, v); c.at('HostConfig.PidsLimit', occ); } },
  {
    name: 'device', example: '/dev/fuse',
    apply(c, v, occ) {
      const d = parseDevice(v);
      if (typeof d === 'string') bad(occ, d);
      c.devices.push(d);
      c.at('HostConfig.Devices', occ);
    },
  },
  {
    name: 'gpus', example: 'all',
    apply(c, v, occ) {
      const g = parseGpus(v);
      if (typeof g === 'string') bad(occ, g);
      c.gpus.push(g);
      c.at('HostConfig.DeviceRequests', occ);
    },
  },
  {
    name: 'cap-add', example: 'NET_BIND_SERVICE',
    apply(c, v, occ) {
      if (v.trim() === '') bad(occ, 'empty capability');
      if (!KNOWN_CAPS.has(normalizeCap(v))) bad(occ, `unknown capability ${JSON.stringify(v)} (see capabilities(7); docker refuses it)`);
      if (!SAFE_CAPS.has(normalizeCap(v))) c.unsafe(occ, `${occ.written} ${v}`, `only ${[...SAFE_CAPS].map((x) => x.slice(4)).join(', ')} can be added without the opt-in (docs/POLICY.md says why)`);
      c.capAdd.push(v);
      c.at('HostConfig.CapAdd', occ);
    },
  },
  {
    name: 'cap-drop', example: 'ALL',
    // Accepted, as policies written for docker run carry it, but DoSH drops ALL whatever it says (collector.ts).
    apply(_c, v, occ) {
      if (v.trim() === '') bad(occ, 'empty capability');
      if (!KNOWN_CAPS.has(normalizeCap(v))) bad(occ, `unknown capability ${JSON.stringify(v)} (see capabilities(7); docker refuses it)`);
    },
  },
  {
    name: 'network', aliases: ['net'], example: 'bridge',
    apply(c, v, occ) {
      if (v.includes('=') || v.includes(',')) bad(occ, `only a network name is supported, not advanced options: ${JSON.stringify(v)}`);
      const isContainer = v.startsWith('container:') && v.length > 10;
      if (!isContainer && !NETWORK.test(v)) bad(occ, `invalid network name ${JSON.stringify(v)}`);
      if (v === 'host' || isContainer) c.unsafe(occ, `${occ.written}=${v}`);
      if (c.networks.includes(v)) bad(occ, `network ${JSON.stringify(v)} is given twice`);
      const exclusive = (n: string) => ['host', 'none', 'default'].includes(n) || n.startsWith('container:');
      // The docker CLI refuses bridge with other networks, the engine does not: bridge first and networks connected
      // after it is the default NAT interface plus extra ones, what the original's 00addinterface hook makes.
      if (c.networks.length && (exclusive(v) || v === 'bridge' || c.networks.some(exclusive))) {
        bad(occ, `cannot attach both ${JSON.stringify(c.networks[0])} and ${JSON.stringify(v)}: host, none and container: cannot be combined with other networks, and bridge only comes first`);
      }
      c.networks.push(v);
      c.at('HostConfig.NetworkMode', occ);
    },
  },
  {
    name: 'hostname', short: 'h', example: 'devbox',
    apply(c, v, occ) {
      if (!HOSTNAME.test(v)) bad(occ, `invalid hostname ${JSON.stringify(v)}`);
      c.hostname = v;
      c.at('Hostname', occ);
    },
  },
  {
    name: 'dns', example: '192.0.2.53',
    apply(c, v, occ) {
      const ip = canonicalIP(v);
      if (ip === null) bad(occ, `${JSON.stringify(v)} is not an IP address`);
      c.dns.push(ip);
      c.at('HostConfig.Dns', occ);
    },
  },
  {
    name: 'add-host', example: 'db.internal:192.0.2.10',
    apply(c, v, occ) {
      const h = extraHost(v);
      if (h === null) bad(occ, `bad format ${JSON.stringify(v)} (expected HOST:IP)`);
      c.extraHosts.push(h);
      c.at('HostConfig.ExtraHosts', occ);
    },
  },
  { name: 'read-only', bool: true, example: 'true', apply(c, v, occ) { c.readOnly = bool(occ, v); c.at('HostConfig.ReadonlyRootfs', occ); } },
  { name: 'shm-size', example: '256m', apply(c, v, occ) { c.shmSize = bytes(occ, v); c.at('HostConfig.ShmSize', occ); } },
  {
    name: 'ulimit', example: 'nofile=1024:2048',
    apply(c, v, occ) {
      const eq = v.indexOf('=');
      const name = v.slice(0, eq);
      if (eq === -1 || !ULIMITS.has(name)) bad(occ, `invalid ulimit ${JSON.stringify(v)} (expected NAME=SOFT[:HARD], NAME one of ${[...ULIMITS].join(', ')})`);
      const lim = v.slice(eq + 1).split(':');
      if (lim.length > 2) bad(occ, `too many limits in ${JSON.stringify(v)}`);
      const nums = lim.map((x) => (/^[+-]?\d+$/.test(x) ? parseGoInt(x, 10) : null));
      if (nums.some((n) => n === null)) bad(occ, `invalid ulimit value in ${JSON.stringify(v)}`);
      const soft = nums[0]!;
      const hard = nums[1] ?? soft;
      if (soft > hard) bad(occ, `ulimit soft limit ${soft} must be less than or equal to hard limit ${hard}`);
      const u = { Name: name, Soft: soft, Hard: hard };
      const at = c.ulimits.findIndex((x) => x.Name === name);
      if (at === -1) c.ulimits.push(u);
      else c.ulimits[at] = u;
      c.at('HostConfig.Ulimits', occ);
    },
  },
  {
    name: 'security-opt', example: 'no-new-privileges',
    apply(c, raw, occ) {
      // Sent as written, as the CLI does; a bare no-new-privileges means true.
      const v = raw.trim();
      let sep = v.indexOf('=');
      if (sep === -1) sep = v.indexOf(':');
      if (sep === -1 && v !== 'no-new-privileges') bad(occ, `invalid value ${JSON.stringify(raw)} (expected KEY=VALUE)`);
      const k = sep === -1 ? v : v.slice(0, sep);
      const val = sep === -1 ? 'true' : v.slice(sep + 1);
      if (!['label', 'apparmor', 'seccomp', 'no-new-privileges', 'systempaths'].includes(k)) bad(occ, `unknown security option ${JSON.stringify(k)} (docker knows label, apparmor, seccomp, no-new-privileges, systempaths)`);
      if (k === 'seccomp' && val !== 'unconfined' && val !== 'builtin') bad(occ, 'seccomp profile files are not supported (only builtin)');
      // Anything but the engine's own confinement: an SELinux label (label=type:spc_t runs unconfined, and every label
      // option changes the confinement), or an AppArmor profile other than docker-default, which may confine less.
      const off =
        ((k === 'seccomp' || k === 'apparmor') && val === 'unconfined') ||
        (k === 'apparmor' && val !== 'docker-default') ||
        (k === 'no-new-privileges' && parseGoBool(val) === false) ||
        k === 'label' ||
        (k === 'systempaths' && val === 'unconfined');
      if (k === 'no-new-privileges' && parseGoBool(val) === null) bad(occ, `invalid value for no-new-privileges: ${JSON.stringify(val)}`);
      if (off) c.unsafe(occ, `${occ.written} ${raw}`);
      // The CLI turns systempaths=unconfined into empty masked and read-only path lists.
      if (k === 'systempaths') {
        if (val !== 'unconfined') bad(occ, `invalid systempaths value ${JSON.stringify(val)}`);
        c.unconfinedSystemPaths = true;
      } else c.securityOpt.push(v);
      c.at('HostConfig.SecurityOpt', occ);
    },
  },
  { name: 'group-add', example: 'video', apply(c, v, occ) { if (v === '') bad(occ, 'empty group'); c.groupAdd.push(v); c.at('HostConfig.GroupAdd', occ); } },
  {
    name: 'label', short: 'l', example: 'team=research',
    apply(c, v, occ) {
      const eq = v.indexOf('=');
      const k = (eq === -1 ? v : v.slice(0, eq)).trim();
      if (k === '') bad(occ, `invalid label ${JSON.stringify(v)}: empty name`);
      if (/\s/.test(eq === -1 ? v : v.slice(0, eq))) bad(occ, `invalid label ${JSON.stringify(v)}: a label name cannot contain blanks`);
      if (/^(io\.)?dosh[.-]/i.test(k)) bad(occ, `label ${JSON.stringify(k)} is reserved for DoSH itself`);
      c.labels.push(eq === -1 ? k : k + '=' + v.slice(eq + 1));
      c.at('Labels', occ);
    },
  },
  { name: 'init', bool: true, example: 'true', apply(c, v, occ) { c.init = bool(occ, v); c.at('HostConfig.Init', occ); } },
  {
    name: 'restart', example: 'on-failure:3',
    apply(c, v, occ) {
      const i = v.indexOf(':');
      const name = i === -1 ? v : v.slice(0, i);
      const count = i === -1 ? '' : v.slice(i + 1);
      if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(name)) bad(occ, `invalid restart policy ${JSON.stringify(v)} (no, always, unless-stopped, on-failure[:N])`);
      let n = 0;
      if (count !== '') {
        if (name !== 'on-failure') bad(occ, `a maximum retry count is only allowed with on-failure`);
        const p = /^[+-]?\d+$/.test(count) ? parseGoInt(count, 10) : null;
        if (p === null || p < 0) bad(occ, `maximum retry count must be a non-negative integer`);
        n = p;
      }
      c.restart = { Name: name, MaximumRetryCount: n };
      c.at('HostConfig.RestartPolicy', occ);
    },
  },
  { name: 'log-driver', example: 'json-file', apply(c, v, occ) { c.logDriver = v; c.at('HostConfig.LogConfig', occ); } },
  {
    name: 'log-opt', example: 'max-size=10m',
    apply(c, v, occ) {
      if (!v.includes('=')) bad(occ, `invalid log option ${JSON.stringify(v)} (expected KEY=VALUE)`);
      c.logOpts.push(v);
      c.at('HostConfig.LogConfig', occ);
    },
  },
  { name: 'stop-timeout', example: '10', apply(c, v, occ) { c.stopTimeout = int(occ, v, -2147483648, 2147483647); c.at('StopTimeout', occ); } },
  { name: 'oom-score-adj', example: '500', apply(c, v, occ) { c.oomScoreAdj = int(occ, v, -1000, 1000); c.at('HostConfig.OomScoreAdj', occ); } },
  {
    name: 'blkio-weight', example: '300',
    apply(c, v, occ) {
      const n = int(occ, v, 0, 1000);
      if (n !== 0 && n < 10) bad(occ, 'blkio weight must be 0 or between 10 and 1000');
      c.blkioWeight = n;
      c.at('HostConfig.BlkioWeight', occ);
    },
  },
  { name: 'device-read-bps', example: '/dev/sda:10mb', apply(c, v, occ) { c.readBps.push(throttle(occ, v, false)); c.at('HostConfig.BlkioDeviceReadBps', occ); } },
  { name: 'device-write-bps', example: '/dev/sda:10mb', apply(c, v, occ) { c.writeBps.push(throttle(occ, v, false)); c.at('HostConfig.BlkioDeviceWriteBps', occ); } },
  { name: 'device-read-iops', example: '/dev/sda:1000', apply(c, v, occ) { c.readIOps.push(throttle(occ, v, true)); c.at('HostConfig.BlkioDeviceReadIOps', occ); } },
  { name: 'device-write-iops', example: '/dev/sda:1000', apply(c, v, occ) { c.writeIOps.push(throttle(occ, v, true)); c.at('HostConfig.BlkioDeviceWriteIOps', occ); } },
  // Accepted only so that a policy can opt in to them explicitly; each is unsafe.
  {
    name: 'privileged', bool: true, example: 'true',
    apply(c, v, occ) {
      const b = bool(occ, v);
      if (b) c.unsafe(occ, '--privileged');
      c.privileged = b;
      c.at('HostConfig.Privileged', occ);
    },
  },
  { name: 'pid', example: 'host', apply: mode('PidMode', ['', 'host', 'container:'], (v) => v !== '') },
  { name: 'ipc', example: 'private', apply: mode('IpcMode', ['', 'none', 'private', 'shareable', 'host', 'container:'], (v) => v === 'host' || v.startsWith('container:')) },
  { name: 'uts', example: 'host', apply: mode('UTSMode', ['', 'host'], (v) => v === 'host') },
  { name: 'userns', example: 'host', apply: mode('UsernsMode', ['', 'host'], (v) => v === 'host') },
  { name: 'cgroupns', example: 'private', apply: mode('CgroupnsMode', ['', 'host', 'private'], (v) => v === 'host') },
];

export const BY_LONG = new Map<string, FlagSpec>();
export const BY_SHORT = new Map<string, FlagSpec>();
for (const f of FLAG_SPECS) {
  BY_LONG.set(f.name, f);
  for (const a of f.aliases ?? []) BY_LONG.set(a, f);
  if (f.short) BY_SHORT.set(f.short, f);
}

/** Every supported flag with one representative argument, e.g. for a test against the docker CLI. */
export const SUPPORTED_FLAGS: ReadonlyArray<{ flag: string; aliases: string[]; short?: string; boolean: boolean; example: string; unsafeOnly: boolean }> =
  FLAG_SPECS.map((f) => ({
    flag: '--' + f.name,
    aliases: (f.aliases ?? []).map((a) => '--' + a),
    short: f.short ? '-' + f.short : undefined,
    boolean: !!f.bool,
    example: f.example,
    unsafeOnly: ['privileged', 'pid', 'uts', 'userns'].includes(f.name),
  }));
