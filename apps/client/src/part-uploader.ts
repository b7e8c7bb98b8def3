// The parts' bytes PUT to their upload URLs, `parallel` at a time, each part read from the file as a
// stream of its range. URLs come with the task (create's answer) or are asked for in batches just
// before they are needed (so none expires in a queue); a part is retried with backoff on network
// errors and 5xx, and with a fresh URL when its URL is close to expiry or refused (403: expired or
// no longer valid).
import { createReadStream } from 'node:fs';
import type { ReadStream } from 'node:fs';
import { backoffDelay, DEFAULT_RETRY, isNetworkError, pause, type RetryPolicy } from './backoff.js';
import { ApiError, describeError, type PartRequest, type PartUrl } from './koodrive-api.js';
import { ApiCode } from '@koodrive/errors';

// URLs asked for in one uploadUrl call (and at create)
export const URL_BATCH = 100;
// a URL this close to its expiry is not used for a new PUT
const URL_MARGIN_MS = 120_000;
// fresh URLs asked for one part before giving up on it
const MAX_URL_REFRESHES = 3;

export interface UrlSource {
  uploadUrl(fileId: string, multiParts: readonly PartRequest[]): Promise<PartUrl[]>;
}

export interface PartUploaderOptions {
  readonly api: UrlSource;
  readonly fileId: string;
  readonly filePath: string;
  readonly parallel: number;
  // URLs already handed out (by create), used while they are fresh
  readonly urls?: readonly PartUrl[];
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  // bytes handed to the network (negative when an attempt that sent them failed)
  readonly onBytes?: (delta: number) => void;
  readonly onPartDone?: (partNumber: number) => void;
  readonly onRetry?: (partNumber: number, retry: number, reason: string) => void;
  // tests only: a pause before each part, so a test can interrupt between parts
  readonly partDelayMs?: number;
}

// A part the store refused for good (a 4xx other than 403/408/429, or retries exhausted).
export class PartUploadError extends Error {
  constructor(
    readonly partNumber: number,
    readonly status: number | null,
    message: string,
  ) {
    super(`part ${partNumber}: ${message}`);
  }
}

// The upload task is gone (expired, aborted, or someone else's): its parts cannot be uploaded.
export class TaskGoneError extends Error {}

export class PartUploader {
  private readonly urls = new Map<number, PartUrl>();
  private readonly asking = new Map<number, Promise<void>>();
  private readonly retry: RetryPolicy;
  private queue: PartRequest[] = [];

  constructor(private readonly options: PartUploaderOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    for (const url of options.urls ?? []) {
      this.urls.set(url.partNumber, url);
    }
  }

