// npm run bench:paths -- [--sizes 64MiB,256MiB,1GiB] [--runs 3] [--part-size 16MiB] [--port 3997] [--pin-store]
// complete's four ways of proving a file's SHA-256, side by side, against limits measured in the
// same run. Brings up the services (services:up), then for each size:
// - limits: S3 plain write (the file's parts PUT straight to RGW through presigned URLs, as many
//   at a time as the uploads below), S3 plain read (the best of one SDK GET, 8 concurrent 8 MiB
//   ranged SDK GETs, and 4 concurrent 16 MiB ranged GETs through the lean reader the service reads
//   back with; all only counting bytes), and SHA-256 of node:crypto over bytes in memory on one
//   core (measured once);
// - each path in a fresh built service of its own (so its peak RSS is that path's), warmed up by
//   one untimed 2-part file, then --runs times: create, uploadUrl for every part, the parts PUT 4
//   at a time (timed), complete (timed), which must answer code 0 with the file's sha256 after
//   verifying by the intended method, as koodrive_verifications_total on /metrics counts it
//   (anything else fails the bench):
//   stream          parts straight to S3, VERIFY_WINDOW=0: one streamed GET hashed;
//   pipelined       parts straight to S3, VERIFY_WINDOW=4: 16 MiB ranged GETs in flight;
//   parallel_parts  parallel mode (hashCtx) straight to S3: each part hashed from its hashCtx;
//   hash_chain      parallel mode through the service (uploadVia service): nothing read back.
// --pin-store puts the local Ceph's daemons on CPU 0 and the bench and the service on the others
// (taskset), as when the store has hosts of its own; by default all of them share all cores.
// Prints medians as Markdown tables and writes bench/results/<time>.json, <time>.png (throughput)
// and <time>-latency.png. The npm script builds first: this runs the built service.
// The local RGW holds objects in RAM (4 GiB by default) and is shared with whatever else runs
// here; for a Ceph of the bench's own, set services:up's variables (services:down the same way):
//   SERVICES_DIR=/tmp/bench-services RGW_PORT=7490 MON_PORT=6799 CEPH_MEMSTORE_BYTES=8589934592 npm run bench
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { format, resolveConfig } from 'prettier';
import { BenchFile, type PartTarget } from './bench-file.ts';
import {
  type BenchResults,
  type Method,
  type PathResult,
  type SizeResult,
  formatReport,
  renderCharts,
  round,
} from './bench-report.ts';
import { RgwRoom } from './rgw-room.ts';
import {
  type Env,
  formatSize,
  importBuilt,
  newSession,
  objectKey,
  parseSize,
  pidsNamed,
  processCpuSeconds,
  processesCpuSeconds,
  processMemoryKiB,
  metricsUrlOf,
  serviceEnv,
  startService,
  stopService,
  servicesUp,
} from './support.ts';
import { MIB } from '@koodrive/limits';

type StorageModule = typeof import('@koodrive/storage');
type ConfigModule = typeof import('@koodrive/config');
type HashingModule = typeof import('@koodrive/hashing');

const ROOT = path.resolve(import.meta.dirname, '..');
const UPLOAD_CONCURRENCY = 4;
const CORES = availableParallelism();
const READ_RANGES = { concurrency: 8, bytes: 8 * MIB };
// the pipelined read-back's defaults (VERIFY_WINDOW, VERIFY_RANGE_BYTES)
const LEAN_RANGES = { concurrency: 4, bytes: 16 * MIB };

interface PathSpec {
  readonly method: Method;
  readonly env: Env;
  readonly hashCtx: boolean;
  readonly uploadVia: 's3' | 'service';
}

const PATHS: readonly PathSpec[] = [
  { method: 'stream', env: { VERIFY_WINDOW: '0' }, hashCtx: false, uploadVia: 's3' },
  {
    method: 'pipelined',
    env: { VERIFY_WINDOW: String(LEAN_RANGES.concurrency), VERIFY_RANGE_BYTES: String(LEAN_RANGES.bytes) },
    hashCtx: false,
    uploadVia: 's3',
  },
  { method: 'parallel_parts', env: {}, hashCtx: true, uploadVia: 's3' },
  { method: 'hash_chain', env: {}, hashCtx: true, uploadVia: 'service' },
];

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64MiB,256MiB,1GiB' },
    runs: { type: 'string', default: '3' },
    'part-size': { type: 'string', default: '16MiB' },
    port: { type: 'string', default: '3997' },
    'pin-store': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(parseSize);
