// `put <file>`: hash the file once (its SHA-256 and every part's hashCtx), create the task (which
// hands out the first parts' URLs), upload the parts side by side, complete. Interrupted or failed
// runs leave a state file that the next run of the same command continues from (same fileId, only
// the parts not yet uploaded).
import { rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MAX_PARTS } from '@koodrive/limits';
import { type PutOptions, partSizeFor, UsageError } from './cli-options.js';
import { FileChangedError, hashCtxOf, splitIntoParts, type HashedFilePart, scanFile } from './file-plan.js';
import {
  ApiError,
  type CompleteAnswer,
  describeError,
  KooDriveApi,
  type PartRequest,
  type PartUrl,
} from './koodrive-api.js';
import { PartUploader, TaskGoneError, URL_BATCH } from './part-uploader.js';
import { formatBytes, formatRate, type ProgressOutput, ProgressReporter } from './progress.js';
import { readState, type ResumeState, StateFile, statePathFor, type StateReading } from './resume-state.js';
import { ApiCode } from '@koodrive/errors';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export interface PutContext {
  readonly options: PutOptions;
  readonly traceId: string;
  // aborted on Ctrl-C
  readonly signal: AbortSignal;
  readonly stdout: ProgressOutput;
  readonly stderr: ProgressOutput;
  readonly stderrIsTty: boolean;
  // tests only (KOODRIVE_CLIENT_PART_DELAY_MS)
  readonly partDelayMs?: number;
}

interface Upload {
  readonly state: ResumeState;
  readonly stateFile: StateFile;
  readonly resumed: boolean;
  // the part URLs create handed out (none on a resumed run)
  readonly urls: readonly PartUrl[];
}

// The task's answer was already final at create (rapid upload, or an identical file exists).
interface Finished {
  readonly finished: true;
}

interface Completed {
  readonly answer: CompleteAnswer;
  // the complete call alone
  readonly completeMs: number;
}

// The service no longer has the task a state file names, or will not complete it from the parts
// uploaded so far: a new task, from the start.
class StartOver extends Error {}

// What one hashing pass found: the file's size and mtime as it was read, its digest and parts.
type FilePlan = Pick<ResumeState, 'size' | 'mtimeMs' | 'partSize' | 'sha256' | 'parts'>;

export async function put(context: PutContext): Promise<number> {
  return new PutRun(context).run();
}

class PutRun {
  private readonly options: PutOptions;
  private readonly file: string;
  private readonly statePath: string;
  private readonly api: KooDriveApi;
  private readonly progress: ProgressReporter;
  private stateFile: StateFile | undefined;
  private readonly startedAt = Date.now();
  // 0 when a resumed run did not hash
  private hashingMs = 0;
  // the hashes of a resumed run, still right for the file when its task has to be created anew
  // the file as hashed (its size and mtime then) and its plan: a new start reuses it
  private knownPlan: FilePlan | undefined;

  constructor(private readonly context: PutContext) {
    this.options = context.options;
    this.file = resolve(context.options.file);
    this.statePath = statePathFor(this.file);
    this.api = new KooDriveApi({
      baseUrl: this.options.url,
      credentials: this.options.credentials,
      shareFolder: this.options.shareFolder,
      traceId: context.traceId,
      signal: context.signal,
      onRetry: (endpoint, retry, reason) => this.note(`${endpoint}: ${reason}; retry ${retry}`),
    });
    this.progress = new ProgressReporter({ out: context.stderr, tty: context.stderrIsTty });
  }

  async run(): Promise<number> {
    try {
      const info = await stat(this.file).catch((error: unknown) => {
        throw new UsageError(`cannot read ${this.options.file}: ${describeError(error)}`);
      });
      if (!info.isFile()) {
        throw new UsageError(`${this.options.file} is not a regular file`);
      }
      let reading = await readState(this.statePath, {
        url: this.options.url,
        shareFolder: this.options.shareFolder,
        size: info.size,
        mtimeMs: info.mtimeMs,
      });
      if (reading.kind === 'ignored') {
        this.note(`ignoring ${this.statePath}: ${reading.reason}; starting over`);
      }
      for (let startedOver = false; ; startedOver = true) {
        try {
          await this.upload(reading);
          return EXIT_OK;
        } catch (error) {
          if (!(error instanceof StartOver) || startedOver) {
            throw error;
          }
          this.note(`${error.message}; starting over with a new upload`);
          await this.stateFile?.remove();
          this.stateFile = undefined;
          reading = { kind: 'none' };
        }
      }
    } catch (error) {
      return this.failed(error);
    }
  }

