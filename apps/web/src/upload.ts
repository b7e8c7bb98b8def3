// upload(file, options): one pass over the file in a Web Worker (its SHA-256 and each part's
// hashCtx), create with the parts and their hashCtx (KooDrive's parallel mode), the parts PUT
// side by side, complete. With every part sent through the service, complete proves the digest
// from the parts' hash chain without reading a byte back. An upload cut off goes on from IndexedDB
// when the same file is picked again: only the parts not yet sent are sent.
import {
  CODE_TASK_NOT_FOUND,
  CODE_UPLOAD_INCOMPLETE,
  KooDriveApi,
  KooDriveError,
  type PartRequest,
  type PartUrl,
  type UploadVia,
} from './api.js';
import type { RetryPolicy } from './backoff.js';
import { hashInWorker, type HashedFile } from './hash-client.js';
import { DEFAULT_PART_SIZE, type FilePart, partSizeFor, splitIntoParts } from './plan.js';
import { PartSender, URL_BATCH } from './part-sender.js';
import { ProgressTracker, type UploadProgress } from './progress.js';
import { readResume, removeResume, resumeKey, type ResumeRecord, writeResume } from './resume-store.js';

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

export interface UploadResult {
  readonly fileId: string;
  readonly fileName: string;
  // lowercase hex, as complete answered it
  readonly sha256: string;
  readonly length: number;
  readonly parts: number;
  // parts sent by this call, and parts an earlier, interrupted call had sent
  readonly uploadedParts: number;
  readonly resumedParts: number;
  // the service already held the content: no byte was sent
  readonly rapidUpload: boolean;
  readonly traceId: string;
}

interface Run {
  readonly file: File;
  readonly options: UploadOptions;
  readonly api: KooDriveApi;
  readonly url: string;
  readonly fileName: string;
  readonly parts: readonly FilePart[];
  readonly hashed: HashedFile;
  readonly key: string;
  readonly progress: ProgressTracker;
  readonly traceId: string;
}

export async function upload(file: File, options: UploadOptions = {}): Promise<UploadResult> {
  const url = (options.url ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
  const getToken = tokenSource(options);
  const traceId = randomTraceId();
  const progress = new ProgressTracker(file.size, (value) => options.onProgress?.(value));
  const partSize = partSizeFor(options.partSize ?? DEFAULT_PART_SIZE, file.size);
  const parts = splitIntoParts(file.size, partSize);
  const hashed = await hashInWorker(
    file,
    parts.map((part) => part.partOffset),
    {
      workerUrl: options.workerUrl ?? new URL('./hash-worker.js', import.meta.url),
      signal: options.signal,
      onBytes: (bytes) => progress.hashed(bytes),
    },
  );
  const api = new KooDriveApi({
    url,
    getToken,
    language: options.language ?? browserLanguage(),
    traceId,
    uploadVia: options.uploadVia,
    signal: options.signal,
    retry: options.retry,
  });
  const run: Run = {
    file,
    options,
    api,
    url,
    fileName: options.fileName ?? file.name,
    parts,
    hashed,
    key: resumeKey(file, hashed.sha256),
    progress,
    traceId,
  };
  const record = await readResume(run.key);
  if (record !== undefined && record.url === url && record.partSize === partSize && record.parts === parts.length) {
    const resumed = await resume(run, record);
    if (resumed !== undefined) {
      return resumed;
    }
  }
  return begin(run);
}

// Goes on with a task an earlier call started; undefined when the service no longer has it (or
// will not complete it from the parts sent so far), so the caller starts anew.
async function resume(run: Run, record: ResumeRecord): Promise<UploadResult | undefined> {
  try {
    return await sendAndComplete(run, record, []);
  } catch (error) {
    if (
      error instanceof KooDriveError &&
      (error.code === CODE_TASK_NOT_FOUND || error.code === CODE_UPLOAD_INCOMPLETE)
    ) {
      await removeResume(run.key);
      return undefined;
    }
    throw error;
  }
}

async function begin(run: Run): Promise<UploadResult> {
  const created = await run.api.create({
    fileName: run.fileName,
    length: run.file.size,
    sha256: run.hashed.sha256,
    autoRename: run.options.autoRename ?? 2,
    // a file of up to a batch of parts needs no uploadUrl call
    multiParts: run.parts.slice(0, URL_BATCH).map((part) => partRequestOf(run, part)),
  });
  if (created.rapidUpload || created.exist) {
    run.progress.done();
    return {
      ...resultBase(run, created.fileId, run.hashed.sha256),
      uploadedParts: 0,
      resumedParts: 0,
      rapidUpload: true,
    };
  }
  const record: ResumeRecord = {
    key: run.key,
    url: run.url,
    uploadVia: run.options.uploadVia ?? '',
    fileId: created.fileId,
    fileName: run.fileName,
    size: run.file.size,
    partSize: run.parts[0]!.partSize,
    parts: run.parts.length,
    done: [],
    updatedAt: Date.now(),
  };
  await writeResume(record);
  return sendAndComplete(run, record, created.urls);
}

async function sendAndComplete(run: Run, record: ResumeRecord, urls: readonly PartUrl[]): Promise<UploadResult> {
  const done = new Set(record.done);
  const pending = run.parts.filter((part) => !done.has(part.partNumber));
  const alreadySent = run.parts.reduce((sum, part) => (done.has(part.partNumber) ? sum + part.partSize : sum), 0);
  run.progress.startSending(run.parts.length, done.size, alreadySent);
  // one write at a time, each of the latest set
  let saving = Promise.resolve();
  await new PartSender({
    api: run.api,
    fileId: record.fileId,
    file: run.file,
    parallel: Math.max(1, run.options.parallel ?? 4),
    urls,
    signal: run.options.signal,
    retry: run.options.retry,
    onBytes: (delta) => run.progress.sent(delta),
    onPartDone: (partNumber) => {
      done.add(partNumber);
      run.progress.partDone();
      saving = saving.then(() => writeResume({ ...record, done: [...done], updatedAt: Date.now() }));
      return saving;
    },
  }).run(pending.map((part) => partRequestOf(run, part)));
  run.progress.completing();
  const answer = await run.api.complete(record.fileId, run.hashed.sha256);
  await removeResume(run.key);
  run.progress.done();
  return {
    ...resultBase(run, record.fileId, answer.sha256),
    uploadedParts: pending.length,
    resumedParts: run.parts.length - pending.length,
    rapidUpload: false,
  };
}

function resultBase(
  run: Run,
  fileId: string,
  sha256: string,
): Pick<UploadResult, 'fileId' | 'fileName' | 'sha256' | 'length' | 'parts' | 'traceId'> {
  return {
    fileId,
    fileName: run.fileName,
    sha256,
    length: run.file.size,
    parts: run.parts.length,
    traceId: run.traceId,
  };
}

// KooDrive's hashCtx: the 8 state words before the part, none for the part at offset 0.
function partRequestOf(run: Run, part: FilePart): PartRequest {
  const words = run.hashed.states[part.partNumber - 1];
  if (part.partOffset === 0 || words === undefined) {
    return { partNumber: part.partNumber, partSize: part.partSize, partOffset: part.partOffset };
  }
  return { partNumber: part.partNumber, partSize: part.partSize, partOffset: part.partOffset, hashCtx: words };
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
