// The service's Prometheus metrics, on prom-client's default registry (served at /metrics).
// Names follow Prometheus conventions: base units (seconds, bytes), _total for counters.
// Histograms of request and completion latency carry the trace id as an exemplar.
import { Counter, Gauge, Histogram, type OpenMetricsContentType, Registry, collectDefaultMetrics } from 'prom-client';

// OpenMetrics, so histograms can carry exemplars (Prometheus scrapes it as is)
export const metricsRegistry = new Registry<OpenMetricsContentType>();
metricsRegistry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
collectDefaultMetrics({ prefix: 'koodrive_upload_', register: metricsRegistry });
const registers = [metricsRegistry];

export const httpRequests = new Counter({
  name: 'koodrive_http_requests_total',
  help: 'HTTP requests answered, by route template, method, HTTP status and KooDrive code',
  registers,
  labelNames: ['route', 'method', 'status', 'code'] as const,
});

export const httpRequestDuration = new Histogram({
  name: 'koodrive_http_request_duration_seconds',
  help: 'HTTP request latency by route template and method',
  registers,
  labelNames: ['route', 'method'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  enableExemplars: true,
});

export const completeOutcomes = new Counter({
  name: 'koodrive_complete_outcomes_total',
  help: 'Completions run (by a request or the reconciler), by KooDrive outcome code',
  registers,
  labelNames: ['code', 'by'] as const,
});

export const bytesVerified = new Counter({
  name: 'koodrive_verified_bytes_total',
  help: 'Bytes read back from storage and hashed to verify combined files',
  registers,
});

export const partBytesReceived = new Counter({
  name: 'koodrive_part_bytes_received_total',
  help: "Part bytes received on the service's own part URLs and streamed to storage",
  registers,
});

export const verificationsByMethod = new Counter({
  name: 'koodrive_verifications_total',
  help: 'Combined files proven, by how: hash_chain (no read-back), parallel_parts, pipelined, stream',
  registers,
  labelNames: ['method'] as const,
});

export const verificationDuration = new Histogram({
  name: 'koodrive_verification_duration_seconds',
  help: 'Time to read back and hash one combined file (throughput: bytes over this)',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  enableExemplars: true,
  registers,
});

export const dependencyDuration = new Histogram({
  name: 'koodrive_dependency_call_duration_seconds',
  help: 'Calls to PostgreSQL, Redis and S3, by dependency, operation and outcome (ok or error)',
  registers,
  labelNames: ['dependency', 'operation', 'outcome'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});

export const maintenanceActions = new Counter({
  name: 'koodrive_maintenance_actions_total',
  help:
    'What the background jobs did: reconciler completed/settled/retry, reaper expired/freed/failed, relay published, outbox days dropped',
  registers,
  // `task`, not `job`: Prometheus gives every scraped series the target's `job` label, and would
  // rename this one's to exported_job
  labelNames: ['task', 'action'] as const,
});

// every series exists from the start (at 0), so rates and alerts see it before the first action
for (const [task, actions] of [
  ['reconcile', ['completed', 'settled', 'retry_later']],
  ['reap', ['expired', 'freed', 'failed']],
  ['outbox-relay', ['published']],
  ['outbox-partitions', ['dropped']],
] as const) {
  for (const action of actions) {
    maintenanceActions.inc({ task, action }, 0);
  }
}

// Files by status, set by the /metrics handler from the database at each scrape.
export const uploadsByStatus = new Gauge({
  name: 'koodrive_uploads',
  help: 'Files by status (uploading, completing), read from the database at scrape time',
  registers,
  labelNames: ['status'] as const,
});

export type Dependency = 'postgres' | 'redis' | 's3';

// Times one call to a dependency; the outcome label says whether it threw.
export async function timeDependency<T>(dependency: Dependency, operation: string, call: () => Promise<T>): Promise<T> {
  const end = dependencyDuration.startTimer({ dependency, operation });
  try {
    const result = await call();
    end({ outcome: 'ok' });
    return result;
  } catch (error) {
    end({ outcome: 'error' });
    throw error;
  }
}
