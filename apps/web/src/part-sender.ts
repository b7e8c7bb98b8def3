// The parts PUT to their URLs, `parallel` at a time, each a slice of the File (the browser streams
// it; nothing is read into memory here). XMLHttpRequest, not fetch: fetch cannot tell how much of a
// request body has gone out. URLs come with create's answer or are asked for in batches just before
// they are needed; a part is retried with backoff on network errors, 408, 429 and 5xx, and with a
// fresh URL when its URL is close to expiry or refused (403); a PUT whose bytes stop moving for
// `stallMs` is abandoned and retried, so nothing waits without bound.
import { abortError, DEFAULT_RETRY, retryDelay, sleep, type RetryPolicy } from './backoff.js';
import { CODE_TASK_NOT_FOUND, KooDriveError, type PartRequest, type PartUrl } from './api.js';

// URLs asked for in one uploadUrl call (and at create)
export const URL_BATCH = 100;
// a URL this close to its expiry is not used for a new PUT
const URL_MARGIN_MS = 120_000;
const MAX_URL_REFRESHES = 3;
const DEFAULT_STALL_MS = 60_000;

export interface UrlSource {
  uploadUrl(fileId: string, multiParts: readonly PartRequest[]): Promise<PartUrl[]>;
}

export interface PartSenderOptions {
  readonly api: UrlSource;
  readonly fileId: string;
  readonly file: Blob;
  readonly parallel: number;
  readonly urls: readonly PartUrl[];
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  readonly stallMs?: number;
  // bytes sent (negative when an attempt that sent them failed)
  readonly onBytes?: (delta: number) => void;
  readonly onPartDone?: (partNumber: number) => void | Promise<void>;
}

// A part the storage or the service refused for good, or whose retries ran out.
export class PartError extends Error {
  constructor(
    readonly partNumber: number,
    readonly status: number | null,
    message: string,
  ) {
    super(`part ${partNumber}: ${message}`);
    this.name = 'PartError';
  }
}

interface PutResult {
  readonly status: number;
  readonly text: string;
}

export class PartSender {
  private readonly urls = new Map<number, PartUrl>();
  private readonly asking = new Map<number, Promise<void>>();
  private readonly retry: RetryPolicy;
  private queue: PartRequest[] = [];

  constructor(private readonly options: PartSenderOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    for (const url of options.urls) {
      this.urls.set(url.partNumber, url);
    }
  }

