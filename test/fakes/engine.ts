// An in-memory Docker engine for controller unit tests: records every call so tests assert the exact actions.
import type { ContainerInfo, ContainerSummary, CreateBody } from '../../engine/docker.ts';
import type { EnginePort } from '../../controller/controller.ts';
import { ConflictError, NotFoundError, UnavailableError } from '../../lib/errors.ts';

export class FakeEngine implements EnginePort {
  actions: string[] = [];
  containers = new Map<string, ContainerInfo & { body?: CreateBody }>();
  images = new Set<string>(['busybox:latest']);
  down = false;
  /** An error createContainer throws, as the engine answers a request it will never accept. */
  createError: Error | undefined;
  private seq = 0;

  private check(): void {
    if (this.down) throw new UnavailableError('connect ENOENT /var/run/docker.sock');
  }

  private byNameOrId(key: string) {
    return this.containers.get(key) ?? [...this.containers.values()].find((c) => c.id === key);
  }

  async inspectContainer(nameOrId: string): Promise<ContainerInfo> {
    this.check();
    this.actions.push(`inspect ${nameOrId}`);
    const c = this.byNameOrId(nameOrId);
    if (!c) throw new NotFoundError(`no such container ${nameOrId}`);
    return { ...c };
  }

  async listContainers(label: string): Promise<ContainerSummary[]> {
    this.check();
    const [k, v] = label.split('=');
    return [...this.containers.values()].filter((c) => c.labels[k] === v).map((c) => ({ id: c.id, name: c.name, state: c.status, labels: c.labels }));
  }

  async imageExists(image: string): Promise<boolean> {
    this.check();
    this.actions.push(`image ${image}`);
    return this.images.has(image);
  }

  async createContainer(name: string, body: CreateBody): Promise<string> {
    this.check();
    this.actions.push(`create ${name}`);
    if (this.createError) throw this.createError;
    if (!this.images.has(body.Image)) throw new NotFoundError(`No such image: ${body.Image}`);
    if (this.containers.has(name)) throw new ConflictError(`name ${name} in use`);
    const id = `c${++this.seq}`.padEnd(64, '0');
    this.containers.set(name, { id, name, image: body.Image, running: false, status: 'created', labels: body.Labels ?? {}, pid: 0, startedAt: '', cmd: (body.Cmd as string[]) ?? [], body });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.check();
    this.actions.push(`start ${id.slice(0, 4)}`);
    const c = this.byNameOrId(id);
    if (!c) throw new NotFoundError(id);
    c.running = true;
    c.status = 'running';
  }

  async removeContainer(id: string): Promise<void> {
    this.check();
    this.actions.push(`remove ${id.slice(0, 4)}`);
    const c = this.byNameOrId(id);
    if (c) this.containers.delete(c.name);
  }

  async createExec(containerId: string, req: { argv: string[]; user: string; tty: boolean }): Promise<string> {
    this.check();
    this.actions.push(`exec ${containerId.slice(0, 4)} ${req.user}${req.tty ? ' tty' : ''}: ${req.argv.join(' ')}`);
    return `e${++this.seq}`;
  }

  /** Adds a container as if an earlier doshd (or the sysadmin, without labels) had made it. */
  seed(name: string, labels: Record<string, string>, running = true): ContainerInfo {
    const id = `s${++this.seq}`.padEnd(64, '0');
    const c = { id, name, image: 'busybox:latest', running, status: running ? 'running' : 'exited', labels, pid: 0, startedAt: '', cmd: ['/bin/sh'] };
    this.containers.set(name, c);
    return c;
  }
}
