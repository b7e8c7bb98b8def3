// The file cut into parts as a KooDrive client in parallel mode does (API.md, uploadUrl): parts of
// `partSize` bytes, a multiple of 64 so each starts at a SHA-256 block boundary, and a smaller last
// one; raised when the file would need more than 10,000 parts.
import { MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, SHA256_BLOCK } from '@koodrive/limits';

export const DEFAULT_PART_SIZE = 8 * MIB;

export interface FilePart {
  readonly partNumber: number;
  readonly partOffset: number;
  readonly partSize: number;
}

export function partSizeFor(asked: number, length: number): number {
  if (!Number.isSafeInteger(asked) || asked < MIN_PART_SIZE || asked > MAX_PART_SIZE) {
    throw new RangeError(`partSize must be between 5 MiB and 5 GiB, got ${asked} bytes`);
  }
  const needed = Math.max(asked, Math.ceil(length / MAX_PARTS));
  return Math.ceil(needed / SHA256_BLOCK) * SHA256_BLOCK;
}

// An empty file is one empty part.
export function splitIntoParts(length: number, partSize: number): FilePart[] {
  const parts: FilePart[] = [];
  let partOffset = 0;
  do {
    const size = Math.min(partSize, length - partOffset);
    parts.push({ partNumber: parts.length + 1, partOffset, partSize: size });
    partOffset += size;
  } while (partOffset < length);
  return parts;
}
