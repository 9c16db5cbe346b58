// charts/dosh: `helm lint` and `helm template` with a real Helm (built from source by scripts/lib/ensure-helm.sh on
// first use, then cached), and checks of the rendered objects.
// needs: helm
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = path.join(ROOT, 'charts/dosh');
const HOME = mkdtempSync(path.join(tmpdir(), 'dosh-helm-'));
let helm = '';

type Obj = Record<string, any>;

before(() => {
  const t0 = performance.now();
  // Builds helm with `go install` on a fresh machine (a few minutes, once), else prints the cached binary.
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/lib/ensure-helm.sh')], { encoding: 'utf8', timeout: 20 * 60_000 });
  assert.equal(r.status, 0, `ensure-helm.sh failed:\n${r.stderr}`);
  helm = r.stdout.trim();
  if (performance.now() - t0 > 5000) console.log(`# helm built in ${Math.round((performance.now() - t0) / 1000)}s: ${helm}`);
});

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // A private Helm home: no repositories, plugins or caches of the machine are read or written.
  const env = { PATH: process.env.PATH, HELM_CONFIG_HOME: `${HOME}/config`, HELM_CACHE_HOME: `${HOME}/cache`, HELM_DATA_HOME: `${HOME}/data` };
  return spawnSync(helm, args, { encoding: 'utf8', env, timeout: 60_000 });
}

/** The release's own objects (no hooks: the test and the uninstall hook are checked by themselves). */
function render(...extra: string[]): Obj[] {
  return renderAll(...extra).filter((o) => !o.metadata?.annotations?.['helm.sh/hook']);
}

