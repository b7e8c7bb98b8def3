// The CLI's part PUT: the part's range of the file streamed to its URL by fetch, its bytes counted
// as they go (for the progress bar), nothing of the file held in memory.
import { createReadStream, type ReadStream } from 'node:fs';
import {
  describeError,
  type FilePart,
  NetworkError,
  type PartTransport,
  pause,
  type PutAnswer,
} from '@koodrive/upload-client';

export class FileRangeTransport implements PartTransport<FilePart> {
  constructor(
    private readonly path: string,
    // tests only (KOODRIVE_CLIENT_PART_DELAY_MS): a pause before each part, so a test can
    // interrupt between parts
    private readonly partDelayMs?: number,
  ) {}

  async put(url: string, part: FilePart, signal: AbortSignal, onBytes: (delta: number) => void): Promise<PutAnswer> {
    if (this.partDelayMs !== undefined && this.partDelayMs > 0) {
      await pause(this.partDelayMs, signal);
    }
    const stream =
      part.partSize === 0
        ? undefined
        : createReadStream(this.path, {
            start: part.partOffset,
            end: part.partOffset + part.partSize - 1,
            highWaterMark: 256 * 1024,
          });
    try {
      const response = await fetch(url, {
        method: 'PUT',
        headers: { 'content-length': String(part.partSize) },
        ...(stream === undefined ? { body: new Uint8Array(0) } : { body: counted(stream, onBytes), duplex: 'half' }),
        signal,
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      if (signal.aborted || !(error instanceof TypeError)) {
        throw error;
      }
      throw new NetworkError(`PUT of part ${part.partNumber}: ${describeError(error)}`, { cause: error });
    } finally {
      stream?.destroy();
    }
  }
}

async function* counted(stream: ReadStream, onBytes: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onBytes(chunk.length);
    yield chunk;
  }
}
