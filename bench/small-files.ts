// The small-file table: many uploads of a small file (create, uploadUrl, one PUT to the URL it
// answers, complete), each contender (bench/contenders.ts) behind the counting proxies
// (bench/counted-dependencies.ts). Per contender, in a fresh process:
// 1. warm-up uploads (uncounted), then a second of idle (what the background jobs cost);
// 2. a counting pass, one upload at a time, the counters read between the requests: statements,
//    Redis commands and round trips, S3 calls, by request. One at a time, a Redis round trip is
//    exact (concurrent requests' commands on one connection overlap into one);
// 3. the window: --uploads at --concurrency, its CPU time from /proc (utime + stime) before and
//    after (after the spans' last export, when it traces), the counters over it, uploads/s.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { KooDriveApi } from '@koodrive/upload-client';
import { removeUploads } from './cleanup.ts';
import { CountedDependencies, type DependencyCounts, countsAdded, countsBetween } from './counted-dependencies.ts';
import type { Contender } from './contenders.ts';
import type { SpanSink } from './span-sink.ts';
import {
  benchApi,
  type Env,
  loadAverage,
  newSession,
  processCpuSeconds,
  type Session,
  serviceEnv,
  stopService,
} from './support.ts';
import { type Tally, total } from './wire-counters.ts';

export interface SmallFileOptions {
  readonly uploads: number;
  readonly concurrency: number;
  readonly fileSize: number;
  readonly countUploads: number;
  // the uploadVia to ask for; undefined: the deployment's default
  readonly via: 's3' | 'service' | undefined;
  // multipart: create, uploadUrl, PUT, complete; put: create (uploadMode "put" answers the part's
  // URL), PUT, complete
  readonly mode: 'multipart' | 'put';
  readonly port: number;
}

export const STEPS = ['create', 'uploadUrl', 'put', 'complete'] as const;
export type Step = (typeof STEPS)[number];

// What one upload (or one request) cost, as counted on the wire.
export interface WireCost {
  readonly sqlStatements: number;
  readonly sqlByVerb: Tally;
  readonly sqlRoundTrips: number;
  readonly sqlParses: number;
  readonly redisCommands: number;
  readonly redisByCommand: Tally;
  readonly redisRoundTrips: number;
  readonly s3Calls: number;
  readonly s3ByOperation: Tally;
}

export interface SmallFileResult {
  readonly contender: string;
  readonly label: string;
  readonly uploads: number;
  readonly concurrency: number;
  readonly fileSizeBytes: number;
  readonly mode: SmallFileOptions['mode'];
  // the machine's load average (1 min) before and after the window
  readonly loadAverage: readonly [number, number];
  // where uploadUrl sent the parts, by uploadVia
  readonly uploadVia: Tally;
  readonly windowSeconds: number;
  readonly uploadsPerSecond: number;
  readonly cpuMsPerUpload: number;
  // the window, per upload (Redis round trips there overlap: see countingPass)
  readonly window: WireCost;
  // one upload at a time, per upload and per request
  readonly countingPass: {
    readonly uploads: number;
    readonly perUpload: WireCost;
    readonly perStep: Record<Step, WireCost>;
  };
  // the background jobs, per second of idle
  readonly idlePerSecond: WireCost;
  // spans exported per upload, by name (traced contenders)
  readonly spansPerUpload: number | null;
  readonly spansByName: Tally | null;
  // the service's CPU profile of the window (--profile)
  readonly profile?: string;
}

interface SmallFile {
  readonly bytes: Buffer;
  readonly sha256: string;
}

// One client of the API: a session, a trace per upload.
class Client {
  readonly baseUrl: string;
  readonly session: Session;
  traceId = '';

  constructor(baseUrl: string, session: Session) {
    this.baseUrl = baseUrl;
    this.session = session;
  }

  api(): KooDriveApi {
    return benchApi(this.baseUrl, this.session.token, this.traceId);
  }
}

interface Uploaded {
  readonly fileId: string;
  readonly containerId: string;
  readonly via: string;
}