  // Uploads every job; the first failure stops the others and is what this throws (an
  // AbortError when the caller's signal stopped it).
  async run(jobs: readonly PartRequest[]): Promise<void> {
    this.queue = [...jobs];
    const stop = new AbortController();
    const signal =
      this.options.signal === undefined ? stop.signal : AbortSignal.any([this.options.signal, stop.signal]);
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      for (let job = this.queue.shift(); job !== undefined && !signal.aborted; job = this.queue.shift()) {
        try {
          await this.uploadOne(job, signal);
        } catch (error) {
          failure ??= { error };
          stop.abort();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.parallel, jobs.length) }, worker));
    if (failure !== undefined) {
      throw failure.error;
    }
    signal.throwIfAborted();
  }

  private async uploadOne(job: PartRequest, signal: AbortSignal): Promise<void> {
    if (this.options.partDelayMs !== undefined && this.options.partDelayMs > 0) {
      await pause(this.options.partDelayMs, signal);
    }
    let refreshes = 0;
    for (let attempt = 1; ; attempt++) {
      const url = await this.urlFor(job);
      let sent = 0;
      let reason: string;
      try {
        const response = await this.put(url, job, signal, (bytes) => {
          sent += bytes;
          this.options.onBytes?.(bytes);
        });
        const text = await response.text();
        if (response.ok) {
          this.options.onPartDone?.(job.partNumber);
          return;
        }
        this.options.onBytes?.(-sent);
        if (isTaskGone(response.status, text)) {
          throw new TaskGoneError(`part ${job.partNumber}: the upload task is gone (HTTP ${response.status})`);
        }
        if (response.status === 403 && refreshes < MAX_URL_REFRESHES) {
          // expired or refused URL: a fresh one, at once
          refreshes++;
          this.urls.delete(job.partNumber);
          attempt--;
          this.options.onRetry?.(job.partNumber, refreshes, 'URL refused (403), asking a fresh one');
          continue;
        }
        if (!isRetryableStatus(response.status)) {
          throw new PartUploadError(job.partNumber, response.status, `HTTP ${response.status}: ${text.slice(0, 300)}`);
        }
        reason = `HTTP ${response.status}`;
      } catch (error) {
        if (!isNetworkError(error)) {
          throw error;
        }
        this.options.onBytes?.(-sent);
        reason = describeError(error);
      }
      if (attempt >= this.retry.attempts) {
        throw new PartUploadError(job.partNumber, null, `gave up after ${attempt} attempts (${reason})`);
      }
      this.options.onRetry?.(job.partNumber, attempt, reason);
      await pause(backoffDelay(attempt, this.retry), signal);
    }
  }

  private async put(
    url: string,
    job: PartRequest,
    signal: AbortSignal,
    onChunk: (bytes: number) => void,
  ): Promise<Response> {
    if (job.partSize === 0) {
      return fetch(url, { method: 'PUT', body: new Uint8Array(0), signal });
    }
    const stream = createReadStream(this.options.filePath, {
      start: job.partOffset,
      end: job.partOffset + job.partSize - 1,
      highWaterMark: 256 * 1024,
    });
    try {
      return await fetch(url, {
        method: 'PUT',
        headers: { 'content-length': String(job.partSize) },
        body: counted(stream, onChunk),
        duplex: 'half',
        signal,
      });
    } finally {
      stream.destroy();
    }
  }

  // A URL for the job's part that is not about to expire: cached, or from a batch being asked for,
  // or from a new batch of this part and the next queued ones that have none.
  private async urlFor(job: PartRequest): Promise<string> {
    if (this.hasFreshUrl(job)) {
      return this.urls.get(job.partNumber)!.uploadUrl;
    }
    this.urls.delete(job.partNumber);
    await (this.asking.get(job.partNumber) ?? this.ask(job));
    const fresh = this.urls.get(job.partNumber);
    if (fresh === undefined) {
      throw new PartUploadError(job.partNumber, null, 'uploadUrl gave no URL for this part');
    }
    return fresh.uploadUrl;
  }

  private ask(job: PartRequest): Promise<void> {
    const needing = this.queue.filter((next) => !this.asking.has(next.partNumber) && !this.hasFreshUrl(next));
    const batch = [job, ...needing.slice(0, URL_BATCH - 1)];
    const asked = this.options.api.uploadUrl(this.options.fileId, batch).then(
      (urls) => {
        for (const url of urls) {
          this.urls.set(url.partNumber, url);
        }
      },
      (error: unknown) => {
        if (error instanceof ApiError && error.code === ApiCode.TaskNotFound) {
          throw new TaskGoneError(`uploadUrl: the upload task is gone (${error.message})`);
        }
        throw error;
      },
    );
    const settled = asked.finally(() => {
      for (const part of batch) {
        this.asking.delete(part.partNumber);
      }
    });
    for (const part of batch) {
      this.asking.set(part.partNumber, settled);
    }
    return settled;
  }

  private hasFreshUrl(job: PartRequest): boolean {
    const url = this.urls.get(job.partNumber);
    return url !== undefined && url.expiresAt - Date.now() > URL_MARGIN_MS;
  }
}

async function* counted(stream: ReadStream, onChunk: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onChunk(chunk.length);
    yield chunk;
  }
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

// S3 answers 404 (NoSuchUpload) once the multipart upload is aborted; the service's own part URLs
// answer its envelope with 13000401.
function isTaskGone(status: number, text: string): boolean {
  if (status === 404) {
    return true;
  }
  try {
    return (JSON.parse(text) as { code?: ApiCode }).code === ApiCode.TaskNotFound;
  } catch {
    return false;
  }
}