function renderAll(...extra: string[]): Obj[] {
  const r = run(['template', 'dosh', CHART, '--namespace', 'dosh-system', '--include-crds', ...extra]);
  assert.equal(r.status, 0, `helm template ${extra.join(' ')} failed:\n${r.stderr}`);
  return YAML.parseAllDocuments(r.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

function valuesFile(v: Obj): string {
  const f = path.join(HOME, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, YAML.stringify(v));
  return f;
}

const one = (objs: Obj[], kind: string): Obj => {
  const found = objs.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}, got ${found.length}`);
  return found[0];
};

test('helm lint passes (strict), with the default values and with the ServiceMonitor on', () => {
  const r = run(['lint', '--strict', CHART]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const m = run(['lint', '--strict', CHART, '--set', 'serviceMonitor.enabled=true']);
  assert.equal(m.status, 0, m.stdout + m.stderr);
});

test('the rendered objects: CRDs as generated, DaemonSet, RBAC, metrics Service, no ServiceMonitor', () => {
  const objs = render();
  const kinds = objs.map((o) => o.kind).sort();
  assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'CustomResourceDefinition', 'DaemonSet', 'NetworkPolicy', 'Service', 'ServiceAccount']);
  // The chart's CRDs are the generated ones (gen:crds writes both; crds/crds.test.ts checks the bytes).
  for (const crd of objs.filter((o) => o.kind === 'CustomResourceDefinition')) {
    const file = path.join(ROOT, 'crds', `${crd.spec.group}_${crd.spec.names.plural}.yaml`);
    assert.deepEqual(crd, YAML.parse(readFileSync(file, 'utf8')), file);
  }
  for (const o of objs.filter((x) => x.kind !== 'CustomResourceDefinition' && !x.kind.startsWith('Cluster'))) assert.equal(o.metadata.namespace, 'dosh-system', o.kind);
});

test('the DaemonSet: host mounts, host PID, node selector, node name, probes, privileged', () => {
  const ds = one(render(), 'DaemonSet');
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostPID, true);
  assert.equal(pod.hostNetwork, false);
  assert.deepEqual(pod.nodeSelector, { 'dosh.io/login-node': 'true' });
  assert.deepEqual(ds.spec.selector.matchLabels, Object.fromEntries(Object.entries(ds.spec.template.metadata.labels).filter(([k]) => k in ds.spec.selector.matchLabels)));
  const hostPaths = Object.fromEntries(pod.volumes.filter((v: Obj) => v.hostPath).map((v: Obj) => [v.name, v.hostPath]));
  assert.deepEqual(hostPaths.store, { path: '/run/dosh', type: 'DirectoryOrCreate' });
  assert.deepEqual(hostPaths['docker-socket'], { path: '/var/run/docker.sock', type: 'Socket' });
  assert.deepEqual(hostPaths.config, { path: '/etc/dosh', type: 'Directory' });
  assert.equal(hostPaths.cgroup.path, '/sys/fs/cgroup');
  // The host's users through the directory /etc (a single-file mount of /etc/passwd never shows the file useradd puts
  // in its place), and no file of /etc mounted by itself.
  assert.deepEqual(hostPaths['host-etc'], { path: '/etc', type: 'Directory' });
  assert.deepEqual(Object.values(hostPaths).map((h: any) => h.path).filter((p) => p.startsWith('/etc/') && p !== '/etc/dosh'), []);
  const c = pod.containers.find((x: Obj) => x.name === 'doshd');
  assert.equal(c.image, 'dosh/doshd:0.1.0');
  const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.name, m]));
  assert.equal(mounts.store.mountPath, '/run/dosh');
  assert.ok(!mounts.store.readOnly);
  assert.equal(mounts['docker-socket'].mountPath, '/var/run/docker.sock');
  assert.equal(mounts.config.mountPath, '/etc/dosh');
  assert.equal(mounts.config.readOnly, true);
  assert.equal(mounts.cgroup.readOnly, true);
  assert.deepEqual(mounts['host-etc'], { name: 'host-etc', mountPath: '/etc', readOnly: true });
  assert.ok(c.volumeMounts.findIndex((m: Obj) => m.mountPath === '/etc') < c.volumeMounts.findIndex((m: Obj) => m.mountPath === '/etc/dosh'), '/etc before /etc/dosh');
  assert.ok(!c.env.some((e: Obj) => e.name.startsWith('KUBERNETES_')), 'the kubernetes Service by default');
  for (const a of ['--store=/run/dosh', '--config=/etc/dosh/dosh.conf', '--metrics-address=[$(POD_IP)]:9469', '--node=$(NODE_NAME)', '--log-format=json', '--in-cluster', '--kube-namespace=dosh-system']) assert.ok(c.args.includes(a), `${a} in ${c.args}`);
  assert.deepEqual(c.env.find((e: Obj) => e.name === 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.securityContext.privileged, true);
  assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9469, protocol: 'TCP' }]);
});

test('values: a chosen node label, host network (node name = host name), a dosh.yaml, extra args', () => {
  const f = valuesFile({ nodeSelector: { 'example.org/role': 'login' }, hostNetwork: true, doshd: { config: '/etc/dosh/dosh.yaml', logLevel: 'debug', extraArgs: ['--workers=8'] }, image: { repository: 'registry.example.org/dosh/doshd', tag: 'v1', pullPolicy: 'Always' } });
  const ds = one(render('-f', f), 'DaemonSet');
  const pod = ds.spec.template.spec;
  assert.deepEqual(pod.nodeSelector, { 'dosh.io/login-node': 'true', 'example.org/role': 'login' }, 'values files merge maps');
  assert.deepEqual(one(render('--set-json', 'nodeSelector={"example.org/role":"login"}', '--set', 'nodeSelector.dosh\\.io/login-node=null'), 'DaemonSet').spec.template.spec.nodeSelector, { 'example.org/role': 'login' });
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  const c = pod.containers[0];
  assert.ok(!c.args.some((a: string) => a.startsWith('--node')), 'with host networking doshd takes the host name');
  assert.ok(c.args.includes('--config=/etc/dosh/dosh.yaml') && c.args.includes('--log-level=debug') && c.args.includes('--workers=8'));
  assert.equal(c.image, 'registry.example.org/dosh/doshd:v1');
  assert.equal(c.imagePullPolicy, 'Always');
  const named = one(render('--set', 'doshd.node=login1.example.org'), 'DaemonSet').spec.template.spec.containers[0];
  assert.ok(named.args.includes('--node=login1.example.org'));
});

test('values: no host /etc, extra NSS paths; kubernetesApi sets where doshd and the hooks reach the API server', () => {
  const ds = one(render('--set', 'hostPaths.etc=', '--set-json', 'hostPaths.nss=["/var/lib/sss/pipes"]'), 'DaemonSet');
  const vols = ds.spec.template.spec.volumes.filter((v: Obj) => v.hostPath).map((v: Obj) => v.hostPath.path);
  assert.ok(!vols.includes('/etc') && vols.includes('/var/lib/sss/pipes'));
  const all = renderAll('--set', 'kubernetesApi.host=10.0.0.5', '--set', 'kubernetesApi.port=6443');
  const containers = all.flatMap((o) => (o.kind === 'DaemonSet' || o.kind === 'Job' ? o.spec.template.spec.containers : o.kind === 'Pod' ? o.spec.containers : []));
  assert.equal(containers.length, 3, 'doshd, the test, the uninstall hook');
  for (const c of containers) {
    assert.deepEqual(c.env.filter((e: Obj) => e.name.startsWith('KUBERNETES_')), [{ name: 'KUBERNETES_SERVICE_HOST', value: '10.0.0.5' }, { name: 'KUBERNETES_SERVICE_PORT', value: '6443' }], c.name);
  }
  const half = run(['template', 'dosh', CHART, '--set', 'kubernetesApi.host=10.0.0.5']);
  assert.notEqual(half.status, 0);
  assert.match(half.stderr, /kubernetesApi: set both host and port, or neither/);
});

test('the test and the uninstall hook: hook objects of their own, never selected as doshd, least privilege, beside doshd', () => {
  const all = renderAll('--set', 'hostNetwork=true', '--set-json', 'tolerations=[{"key":"login","operator":"Exists"}]');
  const ds = one(all, 'DaemonSet');
  const hooks = all.filter((o) => o.metadata.annotations?.['helm.sh/hook']);
  const byHook = (h: string) => hooks.filter((o) => o.metadata.annotations['helm.sh/hook'].split(',').includes(h)).map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(byHook('test'), ['ConfigMap/dosh-scripts', 'Pod/dosh-test', 'Role/dosh-test', 'RoleBinding/dosh-test', 'ServiceAccount/dosh-test']);
  assert.deepEqual(byHook('post-delete'), ['ConfigMap/dosh-scripts', 'Job/dosh-uninstall', 'Role/dosh-uninstall', 'RoleBinding/dosh-uninstall', 'ServiceAccount/dosh-uninstall']);
  for (const o of hooks) {
    // Deleted once they succeeded: an uninstall leaves none of them behind.
    assert.equal(o.metadata.annotations['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded', `${o.kind}/${o.metadata.name}`);
    assert.notEqual(o.metadata.labels['app.kubernetes.io/component'], 'doshd', `${o.kind}/${o.metadata.name} is not one of doshd's`);
  }
  const cm = hooks.find((o) => o.kind === 'ConfigMap')!;
  assert.ok(Number(cm.metadata.annotations['helm.sh/hook-weight']) < 0, 'the scripts exist before the pods');
  for (const f of ['kube.mjs', 'test.mjs', 'release-sessions.mjs']) assert.equal(cm.data[f], readFileSync(path.join(CHART, 'files', f), 'utf8'), f);
  const rules = (name: string) => hooks.find((o) => o.kind === 'Role' && o.metadata.name === name)!.rules.map((r: Obj) => `${r.apiGroups[0] || 'core'}/${r.resources.join(',')}:${r.verbs.join(',')}${r.resourceNames ? `@${r.resourceNames}` : ''}`);
  assert.deepEqual(rules('dosh-test'), ['apps/daemonsets:get@dosh', 'core/pods:list', 'dosh.io/sessions:list']);
  assert.deepEqual(rules('dosh-uninstall'), ['core/pods:list', 'dosh.io/sessions:list,patch,delete']);
  const test = hooks.find((o) => o.kind === 'Pod')!.spec;
  const job = hooks.find((o) => o.kind === 'Job')!.spec.template.spec;
  const selector = Object.entries(ds.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).sort().join(',');
  assert.deepEqual(test.containers[0].command, ['/usr/bin/node', '/scripts/test.mjs', 'dosh-system', 'dosh', selector]);
  assert.deepEqual(job.containers[0].command, ['/usr/bin/node', '/scripts/release-sessions.mjs', 'dosh-system', selector]);
  for (const pod of [test, job]) {
    assert.equal(pod.hostNetwork, true, 'the network doshd has');
    assert.deepEqual(pod.nodeSelector, ds.spec.template.spec.nodeSelector);
    assert.deepEqual(pod.tolerations, ds.spec.template.spec.tolerations);
    assert.equal(pod.containers[0].image, ds.spec.template.spec.containers[0].image);
    assert.equal(pod.containers[0].securityContext.runAsNonRoot, true);
    assert.deepEqual(pod.containers[0].securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(pod.restartPolicy, 'Never');
  }
});

