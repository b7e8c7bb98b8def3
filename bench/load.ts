// npm run load -- [--files 400] [--concurrency 16] [--fault-rate 0.05] [--stall-ms 2500]
//                  [--stall-every-ms 8000] [--bound-ms 20000] [--port 3998]
// A bounded load test on loopback. Starts the built service with a fault-injecting proxy between
// it and RGW (connections reset after a combine, during a read-back, before a part listing, at
// --fault-rate each), then drives create, uploadUrl, the part PUT and complete for many small files:
// most complete once, some twice in a row, some five times at once, some declare a wrong digest,
// some leave their part out. The clients are the upload client's core (@koodrive/upload-client),
// retrying 503, 5xx, 13000403 and lost connections briefly (Retry-After capped at 300 ms: this is
// a load test), create included (a create sent again may leave a task behind, which is checked).
// Then it checks every file's final state against S3 and the outbox and prints requests per
// second, p50/p99 latency by endpoint, answers by code, the faults injected and the invariant
// violations, which must be 0 (the exit code says so).
// Storage also stalls: every --stall-every-ms the proxy stops forwarding for --stall-ms (the
// service's storage bounds are 1 s here), and no request may wait past --bound-ms for its answer.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ApiError, bearer, type CompleteAnswer, fetchTransport, KooDriveApi } from '@koodrive/upload-client';
import { FaultProxy, s3Requests } from '../tools/testing/fault-proxy.ts';
import { migrate } from '../tools/db/migrate.ts';
import { verifyLoad } from './load-verify.ts';
import { type Session, newSession, s3Client, serviceEnv, startService } from './support.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '16' },
    'fault-rate': { type: 'string', default: '0.05' },
    'stall-ms': { type: 'string', default: '2500' },
    'stall-every-ms': { type: 'string', default: '8000' },
    'bound-ms': { type: 'string', default: '20000' },
    port: { type: 'string', default: '3998' },
  },
});
const FILES = Number(values.files);
const CONCURRENCY = Number(values.concurrency);
const FAULT_RATE = Number(values['fault-rate']);
const STALL_MS = Number(values['stall-ms']);
const STALL_EVERY_MS = Number(values['stall-every-ms']);
const BOUND_MS = Number(values['bound-ms']);
const USERS = 8;
const RETRIES = 20;

type Scenario = 'once' | 'repeated' | 'concurrent' | 'wrong-digest' | 'missing-part';
// out of 20 files
const SCENARIOS: readonly Scenario[] = [
  ...Array<Scenario>(12).fill('once'),
  ...Array<Scenario>(3).fill('repeated'),
  ...Array<Scenario>(3).fill('concurrent'),
  'wrong-digest',
  'missing-part',
];

interface Answer {
  readonly code: number;
  readonly body: Record<string, unknown>;
}

interface FileRun {
  readonly scenario: Scenario;
  readonly session: Session;
  readonly data: Buffer;
  readonly sha256: string;
  fileId?: string;
  readonly completes: Answer[];
}

const runId = randomBytes(4).toString('hex');
const env = serviceEnv(Number(values.port), {
  EVENTS_STREAM: `koodrive:load:${runId}`,
  RECONCILE_INTERVAL_SECONDS: '1',
  OUTBOX_RELAY_INTERVAL_MS: '200',
  COMPLETE_LEASE_SECONDS: '5',
  STORAGE_CONNECT_TIMEOUT_MS: '1000',
  STORAGE_IDLE_TIMEOUT_MS: '1000',
  STORAGE_REQUEST_TIMEOUT_MS: '1000',
  LOG_LEVEL: 'error',
});
const realS3 = env.S3_ENDPOINT!;
const baseUrl = `http://127.0.0.1:${env.PORT}`;

// latency samples (ms) by endpoint, answers by endpoint and code
const latencies = new Map<string, number[]>();
const codes = new Map<string, number>();
const faults = new Map<string, number>();
let requests = 0;
// requests answered only after --bound-ms: each is a violation
const overBound: string[] = [];
let stalls = 0;

function countFault(kind: string): boolean {
  if (Math.random() >= FAULT_RATE) {
    return false;
  }
  faults.set(kind, (faults.get(kind) ?? 0) + 1);
  return true;
}

