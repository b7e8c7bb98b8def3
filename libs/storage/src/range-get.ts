// A lean HTTP/1.1 GET of one byte range, received straight into the caller's buffer.
//
// Why not the SDK: on a 1 GiB read-back from RGW, node's HTTP client (under the SDK, and under
// fetch) keeps the reader's event loop about one core busy at ~700 MB/s, because every socket read
// allocates a fresh buffer that then flows through a stream. Here the socket reads into the
// destination buffer itself (net's `onread` with a buffer per read): the same read costs about a
// quarter of a core at RGW's full rate (`bench/read-cpu.ts`). The request is a presigned URL,
// so nothing but a Range header and Host is sent; the answer must be 206 with exactly the bytes
// asked for (or 200 when the range is the whole object), else the read fails.
import net from 'node:net';
import tls from 'node:tls';
import {
  contentLength,
  ERROR_BODY_LIMIT,
  HEAD_LIMIT,
  parseHead,
  redactedTarget,
  type ResponseHead,
  s3ErrorCode,
} from './http-head.js';

export interface RangeGetOptions {
  // called as bytes land, with how many bytes of `into` are filled so far
  readonly onData?: (filled: number) => void;
  readonly signal?: AbortSignal;
  // a connection that sends nothing for this long is given up (ETIMEDOUT)
  readonly idleTimeoutMs?: number;
}

// The store answered with a status other than the bytes asked for. `code` is the S3 error code
// from the XML body, when there is one (NoSuchKey, AccessDenied, ...).
export class RangeGetStatusError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(`GET answered HTTP ${status}${code === undefined ? '' : ` ${code}`}`);
    this.name = 'RangeGetStatusError';
  }
}

// GETs bytes [start, start + into.length) of `url` into `into`. Resolves once all of them are
// there; rejects on any other answer, a connection cut short, an abort or an idle timeout, having
// reported through onData how many bytes did land (a retry can go on from there).
export function getRangeInto(url: URL, start: number, into: Buffer, options: RangeGetOptions = {}): Promise<void> {
  if (into.length === 0) {
    return Promise.resolve();
  }
  if (options.signal?.aborted === true) {
    return Promise.reject(options.signal.reason as Error);
  }
  return new Promise<void>((resolve, reject) => new RangeGet(url, start, into, options, resolve, reject).send());
}

// One GET: the socket, the response head as it is parsed, and where the bytes land.
class RangeGet {
  private readonly length: number;
  // the response head (and an error answer's body) are read here; the body of the bytes asked for
  // is read into `into` itself
  private readonly scratch = Buffer.allocUnsafe(HEAD_LIMIT);
  private scratchFilled = 0;
  private head: ResponseHead | null = null;
  // error answer: the body bytes still to come into scratch
  private errorBodyLeft = 0;
  private filled = 0;
  private settled = false;
  private socket: net.Socket | undefined;
  private readonly onAbort = (): void => this.finish(this.options.signal!.reason as Error);

  constructor(
    private readonly url: URL,
    private readonly start: number,
    private readonly into: Buffer,
    private readonly options: RangeGetOptions,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.length = into.length;
  }

