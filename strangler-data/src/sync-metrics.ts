import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The replicator's metrics, on a registry of its own. Labels are service and side names only. */
export class SyncMetrics {
  readonly registry = new Registry();
  readonly pending = new Gauge({
    name: 'strangler_sync_pending_changes',
    help: 'Changes captured on a side and not yet applied on the other, by service and side.',
    labelNames: ['service', 'side'] as const,
    registers: [this.registry],
  });
  readonly lag = new Gauge({
    name: 'strangler_sync_lag_seconds',
    help: 'Age of the oldest change not yet applied on the other side (0 when caught up), by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly applied = new Counter({
    name: 'strangler_sync_applied_changes_total',
    help: "Changes applied from the writer's side to the other, by service.",
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly strays = new Counter({
    name: 'strangler_sync_stray_changes_total',
    help: 'Changes found on the side that is not the writer (a write that outlived a switch), applied all the same, by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'strangler_sync_errors_total',
    help: 'Replication rounds that failed (retried on the next round), by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly writer = new Gauge({
    name: 'strangler_sync_writer',
    help: 'Which side writes a service’s rows: 1 for the current writer.',
    labelNames: ['service', 'writer'] as const,
    registers: [this.registry],
  });

  readonly failing = new Gauge({
    name: 'strangler_sync_failing_changes',
    help: 'Changes the other side refused (a constraint, a bad value) and that are still retried, by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Gauge({
    name: 'strangler_sync_dead_letters',
    help: 'Changes set aside after failing again and again, waiting for an operator (strangler data dead-letters), by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'strangler_sync_process_' });
  }
}