// Each attempt: counted, its latency kept, and held to the bound.
function record(endpoint: string, code: number, tookMs: number): void {
  requests++;
  latencies.set(endpoint, [...(latencies.get(endpoint) ?? []), tookMs]);
  if (tookMs > BOUND_MS) {
    overBound.push(`${endpoint} answered ${code} after ${tookMs.toFixed(0)} ms`);
  }
  const key = `${endpoint} ${code}`;
  codes.set(key, (codes.get(key) ?? 0) + 1);
}

function apiFor(session: Session): KooDriveApi {
  return new KooDriveApi({
    baseUrl,
    traceId: randomBytes(16).toString('hex'),
    authenticate: bearer(session.token),
    createRetries: 'any',
    retry: { attempts: RETRIES + 1, baseMs: 200, maxMs: 300 },
    onAnswer: (call) => record(call.endpoint, call.code ?? -1, call.ms),
  });
}

// complete's final answer, as the checks read it
async function answerOf(completing: Promise<CompleteAnswer>): Promise<Answer> {
  try {
    const { sha256, length } = await completing;
    return { code: 0, body: { sha256, length } };
  } catch (error) {
    return error instanceof ApiError
      ? { code: error.code, body: { msg: error.apiMessage } }
      : { code: -1, body: { error: String(error) } };
  }
}

