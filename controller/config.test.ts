import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOSHD_HELP, parseDoshdArgs, UsageError } from './config.ts';

test('defaults, and the legacy /etc/dosh.conf when only that exists', () => {
  const r = parseDoshdArgs([], () => false);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.equal(r.config.store, '/run/dosh');
  assert.equal(r.config.config, '/etc/dosh/dosh.conf');
  assert.deepEqual(r.config.metricsAddress, { host: '127.0.0.1', port: 9469 });
  assert.equal(r.config.eventTtlMs, 3600_000);
  assert.equal(r.config.maxEvents, 10_000);
  assert.equal(r.config.toolbox, '/var/lib/dosh/toolbox');
  assert.deepEqual(r.config.audit, { file: '/var/log/dosh/audit.log', maxBytes: 0 });
  assert.deepEqual(r.config.recordings, { dir: '/var/log/dosh/recordings', retentionMs: 30 * 86400_000, userCapBytes: 1 << 30 });
  const off = parseDoshdArgs(['--toolbox', '', '--audit-log', '']);
  assert.deepEqual(off.kind === 'run' && [off.config.toolbox, off.config.audit], [undefined, undefined], '"" turns them off');
  assert.throws(() => parseDoshdArgs(['--record-user-cap', 'lots']), /--record-user-cap: expected a size/);
  assert.throws(() => parseDoshdArgs(['--record-retention', '1w']), /--record-retention: expected seconds or a duration/);
  const legacy = parseDoshdArgs([], (p) => p === '/etc/dosh.conf');
  assert.equal(legacy.kind === 'run' && legacy.config.config, '/etc/dosh.conf');
});

test('every flag parses, and --help documents every flag', () => {
  const argv = ['--store', '/s', '--config', '/c.yaml', '--metrics-address', '[::1]:9000', '--docker-socket', '/d.sock', '--node', 'n1', '--workers', '2', '--resync-interval', '0.5', '--ended-retention', '0', '--event-ttl', '600', '--max-events', '500', '--kill-grace', '1', '--login-rate', '2.5', '--login-burst', '7', '--log-level', 'debug', '--log-format', 'json', '--toolbox', '/tb', '--audit-log', '/a.log', '--audit-max-size', '10M', '--recordings', '/rec', '--record-retention', '7d', '--record-user-cap', '2G'];
  const r = parseDoshdArgs(argv);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.deepEqual(r.config, {
    store: '/s', config: '/c.yaml', metricsAddress: { host: '::1', port: 9000 }, dockerSocket: '/d.sock', node: 'n1', workers: 2,
    resyncIntervalMs: 500, endedRetentionMs: 0, eventTtlMs: 600_000, maxEvents: 500, killGraceMs: 1000, loginRate: { perSecond: 2.5, burst: 7 }, logLevel: 'debug', logFormat: 'json', kube: undefined,
    toolbox: '/tb', audit: { file: '/a.log', maxBytes: 10 << 20 }, recordings: { dir: '/rec', retentionMs: 7 * 86400_000, userCapBytes: 2 * 2 ** 30 },
  });
  for (const a of argv.filter((x) => x.startsWith('--'))) assert.ok(DOSHD_HELP.includes(a), `${a} documented`);
  assert.deepEqual(parseDoshdArgs(['--metrics-address', '']).kind === 'run' && (parseDoshdArgs(['--metrics-address', '']) as { config: { metricsAddress: unknown } }).config.metricsAddress, undefined);
});

test('Kubernetes mode: --kubeconfig or --in-cluster, with the namespace and resync; the kube flags alone are refused', () => {
  const r = parseDoshdArgs(['--kubeconfig', '/k.conf', '--kube-namespace', 'logins', '--kube-resync', '10']);
  assert.deepEqual(r.kind === 'run' && r.config.kube, { kubeconfig: '/k.conf', inCluster: false, namespace: 'logins', resyncIntervalMs: 10_000, podNamespaces: [] });
  const c = parseDoshdArgs(['--in-cluster']);
  assert.deepEqual(c.kind === 'run' && c.config.kube, { kubeconfig: undefined, inCluster: true, namespace: 'dosh-system', resyncIntervalMs: 30_000, podNamespaces: [] });
  const p = parseDoshdArgs(['--in-cluster', '--pod-namespaces', 'dosh,lab']);
  assert.deepEqual(p.kind === 'run' && p.config.kube?.podNamespaces, ['dosh', 'lab']);
  for (const f of ['--kubeconfig', '--in-cluster', '--kube-namespace', '--kube-resync', '--pod-namespaces']) assert.ok(DOSHD_HELP.includes(f), `${f} documented`);
  assert.throws(() => parseDoshdArgs(['--pod-namespaces', 'dosh']), /--pod-namespaces: only with --kubeconfig or --in-cluster/);
  assert.throws(() => parseDoshdArgs(['--in-cluster', '--pod-namespaces', 'dosh,Lab_1']), /--pod-namespaces: expected namespace names separated by commas, got "Lab_1"/);
  assert.throws(() => parseDoshdArgs(['--kubeconfig', '/k', '--in-cluster']), /--kubeconfig and --in-cluster: give one of them/);
  assert.throws(() => parseDoshdArgs(['--kube-namespace', 'x']), /--kube-namespace: only with --kubeconfig or --in-cluster/);
  assert.throws(() => parseDoshdArgs(['--kubeconfig', 'rel']), /--kubeconfig: expected an absolute path/);
  assert.throws(() => parseDoshdArgs(['--in-cluster', '--kube-namespace', 'Bad_NS']), /--kube-namespace: expected a namespace name/);
});

test('bad flags name the flag', () => {
  assert.throws(() => parseDoshdArgs(['--workers', 'many']), (e: Error) => e instanceof UsageError && /--workers/.test(e.message));
  assert.throws(() => parseDoshdArgs(['--store', 'relative']), /--store: expected an absolute path/);
  assert.throws(() => parseDoshdArgs(['--metrics-address', 'nope']), /--metrics-address: expected HOST:PORT/);
  // The chart writes [$(POD_IP)]:PORT, which Kubernetes fills with an IPv4 or an IPv6 address.
  for (const [v, host] of [['[10.244.0.7]:9469', '10.244.0.7'], ['[fd00::7]:9469', 'fd00::7']]) {
    const r = parseDoshdArgs(['--metrics-address', v]);
    assert.deepEqual(r.kind === 'run' && r.config.metricsAddress, { host, port: 9469 });
  }
  assert.throws(() => parseDoshdArgs(['--metrics-address', '[$(POD_IP)]:9469']), /expected HOST:PORT/, 'an unfilled variable is not an address');
  assert.throws(() => parseDoshdArgs(['--bogus']), (e: Error) => e instanceof UsageError && /--bogus/.test(e.message));
  assert.throws(() => parseDoshdArgs(['--log-level', 'loud']), /--log-level/);
  assert.throws(() => parseDoshdArgs(['--event-ttl', '0']), /--event-ttl: expected a number >= 1/);
  assert.throws(() => parseDoshdArgs(['--max-events', '10']), /--max-events: expected a number >= 100/);
});
