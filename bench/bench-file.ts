// The benchmark's files and their upload. A file is `size` bytes cut into parts whose bytes are
// made again whenever needed (one pseudo-random block, stamped with the part's number), so no file
// is ever whole in memory; its SHA-256 and the hashCtx at each part boundary come from one
// streaming pass. Parts are PUT a few at a time, each worker refilling one buffer of its own.
import { createCipheriv, createHash } from 'node:crypto';

type HashingModule = typeof import('@koodrive/hashing');

// every 64 KiB of a part starts with its part number and offset: no two parts are alike
const STAMP_EVERY = 64 * 1024;

export interface PartPlan {
  readonly partNumber: number;
  readonly partOffset: number;
  readonly partSize: number;
  // the SHA-256 state after all bytes before the part, as a parallel-mode client sends it
  readonly hashCtx: string;
}

export interface PartTarget {
  readonly partNumber: number;
  readonly uploadUrl: string;
}

// Plain fields, not parameter properties: Node's type stripping runs this file unbuilt.
export class BenchFile {
  readonly size: number;
  readonly partSize: number;
  readonly parts: readonly PartPlan[];
  readonly sha256: string;
  readonly #block: Buffer;

  private constructor(size: number, partSize: number, parts: readonly PartPlan[], sha256: string, block: Buffer) {
    this.size = size;
    this.partSize = partSize;
    this.parts = parts;
    this.sha256 = sha256;
    this.#block = block;
  }

  // The file's parts, its SHA-256 (node:crypto) and each part's hashCtx (the service's own
  // Sha256State, checked against node:crypto's digest).
  static prepare(size: number, partSize: number, hashing: HashingModule): BenchFile {
    if (size <= 0 || partSize <= 0 || partSize % 64 !== 0) {
      throw new RangeError(`cannot cut ${size} bytes into parts of ${partSize} (a positive multiple of 64)`);
    }
    const key = createHash('sha256').update('koodrive bench').digest();
    const block = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(partSize));
    const state = hashing.Sha256State.initial();
    const digest = createHash('sha256');
    const parts: PartPlan[] = [];
    const buffer = Buffer.allocUnsafe(partSize);
    for (let partOffset = 0; partOffset < size; partOffset += partSize) {
      const part = {
        partNumber: parts.length + 1,
        partOffset,
        partSize: Math.min(partSize, size - partOffset),
        hashCtx: hashing.encodeHashCtx(state.state()),
      };
      parts.push(part);
      const bytes = fillPart(block, part, buffer);
      state.update(bytes);
      digest.update(bytes);
    }
    const sha256 = digest.digest('hex');
    if (state.hexDigest() !== sha256) {
      throw new Error('Sha256State and node:crypto disagree on the file');
    }
    return new BenchFile(size, partSize, parts, sha256, block);
  }

  // The part's bytes, written into `buffer` (at least partSize long).
  fill(part: PartPlan, buffer: Buffer): Buffer {
    return fillPart(this.#block, part, buffer);
  }

  // PUTs each part to its URL, `concurrency` at a time; answers the seconds it took.
  async upload(targets: readonly PartTarget[], concurrency: number): Promise<number> {
    const plans = new Map(this.parts.map((part) => [part.partNumber, part]));
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, targets.length) }, async () => {
        const buffer = Buffer.allocUnsafe(this.partSize);
        for (let index = next++; index < targets.length; index = next++) {
          const { partNumber, uploadUrl } = targets[index]!;
          const part = plans.get(partNumber);
          if (part === undefined) {
            throw new Error(`no part ${partNumber} in a file of ${this.parts.length} parts`);
          }
          const response = await fetch(uploadUrl, { method: 'PUT', body: this.fill(part, buffer) });
          // read to the end: the buffer is reused once the answer is in
          const text = await response.text();
          if (!response.ok) {
            throw new Error(`PUT part ${partNumber}: HTTP ${response.status} ${text.slice(0, 300)}`);
          }
        }
      }),
    );
    return (performance.now() - started) / 1000;
  }
}

function fillPart(block: Buffer, part: PartPlan, buffer: Buffer): Buffer {
  const bytes = buffer.subarray(0, part.partSize);
  block.copy(bytes, 0, 0, part.partSize);
  for (let at = 0; at + 8 <= part.partSize; at += STAMP_EVERY) {
    bytes.writeUInt32BE(part.partNumber, at);
    bytes.writeUInt32BE(at, at + 4);
  }
  return bytes;
}
