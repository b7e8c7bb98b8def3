// The file cut into parts, and the one streaming pass that gives the file's SHA-256 together with
// the SHA-256 state before every part (its hashCtx), so the parts can then be uploaded in any order.
import { createReadStream } from 'node:fs';
import { type HashState, Sha256State } from '@koodrive/hashing';

export interface FilePart {
  readonly partNumber: number;
  readonly partOffset: number;
  readonly partSize: number;
}

export interface HashedFilePart extends FilePart {
  // the SHA-256 state after the bytes before this part
  readonly state: HashState;
}

export interface FilePlan {
  readonly sha256: string;
  readonly parts: readonly HashedFilePart[];
}

// Parts of `partSize` bytes and a smaller last one; an empty file is one empty part.
export function splitIntoParts(length: number, partSize: number): FilePart[] {
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(partSize) || partSize <= 0) {
    throw new RangeError(`cannot cut ${length} bytes into parts of ${partSize}`);
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

// The part's hashCtx as KooDrive documents it: the 8 state words (sent with partOffset), and none
// for a part at offset 0, whose state is SHA-256's initial one.
export function hashCtxOf(part: HashedFilePart): readonly number[] | undefined {
  return part.partOffset === 0 ? undefined : part.state.h;
}

export class FileChangedError extends Error {}

export interface ScanOptions {
  readonly signal?: AbortSignal;
  // bytes read so far, as they are read
  readonly onBytes?: (bytes: number) => void;
}

// Reads the file once, in order, 1 MiB at a time. Part boundaries must be multiples of 64 bytes
// (all but the last part are whole blocks), which is where a SHA-256 state can be taken.
export async function scanFile(path: string, parts: readonly FilePart[], options: ScanOptions = {}): Promise<FilePlan> {
  const length = parts.reduce((sum, part) => sum + part.partSize, 0);
  const hash = Sha256State.initial();
  const states: HashState[] = [];
  let position = 0;
  let next = 0;
  const takeStates = (): void => {
    // several parts can start at one position only for an empty file's single part
    while (next < parts.length && parts[next]!.partOffset === position) {
      states.push(hash.state());
      next++;
    }
  };
  takeStates();
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, signal: options.signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (position + chunk.length > length) {
      stream.destroy();
      throw new FileChangedError(`the file grew while it was read (more than ${length} bytes)`);
    }
    let at = 0;
    while (at < chunk.length) {
      const boundary = next < parts.length ? parts[next]!.partOffset : length;
      const take = Math.min(chunk.length - at, boundary - position);
      hash.update(chunk.subarray(at, at + take));
      at += take;
      position += take;
      takeStates();
    }
    options.onBytes?.(chunk.length);
  }
  if (position !== length) {
    throw new FileChangedError(`the file shrank while it was read (${position} of ${length} bytes)`);
  }
  return {
    sha256: hash.hexDigest(),
    parts: parts.map((part, index) => ({ ...part, state: states[index]! })),
  };
}
