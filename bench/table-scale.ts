// The files table at scale (npm run bench -- --table-scale [--table-scale-rows 10000000]): what
// create, complete, one reaper batch and one reconciler batch take on an empty table and again
// after --table-scale-rows rows of history are loaded (generated in SQL: tools/testing/file-history.ts,
// 97 % terminal over a year, then VACUUM ANALYZE), in a database of its own that it drops at the end.
// The built service runs in this process (dist/, createApp as main.ts does, background jobs off) on
// the real Redis and RGW: create and complete over HTTP, timed per request by the client; the
// batches are its own ReaperService and ReconcilerService, on work set up for each run (overdue
// uploads with real multipart uploads; lapsed completions of files whose part is in RGW). Beside
// them, the database's part alone: each job's scan, the outbox relay's batch and the gauge's count.
// Medians of wall time: on a shared machine they move with the neighbours, the ratio less so.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AbortMultipartUploadCommand, DeleteObjectsCommand } from '@aws-sdk/client-s3';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { applyMigrations, prismaSources } from '@koodrive/migrations';
import { benchApi, type Env, importBuilt, newSession, type Session, s3Client } from './support.ts';
import { historyMix, loadFileHistory } from '../tools/testing/file-history.ts';

type Bootstrap = typeof import('../apps/upload/src/bootstrap.ts');
type Reaper = typeof import('../apps/upload/src/maintenance/reaper.service.ts');
type Reconciler = typeof import('../apps/upload/src/maintenance/reconciler.service.ts');
type Database = typeof import('@koodrive/database');

export interface TableScaleOptions {
  readonly rows: number;
  // create and complete requests timed per phase
  readonly requests: number;
  // reaper and reconciler batches (and the database-only figures) per phase
  readonly runs: number;
  readonly port: number;
}

// the batch sizes of ReaperService and ReconcilerService
const REAP_BATCH = 100;
const RECONCILE_BATCH = 20;
const RELAY_BATCH = 100;
const FILE_SIZE = 64 * 1024;

export const MEASURES = [
  ['create', 'create (POST create, one small file, over HTTP)'],
  ['complete', 'complete (POST complete, one part straight to S3, read back)'],
  ['reaperBatch', `reaper batch: ${REAP_BATCH} overdue uploads expired, their multipart uploads aborted and freed`],
  ['reconcilerBatch', `reconciler batch: ${RECONCILE_BATCH} lapsed completions found, claimed and completed`],
  ['reaperExpire', `  of which the database: expire ${REAP_BATCH} overdue uploads (one statement)`],
  ['reconcilerScan', `  of which the database: find ${RECONCILE_BATCH} lapsed completions`],
  ['reaperFindExpired', `database: find ${REAP_BATCH} expired uploads to abort (reaper, step 2)`],
  ['relayBatch', `database: outbox relay batch of ${RELAY_BATCH} events (publishing to nowhere)`],
  ['gaugeCount', 'database: count open uploads by status (the /metrics gauge)'],
] as const;
export type Measure = (typeof MEASURES)[number][0];
// the figures the target (at most 2x the empty table's) is set for
export const TARGETED: readonly Measure[] = ['create', 'complete', 'reaperBatch', 'reconcilerBatch'];

export interface TableScaleResult {
  readonly started: string;
  readonly rows: number;
  readonly mix: Record<string, number>;
  readonly requests: number;
  readonly runs: number;
  readonly loadSeconds: number;
  readonly tableBytes: {
    readonly files: number;
    readonly filesIndexes: Record<string, number>;
    readonly outbox: number;
  };
  // median ms, on the empty table and on the loaded one
  readonly empty: Record<Measure, number>;
  readonly loaded: Record<Measure, number>;
}

interface Parts {
  readonly app: NestFastifyApplication;
  readonly baseUrl: string;
  readonly db: pg.Client;
  readonly session: Session;
  readonly reaper: InstanceType<Reaper['ReaperService']>;
  readonly reconciler: InstanceType<Reconciler['ReconcilerService']>;
  readonly maintenance: InstanceType<Database['MaintenanceRepository']>;
  readonly outbox: InstanceType<Database['OutboxRepository']>;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return Number(value.toFixed(3));
};

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

