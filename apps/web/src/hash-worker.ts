// The Web Worker that reads a File once, in order, and hashes it with one SHA-256 (hash-wasm: in
// Chromium here 4 to 5 times the rate of @noble/hashes, see the README), telling the page each
// part's starting state (its hashCtx, the 8 state words) as the pass reaches it, then the digest.
// The file is read as a stream (the browser reads ahead while a chunk is hashed): in Chromium here
// about 1.5 times the rate of reading it in 8 MiB slices (npm run measure:web -- hash).
import { createSHA256, type IHasher } from 'hash-wasm';
import type { HashRequest, HashEvent } from './hash-messages.js';
import { sha256StateWords } from './sha256-state.js';

// a progress message at most this often (bytes)
const PROGRESS_EVERY = 4 * 1024 * 1024;

interface WorkerScope {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashEvent): void;
}

const scope = self as unknown as WorkerScope;
// compiled as soon as the worker starts: a worker made ahead of an upload is ready when it comes
const sha256 = createSHA256();

scope.onmessage = (event) => {
  hashFile(event.data).catch((error: unknown) => {
    scope.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
};

async function hashFile({ file, partOffsets }: HashRequest): Promise<void> {
  const hasher = await sha256;
  hasher.init();
  let position = 0;
  let next = 0;
  let reported = 0;
  // the state at `at`, for every part that starts there
  const takeStates = (at: number): void => {
    while (next < partOffsets.length && partOffsets[next] === at) {
      scope.postMessage({ type: 'state', index: next, words: sha256StateWords(hasher, at) });
      next++;
    }
  };
  takeStates(0);
  const reader = file.stream().getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    if (position + chunk.value.length > file.size) {
      throw new Error(`${file.name} grew while it was read (past ${file.size} bytes)`);
    }
    position = hashSlice(hasher, chunk.value, position, () => partOffsets[next] ?? Infinity, takeStates);
    if (position - reported >= PROGRESS_EVERY) {
      scope.postMessage({ type: 'progress', bytes: position });
      reported = position;
    }
  }
  if (position !== file.size) {
    throw new Error(`${file.name} shrank while it was read (${position} of ${file.size} bytes)`);
  }
  scope.postMessage({ type: 'progress', bytes: position });
  scope.postMessage({ type: 'done', sha256: hasher.digest('hex') });
}

// Hashes one slice, stopping at each part boundary inside it to take the state there.
function hashSlice(
  hasher: IHasher,
  slice: Uint8Array,
  start: number,
  nextBoundary: () => number,
  takeStates: (at: number) => void,
): number {
  let position = start;
  let at = 0;
  while (at < slice.length) {
    // the states taken so far leave the next boundary ahead of `position`
    const take = Math.min(slice.length - at, nextBoundary() - position);
    hasher.update(slice.subarray(at, at + take));
    at += take;
    position += take;
    takeStates(position);
  }
  return position;
}