test('NOTES.txt says what runs (no "not implemented"), how to check it and what an uninstall leaves', () => {
  const notes = readFileSync(path.join(CHART, 'templates/NOTES.txt'), 'utf8');
  assert.doesNotMatch(notes, /not implemented/i);
  assert.match(notes, /helm test/);
  assert.match(notes, /helm uninstall/);
  assert.match(notes, /docs\/INSTALL\.md/);
});

test('RBAC: only the dosh.io resources, no wildcard, no Leases', () => {
  const objs = render();
  const role = one(objs, 'ClusterRole');
  const allowed = new Set(['sessions', 'sessions/status', 'doshpolicies', 'doshpolicies/status']);
  const seen = new Set<string>();
  for (const rule of role.rules as Obj[]) {
    assert.deepEqual(rule.apiGroups, ['dosh.io']);
    for (const r of rule.resources) {
      assert.ok(allowed.has(r), `unexpected resource ${r}`);
      seen.add(r);
    }
    assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*'));
    if (rule.resources.some((r: string) => r.startsWith('doshpolicies'))) assert.ok(!rule.verbs.includes('delete') && !rule.verbs.includes('create'), 'nodes never write the policy spec');
    if (rule.resources.some((r: string) => r.endsWith('/status'))) assert.deepEqual([...rule.verbs].sort(), ['get', 'patch', 'update']);
  }
  assert.deepEqual([...seen].sort(), [...allowed].sort());
  const binding = one(objs, 'ClusterRoleBinding');
  const sa = one(objs, 'ServiceAccount');
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'dosh-system' }]);
  assert.equal(one(objs, 'DaemonSet').spec.template.spec.serviceAccountName, sa.metadata.name);
  assert.deepEqual(render('--set', 'rbac.create=false').filter((o) => o.kind.startsWith('ClusterRole')), []);
});

