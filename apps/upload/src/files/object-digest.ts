import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sha256State } from '@koodrive/hashing';
import { type ChainOutcome, describeBrokenLink, type HashedRange } from './hash-chain.js';
import { SHA256_BLOCK } from '@koodrive/limits';

export interface Digest {
  readonly sha256: string;
  readonly bytes: number;
}

// Streams the object through SHA-256 chunk by chunk: memory stays flat whatever the size.
// (The single-stream read-back; kept as the baseline the pipelined one is measured against.)
export async function sha256OfStream(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

// Reads bytes [start, end] (inclusive) of the object; must return exactly that many bytes.
export type RangeReader = (start: number, end: number, signal: AbortSignal) => Promise<Buffer>;

export interface PipelineOptions {
  // bytes per ranged GET
  readonly rangeBytes: number;
  // ranged GETs in flight at once: memory is bounded by window x rangeBytes
  readonly window: number;
  // further attempts of a failed range before the read-back fails
  readonly retries: number;
  readonly retryDelayMs?: number;
}

// The pipelined read-back: up to `window` ranged GETs in flight, their bytes fed to one SHA-256
// in order (memory: window + 1 ranges). A failed range (connection cut, short body) is fetched again without restarting the
// hash; once a range has failed `retries` more times, the others are aborted and the error thrown.
export async function sha256OfRanges(read: RangeReader, size: number, options: PipelineOptions): Promise<Digest> {
  // hashed on the thread pool: the event loop stays free to receive the ranges in flight
  const hash = Sha256State.initial();
  const count = Math.ceil(size / options.rangeBytes);
  const abort = new AbortController();
  const fetchRange = (index: number): Promise<Buffer> => {
    const start = index * options.rangeBytes;
    const end = Math.min(size, start + options.rangeBytes) - 1;
    return withRetries(
      options,
      async () => {
        const bytes = await read(start, end, abort.signal);
        if (bytes.length !== end - start + 1) {
          throw new Error(`range ${start}-${end} returned ${bytes.length} bytes`);
        }
        return bytes;
      },
      abort.signal,
    );
  };
  const inFlight: Promise<Buffer>[] = [];
  let next = 0;
  const startNext = (): void => {
    const pending = fetchRange(next++);
    pending.catch(() => undefined); // awaited in order below; a later failure must not go unhandled
    inFlight.push(pending);
  };
  try {
    while (next < count && inFlight.length < options.window) {
      startNext();
    }
    for (let index = 0; index < count; index++) {
      const bytes = await inFlight.shift()!;
      if (next < count) {
        startNext();
      }
      await hash.updateAsync(bytes);
    }
  } catch (error) {
    abort.abort();
    throw error;
  }
  return { sha256: hash.hexDigest(), bytes: size };
}

// Opens bytes [start, end] (inclusive) of the object as a stream.
export type RangeOpener = (start: number, end: number) => Promise<AsyncIterable<Buffer>>;

export interface ParallelOptions {
  // ranges hashed at once, each on its own thread-pool thread
  readonly concurrency: number;
  readonly retries: number;
  readonly retryDelayMs?: number;
}

// bytes handed to the thread pool at a time: large enough that a hand-off costs nothing next to
// the hashing, small enough that memory stays at a few of these per range in flight
const HASH_BATCH_BYTES = 1024 * 1024;

// The parallel-by-part read-back of a parallel-mode upload: each range is hashed from the state
// its part's hashCtx gives, `concurrency` at a time on the thread pool, and the chain is checked
// across them (each range must end in the state the next starts from). A range that fails to
// read is read again from its start. No byte is held longer than one batch per range.
export async function sha256OfHashedRanges(
  ranges: readonly HashedRange[],
  open: RangeOpener,
  options: ParallelOptions,
): Promise<ChainOutcome> {
  const ends = await mapConcurrently(ranges, options.concurrency, (range) =>
    withRetries(options, () => hashRange(range, open)),
  );
  for (const [index, range] of ranges.entries()) {
    const end = ends[index]!;
    const next = ranges[index + 1];
    if (next === undefined) {
      return { kind: 'proven', sha256: end.hexDigest() };
    }
    const broken =
      end.bytes % SHA256_BLOCK !== 0
        ? `part ${range.partNumber} does not end on a 64-byte boundary`
        : describeBrokenLink(next.partNumber, range.partNumber, next.start, end.state());
    if (broken !== null) {
      return { kind: 'broken', partNumber: next.partNumber, detail: broken };
    }
  }
  return { kind: 'unproven' };
}

async function hashRange(range: HashedRange, open: RangeOpener): Promise<Sha256State> {
  const state = Sha256State.from(range.start);
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let hashing = Promise.resolve();
  const flush = async (): Promise<void> => {
    // one batch hashing while the next one fills
    await hashing;
    hashing = state.updateAsync(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes));
    batch = [];
    batchBytes = 0;
  };
  for await (const chunk of await open(range.start.offset, range.end - 1)) {
    batch.push(chunk);
    batchBytes += chunk.length;
    if (batchBytes >= HASH_BATCH_BYTES) {
      await flush();
    }
  }
  if (batchBytes > 0) {
    await flush();
  }
  await hashing;
  if (state.bytes !== range.end) {
    throw new Error(
      `part ${range.partNumber}: read ${state.bytes - range.start.offset} bytes of ${range.end - range.start.offset}`,
    );
  }
  return state;
}

// Runs `work`, and again after a failure (backing off 100, 200, 400 ms...) up to `retries` more
// times; no further attempt once `signal` is aborted.
async function withRetries<T>(
  options: { readonly retries: number; readonly retryDelayMs?: number },
  work: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= options.retries || signal?.aborted === true) {
        throw error;
      }
      await sleep((options.retryDelayMs ?? 100) * 2 ** attempt);
    }
  }
}

// Runs `work` on every item, at most `limit` at once, answering results in the items' order.
// After a failure no new item starts; the first error is thrown once the started ones settle.
async function mapConcurrently<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) {
    throw failure.error;
  }
  return results;
}
