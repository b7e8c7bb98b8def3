// KooDrive's proofCode (API.md, create): the SHA-256 of up to 8 bytes of the file at an offset
// derived from the caller's identity, so that knowing a digest is not enough to claim a file.
import { createHash } from 'node:crypto';

export interface ProofRange {
  readonly start: number;
  // exclusive
  readonly end: number;
}

const PROOF_BYTES = 8;
const LOW_63_BITS = (1n << 63n) - 1n;

// The source is the X-User-Id header under app authentication, else the Authorization header's
// value exactly as sent. Header values are byte strings (node:http decodes them as latin1, fetch
// sends them as latin1), so latin1 hashes the bytes on the wire.
export function proofSeed(seedSource: string): string {
  if (/[^\u0000-\u00FF]/.test(seedSource)) {
    throw new RangeError('a proof seed source is a header value: characters U+0000 to U+00FF only');
  }
  return createHash('sha256').update(seedSource, 'latin1').digest('hex');
}

export function proofRange(seedSource: string, length: number): ProofRange {
  if (!Number.isSafeInteger(length) || length < 1) {
    throw new RangeError(`a proof range needs a length of at least 1 byte, not ${length} (none for an empty file)`);
  }
  const h = createHash('sha256').update(proofSeed(seedSource), 'ascii').digest();
  const start = Number((h.readBigUInt64BE(24) & LOW_63_BITS) % BigInt(length));
  return { start, end: Math.min(start + PROOF_BYTES, length) };
}

// `bytes` are the file's bytes [start, end) of its proofRange
export function proofCode(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
