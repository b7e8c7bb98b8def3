// `put <file>`: the core's upload (@koodrive/upload-client), of a new file or (--revision-of) a new
// version of one, with the CLI's platform parts: the file
// hashed first by the native SHA-256 (its digest and every part's hashCtx: a flash upload is worth
// that wait at about 2 GB/s), its parts streamed from disk, progress on stderr, the result on stdout.
// Interrupted or failed runs leave a state file that the next run of the same command continues
// from (same fileId, only the parts not yet uploaded).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MAX_PARTS } from '@koodrive/limits';
import {
  ApiCode,
  ApiError,
  describeError,
  FILE_UPLOAD,
  KooDriveApi,
  REVISION_UPLOAD,
  upload,
  type UploadOutcome,
} from '@koodrive/upload-client';
import { authenticatorFor } from './app-signer.js';
import { type PutOptions, partSizeFor, UsageError } from './cli-options.js';
import { FileChangedError, NodeFileSource } from './file-source.js';
import { FileRangeTransport } from './part-transport.js';
import { formatBytes, formatRate, type ProgressOutput, ProgressReporter } from './progress.js';
import { readState, StateFile, statePathFor } from './resume-state.js';

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

export async function put(context: PutContext): Promise<number> {
  return new PutRun(context).run();
}

class PutRun {
  private readonly options: PutOptions;
  private readonly file: string;
  private readonly statePath: string;
  private readonly progress: ProgressReporter;
  private store: StateFile | undefined;
  private readonly startedAt = Date.now();
  // the phases' times: 0 when a run did not hash
  private hashingMs = 0;
  private transfer = { bytes: 0, ms: 0 };
  private completingAt = 0;

  constructor(private readonly context: PutContext) {
    this.options = context.options;
    this.file = resolve(context.options.file);
    this.statePath = statePathFor(this.file);
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
      const identity = {
        url: this.options.url,
        shareFolder: this.options.shareFolder,
        revisionOf: this.options.revision?.fileId ?? null,
        size: info.size,
        mtimeMs: info.mtimeMs,
      };
      const reading = await readState(this.statePath, identity);
      if (reading.kind === 'ignored') {
        this.note(`ignoring ${this.statePath}: ${reading.reason}; starting over`);
      }
      this.store = new StateFile(this.statePath, identity, reading.kind === 'found' ? reading.state : undefined);
      this.result(await this.upload(info.size, info.mtimeMs, this.store));
      return EXIT_OK;
    } catch (error) {
      return this.failed(error);
    }
  }

  private upload(size: number, mtimeMs: number, store: StateFile): Promise<UploadOutcome> {
    const { options, context } = this;
    const partSize = partSizeFor(options.partSize, size);
    if (partSize > partSizeFor(options.partSize, 0)) {
      this.note(
        `part size raised to ${formatBytes(partSize)}: a file has at most ${MAX_PARTS.toLocaleString('en-US')} parts`,
      );
    }
    const api = new KooDriveApi({
      baseUrl: options.url,
      authenticate: authenticatorFor(options.credentials, context.signal),
      shareFolder: options.shareFolder,
      uploadVia: options.uploadVia,
      traceId: context.traceId,
      signal: context.signal,
      onRetry: (endpoint, retry, reason) => this.note(`${endpoint}: ${reason}; retry ${retry}`),
    });
    const source = new NodeFileSource(this.file, size, mtimeMs, options.file, {
      start: () => this.progress.start('hashing', size),
      bytes: (count) => this.progress.add(count),
      end: () => {
        this.hashingMs = this.progress.summary().ms;
        this.progress.finish();
      },
    });
    const { revision } = options;
    return upload({
      api,
      // a new version: createRevision and completeRevision, the parts as for a file
      endpoints: revision === null ? FILE_UPLOAD : REVISION_UPLOAD,
      createFields:
        revision === null
          ? { fileName: options.name, autoRename: options.autoRename }
          : { fileId: revision.fileId, containerId: revision.containerId, keepPolicy: revision.keepPolicy },
      fileName: options.name,
      partSize,
      parallel: options.parallel,
      hashFirst: true,
      source,
      transport: new FileRangeTransport(this.file, context.partDelayMs),
      store,
      signal: context.signal,
      events: {
        onTask: (task) => {
          if (task.resumed) {
            this.note(
              `resuming ${task.fileId}: ${task.doneParts} of ${task.parts} parts already uploaded, ` +
                `${task.parts - task.doneParts} to go`,
            );
            if (task.partSize !== partSize) {
              this.note(`going on with the interrupted run's part size, ${formatBytes(task.partSize)}`);
            }
          }
          this.note(
            `fileId ${task.fileId}: ${task.parts} part(s) of ${formatBytes(task.partSize)}, ` +
              `${options.parallel} at a time, X-Traceid ${context.traceId}`,
          );
          // the bar starts where an earlier run left off; the summary counts this run's bytes only
          this.progress.start('uploading', size, task.doneBytes);
        },
        onSent: (delta) => this.progress.add(delta),
        onRetry: (what, retry, reason) => this.note(`${what}: ${reason}; retry ${retry}`),
        onCompleting: () => {
          this.transfer = this.progress.summary();
          this.progress.finish();
          this.completingAt = Date.now();
        },
        onStartOver: (reason) => this.note(`${reason}; starting over with a new upload`),
      },
    });
  }

  private result(outcome: UploadOutcome): void {
    // a new version keeps the file's name, which the service does not answer
    const named: Record<string, string> = this.options.revision === null ? { fileName: outcome.fileName } : {};
    if (outcome.rapidUpload || outcome.exist) {
      this.print({
        fileId: outcome.fileId,
        ...named,
        sha256: outcome.sha256,
        length: outcome.length,
        parts: '0 (the service already holds this content)',
        rapidUpload: String(outcome.rapidUpload),
        exist: String(outcome.exist),
      });
      return;
    }
    const seconds = this.transfer.ms / 1000;
    this.print({
      fileId: outcome.fileId,
      ...named,
      sha256: outcome.sha256,
      length: outcome.length,
      parts: `${outcome.parts} (uploaded ${outcome.uploadedParts}, resumed ${outcome.resumedParts})`,
      rate: `${formatRate(seconds > 0 ? this.transfer.bytes / seconds : null)} (${formatBytes(this.transfer.bytes)} in ${seconds.toFixed(1)} s)`,
      timing:
        `hashing ${secondsOf(this.hashingMs)}, uploading ${secondsOf(this.transfer.ms)}, ` +
        `complete ${secondsOf(Date.now() - this.completingAt)}, total ${secondsOf(Date.now() - this.startedAt)}`,
    });
  }

  private print(fields: Readonly<Record<string, string | number>>): void {
    const lines = { code: 0, ...fields, traceId: this.context.traceId };
    this.context.stdout.write(
      Object.entries(lines)
        .map(([name, value]) => `${name}: ${value}\n`)
        .join(''),
    );
  }

  private async failed(error: unknown): Promise<number> {
    this.progress.end();
    if (error instanceof FileChangedError) {
      // the plan (and the task) is for bytes the file no longer holds
      await this.store?.remove();
    }
    const saved =
      this.store?.kept === true &&
      (await this.store.flush().then(
        () => true,
        () => false,
      ));
    if (this.context.signal.aborted) {
      this.note(
        saved
          ? `interrupted: ${this.store!.doneParts.size} part(s) uploaded, progress kept in ${this.statePath}; ` +
              'run the same command to resume'
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

function secondsOf(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
