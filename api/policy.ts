// Policy API: what the controller gets from the policy module for one user.
// The container settings use the Docker Engine API names and value shapes of
// `POST /containers/create` so they can be sent as they are.
import { z } from 'zod';
import { Backend, PodSettings } from './pod-settings.ts';

export const GroupRef = z.object({ name: z.string(), gid: z.number().int() });

export const UserInfo = z.object({
  name: z.string().min(1),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  home: z.string(),
  shell: z.string(),
  /** Every group of the user, the primary group included. */
  groups: z.array(GroupRef),
});
export type UserInfo = z.infer<typeof UserInfo>;

const StrMap = z.record(z.string(), z.string());

export const DeviceMapping = z.object({
  PathOnHost: z.string(),
  PathInContainer: z.string(),
  CgroupPermissions: z.string(),
});

export const DeviceRequest = z.object({
  Driver: z.string(),
  Count: z.number().int(),
  DeviceIDs: z.array(z.string()).nullable(),
  Capabilities: z.array(z.array(z.string())),
  Options: StrMap,
});

export const Ulimit = z.object({ Name: z.string(), Soft: z.number().int(), Hard: z.number().int() });

export const ThrottleDevice = z.object({ Path: z.string(), Rate: z.number().int().nonnegative() });

export const Mount = z.object({
  Type: z.enum(['bind', 'volume', 'tmpfs', 'npipe', 'cluster', 'image']),
  Source: z.string().optional(),
  Target: z.string(),
  ReadOnly: z.boolean().optional(),
  Consistency: z.string().optional(),
  BindOptions: z
    .object({
      Propagation: z.string().optional(),
      NonRecursive: z.boolean().optional(),
    })
    .optional(),
  VolumeOptions: z
    .object({
      NoCopy: z.boolean().optional(),
      Labels: StrMap.optional(),
      Subpath: z.string().optional(),
      DriverConfig: z.object({ Name: z.string().optional(), Options: StrMap.optional() }).optional(),
    })
    .optional(),
  TmpfsOptions: z
    .object({ SizeBytes: z.number().int().optional(), Mode: z.number().int().optional() })
    .optional(),
});
export type Mount = z.infer<typeof Mount>;

export const RestartPolicy = z.object({ Name: z.string(), MaximumRetryCount: z.number().int().optional() });
export const LogConfig = z.object({ Type: z.string(), Config: StrMap });

export const HostConfig = z.object({
  Binds: z.array(z.string()).optional(),
  Mounts: z.array(Mount).optional(),
  Memory: z.number().int().optional(),
  MemorySwap: z.number().int().optional(),
  MemoryReservation: z.number().int().optional(),
  NanoCpus: z.number().int().optional(),
  CpuShares: z.number().int().optional(),
  CpusetCpus: z.string().optional(),
  PidsLimit: z.number().int().optional(),
  Devices: z.array(DeviceMapping).optional(),
  DeviceRequests: z.array(DeviceRequest).optional(),
  CapAdd: z.array(z.string()).optional(),
  CapDrop: z.array(z.string()).optional(),
  NetworkMode: z.string().optional(),
  Dns: z.array(z.string()).optional(),
  ExtraHosts: z.array(z.string()).optional(),
  ReadonlyRootfs: z.boolean().optional(),
  Tmpfs: StrMap.optional(),
  ShmSize: z.number().int().optional(),
  Ulimits: z.array(Ulimit).optional(),
  SecurityOpt: z.array(z.string()).optional(),
  GroupAdd: z.array(z.string()).optional(),
  Init: z.boolean().optional(),
  RestartPolicy: RestartPolicy.optional(),
  LogConfig: LogConfig.optional(),
  OomScoreAdj: z.number().int().optional(),
  BlkioWeight: z.number().int().optional(),
  BlkioDeviceReadBps: z.array(ThrottleDevice).optional(),
  BlkioDeviceWriteBps: z.array(ThrottleDevice).optional(),
  BlkioDeviceReadIOps: z.array(ThrottleDevice).optional(),
  BlkioDeviceWriteIOps: z.array(ThrottleDevice).optional(),
  // Only ever set by a policy that opted in to unsafe settings.
  Privileged: z.boolean().optional(),
  PidMode: z.string().optional(),
  IpcMode: z.string().optional(),
  UTSMode: z.string().optional(),
  UsernsMode: z.string().optional(),
  CgroupnsMode: z.string().optional(),
  MaskedPaths: z.array(z.string()).optional(),
  ReadonlyPaths: z.array(z.string()).optional(),
});
export type HostConfig = z.infer<typeof HostConfig>;

