// The soak's figures: complete latency by phase (steady, during the rolling restart, from the
// SIGKILL until the killed replica's leases have lapsed), answers by kind and code, restarts and
// how each replica ended, haproxy's view, CPU time, and the verdict; as JSON and as markdown.
import type { ChaosLog } from './chaos.ts';
import type { Interval, UploadRecord } from './client.ts';
import type { ServerStats } from './haproxy.ts';
import type { ReplicaExit } from './replicas.ts';
import type { Checks } from './verify.ts';

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

type Phase = 'steady' | 'rolling restart' | 'SIGKILL until its leases lapsed';

export interface SoakResult {
  readonly started: string;
  readonly command: string;
  readonly commit: string;
  // files of the service that differed from the commit when it was built (a shared tree)
  readonly uncommitted: string[];
  readonly node: string;
  readonly haproxy: string;
  readonly machine: { cores: number; loadAverage1m: { min: number; mean: number; max: number } };
  readonly options: { durationSeconds: number; concurrency: number; replicas: number; maxBytes: number };
  readonly settings: Readonly<Record<string, string>>;
  readonly loadSeconds: number;
  readonly uploads: {
    attempted: number;
    succeeded: number;
    gaveUp: number;
    perSecond: number;
    bytesSent: number;
    planted: UploadRecord | undefined;
  };
  readonly requests: {
    total: number;
    retries: number;
    byStatus: Record<string, number>;
    answers: Record<string, number>;
  };
  readonly complete: Record<Phase | 'all' | 'each request', LatencySummary>;
  readonly chaos: ChaosLog;
  readonly finalStops: ReplicaExit[];
  readonly haproxyServers: ServerStats[];
  // every answer but a success the clients got, with when; and haproxy's log of the requests that
  // were not plain successes (retried, redispatched, cut, 5xx)
  readonly incidents: { atSeconds: number; answer: string }[];
  readonly haproxyLog: string[];
  readonly cpuSeconds: { replicas: number; haproxy: number; client: number; wallSeconds: number };
  readonly settle: { seconds: number; completing: number; unpublished: number };
  readonly checks: Checks;
  readonly lostNothing: boolean;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0);
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(sorted.at(-1) ?? 0) };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function overlaps(a: Interval, b: Interval | undefined): boolean {
  return b !== undefined && a.startMs <= b.endMs && b.startMs <= a.endMs;
}

function phaseOf(complete: Interval, chaos: ChaosLog): Phase {
  if (overlaps(complete, chaos.killed)) {
    return 'SIGKILL until its leases lapsed';
  }
  return overlaps(complete, chaos.rolling) ? 'rolling restart' : 'steady';
}

