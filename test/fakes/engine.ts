// An in-memory Docker engine for controller unit tests: records every call so tests assert the exact actions, and
// answers as the engine adapter (engine/docker.ts) does, with its typed errors, in every container state.
import { ImageNotFoundError, NetworkNotFoundError, type PathStat, type ExecState, type ContainerInfo, type ContainerProcess, type ContainerState, type ContainerSummary, type CreateBody, type NetworkInfo, type NetworkSpec } from '../../engine/docker.ts';
import type { EnginePort } from '../../controller/deps.ts';
import { ConflictError, NotFoundError, UnavailableError } from '../../lib/errors.ts';

type FakeContainer = Omit<ContainerInfo, 'running'> & { body?: CreateBody; networks?: string[] };

/** The states in which the engine says the main process runs (State.Running). */
const RUNNING: readonly ContainerState[] = ['running', 'paused', 'restarting'];
const BUILTIN_NETWORKS = ['bridge', 'host', 'none', 'default'];

export class FakeEngine implements EnginePort {
  actions: string[] = [];
  containers = new Map<string, FakeContainer>();
  /** Networks by name (the built-in bridge, host and none are not listed). */
  networks = new Map<string, { id: string; name: string; labels: Record<string, string> }>();
  images = new Set<string>(['busybox:latest']);
  down = false;
  /** An error createContainer throws, as the engine answers a request it will never accept. */
  createError: Error | undefined;
  /** Errors startContainer throws for a container (by id), as an engine restart can leave one unstartable. */
  startErrors = new Map<string, Error>();
  /** Errors removeContainer throws for a container (by id), as a dead container whose files are busy. */
  removeErrors = new Map<string, Error>();
  /** An error createNetwork throws. */
  networkError: Error | undefined;
  /** Processes of each container (by id) beyond its main process, as exec'd logins: their parent is outside it. */
  logins = new Map<string, number>();
  /** The files of each image, by path, as statPath and readFile find them in its containers (a directory has no content). */
  files = new Map<string, Map<string, { stat: PathStat; content?: string }>>();
  /** The environment each container gets (the image's: its PATH). */
  env = ['PATH=/usr/local/bin:/usr/bin:/bin'];
  private seq = 0;

  private check(): void {
    if (this.down) throw new UnavailableError('connect ENOENT /var/run/docker.sock');
  }

  private byNameOrId(key: string): FakeContainer | undefined {
    return this.containers.get(key) ?? [...this.containers.values()].find((c) => c.id === key);
  }

