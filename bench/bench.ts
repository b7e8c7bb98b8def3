// npm run bench -- [--sizes 64MiB,256MiB,1GiB] [--runs 3]
// The read-back paths side by side, with the limits measured in the same run: brings up the
// services (services:up), stores one object per size in RGW, and times, median of --runs:
// - limits: S3 plain read (8 concurrent 8 MiB ranged GETs that only count bytes), and single-core
//   SHA-256 of Node's crypto (OpenSSL) over bytes in memory;
// - paths: the single streamed GET hashed (VERIFY_WINDOW=0, the default) and the pipelined
//   ranged read-back (VERIFY_WINDOW=8, 8 MiB ranges);
// each as MB/s and as a ratio to its limit (the slower of the two limits). Writes the results to
// bench/results/<time>.json. Needs `npm run build` (the script runs it first).
// Not measured yet (issue 3): the parallel-by-part and hash-chain paths, uploads through the
// service, complete latency and RSS through the service (npm run measure:complete has those).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

type StorageModule = typeof import('../libs/storage/src/s3-object-storage.ts');
type ConfigModule = typeof import('../libs/config/src/app-config.ts');
type DigestModule = typeof import('../apps/upload/src/files/object-digest.ts');

const ROOT = path.resolve(import.meta.dirname, '..');
const MIB = 1024 * 1024;

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '64MiB,256MiB,1GiB' }, runs: { type: 'string', default: '3' } },
});
const sizes = values.sizes.split(',').map((text) => {
  const match = /^(\d+)(MiB|GiB)$/.exec(text.trim());
  if (match === null) {
    throw new Error(`not a size: ${text}`);
  }
  return Number(match[1]) * (match[2] === 'GiB' ? 1024 * MIB : MIB);
});
const runs = Number(values.runs);

// the services, and their environment
const up = spawnSync('bash', [path.join(ROOT, 'tools/services/up.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (up.status !== 0) {
  throw new Error('services:up failed');
}
for (const [, name, value] of up.stdout.matchAll(/^export (\w+)=(.*)$/gm)) {
  process.env[name!] = value!;
}

const load = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(path.join(ROOT, 'dist', file)).href)) as T;
const { S3ObjectStorage } = await load<StorageModule>('libs/storage/src/s3-object-storage.js');
const { loadConfig } = await load<ConfigModule>('libs/config/src/app-config.js');
const { sha256OfRanges, sha256OfStream } = await load<DigestModule>('apps/upload/src/files/object-digest.js');
const storage = new S3ObjectStorage(loadConfig(process.env).s3);

const median = (samples: number[]): number => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    samples.push(await seconds(work));
  }
  return median(samples);
}

// Stores `size` bytes at a fresh key (64 MiB parts of one random block) and returns the key.
async function storeObject(size: number): Promise<string> {
  const key = `bench/${randomBytes(6).toString('hex')}`;
  const uploadId = await storage.createMultipartUpload(key, {});
  const partSize = 64 * MIB;
  const block = randomBytes(partSize);
  for (let n = 1, offset = 0; offset < size; n++, offset += partSize) {
    const response = await fetch(await storage.presignUploadPart(key, uploadId, n, 600), {
      method: 'PUT',
      body: block.subarray(0, Math.min(partSize, size - offset)),
    });
    if (!response.ok) {
      throw new Error(`part ${n}: ${response.status}`);
    }
  }
  await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));
  return key;
}

// S3's own read rate here: ranged GETs in flight that only count the bytes.
async function plainRead(key: string, size: number): Promise<void> {
  const range = 8 * MIB;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let index = next++; index * range < size; index = next++) {
        const start = index * range;
        await storage.readRange(key, start, Math.min(size, start + range) - 1);
      }
    }),
  );
}

const mbps = (bytes: number, secs: number): number => Number((bytes / 1e6 / secs).toFixed(1));

const shaBytes = randomBytes(512 * MIB);
const shaSeconds = await timed(() => Promise.resolve(createHash('sha256').update(shaBytes).digest()));
const shaLimit = mbps(shaBytes.length, shaSeconds);

const results = [];
for (const size of sizes) {
  const key = await storeObject(size);
  try {
    const s3Limit = mbps(size, await timed(() => plainRead(key, size)));
    const limit = Math.min(s3Limit, shaLimit);
    const stream = mbps(size, await timed(async () => sha256OfStream(await storage.readObject(key))));
    const pipelined = mbps(
      size,
      await timed(() =>
        sha256OfRanges((start, end, signal) => storage.readRange(key, start, end, signal), size, {
          window: 8,
          rangeBytes: 8 * MIB,
          retries: 3,
        }),
      ),
    );
    results.push({
      sizeMiB: size / MIB,
      limitsMBps: { s3PlainRead: s3Limit, sha256SingleCore: shaLimit },
      pathsMBps: { singleStream: stream, pipelinedRanges: pipelined },
      ratioToLimit: {
        singleStream: Number((stream / limit).toFixed(2)),
        pipelinedRanges: Number((pipelined / limit).toFixed(2)),
      },
    });
  } finally {
    await storage.deleteObject(key);
  }
}
storage.destroy();

console.log(`\nread-back, median of ${runs} runs (MB/s; ratio to the slower of the two limits)`);
console.log('size      S3 plain read   SHA-256 1 core   single stream      pipelined (8 x 8 MiB)');
for (const r of results) {
  console.log(
    `${`${r.sizeMiB} MiB`.padEnd(10)}${String(r.limitsMBps.s3PlainRead).padStart(13)}${String(r.limitsMBps.sha256SingleCore).padStart(17)}` +
      `${`${r.pathsMBps.singleStream} (${r.ratioToLimit.singleStream})`.padStart(18)}${`${r.pathsMBps.pipelinedRanges} (${r.ratioToLimit.pipelinedRanges})`.padStart(23)}`,
  );
}
const dir = path.join(ROOT, 'bench/results');
await mkdir(dir, { recursive: true });
const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(
  file,
  `${JSON.stringify({ runs, cores: (await import('node:os')).availableParallelism(), results }, null, 2)}\n`,
);
console.log(`\nwrote ${path.relative(ROOT, file)}`);