  private async upload(reading: StateReading): Promise<void> {
    const prepared = reading.kind === 'found' ? this.resume(reading.state) : await this.begin();
    if ('finished' in prepared) {
      return;
    }
    const { state, stateFile } = prepared;
    const pending = state.parts.filter((part) => !stateFile.doneParts.has(part.partNumber));
    const skipped = state.parts.length - pending.length;
    this.announce(prepared, pending.length, skipped);
    const transfer = await this.uploadParts(prepared, pending);
    const { answer, completeMs } = await this.complete(prepared);
    const seconds = transfer.ms / 1000;
    this.result({
      fileId: state.fileId,
      fileName: state.fileName,
      sha256: answer.sha256 ?? state.sha256,
      length: answer.length ?? state.size,
      parts: `${state.parts.length} (uploaded ${pending.length}, resumed ${skipped})`,
      rate: `${formatRate(seconds > 0 ? transfer.bytes / seconds : null)} (${formatBytes(transfer.bytes)} in ${seconds.toFixed(1)} s)`,
      timing:
        `hashing ${secondsOf(this.hashingMs)}, uploading ${secondsOf(transfer.ms)}, ` +
        `complete ${secondsOf(completeMs)}, total ${secondsOf(Date.now() - this.startedAt)}`,
    });
  }

  private announce({ state, resumed }: Upload, pending: number, skipped: number): void {
    if (resumed) {
      this.note(
        `resuming ${state.fileId}: ${skipped} of ${state.parts.length} parts already uploaded, ${pending} to go`,
      );
    }
    this.note(
      `fileId ${state.fileId}: ${state.parts.length} part(s) of ${formatBytes(state.partSize)}, ` +
        `${this.options.parallel} at a time, X-Traceid ${this.context.traceId}`,
    );
  }

  // The bar starts where an earlier run left off; the summary counts this run's bytes only.
  private async uploadParts(
    { state, stateFile, resumed, urls }: Upload,
    pending: readonly HashedFilePart[],
  ): Promise<{ readonly bytes: number; readonly ms: number }> {
    const uploaded = state.parts.reduce(
      (sum, part) => (stateFile.doneParts.has(part.partNumber) ? sum + part.partSize : sum),
      0,
    );
    this.progress.start('uploading', state.size, uploaded);
    try {
      await new PartUploader({
        api: this.api,
        fileId: state.fileId,
        filePath: this.file,
        parallel: this.options.parallel,
        urls,
        signal: this.context.signal,
        partDelayMs: this.context.partDelayMs,
        onBytes: (bytes) => this.progress.add(bytes),
        onPartDone: (partNumber) => stateFile.markDone(partNumber),
        onRetry: (partNumber, retry, reason) => this.note(`part ${partNumber}: ${reason}; retry ${retry}`),
      }).run(pending.map(partRequestOf));
    } catch (error) {
      if (error instanceof TaskGoneError && resumed) {
        throw new StartOver(`the service no longer has upload ${state.fileId} (expired?)`);
      }
      throw error;
    }
    const transfer = this.progress.summary();
    this.progress.finish();
    return transfer;
  }

  // The state file is flushed first, so a failed complete leaves it right for a resume; it goes once
  // the task is complete.
  private async complete({ state, stateFile, resumed }: Upload): Promise<Completed> {
    await stateFile.flush();
    await this.assertUnchanged(state);
    const completing = Date.now();
    let answer;
    try {
      answer = await this.api.complete(state.fileId, state.sha256);
    } catch (error) {
      if (error instanceof ApiError && error.code === ApiCode.TaskNotFound && resumed) {
        throw new StartOver(`the service no longer has upload ${state.fileId} (expired?)`);
      }
      if (error instanceof ApiError && error.code === ApiCode.UploadIncomplete) {
        // a task that failed its check cannot be completed again; one missing parts is better
        // uploaded anew than trusted to an old state
        if (resumed) {
          this.knownPlan = undefined;
          throw new StartOver(`complete of ${state.fileId} answered ${error.code}: ${error.apiMessage}`);
        }
        await stateFile.remove();
      }
      throw error;
    }
    const completeMs = Date.now() - completing;
    await stateFile.remove();
    return { answer, completeMs };
  }

  private resume(state: ResumeState): Upload {
    if (state.partSize !== partSizeFor(this.options.partSize, state.size)) {
      this.note(`going on with the interrupted run's part size, ${formatBytes(state.partSize)}`);
    }
    this.stateFile = new StateFile(this.statePath, state);
    this.knownPlan = state;
    return { state, stateFile: this.stateFile, resumed: true, urls: [] };
  }

