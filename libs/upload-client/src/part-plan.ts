// The file cut into parts as a KooDrive client in parallel mode does (API.md, uploadUrl): parts of
// `partSize` bytes, a multiple of 64 so that each starts on a SHA-256 block boundary (where a
// state can be taken for its hashCtx), and a smaller last one; raised when the file would need
// more than 10,000 parts.
import { MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, SHA256_BLOCK } from '@koodrive/limits';
import type { PartRequest } from './wire.js';

export const DEFAULT_PART_SIZE = 8 * MIB;
export const DEFAULT_PARALLEL = 4;

export interface FilePart {
  readonly partNumber: number;
  readonly partOffset: number;
  readonly partSize: number;
}

export class PartSizeError extends RangeError {}

// The part size for a file of `length` bytes: the asked size rounded up to whole 64-byte blocks,
// raised when the file would otherwise need more than 10,000 parts.
export function partSizeFor(asked: number, length: number): number {
  if (!Number.isSafeInteger(asked) || asked < MIN_PART_SIZE || asked > MAX_PART_SIZE) {
    throw new PartSizeError(`the part size must be between 5 MiB and 5 GiB, got ${asked} bytes`);
  }
  const needed = Math.max(asked, Math.ceil(length / MAX_PARTS));
  return Math.ceil(needed / SHA256_BLOCK) * SHA256_BLOCK;
}

// Parts of `partSize` bytes and a smaller last one; an empty file is one empty part.
export function splitIntoParts(length: number, partSize: number): FilePart[] {
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(partSize) || partSize <= 0) {
    throw new PartSizeError(`cannot cut ${length} bytes into parts of ${partSize}`);
  }
  const parts: FilePart[] = [];
  let partOffset = 0;
  do {
    const size = Math.min(partSize, length - partOffset);
    parts.push({ partNumber: parts.length + 1, partOffset, partSize: size });
    partOffset += size;
  } while (partOffset < length);
  return parts;
}

// The part as uploadUrl takes it, with its hashCtx (the state words before it) as KooDrive
// documents it: none for the part at offset 0, whose state is SHA-256's initial one.
export function partRequestOf(part: FilePart, stateWords: readonly number[] | undefined): PartRequest {
  const { partNumber, partSize, partOffset } = part;
  return partOffset === 0 || stateWords === undefined
    ? { partNumber, partSize, partOffset }
    : { partNumber, partSize, partOffset, hashCtx: stateWords };
}
