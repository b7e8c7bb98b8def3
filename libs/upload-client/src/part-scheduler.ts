// The parts PUT to their URLs, `parallel` at a time, as they are offered: all at once when the file
// was hashed first, one by one as a hashing pass reaches them otherwise. URLs come with the task
// (create's answer) or are asked for in batches (a part and every other waiting part without a
// fresh URL, up to 100) once the part is among the next `parallel` in line: asked ahead, while the
// PUTs before it run, so that a PUT that ends finds the next part's URL in hand rather than waiting
// a round trip for it (with a file read once, that wait came before nearly every part). A part
// is asked ahead once at most; a URL that is no longer fresh when its PUT starts is asked for
// again then. A part is retried with
// backoff on a lost connection, 408, 429 and 5xx, and with a fresh URL at once when its URL is
// close to expiry or refused (403). How the bytes travel is the platform's (PartTransport).
import { ApiCode } from './api-code.js';
import { ApiError, describeError, envelopeOf } from './api-error.js';
import { backoffDelay, DEFAULT_RETRY, isNetworkError, isRetryableStatus, pause, type RetryPolicy } from './retry.js';
import type { PartRequest, PartUrl } from './wire.js';

// URLs asked for in one uploadUrl call (and at create)
export const URL_BATCH = 100;
// a URL this close to its expiry is not used for a new PUT
const URL_MARGIN_MS = 120_000;
// fresh URLs asked for one part before giving up on it
const MAX_URL_REFRESHES = 3;

export interface PutAnswer {
  readonly status: number;
  readonly text: string;
}

// How a part's bytes reach its URL (fetch of a file range in Node, XMLHttpRequest of a Blob slice
// in a page). `onBytes` hears of the bytes sent as they go; a request that got no answer rejects
// with a NetworkError (or fetch's TypeError), an abort with the signal's reason.
export interface PartTransport<B> {
  put(url: string, bytes: B, signal: AbortSignal, onBytes: (delta: number) => void): Promise<PutAnswer>;
}

// Fresh URLs for these parts (uploadUrl).
export type UrlSource = (parts: readonly PartRequest[]) => Promise<readonly PartUrl[]>;

export interface PartSchedulerOptions<B> {
  readonly urls: UrlSource;
  readonly transport: PartTransport<B>;
  // the bytes of a part, as the transport sends them
  readonly bytesOf: (part: PartRequest) => B;
  readonly parallel: number;
  // URLs already handed out (by create), used while they are fresh
  readonly known?: readonly PartUrl[];
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  // bytes sent (negative when an attempt that sent them failed)
  readonly onBytes?: (delta: number) => void;
  readonly onPartDone?: (partNumber: number) => void | Promise<void>;
  readonly onRetry?: (partNumber: number, retry: number, reason: string) => void;
}

// A part the store (or the service) refused for good, or whose retries ran out.
export class PartUploadError extends Error {
  constructor(
    readonly partNumber: number,
    readonly status: number | null,
    message: string,
  ) {
    super(`part ${partNumber}: ${message}`);
    this.name = 'PartUploadError';
  }
}

export class PartScheduler<B> {
  private readonly urls = new Map<number, PartUrl>();
  private readonly asking = new Map<number, Promise<void>>();
  // offered and not yet sent, in the order offered
  private readonly pending = new Map<number, PartRequest>();
  private readonly queue: PartRequest[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly stop = new AbortController();
  private readonly signal: AbortSignal;
  private readonly retry: RetryPolicy;
  private closed = false;
  private failure: { error: unknown } | undefined;
  // run() has begun: the task exists, so URLs can be asked for
  private running = false;
  // a batch asked ahead is on its way (one at a time: the parts offered meanwhile make the next)
  private askingAhead = false;
  // a batch asked ahead failed: the workers ask for themselves from then on
  private aheadFailed = false;
  // the parts a batch asked ahead held: never asked ahead again (a URL that came back stale, one
  // uploadUrl left out, is the worker's to ask for, once, as it takes the part)
  private readonly askedAhead = new Set<number>();

  constructor(private readonly options: PartSchedulerOptions<B>) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.signal = options.signal === undefined ? this.stop.signal : AbortSignal.any([options.signal, this.stop.signal]);
    this.know(options.known ?? []);
  }

  // URLs handed out meanwhile (by a create answered after the scheduler began), used while fresh.
  know(urls: readonly PartUrl[]): void {
    for (const url of urls) {
      this.urls.set(url.partNumber, url);
    }
  }

  // A part ready to go (its hashCtx known).
  offer(part: PartRequest): void {
    this.pending.set(part.partNumber, part);
    this.queue.push(part);
    this.waiting.shift()?.();
    this.askAhead();
  }

  // No more parts: run() ends once the offered ones are sent.
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  // Stops the sending with `error` (what feeds the parts failed): run() throws it.
  fail(error: unknown): void {
    this.failure ??= { error };
    this.stop.abort(error);
    this.wakeAll();
  }

  // Sends what is offered until close(); the first failure stops the others and is what this
  // throws (the signal's reason when the caller's signal stopped it).
  async run(): Promise<void> {
    this.running = true;
    this.askAhead();
    const worker = async (): Promise<void> => {
      for (let part = await this.next(); part !== undefined; part = await this.next()) {
        try {
          await this.send(part);
          this.pending.delete(part.partNumber);
        } catch (error) {
          this.fail(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.options.parallel) }, worker));
    if (this.failure !== undefined) {
      throw this.failure.error;
    }
    this.signal.throwIfAborted();
  }

