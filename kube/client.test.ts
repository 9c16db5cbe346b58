// KubeClient against a local HTTP server that answers lists but never answers a watch, or answers nothing: every
// request and every watch fails after the request timeout with an UnavailableError, and is reported as a timeout.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UnavailableError } from '../lib/errors.ts';
import { KubeClient, type WatchBackoff } from './client.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dosh-kube-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server whose handler decides; returns a kubeconfig for it and a way to close it (hung requests included). */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ kubeconfig: string; close(): void }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = path.join(dir, `kubeconfig-${port}`);
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:${port}', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`,
  );
  return { kubeconfig, close: () => (server.closeAllConnections(), server.close()) };
}

const timers: WatchBackoff = {
  baseMs: 60_000,
  maxMs: 60_000,
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

async function until<T>(what: string, fn: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a request that gets no answer fails after the timeout as unavailable, and is counted as a timeout', async () => {
  const srv = await serve(() => {}); // accepts, never answers
  const seen: string[] = [];
  const api = await KubeClient.load({ kubeconfig: srv.kubeconfig, fieldManager: 'test', requestTimeoutMs: 300, onRequest: (op, result) => seen.push(`${op} ${result}`) });
  const t0 = performance.now();
  await assert.rejects(api.listSessions('ns'), (e) => e instanceof UnavailableError && /list sessions: no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.3s/.test(e.message));
  await assert.rejects(api.deleteSession('ns', 'x'), UnavailableError);
  assert.ok(performance.now() - t0 < 3000, 'bounded by the timeout');
  assert.deepEqual(seen, ['list timeout', 'delete timeout']);
  srv.close();
});

test('a watch that gets no answer after its list fails after the timeout; synced was reported for the list only', async () => {
  let watches = 0;
  const srv = await serve((req, res) => {
    if (new URL(req.url!, 'http://x').searchParams.get('watch') === 'true') return void watches++; // hangs
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'dosh.io/v1alpha1', kind: 'SessionList', metadata: { resourceVersion: '42' }, items: [{ apiVersion: 'dosh.io/v1alpha1', kind: 'Session', metadata: { name: 'a', namespace: 'ns', resourceVersion: '40' } }] }));
  });
  const seen: string[] = [];
  const log: string[] = [];
  const api = await KubeClient.load({ kubeconfig: srv.kubeconfig, fieldManager: 'test', requestTimeoutMs: 300, onRequest: (op, result) => seen.push(`${op} ${result}`) });
  const w = api.watch({ plural: 'sessions', namespace: 'ns' }, { onEvent: (t, o) => log.push(`${t} ${o.metadata.name}`), onSynced: () => log.push('synced'), onError: (e) => log.push(`error ${e.message}`) }, timers);
  assert.equal(log.length, 0, 'nothing before start()');
  w.start();
  await until('the watch to fail', () => log.find((l) => l.startsWith('error')));
  w.stop();
  assert.equal(log[0], 'add a');
  assert.equal(log[1], 'synced');
  assert.match(log[2], /^error watch \/apis\/dosh\.io\/v1alpha1\/namespaces\/ns\/sessions: no answer from .* within 0\.3s$/);
  assert.deepEqual(seen, ['list ok', 'watch timeout']);
  assert.equal(watches, 1);
  assert.equal(w.get('a', 'ns')?.metadata.resourceVersion, '40', 'the listed cache stays');
  srv.close();
});
