// upload(file, options): the core's upload (@koodrive/upload-client) with the page's platform parts:
// the hashing pass in a Web Worker (hash-wasm), the parts PUT by XMLHttpRequest, progress kept in
// IndexedDB. Up to `hashFirstUpTo` (64 MiB by default) the file is hashed before create, so that the
// service can answer a flash upload; a larger file is read once: each part goes as soon as the hash
// is past it (and its URL is in hand), the SHA-256 with complete. With every part sent through the
// service, complete proves the digest from the parts' hash chain without reading a byte back. An
// upload cut off goes on when the same file is picked again: only the parts not yet sent are sent.
import { MIB } from '@koodrive/limits';
import {
  bearer,
  DEFAULT_PARALLEL,
  DEFAULT_PART_SIZE,
  KooDriveApi,
  partSizeFor,
  type RetryPolicy,
  splitIntoParts,
  upload as uploadWith,
  type UploadOutcome,
  type UploadVia,
} from '@koodrive/upload-client';
import { BrowserFileSource, prepareHashWorker } from './file-source.js';
import { ProgressTracker, type UploadProgress } from './progress.js';
import { IndexedDbResumeStore, resumeKey } from './resume-store.js';
import { xhrTransport } from './xhr-transport.js';

// a file up to this size is hashed before create (a flash upload is worth the wait)
export const DEFAULT_HASH_FIRST_UP_TO = 64 * MIB;

export interface UploadOptions {
  // the service's base URL; default: the page's own origin
  readonly url?: string;
  readonly token?: string;
  // asked before every call instead of `token` (a token that is refreshed)
  readonly getToken?: () => string | Promise<string>;
  // parts in flight at once (default 4)
  readonly parallel?: number;
  // bytes per part (default 8 MiB; 5 MiB to 5 GiB, raised to keep a file within 10,000 parts)
  readonly partSize?: number;
  // hash the whole file before create when it is at most this large (default 64 MiB; Infinity:
  // always, so that an identical file already stored is found; 0: never)
  readonly hashFirstUpTo?: number;
  // where the parts go: 'service' (hashed on the way: complete reads nothing back) or 's3'
  // (presigned URLs straight to storage); default: the service's PART_UPLOAD_VIA
  readonly uploadVia?: UploadVia;
  readonly fileName?: string;
  // KooDrive's autoRename (2 default: a timestamp on a name clash; 3: refuse; 4: reuse an identical file)
  readonly autoRename?: 2 | 3 | 4;
  // the language of the service's messages (en-US, zh-CN); default: the browser's
  readonly language?: string;
  readonly onProgress?: (progress: UploadProgress) => void;
  readonly signal?: AbortSignal;
  // where the hashing worker's script is; default: hash-worker.js beside this module
  readonly workerUrl?: string | URL;
  readonly retry?: RetryPolicy;
}

// The core's outcome (fileId, the name the service gave it, sha256 as complete answered it, length,
// parts, uploadedParts and resumedParts); rapidUpload: the service already held the content, whether
// found by its digest or as an identical file of that name (autoRename 4): no byte was sent.
export interface UploadResult extends Omit<UploadOutcome, 'exist'> {
  readonly traceId: string;
}

// Where the hashing worker's script is, by default: beside this module.
function defaultWorkerUrl(): URL {
  return new URL('./hash-worker.js', import.meta.url);
}

// Gets the next upload ready ahead of time (its hashing worker loaded and compiled), for a page
// that will upload: a worker's start is otherwise a part of the first upload's time.
export function prepareUpload(options: Pick<UploadOptions, 'workerUrl'> = {}): void {
  prepareHashWorker(options.workerUrl ?? defaultWorkerUrl());
}

export async function upload(file: File, options: UploadOptions = {}): Promise<UploadResult> {
  const url = (options.url ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
  const traceId = randomTraceId();
  const progress = new ProgressTracker(file.size, (value) => options.onProgress?.(value));
  const partSize = partSizeFor(options.partSize ?? DEFAULT_PART_SIZE, file.size);
  const fileName = options.fileName ?? file.name;
  const api = new KooDriveApi({
    baseUrl: url,
    authenticate: bearer(tokenSource(options)),
    language: options.language ?? browserLanguage(),
    traceId,
    uploadVia: options.uploadVia,
    signal: options.signal,
    retry: options.retry,
  });
  const outcome = await uploadWith({
    api,
    createFields: { fileName, autoRename: options.autoRename ?? 2 },
    fileName,
    partSize,
    parallel: Math.max(1, options.parallel ?? DEFAULT_PARALLEL),
    hashFirst: file.size <= (options.hashFirstUpTo ?? DEFAULT_HASH_FIRST_UP_TO),
    source: new BrowserFileSource(file, options.workerUrl ?? defaultWorkerUrl(), (bytes) => progress.hashed(bytes)),
    transport: xhrTransport(),
    store: new IndexedDbResumeStore({
      key: resumeKey(file),
      fileName,
      url,
      uploadVia: options.uploadVia ?? '',
      size: file.size,
      partSize,
      parts: splitIntoParts(file.size, partSize).length,
    }),
    signal: options.signal,
    retry: options.retry,
    events: {
      onTask: (task) => progress.startSending(task.parts, task.doneParts, task.doneBytes),
      onSent: (delta) => progress.sent(delta),
      onPartDone: () => progress.partDone(),
      onCompleting: () => progress.completing(),
    },
  });
  progress.done();
  const { exist, ...result } = outcome;
  return { ...result, rapidUpload: outcome.rapidUpload || exist, traceId };
}

function tokenSource(options: UploadOptions): () => string | Promise<string> {
  if (options.getToken !== undefined) {
    return options.getToken;
  }
  const token = options.token?.trim();
  if (token === undefined || token === '') {
    throw new TypeError('upload needs a token or getToken');
  }
  return () => token;
}

export function browserLanguage(): string {
  const languages = globalThis.navigator?.languages ?? [globalThis.navigator?.language ?? 'en-US'];
  return languages[0]?.toLowerCase().startsWith('zh') === true ? 'zh-CN' : 'en-US';
}

// 32 hex characters (API.md accepts 1-64 of [A-Za-z0-9_-]): one per upload, on every call
function randomTraceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