  // Sends `parts` (offered all at once) and closes.
  async sendAll(parts: readonly PartRequest[]): Promise<void> {
    for (const part of parts) {
      this.offer(part);
    }
    this.close();
    await this.run();
  }

  private async next(): Promise<PartRequest | undefined> {
    for (;;) {
      if (this.signal.aborted) {
        return undefined;
      }
      const part = this.queue.shift();
      if (part !== undefined || this.closed) {
        this.askAhead();
        return part;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private wakeAll(): void {
    for (const wake of this.waiting.splice(0)) {
      wake();
    }
  }

  private async send(part: PartRequest): Promise<void> {
    let refreshes = 0;
    for (let attempt = 1; ; attempt++) {
      const url = await this.urlFor(part);
      let sent = 0;
      let reason: string;
      try {
        const answer = await this.options.transport.put(url, this.options.bytesOf(part), this.signal, (delta) => {
          sent += delta;
          this.options.onBytes?.(delta);
        });
        if (answer.status >= 200 && answer.status < 300) {
          await this.options.onPartDone?.(part.partNumber);
          return;
        }
        this.options.onBytes?.(-sent);
        if (isTaskGone(answer)) {
          const why = `the upload task is gone: ${answer.text.slice(0, 200)}`;
          throw new ApiError('part PUT', ApiCode.TaskNotFound, answer.status, why, null);
        }
        if (answer.status === 403 && refreshes < MAX_URL_REFRESHES) {
          // expired or refused URL: a fresh one, at once
          refreshes++;
          this.urls.delete(part.partNumber);
          attempt--;
          this.options.onRetry?.(part.partNumber, refreshes, 'URL refused (403), asking a fresh one');
          continue;
        }
        if (!isRetryableStatus(answer.status)) {
          throw new PartUploadError(
            part.partNumber,
            answer.status,
            `HTTP ${answer.status}: ${answer.text.slice(0, 300)}`,
          );
        }
        reason = `HTTP ${answer.status}`;
      } catch (error) {
        if (!isNetworkError(error)) {
          throw error;
        }
        this.options.onBytes?.(-sent);
        reason = describeError(error);
      }
      if (attempt >= this.retry.attempts) {
        throw new PartUploadError(part.partNumber, null, `gave up after ${attempt} attempts (${reason})`);
      }
      this.options.onRetry?.(part.partNumber, attempt, reason);
      await pause(backoffDelay(attempt, this.retry), this.signal);
    }
  }

  // A URL for the part that is not about to expire: known, or from a batch being asked for, or
  // from a new batch of this part and the other waiting ones that have none.
  private async urlFor(part: PartRequest): Promise<string> {
    if (!this.hasFreshUrl(part)) {
      this.urls.delete(part.partNumber);
      await (this.asking.get(part.partNumber) ?? this.ask(part));
    }
    const url = this.urls.get(part.partNumber);
    if (url === undefined) {
      throw new PartUploadError(part.partNumber, null, 'uploadUrl gave no URL for this part');
    }
    return url.uploadUrl;
  }

  // Asks for the URLs of the next `parallel` parts in line (with the other waiting parts), unless
  // they have them or are asked for already.
  private askAhead(): void {
    if (!this.running || this.askingAhead || this.aheadFailed || this.signal.aborted) {
      return;
    }
    const next = this.queue
      .slice(0, Math.max(1, this.options.parallel))
      .find(
        (part) => !this.askedAhead.has(part.partNumber) && !this.asking.has(part.partNumber) && !this.hasFreshUrl(part),
      );
    if (next === undefined) {
      return;
    }
    this.askingAhead = true;
    this.ask(next, this.askedAhead).then(
      () => {
        this.askingAhead = false;
        this.askAhead();
      },
      () => {
        // a worker waiting for this batch fails with its error; the others ask for themselves
        this.askingAhead = false;
        this.aheadFailed = true;
      },
    );
  }

  // A batch of the part and the other waiting parts without a fresh URL; `record` notes its parts.
  private ask(part: PartRequest, record?: Set<number>): Promise<void> {
    const others = [...this.pending.values()].filter(
      (other) => other !== part && !this.asking.has(other.partNumber) && !this.hasFreshUrl(other),
    );
    const batch = [part, ...others.slice(0, URL_BATCH - 1)];
    for (const asked of batch) {
      record?.add(asked.partNumber);
    }
    // the batch's URLs are kept and its parts stop being asked for in one step: a part found in
    // `asking` has no URL from that batch yet, so a worker may drop the one it has and wait
    const done = (): void => {
      for (const asked of batch) {
        this.asking.delete(asked.partNumber);
      }
    };
    const settled = this.options.urls(batch).then(
      (urls) => {
        for (const url of urls) {
          this.urls.set(url.partNumber, url);
        }
        done();
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
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

// Storage answers 404 (NoSuchUpload) once the multipart upload is gone; the service's own part URLs
// answer its envelope with 13000401.
function isTaskGone(answer: PutAnswer): boolean {
  return answer.status === 404 || envelopeOf(answer.status, answer.text).code === ApiCode.TaskNotFound;
}