async function runFile(file: FileRun): Promise<void> {
  const api = apiFor(file.session);
  const created = await api.create({
    fields: { fileName: `load-${randomUUID()}.bin` },
    length: file.data.length,
    sha256: file.scenario === 'wrong-digest' ? 'f'.repeat(64) : file.sha256,
  });
  const fileId = created.fileId;
  file.fileId = fileId;
  const [part] = await api.uploadUrl(fileId, [{ partNumber: 1, partSize: file.data.length, partOffset: 0 }]);
  if (file.scenario !== 'missing-part') {
    const started = performance.now();
    const answer = await fetchTransport.put(part!.uploadUrl, file.data, new AbortController().signal, () => undefined);
    latencies.set('PUT part', [...(latencies.get('PUT part') ?? []), performance.now() - started]);
    if (answer.status !== 200) {
      throw new Error(`part PUT answered ${answer.status}`);
    }
  }
  const complete = async (): Promise<void> => {
    file.completes.push(await answerOf(api.complete(fileId)));
  };
  if (file.scenario === 'concurrent') {
    await Promise.all(Array.from({ length: 5 }, complete));
  } else {
    await complete();
    if (file.scenario === 'repeated') {
      await complete();
      await complete();
    }
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const proxy = await FaultProxy.start(realS3, { http: true });
const isComplete = s3Requests.complete();
const isListParts = s3Requests.listParts();
const isGetObject = s3Requests.getObject('/files/');
proxy.inject((r) => isComplete(r) && countFault('combine answer lost'), { kind: 'reset-after-answer' }, Infinity);
proxy.inject(
  (r) => isGetObject(r) && countFault('read-back cut'),
  { kind: 'reset-mid-response', afterBytes: 600 },
  Infinity,
);
proxy.inject((r) => isListParts(r) && countFault('part listing reset'), { kind: 'reset-before' }, Infinity);

await migrate(env.DATABASE_URL!);
const service = await startService({ ...env, S3_ENDPOINT: proxy.url(realS3), S3_PUBLIC_ENDPOINT: realS3 });
const redis = new Redis(env.REDIS_URL!);
const s3 = s3Client(env);
const db = new pg.Pool({ connectionString: env.DATABASE_URL! });
process.exitCode = 1; // until the checks have run and found nothing
const violations: string[] = [];
const sessions: Session[] = [];

try {
  for (let i = 0; i < USERS; i++) {
    sessions.push(await newSession(redis, `load-${runId}`));
  }
  const files: FileRun[] = Array.from({ length: FILES }, (_, i) => {
    const data = randomBytes(1024 + Math.floor(Math.random() * 255 * 1024));
    return {
      scenario: SCENARIOS[i % SCENARIOS.length]!,
      session: sessions[i % USERS]!,
      data,
      sha256: createHash('sha256').update(data).digest('hex'),
      completes: [],
    };
  });

  // storage stalls while the load runs
  const stalling = setInterval(() => {
    stalls++;
    proxy.freeze();
    setTimeout(() => proxy.thaw(), STALL_MS);
  }, STALL_EVERY_MS);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < files.length) {
        const file = files[next++]!;
        await runFile(file).catch((error: unknown) => violations.push(`a file's run failed: ${String(error)}`));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(stalling);
  proxy.thaw();
  violations.push(...overBound.map((what) => `waited past the ${BOUND_MS} ms bound: ${what}`));

  // the reconciler settles completions whose worker gave up; give it a few intervals
  const ids = files.flatMap((file) => (file.fileId === undefined ? [] : [file.fileId]));
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query<{ busy: number; unpublished: number }>(
      `SELECT (SELECT count(*)::int FROM files WHERE id = ANY($1) AND status = 'COMPLETING') AS busy,
              (SELECT count(*)::int FROM outbox_events WHERE file_id = ANY($1) AND published_at IS NULL) AS unpublished`,
      [ids],
    );
    if (rows[0]!.busy === 0 && rows[0]!.unpublished === 0) {
      break;
    }
    await sleep(300);
  }

  // every file against storage and the events, by the verifier's own S3 client (bench/load-verify.ts)
  const createAttempts = [...codes]
    .filter(([key]) => /(^|\/)create /.test(key))
    .reduce((sum, [, count]) => sum + count, 0);
  violations.push(
    ...(await verifyLoad(files, {
      db,
      redis,
      s3,
      bucket: env.S3_BUCKET!,
      stream: env.EVENTS_STREAM!,
      userIds: sessions.map((session) => session.userId),
      createAttempts,
    })),
  );

  const total = [...latencies.entries()].filter(([name]) => name !== 'PUT part');
  console.log(
    `\nkoodrive-upload load: ${FILES} files, ${CONCURRENCY} clients, ${USERS} users, fault rate ${FAULT_RATE}`,
  );
  console.log(`service requests: ${requests} in ${seconds.toFixed(1)} s = ${(requests / seconds).toFixed(0)} req/s`);
  console.log('\nlatency (ms)            count     p50     p99     max');
  for (const [name, samples] of [...total, ['PUT part', latencies.get('PUT part') ?? []] as const]) {
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(
      `${name.padEnd(22)}${String(sorted.length).padStart(7)}${percentile(sorted, 50).toFixed(1).padStart(8)}` +
        `${percentile(sorted, 99).toFixed(1).padStart(8)}${(sorted.at(-1) ?? 0).toFixed(1).padStart(8)}`,
    );
  }
  console.log('\nanswers by endpoint and code');
  for (const [key, count] of [...codes.entries()].sort()) {
    console.log(`  ${key.padEnd(32)}${count}`);
  }
  console.log('\nstorage faults injected');
  for (const [kind, count] of faults) {
    console.log(`  ${kind.padEnd(32)}${count}`);
  }
  console.log(`  ${`storage stalled ${STALL_MS} ms`.padEnd(32)}${stalls}`);
  console.log(`\nrequests answered past the ${BOUND_MS} ms bound: ${overBound.length}`);
  console.log(`\ninvariant violations: ${violations.length}`);
  for (const violation of violations.slice(0, 50)) {
    console.log(`  - ${violation}`);
  }
  process.exitCode = violations.length === 0 ? 0 : 1;
} finally {
  service.kill('SIGTERM');
  await proxy.stop();
  // leave nothing behind in the (in-memory) store
  for (const session of sessions) {
    const prefix = `files/${session.containerId}/`;
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: env.S3_BUCKET, Prefix: prefix }));
    for (const upload of uploads.Uploads ?? []) {
      await s3.send(
        new AbortMultipartUploadCommand({ Bucket: env.S3_BUCKET, Key: upload.Key, UploadId: upload.UploadId }),
      );
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: env.S3_BUCKET, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key }));
    if (keys.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: keys } }));
    }
  }
  await redis.del(env.EVENTS_STREAM!);
  redis.disconnect();
  s3.destroy();
  await db.end();
}