interface SmallFile {
  readonly bytes: Buffer;
  readonly sha256: string;
}

function smallFile(): SmallFile {
  const bytes = randomBytes(FILE_SIZE);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function create(parts: Parts, file: SmallFile): Promise<string> {
  const created = await benchApi(parts.baseUrl, parts.session.token).create({
    fields: { fileName: `bench-scale-${randomBytes(8).toString('hex')}.bin` },
    length: file.bytes.length,
    sha256: file.sha256,
  });
  return created.fileId;
}

// A file created with its one part in S3, not yet completed.
async function uploaded(parts: Parts): Promise<string> {
  const file = smallFile();
  const fileId = await create(parts, file);
  const [target] = await benchApi(parts.baseUrl, parts.session.token).uploadUrl(
    fileId,
    [{ partNumber: 1, partSize: file.bytes.length, partOffset: 0 }],
    's3',
  );
  const put = await fetch(target!.uploadUrl, { method: 'PUT', body: file.bytes });
  await put.text();
  if (!put.ok) {
    throw new Error(`part PUT answered HTTP ${put.status}`);
  }
  return fileId;
}

async function measurePhase(
  started: Parts,
  redis: Redis,
  options: TableScaleOptions,
): Promise<Record<Measure, number>> {
  // a session of its own: one made before a long load has expired by the end of it
  const parts = { ...started, session: await newSession(redis, 'bench-scale') };
  const samples = Object.fromEntries(MEASURES.map(([measure]) => [measure, [] as number[]])) as Record<
    Measure,
    number[]
  >;
  for (let i = 0; i < options.requests; i++) {
    const file = smallFile();
    samples.create.push(await timed(() => create(parts, file)));
    const fileId = await uploaded(parts);
    const api = benchApi(parts.baseUrl, parts.session.token);
    samples.complete.push(await timed(() => api.complete(fileId)));
  }
  for (let run = 0; run < options.runs; run++) {
    // the reaper: REAP_BATCH uploads with their multipart uploads in RGW, past their expiry
    const overdue = await Promise.all(Array.from({ length: REAP_BATCH }, () => create(parts, smallFile())));
    await parts.db.query(`UPDATE files SET expires_at = now() - interval '1 second' WHERE id = ANY($1)`, [overdue]);
    let expired = 0;
    let freed = 0;
    samples.reaperBatch.push(
      await timed(async () => {
        samples.reaperExpire.push(
          await timed(async () => {
            expired = (await parts.maintenance.expireOverdueUploads(REAP_BATCH, 13000401)).length;
          }),
        );
        freed = (await parts.reaper.reap()).freed;
      }),
    );
    if (expired !== REAP_BATCH || freed !== REAP_BATCH) {
      throw new Error(`the reaper batch expired ${expired} and freed ${freed}, not ${REAP_BATCH}`);
    }
    // the reconciler: RECONCILE_BATCH completions whose worker died (the lease lapsed), their part in RGW
    const lapsed = await Promise.all(Array.from({ length: RECONCILE_BATCH }, () => uploaded(parts)));
    await parts.db.query(
      `UPDATE files SET status = 'COMPLETING', claim = claim + 1, claim_expires_at = now() - interval '1 second',
                        expected_sha256 = declared_sha256, updated_at = now()
        WHERE id = ANY($1)`,
      [lapsed],
    );
    let completed = 0;
    samples.reconcilerBatch.push(
      await timed(async () => {
        samples.reconcilerScan.push(await timed(() => parts.maintenance.findLapsedCompletions(RECONCILE_BATCH)));
        completed = (await parts.reconciler.reconcile()).completed;
      }),
    );
    if (completed !== RECONCILE_BATCH) {
      throw new Error(`the reconciler batch completed ${completed}, not ${RECONCILE_BATCH}`);
    }
    // the database alone: expired uploads to abort (made so again for the scan), the relay, the gauge
    await parts.db.query(
      `UPDATE files SET status = 'EXPIRED', upload_id = 'bench-scale-aborted', updated_at = now() WHERE id = ANY($1)`,
      [overdue],
    );
    samples.reaperFindExpired.push(await timed(() => parts.maintenance.findExpiredWithUpload(REAP_BATCH)));
    await parts.db.query(`UPDATE files SET upload_id = NULL WHERE id = ANY($1)`, [overdue]);
    await parts.db.query(
      `INSERT INTO outbox_events (type, file_id, payload) SELECT 'bench.scale', id, '{}' FROM unnest($1::text[]) id`,
      [overdue],
    );
    let relayed = 0;
    samples.relayBatch.push(
      await timed(async () => {
        relayed = await parts.outbox.relayBatch(RELAY_BATCH, () => Promise.resolve());
      }),
    );
    if (relayed !== RELAY_BATCH) {
      throw new Error(`the relay batch took ${relayed} events, not ${RELAY_BATCH}`);
    }
    samples.gaugeCount.push(await timed(() => parts.maintenance.countOpenByStatus()));
  }
  return Object.fromEntries(MEASURES.map(([measure]) => [measure, median(samples[measure])])) as Record<
    Measure,
    number
  >;
}

// The built service in this process on `databaseUrl`, its jobs off (the bench runs them).
async function startParts(env: Env, databaseUrl: string, redis: Redis, port: number): Promise<Parts> {
  const saved = { ...process.env };
  Object.assign(process.env, env, {
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'production',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    PART_URL_SECRET: randomBytes(24).toString('hex'),
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    RECONCILE_INTERVAL_SECONDS: '0',
    REAP_INTERVAL_SECONDS: '0',
    OUTBOX_RELAY_INTERVAL_MS: '0',
    METRICS_PORT: String(port + 1),
    HOST: '127.0.0.1',
    // one client making thousands of requests: the rate limit is not what is measured, nor the open-task cap
    RATE_LIMIT_REQUESTS: '1000000',
    MAX_OPEN_UPLOADS_PER_USER: '1000000',
  });
  delete process.env.DIRECT_DATABASE_URL;
  let app: NestFastifyApplication;
  try {
    const { createApp } = await importBuilt<Bootstrap>('apps/upload/src/bootstrap.js');
    app = await createApp();
  } finally {
    process.env = saved;
  }
  await app.listen({ port, host: '127.0.0.1' });
  const { ReaperService } = await importBuilt<Reaper>('apps/upload/src/maintenance/reaper.service.js');
  const { ReconcilerService } = await importBuilt<Reconciler>('apps/upload/src/maintenance/reconciler.service.js');
  const { MaintenanceRepository, OutboxRepository } = await importBuilt<Database>('libs/database/src/index.js');
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    db,
    session: await newSession(redis, 'bench-scale'),
    reaper: app.get(ReaperService),
    reconciler: app.get(ReconcilerService),
    maintenance: app.get(MaintenanceRepository),
    outbox: app.get(OutboxRepository),
  };
}