  send(): void {
    const { url, options, start, length } = this;
    const socket = this.connect();
    const idleMs = options.idleTimeoutMs ?? 30_000;
    socket.setTimeout(idleMs, () =>
      this.finish(
        Object.assign(new Error(`GET ${redactedTarget(url)}: no data for ${idleMs} ms`), { code: 'ETIMEDOUT' }),
      ),
    );
    socket.on('error', (error) => this.finish(error));
    socket.on('close', () => {
      if (this.head !== null && this.head.status >= 300) {
        this.failWithStatus();
        return;
      }
      const cut = `GET ${redactedTarget(url)}: connection closed after ${this.filled} of ${length} bytes`;
      this.finish(Object.assign(new Error(cut), { code: 'ECONNRESET' }));
    });
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
        `Host: ${url.host}\r\n` +
        `Range: bytes=${start}-${start + length - 1}\r\n` +
        'Connection: close\r\n\r\n',
    );
  }

  private connect(): net.Socket {
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const secure = this.url.protocol === 'https:';
    const port = Number(this.url.port) || (secure ? 443 : 80);
    const onread = {
      buffer: () => this.nextBuffer(),
      callback: (count: number, buffer: Buffer) => this.onRead(count, buffer),
    };
    const connection = { host, port, onread };
    this.socket = secure
      ? tls.connect({ ...connection, servername: net.isIP(host) === 0 ? host : undefined })
      : net.connect(connection);
    this.socket.setNoDelay(true);
    return this.socket;
  }

  private finish(error?: Error): void {
    if (this.settled) {
      return;
    }
    this.settled = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.socket?.destroy();
    if (error === undefined) {
      this.resolve();
    } else {
      this.reject(error);
    }
  }

  private failWithStatus(): void {
    const body = this.scratch.subarray(0, this.scratchFilled).toString('utf8');
    this.finish(new RangeGetStatusError(this.head!.status, s3ErrorCode(body)));
  }

  // an error answer's body is in: its length, the end of its chunks, or all we read of it
  private errorBodyDone(): boolean {
    const chunked = /chunked/i.test(this.head!.headers.get('transfer-encoding') ?? '');
    const tail = this.scratch.subarray(Math.max(0, this.scratchFilled - 5), this.scratchFilled).toString('latin1');
    return this.errorBodyLeft <= 0 || this.scratchFilled === HEAD_LIMIT || (chunked && tail === '0\r\n\r\n');
  }

  // the body's first bytes, read along with the head: copied once, then the socket reads in place
  private startBody(bytes: Buffer): void {
    const head = this.head!;
    if (head.status >= 300) {
      const from = bytes.byteOffset - this.scratch.byteOffset;
      this.scratch.copyWithin(0, from, from + bytes.length);
      this.scratchFilled = bytes.length;
      this.errorBodyLeft = Math.min(ERROR_BODY_LIMIT, contentLength(head) ?? ERROR_BODY_LIMIT) - bytes.length;
      if (this.errorBodyDone()) {
        this.failWithStatus();
      }
      return;
    }
    const problem = checkHead(head, this.start, this.length);
    if (problem !== null) {
      this.finish(new Error(`GET ${redactedTarget(this.url)}: ${problem}`));
      return;
    }
    this.receive(bytes);
  }

  private receive(bytes: Buffer): void {
    if (bytes.length > this.length - this.filled) {
      this.finish(new Error(`GET ${redactedTarget(this.url)}: more bytes than the ${this.length} announced`));
      return;
    }
    if (bytes.length > 0) {
      if (bytes.buffer !== this.into.buffer || bytes.byteOffset !== this.into.byteOffset + this.filled) {
        bytes.copy(this.into, this.filled);
      }
      this.filled += bytes.length;
      this.options.onData?.(this.filled);
    }
    if (this.filled === this.length) {
      this.finish();
    }
  }

  // the head(s) in scratch so far: an interim answer (100 Continue, 103 Early Hints) is dropped
  // and the real one awaited
  private parseHeads(): void {
    for (;;) {
      const end = this.scratch.subarray(0, this.scratchFilled).indexOf('\r\n\r\n');
      if (end === -1) {
        if (this.scratchFilled === HEAD_LIMIT) {
          this.finish(new Error(`GET ${redactedTarget(this.url)}: response head over ${HEAD_LIMIT} bytes`));
        }
        return;
      }
      const parsed = parseHead(this.scratch.subarray(0, end).toString('latin1'));
      if (parsed === null) {
        this.finish(new Error(`GET ${redactedTarget(this.url)}: not an HTTP/1.1 response`));
        return;
      }
      if (parsed.status >= 200) {
        this.head = parsed;
        this.startBody(this.scratch.subarray(end + 4, this.scratchFilled));
        return;
      }
      this.scratch.copyWithin(0, end + 4, this.scratchFilled);
      this.scratchFilled -= end + 4;
    }
  }

  private onRead(count: number, buffer: Buffer): boolean {
    if (this.settled) {
      return false;
    }
    if (this.head !== null && this.head.status < 300) {
      this.receive(buffer.subarray(0, count));
      return true;
    }
    this.scratchFilled += count;
    if (this.head === null) {
      this.parseHeads();
    } else {
      this.errorBodyLeft -= count;
      if (this.errorBodyDone()) {
        this.failWithStatus();
      }
    }
    return true;
  }

  // Where the next read lands; node asks before every read, and again after the read that
  // settled this GET (TLS may still hand over bytes it had decrypted). Never an empty buffer:
  // scratch filling up settles the GET first.
  private nextBuffer(): Buffer {
    const receiving = this.head !== null && this.head.status < 300;
    if (this.settled || (receiving && this.filled === this.length)) {
      // done: anything more is dropped, read where it harms nothing
      return this.scratch;
    }
    return receiving ? this.into.subarray(this.filled) : this.scratch.subarray(this.scratchFilled);
  }
}

// Whether a 2xx answer carries exactly bytes [start, start + length): null when it does.
function checkHead(head: ResponseHead, start: number, length: number): string | null {
  // a store that ignores Range sends the whole object: right only when that is what was asked
  if (head.status !== 206 && !(head.status === 200 && start === 0)) {
    return `HTTP ${head.status} for a range`;
  }
  if (head.headers.has('transfer-encoding')) {
    return `Transfer-Encoding ${head.headers.get('transfer-encoding')} where a Content-Length was expected`;
  }
  if (contentLength(head) !== length) {
    return `Content-Length ${head.headers.get('content-length') ?? '(none)'} for a range of ${length} bytes`;
  }
  if (head.status === 200) {
    return null;
  }
  const range = /^bytes (\d+)-(\d+)\//.exec(head.headers.get('content-range') ?? '');
  return range !== null && Number(range[1]) === start && Number(range[2]) === start + length - 1
    ? null
    : `Content-Range ${head.headers.get('content-range') ?? '(none)'} for bytes ${start}-${start + length - 1}`;
}
