// node bench/read-cpu.ts (after `npm run build`, with services:up's environment)
// Where the CPU goes when the read-back reads 1 GiB from RGW: the reader's own CPU and RGW's (from
// /proc), for a read that only counts bytes, one hashed with node:crypto on the event loop, and one
// hashed on the thread pool in 1 MiB batches. On this 2-core host it shows why the read-back stays
// below the plain read: receiving alone keeps the reader's event loop about one core busy.
import { execSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { importBuilt } from './support.ts';

type StorageModule = typeof import('../libs/storage/src/s3-object-storage.ts');
type ConfigModule = typeof import('../libs/config/src/app-config.ts');
type HashingModule = typeof import('../libs/hashing/src/index.ts');

const { S3ObjectStorage } = await importBuilt<StorageModule>('libs/storage/src/s3-object-storage.js');
const { loadConfig } = await importBuilt<ConfigModule>('libs/config/src/app-config.js');
const { Sha256State } = await importBuilt<HashingModule>('libs/hashing/src/index.js');

const MIB = 1024 * 1024;
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

const rgwPid = execSync('pgrep -o radosgw').toString().trim();
// utime + stime of RGW, in seconds (clock ticks of 1/100 s)
function rgwCpuSeconds(): number {
  const fields = readFileSync(`/proc/${rgwPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function measure(name: string, consume: (body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const rgwBefore = rgwCpuSeconds();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await consume(await storage.readObject(key));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const reader = (cpu.user + cpu.system) / 1e6 / seconds;
  const rgw = (rgwCpuSeconds() - rgwBefore) / seconds;
  console.log(
    `${name.padEnd(30)}${(SIZE / 1e6 / seconds).toFixed(0).padStart(6)} MB/s   reader ${reader.toFixed(2)} cores   RGW ${rgw.toFixed(2)} cores`,
  );
}

try {
  for (let round = 0; round < 2; round++) {
    await measure('count only', async (body) => {
      for await (const chunk of body) {
        void chunk.length;
      }
    });
    await measure('node:crypto on the event loop', async (body) => {
      const hash = createHash('sha256');
      for await (const chunk of body) {
        hash.update(chunk);
      }
      hash.digest();
    });
    await measure('thread pool, 1 MiB batches', async (body) => {
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
    });
  }
} finally {
  await storage.deleteObject(key);
  storage.destroy();
}
