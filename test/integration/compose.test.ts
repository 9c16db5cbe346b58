// deploy/compose: Debian's docker-compose validates the file; then, with the images built from local parts
// (scripts/lib/build-doshd-image.sh), the deployment comes up on a private store, policy, node name and ports,
// doshd answers /readyz through its published port, Prometheus scrapes it, and it all comes down again.
// needs: docker busybox
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const COMPOSE = path.join(ROOT, 'deploy/compose/compose.yaml');

type Obj = Record<string, any>;

function sh(cmd: string, env: NodeJS.ProcessEnv = process.env, timeout = 10 * 60_000) {
  return spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env, timeout });
}

before(() => {
  // Like scripts/test.sh's `need`: Debian's docker-compose when the command is missing (apt-get update once).
  const r = sh(`command -v docker-compose >/dev/null && exit 0
    [ -n "\${DOSH_APT_UPDATED:-}" ] || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null`);
  assert.equal(r.status, 0, `installing docker-compose failed:\n${r.stderr}`);
});

function compose(args: string[], env: NodeJS.ProcessEnv = {}, file = COMPOSE) {
  return spawnSync('docker-compose', ['-f', file, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 5 * 60_000 });
}

test('docker-compose config validates compose.yaml, and the file is what docs/INSTALL.md says', () => {
  const r = compose(['config']);
  assert.equal(r.status, 0, r.stderr);
  const cfg = YAML.parse(r.stdout) as Obj;
  const d = cfg.services.doshd;
  assert.equal(d.pid, 'host');
  assert.equal(d.privileged, true);
  assert.equal(d.image, 'dosh/doshd:local');
  const vols: string[] = d.volumes;
  for (const v of ['/run/dosh:/run/dosh:rw', '/var/run/docker.sock:/var/run/docker.sock:rw', '/etc/dosh:/etc/dosh:ro', '/sys/fs/cgroup:/sys/fs/cgroup:ro', '/etc:/etc:ro']) assert.ok(vols.includes(v), `${v} in ${vols}`);
  assert.ok(d.command.includes('--store=/run/dosh') && d.command.includes('--config=/etc/dosh/dosh.conf'));
  assert.deepEqual(d.ports, ['127.0.0.1:9469:9469/tcp'], 'metrics only on the host loopback');
  assert.ok(cfg.services.prometheus.volumes.some((v: string) => v.endsWith('/deploy/prometheus/dosh-alerts.yml:/etc/prometheus/dosh-alerts.yml:ro')));
  const prom = YAML.parse(readFileSync(path.join(ROOT, 'deploy/compose/prometheus.yml'), 'utf8'));
  assert.deepEqual(prom.scrape_configs[0].static_configs[0].targets, ['doshd:9469']);
  // Variables move the whole deployment (what the next test relies on).
  const moved = YAML.parse(compose(['config'], { DOSH_STORE: '/srv/dosh', DOSH_METRICS_PORT: '19999', DOSH_CONFIG: '/etc/dosh/dosh.yaml' }).stdout);
  assert.ok(moved.services.doshd.volumes.includes('/srv/dosh:/run/dosh:rw'));
  assert.deepEqual(moved.services.doshd.ports, ['127.0.0.1:19999:9469/tcp']);
  assert.ok(moved.services.doshd.command.includes('--config=/etc/dosh/dosh.yaml'));
  // And a broken file is rejected (the validation is real).
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-compose-bad-'));
  try {
    const bad = path.join(dir, 'compose.yaml');
    writeFileSync(bad, readFileSync(COMPOSE, 'utf8').replace('    pid: host\n', '    pid: host\n    privilegd: true\n'));
    const b = compose(['config', '-q'], {}, bad);
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /privilegd/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const end = performance.now() + ms;
  let last: unknown;
  while (performance.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

test('up: doshd in a container answers /readyz, Prometheus scrapes it; then down', async (t) => {
  const t0 = performance.now();
  const built = sh(`bash ${ROOT}/scripts/lib/build-doshd-image.sh`);
  if (built.status !== 0) {
    // The file is still validated above; say why the deployment itself was not tried.
    t.skip(`the images could not be built from local parts:\n${built.stderr.slice(-2000)}`);
    return;
  }
  console.log(`# images built in ${Math.round((performance.now() - t0) / 1000)}s`);
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-compose-'));
  mkdirSync(`${dir}/store`, { mode: 0o700 });
  mkdirSync(`${dir}/etc`, { mode: 0o700 });
  writeFileSync(`${dir}/etc/dosh.conf`, 'CONTAINERIMAGE=dosh-test/busybox:latest\nCONTAINERCOMMAND=sh\n', { mode: 0o600 });
  const project = `doshcomposetest${process.pid}`;
  const node = `compose-test-${process.pid}`;
  const env = {
    DOSH_STORE: `${dir}/store`,
    DOSH_ETC: `${dir}/etc`,
    // A node name of its own: this doshd must never take the host doshd's containers for its own.
    DOSH_NODE: node,
    DOSH_METRICS_PORT: String(await freePort()),
    DOSH_PROMETHEUS_PORT: String(await freePort()),
    DOSH_LOG_LEVEL: 'debug',
    // This machine's Docker may itself run in a container that cannot grant every capability: doshd runs with
    // Docker's default ones here (enough for /readyz and the metrics; the privileged default is checked above).
    DOSH_PRIVILEGED: 'false',
  };
  try {
    const up = compose(['-p', project, 'up', '-d'], env);
    assert.equal(up.status, 0, up.stderr);
    const ready = await until('doshd to answer /readyz', async () => {
      const r = await fetch(`http://127.0.0.1:${env.DOSH_METRICS_PORT}/readyz`);
      return r.status === 200 ? await r.text() : undefined;
    });
    assert.ok(ready.length >= 0);
    const metrics = await (await fetch(`http://127.0.0.1:${env.DOSH_METRICS_PORT}/metrics`)).text();
    assert.match(metrics, /^# HELP dosh/m);
    // doshd took the node name it was given, and found the policy through the mounted /etc/dosh.
    const logs = compose(['-p', project, 'logs', '--no-color', 'doshd'], env).stdout;
    assert.match(logs, new RegExp(`"node":"${node}"`), logs.slice(-3000));
    // The store is the host directory: doshd records itself there.
    assert.equal(JSON.parse(readFileSync(`${dir}/store/doshd.json`, 'utf8')).node, node);
    const target = await until('Prometheus to scrape doshd', async () => {
      const r = await fetch(`http://127.0.0.1:${env.DOSH_PROMETHEUS_PORT}/api/v1/targets`);
      const body = (await r.json()) as Obj;
      const t = body.data.activeTargets.find((x: Obj) => x.labels.job === 'doshd');
      return t?.health === 'up' ? t : undefined;
    });
    assert.equal(target.scrapeUrl, 'http://doshd:9469/metrics');
    const rules = (await (await fetch(`http://127.0.0.1:${env.DOSH_PROMETHEUS_PORT}/api/v1/rules`)).json()) as Obj;
    assert.ok(rules.data.groups.some((g: Obj) => g.name === 'dosh'), 'the example alerts are loaded');
    const health = sh(`docker inspect -f '{{.State.Health.Status}}' ${project}_doshd_1`).stdout.trim();
    assert.ok(['healthy', 'starting'].includes(health), health);
  } finally {
    const down = compose(['-p', project, 'down', '-v', '--remove-orphans'], env);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(down.status, 0, down.stderr);
  }
  assert.equal(sh(`docker ps -a --filter label=com.docker.compose.project=${project} -q`).stdout.trim(), '', 'nothing left running');
});
