// A lean HTTP/1.1 GET of one byte range, received straight into the caller's buffer.
//
// Why not the SDK: on a 1 GiB read-back from RGW, node's HTTP client (under the SDK, and under
// fetch) keeps the reader's event loop about one core busy at ~700 MB/s, because every socket read
// allocates a fresh buffer that then flows through a stream. Here the socket reads into the
// destination buffer itself (net's `onread` with a buffer per read): the same read costs about a
// quarter of a core at RGW's full rate (`node bench/read-cpu.ts`). The request is a presigned URL,
// so nothing but a Range header and Host is sent; the answer must be 206 with exactly the bytes
// asked for (or 200 when the range is the whole object), else the read fails.
import net from 'node:net';
import tls from 'node:tls';

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

const HEAD_LIMIT = 64 * 1024;
// how much of an error answer's body is read for its <Code>
const ERROR_BODY_LIMIT = 8 * 1024;

interface ResponseHead {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
}

// GETs bytes [start, start + into.length) of `url` into `into`. Resolves once all of them are
// there; rejects on any other answer, a connection cut short, an abort or an idle timeout, having
// reported through onData how many bytes did land (a retry can go on from there).
export function getRangeInto(url: URL, start: number, into: Buffer, options: RangeGetOptions = {}): Promise<void> {
  const length = into.length;
  if (length === 0) {
    return Promise.resolve();
  }
  if (options.signal?.aborted === true) {
    return Promise.reject(options.signal.reason as Error);
  }
  return new Promise<void>((resolve, reject) => {
    const scratch = Buffer.allocUnsafe(HEAD_LIMIT);
    let scratchFilled = 0;
    let head: ResponseHead | null = null;
    // error answer: the body bytes still to come into scratch
    let errorBodyLeft = 0;
    let filled = 0;
    let settled = false;

    const finish = (error?: Error): void => {
      if (settled) {
        return;
      }
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error === undefined) {
        resolve();
      } else {
        reject(error);
      }
    };
    const onAbort = (): void => finish(options.signal!.reason as Error);

    const failWithStatus = (): void => {
      const body = scratch.subarray(0, scratchFilled).toString('utf8');
      finish(new RangeGetStatusError(head!.status, /<Code>([^<]+)<\/Code>/.exec(body)?.[1]));
    };

    // an error answer's body is in: its length, the end of its chunks, or all we read of it
    const errorBodyDone = (): boolean =>
      errorBodyLeft <= 0 ||
      scratchFilled === HEAD_LIMIT ||
      (/chunked/i.test(head!.headers.get('transfer-encoding') ?? '') &&
        scratch.subarray(Math.max(0, scratchFilled - 5), scratchFilled).toString('latin1') === '0\r\n\r\n');

    // the body's first bytes, read along with the head: copied once, then the socket reads in place
    const startBody = (bytes: Buffer): void => {
      if (head!.status >= 300) {
        const from = bytes.byteOffset - scratch.byteOffset;
        scratch.copyWithin(0, from, from + bytes.length);
        scratchFilled = bytes.length;
        errorBodyLeft = Math.min(ERROR_BODY_LIMIT, contentLength(head!) ?? ERROR_BODY_LIMIT) - bytes.length;
        if (errorBodyDone()) {
          failWithStatus();
        }
        return;
      }
      const problem = checkHead(head!, start, length);
      if (problem !== null) {
        finish(new Error(`GET ${redactedTarget(url)}: ${problem}`));
        return;
      }
      receive(bytes);
    };

    const receive = (bytes: Buffer): void => {
      if (bytes.length > length - filled) {
        finish(new Error(`GET ${redactedTarget(url)}: more bytes than the ${length} announced`));
        return;
      }
      if (bytes.length > 0) {
        if (bytes.buffer !== into.buffer || bytes.byteOffset !== into.byteOffset + filled) {
          bytes.copy(into, filled);
        }
        filled += bytes.length;
        options.onData?.(filled);
      }
      if (filled === length) {
        finish();
      }
    };

    // the head(s) in scratch so far: an interim answer (100 Continue, 103 Early Hints) is dropped
    // and the real one awaited
    const parseHeads = (): void => {
      for (;;) {
        const end = scratch.subarray(0, scratchFilled).indexOf('\r\n\r\n');
        if (end === -1) {
          if (scratchFilled === HEAD_LIMIT) {
            finish(new Error(`GET ${redactedTarget(url)}: response head over ${HEAD_LIMIT} bytes`));
          }
          return;
        }
        const parsed = parseHead(scratch.subarray(0, end).toString('latin1'));
        if (parsed === null) {
          finish(new Error(`GET ${redactedTarget(url)}: not an HTTP/1.1 response`));
          return;
        }
        if (parsed.status >= 200) {
          head = parsed;
          startBody(scratch.subarray(end + 4, scratchFilled));
          return;
        }
        scratch.copyWithin(0, end + 4, scratchFilled);
        scratchFilled -= end + 4;
      }
    };

    const onRead = (count: number, buffer: Buffer): boolean => {
      if (settled) {
        return false;
      }
      if (head !== null && head.status < 300) {
        receive(buffer.subarray(0, count));
        return true;
      }
      scratchFilled += count;
      if (head === null) {
        parseHeads();
      } else {
        errorBodyLeft -= count;
        if (errorBodyDone()) {
          failWithStatus();
        }
      }
      return true;
    };

    // Where the next read lands; node asks before every read, and again after the read that
    // settled this GET (TLS may still hand over bytes it had decrypted). Never an empty buffer:
    // scratch filling up settles the GET first.
    const nextBuffer = (): Buffer =>
      settled || (head !== null && head.status < 300 && filled === length)
        ? // done: anything more is dropped, read where it harms nothing
          scratch
        : head === null || head.status >= 300
          ? scratch.subarray(scratchFilled)
          : into.subarray(filled);

    const host = url.hostname.replace(/^\[|\]$/g, '');
    const secure = url.protocol === 'https:';
    const port = Number(url.port) || (secure ? 443 : 80);
    const connection = { host, port, onread: { buffer: nextBuffer, callback: onRead } };
    const socket: net.Socket = secure
      ? tls.connect({ ...connection, servername: net.isIP(host) === 0 ? host : undefined })
      : net.connect(connection);
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs ?? 30_000, () => {
      finish(
        Object.assign(new Error(`GET ${redactedTarget(url)}: no data for ${options.idleTimeoutMs ?? 30_000} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => {
      if (head !== null && head.status >= 300) {
        failWithStatus();
        return;
      }
      finish(
        Object.assign(new Error(`GET ${redactedTarget(url)}: connection closed after ${filled} of ${length} bytes`), {
          code: 'ECONNRESET',
        }),
      );
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
        `Host: ${url.host}\r\n` +
        `Range: bytes=${start}-${start + length - 1}\r\n` +
        'Connection: close\r\n\r\n',
    );
  });
}

function parseHead(text: string): ResponseHead | null {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) {
    return null;
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return { status: Number(status[1]), headers };
}

function contentLength(head: ResponseHead): number | undefined {
  const value = head.headers.get('content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
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

// The URL without its query: a presigned URL's query is a credential.
function redactedTarget(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
