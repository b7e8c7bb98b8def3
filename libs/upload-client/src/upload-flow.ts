// One upload from start to end, the same for every client: create (or go on with the task an
// earlier run left), the parts, complete. What differs by platform comes in as adapters: how the
// file is read and hashed (FileSource), how a part's bytes travel (PartTransport), where progress
// is remembered (ResumeStore), and what the person sees (UploadEvents).
// - hashFirst: one hashing pass, then create with the file's SHA-256 (the service may already hold
//   the content: a flash upload, nothing sent) and every part's hashCtx, then the parts;
// - otherwise the file is read once: create at once, and each part is sent as soon as the hashing
//   pass is past it, its URL asked for with its hashCtx; the SHA-256 goes with complete.
// Parts sent with their hashCtx through the service let complete prove the file from the hash
// chain without reading it back. A run that goes on with an earlier task sends only the parts it
// lacks; when the service no longer has that task, or will not complete it, the upload starts
// over once, with a new task.
import { ApiCode } from './api-code.js';
import { ApiError, isTaskGone } from './api-error.js';
import type { KooDriveApi } from './koodrive-api.js';
import { type FilePart, partRequestOf, splitIntoParts } from './part-plan.js';
import { PartScheduler, type PartTransport, URL_BATCH } from './part-scheduler.js';
import type { RetryPolicy } from './retry.js';
import { FILE_UPLOAD, type PartUrl, type UploadEndpoints } from './wire.js';

// The file, as the platform reads it.
export interface FileSource<B> {
  readonly size: number;
  // the bytes of a part, as the transport sends them
  bytes(part: FilePart): B;
  // One pass over the file in order: `onState(index, words)` as it reaches the start of each part
  // (the SHA-256 state words h0..h7 there), the file's SHA-256 (hex) at the end.
  hash(
    parts: readonly FilePart[],
    onState: (index: number, words: readonly number[]) => void,
    signal: AbortSignal,
  ): Promise<string>;
  // Throws when the file changed since it was hashed, where the platform can tell.
  assertUnchanged?(): Promise<void>;
}

// What a run remembers of its task, for a later run to go on with it.
export interface UploadState {
  readonly fileId: string;
  readonly fileName: string;
  readonly partSize: number;
  // known when the file was hashed before create
  readonly sha256?: string;
  // every part's starting state, when the store vouches for them (the file is the one hashed)
  readonly states?: readonly (readonly number[])[];
  readonly done: readonly number[];
}

export interface ResumeStore {
  // the state an earlier run left for this file, if any
  load(): Promise<UploadState | undefined>;
  // a new task, kept before any of its parts is sent
  save(state: UploadState): Promise<void>;
  partDone(partNumber: number): void | Promise<void>;
  // every change on record (before complete, so that a failed complete leaves it right)
  flush(): Promise<void>;
  remove(): Promise<void>;
}

export interface TaskStarted {
  readonly fileId: string;
  readonly parts: number;
  // parts an earlier run sent, and their bytes
  readonly doneParts: number;
  readonly doneBytes: number;
  readonly resumed: boolean;
  readonly partSize: number;
}

export interface UploadEvents {
  // the hashing pass of a hash-first upload begins (and ends with onTask)
  onHashing?(): void;
  onTask?(task: TaskStarted): void;
  // bytes sent (negative when an attempt that sent them failed)
  onSent?(delta: number): void;
  onPartDone?(partNumber: number): void;
  onRetry?(what: string, retry: number, reason: string): void;
  // the parts are all sent: complete is called
  onCompleting?(): void;
  // the task of the earlier run cannot go on (the reason); a new one is created
  onStartOver?(reason: string): void;
}

export interface UploadJob<B> {
  readonly api: KooDriveApi;
  // a new file (default); a new version of a file has its own two endpoints and fields
  readonly endpoints?: UploadEndpoints;
  // create's own fields (fileName, autoRename... for a new file)
  readonly createFields: Readonly<Record<string, unknown>>;
  // the name the file is known by until create answers one
  readonly fileName: string;
  readonly partSize: number;
  readonly parallel: number;
  readonly hashFirst: boolean;
  readonly source: FileSource<B>;
  readonly transport: PartTransport<B>;
  readonly store: ResumeStore;
  readonly events?: UploadEvents;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
}

export interface UploadOutcome {
  readonly fileId: string;
  readonly fileName: string;
  // as complete answered it (or, for a flash upload, as hashed)
  readonly sha256: string;
  readonly length: number;
  readonly parts: number;
  // parts this run sent, and parts an earlier run had sent
  readonly uploadedParts: number;
  readonly resumedParts: number;
  // create found the content already there: nothing was sent
  readonly rapidUpload: boolean;
  readonly exist: boolean;
}

// The file's hashes: its digest and every part's starting state.
interface Hashed {
  readonly sha256: string;
  readonly states: readonly (readonly number[])[];
}

// A hashing pass feeding a part scheduler (see UploadRun.stream).
interface Stream {
  send(known: readonly PartUrl[]): Promise<string>;
  abandon(error: unknown): Promise<never>;
}