test('RBAC for the kubernetes backend: none by default; with podBackend, pods and pods/exec in the named namespaces only', () => {
  assert.deepEqual(render().filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding'), []);
  const objs = render('--set', 'podBackend.enabled=true', '--set', 'podBackend.namespaces={users,lab}');
  const roles = objs.filter((o) => o.kind === 'Role');
  assert.deepEqual(roles.map((r) => r.metadata.namespace), ['users', 'lab']);
  for (const r of roles) {
    assert.deepEqual(r.rules, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] },
    ]);
  }
  const sa = one(objs, 'ServiceAccount');
  for (const b of objs.filter((o) => o.kind === 'RoleBinding')) {
    assert.equal(b.roleRef.kind, 'Role');
    assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'dosh-system' }]);
  }
  assert.equal(one(objs, 'ClusterRole').rules.some((r: Obj) => r.resources.includes('pods')), false, 'never pods cluster-wide');
  assert.equal(objs.filter((o) => o.kind === 'ClusterRole').length, 1, 'no node rights unless podBackend.metrics');
  const args: string[] = one(objs, 'DaemonSet').spec.template.spec.containers[0].args;
  assert.ok(args.includes('--pod-namespaces=users,lab'), `doshd collects in the namespaces of its Roles: ${args.join(' ')}`);
  assert.equal((one(render(), 'DaemonSet').spec.template.spec.containers[0].args as string[]).some((a) => a.startsWith('--pod-namespaces')), false);
  const withStats = render('--set', 'podBackend.enabled=true', '--set', 'podBackend.metrics=true');
  const stats = withStats.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-node-stats'));
  assert.deepEqual(stats?.rules, [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }]);
  const bound = withStats.find((o) => o.kind === 'ClusterRoleBinding' && o.roleRef.name === stats.metadata.name);
  assert.deepEqual(bound?.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'dosh-system' }]);
});

