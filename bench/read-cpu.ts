// node bench/read-cpu.ts (after `npm run build`, with services:up's environment)
// Where the CPU goes when the read-back reads 1 GiB from RGW: the reader's own CPU and the local
// Ceph's (radosgw + ceph-osd, from /proc), for reads through the SDK (node's HTTP client) that
// only count bytes or hash them, and reads through the lean reader (range-get.ts) that only count
// bytes or are the service's pipelined read-back itself. On this 2-core host it shows that node's
// HTTP client costs the reader about a core at ~700 MB/s, and the lean reader a quarter of that.
import { createHash, randomBytes } from 'node:crypto';
import { importBuilt, pidsNamed, processesCpuSeconds } from './support.ts';
import { MIB } from '@koodrive/limits';

type StorageModule = typeof import('@koodrive/storage');
type ConfigModule = typeof import('@koodrive/config');
type HashingModule = typeof import('@koodrive/hashing');
type DigestModule = typeof import('@koodrive/verification');

const { S3ObjectStorage } = await importBuilt<StorageModule>('libs/storage/src/index.js');
const { loadConfig } = await importBuilt<ConfigModule>('libs/config/src/index.js');
const { Sha256State } = await importBuilt<HashingModule>('libs/hashing/src/index.js');
const { sha256OfRanges } = await importBuilt<DigestModule>('libs/verification/src/index.js');

const SIZE = 1024 * MIB;
const storage = new S3ObjectStorage(loadConfig(process.env).s3);
const key = `bench/read-cpu-${randomBytes(4).toString('hex')}`;

const uploadId = await storage.createMultipartUpload(key, {});
const block = randomBytes(64 * MIB);
for (let n = 1; n <= SIZE / block.length; n++) {
  const response = await fetch(await storage.presignUploadPart(key, uploadId, n, 600), { method: 'PUT', body: block });
  if (!response.ok) {
    throw new Error(`part ${n}: ${response.status}`);
  }
}
await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));

const cephPids = pidsNamed('radosgw', 'ceph-osd');
if (cephPids.length === 0) {
  throw new Error('no radosgw or ceph-osd here: run services:up first');
}

async function measure(name: string, read: () => Promise<void>): Promise<void> {
  const cephBefore = await processesCpuSeconds(cephPids);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await read();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const reader = (cpu.user + cpu.system) / 1e6 / seconds;
  const ceph = ((await processesCpuSeconds(cephPids)) - cephBefore) / seconds;
  console.log(
    `${name.padEnd(42)}${(SIZE / 1e6 / seconds).toFixed(0).padStart(6)} MB/s   reader ${reader.toFixed(2)} cores   Ceph ${ceph.toFixed(2)} cores`,
  );
}

const consumeSdk = (consume: (body: AsyncIterable<Buffer>) => Promise<void>) => async () =>
  consume(await storage.readObject(key));
const WINDOW = 4;
const RANGE = 16 * MIB;
const ring = Array.from({ length: WINDOW }, () => Buffer.allocUnsafeSlow(RANGE));
const readInto = (start: number, into: Buffer, onData: (filled: number) => void, signal: AbortSignal) =>
  storage.readInto(key, start, into, { onData, signal });

try {
  for (let round = 0; round < 2; round++) {
    await measure(
      'SDK, count only',
      consumeSdk(async (body) => {
        for await (const chunk of body) {
          void chunk.length;
        }
      }),
    );
    await measure(
      'SDK, node:crypto on the event loop',
      consumeSdk(async (body) => {
        const hash = createHash('sha256');
        for await (const chunk of body) {
          hash.update(chunk);
        }
        hash.digest();
      }),
    );
    await measure(
      'SDK, thread pool in 1 MiB batches',
      consumeSdk(async (body) => {
        const state = Sha256State.initial();
        let batch: Buffer[] = [];
        let bytes = 0;
        let hashing = Promise.resolve();
        for await (const chunk of body) {
          batch.push(chunk);
          bytes += chunk.length;
          if (bytes >= MIB) {
            await hashing;
            hashing = state.updateAsync(Buffer.concat(batch, bytes));
            batch = [];
            bytes = 0;
          }
        }
        await hashing;
        await state.updateAsync(Buffer.concat(batch, bytes));
        state.digest();
      }),
    );
    await measure(`lean, count only (${WINDOW} x 16 MiB ranges)`, async () => {
      let next = 0;
      await Promise.all(
        ring.map(async (buffer) => {
          for (let start = next++ * RANGE; start < SIZE; start = next++ * RANGE) {
            await storage.readInto(key, start, buffer.subarray(0, Math.min(RANGE, SIZE - start)));
          }
        }),
      );
    });
    await measure(`lean, the pipelined read-back (${WINDOW} x 16 MiB)`, async () => {
      await sha256OfRanges(readInto, SIZE, { window: WINDOW, rangeBytes: RANGE, retries: 0 });
    });
  }
} finally {
  await storage.deleteObject(key);
  storage.destroy();
}
