import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

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
// in order. A failed range (connection cut, short body) is fetched again without restarting the
// hash; once a range has failed `retries` more times, the others are aborted and the error thrown.
export async function sha256OfRanges(read: RangeReader, size: number, options: PipelineOptions): Promise<Digest> {
  const hash = createHash('sha256');
  const count = Math.ceil(size / options.rangeBytes);
  const abort = new AbortController();
  const fetchRange = async (index: number): Promise<Buffer> => {
    const start = index * options.rangeBytes;
    const end = Math.min(size, start + options.rangeBytes) - 1;
    for (let attempt = 0; ; attempt++) {
      try {
        const bytes = await read(start, end, abort.signal);
        if (bytes.length !== end - start + 1) {
          throw new Error(`range ${start}-${end} returned ${bytes.length} bytes`);
        }
        return bytes;
      } catch (error) {
        if (attempt >= options.retries || abort.signal.aborted) {
          throw error;
        }
        await sleep((options.retryDelayMs ?? 100) * 2 ** attempt);
      }
    }
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
      hash.update(await inFlight.shift()!);
      if (next < count) {
        startNext();
      }
    }
  } catch (error) {
    abort.abort();
    throw error;
  }
  return { sha256: hash.digest('hex'), bytes: size };
}