test('the metrics Service selects the doshd pods; the ServiceMonitor exists only when enabled', () => {
  const objs = render();
  const svc = one(objs, 'Service');
  const pod = one(objs, 'DaemonSet').spec.template;
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(pod.metadata.labels[k], v);
  assert.deepEqual(svc.spec.ports, [{ name: 'metrics', port: 9469, targetPort: 'metrics', protocol: 'TCP' }]);
  assert.equal(objs.filter((o) => o.kind === 'ServiceMonitor').length, 0);

  const on = render('--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.labels.release=kube-prometheus-stack');
  const sm = one(on, 'ServiceMonitor');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
  assert.deepEqual(sm.spec.selector.matchLabels, svc.metadata.labels && Object.fromEntries(Object.keys(sm.spec.selector.matchLabels).map((k) => [k, svc.metadata.labels[k]])));
  assert.equal(sm.spec.endpoints[0].port, 'metrics');
  assert.equal(sm.spec.endpoints[0].path, '/metrics');

  const bad = run(['template', 'dosh', CHART, '--set', 'serviceMonitor.enabled=true', '--set', 'metrics.service.enabled=false']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /serviceMonitor\.enabled needs metrics\.service\.enabled/);
});

/** The container's --metrics-address and the env it names, its probes' host, and the metrics objects made. */
function metricsOf(objs: Obj[]) {
  const c = one(objs, 'DaemonSet').spec.template.spec.containers[0];
  return {
    address: (c.args as string[]).find((a) => a.startsWith('--metrics-address='))?.slice('--metrics-address='.length),
    env: Object.fromEntries((c.env as Obj[]).filter((e) => e.name !== 'NODE_NAME').map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath])),
    probeHosts: [c.livenessProbe.httpGet.host, c.readinessProbe.httpGet.host],
    kinds: objs.map((o) => o.kind).filter((k) => ['Service', 'ServiceMonitor', 'NetworkPolicy'].includes(k)).sort(),
  };
}