export const ContainerCreate = z.object({
  Env: z.array(z.string()).optional(),
  WorkingDir: z.string().optional(),
  Hostname: z.string().optional(),
  Labels: StrMap.optional(),
  StopTimeout: z.number().int().optional(),
  /** Anonymous volumes (`-v /path`), as the docker CLI sends them. */
  Volumes: z.record(z.string(), z.object({})).optional(),
  HostConfig,
});
export type ContainerCreate = z.infer<typeof ContainerCreate>;

/** A network the policy declares: doshd creates it (labelled as its own) when a login first needs it, and removes it once unused. */
export const NetworkDecl = z.object({
  name: z.string(),
  driver: z.string(),
  subnet: z.string().optional(),
  gateway: z.string().optional(),
  ipRange: z.string().optional(),
  /** No route out: containers on it reach only each other. */
  internal: z.boolean(),
  /** Driver options, e.g. com.docker.network.bridge.name. */
  options: StrMap,
});
export type NetworkDecl = z.infer<typeof NetworkDecl>;

export const Provenance = z.object({ file: z.string(), line: z.number().int(), section: z.string() });
export type Provenance = z.infer<typeof Provenance>;

export const EffectivePolicy = z.object({
  image: z.string(),
  command: z.array(z.string()).min(1),
  prefixName: z.string(),
  /** Seconds a container is kept after its last session ends; 0 = forever. */
  idleTimeoutSeconds: z.number().int().nonnegative(),
  /** Longest a session may last, in seconds; 0 = unlimited. */
  maxSessionSeconds: z.number().int().nonnegative(),
  /** Concurrent sessions per user; 0 = unlimited. */
  maxSessionsPerUser: z.number().int().nonnegative(),
  runScripts: z.boolean(),
  scriptsFolder: z.string().nullable(),
  logFile: z.string().nullable(),
  debug: z.boolean(),
  verbose: z.boolean(),
  runCommands: z.boolean(),
  /** Each user's container on her own bridge network (dosh-net-USER) instead of the default bridge. */
  networkPerUser: z.boolean().default(false),
  /** Accounts whose login shell is not DoSH's may log in through it (by default they are refused: NotDoshShell). */
  allowOtherShell: z.boolean().default(false),
  /** A login with `ssh -A` gets SSH_AUTH_SOCK in her container, reaching her own agent for that login's length. */
  forwardAgent: z.boolean().default(false),
  /** Her terminal sessions are recorded (asciicast v2) into doshd's root-only recordings directory. */
  recordSessions: z.boolean().default(false),
  /** Where her container runs: this host's Docker engine, or a Pod in a cluster (then `pod` holds the pod's own settings). */
  backend: Backend.default('docker'),
  /** The pod's own settings, variables expanded, when the backend is kubernetes. */
  pod: PodSettings.optional(),
  /** One entry per unsafe setting this user's policy used (with its location), to log at login. */
  unsafe: z.array(z.string()),
  create: ContainerCreate,
  /** The docker run flags after expansion, one word each (`-v`, `/a:/b`): what hook scripts get as arguments. */
  dockerArgs: z.array(z.string()),
  /** `--network` values after the first (the first is create.HostConfig.NetworkMode). */
  extraNetworks: z.array(z.string()),
  /** The declared networks among the container's networks, to create when missing. */
  declaredNetworks: z.array(NetworkDecl).default([]),
  /** Which file/line/section set each setting; keys are field paths such as `image` or `create.HostConfig.Memory`. */
  provenance: z.record(z.string(), Provenance),
});
export type EffectivePolicy = z.infer<typeof EffectivePolicy>;
