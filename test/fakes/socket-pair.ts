// Two ends of a real Unix socket (doshd's side and the relay's), for tests of the session API.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export class SocketPairs {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-sockets-'));
  private readonly opened: net.Socket[] = [];
  private seq = 0;

  /** A connected pair: `relay` is the connecting end, `doshd` the accepted one. */
  async pair(): Promise<{ relay: net.Socket; doshd: net.Socket }> {
    const p = path.join(this.dir, `s${++this.seq}`);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(p, () => r()));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const relay = net.connect(p);
    const doshd = await accepted;
    this.opened.push(relay, doshd);
    server.close();
    return { relay, doshd };
  }

  /** Closes every socket (so that the test process can exit) and removes the directory. */
  close(): void {
    for (const s of this.opened) s.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
