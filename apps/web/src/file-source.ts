// The picked File as the core reads it: the hashing pass in a Web Worker (hash-wasm), telling each
// part's starting state as the pass reaches it, and a part's bytes as a slice of the File. Aborting
// ends the worker at once.
import { abortError, type FilePart, type FileSource } from '@koodrive/upload-client';
import type { HashEvent, HashRequest } from './hash-messages.js';

// A hashing worker made ahead of the next upload (its script loaded and its WebAssembly compiled
// meanwhile), and where it came from.
let spare: { readonly url: string; readonly worker: Worker } | undefined;

// Makes the hashing worker of the next upload now, so that its start costs the upload nothing.
export function prepareHashWorker(workerUrl: string | URL): void {
  const url = String(workerUrl);
  if (spare?.url !== url) {
    spare?.worker.terminate();
    spare = { url, worker: new Worker(url, { type: 'module', name: 'koodrive-hash' }) };
  }
}

function takeWorker(workerUrl: string | URL): Worker {
  prepareHashWorker(workerUrl);
  const { worker } = spare!;
  spare = undefined;
  return worker;
}

export class BrowserFileSource implements FileSource<Blob> {
  constructor(
    private readonly file: File,
    // where the hashing worker's script is
    private readonly workerUrl: string | URL,
    // bytes hashed so far
    private readonly onHashed: (bytes: number) => void,
  ) {}

  get size(): number {
    return this.file.size;
  }

  bytes(part: FilePart): Blob {
    return this.file.slice(part.partOffset, part.partOffset + part.partSize);
  }

  hash(
    parts: readonly FilePart[],
    onState: (index: number, words: readonly number[]) => void,
    signal: AbortSignal,
  ): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      signal.throwIfAborted();
      const worker = takeWorker(this.workerUrl);
      const onAbort = (): void => finish(() => reject(abortError(signal)));
      const finish = (settle: () => void): void => {
        worker.terminate();
        // the next upload's, made now
        prepareHashWorker(this.workerUrl);
        signal.removeEventListener('abort', onAbort);
        settle();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      worker.onerror = (event) => finish(() => reject(new Error(`the hashing worker failed: ${event.message}`)));
      worker.onmessage = (event: MessageEvent<HashEvent>) => {
        const message = event.data;
        switch (message.type) {
          case 'progress':
            this.onHashed(message.bytes);
            break;
          case 'state':
            onState(message.index, message.words);
            break;
          case 'done':
            finish(() => resolve(message.sha256));
            break;
          case 'error':
            finish(() => reject(new Error(message.message)));
            break;
        }
      };
      const request: HashRequest = { file: this.file, partOffsets: parts.map((part) => part.partOffset) };
      worker.postMessage(request);
    });
  }
}
