// Feeds a span of the object to one SHA-256 in order, from ranged GETs received straight into a
// ring of buffers: the engine of the pipelined and the part-by-part read-backs.
import type { Sha256State } from '@koodrive/hashing';
import { rangeBuffers } from './buffer-pool.js';
import { withRetries } from './retry.js';

// Reads bytes [start, start + into.length) of the object into `into`, calling onData with how
// many have landed so far; on a rejection, the bytes reported stay good (a retry goes on from there).
export type ReadInto = (
  start: number,
  into: Buffer,
  onData: (filled: number) => void,
  signal: AbortSignal,
) => Promise<void>;

export interface PipelineOptions {
  // bytes per ranged GET
  readonly rangeBytes: number;
  // ranged GETs in flight at once: memory is bounded by window x rangeBytes
  readonly window: number;
  // further attempts of a failed range before the read-back fails
  readonly retries: number;
  readonly retryDelayMs?: number;
}

// One ranged GET (with its retries): bytes [start, start + length) of the object, landing in its
// slot's buffer as they arrive.
interface RangeRead {
  readonly start: number;
  readonly length: number;
  filled: number;
  failure: { error: unknown } | undefined;
  // settles (never rejects) once no attempt can write into the buffer any more
  settled: Promise<void>;
}

// Feeds bytes [start, end) of the object to `state` in order. The span is read as ranges of
// `rangeBytes`, `window` of them in flight, each received straight into a buffer of its own (a
// ring of `window` buffers: memory is window x rangeBytes whatever the size). The range at the
// head is hashed as its bytes land, on the thread pool, in whatever batch has arrived since the
// last one, so hashing overlaps receiving; once hashed, and once its read has settled, its buffer
// takes the next range. A range that fails is asked again from the byte it reached (the hash
// never restarts), up to `retries` more times; after that the other reads are aborted and the
// error thrown.
export async function hashSpan(
  read: ReadInto,
  state: Sha256State,
  start: number,
  end: number,
  options: PipelineOptions,
): Promise<void> {
  const span = new SpanReads(read, start, end, options);
  const buffers = Array.from({ length: Math.min(options.window, span.count) }, () =>
    rangeBuffers.take(options.rangeBytes),
  );
  const ranges = buffers.map((buffer, index) => span.read(buffer, index));
  try {
    for (let index = 0; index < span.count; index++) {
      const slot = index % buffers.length;
      await span.hashAsItLands(ranges[slot]!, buffers[slot]!, state);
      if (index + buffers.length < span.count) {
        // every byte is in and hashed, but the read may not have returned yet (a file to close)
        await ranges[slot]!.settled;
        ranges[slot] = span.read(buffers[slot]!, index + buffers.length);
      }
    }
  } finally {
    span.abort();
    // a buffer goes back only once no read can still land in it
    await Promise.all(ranges.map((range) => range.settled));
    buffers.forEach((buffer) => rangeBuffers.give(buffer));
  }
}

// The ranged reads of one span, and the wake-up the hashing loop waits on.
class SpanReads {
  readonly count: number;
  private readonly aborter = new AbortController();
  private wake: (() => void) | undefined;

  constructor(
    private readonly readInto: ReadInto,
    private readonly start: number,
    private readonly end: number,
    private readonly options: PipelineOptions,
  ) {
    this.count = Math.ceil((end - start) / options.rangeBytes);
  }

  abort(): void {
    this.aborter.abort();
  }

  // Starts reading the range `index` of the span into `buffer`; each read writes only its own
  // RangeRead and, until it settles, its buffer.
  read(buffer: Buffer, index: number): RangeRead {
    const rangeStart = this.start + index * this.options.rangeBytes;
    const range: RangeRead = {
      start: rangeStart,
      length: Math.min(this.options.rangeBytes, this.end - rangeStart),
      filled: 0,
      failure: undefined,
      settled: Promise.resolve(),
    };
    const attempt = async (): Promise<void> => {
      const from = range.filled;
      const onData = (filled: number): void => {
        range.filled = from + filled;
        this.notify();
      };
      await this.readInto(range.start + from, buffer.subarray(from, range.length), onData, this.aborter.signal);
      if (range.filled !== range.length) {
        throw new Error(`range at ${range.start}: read ${range.filled} of ${range.length} bytes`);
      }
    };
    range.settled = withRetries(this.options, attempt, this.aborter.signal).then(
      () => this.notify(),
      (error: unknown) => {
        range.failure = { error };
        this.notify();
      },
    );
    return range;
  }

  // Hashes the range's bytes as they land, until all are in; throws its read's failure.
  async hashAsItLands(range: RangeRead, buffer: Buffer, state: Sha256State): Promise<void> {
    let hashed = 0;
    while (hashed < range.length) {
      if (range.filled > hashed) {
        const upTo = range.filled;
        await state.updateAsync(buffer.subarray(hashed, upTo));
        hashed = upTo;
      } else if (range.failure !== undefined) {
        throw range.failure.error;
      } else {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    }
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = undefined;
    waiting?.();
  }
}
