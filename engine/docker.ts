// Every dockerode call in DoSH lives here. Callers get plain data and typed errors (lib/errors.ts), never dockerode
// objects or message strings. The socket path is always explicit: DOCKER_HOST and friends are never read.
import type Docker from 'dockerode';
import type { ContainerCreate, HostConfig } from '../api/policy.ts';
import { ConflictError, InvalidError, NotFoundError, UnavailableError } from '../lib/errors.ts';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Every state the engine reports for a container (State.Status). */
export const CONTAINER_STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

/** A network a request names does not exist. The engine says which only in its message: read here, and only here. */
export class NetworkNotFoundError extends NotFoundError {
  override name = 'NetworkNotFoundError';
  constructor(
    readonly network: string,
    message: string,
  ) {
    super(message);
  }
}

/** The engine answered, with a failure of its own (HTTP 5xx): it is up, the operation failed. */
export class EngineFailedError extends UnavailableError {
  override name = 'EngineFailedError';
}

/** The image of a container to create does not exist on this host. */
export class ImageNotFoundError extends NotFoundError {
  override name = 'ImageNotFoundError';
  constructor(
    readonly image: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  /** True while its main process runs: also when paused or restarting, as the engine says (State.Running). */
  running: boolean;
  state: ContainerState;
  labels: Record<string, string>;
  pid: number;
  startedAt: string;
  /** The container's main command: for a DoSH container, the shell of the policy it was created with. */
  cmd: string[];
  /** Its environment (the image's and the create body's): where its PATH is. */
  env: string[];
}

/** What is at a path inside a container, symlinks followed within the container (the engine resolves them there). */
export interface PathStat {
  kind: 'file' | 'directory' | 'other';
  /** Permission bits. */
  mode: number;
}

/** Go's os.FileMode bits, as the engine reports a path's mode (bitwise in 32 bits: the directory bit is the sign bit). */
const GO_DIR = 1 << 31;
const GO_SYMLINK = 1 << 27;
/** ModeType: directory, symlink, named pipe, socket, device, character device, irregular. */
const GO_TYPE = GO_DIR | GO_SYMLINK | (1 << 25) | (1 << 24) | (1 << 26) | (1 << 21) | (1 << 19);

export interface ContainerSummary {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  /** The networks the container is configured on (stopped containers included). */
  networks?: string[];
}

export interface NetworkInfo {
  id: string;
  name: string;
  driver: string;
  scope: string;
  internal: boolean;
  subnets: string[];
  labels: Record<string, string>;
  /** The containers attached on this host, as the network's inspect lists them. */
  containers: { id: string; name: string; ipv4: string }[];
}

/** How a declared network is made (api/policy.ts NetworkDecl without the name). */
export interface NetworkSpec {
  driver: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal: boolean;
  options: Record<string, string>;
}

/** A process of a running container, by host pid. */
export interface ContainerProcess {
  pid: number;
  ppid: number;
}

export interface ExecRequest {
  argv: string[];
  env: string[];
  user: string;
  workingDir?: string;
  tty: boolean;
}

export interface ExecState {
  running: boolean;
  exitCode: number | null;
  pid: number;
}

/** The Docker Engine API create body: the policy's settings (api/policy.ts) and what DoSH forces on top of them. */
export type CreateBody = Omit<ContainerCreate, 'HostConfig'> & {
  HostConfig?: HostConfig;
  Image: string;
  Cmd?: string[];
  Tty?: boolean;
  OpenStdin?: boolean;
  StopSignal?: string;
  User?: string;
};

/** The contents of a tar's first entry when it is a regular file of at most `max` bytes (ustar: size in octal at 124). */
export function firstTarFile(tar: Buffer, max: number): Buffer | undefined {
  if (tar.length < 512) return undefined;
  const type = String.fromCharCode(tar[156]);
  if (type !== '0' && type !== '\0') return undefined;
  const size = parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || 'x', 8);
  if (!Number.isSafeInteger(size) || size > max || tar.length < 512 + size) return undefined;
  return tar.subarray(512, 512 + size);
}