  // Sends every part; the first failure stops the others and is what this throws.
  async run(parts: readonly PartRequest[]): Promise<void> {
    this.queue = [...parts];
    const stop = new AbortController();
    const signal =
      this.options.signal === undefined ? stop.signal : AbortSignal.any([this.options.signal, stop.signal]);
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      for (let part = this.queue.shift(); part !== undefined && !signal.aborted; part = this.queue.shift()) {
        try {
          await this.sendOne(part, signal);
        } catch (error) {
          failure ??= { error };
          stop.abort(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.parallel, parts.length) }, worker));
    if (failure !== undefined) {
      throw failure.error;
    }
    signal.throwIfAborted();
  }

  private async sendOne(part: PartRequest, signal: AbortSignal): Promise<void> {
    let refreshes = 0;
    for (let attempt = 1; ; attempt++) {
      const url = await this.urlFor(part);
      let sent = 0;
      let reason: string;
      try {
        const result = await this.put(url, part, signal, (delta) => {
          sent += delta;
          this.options.onBytes?.(delta);
        });
        if (result.status >= 200 && result.status < 300) {
          await this.options.onPartDone?.(part.partNumber);
          return;
        }
        this.options.onBytes?.(-sent);
        if (isTaskGone(result)) {
          throw new KooDriveError('part PUT', CODE_TASK_NOT_FOUND, result.status, result.text.slice(0, 200), null);
        }
        if (result.status === 403 && refreshes < MAX_URL_REFRESHES) {
          // expired or refused URL: a fresh one, at once
          refreshes++;
          this.urls.delete(part.partNumber);
          attempt--;
          continue;
        }
        if (!isRetryableStatus(result.status)) {
          throw new PartError(part.partNumber, result.status, `HTTP ${result.status}: ${result.text.slice(0, 300)}`);
        }
        reason = `HTTP ${result.status}`;
      } catch (error) {
        if (!(error instanceof NetworkError)) {
          throw error;
        }
        this.options.onBytes?.(-sent);
        reason = error.message;
      }
      if (attempt >= this.retry.attempts) {
        throw new PartError(part.partNumber, null, `gave up after ${attempt} attempts (${reason})`);
      }
      await sleep(retryDelay(attempt, this.retry), signal);
    }
  }

  private put(
    url: string,
    part: PartRequest,
    signal: AbortSignal,
    onDelta: (delta: number) => void,
  ): Promise<PutResult> {
    const stallMs = this.options.stallMs ?? DEFAULT_STALL_MS;
    return new Promise<PutResult>((resolve, reject) => {
      signal.throwIfAborted();
      const xhr = new XMLHttpRequest();
      let loaded = 0;
      let stall = setTimeout(() => xhr.abort(), stallMs);
      const onAbort = (): void => xhr.abort();
      const settle = (): void => {
        clearTimeout(stall);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      xhr.upload.onprogress = (event) => {
        clearTimeout(stall);
        stall = setTimeout(() => xhr.abort(), stallMs);
        onDelta(event.loaded - loaded);
        loaded = event.loaded;
      };
      xhr.onload = () => {
        settle();
        onDelta(part.partSize - loaded);
        resolve({ status: xhr.status, text: xhr.responseText });
      };
      xhr.onerror = () => {
        settle();
        reject(new NetworkError(`part ${part.partNumber}: network error`));
      };
      xhr.onabort = () => {
        settle();
        reject(
          signal.aborted
            ? abortError(signal)
            : new NetworkError(`part ${part.partNumber}: no progress in ${stallMs} ms`),
        );
      };
      xhr.open('PUT', url);
      xhr.send(this.options.file.slice(part.partOffset, part.partOffset + part.partSize));
    });
  }

  // A URL for the part that is not about to expire: cached, or from a batch being asked for, or
  // from a new batch of this part and the next queued ones that have none.
  private async urlFor(part: PartRequest): Promise<string> {
    if (!this.hasFreshUrl(part)) {
      this.urls.delete(part.partNumber);
      await (this.asking.get(part.partNumber) ?? this.ask(part));
    }
    const url = this.urls.get(part.partNumber);
    if (url === undefined) {
      throw new PartError(part.partNumber, null, 'uploadUrl gave no URL for this part');
    }
    return url.uploadUrl;
  }

  private ask(part: PartRequest): Promise<void> {
    const needing = this.queue.filter((next) => !this.asking.has(next.partNumber) && !this.hasFreshUrl(next));
    const batch = [part, ...needing.slice(0, URL_BATCH - 1)];
    const settled = this.options.api
      .uploadUrl(this.options.fileId, batch)
      .then((urls) => {
        for (const url of urls) {
          this.urls.set(url.partNumber, url);
        }
      })
      .finally(() => {
        for (const asked of batch) {
          this.asking.delete(asked.partNumber);
        }
      });
    for (const asked of batch) {
      this.asking.set(asked.partNumber, settled);
    }
    return settled;
  }

  private hasFreshUrl(part: PartRequest): boolean {
    const url = this.urls.get(part.partNumber);
    return url !== undefined && url.expiresAt - Date.now() > URL_MARGIN_MS;
  }
}

class NetworkError extends Error {}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

// S3 answers 404 (NoSuchUpload) once the multipart upload is gone; the service's own part URLs
// answer 13000401 in its envelope.
function isTaskGone(result: PutResult): boolean {
  if (result.status === 404) {
    return true;
  }
  try {
    return (JSON.parse(result.text) as { code?: unknown }).code === CODE_TASK_NOT_FOUND;
  } catch {
    return false;
  }
}