const runs = Number(values.runs);
const partSize = parseSize(values['part-size']);
const port = Number(values.port);
if (!Number.isInteger(runs) || runs < 1) {
  throw new Error(`--runs must be a whole number from 1, got ${values.runs}`);
}
if (partSize < 5 * MIB || partSize % 64 !== 0) {
  throw new Error('--part-size must be at least 5 MiB and a multiple of 64 bytes (parallel mode)');
}
if (sizes.some((size) => size <= partSize)) {
  // a file of one part is read back in one stream whatever its hashCtx
  throw new Error('every size must be more than one part (--part-size) for the parallel_parts path');
}

const benchStarted = performance.now();
servicesUp();

const env = serviceEnv(port);
// the key the services sign their own part URLs with (32+ characters, as production requires)
const partUrlSecret = randomBytes(24).toString('hex');
const { S3ObjectStorage } = await importBuilt<StorageModule>('libs/storage/src/index.js');
const { loadConfig } = await importBuilt<ConfigModule>('libs/config/src/index.js');
const hashing = await importBuilt<HashingModule>('libs/hashing/src/index.js');
const storage = new S3ObjectStorage(loadConfig(env).s3);
const redis = new Redis(env.REDIS_URL!);
const room = RgwRoom.at(path.join(process.env.SERVICES_DIR ?? path.join(ROOT, '.services'), 'ceph/ceph.conf'));

// The local Ceph's CPU seconds so far (radosgw + ceph-osd), or null when it does not run here.
const storePids = pidsNamed('radosgw', 'ceph-osd');
async function storeCpuSeconds(): Promise<number | null> {
  return storePids.length === 0 ? null : processesCpuSeconds(storePids);
}

// --pin-store: the local Ceph's daemons on CPU 0, this process (and so the services it starts,
// and its thread pool) on the other CPUs, as when the store runs on hosts of its own. Undone at exit.
const cephDaemons = pidsNamed('radosgw', 'ceph-osd', 'ceph-mon');
function setAffinity(pid: number, cpus: string): void {
  const set = spawnSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { encoding: 'utf8' });
  if (set.status !== 0) {
    throw new Error(`taskset -a -c -p ${cpus} ${pid}: ${set.stderr.trim()}`);
  }
}
const allCpus = `0-${CORES - 1}`;
let placement = `shared: the bench, the service and Ceph on all ${CORES} cores`;
if (values['pin-store']) {
  if (CORES < 2 || cephDaemons.length === 0) {
    throw new Error('--pin-store needs 2 or more cores and the local Ceph (services:up) on this host');
  }
  const rest = CORES === 2 ? '1' : `1-${CORES - 1}`;
  cephDaemons.forEach((pid) => setAffinity(pid, '0'));
  setAffinity(process.pid, rest);
  placement = `Ceph on CPU 0; the bench and the service on CPU ${rest}`;
  console.error(`bench: ${placement}`);
}

if (room === null) {
  console.error("bench: no local Ceph to ask for room: not waiting for RGW's garbage collection");
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
}

const mbps = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function countBytes(body: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
  }
  return bytes;
}

// Single-core SHA-256 of node:crypto: 512 MiB of bytes already in memory, hashed in 64 MiB updates.
function sha256SingleCoreMBps(): number {
  const chunk = randomBytes(64 * MIB);
  const samples = Array.from({ length: Math.max(3, runs) }, () => {
    const started = performance.now();
    const hash = createHash('sha256');
    for (let i = 0; i < 8; i++) {
      hash.update(chunk);
    }
    hash.digest();
    return (performance.now() - started) / 1000;
  });
  return mbps(8 * chunk.length, median(samples));
}