// An earlier run's task the service no longer has, or will not complete.
class StartOver extends Error {
  constructor(
    message: string,
    // the hashes are still the file's (the task went away, not the file)
    readonly keepHashes: boolean,
  ) {
    super(message);
  }
}

export function upload<B>(job: UploadJob<B>): Promise<UploadOutcome> {
  return new UploadRun(job).run();
}

class UploadRun<B> {
  private readonly endpoints: UploadEndpoints;
  private readonly signal: AbortSignal;

  constructor(private readonly job: UploadJob<B>) {
    this.endpoints = job.endpoints ?? FILE_UPLOAD;
    this.signal = job.signal ?? new AbortController().signal;
  }

  async run(): Promise<UploadOutcome> {
    const stored = await this.job.store.load();
    if (stored === undefined) {
      return this.fresh(undefined);
    }
    try {
      return await this.resume(stored);
    } catch (error) {
      const startOver = startOverOf(error, stored.fileId);
      if (startOver === undefined) {
        throw error;
      }
      this.job.events?.onStartOver?.(startOver.message);
      await this.job.store.remove();
      return this.fresh(startOver.keepHashes ? hashedOf(stored) : undefined);
    }
  }

  // Goes on with the task of `stored`: only the parts it lacks.
  private async resume(stored: UploadState): Promise<UploadOutcome> {
    const parts = splitIntoParts(this.job.source.size, stored.partSize);
    const done = new Set(stored.done);
    this.started(stored.fileId, parts, done, true, stored.partSize);
    const known = hashedOf(stored);
    const sha256 =
      known === undefined
        ? await this.stream(() => stored.fileId, parts, done).send([])
        : await this.sendParts(stored.fileId, parts, done, known, []);
    if (stored.sha256 !== undefined && sha256 !== stored.sha256) {
      throw new StartOver('the file is not the one hashed when its upload began', false);
    }
    return this.complete(stored.fileId, stored.fileName, sha256, parts, done.size, true);
  }

  private async fresh(known: Hashed | undefined): Promise<UploadOutcome> {
    const { source, partSize, hashFirst } = this.job;
    const parts = splitIntoParts(source.size, partSize);
    if (known === undefined && !hashFirst) {
      return this.freshStreamed(parts);
    }
    if (known === undefined) {
      this.job.events?.onHashing?.();
    }
    const hashed = known ?? (await this.hashAll(parts));
    await source.assertUnchanged?.();
    const created = await this.create(hashed.sha256, parts.slice(0, URL_BATCH), hashed.states);
    if (created.rapidUpload || created.exist) {
      await this.job.store.remove();
      return {
        ...this.outcomeBase(created.fileId, created.fileName ?? this.job.fileName, hashed.sha256, parts),
        uploadedParts: 0,
        resumedParts: 0,
        rapidUpload: created.rapidUpload,
        exist: created.exist,
      };
    }
    const fileName = created.fileName ?? this.job.fileName;
    await this.job.store.save({ fileId: created.fileId, fileName, partSize, ...hashed, done: [] });
    this.started(created.fileId, parts, new Set(), false, partSize);
    await this.sendParts(created.fileId, parts, new Set(), hashed, created.multiParts);
    return this.complete(created.fileId, fileName, hashed.sha256, parts, 0, false);
  }

  // The hashing pass starts at once, and create beside it (part 1's URL with it: its state is
  // SHA-256's initial one); then each part goes as the pass gets past it.
  private async freshStreamed(parts: readonly FilePart[]): Promise<UploadOutcome> {
    let fileId = '';
    const stream = this.stream(() => fileId, parts, new Set());
    let created;
    let fileName;
    try {
      created = await this.create(undefined, parts.slice(0, 1), []);
      fileName = created.fileName ?? this.job.fileName;
      await this.job.store.save({ fileId: created.fileId, fileName, partSize: this.job.partSize, done: [] });
    } catch (error) {
      return stream.abandon(error);
    }
    fileId = created.fileId;
    this.started(fileId, parts, new Set(), false, this.job.partSize);
    const sha256 = await stream.send(created.multiParts);
    return this.complete(fileId, fileName, sha256, parts, 0, false);
  }

  private create(sha256: string | undefined, first: readonly FilePart[], states: readonly (readonly number[])[]) {
    return this.job.api.create(
      {
        fields: this.job.createFields,
        length: this.job.source.size,
        ...(sha256 === undefined ? {} : { sha256 }),
        // a file of up to a batch of parts needs no uploadUrl call
        multiParts: first.map((part, index) => partRequestOf(part, states[index])),
      },
      this.endpoints,
    );
  }

  private async hashAll(parts: readonly FilePart[]): Promise<Hashed> {
    const states: (readonly number[])[] = [];
    const sha256 = await this.job.source.hash(parts, (index, words) => (states[index] = words), this.signal);
    return { sha256, states };
  }