test('metrics: one address, never 0.0.0.0 (issue 12.8, 17.7); with hostNetwork loopback unless the node IP is asked for', () => {
  // Without hostNetwork: the pod's own IP, kept to the scraper by the NetworkPolicy.
  assert.deepEqual(metricsOf(render()), { address: '[$(POD_IP)]:9469', env: { POD_IP: 'status.podIP' }, probeHosts: [undefined, undefined], kinds: ['NetworkPolicy', 'Service'] });
  // hostNetwork: 0.0.0.0 would be every address of the host, the Docker bridges' included; loopback by default, no
  // Service (nothing off the node could reach it), probes through the node's loopback, no NetworkPolicy (none applies).
  assert.deepEqual(metricsOf(render('--set', 'hostNetwork=true')), { address: '127.0.0.1:9469', env: {}, probeHosts: ['127.0.0.1', '127.0.0.1'], kinds: [] });
  assert.deepEqual(metricsOf(render('--set', 'hostNetwork=true', '--set', 'metrics.bind=hostIP', '--set', 'serviceMonitor.enabled=true')), {
    address: '[$(HOST_IP)]:9469', env: { HOST_IP: 'status.hostIP' }, probeHosts: [undefined, undefined], kinds: ['Service', 'ServiceMonitor'],
  });
  assert.equal(metricsOf(render('--set', 'hostNetwork=true', '--set', 'metrics.bind=podIP')).address, '[$(POD_IP)]:9469');
  assert.deepEqual(metricsOf(render('--set', 'metrics.networkPolicy.enabled=false')).kinds, ['Service']);
  for (const o of [render(), render('--set', 'hostNetwork=true'), render('--set', 'hostNetwork=true', '--set', 'metrics.bind=hostIP')]) {
    assert.ok(!JSON.stringify(one(o, 'DaemonSet')).includes('0.0.0.0'), 'no wildcard address anywhere');
  }
  const refused: [string[], RegExp][] = [
    [['--set', 'metrics.bind=hostIP'], /metrics\.bind=hostIP needs hostNetwork: true/],
    [['--set', 'metrics.bind=loopback'], /metrics\.bind=loopback needs hostNetwork: true/],
    [['--set', 'hostNetwork=true', '--set', 'serviceMonitor.enabled=true'], /serviceMonitor\.enabled needs metrics reachable from Prometheus/],
  ];
  for (const [args, msg] of refused) {
    const r = run(['template', 'dosh', CHART, ...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, msg);
  }
});

test("the NetworkPolicy: doshd's pods, ingress only to the metrics port and only from the scraper of the values", () => {
  const objs = render();
  const np = one(objs, 'NetworkPolicy');
  assert.equal(np.apiVersion, 'networking.k8s.io/v1');
  assert.equal(np.metadata.namespace, 'dosh-system');
  assert.deepEqual(np.spec.podSelector.matchLabels, one(objs, 'DaemonSet').spec.selector.matchLabels);
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  assert.deepEqual(np.spec.ingress, [
    {
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
      ports: [{ protocol: 'TCP', port: 9469 }],
    },
  ]);
  const f = valuesFile({ metrics: { port: 9500, networkPolicy: { enabled: true, from: [{ namespaceSelector: { matchLabels: { team: 'obs' } } }, { ipBlock: { cidr: '192.0.2.0/24' } }] } } });
  const custom = one(render('-f', f), 'NetworkPolicy');
  assert.deepEqual(custom.spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: { team: 'obs' } } }, { ipBlock: { cidr: '192.0.2.0/24' } }], ports: [{ protocol: 'TCP', port: 9500 }] }]);
  // No scraper named admits nobody: an ingress rule with an empty `from` would admit everyone.
  assert.deepEqual(one(render('--set-json', 'metrics.networkPolicy.from=[]'), 'NetworkPolicy').spec.ingress, []);
  const lint = run(['lint', '--strict', CHART, '--set', 'hostNetwork=true', '--set', 'metrics.bind=hostIP', '--set', 'serviceMonitor.enabled=true']);
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
});

test('values.schema.json rejects bad values', () => {
  const cases: [string[], RegExp][] = [
    [['--set', 'metrics.port=70000'], /metrics\.port|maximum|70000/],
    [['--set', 'hostPID=false'], /hostPID/],
    [['--set', 'image.pullPolicy=Sometimes'], /pullPolicy/],
    [['--set', 'doshd.logLevel=loud'], /logLevel/],
    [['--set', 'hostPaths.store=run/dosh'], /store/],
    [['--set', 'hostPaths.etc=etc'], /etc/],
    [['--set', 'kubernetesApi.port=https'], /port/],
    [['--set', 'kubernetesApi.address=x'], /kubernetesApi|additional/i],
    [['--set', 'serviceMonitor.interval=soon'], /interval/],
    [['--set', 'metrics.bind=0.0.0.0'], /bind/],
    [['--set-json', 'metrics.networkPolicy.from=[{"podSelecter":{}}]'], /podSelecter|additional/i],
    [['--set-json', 'metrics.networkPolicy.from=[{}]'], /minProperties|minimum/i],
    [['--set', 'nodeSelecter.x=y'], /nodeSelecter|additional/i],
    [['--set-json', 'nodeSelector={}', '--set', 'nodeSelector.dosh\\.io/login-node=null'], /nodeSelector|minProperties|minimum/i],
  ];
  for (const [args, msg] of cases) {
    const r = run(['template', 'dosh', CHART, ...args]);
    assert.notEqual(r.status, 0, `${args.join(' ')} was accepted`);
    assert.match(r.stderr, /values don't meet the specifications of the schema/, r.stderr);
    assert.match(r.stderr, msg, `${args.join(' ')}: ${r.stderr}`);
  }
  // And lint reports the same.
  const lint = run(['lint', CHART, '--set', 'metrics.port=0']);
  assert.notEqual(lint.status, 0);
});
