// Everything that establishes a SHA-256 of stored bytes: the hash chain of parts hashed on their
// way in, and the read-backs of combined objects (one stream; pipelined ranged GETs; part by part
// from each part's hashCtx). The app's files/ (complete) and parts/ (the part PUT) both use it.
export {
  type ChainOutcome,
  describeBrokenLink,
  digestFromPartChain,
  type HashedRange,
  partStartState,
  rangesFromHashCtx,
} from './hash-chain.js';
export { type ParallelOptions, sha256OfHashedRanges } from './part-read-back.js';
export { sha256OfRanges } from './pipelined-read-back.js';
export type { PipelineOptions, ReadInto } from './span-hasher.js';
export { type Digest, sha256OfStream } from './stream-read-back.js';
