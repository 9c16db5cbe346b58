// A second login node on this host, for the fleet tests: su in a UTS and mount namespace whose host name is the
// node's (the session helper records it as the session's node) and whose /etc/dosh/helper.conf names the second
// doshd's store. The doshd itself is the harness's Doshd with that store, port and --node.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, type Result } from './harness.ts';

export class SecondNode {
  private readonly etc: string;
  private readonly hosts: string;

  constructor(
    readonly name: string,
    readonly store: string,
    readonly port: number,
    work: string,
  ) {
    this.etc = path.join(work, `etc-dosh-${name}`);
    this.hosts = path.join(work, `hosts-${name}`);
  }

  /** Writes the node's /etc/hosts and /etc/dosh for its namespace. */
  prepare(): this {
    writeFileSync(this.hosts, `127.0.0.1 localhost\n127.0.1.1 ${this.name}\n`);
    rmSync(this.etc, { recursive: true, force: true });
    mkdirSync(this.etc, { mode: 0o755 });
    writeFileSync(path.join(this.etc, 'helper.conf'), `STORE=${this.store}\n`, { mode: 0o644 });
    return this;
  }

  /** The doshd flags that make a Doshd this node's. */
  get flags(): string[] {
    return ['--node', this.name];
  }

  /** `su - USER -c CMD` on this node. */
  su(user: string, cmd: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
    const script = `hostname ${this.name} && mount --bind ${this.etc} /etc/dosh && mount --bind ${this.hosts} /etc/hosts && exec su - ${user} -c "$1"`;
    return run('unshare', ['--uts', '--mount', '--propagation', 'private', '--', 'bash', '-c', script, this.name, cmd], opts);
  }

  cleanup(): void {
    rmSync(this.store, { recursive: true, force: true });
  }
}
