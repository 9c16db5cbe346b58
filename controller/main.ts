// doshd entry point: builds config, clients, store and metrics, then runs the controller until SIGTERM/SIGINT.
import { exitAfterFlush } from '../lib/exit.ts';
import { InvalidError, UnavailableError } from '../lib/errors.ts';
import { setMaxListeners } from 'node:events';
import { realClock } from '../lib/clock.ts';
import { createLogger } from '../lib/log.ts';
import { realProcFs, sameOnHost } from '../lib/proc.ts';
import { SessionCgroups } from '../lib/cgroup.ts';
import { CachedDirectory, NssDirectory } from '../lib/users.ts';
import { idleClocksFile, policyStatusFile, readJsonFile, writeJsonFileAtomic } from '../store/layout.ts';
import { sessionStore } from '../store/sessions.ts';
import { eventStore } from '../store/events.ts';
import { Engine } from '../engine/docker.ts';
import { loadPolicyFile, nodeHostFs, nodeIO, resolvePolicy } from '../policy/index.ts';
import { DOSHD_HELP, parseDoshdArgs, UsageError } from './config.ts';
import { Controller } from './controller.ts';
import { EventRecorder } from './events.ts';
import { FileCordon } from '../store/cordon.ts';
import { serveHttp } from './metrics/http.ts';
import { ControllerMetrics } from './metrics/metrics.ts';
import { PolicySource } from './policy-source.ts';
import { startKubeMode } from './kube/mode.ts';
import { UserMetrics } from './metrics/user-metrics.ts';
import { cachedPodUsage } from './metrics/pod-usage.ts';
import { cachedManagedList } from './metrics/managed-list.ts';
import { readiness } from './metrics/readiness.ts';
import { recordInstance } from './instance.ts';
import { connectUnix, relaySocketPath, relaysDir, apiSocketPath, podsSocketPath, SessionApiServer, StoreHeldError } from './session-api/server.ts';
import { RelayLinks } from './session-api/links.ts';
import { SessionRelayEvents } from './session-api/relay-events.ts';
import { LoginService } from './session-api/logins.ts';
import { procRelayProcess } from './session-api/login-request.ts';
import { DEFAULT_STORE_BOUNDS, Gate } from './session-api/gate.ts';
import { realRandom } from '../lib/clock.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VERSION } from '../lib/version.ts';
import { runHooks } from './hook-scripts.ts';
import { buildToolbox, type ToolboxManifest } from './toolbox.ts';
import { AuditLog } from './audit-log.ts';
import { Recordings } from './recordings.ts';
import { PodBackend, POD_READY_TIMEOUT_MS, routeExecs } from './pods/pod-backend.ts';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseDoshdArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`doshd: ${e.message}\nRun 'doshd --help' for the flags.\n`);
    return 2;
  }
  if (parsed.kind === 'help') return void process.stdout.write(DOSHD_HELP), 0;
  if (parsed.kind === 'version') return void process.stdout.write(`doshd ${VERSION}\n`), 0;
  const cfg = parsed.config;
  if (process.getuid?.() !== 0) {
    process.stderr.write('doshd: must run as root (it manages containers for every user)\n');
    return 1;
  }
  const log = createLogger({ level: cfg.logLevel, json: cfg.logFormat === 'auto' ? undefined : cfg.logFormat === 'json' });
  const metrics = new ControllerMetrics({ defaultMetrics: true });
  const store = sessionStore(cfg.store, { log: (msg, f) => log.warn(msg, f) });
  store.init();
  const events = eventStore(cfg.store, { log: (msg, f) => log.warn(msg, f) });
  events.init();
  const engine = new Engine(cfg.dockerSocket, (operation, e) => {
    if (e instanceof UnavailableError || e instanceof InvalidError) metrics.engineErrors.inc({ operation });
  }, 60_000);
  // Bind sources are checked on this host, as root resolves them, at load and at every login; doshd's own engine socket
  // counts with the usual ones.
  const host = { fs: nodeHostFs, enginePaths: [cfg.dockerSocket] };
  const policyIO = { ...nodeIO, host };
  const policy = new PolicySource(cfg.config, (f) => loadPolicyFile(f, policyIO), (p, u) => resolvePolicy(p, u, host), log, metrics, Date.now, (st) => writeJsonFileAtomic(policyStatusFile(cfg.store), st));
  policy.start();
  const users = new CachedDirectory(new NssDirectory(), 5_000, Date.now);
  // The host's file-transfer programs for images that lack them: built before the first login is admitted.
  // Mounted into users' containers only once it is built and is the host's own directory (a doshd in a container
  // must have the host's DIR mounted at DIR: the engine mounts the host's path).
  let toolbox: ToolboxManifest | undefined;
  if (cfg.toolbox) {
    try {
      toolbox = buildToolbox(cfg.toolbox);
      if (!sameOnHost(cfg.toolbox)) throw new Error(`${cfg.toolbox} is not the host's directory of that name (doshd runs in a container: mount the host's ${cfg.toolbox} there)`);
      log.info('toolbox ready', { dir: cfg.toolbox, version: toolbox.version, programs: Object.keys(toolbox.programs), missing: toolbox.missing });
    } catch (e) {
      toolbox = undefined;
      log.error('no toolbox: file transfers into images without their own programs are refused', { dir: cfg.toolbox, error: String(e) });
    }
  }
  const audit = cfg.audit
    ? new AuditLog({ file: cfg.audit.file, node: cfg.node, maxBytes: cfg.audit.maxBytes, clock: realClock, log, onWrite: (event, ok) => metrics.auditRecords.inc({ event, result: ok ? 'written' : 'failed' }) })
    : undefined;
  const recordings = new Recordings(cfg.recordings, realClock, log);
  recordings.check(sameOnHost);
  const eventRecorder = new EventRecorder({ store: events, clock: realClock, log, host: cfg.node, ttlMs: cfg.eventTtlMs, maxTotal: cfg.maxEvents });
  // The logins' control channels: what their relays report is recorded by doshd (relay-events.ts).
  fs.mkdirSync(relaysDir(cfg.store), { recursive: true, mode: 0o700 });
  // Each user's agent sockets (FORWARDAGENT) go in agents/UID, which her container mounts; the parent is root's alone.
  fs.mkdirSync(path.join(cfg.store, 'agents'), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.join(cfg.store, 'agents'), 0o700);
  // Kubernetes mode loads its client here (nothing is asked of the API server before run()); its client also serves
  // the kubernetes backend's pods and their logins' streams.
  const kube = cfg.kube ? await startKubeMode({ config: cfg.kube, node: cfg.node, store, policy, clock: realClock, metrics, log }) : undefined;
  let policySince = Date.now();
  policy.onReload(() => (policySince = Date.now()));
  const pods = kube
    ? new PodBackend({
        api: kube.api,
        clock: realClock,
        random: realRandom,
        log,
        options: { socket: podsSocketPath(cfg.store), sessionsNamespace: cfg.kube!.namespace, namespaces: cfg.kube!.podNamespaces, readyTimeoutMs: POD_READY_TIMEOUT_MS, pollMs: 250 },
        collected: (user, pod, idleS, timeoutS) => {
          metrics.gcCollected.inc({ kind: 'pod' });
          eventRecorder.record({ kind: 'User', name: user }, 'Normal', 'GarbageCollected', `removed pod ${pod}, idle for ${idleS} s (idle timeout ${timeoutS} s)`);
        },
        policyOf: async (name) => {
          const user = await users.lookup(name).catch(() => undefined);
          if (!user) return undefined;
          try {
            return { policy: policy.resolve(user), user };
          } catch {
            return undefined; // refused by the policy now: her pod waits for its idle timeout
          }
        },
        policySince: () => policySince,
        rolledOut: (user, pod) => eventRecorder.record({ kind: 'User', name: user }, 'Normal', 'ContainerRecreated', `removed idle pod ${pod}, which predates the policy; her next login makes it anew`),
      })
    : undefined;
  const cgroups = new SessionCgroups();
  const relayEvents = new SessionRelayEvents({ store, engine: routeExecs(engine, pods), pods, proc: realProcFs, cgroups, clock: realClock, log, events: eventRecorder, end: (name, reason, message) => controller.endSessionNamed(name, reason, message) });
  const links = new RelayLinks(relayEvents, (p) => connectUnix(p), log);
  const gate = new Gate(cfg.loginRate, DEFAULT_STORE_BOUNDS, Date.now);
  const ac = new AbortController();
  const controller: Controller = new Controller({
    store,
    engine,
    policy,
    users,
    cordon: new FileCordon(cfg.store),
    hooks: { run: (folder, moment, args, ctx) => runHooks(folder, moment, args, ctx) },
    events: eventRecorder,
    audit,
    proc: realProcFs,
    cgroups,
    clock: realClock,
    metrics,
    log,
    idleClocks: { load: () => readJsonFile(idleClocksFile(cfg.store)), save: (since) => writeJsonFileAtomic(idleClocksFile(cfg.store), since) },
    toolbox: cfg.toolbox ? () => toolbox : undefined,
    recordings,
    pods,
    relays: { has: (n) => links.has(n), reattach: (n, p) => links.reattach(n, p), notice: (n, t) => links.notice(n, t), socketPath: (n) => relaySocketPath(cfg.store, n) },
    onHousekeeping: (sessions) => {
      gate.account(sessions);
      if (!api.stillHeld()) {
        log.error('another process took the session API socket; stopping', { socket: apiSocketPath(cfg.store) });
        ac.abort();
      }
    },
    options: { node: cfg.node, toolboxDir: toolbox ? cfg.toolbox : undefined, agentsDir: path.join(cfg.store, 'agents'), workers: cfg.workers, resyncIntervalMs: cfg.resyncIntervalMs, endedRetentionMs: cfg.endedRetentionMs, killGraceMs: cfg.killGraceMs },
  });
  const logins = new LoginService({
    store, users, proc: procRelayProcess, links, admission: controller, gate, clock: realClock, random: realRandom, log, events: eventRecorder,
    refused: (reason) => metrics.refused.inc({ reason }),
    audit,
    recordings,
    node: cfg.node,
    engineSocket: cfg.dockerSocket,
    podSocket: pods?.socket,
    relaySocket: (n) => relaySocketPath(cfg.store, n),
  });
  // The one doshd of this store, whatever runs it: a live one answers on the socket, and this one stops, naming it.
  const api = new SessionApiServer(apiSocketPath(cfg.store), { pid: process.pid, node: cfg.node, about: `doshd ${VERSION}, started ${new Date().toISOString()}` }, (conn, f) => logins.login(conn, f), log);
  try {
    await api.start();
  } catch (e) {
    if (!(e instanceof StoreHeldError)) throw e;
    process.stderr.write(`doshd: ${e.message}\n`);
    policy.stop();
    return 1;
  }
  policy.onReload(() => void controller.policyChanged());
  await pods?.listen();
  new UserMetrics({
    registry: metrics.registry,
    list: cachedManagedList(engine, cfg.node, Date.now),
    pods: kube && pods && cachedPodUsage(kube.api, () => pods.collector.served(), Date.now),
    onError: (e) => log.warn('per-user metrics unavailable', { error: String(e) }),
  });
  const server = cfg.metricsAddress ? await serveHttp(cfg.metricsAddress.host, cfg.metricsAddress.port, metrics.registry, readiness(engine, policy, kube)) : undefined;
  recordInstance(cfg.store, cfg.node, VERSION, new Date(), { toolbox: cfg.toolbox, recordings: cfg.recordings.dir, auditLog: cfg.audit?.file });

  // Every delayed requeue and the housekeeping sleep listen on it; they are removed as they fire, so no limit applies.
  setMaxListeners(0, ac.signal);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
  // SIGHUP: the policy is read again, and the audit log opened again by its name (after a rotation).
  process.on('SIGHUP', () => {
    policy.reload();
    audit?.reopen();
  });
  log.info('doshd started', { version: VERSION, node: cfg.node, store: cfg.store, config: cfg.config, metrics: cfg.metricsAddress });
  await Promise.all([controller.run(ac.signal), kube?.run(ac.signal)]);
  // The logins go on: each relay keeps its stream and waits for the next doshd to reattach.
  links.closeAll();
  pods?.close();
  api.close();
  policy.stop();
  server?.close();
  audit?.close();
  log.info('doshd stopped');
  return 0;
}

main().then(
  (code) => exitAfterFlush(code),
  (err) => {
    process.stderr.write(`doshd: ${(err as Error)?.message ?? String(err)}\n`);
    exitAfterFlush(1);
  },
);