// Complete latency (first request to final answer, retries included) overall and by phase, and
// of each complete request alone.
export function completeLatency(
  uploads: readonly UploadRecord[],
  chaos: ChaosLog,
  eachRequestMs: readonly number[],
): SoakResult['complete'] {
  const completes = uploads.flatMap((upload) => (upload.complete === undefined ? [] : [upload.complete]));
  const ms = (phase?: Phase): number[] =>
    completes
      .filter((complete) => phase === undefined || phaseOf(complete, chaos) === phase)
      .map((complete) => complete.endMs - complete.startMs);
  return {
    all: summarize(ms()),
    steady: summarize(ms('steady')),
    'rolling restart': summarize(ms('rolling restart')),
    'SIGKILL until its leases lapsed': summarize(ms('SIGKILL until its leases lapsed')),
    'each request': summarize(eachRequestMs),
  };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

function latencyTable(result: SoakResult): string[] {
  const lines = [
    '| complete latency, ms (first request to final answer) | completes | p50 | p95 | p99 | max |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [phase, row] of Object.entries(result.complete)) {
    lines.push(`| ${phase} | ${row.count} | ${row.p50} | ${row.p95} | ${row.p99} | ${row.max} |`);
  }
  return lines;
}

// The upload planted on the replica that was killed: its completion claimed there, then its
// complete (retried through haproxy) answered once the lease lapsed.
function plantedLines(result: SoakResult): string[] {
  const killed = result.chaos.killed;
  const upload = result.uploads.planted;
  if (killed?.planted === undefined || upload === undefined) {
    return ['No upload was planted on the killed replica.'];
  }
  const complete =
    upload.complete === undefined ? 'no answer' : `${seconds(upload.complete.endMs - upload.complete.startMs)} s`;
  return [
    `Planted on it: ${killed.planted}, ${killed.plantedClaimed ? 'its completion claimed there when it was killed' : 'NOT caught COMPLETING before the kill'}; ` +
      `its complete: ${upload.outcome}, ${upload.completeRequests} request(s), ${complete} from first request to answer.`,
  ];
}

function chaosLines(result: SoakResult): string[] {
  const { rolling, killed, restarts } = result.chaos;
  const lines = [
    `Rolling restart: ${rolling === undefined ? 'not done' : `${seconds(rolling.startMs)} s to ${seconds(rolling.endMs)} s`}; ` +
      `SIGKILL: ${killed === undefined ? 'not done' : `${killed.replica} at ${seconds(killed.startMs)} s with ${killed.requestsOpen} request(s) open (${killed.completing} file(s) COMPLETING then, on any replica), its leases lapsed by ${seconds(killed.endMs)} s`}.`,
    ...plantedLines(result),
    '',
    '| replica | signal at s | ended | exit took s | ready again after s |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const restart of restarts) {
    lines.push(
      `| ${restart.replica} | ${restart.atSeconds.toFixed(1)} | ${restart.sent} → ${restart.ended} | ${restart.exitSeconds.toFixed(1)} | ${restart.readySeconds.toFixed(1)} |`,
    );
  }
  const finals = result.finalStops.map((stop) => `${stop.replica} ${stop.ended}`).join(', ');
  lines.push('', `Final SIGTERM after the checks: ${finals}.`);
  return lines;
}

function checkLines(result: SoakResult): string[] {
  const { checks, settle } = result;
  const lines = [
    `- uploads the client saw succeed: ${checks.succeeded}; found whole (COMPLETED with their digest and length, ` +
      `object of that size with the task's token, one published event in the stream): ${checks.found}; ` +
      `read back and hashed: ${checks.readBack}`,
    `- completions claimed more than once (a lease taken over): ${checks.takenOver}; verified by: ${JSON.stringify(checks.verifiedBy)}`,
    `- other tasks (answers lost or uploads given up), by status: ${JSON.stringify(checks.otherTasks)}`,
    `- settled after the load in ${settle.seconds.toFixed(1)} s: ${settle.completing} COMPLETING, ${settle.unpublished} unpublished event(s) left`,
    `- uploads given up: ${checks.gaveUp.length}`,
    ...checks.gaveUp
      .slice(0, 20)
      .map((up) => `  - ${up.fileId ?? 'no task'} (${up.via}, ${up.length} B, ${up.status ?? '–'}): ${up.failure}`),
    `- violations: ${checks.violations.length}`,
    ...checks.violations.slice(0, 50).map((violation) => `  - ${violation}`),
  ];
  return lines;
}

export function markdown(result: SoakResult): string {
  const { uploads, requests, cpuSeconds, machine } = result;
  const byStatus = Object.entries(requests.byStatus)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  return [
    `# npm run soak (${result.started}, ${result.commit}${result.uncommitted.length > 0 ? `, with uncommitted changes to ${result.uncommitted.join(', ')}` : ''})`,
    '',
    `\`${result.command}\`: ${result.options.replicas} replicas behind ${result.haproxy}, ${result.options.concurrency} clients, ` +
      `load for ${result.loadSeconds.toFixed(0)} s; Node ${result.node}; ${machine.cores} cores shared with other work ` +
      `(1-minute load average ${machine.loadAverage1m.min}–${machine.loadAverage1m.max}, mean ${machine.loadAverage1m.mean}).`,
    '',
    `**${result.lostNothing ? 'Nothing lost' : 'LOST OR FAILED: see the checks'}.** ` +
      `Uploads: ${uploads.attempted} attempted, ${uploads.succeeded} succeeded, ${uploads.gaveUp} given up ` +
      `(${uploads.perSecond.toFixed(1)}/s, ${(uploads.bytesSent / 2 ** 20).toFixed(0)} MiB of parts sent). ` +
      `Requests: ${requests.total}, of which retries ${requests.retries}; by status ${byStatus}.`,
    '',
    ...latencyTable(result),
    '',
    ...chaosLines(result),
    '',
    `CPU: replicas ${cpuSeconds.replicas.toFixed(0)} s, haproxy ${cpuSeconds.haproxy.toFixed(1)} s, the client ${cpuSeconds.client.toFixed(0)} s, over ${cpuSeconds.wallSeconds.toFixed(0)} s of wall time.`,
    '',
    '## Checks',
    '',
    ...checkLines(result),
    '',
    '## Answers by request kind, HTTP status and code',
    '',
    ...Object.entries(requests.answers)
      .sort()
      .map(([key, count]) => `- ${key}: ${count}`),
    '',
    '## What the clients saw go wrong (s since the soak began)',
    '',
    ...(result.incidents.length === 0
      ? ['nothing']
      : result.incidents.slice(0, 50).map((i) => `- ${i.atSeconds} s: ${i.answer}`)),
    '',
    "## haproxy's log of the requests that were not plain successes",
    '',
    '```',
    ...(result.haproxyLog.length === 0 ? ['(none)'] : result.haproxyLog.slice(0, 50)),
    '```',
    '',
    '## haproxy, per replica',
    '',
    '| replica | requests | retries | redispatches | connection errors | response errors | 5xx |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...result.haproxyServers.map(
      (s) =>
        `| ${s.name} | ${s.total} | ${s.retries} | ${s.redispatches} | ${s.connectionErrors} | ${s.responseErrors} | ${s.http5xx} |`,
    ),
    '',
    `Settings: ${Object.entries(result.settings)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')}`,
    '',
  ].join('\n');
}