// One upload, its requests in turn; `between(step)` runs after each.
async function uploadOne(
  client: Client,
  file: SmallFile,
  options: Pick<SmallFileOptions, 'via' | 'mode'>,
  between: (step: Step) => void = () => undefined,
): Promise<Uploaded> {
  const api = client.api();
  const put = options.mode === 'put';
  const created = await api.create({
    fields: { fileName: `bench-small-${randomBytes(6).toString('hex')}.bin`, ...(put ? { uploadMode: 'put' } : {}) },
    length: file.bytes.length,
    sha256: file.sha256,
  });
  between('create');
  const fileId = created.fileId;
  const part = { partNumber: 1, partSize: file.bytes.length, partOffset: 0 };
  const [target] = put ? created.multiParts : await api.uploadUrl(fileId, [part], options.via);
  if (!put) {
    between('uploadUrl');
  }
  const answer = await fetch(target!.uploadUrl, { method: 'PUT', body: file.bytes });
  const text = await answer.text();
  if (!answer.ok) {
    throw new Error(`PUT ${target!.uploadVia}: HTTP ${answer.status} ${text.slice(0, 300)}`);
  }
  between('put');
  const done = await api.complete(fileId);
  between('complete');
  if (done.sha256 !== file.sha256) {
    throw new Error(`complete answered sha256 ${String(done.sha256)}, expected ${file.sha256}`);
  }
  return { fileId, containerId: client.session.containerId, via: target!.uploadVia ?? 'unknown' };
}

function smallFiles(count: number, size: number): SmallFile[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(size);
    return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

function perUnit(tally: Tally, units: number): Tally {
  return Object.fromEntries(
    Object.entries(tally)
      .sort(([, a], [, b]) => b - a)
      .map(([name, count]) => [name, round(count / units)]),
  );
}

export function wireCost(counts: DependencyCounts, units: number): WireCost {
  return {
    sqlStatements: round(counts.pg.statements / units),
    sqlByVerb: perUnit(counts.pg.byVerb, units),
    sqlRoundTrips: round(counts.pg.roundTrips / units),
    sqlParses: round(counts.pg.parses / units),
    redisCommands: round(counts.redis.commands / units),
    redisByCommand: perUnit(counts.redis.byCommand, units),
    redisRoundTrips: round(counts.redis.roundTrips / units),
    s3Calls: round(total(counts.s3) / units),
    s3ByOperation: perUnit(counts.s3, units),
  };
}

// The counting pass: uploads one at a time, the counters read after each request.
async function countingPass(
  counted: CountedDependencies,
  clients: readonly Client[],
  files: readonly SmallFile[],
  options: SmallFileOptions,
): Promise<{ perStep: Record<Step, DependencyCounts>; all: DependencyCounts; uploaded: Uploaded[] }> {
  const start = counted.snapshot();
  let mark = start;
  const zero = countsBetween(start, start);
  const perStep = Object.fromEntries(STEPS.map((step) => [step, zero])) as Record<Step, DependencyCounts>;
  const uploaded: Uploaded[] = [];
  for (const [i, file] of files.entries()) {
    const client = clients[i % clients.length]!;
    uploaded.push(
      await uploadOne(client, file, options, (step) => {
        const now = counted.snapshot();
        perStep[step] = countsAdded(perStep[step], countsBetween(mark, now));
        mark = now;
      }),
    );
  }
  return { perStep, all: counted.since(start), uploaded };
}

// The window: `files` uploaded `concurrency` at a time.
async function window(
  clients: readonly Client[],
  files: readonly SmallFile[],
  options: SmallFileOptions,
  sink: SpanSink,
) {
  let next = 0;
  const uploaded: Uploaded[] = [];
  await Promise.all(
    clients.slice(0, options.concurrency).map(async (client) => {
      for (let i = next++; i < files.length; i = next++) {
        client.traceId = randomBytes(16).toString('hex');
        sink.watch(client.traceId);
        uploaded.push(await uploadOne(client, files[i]!, options));
      }
    }),
  );
  return uploaded;
}

// `count` uploads of `size` bytes to a running service, `concurrency` at a time, each lane a user of
// its own; answers what was uploaded (for removeUploads).
export async function uploadSmallFiles(
  baseUrl: string,
  redis: Redis,
  count: number,
  size: number,
  options: Pick<SmallFileOptions, 'via' | 'mode' | 'concurrency'>,
): Promise<Uploaded[]> {
  const clients = await Promise.all(
    Array.from({ length: options.concurrency }, async () => new Client(baseUrl, await newSession(redis, 'bench'))),
  );
  // bytes of its own for each (the same digest again would be a flash upload)
  const files = smallFiles(count, size);
  let next = 0;
  const uploaded: Uploaded[] = [];
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; i < count; i = next++) {
        uploaded.push(await uploadOne(client, files[i]!, options));
      }
    }),
  );
  return uploaded;
}

