// A part's bytes on their way to storage: handed on chunk by chunk, each chunk possibly lent (the
// receiving side reads a request body into buffers it reuses, socket-reads.ts), so a chunk is only
// good until its taker says it is done with it.
import type { Readable } from 'node:stream';

export interface PartBody {
  // Hands each chunk to `take`, in order; resolves once the whole body has been handed on, rejects
  // when it cannot be had (its sender left or stalled, it is longer or shorter than announced).
  // `take` calls `done` once it needs the chunk no more (written to a socket or a file); the body
  // holds back more chunks while it has lent a few.
  flow(take: (chunk: Buffer, done: () => void) => void): Promise<void>;
  // Nothing more is wanted: no more chunks come (the rest stays unread, for its owner to drop).
  stop(): void;
}

// what a Readable's chunks may hold waiting for their taker before it is paused
const READABLE_LENT_BYTES = 1024 * 1024;

// A stream as a part body of `size` bytes: its chunks are its own (fresh) buffers, never reused.
export function partBodyOf(stream: Readable, size: number): PartBody {
  let stopped = false;
  let onStop = (): void => undefined;
  return {
    flow(take) {
      // a body already gone (its client left meanwhile) emits nothing more
      if (stream.errored !== null || (stream.destroyed && !stream.readableEnded)) {
        return Promise.reject(new Error(`the body was cut before the upload began (0 of ${size} bytes)`));
      }
      if (stream.readableEnded) {
        return size === 0 ? Promise.resolve() : Promise.reject(new Error(`the body ended after 0 of ${size} bytes`));
      }
      return new Promise<void>((resolve, reject) => {
        let bytes = 0;
        let lent = 0;
        const done = (length: number) => () => {
          lent -= length;
          if (lent < READABLE_LENT_BYTES && !stopped && stream.isPaused()) {
            stream.resume();
          }
        };
        const onData = (chunk: Buffer): void => {
          bytes += chunk.length;
          if (bytes > size) {
            finish(new Error(`the body is longer than ${size} bytes`));
            return;
          }
          lent += chunk.length;
          if (lent >= READABLE_LENT_BYTES) {
            stream.pause();
          }
          take(chunk, done(chunk.length));
        };
        const onEnd = (): void =>
          finish(bytes === size ? undefined : new Error(`the body ended after ${bytes} of ${size} bytes`));
        const onError = (error: Error): void => finish(error);
        const onClose = (): void => finish(new Error(`the body was cut after ${bytes} of ${size} bytes`));
        const finish = (error?: Error): void => {
          stream.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
          if (error === undefined) {
            resolve();
          } else {
            stream.pause();
            reject(error);
          }
        };
        onStop = () => finish(new Error('stopped'));
        stream.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
        stream.resume();
      });
    },
    stop() {
      stopped = true;
      stream.pause();
      onStop();
    },
  };
}

// A part body's chunks as an async iterable for a writer that awaits each write: a chunk is given
// back when the next one is asked for (or the iteration ends).
export async function* chunksOf(body: PartBody): AsyncGenerator<Buffer> {
  const waiting: { chunk: Buffer; done: () => void }[] = [];
  let ended: { error?: unknown } | undefined;
  let wake: (() => void) | undefined;
  const flowing = body.flow((chunk, done) => {
    waiting.push({ chunk, done });
    wake?.();
  });
  flowing.then(
    () => {
      ended = {};
      wake?.();
    },
    (error: unknown) => {
      ended = { error };
      wake?.();
    },
  );
  let current: { done: () => void } | undefined;
  try {
    for (;;) {
      current?.done();
      current = undefined;
      const next = waiting.shift();
      if (next !== undefined) {
        current = next;
        yield next.chunk;
        continue;
      }
      if (ended !== undefined) {
        if ('error' in ended) {
          throw ended.error;
        }
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    current?.done();
    if (ended === undefined) {
      body.stop();
    }
    waiting.forEach((lent) => lent.done());
  }
}
