// node bench/sha256-state.ts [--gib 1] [--runs 3]: SHA-256 throughput of node:crypto against the
// native addon behind @koodrive/hashing (npm run build:native first), on one core (update) and
// on the libuv thread pool (updateAsync, several contexts at once). Prints MB/s (10^6 bytes/s).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface Addon {
  create(h: Uint32Array | undefined, bytes: number): object;
  update(context: object, data: Uint8Array): void;
  updateAsync(context: object, data: Uint8Array): Promise<void>;
  digest(context: object): Buffer;
}

const CHUNK = 8 * 1024 * 1024;
const addon = createRequire(import.meta.url)(
  path.resolve(import.meta.dirname, '../native/sha256-state/build/Release/sha256_state.node'),
) as Addon;

const { values } = parseArgs({
  options: { gib: { type: 'string', default: '1' }, runs: { type: 'string', default: '3' } },
});
const total = Number(values.gib) * 1024 ** 3;
const runs = Number(values.runs);
const chunks = total / CHUNK;
const data = randomBytes(CHUNK);

function timed<T>(run: () => T): [T, number] {
  const start = process.hrtime.bigint();
  const result = run();
  return [result, Number(process.hrtime.bigint() - start) / 1e9];
}

async function timedAsync<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const result = await run();
  return [result, Number(process.hrtime.bigint() - start) / 1e9];
}

function nodeCrypto(): string {
  const hash = createHash('sha256');
  for (let i = 0; i < chunks; i += 1) {
    hash.update(data);
  }
  return hash.digest('hex');
}

function addonSync(): string {
  const context = addon.create(undefined, 0);
  for (let i = 0; i < chunks; i += 1) {
    addon.update(context, data);
  }
  return addon.digest(context).toString('hex');
}

async function addonParallel(contexts: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: contexts }, async () => {
      const context = addon.create(undefined, 0);
      for (let i = 0; i < chunks; i += 1) {
        await addon.updateAsync(context, data);
      }
      return addon.digest(context).toString('hex');
    }),
  );
}

const mbps = (bytes: number, seconds: number): string => (bytes / seconds / 1e6).toFixed(0).padStart(6);
const best = (times: number[]): number => Math.min(...times);

const results: Record<string, number[]> = {};
const record = (name: string, seconds: number): void => {
  (results[name] ??= []).push(seconds);
};
for (let run = 0; run < runs; run += 1) {
  const [expected, cryptoTime] = timed(nodeCrypto);
  record('node:crypto createHash, 1 stream', cryptoTime);
  const [syncDigest, syncTime] = timed(addonSync);
  assert.equal(syncDigest, expected);
  record('Sha256State update, 1 stream', syncTime);
  for (const contexts of [1, 2, 4]) {
    const [digests, time] = await timedAsync(() => addonParallel(contexts));
    assert.deepEqual(digests, Array<string>(contexts).fill(expected));
    record(`Sha256State updateAsync, ${contexts} stream${contexts === 1 ? '' : 's'}`, time / contexts);
  }
}

console.log(
  `${values.gib} GiB per stream in 8 MiB chunks, best of ${runs}; ${availableParallelism()} CPUs, ` +
    `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
);
console.log('what                                        MB/s (aggregate)');
for (const [name, times] of Object.entries(results)) {
  console.log(`${name.padEnd(42)} ${mbps(total, best(times))}`);
}