  /** Puts a container in a state, as the engine (an engine restart, docker pause, a restart policy) would. */
  setState(name: string, state: ContainerState): FakeContainer {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no container ${name}`);
    c.state = state;
    return c;
  }

  async inspectContainer(nameOrId: string): Promise<ContainerInfo> {
    this.check();
    this.actions.push(`inspect ${nameOrId}`);
    const c = this.byNameOrId(nameOrId);
    if (!c) throw new NotFoundError(`no such container ${nameOrId}`);
    const { body: _body, networks: _networks, ...info } = c;
    return { ...info, running: RUNNING.includes(c.state) };
  }

  async listContainers(label: string): Promise<ContainerSummary[]> {
    this.check();
    const [k, v] = label.split('=');
    return [...this.containers.values()].filter((c) => c.labels[k] === v).map((c) => ({ id: c.id, name: c.name, state: c.state, labels: c.labels, networks: c.networks ?? [] }));
  }

  async createContainer(name: string, body: CreateBody): Promise<string> {
    this.check();
    this.actions.push(`create ${name}`);
    if (this.createError) throw this.createError;
    if (!this.images.has(body.Image)) throw new ImageNotFoundError(body.Image, `No such image: ${body.Image}`);
    if (this.containers.has(name)) throw new ConflictError(`name ${name} in use`);
    const mode = body.HostConfig?.NetworkMode ?? 'bridge';
    if (!BUILTIN_NETWORKS.includes(mode) && !this.networks.has(mode)) throw new NetworkNotFoundError(mode, `network ${mode} not found`);
    const id = `c${++this.seq}`.padEnd(64, '0');
    this.containers.set(name, { id, name, image: body.Image, state: 'created', labels: body.Labels ?? {}, pid: 1000 * this.seq, startedAt: '', cmd: body.Cmd ?? [], env: [...this.env, ...(body.Env ?? [])], body, networks: [mode] });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.check();
    this.actions.push(`start ${id.slice(0, 4)}`);
    const c = this.byNameOrId(id);
    if (!c) throw new NotFoundError(id);
    // As the engine answers (daemon/start.go): running and restarting are "not modified", which the adapter takes as done.
    if (c.state === 'running' || c.state === 'restarting') return;
    if (c.state === 'paused') throw new ConflictError(`start container ${id}: cannot start a paused container, try unpause instead`);
    if (c.state === 'dead' || c.state === 'removing') throw new ConflictError(`start container ${id}: container is marked for removal and cannot be started`);
    const broken = this.startErrors.get(c.id);
    if (broken) throw broken;
    const gone = (c.networks ?? []).find((n) => !BUILTIN_NETWORKS.includes(n) && !this.networks.has(n));
    if (gone) throw new NetworkNotFoundError(gone, `start container ${id}: network ${gone} not found`);
    c.state = 'running';
  }

  async removeContainer(id: string): Promise<void> {
    this.check();
    this.actions.push(`remove ${id.slice(0, 4)}`);
    const c = this.byNameOrId(id);
    if (!c) return;
    const broken = this.removeErrors.get(c.id);
    if (broken) throw broken;
    if (c.state === 'removing') throw new ConflictError(`remove container ${id}: removal of container ${c.name} is already in progress`);
    this.containers.delete(c.name);
  }

  async renameContainer(id: string, name: string): Promise<void> {
    this.check();
    this.actions.push(`rename ${id.slice(0, 4)} ${name}`);
    const c = this.byNameOrId(id);
    if (!c) throw new NotFoundError(id);
    if (this.containers.has(name)) throw new ConflictError(`name ${name} in use`);
    this.containers.delete(c.name);
    c.name = name;
    this.containers.set(name, c);
  }

  async containerProcesses(id: string): Promise<ContainerProcess[]> {
    this.check();
    this.actions.push(`top ${id.slice(0, 4)}`);
    const c = this.byNameOrId(id);
    if (!c) throw new NotFoundError(id);
    const main = { pid: c.pid, ppid: 1 };
    return [main, { pid: c.pid + 1, ppid: c.pid }, ...Array.from({ length: this.logins.get(c.id) ?? 0 }, (_, i) => ({ pid: c.pid + 100 + i, ppid: 7 }))];
  }

  async statPath(containerId: string, path: string): Promise<PathStat | undefined> {
    this.check();
    this.actions.push(`stat ${path}`);
    const c = this.byNameOrId(containerId);
    if (!c) throw new NotFoundError(`no such container ${containerId}`);
    return this.files.get(c.image)?.get(path)?.stat;
  }

  async readFile(containerId: string, path: string): Promise<Buffer | undefined> {
    this.check();
    this.actions.push(`read ${path}`);
    const c = this.byNameOrId(containerId);
    if (!c) throw new NotFoundError(`no such container ${containerId}`);
    const f = this.files.get(c.image)?.get(path);
    return f?.content === undefined ? undefined : Buffer.from(f.content);
  }

  /** Puts files into an image: executables by path (mode 0755), or path -> content (mode 0644). */
  addFiles(image: string, programs: string[], texts: Record<string, string> = {}): void {
    const m = this.files.get(image) ?? new Map();
    for (const p of programs) m.set(p, { stat: { kind: 'file', mode: 0o755 } });
    for (const [p, content] of Object.entries(texts)) m.set(p, { stat: { kind: 'file', mode: 0o644 }, content });
    this.files.set(image, m);
  }

  /** Execs by id: their state as inspect reports it (tests set pid and exitCode as the process runs and ends). */
  execs = new Map<string, ExecState>();
  /** resize calls, as `ID ROWSxCOLS`. */
  resizes: string[] = [];

  async inspectExec(execId: string): Promise<ExecState> {
    this.check();
    const e = this.execs.get(execId);
    if (!e) throw new NotFoundError(`No such exec instance: ${execId}`);
    return { ...e };
  }

  async resizeExec(execId: string, rows: number, cols: number): Promise<void> {
    this.check();
    this.resizes.push(`${execId} ${rows}x${cols}`);
  }

  async createExec(containerId: string, req: { argv: string[]; user: string; tty: boolean }): Promise<string> {
    this.check();
    this.actions.push(`exec ${containerId.slice(0, 4)} ${req.user}${req.tty ? ' tty' : ''}: ${req.argv.join(' ')}`);
    const c = this.byNameOrId(containerId);
    if (!c) throw new NotFoundError(`no such container ${containerId}`);
    // As the engine answers (409) an exec in a container that is not running.
    if (c.state !== 'running') throw new ConflictError(`container ${c.name} is ${c.state === 'paused' || c.state === 'restarting' ? c.state : 'not running'}`);
    const id = `e${++this.seq}`;
    this.execs.set(id, { running: false, exitCode: null, pid: 0 });
    return id;
  }

  async inspectNetwork(name: string): Promise<{ id: string; name: string; labels: Record<string, string> }> {
    this.check();
    this.actions.push(`inspect-net ${name}`);
    const n = this.networks.get(name);
    if (!n) throw new NetworkNotFoundError(name, `network ${name} not found`);
    return { ...n };
  }

  async createNetwork(name: string, labels: Record<string, string>, decl?: NetworkSpec): Promise<string> {
    this.check();
    this.actions.push(`create-net ${name}${decl?.subnet ? ` ${decl.subnet}` : ''}`);
    if (this.networkError) throw this.networkError;
    if (this.networks.has(name)) throw new ConflictError(`network with name ${name} already exists`);
    const id = `n${++this.seq}`.padEnd(64, '0');
    this.networks.set(name, { id, name, labels });
    return id;
  }

  async connectNetwork(network: string, containerId: string): Promise<void> {
    this.check();
    this.actions.push(`connect ${network} ${containerId.slice(0, 4)}`);
    const c = this.byNameOrId(containerId);
    if (!c) throw new NotFoundError(`no such container ${containerId}`);
    // As the engine does: a created container is connected to a missing network, and its start fails.
    if (!this.networks.has(network) && RUNNING.includes(c.state)) throw new NetworkNotFoundError(network, `network ${network} not found`);
    c.networks = [...(c.networks ?? []), network];
  }

  async removeNetwork(id: string): Promise<void> {
    this.check();
    const n = [...this.networks.values()].find((x) => x.id === id || x.name === id);
    this.actions.push(`remove-net ${n?.name ?? id}`);
    if (n) this.networks.delete(n.name);
  }

  /** Attached containers are the running ones configured on the network, as the engine's inspect lists them. */
  async listNetworks(label?: string): Promise<NetworkInfo[]> {
    this.check();
    const [k, v] = (label ?? '').split('=');
    return [...this.networks.values()]
      .filter((n) => !label || n.labels[k] === v)
      .map((n) => ({
        id: n.id, name: n.name, driver: 'bridge', scope: 'local', internal: false, subnets: [], labels: n.labels,
        containers: [...this.containers.values()].filter((c) => RUNNING.includes(c.state) && c.networks?.includes(n.name)).map((c) => ({ id: c.id, name: c.name, ipv4: '' })),
      }));
  }

  /** Adds a network as if an earlier doshd (or the sysadmin, without labels) had made it. */
  seedNetwork(name: string, labels: Record<string, string> = {}): string {
    const id = `n${++this.seq}`.padEnd(64, '0');
    this.networks.set(name, { id, name, labels });
    return id;
  }

  /** Adds a container as if an earlier doshd (or the sysadmin, without labels) had made it. */
  seed(name: string, labels: Record<string, string>, running = true): FakeContainer {
    const id = `s${++this.seq}`.padEnd(64, '0');
    const c: FakeContainer = { id, name, image: 'busybox:latest', state: running ? 'running' : 'exited', labels, pid: 1000 * this.seq, startedAt: '', cmd: ['/bin/sh'], env: [...this.env] };
    this.containers.set(name, c);
    return c;
  }
}