export interface SmallFileRun {
  readonly contender: Contender;
  readonly realEnv: Env;
  readonly redis: Redis;
  readonly sink: SpanSink;
  readonly options: SmallFileOptions;
  // node flags for the process (--cpu-prof...): the window's bounds (monotonic µs) are answered
  readonly nodeArgs?: readonly string[];
}

// One contender's small-file figures, in a process of its own.
export async function measureSmallFiles(
  run: SmallFileRun,
): Promise<{ result: SmallFileResult; windowUs: readonly [number, number] }> {
  const { contender, options, sink } = run;
  const counted = await CountedDependencies.start(run.realEnv);
  const env = serviceEnv(options.port, counted.env());
  const child = await contender.start(env, run.nodeArgs);
  const uploaded: Uploaded[] = [];
  try {
    const baseUrl = `http://127.0.0.1:${options.port}`;
    // one user per lane: a user's rate limit (600 a minute) holds for the run
    const lanes = Math.max(options.concurrency, 1);
    const clients = await Promise.all(
      Array.from({ length: lanes }, async () => new Client(baseUrl, await newSession(run.redis, 'bench'))),
    );
    const warmUp = smallFiles(Math.min(8, lanes), options.fileSize);
    await Promise.all(warmUp.map(async (file, i) => uploaded.push(await uploadOne(clients[i]!, file, options))));
    const idleFrom = counted.snapshot();
    await sleep(1000);
    const idle = counted.since(idleFrom);

    const pass = await countingPass(counted, clients, smallFiles(options.countUploads, options.fileSize), options);
    uploaded.push(...pass.uploaded);

    const files = smallFiles(options.uploads, options.fileSize);
    sink.takeWatched();
    const before = counted.snapshot();
    const loadBefore = await loadAverage();
    const cpuBefore = await processCpuSeconds(child.pid!);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const started = performance.now();
    const windowUploads = await window(clients, files, options, sink);
    const seconds = (performance.now() - started) / 1000;
    if (contender.traced) {
      await sink.settle();
    }
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const cpu = (await processCpuSeconds(child.pid!)) - cpuBefore;
    const inWindow = counted.since(before);
    uploaded.push(...windowUploads);
    const spansByName = sink.takeWatched();
    const spans = total(spansByName);
    return {
      windowUs: [fromUs, toUs],
      result: {
        contender: contender.name,
        label: contender.label,
        uploads: options.uploads,
        concurrency: options.concurrency,
        fileSizeBytes: options.fileSize,
        mode: options.mode,
        loadAverage: [loadBefore, await loadAverage()],
        uploadVia: viaTally(windowUploads),
        windowSeconds: round(seconds, 3),
        uploadsPerSecond: round(options.uploads / seconds, 1),
        cpuMsPerUpload: round((cpu * 1000) / options.uploads),
        window: wireCost(inWindow, options.uploads),
        countingPass: {
          uploads: options.countUploads,
          perUpload: wireCost(pass.all, options.countUploads),
          perStep: Object.fromEntries(
            STEPS.map((step) => [step, wireCost(pass.perStep[step], options.countUploads)]),
          ) as Record<Step, WireCost>,
        },
        idlePerSecond: wireCost(idle, 1),
        spansPerUpload: contender.traced ? round(spans / options.uploads, 1) : null,
        spansByName: contender.traced ? perUnit(spansByName, options.uploads) : null,
      },
    };
  } finally {
    await stopService(child);
    await counted.stop();
    await removeUploads(run.realEnv, uploaded);
  }
}

function viaTally(uploaded: readonly Uploaded[]): Tally {
  const tally: Tally = {};
  for (const { via } of uploaded) {
    tally[via] = (tally[via] ?? 0) + 1;
  }
  return tally;
}
