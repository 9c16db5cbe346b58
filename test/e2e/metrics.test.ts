// doshd's /metrics scraped by a real Prometheus server: the memory of a user whose container holds 50 MiB shows in
// Prometheus' own query API. The shipped alert rules pass promtool, and the dashboard only queries metrics doshd serves.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, Doshd, METRICS_PORT, REPO, removeContainersOf, run, until, endSuite } from './harness.ts';

const U = 'dtp-pia';
const PROM_PORT = 19090;
const dir = mkdtempSync(path.join(tmpdir(), 'dtp-prom-'));
let doshd: Doshd;
let prometheus: ChildProcess;
let holder: ChildProcess;

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`http://127.0.0.1:${PROM_PORT}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\nDOCKERPARAMETERS=-m 256m\n`).start();
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: doshd\n    static_configs:\n      - targets: ['127.0.0.1:${METRICS_PORT}']\n`,
  );
  prometheus = spawn('prometheus', [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${PROM_PORT}`], { stdio: 'ignore' });
  await until('prometheus to answer', async () => (await fetch(`http://127.0.0.1:${PROM_PORT}/-/ready`).catch(() => undefined))?.ok, 60_000);
});

after(async () => {
  holder?.kill('SIGTERM');
  prometheus?.kill('SIGTERM');
  await endSuite(doshd, [U]);
  rmSync(dir, { recursive: true, force: true });
});

test("Prometheus sees the memory of a user whose container holds 50 MiB, against her limit", async () => {
  holder = spawn('su', ['-', U, '-c', 'dd if=/dev/zero of=/dev/shm/hold bs=1M count=50 2>/dev/null; echo held; sleep 120'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve()));
  const [series] = await until('the memory series in Prometheus', async () => {
    const r = await query(`dosh_user_memory_usage_bytes{user="${U}"}`);
    return r.length && Number(r[0].value[1]) >= 50 * 1024 * 1024 ? r : undefined;
  }, 30_000);
  assert.equal(series.metric.uid, (await run('id', ['-u', U])).stdout.toString().trim());
  const [limit] = await query(`dosh_user_memory_limit_bytes{user="${U}"}`);
  assert.equal(Number(limit.value[1]), 256 * 1024 * 1024);
  const [sessions] = await query('sum(dosh_sessions{phase="Running"})');
  assert.ok(Number(sessions.value[1]) >= 1);
});

test('the alert rules pass promtool, and every metric the dashboard and rules use is served by doshd', async () => {
  const rules = path.join(REPO, 'deploy/prometheus/dosh-alerts.yml');
  const check = await run('promtool', ['check', 'rules', rules]);
  assert.equal(check.code, 0, check.stdout.toString() + check.stderr);
  // A container and a pod of one user on one doshd: matched apart by node, never many-to-many.
  const unit = await run('promtool', ['test', 'rules', path.join(REPO, 'deploy/prometheus/dosh-alerts.test.yml')]);
  assert.equal(unit.code, 0, unit.stdout.toString() + unit.stderr);
  const served = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
  const used = new Set<string>();
  for (const text of [readFileSync(rules, 'utf8'), readFileSync(path.join(REPO, 'deploy/grafana/dosh-dashboard.json'), 'utf8')]) {
    for (const m of text.matchAll(/\b(dosh_[a-z_]+)/g)) used.add(m[1].replace(/_(bucket|sum|count)$/, ''));
  }
  const missing = [...used].filter((name) => !new RegExp(`^# TYPE ${name} `, 'm').test(served));
  assert.deepEqual(missing, [], 'metrics used by the dashboard or the rules but not served');
});
