// The page's side of the hashing worker: one pass over the file, each part's state as it comes,
// the digest at the end. Aborting ends the worker at once.
import { abortError } from './backoff.js';
import type { HashEvent, HashRequest } from './hash-messages.js';

export interface HashedFile {
  readonly sha256: string;
  // per part, the SHA-256 state words before it
  readonly states: readonly (readonly number[])[];
}

export interface HashOptions {
  readonly workerUrl: string | URL;
  readonly signal?: AbortSignal;
  // bytes hashed so far
  readonly onBytes?: (bytes: number) => void;
}

export function hashInWorker(file: File, partOffsets: readonly number[], options: HashOptions): Promise<HashedFile> {
  return new Promise<HashedFile>((resolve, reject) => {
    options.signal?.throwIfAborted();
    const worker = new Worker(options.workerUrl, { type: 'module', name: 'koodrive-hash' });
    const states: (readonly number[])[] = [];
    const onAbort = (): void => finish(() => reject(abortError(options.signal!)));
    const finish = (settle: () => void): void => {
      worker.terminate();
      options.signal?.removeEventListener('abort', onAbort);
      settle();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    worker.onerror = (event) => finish(() => reject(new Error(`the hashing worker failed: ${event.message}`)));
    worker.onmessage = (event: MessageEvent<HashEvent>) => {
      const message = event.data;
      switch (message.type) {
        case 'progress':
          options.onBytes?.(message.bytes);
          break;
        case 'state':
          states[message.index] = message.words;
          break;
        case 'done':
          finish(() => resolve({ sha256: message.sha256, states }));
          break;
        case 'error':
          finish(() => reject(new Error(message.message)));
          break;
      }
    };
    const request: HashRequest = { file, partOffsets };
    worker.postMessage(request);
  });
}