  // The parts not `done`, all known and offered at once.
  private async sendParts(
    fileId: string,
    parts: readonly FilePart[],
    done: ReadonlySet<number>,
    hashed: Hashed,
    known: readonly PartUrl[],
  ): Promise<string> {
    const pending = parts.filter((part) => !done.has(part.partNumber));
    await this.scheduler(() => fileId, known).sendAll(
      pending.map((part) => partRequestOf(part, hashed.states[part.partNumber - 1])),
    );
    return hashed.sha256;
  }

  // One hashing pass, started now; each part not `done` offered once the pass is past it, and sent
  // once send() runs (with the URLs known then). send() answers the SHA-256; abandon() stops the pass.
  private stream(fileId: () => string, parts: readonly FilePart[], done: ReadonlySet<number>): Stream {
    const scheduler = this.scheduler(fileId, []);
    const states: (readonly number[])[] = [];
    const offer = (index: number): void => {
      const part = parts[index]!;
      if (!done.has(part.partNumber)) {
        scheduler.offer(partRequestOf(part, states[index]));
      }
    };
    const stop = new AbortController();
    const onState = (index: number, words: readonly number[]): void => {
      states[index] = words;
      if (index > 0) {
        offer(index - 1);
      }
    };
    const hashing = this.job.source.hash(parts, onState, AbortSignal.any([this.signal, stop.signal])).then(
      (sha256) => {
        offer(parts.length - 1);
        scheduler.close();
        return sha256;
      },
      (error: unknown) => {
        scheduler.fail(error);
        throw error;
      },
    );
    // handled when send() or abandon() runs; a failure before then must not count as unhandled
    hashing.catch(() => undefined);
    const abandon = async (error: unknown): Promise<never> => {
      stop.abort(error);
      await hashing.catch(() => undefined);
      throw error;
    };
    return {
      send: async (known) => {
        scheduler.know(known);
        await scheduler.run().catch(abandon);
        return hashing;
      },
      abandon,
    };
  }

  private scheduler(fileId: () => string, known: readonly PartUrl[]): PartScheduler<B> {
    const { job } = this;
    return new PartScheduler({
      urls: (parts) => job.api.uploadUrl(fileId(), parts),
      transport: job.transport,
      bytesOf: (part) => job.source.bytes(part),
      parallel: job.parallel,
      known,
      signal: job.signal,
      retry: job.retry,
      onBytes: (delta) => job.events?.onSent?.(delta),
      onPartDone: async (partNumber) => {
        job.events?.onPartDone?.(partNumber);
        await job.store.partDone(partNumber);
      },
      onRetry: (partNumber, retry, reason) => job.events?.onRetry?.(`part ${partNumber}`, retry, reason),
    });
  }

  // The store is flushed first, so that a failed complete leaves it right for a later run; it
  // goes once the task is complete. A new task that fails its check goes too: it cannot be
  // completed again.
  private async complete(
    fileId: string,
    fileName: string,
    sha256: string,
    parts: readonly FilePart[],
    resumedParts: number,
    resumed: boolean,
  ): Promise<UploadOutcome> {
    await this.job.store.flush();
    await this.job.source.assertUnchanged?.();
    this.job.events?.onCompleting?.();
    let answer;
    try {
      answer = await this.job.api.complete(fileId, sha256, this.endpoints);
    } catch (error) {
      if (!resumed && error instanceof ApiError && error.code === ApiCode.UploadIncomplete) {
        await this.job.store.remove();
      }
      throw error;
    }
    await this.job.store.remove();
    return {
      ...this.outcomeBase(fileId, fileName, answer.sha256 ?? sha256, parts),
      length: answer.length ?? this.job.source.size,
      uploadedParts: parts.length - resumedParts,
      resumedParts,
      rapidUpload: false,
      exist: false,
    };
  }

  private started(
    fileId: string,
    parts: readonly FilePart[],
    done: ReadonlySet<number>,
    resumed: boolean,
    partSize: number,
  ): void {
    const doneBytes = parts.reduce((sum, part) => (done.has(part.partNumber) ? sum + part.partSize : sum), 0);
    this.job.events?.onTask?.({ fileId, parts: parts.length, doneParts: done.size, doneBytes, resumed, partSize });
  }

  private outcomeBase(fileId: string, fileName: string, sha256: string, parts: readonly FilePart[]) {
    return { fileId, fileName, sha256, length: this.job.source.size, parts: parts.length };
  }
}

function hashedOf(state: UploadState): Hashed | undefined {
  return state.sha256 === undefined || state.states === undefined
    ? undefined
    : { sha256: state.sha256, states: state.states };
}

// Why an earlier run's task cannot go on, or undefined when `error` is not such a reason.
function startOverOf(error: unknown, fileId: string): StartOver | undefined {
  if (error instanceof StartOver) {
    return error;
  }
  if (isTaskGone(error)) {
    return new StartOver(`the service no longer has upload ${fileId} (expired?)`, true);
  }
  if (error instanceof ApiError && error.code === ApiCode.UploadIncomplete) {
    // a task that failed its check cannot be completed again; one missing parts is better
    // uploaded anew than trusted to an old state
    return new StartOver(`complete of ${fileId} answered ${error.code}: ${error.apiMessage}`, false);
  }
  return undefined;
}