/** The network an engine message says is missing ("network NAME not found"), if it names one. */
function missingNetworkIn(message: string): string | undefined {
  return /network (\S+) not found/i.exec(message)?.[1];
}

/** A state the engine reports, checked: an unknown one (a newer engine) is treated as the one nearest in meaning. */
function containerState(status: string, running: boolean): ContainerState {
  return (CONTAINER_STATES as readonly string[]).includes(status) ? (status as ContainerState) : running ? 'running' : 'exited';
}

function mapError(err: unknown, what: string): Error {
  const e = err as { statusCode?: number; code?: string; json?: { message?: string }; message?: string };
  const detail = e?.json?.message ?? e?.message ?? String(err);
  if (e?.statusCode === 404) return new NotFoundError(`${what}: ${detail}`);
  if (e?.statusCode === 409) return new ConflictError(`${what}: ${detail}`);
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new InvalidError(`${what}: ${detail}`);
  if (e?.statusCode && e.statusCode >= 500) return new EngineFailedError(`${what}: ${detail}`);
  return new UnavailableError(`${what}: ${detail}`);
}

export class Engine {
  private docker?: Promise<Docker>;

  constructor(
    readonly socketPath: string = DEFAULT_DOCKER_SOCKET,
    /** Told of every failed engine call, by operation (doshd counts them in dosh_engine_errors_total). */
    private readonly onError: (operation: string, err: Error) => void = () => {},
    /** A bound on each request, so a hung (not dead) engine cannot stall a caller forever (no call here streams). */
    private readonly requestTimeoutMs?: number,
  ) {}

