// Volume, mount, tmpfs and device values, parsed the way the docker CLI parses them, and the host paths and devices a
// mount would expose (which policy/host-path.ts judges).
import * as path from 'node:path';
import { DOSH_MOUNT_ROOT } from '../api/constants.ts';
import type { Mount } from '../api/policy.ts';
import { readCsvRecord } from './csv.ts';
import { ramInBytes, parseGoBool } from './units.ts';

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const MODES = new Set(['rw', 'ro', 'z', 'Z', 'nocopy', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'consistent', 'cached', 'delegated']);

export interface VolumeSpec {
  /** `bind`: absolute host path; `volume`: named volume; `anonymous`: -v /path. */
  kind: 'bind' | 'volume' | 'anonymous';
  source: string;
  target: string;
}

/** Why a mount target is not the policy's to use (DoSH's own mounts live there), or undefined. */
export function reservedTarget(target: string): string | undefined {
  const t = path.posix.normalize(target).replace(/\/+$/, '');
  return t === DOSH_MOUNT_ROOT || t.startsWith(`${DOSH_MOUNT_ROOT}/`) ? `${DOSH_MOUNT_ROOT} is reserved for DoSH's own mounts (its toolbox and agent sockets): cannot mount at ${JSON.stringify(target)}` : undefined;
}

/** `-v [SOURCE:]TARGET[:MODE]`; returns an error message string when invalid. */
export function parseVolume(spec: string): VolumeSpec | string {
  const parts = spec.split(':');
  if (parts.length > 3) return `too many ':' in volume ${JSON.stringify(spec)} (expected [SOURCE:]TARGET[:OPTIONS])`;
  if (parts.length === 1) {
    if (!path.posix.isAbsolute(spec)) return `volume target must be an absolute path: ${JSON.stringify(spec)}`;
    return reservedTarget(spec) ?? { kind: 'anonymous', source: '', target: spec };
  }
  const [source, target, mode] = parts;
  if (!path.posix.isAbsolute(target)) return `volume target must be an absolute path: ${JSON.stringify(target)}`;
  if (path.posix.normalize(target) === '/') return 'volume target cannot be /';
  const reserved = reservedTarget(target);
  if (reserved) return reserved;
  if (mode !== undefined) {
    const opts = mode.split(',');
    for (const o of opts) if (!MODES.has(o)) return `unknown volume option ${JSON.stringify(o)} (known: ${[...MODES].join(', ')})`;
    if (opts.filter((o) => o === 'ro' || o === 'rw').length > 1) return 'volume options may name only one of ro and rw';
  }
  if (source === '') return `volume source is empty in ${JSON.stringify(spec)}`;
  if (path.posix.isAbsolute(source)) return { kind: 'bind', source, target };
  if (VOLUME_NAME.test(source)) return { kind: 'volume', source, target };
  return `volume source must be an absolute host path or a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+): ${JSON.stringify(source)}`;
}

/** `--mount type=…,source=…,target=…` with the CLI's key names; returns an error string when invalid. */
export function parseMount(value: string): Mount | string {
  const fields = readCsvRecord(value);
  if (typeof fields === 'string') return `cannot read --mount value: ${fields}`;
  const m: Mount = { Type: 'volume', Target: '' };
  let vol: NonNullable<Mount['VolumeOptions']> | undefined;
  let bind: NonNullable<Mount['BindOptions']> | undefined;
  let tmpfs: NonNullable<Mount['TmpfsOptions']> | undefined;
  const volOpts = () => (vol ??= { DriverConfig: {} });
  const bindOpts = () => (bind ??= {});
  const tmpfsOpts = () => (tmpfs ??= {});
  const boolOf = (k: string, v: string): boolean | string => {
    const b = parseGoBool(v);
    return b === null ? `invalid value for ${k}: ${JSON.stringify(v)}` : b;
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      if (key === 'readonly' || key === 'ro') m.ReadOnly = true;
      else if (key === 'volume-nocopy') volOpts().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOpts().NonRecursive = true;
      else return `invalid field ${JSON.stringify(field)}: must be a key=value pair`;
      continue;
    }
    switch (key) {
      case 'type': {
        const t = val.toLowerCase();
        if (t !== 'bind' && t !== 'volume' && t !== 'tmpfs') return `unsupported mount type ${JSON.stringify(val)} (use bind, volume or tmpfs)`;
        m.Type = t;
        break;
      }
      case 'source':
      case 'src':
        m.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro': {
        const b = boolOf(key, val);
        if (typeof b === 'string') return b;
        m.ReadOnly = b;
        break;
      }
      case 'consistency':
        m.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOpts().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive': {
        const b = boolOf(key, val);
        if (typeof b === 'string') return b;
        bindOpts().NonRecursive = b;
        break;
      }
      case 'volume-nocopy': {
        const b = boolOf(key, val);
        if (typeof b === 'string') return b;
        volOpts().NoCopy = b;
        break;
      }
      case 'volume-subpath':
        // Within the volume: the engine refuses a path that leaves it, but a policy should say so at load time.
        if (val.startsWith('/') || val.split('/').includes('..')) return `volume-subpath must be a relative path inside the volume, got ${JSON.stringify(val)}`;
        volOpts().Subpath = val;
        break;
      case 'volume-label':
      case 'volume-opt': {
        const o = volOpts();
        const k = val.split('=', 1)[0];
        if (k === '') break;
        const v = val.slice(k.length + 1);
        if (key === 'volume-label') (o.Labels ??= {})[k] = v;
        else ((o.DriverConfig ??= {}).Options ??= {})[k] = v;
        break;
      }
      case 'volume-driver':
        (volOpts().DriverConfig ??= {}).Name = val;
        break;
      case 'tmpfs-size': {
        const n = ramInBytes(val);
        if (n === null) return `invalid value for tmpfs-size: ${JSON.stringify(val)}`;
        tmpfsOpts().SizeBytes = n;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff) return `invalid value for tmpfs-mode: ${JSON.stringify(val)}`;
        tmpfsOpts().Mode = parseInt(val, 8);
        break;
      }
      default:
        return `unexpected key ${JSON.stringify(key)} in ${JSON.stringify(field)}`;
    }
  }
  if (m.Target === '') return 'target is required';
  if (!path.posix.isAbsolute(m.Target)) return `mount target must be an absolute path: ${JSON.stringify(m.Target)}`;
  const reserved = reservedTarget(m.Target);
  if (reserved) return reserved;
  if (vol && m.Type !== 'volume') return `cannot mix 'volume-*' options with mount type '${m.Type}'`;
  if (bind && m.Type !== 'bind') return `cannot mix 'bind-*' options with mount type '${m.Type}'`;
  if (tmpfs && m.Type !== 'tmpfs') return `cannot mix 'tmpfs-*' options with mount type '${m.Type}'`;
  if (m.Type === 'bind' && !path.posix.isAbsolute(m.Source ?? '')) return `bind mount source must be an absolute host path: ${JSON.stringify(m.Source ?? '')}`;
  if (m.Type === 'volume' && m.Source && !VOLUME_NAME.test(m.Source)) return `invalid volume name ${JSON.stringify(m.Source)}`;
  if (m.Type === 'tmpfs' && m.Source) return 'a tmpfs mount has no source';
  // Omit empty fields, as Go's omitempty does in the request the CLI sends.
  if (m.Source === '') delete m.Source;
  if (m.ReadOnly === false) delete m.ReadOnly;
  if (m.Consistency === '') delete m.Consistency;
  if (bind) {
    if (!bind.Propagation) delete bind.Propagation;
    if (!bind.NonRecursive) delete bind.NonRecursive;
    m.BindOptions = bind;
  }
  if (vol) {
    if (!vol.NoCopy) delete vol.NoCopy;
    m.VolumeOptions = vol;
  }
  if (tmpfs) {
    if (!tmpfs.SizeBytes) delete tmpfs.SizeBytes;
    if (!tmpfs.Mode) delete tmpfs.Mode;
    m.TmpfsOptions = tmpfs;
  }
  return m;
}

