import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

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
