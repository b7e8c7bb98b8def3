// The file on disk as the core reads it: one streaming pass that gives the file's SHA-256 and the
// SHA-256 state at the start of every part (the native Sha256State of @koodrive/hashing, about
// 2 GB/s here, so the CLI always hashes before it creates: a flash upload is worth that wait), and
// a part's bytes as a range of the file, read when its PUT streams them.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Sha256State } from '@koodrive/hashing';
import type { FilePart, FileSource } from '@koodrive/upload-client';

export class FileChangedError extends Error {}

export interface HashProgress {
  start?(): void;
  // bytes read so far, as they are read
  bytes?(count: number): void;
  end?(): void;
}

export class NodeFileSource implements FileSource<FilePart> {
  constructor(
    readonly path: string,
    // the file as it was when the upload began
    readonly size: number,
    private readonly mtimeMs: number,
    // the name it goes by in messages
    private readonly shown: string,
    private readonly progress: HashProgress = {},
  ) {}

  bytes(part: FilePart): FilePart {
    return part;
  }

  // Reads the file once, in order, 1 MiB at a time. Part boundaries must be multiples of 64 bytes
  // (all but the last part are whole blocks), which is where a SHA-256 state can be taken.
  async hash(
    parts: readonly FilePart[],
    onState: (index: number, words: readonly number[]) => void,
    signal: AbortSignal,
  ): Promise<string> {
    this.progress.start?.();
    const hash = Sha256State.initial();
    let position = 0;
    let next = 0;
    const takeStates = (): void => {
      // several parts can start at one position only for an empty file's single part
      while (next < parts.length && parts[next]!.partOffset === position) {
        onState(next++, hash.state().h);
      }
    };
    takeStates();
    const stream = createReadStream(this.path, { highWaterMark: 1024 * 1024, signal });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (position + chunk.length > this.size) {
        stream.destroy();
        throw new FileChangedError(`${this.shown} grew while it was read (more than ${this.size} bytes)`);
      }
      let at = 0;
      while (at < chunk.length) {
        const boundary = next < parts.length ? parts[next]!.partOffset : this.size;
        const take = Math.min(chunk.length - at, boundary - position);
        hash.update(chunk.subarray(at, at + take));
        at += take;
        position += take;
        takeStates();
      }
      this.progress.bytes?.(chunk.length);
    }
    if (position !== this.size) {
      throw new FileChangedError(`${this.shown} shrank while it was read (${position} of ${this.size} bytes)`);
    }
    this.progress.end?.();
    return hash.hexDigest();
  }

  // The bytes must be those that were hashed: the plan (and the task) is for them.
  async assertUnchanged(): Promise<void> {
    const now = await stat(this.path);
    if (now.size !== this.size || now.mtimeMs !== this.mtimeMs) {
      throw new FileChangedError(`${this.shown} changed during the upload; run the command again`);
    }
  }
}