/** Local-driver volume types that mount nothing of the host: memory, or a file system served over the network. */
const NETWORK_OR_MEMORY = new Set(['tmpfs', 'nfs', 'nfs4', 'cifs', 'smb3']);

/**
 * What a mount exposes of the host: a bind's source, or what a local-driver volume's options (`volume-opt`, which the
 * engine hands to mount(2) as root when it creates the volume) mount: `o=bind` binds its `device` path, and any other
 * type but memory and network file systems mounts a host device (`type=ext4,device=/dev/sda1`) or host directories
 * (`type=overlay,o=lowerdir=/etc`). Other volume drivers are plugins the sysadmin installed, and are not judged here.
 */
export function mountExposes(m: Mount): { hostPath: string } | { problem: string } | null {
  if (m.Type === 'bind') return m.Source ? { hostPath: m.Source } : null;
  const dc = m.VolumeOptions?.DriverConfig;
  const o = dc?.Options;
  if (m.Type !== 'volume' || !o || Object.keys(o).length === 0 || (dc?.Name ?? 'local') !== 'local') return null;
  const fsType = o.type ?? '';
  const device = o.device ?? '';
  if (/(^|,)r?bind(,|$)/.test(o.o ?? '')) return device.startsWith('/') ? { hostPath: device } : { problem: `a bind volume needs an absolute device path, got ${JSON.stringify(device)}` };
  if (NETWORK_OR_MEMORY.has(fsType) && !/^\/(?!\/)/.test(device)) return null;
  return { problem: `a local volume of type ${JSON.stringify(fsType)} on device ${JSON.stringify(device)}${o.o ? ` with options ${JSON.stringify(o.o)}` : ''}, which the engine mounts from the host as root (only tmpfs, nfs, nfs4, cifs and smb3 volumes, and binds of safe host paths, are allowed)` };
}

const DEVICE_MODE = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/** Go path.Clean. */
export function goClean(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** `--device HOST[:CONTAINER][:PERMISSIONS]` (docker's validateDevice + parseLinuxDevice, quirks included). */
export function parseDevice(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } | string {
  const arr = spec.split(':');
  if (arr.length > 3 || arr[0] === '') return `bad format for device ${JSON.stringify(spec)} (expected HOST[:CONTAINER][:PERMISSIONS])`;
  if (!arr[0].startsWith('/')) return `device path must be absolute (CDI device names are not supported): ${JSON.stringify(arr[0])}`;
  // validateDevice cleans the paths before parseLinuxDevice splits them again.
  if (arr.length === 1) arr[0] = goClean(arr[0]);
  else if (arr.length === 2) {
    if (DEVICE_MODE.test(arr[1])) arr[0] = goClean(arr[0]);
    else arr[1] = goClean(arr[1]);
  } else if (!DEVICE_MODE.test(arr[2])) return `bad device permissions ${JSON.stringify(arr[2])} (any of r, w, m)`;
  let perms = 'rwm';
  let dst = '';
  if (arr.length === 3) perms = arr[2];
  if (arr.length >= 2) {
    if (DEVICE_MODE.test(arr[1])) perms = arr[1];
    else dst = arr[1];
  }
  if (dst !== '' && !dst.startsWith('/')) return `device path in the container must be absolute: ${JSON.stringify(dst)}`;
  return { PathOnHost: arr[0], PathInContainer: dst || arr[0], CgroupPermissions: perms };
}