// S3 alone: the file's parts PUT to a multipart upload of our own (timed), combined, then read
// back as one GET and as ranged GETs (timed, bytes only counted), and deleted.
async function measureS3(file: BenchFile): Promise<SizeResult['limits']> {
  const samples = { write: [] as number[], oneGet: [] as number[], ranged: [] as number[], lean: [] as number[] };
  for (let run = 0; run < runs; run++) {
    await room?.waitFor(file.size);
    const key = `bench/${randomBytes(6).toString('hex')}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    let combined = false;
    try {
      const targets = await Promise.all(
        file.parts.map(async ({ partNumber }) => ({
          partNumber,
          uploadUrl: await storage.presignUploadPart(key, uploadId, partNumber, 3600),
        })),
      );
      samples.write.push(await file.upload(targets, UPLOAD_CONCURRENCY));
      await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));
      combined = true;
      samples.oneGet.push(await seconds(() => readWhole(key, file.size)));
      samples.ranged.push(await seconds(() => readRanges(key, file.size)));
      samples.lean.push(await seconds(() => readLean(key, file.size)));
    } finally {
      await (combined ? storage.deleteObject(key) : storage.abortMultipartUpload(key, uploadId));
    }
  }
  const oneGet = mbps(file.size, median(samples.oneGet));
  const ranged = mbps(file.size, median(samples.ranged));
  const lean = mbps(file.size, median(samples.lean));
  return {
    s3WriteMBps: round(mbps(file.size, median(samples.write))),
    s3ReadMBps: round(Math.max(oneGet, ranged, lean)),
    s3ReadOneGetMBps: round(oneGet),
    s3ReadRangedMBps: round(ranged),
    s3ReadLeanMBps: round(lean),
  };
}

async function readWhole(key: string, size: number): Promise<void> {
  const bytes = await countBytes(await storage.readObject(key));
  if (bytes !== size) {
    throw new Error(`GET ${key}: ${bytes} bytes, expected ${size}`);
  }
}

async function readRanges(key: string, size: number): Promise<void> {
  let next = 0;
  let total = 0;
  await Promise.all(
    Array.from({ length: READ_RANGES.concurrency }, async () => {
      for (let start = next++ * READ_RANGES.bytes; start < size; start = next++ * READ_RANGES.bytes) {
        const end = Math.min(size, start + READ_RANGES.bytes) - 1;
        const bytes = await countBytes(await storage.readObject(key, { start, end }));
        total += bytes; // not `total += await`: that adds to the total read before the wait
      }
    }),
  );
  if (total !== size) {
    throw new Error(`ranged GETs of ${key}: ${total} bytes, expected ${size}`);
  }
}

// The plain read the read-backs are held to: ranged GETs through the same lean reader, each
// received into one of a ring of buffers (kept across ranges, as the service keeps them), bytes
// only counted.
async function readLean(key: string, size: number): Promise<void> {
  let next = 0;
  let total = 0;
  await Promise.all(
    Array.from({ length: LEAN_RANGES.concurrency }, async () => {
      const buffer = leanBuffers.pop() ?? Buffer.allocUnsafeSlow(LEAN_RANGES.bytes);
      for (let start = next++ * LEAN_RANGES.bytes; start < size; start = next++ * LEAN_RANGES.bytes) {
        const into = buffer.subarray(0, Math.min(LEAN_RANGES.bytes, size - start));
        await storage.readInto(key, start, into);
        total += into.length;
      }
      leanBuffers.push(buffer);
    }),
  );
  if (total !== size) {
    throw new Error(`lean ranged GETs of ${key}: ${total} bytes, expected ${size}`);
  }
}
const leanBuffers: Buffer[] = [];

interface Answer {
  readonly code: number;
  readonly [field: string]: unknown;
}

async function post(baseUrl: string, token: string, endpoint: string, body: unknown): Promise<Answer> {
  const response = await fetch(`${baseUrl}/koodrive/ose/v1/files/${endpoint}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Answer;
  if (answer.code !== 0) {
    throw new Error(`${endpoint} answered HTTP ${response.status} ${JSON.stringify(answer)}`);
  }
  return answer;
}

// koodrive_verifications_total by method, and the seconds spent verifying so far
// (koodrive_verification_duration_seconds_sum), from the service's /metrics
async function verificationCounts(metricsUrl: string): Promise<{ counts: Map<string, number>; seconds: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const counts = new Map<string, number>();
  for (const [, method, value] of text.matchAll(/^koodrive_verifications_total\{method="(\w+)"\} (\S+)$/gm)) {
    counts.set(method!, Number(value));
  }
  const seconds = Number(/^koodrive_verification_duration_seconds_sum (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  return { counts, seconds };
}

// Fails unless exactly one verification happened between the two counts, by `method`.
function assertVerifiedBy(method: Method, before: Map<string, number>, after: Map<string, number>): void {
  const happened = [...after].flatMap(([name, count]) => {
    const delta = count - (before.get(name) ?? 0);
    return delta === 0 ? [] : [`${name} x ${delta}`];
  });
  if (happened.length !== 1 || happened[0] !== `${method} x 1`) {
    throw new Error(
      `complete was meant to verify by ${method}, but koodrive_verifications_total counted ` +
        `${happened.join(', ') || 'nothing'}`,
    );
  }
}

// One upload through the service's API and its complete: their times, checked.
interface RunResult {
  readonly uploadSeconds: number;
  readonly completeMs: number;
  readonly verifyMs: number;
  // CPU seconds used meanwhile
  readonly serviceUploadCpu: number;
  readonly serviceCompleteCpu: number;
  readonly storeCompleteCpu: number | null;
}

async function uploadAndComplete(
  baseUrl: string,
  servicePid: number,
  spec: PathSpec,
  file: BenchFile,
): Promise<RunResult> {
  // a container of its own: the same content twice in one container would be a flash upload
  const { token, containerId } = await newSession(redis, 'bench');
  const created = await post(baseUrl, token, 'create', {
    fileName: `bench-${randomBytes(6).toString('hex')}.bin`,
    length: file.size,
    sha256: file.sha256,
  });
  const fileId = created.fileId as string;
  const key = objectKey(env, containerId, fileId);
  try {
    const multiParts = file.parts.map(({ hashCtx, ...part }) => (spec.hashCtx ? { ...part, hashCtx } : part));
    const urls = await post(baseUrl, token, 'multipart/uploadUrl', { fileId, multiParts, uploadVia: spec.uploadVia });
    const targets = urls.multiParts as (PartTarget & { uploadVia: string })[];
    const elsewhere = targets.find((target) => target.uploadVia !== spec.uploadVia);
    if (elsewhere !== undefined) {
      throw new Error(`uploadUrl sent part ${elsewhere.partNumber} to ${elsewhere.uploadVia}, not ${spec.uploadVia}`);
    }
    const uploadCpu = await processCpuSeconds(servicePid);
    const uploadSeconds = await file.upload(targets, UPLOAD_CONCURRENCY);
    const serviceUploadCpu = (await processCpuSeconds(servicePid)) - uploadCpu;

    const before = await verificationCounts(metricsUrlOf(env));
    const completeCpu = await Promise.all([processCpuSeconds(servicePid), storeCpuSeconds()]);
    const started = performance.now();
    const done = await post(baseUrl, token, 'complete', { fileId });
    const completeMs = performance.now() - started;
    const [serviceCompleteCpu, storeCompleteCpu] = await Promise.all([
      processCpuSeconds(servicePid),
      storeCpuSeconds(),
    ]);
    if (done.sha256 !== file.sha256) {
      throw new Error(`complete answered sha256 ${String(done.sha256)}, expected ${file.sha256}`);
    }
    const after = await verificationCounts(metricsUrlOf(env));
    assertVerifiedBy(spec.method, before.counts, after.counts);
    // the verify phase alone (HEAD and the read-back, or nothing but the HEAD for the hash chain)
    return {
      uploadSeconds,
      completeMs,
      verifyMs: (after.seconds - before.seconds) * 1000,
      serviceUploadCpu,
      serviceCompleteCpu: serviceCompleteCpu - completeCpu[0],
      storeCompleteCpu: storeCompleteCpu === null || completeCpu[1] === null ? null : storeCompleteCpu - completeCpu[1],
    };
  } finally {
    // the local RGW keeps objects in memory: leave nothing behind (a failure here must not hide
    // the one that brought us here)
    await storage.deleteObject(key).catch((error: unknown) => {
      console.error(`bench: could not delete ${key}:`, error);
    });
  }
}

const nsPerByte = (seconds: number, bytes: number): number => (seconds * 1e9) / bytes;

// One path at one size in a service of its own: medians of --runs uploads and completes.
async function measurePath(spec: PathSpec, file: BenchFile, limits: SizeResult['limits']): Promise<PathResult> {
  const service = await startService(
    serviceEnv(port, { PART_URL_SECRET: partUrlSecret, SHUTDOWN_DRAIN_SECONDS: '0', ...spec.env }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const samples = { completeMs: [] as number[], verifyMs: [] as number[], uploadSeconds: [] as number[] };
  const cpu = { serviceUpload: [] as number[], serviceComplete: [] as number[], storeComplete: [] as number[] };
  let peakRssKiB: number;
  try {
    // one small file first, untimed: the first requests of a process pay for its warming up
    await uploadAndComplete(baseUrl, service.pid!, spec, warmUpFile);
    for (let run = 0; run < runs; run++) {
      await room?.waitFor(file.size);
      const result = await uploadAndComplete(baseUrl, service.pid!, spec, file);
      samples.uploadSeconds.push(result.uploadSeconds);
      samples.completeMs.push(result.completeMs);
      samples.verifyMs.push(result.verifyMs);
      cpu.serviceUpload.push(result.serviceUploadCpu);
      cpu.serviceComplete.push(result.serviceCompleteCpu);
      if (result.storeCompleteCpu !== null) {
        cpu.storeComplete.push(result.storeCompleteCpu);
      }
    }
    peakRssKiB = await processMemoryKiB(service.pid!, 'VmHWM');
  } finally {
    await stopService(service);
  }
  const completeMs = median(samples.completeMs);
  const verifyMs = median(samples.verifyMs);
  // the read-back's own throughput (the verify phase), which is what the limit bounds
  const readBackMBps = mbps(file.size, verifyMs / 1000);
  const limit = limitOf(spec.method, limits);
  return {
    method: spec.method,
    env: spec.env,
    completeMs: round(completeMs),
    verifyMs: round(verifyMs),
    verifyMBps: round(mbps(file.size, completeMs / 1000)),
    readBackMBps: round(readBackMBps),
    limit: limit === null ? null : { ...limit, ratio: round(readBackMBps / limit.mbps, 2) },
    peakRssMiB: round(peakRssKiB / 1024),
    uploadMBps: round(mbps(file.size, median(samples.uploadSeconds))),
    cpuNsPerByte: {
      serviceUpload: round(nsPerByte(median(cpu.serviceUpload), file.size), 2),
      serviceComplete: round(nsPerByte(median(cpu.serviceComplete), file.size), 2),
      storeComplete: cpu.storeComplete.length === 0 ? null : round(nsPerByte(median(cpu.storeComplete), file.size), 2),
    },
    samples: {
      completeMs: samples.completeMs.map((ms) => round(ms)),
      verifyMs: samples.verifyMs.map((ms) => round(ms)),
      uploadSeconds: samples.uploadSeconds.map((s) => round(s, 3)),
    },
  };
}

// What a path can at best reach: reading the object, and hashing it on one core (one hash
// through the whole file) or on all of them (parts hashed at once); the hash chain reads nothing.
function limitOf(method: Method, limits: SizeResult['limits']): { name: string; mbps: number } | null {
  const read = { name: 'S3 read', mbps: limits.s3ReadMBps };
  switch (method) {
    case 'stream':
    case 'pipelined':
      return read.mbps <= sha256.singleCoreMBps ? read : { name: 'SHA-256 1 core', mbps: sha256.singleCoreMBps };
    case 'parallel_parts':
      return read.mbps <= sha256.allCoresMBps ? read : { name: `SHA-256 x ${CORES}`, mbps: sha256.allCoresMBps };
    case 'hash_chain':
      return null;
  }
}

const singleCore = sha256SingleCoreMBps();
const sha256 = { singleCoreMBps: round(singleCore), allCoresMBps: round(singleCore * CORES) };
console.error(`bench: SHA-256 on 1 core ${sha256.singleCoreMBps} MB/s`);

const warmUpFile = BenchFile.prepare(2 * partSize, partSize, hashing);
const results: SizeResult[] = [];
try {
  for (const size of sizes) {
    const file = BenchFile.prepare(size, partSize, hashing);
    const limits = await measureS3(file);
    console.error(`bench: ${formatSize(size)}: S3 read ${limits.s3ReadMBps} MB/s, write ${limits.s3WriteMBps} MB/s`);
    const paths: PathResult[] = [];
    for (const spec of PATHS) {
      const result = await measurePath(spec, file, limits);
      console.error(
        `bench: ${formatSize(size)} ${spec.method}: complete ${result.completeMs} ms, ` +
          `upload ${result.uploadMBps} MB/s, peak RSS ${result.peakRssMiB} MiB`,
      );
      paths.push(result);
    }
    results.push({ sizeBytes: size, parts: file.parts.length, runs, limits, paths });
  }
} finally {
  storage.destroy();
  redis.disconnect();
  if (values['pin-store']) {
    cephDaemons.forEach((pid) => setAffinity(pid, allCpus));
  }
}

const date = new Date().toISOString();
const report: BenchResults = {
  date,
  node: process.version,
  cores: CORES,
  placement,
  runs,
  partSizeBytes: partSize,
  uploadConcurrency: UPLOAD_CONCURRENCY,
  sha256,
  elapsedSeconds: round((performance.now() - benchStarted) / 1000),
  sizes: results,
};
console.log(`\n${formatReport(report)}`);

const dir = path.join(ROOT, 'bench/results');
const name = date.replace(/[:.]/g, '-');
const charts = renderCharts(report);
await mkdir(dir, { recursive: true });
// formatted as the repository's Prettier would, so `prettier --check` passes on the results too
const json = path.join(dir, `${name}.json`);
await writeFile(
  json,
  await format(JSON.stringify(report, null, 2), { ...(await resolveConfig(json)), filepath: json }),
);
await writeFile(path.join(dir, `${name}.png`), charts.throughput);
await writeFile(path.join(dir, `${name}-latency.png`), charts.latency);
console.log(`\nwrote bench/results/${name}.json, ${name}.png and ${name}-latency.png (${report.elapsedSeconds} s)`);