  private async call<T>(operation: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = mapError(err, what);
      this.onError(operation, e);
      throw e;
    }
  }

  /** dockerode is loaded on first use: doshctl commands that never reach the engine do not pay for it. */
  private client(): Promise<Docker> {
    this.docker ??= import('dockerode').then((m) => new m.default({ socketPath: this.socketPath, timeout: this.requestTimeoutMs }));
    return this.docker;
  }

  async ping(): Promise<void> {
    await this.call('ping', 'ping the Docker engine', async () => (await this.client()).ping());
  }

  async inspectContainer(nameOrId: string): Promise<ContainerInfo> {
    const c = await this.call('inspect_container', `inspect container ${nameOrId}`, async () => (await this.client()).getContainer(nameOrId).inspect());
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      image: c.Config.Image,
      running: c.State.Running,
      state: containerState(c.State.Status, c.State.Running),
      labels: c.Config.Labels ?? {},
      pid: c.State.Pid,
      startedAt: c.State.StartedAt,
      cmd: c.Config.Cmd ?? [],
      env: c.Config.Env ?? [],
    };
  }

  /**
   * What is at PATH in a container (HEAD /containers/ID/archive: the engine resolves the path in the container's
   * filesystem and mounts, never the host's); undefined when nothing is there. A symlink is followed: the engine
   * gives its target resolved within the container.
   */
  async statPath(containerId: string, path: string): Promise<PathStat | undefined> {
    for (let hops = 0, p = path; hops < 2; hops++) {
      let res: { headers: Record<string, string | string[] | undefined>; resume?: () => void };
      try {
        res = await this.call('stat_path', `stat ${p} in container ${containerId}`, async () => (await this.client()).getContainer(containerId).infoArchive({ path: p }));
      } catch (e) {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      }
      res.resume?.();
      const raw = res.headers['x-docker-container-path-stat'];
      const st = JSON.parse(Buffer.from(String(raw ?? ''), 'base64').toString('utf8') || '{}') as { mode?: number; linkTarget?: string };
      const mode = Number(st.mode ?? 0);
      if ((mode & GO_SYMLINK) !== 0) {
        if (!st.linkTarget) return undefined;
        p = st.linkTarget;
        continue;
      }
      return { kind: (mode & GO_DIR) !== 0 ? 'directory' : (mode & GO_TYPE) === 0 ? 'file' : 'other', mode: mode & 0o777 };
    }
    return undefined;
  }

  /**
   * A small regular file of a container (GET /containers/ID/archive: a tar holding it, read from the container's
   * filesystem and mounts), or undefined when it is missing, not a regular file, or larger than `max` bytes.
   */
  async readFile(containerId: string, path: string, max = 1 << 20): Promise<Buffer | undefined> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.call('read_file', `read ${path} in container ${containerId}`, async () => (await this.client()).getContainer(containerId).getArchive({ path }));
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const c of stream as AsyncIterable<Buffer>) {
      chunks.push(c);
      got += c.length;
      if (got > max + 1024) break;
    }
    (stream as unknown as { destroy?: () => void }).destroy?.();
    return firstTarFile(Buffer.concat(chunks), max);
  }

  async listContainers(label: string): Promise<ContainerSummary[]> {
    const list = await this.call('list_containers', 'list containers', async () => (await this.client()).listContainers({ all: true, filters: { label: [label] } }));
    return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), state: c.State, labels: c.Labels ?? {}, networks: Object.keys(c.NetworkSettings?.Networks ?? {}) }));
  }

  /** Every network with its attached containers: the list endpoint leaves Containers empty, so each is inspected. */
  async listNetworks(label?: string): Promise<NetworkInfo[]> {
    const d = await this.client();
    const nets = await this.call('list_networks', 'list networks', () => d.listNetworks(label ? { filters: { label: [label] } } : {}));
    const inspected = await Promise.all(
      nets.map((n) =>
        this.call('inspect_network', `inspect network ${n.Name}`, () => d.getNetwork(n.Id).inspect() as Promise<Docker.NetworkInspectInfo>).catch((e) => {
          if (e instanceof NotFoundError) return undefined; // removed between the list and the inspect
          throw e;
        }),
      ),
    );
    return inspected
      .filter((n) => n !== undefined)
      .map((n) => ({
        id: n.Id,
        name: n.Name,
        driver: n.Driver,
        scope: n.Scope,
        internal: !!n.Internal,
        subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter(Boolean),
        labels: n.Labels ?? {},
        containers: Object.entries(n.Containers ?? {}).map(([id, c]) => ({ id, name: c.Name, ipv4: c.IPv4Address ?? '' })),
      }));
  }

  /**
   * Creates a network: a bridge on a subnet the engine picks, or as a policy declares it. A ConflictError when the name
   * is taken; an InvalidError when the engine refuses the declaration (a subnet that overlaps another, say).
   */
  async createNetwork(name: string, labels: Record<string, string>, decl?: NetworkSpec): Promise<string> {
    const body: Docker.NetworkCreateOptions = { Name: name, Driver: decl?.driver ?? 'bridge', CheckDuplicate: true, Labels: labels };
    if (decl) {
      body.Internal = decl.internal;
      body.Options = decl.options;
      if (decl.subnet) body.IPAM = { Driver: 'default', Config: [{ Subnet: decl.subnet, Gateway: decl.gateway, IPRange: decl.ipRange }] };
    }
    const n = await this.call('create_network', `create network ${name}`, async () => (await this.client()).createNetwork(body));
    return n.id;
  }

  /** The network's labels, or NotFoundError. */
  async inspectNetwork(name: string): Promise<{ id: string; name: string; labels: Record<string, string> }> {
    const n = (await this.call('inspect_network', `inspect network ${name}`, async () => (await this.client()).getNetwork(name).inspect())) as Docker.NetworkInspectInfo;
    return { id: n.Id, name: n.Name, labels: n.Labels ?? {} };
  }

  /** NetworkNotFoundError when the network does not exist (NotFoundError when the container does not). */
  async connectNetwork(network: string, containerId: string): Promise<void> {
    try {
      await this.call('connect_network', `connect container ${containerId} to network ${network}`, async () => (await this.client()).getNetwork(network).connect({ Container: containerId }));
    } catch (e) {
      throw e instanceof NotFoundError && missingNetworkIn(e.message) ? new NetworkNotFoundError(network, e.message) : e;
    }
  }

  /** Gone already is success; a network still in use is a ConflictError (or InvalidError on older engines). */
  async removeNetwork(id: string): Promise<void> {
    try {
      await this.call('remove_network', `remove network ${id}`, async () => (await this.client()).getNetwork(id).remove());
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  /** The processes running in a container (host pids), as the engine's top lists them; NotFoundError when it is gone. */
  async containerProcesses(id: string): Promise<ContainerProcess[]> {
    const top = (await this.call('top_container', `list the processes of container ${id}`, async () => (await this.client()).getContainer(id).top({ ps_args: '-o pid,ppid' }))) as { Titles: string[]; Processes: string[][] | null };
    const pid = top.Titles.indexOf('PID');
    const ppid = top.Titles.indexOf('PPID');
    return (top.Processes ?? []).map((p) => ({ pid: Number(p[pid]), ppid: Number(p[ppid]) }));
  }

  /**
   * Not found can only be the image or the network of NetworkMode: an ImageNotFoundError or a NetworkNotFoundError,
   * so that a cold login pays no round trip to ask first.
   */
  async createContainer(name: string, body: CreateBody): Promise<string> {
    try {
      // The cast: @types/dockerode lags the Engine API (a tmpfs mount has no Source; newer mount types); the body's
      // own type comes from the schema in api/policy.ts.
      const c = await this.call('create_container', `create container ${name}`, async () => (await this.client()).createContainer({ ...body, name } as Docker.ContainerCreateOptions));
      return c.id;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      const mode = body.HostConfig?.NetworkMode;
      const network = missingNetworkIn(e.message) ?? (mode && /network/i.test(e.message) ? mode : undefined);
      throw network ? new NetworkNotFoundError(network, e.message) : new ImageNotFoundError(body.Image, e.message);
    }
  }

  /** Already running is success. A network it is configured on that no longer exists is a NetworkNotFoundError. */
  async startContainer(id: string): Promise<void> {
    try {
      await (await this.client()).getContainer(id).start();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 304) return; // already running: the goal is reached
      const e = mapError(err, `start container ${id}`);
      this.onError('start_container', e);
      const network = e instanceof NotFoundError ? missingNetworkIn(e.message) : undefined;
      throw network ? new NetworkNotFoundError(network, e.message) : e;
    }
  }

  async removeContainer(id: string, force = true): Promise<void> {
    try {
      await this.call('remove_container', `remove container ${id}`, async () => (await this.client()).getContainer(id).remove({ force, v: false }));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  /** Gives a container another name (the engine renames a container in any state, a dead one included). */
  async renameContainer(id: string, name: string): Promise<void> {
    await this.call('rename_container', `rename container ${id} to ${name}`, async () => (await this.client()).getContainer(id).rename({ name }));
  }

  async createExec(containerId: string, req: ExecRequest): Promise<string> {
    const exec = await this.call('create_exec', `create exec in ${containerId}`, async () =>
      (await this.client()).getContainer(containerId).exec({
        Cmd: req.argv,
        Env: req.env,
        User: req.user,
        WorkingDir: req.workingDir,
        Tty: req.tty,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      }),
    );
    return exec.id;
  }

  async inspectExec(execId: string): Promise<ExecState> {
    const e = await this.call('inspect_exec', `inspect exec ${execId}`, async () => (await this.client()).getExec(execId).inspect());
    return { running: e.Running, exitCode: e.ExitCode ?? null, pid: e.Pid };
  }

  async resizeExec(execId: string, rows: number, cols: number): Promise<void> {
    await this.call('resize_exec', `resize exec ${execId}`, async () => (await this.client()).getExec(execId).resize({ h: rows, w: cols }));
  }
}