// What the run left in RGW: open multipart uploads (the timed creates) and completed objects.
async function removeObjects(env: Env, db: pg.Client): Promise<void> {
  const s3 = s3Client(env);
  try {
    const open = await db.query<{ key: string; upload: string }>(
      `SELECT storage_key AS key, upload_id AS upload FROM files
        WHERE file_name LIKE 'bench-scale-%' AND status IN ('UPLOADING', 'COMPLETING', 'EXPIRED') AND upload_id IS NOT NULL`,
    );
    for (const { key, upload } of open.rows) {
      await s3
        .send(new AbortMultipartUploadCommand({ Bucket: env.S3_BUCKET, Key: key, UploadId: upload }))
        .catch(() => undefined);
    }
    const done = await db.query<{ key: string }>(
      `SELECT storage_key AS key FROM files WHERE file_name LIKE 'bench-scale-%' AND status = 'COMPLETED'`,
    );
    for (let i = 0; i < done.rows.length; i += 1000) {
      const objects = done.rows.slice(i, i + 1000).map(({ key }) => ({ Key: key }));
      await s3.send(new DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: objects, Quiet: true } }));
    }
  } finally {
    s3.destroy();
  }
}

async function tableBytes(db: pg.Client): Promise<TableScaleResult['tableBytes']> {
  const { rows } = await db.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname = 'files'`,
  );
  const sizes = await db.query<{ files: string; outbox: string }>(
    `SELECT pg_relation_size('files') AS files, pg_total_relation_size('outbox_events') AS outbox`,
  );
  return {
    files: Number(sizes.rows[0]!.files),
    filesIndexes: Object.fromEntries(rows.map((row) => [row.name, Number(row.bytes)])),
    outbox: Number(sizes.rows[0]!.outbox),
  };
}

export async function measureTableScale(
  env: Env,
  redis: Redis,
  options: TableScaleOptions,
  log: (line: string) => void,
): Promise<TableScaleResult> {
  const started = new Date().toISOString();
  const server = new URL(env.DIRECT_DATABASE_URL ?? env.DATABASE_URL!);
  const name = `koodrive_bench_table_scale_${randomBytes(4).toString('hex')}`;
  const databaseUrl = Object.assign(new URL(server), { pathname: `/${name}` }).toString();
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  let parts: Parts | undefined;
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    const { migrationsDir, schemaPath } = prismaSources();
    await applyMigrations(databaseUrl, { migrationsDir, schemaPath });
    parts = await startParts(env, databaseUrl, redis, options.port);
    log(`table scale: database ${name} migrated; measuring on the empty table`);
    const empty = await measurePhase(parts, redis, options);
    log(`table scale: empty table measured; loading ${options.rows} rows`);
    const loadStart = performance.now();
    await loadFileHistory(parts.db, options.rows, {
      bulk: true,
      progress: (loaded) =>
        log(`table scale: ${loaded} rows loaded, ${((performance.now() - loadStart) / 1000).toFixed(0)} s`),
    });
    const loadSeconds = Number(((performance.now() - loadStart) / 1000).toFixed(1));
    log(`table scale: ${options.rows} rows loaded and VACUUM ANALYZEd in ${loadSeconds} s; measuring again`);
    const loaded = await measurePhase(parts, redis, options);
    return {
      started,
      rows: options.rows,
      mix: historyMix(options.rows),
      requests: options.requests,
      runs: options.runs,
      loadSeconds,
      tableBytes: await tableBytes(parts.db),
      empty,
      loaded,
    };
  } finally {
    if (parts !== undefined) {
      await removeObjects(env, parts.db).catch((error: unknown) =>
        log(`table scale: cleanup failed: ${String(error)}`),
      );
      await parts.db.end();
      await parts.app.close();
    }
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

const mib = (bytes: number): string => (bytes / 1024 ** 2).toFixed(0);

export function tableScaleReport(result: TableScaleResult, commit: string): string {
  const lines = [
    `# npm run bench -- --table-scale (${result.started}, ${commit})`,
    '',
    `${result.rows.toLocaleString('en-US')} rows of history loaded in ${result.loadSeconds} s ` +
      `(${Object.entries(result.mix)
        .map(([status, n]) => `${status} ${n.toLocaleString('en-US')}`)
        .join(', ')}); ` +
      `median wall ms of ${result.requests} requests and ${result.runs} batches per phase.`,
    '',
    `| operation | empty table ms | ${result.rows.toLocaleString('en-US')} rows ms | ratio | target ≤ 2× |`,
    '| --- | --- | --- | --- | --- |',
  ];
  for (const [measure, label] of MEASURES) {
    const ratio = result.loaded[measure] / result.empty[measure];
    const target = TARGETED.includes(measure) ? (ratio <= 2 ? 'met' : 'missed') : '–';
    lines.push(
      `| ${label} | ${result.empty[measure]} | ${result.loaded[measure]} | ${ratio.toFixed(2)}× | ${target} |`,
    );
  }
  lines.push(
    '',
    `files: ${mib(result.tableBytes.files)} MiB of rows; indexes (MiB): ` +
      Object.entries(result.tableBytes.filesIndexes)
        .map(([index, bytes]) => `${index} ${mib(bytes)}`)
        .join(', ') +
      `; outbox_events with its indexes ${mib(result.tableBytes.outbox)} MiB.`,
  );
  return `${lines.join('\n')}\n`;
}
