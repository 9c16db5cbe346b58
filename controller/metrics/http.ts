// /metrics for Prometheus, /healthz (the process answers) and /readyz (the engine answers, a policy is loaded and, in
// Kubernetes mode, the API server is connected: controller/main.ts says what is checked).
import * as http from 'node:http';
import type { Registry } from 'prom-client';

export interface Health {
  /** Empty when ready, else the reasons it is not. */
  notReady(): Promise<string[]>;
}

export function serveHttp(host: string, port: number, registry: Registry, health: Health): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (url === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        (e) => reply(500, `metrics failed: ${e}\n`),
      );
    } else if (url === '/healthz') reply(200, 'ok\n');
    else if (url === '/readyz') {
      health.notReady().then(
        (why) => (why.length ? reply(503, why.join('\n') + '\n') : reply(200, 'ok\n')),
        (e) => reply(503, `${e}\n`),
      );
    } else reply(404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
