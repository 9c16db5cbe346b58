// The controller's Prometheus metrics. Label sets are bounded: results, phases, reasons and users, never session ids.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'dosh_reconcile_total', help: 'Session reconciles by result.', labelNames: ['result'], registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'dosh_reconcile_duration_seconds',
    help: 'Time to reconcile one session key.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'dosh_workqueue_depth', help: 'Keys waiting in the work queue.', registers: [this.registry] });
  readonly queueRetries = new Counter({ name: 'dosh_workqueue_retries_total', help: 'Keys requeued after a transient error.', registers: [this.registry] });
  readonly sessions = new Gauge({ name: 'dosh_sessions', help: 'Sessions in the store by phase.', labelNames: ['phase'], registers: [this.registry] });
  readonly refused = new Counter({ name: 'dosh_logins_refused_total', help: 'Logins refused by reason.', labelNames: ['reason'], registers: [this.registry] });
  readonly loginLatency = new Histogram({
    name: 'dosh_login_ready_seconds',
    help: 'Time from session creation to Ready.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly engineErrors = new Counter({ name: 'dosh_engine_errors_total', help: 'Docker engine errors by operation.', labelNames: ['operation'], registers: [this.registry] });
  readonly firstByteLatency = new Histogram({
    name: 'dosh_login_first_byte_seconds',
    help: 'Time from session creation to the first byte of output reaching the user.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly userSessions = new Gauge({ name: 'dosh_user_sessions', help: 'Live sessions per user.', labelNames: ['user'], registers: [this.registry] });
  readonly managedContainers = new Gauge({ name: 'dosh_containers', help: "Users' containers on this node by state.", labelNames: ['state'], registers: [this.registry] });
  readonly sessionDuration = new Histogram({
    name: 'dosh_session_duration_seconds',
    help: 'How long sessions lasted, from login to end.',
    buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400],
    registers: [this.registry],
  });
  readonly containers = new Counter({ name: 'dosh_container_actions_total', help: 'Container actions taken.', labelNames: ['action'], registers: [this.registry] });
  readonly gcCollected = new Counter({ name: 'dosh_gc_collected_total', help: 'Objects garbage-collected by kind.', labelNames: ['kind'], registers: [this.registry] });
  readonly kubeSyncs = new Counter({ name: 'dosh_kube_mirror_syncs_total', help: 'Session mirror syncs to the Kubernetes API by result (Kubernetes mode).', labelNames: ['result'], registers: [this.registry] });
  readonly kubeConnected = new Gauge({
    name: 'dosh_kube_connected',
    help: '1 while connected to the Kubernetes API: its watches have listed and no request has since gone unanswered (Kubernetes mode).',
    registers: [this.registry],
  });
  readonly kubeRequests = new Counter({
    name: 'dosh_kube_requests_total',
    help: 'Requests to the Kubernetes API by operation (list, watch, apply, apply-status, delete) and result (ok, error, timeout) (Kubernetes mode).',
    labelNames: ['operation', 'result'],
    registers: [this.registry],
  });
  readonly hookRuns = new Counter({ name: 'dosh_hook_runs_total', help: 'Hook script runs by moment and result.', labelNames: ['moment', 'result'], registers: [this.registry] });
  readonly hookDuration = new Histogram({
    name: 'dosh_hook_duration_seconds',
    help: 'Hook script run time by moment.',
    labelNames: ['moment'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });
  readonly housekeepingPasses = new Counter({ name: 'dosh_housekeeping_passes_total', help: 'Housekeeping passes ended (--resync-interval): every session re-checked, idle containers and networks collected.', registers: [this.registry] });
  readonly auditRecords = new Counter({ name: 'dosh_audit_records_total', help: 'Audit log records by event (start, refusal, end) and result (written, failed).', labelNames: ['event', 'result'], registers: [this.registry] });
  readonly policyReloads = new Counter({ name: 'dosh_policy_reloads_total', help: 'Policy reloads by result.', labelNames: ['result'], registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'doshd_' });
  }
}
