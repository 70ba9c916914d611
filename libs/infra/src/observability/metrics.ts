import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics (prom-client). One registry per process, served at /metrics.
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly commands = new Counter({
    name: 'commands_total',
    help: 'Commands handled, by command and outcome (ok, denied, invalid, not-found, conflict, precondition-failed, unavailable, error)',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly accessDecisions = new Counter({
    name: 'secret_access_decisions_total',
    help: 'Authorization decisions recorded as events, by decision and reason',
    labelNames: ['decision', 'reason'] as const,
    registers: [this.registry],
  });
  /** Per projection: while it is stuck, how old its oldest unapplied event (or first failure) is; read at scrape time. */
  readonly projectionLagSources = new Map<string, () => number | undefined>();
  private readonly lagAtCommit = new Map<string, number>();
  readonly projectionLag = {
    set: (labels: { projection: string }, v: number) => this.lagAtCommit.set(labels.projection, v),
  };
  private readonly projectionLagGauge = (() => {
    const self = this;
    return new Gauge({
      name: 'projection_lag_seconds',
      help: 'Seconds between an event being recorded and its projection, by projection; while a projection is stuck, grows with the wall clock',
      labelNames: ['projection'] as const,
      registers: [this.registry],
      collect() {
        const names = new Set([...self.lagAtCommit.keys(), ...self.projectionLagSources.keys()]);
        for (const name of names) this.set({ projection: name }, self.projectionLagSources.get(name)?.() ?? self.lagAtCommit.get(name) ?? 0);
      },
    });
  })();
  readonly projectionStuck = new Gauge({
    name: 'projection_stuck',
    help: '1 while a projection fails and retries (database unavailable, transient error), 0 when it applies again: alert on it',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  readonly projectionFailures = new Counter({
    name: 'projection_failures_total',
    help: 'Failed subscription attempts by projection (each retried with backoff)',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  readonly projectionPoison = new Counter({
    name: 'projection_poison_events_total',
    help: 'Events a projection cannot apply (deterministic data error), dead-lettered in projection_dead_letters and skipped: alert on any increase',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  readonly projectedEvents = new Counter({
    name: 'projection_events_total',
    help: 'Events applied by each projection',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  readonly brokeredReads = new Counter({
    name: 'bao_brokered_reads_total',
    help: "CI job value reads through OpenBao: as the job (its own JWT login), with the service token while the job's role is not yet projected (service-fallback), for a scope OpenBao cannot enforce exactly (service-api-only-scope), or not at all because OpenBao refused the job after the projection grace (refused-by-openbao)",
    labelNames: ['as'] as const,
    registers: [this.registry],
  });
  readonly policyReconciles = new Counter({
    name: 'policy_reconcile_changes_total',
    help: 'OpenBao (or file) policy and role writes and removals made by the reconciler',
    labelNames: ['change'] as const,
    registers: [this.registry],
  });
  readonly openBaoStateLost = new Counter({
    name: 'openbao_state_lost_total',
    help: 'Times OpenBao was seen to have lost what the service put there (the JWT mount/config, the KV sentinel): restarted empty or restored from an old backup; alert on any increase',
    labelNames: ['what'] as const,
    registers: [this.registry],
  });
  readonly openBaoAuditNotRecorded = new Counter({
    name: 'openbao_audit_entries_not_recorded_total',
    help: 'OpenBao audit entries on the service\'s KV paths not recorded one by one: reason="unauthenticated-folded" (no or unknown token; folded into one summary per remote address and window), reason="invalid-path" (no valid project id or secret name; dropped), reason="token-folded" (denials of one known token over DENIAL_RATE_PER_MINUTE in a 60 s slot; folded into one summary)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly openBaoAuditSummaries = new Counter({
    name: 'openbao_audit_unauthenticated_summaries_total',
    help: 'Summary events (SecretAccessDenialsSuppressed, projectId "*") appended for unauthenticated OpenBao denials, one per remote address and window',
    registers: [this.registry],
  });
  readonly policyNameCollision = new Gauge({
    name: 'policy_name_collision',
    help: '1 while the reconciler refuses a desired OpenBao state in which two (project, scope) owners map to one role/policy name (nothing is applied); alert on it',
    registers: [this.registry],
  });
  readonly orphanValuesDestroyed = new Counter({
    name: 'orphan_values_destroyed_total',
    help: 'Stored value versions no event refers to (a crash between value write and append), destroyed by the sweep',
    registers: [this.registry],
  });

  readonly graphqlOperations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations executed, by operation type and executor (compiled: graphql-jit, for a query document seen before; interpreted: graphql-js)',
    labelNames: ['operation', 'executor'] as const,
    registers: [this.registry],
  });

  readonly auditLogRecords = new Counter({
    name: 'audit_log_records_total',
    help: 'Records appended to the tamper-evident audit log',
    registers: [this.registry],
  });
  readonly auditRelayed = new Counter({
    name: 'audit_relay_records_total',
    help: 'Audit records and checkpoints delivered (acknowledged) by each relay: kafka-records, kafka-checkpoints, file-records',
    labelNames: ['relay'] as const,
    registers: [this.registry],
  });
  readonly auditRelayFailures = new Counter({
    name: 'audit_relay_failures_total',
    help: 'Failed deliveries by relay (each is retried from the stored offset)',
    labelNames: ['relay'] as const,
    registers: [this.registry],
  });
  readonly auditRelayBacklog = new Gauge({
    name: 'audit_relay_backlog_records',
    help: 'Audit-log records not yet acknowledged by the relay',
    labelNames: ['relay'] as const,
    registers: [this.registry],
  });
  readonly auditCheckpoints = new Counter({
    name: 'audit_checkpoints_signed_total',
    help: 'Signed checkpoints of the audit log',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
