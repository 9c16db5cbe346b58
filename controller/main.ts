// doshd entry point: builds config, clients, store and metrics, then runs the controller until SIGTERM/SIGINT.
import { exitAfterFlush } from '../lib/exit.ts';
import { InvalidError, UnavailableError } from '../lib/errors.ts';
import { setMaxListeners } from 'node:events';
import { realClock } from '../lib/clock.ts';
import { createLogger } from '../lib/log.ts';
import { realProcFs } from '../lib/proc.ts';
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
import { cachedManagedList } from './metrics/managed-list.ts';
import { readiness } from './metrics/readiness.ts';
import { otherInstance, recordInstance } from './instance.ts';
import { VERSION } from '../lib/version.ts';
import { runHooks } from './hook-scripts.ts';

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
  const other = otherInstance(cfg.store);
  if (other) {
    process.stderr.write(`doshd: another doshd (pid ${other.pid}) already runs on the store ${cfg.store}\n`);
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
  const controller = new Controller({
    store,
    engine,
    policy,
    users: new CachedDirectory(new NssDirectory(), 5_000, Date.now),
    cordon: new FileCordon(cfg.store),
    hooks: { run: (folder, moment, args, ctx) => runHooks(folder, moment, args, ctx) },
    events: new EventRecorder({ store: events, clock: realClock, log, host: cfg.node, ttlMs: cfg.eventTtlMs, maxTotal: cfg.maxEvents }),
    proc: realProcFs,
    clock: realClock,
    metrics,
    log,
    idleClocks: { load: () => readJsonFile(idleClocksFile(cfg.store)), save: (since) => writeJsonFileAtomic(idleClocksFile(cfg.store), since) },
    options: { node: cfg.node, workers: cfg.workers, resyncIntervalMs: cfg.resyncIntervalMs, endedRetentionMs: cfg.endedRetentionMs, killGraceMs: cfg.killGraceMs, loginRate: cfg.loginRate },
  });
  policy.onReload(() => void controller.policyChanged());
  const kube = cfg.kube ? await startKubeMode({ config: cfg.kube, node: cfg.node, store, policy, clock: realClock, metrics, log }) : undefined;
  new UserMetrics({ registry: metrics.registry, list: cachedManagedList(engine, cfg.node, Date.now), onError: (e) => log.warn('per-user metrics unavailable', { error: String(e) }) });
  const server = cfg.metricsAddress ? await serveHttp(cfg.metricsAddress.host, cfg.metricsAddress.port, metrics.registry, readiness(engine, policy, kube)) : undefined;
  recordInstance(cfg.store, cfg.node, VERSION, new Date());

  const ac = new AbortController();
  // Every delayed requeue and the housekeeping sleep listen on it; they are removed as they fire, so no limit applies.
  setMaxListeners(0, ac.signal);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
  process.on('SIGHUP', () => policy.reload());
  log.info('doshd started', { version: VERSION, node: cfg.node, store: cfg.store, config: cfg.config, metrics: cfg.metricsAddress });
  await Promise.all([controller.run(ac.signal), kube?.run(ac.signal)]);
  policy.stop();
  server?.close();
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
