// One byte range of an object GET over node:http into the caller's buffer. A small range is copied
// out of node's chunks on a kept-alive connection; a large one, once node has read the answer's
// head, is read by the socket straight into the caller's buffer (socket-reads.ts), on a connection
// of its own that is closed after. The answer must be 206 with exactly the bytes asked for (or 200
// when the range is the whole object), else the read fails.
import http from 'node:http';
import https from 'node:https';
import { SocketReads } from './socket-reads.js';
import { connectionError, redactedTarget, statusError } from './store-answer.js';

export interface RangeReadOptions {
  // called as bytes land, with how many bytes of `into` are filled so far
  readonly onData?: (filled: number) => void;
  readonly signal?: AbortSignal;
  // a connection that sends nothing for this long is given up (ETIMEDOUT)
  readonly idleTimeoutMs: number;
  // the kept-alive connections small ranges go on (an https.Agent for an https URL)
  readonly agent: http.Agent;
  // ranges of this many bytes and more are read in place
  readonly inPlaceFrom: number;
}

// GETs bytes [start, start + into.length) of `url` into `into`. Resolves once all of them are there;
// rejects on any other answer, a connection cut short, an abort or an idle timeout, having reported
// through onData how many bytes did land (a retry can go on from there).
export function readRange(url: URL, start: number, into: Buffer, options: RangeReadOptions): Promise<void> {
  if (into.length === 0) {
    return Promise.resolve();
  }
  if (options.signal?.aborted === true) {
    return Promise.reject(options.signal.reason as Error);
  }
  return new Promise<void>((resolve, reject) => new RangeRead(url, start, into, options, resolve, reject).send());
}

class RangeRead {
  private request: http.ClientRequest | undefined;
  private answered = false;
  private resent = false;
  private filled = 0;
  private settled = false;
  private readonly inPlace: boolean;
  private readonly onAbort = (): void => this.finish(this.options.signal!.reason as Error);

  constructor(
    private readonly url: URL,
    private readonly start: number,
    private readonly into: Buffer,
    private readonly options: RangeReadOptions,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.inPlace = into.length >= options.inPlaceFrom;
  }

  send(): void {
    const transport = this.url.protocol === 'https:' ? https : http;
    const request = transport.get(this.url, {
      agent: this.inPlace ? false : this.options.agent,
      headers: { Range: `bytes=${this.start}-${this.start + this.into.length - 1}` },
    });
    this.request = request;
    request.setTimeout(this.options.idleTimeoutMs, () =>
      this.finish(
        connectionError(`GET ${redactedTarget(this.url)}: no data for ${this.options.idleTimeoutMs} ms`, 'ETIMEDOUT'),
      ),
    );
    request.on('error', (error: Error & { code?: string }) => {
      // a kept-alive connection the store had closed meanwhile: once more, on another
      if (!this.answered && !this.resent && request.reusedSocket && error.code === 'ECONNRESET') {
        this.resent = true;
        this.send();
      } else {
        this.finish(error);
      }
    });
    request.on('response', (response) => this.onResponse(response));
    if (!this.resent) {
      this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  private onResponse(response: http.IncomingMessage): void {
    this.answered = true;
    response.on('error', () => undefined);
    const status = response.statusCode ?? 0;
    if (status >= 300) {
      void statusError(response, `GET ${redactedTarget(this.url)}`).then((error) => this.finish(error));
      return;
    }
    const problem = checkHead(response, this.start, this.into.length);
    if (problem !== null) {
      response.destroy();
      this.fail(problem);
      return;
    }
    response.once('close', () => this.cut());
    if (this.inPlace) {
      // once node has handed on the body bytes it read along with the head
      process.nextTick(() => this.readInPlace(response));
    } else {
      response.on('data', (chunk: Buffer) => this.copy(chunk));
    }
  }

  private readInPlace(response: http.IncomingMessage): void {
    for (let chunk = response.read() as Buffer | null; chunk !== null; chunk = response.read() as Buffer | null) {
      this.copy(chunk);
    }
    if (this.settled) {
      return;
    }
    const { socket } = response;
    const reads = SocketReads.take(socket, {
      room: () => (this.filled < this.into.length ? this.into.subarray(this.filled) : null),
      landed: (bytes) => this.landed(bytes),
    });
    if (reads === null) {
      response.on('data', (chunk: Buffer) => this.copy(chunk));
      return;
    }
    // node's parser no longer sees the bytes: the end of the connection is this read's to tell
    socket.once('end', () => this.cut());
  }

  private copy(chunk: Buffer): void {
    if (this.settled) {
      return;
    }
    if (chunk.length > this.into.length - this.filled) {
      this.fail(`more bytes than the ${this.into.length} announced`);
      return;
    }
    chunk.copy(this.into, this.filled);
    this.landed(chunk);
  }

  private landed(bytes: Buffer): void {
    this.filled += bytes.length;
    this.options.onData?.(this.filled);
    if (this.filled === this.into.length) {
      this.finish();
    }
  }

  private cut(): void {
    // a read over is closed by finish() itself: no error to make (a stack trace costs)
    if (this.settled) {
      return;
    }
    const what = `connection closed after ${this.filled} of ${this.into.length} bytes`;
    this.finish(connectionError(`GET ${redactedTarget(this.url)}: ${what}`, 'ECONNRESET'));
  }

  private fail(problem: string): void {
    this.finish(new Error(`GET ${redactedTarget(this.url)}: ${problem}`));
  }

  private finish(error?: Error): void {
    if (this.settled) {
      return;
    }
    this.settled = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (error !== undefined || this.inPlace) {
      // a connection read in place, or left mid-answer, is not for anyone else
      this.request?.destroy();
    }
    if (error === undefined) {
      this.resolve();
    } else {
      this.reject(error);
    }
  }
}

// Whether a 2xx answer carries exactly bytes [start, start + length): null when it does.
function checkHead(response: http.IncomingMessage, start: number, length: number): string | null {
  const status = response.statusCode ?? 0;
  const { headers } = response;
  // a store that ignores Range sends the whole object: right only when that is what was asked
  if (status !== 206 && !(status === 200 && start === 0)) {
    return `HTTP ${status} for a range`;
  }
  if (headers['transfer-encoding'] !== undefined) {
    return `Transfer-Encoding ${headers['transfer-encoding']} where a Content-Length was expected`;
  }
  if (headers['content-length'] !== String(length)) {
    return `Content-Length ${headers['content-length'] ?? '(none)'} for a range of ${length} bytes`;
  }
  if (status === 200) {
    return null;
  }
  const range = /^bytes (\d+)-(\d+)\//.exec(headers['content-range'] ?? '');
  return range !== null && Number(range[1]) === start && Number(range[2]) === start + length - 1
    ? null
    : `Content-Range ${headers['content-range'] ?? '(none)'} for bytes ${start}-${start + length - 1}`;
}
