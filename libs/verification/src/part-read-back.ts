import { Sha256State } from '@koodrive/hashing';
import { mapConcurrently } from './concurrency.js';
import { type ChainOutcome, describeBrokenLink, type HashedRange } from './hash-chain.js';
import { hashSpan, type PipelineOptions, type ReadInto } from './span-hasher.js';

export interface ParallelOptions extends PipelineOptions {
  // parts hashed at once, each from its own state, with `window` ranged GETs of its own in flight
  readonly concurrency: number;
}

// The part-by-part read-back of a parallel-mode upload (one range or more): each range is hashed
// from the state its part's hashCtx gives, `concurrency` at a time (each hashing on its own
// thread-pool thread), and the chain is checked across them (each range must end in the state the
// next starts from).
export async function sha256OfHashedRanges(
  ranges: readonly HashedRange[],
  read: ReadInto,
  options: ParallelOptions,
): Promise<ChainOutcome> {
  const ends = await mapConcurrently(ranges, options.concurrency, async (range) => {
    const state = Sha256State.from(range.start);
    await hashSpan(read, state, range.start.offset, range.end, options);
    return state;
  });
  // each range ends where the next part's hashCtx starts (a 64-byte boundary): its end state
  // must be that hashCtx
  for (const [index, range] of ranges.slice(0, -1).entries()) {
    const next = ranges[index + 1]!;
    const broken = describeBrokenLink(next.partNumber, range.partNumber, next.start, ends[index]!.state());
    if (broken !== null) {
      return { kind: 'broken', partNumber: next.partNumber, detail: broken };
    }
  }
  return { kind: 'proven', sha256: ends.at(-1)!.hexDigest() };
}