  private async begin(): Promise<Upload | Finished> {
    const plan = this.knownPlan ?? (await this.hash());
    const state = {
      url: this.options.url,
      shareFolder: this.options.shareFolder,
      fileId: '',
      fileName: this.options.name,
      size: plan.size,
      mtimeMs: plan.mtimeMs,
      partSize: plan.partSize,
      sha256: plan.sha256,
      parts: plan.parts,
      done: [],
    } satisfies ResumeState;
    await this.assertUnchanged(state);
    const created = await this.api.create({
      fileName: state.fileName,
      length: state.size,
      sha256: state.sha256,
      autoRename: this.options.autoRename,
      // a file of up to a batch of parts needs no uploadUrl call; the rest are asked for as they come
      multiParts: state.parts.slice(0, URL_BATCH).map(partRequestOf),
    });
    if (created.rapidUpload || created.exist) {
      // nothing to resume: an ignored state file beside the file goes too
      await rm(this.statePath, { force: true });
      this.result({
        fileId: created.fileId,
        fileName: created.fileName,
        sha256: state.sha256,
        length: state.size,
        parts: '0 (the service already holds this content)',
        rapidUpload: String(created.rapidUpload),
        exist: String(created.exist),
      });
      return { finished: true };
    }
    const started: ResumeState = { ...state, fileId: created.fileId, fileName: created.fileName };
    // kept from the start, so an interrupted run goes on with this task rather than a new one
    this.stateFile = new StateFile(this.statePath, started);
    await this.stateFile.flush();
    return { state: started, stateFile: this.stateFile, resumed: false, urls: created.multiParts };
  }

  private async hash(): Promise<FilePlan> {
    const { size, mtimeMs } = await stat(this.file);
    const partSize = partSizeFor(this.options.partSize, size);
    if (partSize > partSizeFor(this.options.partSize, 0)) {
      this.note(
        `part size raised to ${formatBytes(partSize)}: a file has at most ${MAX_PARTS.toLocaleString('en-US')} parts`,
      );
    }
    this.progress.start('hashing', size);
    const { sha256, parts } = await scanFile(this.file, splitIntoParts(size, partSize), {
      signal: this.context.signal,
      onBytes: (bytes) => this.progress.add(bytes),
    });
    this.hashingMs = this.progress.summary().ms;
    this.progress.finish();
    return { size, mtimeMs, partSize, sha256, parts };
  }

  // The bytes must be those that were hashed: the plan (and the task) is for them.
  private async assertUnchanged(state: ResumeState): Promise<void> {
    const now = await stat(this.file);
    if (now.size !== state.size || now.mtimeMs !== state.mtimeMs) {
      await this.stateFile?.remove();
      throw new FileChangedError(`${this.options.file} changed during the upload; run the command again`);
    }
  }

  private result(fields: Readonly<Record<string, string | number>>): void {
    const lines = { code: 0, ...fields, traceId: this.context.traceId };
    this.context.stdout.write(
      Object.entries(lines)
        .map(([name, value]) => `${name}: ${value}\n`)
        .join(''),
    );
  }

  private async failed(error: unknown): Promise<number> {
    this.progress.end();
    const kept = this.stateFile?.kept === true;
    const saved =
      kept &&
      (await this.stateFile!.flush().then(
        () => true,
        () => false,
      ));
    if (this.context.signal.aborted) {
      const done = this.stateFile?.doneParts.size;
      this.note(
        saved
          ? `interrupted: ${done} part(s) uploaded, progress kept in ${this.statePath}; run the same command to resume`
          : 'interrupted',
      );
      return EXIT_INTERRUPTED;
    }
    if (error instanceof UsageError) {
      this.note(`error: ${error.message}`);
      return EXIT_USAGE;
    }
    if (error instanceof ApiError) {
      this.note(`error: ${error.message} (X-Traceid ${error.traceId ?? this.context.traceId})`);
      const hint = hintFor(error.code, this.options);
      if (hint !== undefined) {
        this.note(hint);
      }
    } else {
      this.note(`error: ${describeError(error)} (X-Traceid ${this.context.traceId})`);
    }
    if (saved) {
      this.note(`progress kept in ${this.statePath}; run the same command to resume`);
    }
    return EXIT_FAILED;
  }

  private note(message: string): void {
    this.progress.end();
    this.context.stderr.write(`${message}\n`);
  }
}

// What to check when the service refused the credentials or the place.
function hintFor(code: ApiCode, options: PutOptions): string | undefined {
  const app = options.credentials.kind === 'app';
  if (code === ApiCode.InvalidToken) {
    return app
      ? "check --app-id and --app-secret, and this machine's clock (X-Date must be at most 15 minutes old)"
      : 'the token is unknown or has expired';
  }
  if (code === ApiCode.NoPermission) {
    const where = options.shareFolder === null ? '' : ` into shared folder ${options.shareFolder}`;
    return `${app ? `user ${options.credentials.userId}` : 'this session'} may not upload${where}`;
  }
  return undefined;
}

function partRequestOf(part: HashedFilePart): PartRequest {
  const hashCtx = hashCtxOf(part);
  return {
    partNumber: part.partNumber,
    partSize: part.partSize,
    partOffset: part.partOffset,
    ...(hashCtx === undefined ? {} : { hashCtx }),
  };
}

function secondsOf(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
