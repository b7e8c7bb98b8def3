// A lean HTTP/1.1 PUT of a stream of known length to a presigned URL (a part's UploadPart).
//
// Why not the SDK: a part PUT through the service went client → node's HTTP server → a hashing
// Transform → the SDK's pipeline → node's HTTP client, a stream hop and its callbacks per 64 KiB
// chunk both ways. Here the body's chunks are written to the socket as they come, in the order
// they come, nothing copied: the request head, then each chunk (a full socket pauses the body until
// it drains), then the answer is read: 200 with an ETag, else the S3 error code of its XML body.
// One fresh connection per PUT (Connection: close): a part is megabytes, a TCP handshake nothing
// beside it. No retry: the body is a stream, sent once, as the SDK does with a streaming body.
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { redactedTarget, ResponseReader, type ReadResult, s3ErrorCode } from './http-head.js';

export interface StreamPutOptions {
  // aborting resets the connection at once: nothing more of the body is sent (over plain TCP the
  // kernel's unsent queue is dropped too; bytes already on the wire may still arrive, short of the
  // announced length, so the store keeps nothing)
  readonly signal?: AbortSignal;
  // connecting (TLS handshake included) may take this long (ETIMEDOUT)
  readonly connectTimeoutMs: number;
  // a store that takes no byte for this long while bytes wait, or says nothing for this long once
  // it has them all or has begun an error answer, is given up (ETIMEDOUT); a body that is slow to
  // come is its owner's to time
  readonly idleTimeoutMs: number;
}

// The store answered the PUT with a status other than 200. `code` is the S3 error code from the
// XML body, when there is one (NoSuchUpload, SlowDown, AccessDenied, ...).
export class PutStatusError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(`PUT answered HTTP ${status}${code === undefined ? '' : ` ${code}`}`);
    this.name = 'PutStatusError';
  }
}

// PUTs the `size` bytes `body` yields to `url`; answers the ETag of a 200. Rejects on any other
// answer (PutStatusError), a body longer or shorter than `size`, a body that fails, a connection
// lost, a timeout or an abort; in each case the connection is destroyed before the whole body
// went, so the store keeps nothing. Reads `body` in flowing mode through its 'data' events.
export function putStream(url: URL, body: Readable, size: number, options: StreamPutOptions): Promise<string> {
  if (options.signal?.aborted === true) {
    return Promise.reject(options.signal.reason as Error);
  }
  // a body already gone (its client left while the PUT was being prepared) emits nothing more:
  // nothing would ever end this PUT but the store's own timeout
  if (body.errored !== null || (body.destroyed && !body.readableEnded)) {
    return Promise.reject(new Error(`the body was cut before the upload began (0 of ${size} bytes)`));
  }
  return new Promise<string>((resolve, reject) => new StreamPut(url, body, size, options, resolve, reject).send());
}

class StreamPut {
  private socket: net.Socket | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly response = new ResponseReader();
  private sent = 0;
  private settled = false;
  private readonly onAbort = (): void => this.finish(this.options.signal!.reason as Error);
  private readonly onChunk = (chunk: Buffer): void => this.write(chunk);
  private readonly onBodyEnd = (): void => {
    if (this.sent !== this.size) {
      this.fail(`the body ended after ${this.sent} of ${this.size} bytes`);
    }
  };
  private readonly onBodyError = (error: Error): void => this.finish(error);
  private readonly onBodyClose = (): void => {
    if (!this.body.readableEnded) {
      this.fail(`the body was cut after ${this.sent} of ${this.size} bytes`);
    }
  };
  private readonly onDrain = (): void => {
    if (this.sent < this.size) {
      this.awaitStore(false);
    }
    this.body.resume();
  };

  constructor(
    private readonly url: URL,
    private readonly body: Readable,
    private readonly size: number,
    private readonly options: StreamPutOptions,
    private readonly resolve: (etag: string) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  send(): void {
    const { url, options } = this;
    const socket = this.connect();
    this.connectTimer = setTimeout(
      () => this.timedOut(`could not connect in ${options.connectTimeoutMs} ms`),
      options.connectTimeoutMs,
    );
    socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => clearTimeout(this.connectTimer));
    socket.on('timeout', () =>
      this.timedOut(
        this.sent < this.size
          ? `the store took no byte for ${options.idleTimeoutMs} ms`
          : `no answer ${options.idleTimeoutMs} ms after the body`,
      ),
    );
    socket.on('error', (error) => {
      // a store that answered and closed may reset the connection under the rest of the body
      const result = this.response.closed();
      if (result.kind === 'done') {
        this.answer(result);
      } else {
        this.finish(error);
      }
    });
    socket.on('data', (chunk: Buffer) => this.answer(this.response.push(chunk)));
    socket.on('close', () => {
      const result = this.response.closed();
      if (result.kind === 'done') {
        this.answer(result);
      } else {
        this.lost(`connection closed after ${this.sent} of ${this.size} bytes, before an answer`);
      }
    });
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    // written as soon as the connection is up; the body follows as it comes
    socket.write(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\n` +
        `Host: ${url.host}\r\n` +
        `Content-Length: ${this.size}\r\n` +
        'Connection: close\r\n\r\n',
      'latin1',
    );
    const { body } = this;
    body.on('data', this.onChunk);
    body.once('end', this.onBodyEnd);
    body.once('error', this.onBodyError);
    body.once('close', this.onBodyClose);
    socket.on('drain', this.onDrain);
    if (this.size === 0) {
      this.awaitStore(true);
    }
    body.resume();
  }

  private connect(): net.Socket {
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const secure = this.url.protocol === 'https:';
    const port = Number(this.url.port) || (secure ? 443 : 80);
    this.socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined })
      : net.connect({ host, port });
    // the body's last bytes go at once, not after the ACK of the ones before
    this.socket.setNoDelay(true);
    return this.socket;
  }

  private write(chunk: Buffer): void {
    if (this.settled) {
      return;
    }
    if (chunk.length > this.size - this.sent) {
      this.fail(`the body is longer than ${this.size} bytes`);
      return;
    }
    this.sent += chunk.length;
    const full = !this.socket!.write(chunk);
    if (full) {
      this.body.pause();
    }
    if (full || this.sent === this.size) {
      this.awaitStore(true);
    }
  }

  // Whether the store is what this PUT waits on (bytes it has not taken, or its answer): only then
  // does its silence count toward the idle timeout (any byte moving either way restarts it).
  private awaitStore(waiting: boolean): void {
    this.socket!.setTimeout(waiting ? this.options.idleTimeoutMs : 0);
  }

  private answer(result: ReadResult): void {
    if (this.settled || result.kind === 'pending') {
      return;
    }
    if (result.kind === 'malformed') {
      this.fail(result.problem);
      return;
    }
    const { status, headers } = result.head;
    if (status >= 300) {
      // nothing more goes to a store that has answered; the rest of its error body is awaited
      this.detachBody(true);
      this.awaitStore(true);
      if (result.kind === 'done') {
        this.finish(new PutStatusError(status, s3ErrorCode(result.body)));
      }
      return;
    }
    // the body's own end is awaited by whoever reads it: the answer only has to follow all of it
    if (this.sent < this.size) {
      this.fail(`HTTP ${status} after ${this.sent} of ${this.size} bytes`);
      return;
    }
    const etag = headers.get('etag');
    if (status !== 200 || etag === undefined || etag === '') {
      this.fail(`HTTP ${status} ${etag === undefined ? 'without an ETag' : ''}`.trim());
      return;
    }
    this.finish(undefined, etag);
  }

  private timedOut(what: string): void {
    this.finish(Object.assign(new Error(`PUT ${redactedTarget(this.url)}: ${what}`), { code: 'ETIMEDOUT' }));
  }

  private lost(what: string): void {
    this.finish(Object.assign(new Error(`PUT ${redactedTarget(this.url)}: ${what}`), { code: 'ECONNRESET' }));
  }

  private fail(problem: string): void {
    this.finish(new Error(`PUT ${redactedTarget(this.url)}: ${problem}`));
  }

  // `stop`: the body's rest is not read here (it stays for its owner to drop); else it flows on to
  // its end for whoever else reads it
  private detachBody(stop: boolean): void {
    const { body } = this;
    body.off('data', this.onChunk);
    body.off('end', this.onBodyEnd);
    body.off('error', this.onBodyError);
    body.off('close', this.onBodyClose);
    this.socket?.off('drain', this.onDrain);
    if (stop) {
      body.pause();
    } else {
      body.resume();
    }
  }

  private finish(error: Error | undefined, etag?: string): void {
    if (this.settled) {
      return;
    }
    this.settled = true;
    clearTimeout(this.connectTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.detachBody(error !== undefined);
    if (error !== undefined && this.socket !== undefined && !(this.socket instanceof tls.TLSSocket)) {
      // a reset, not a close: what the kernel still holds of the body is dropped, not sent
      // ahead of a FIN the store could take for the body's end (a TLS socket cannot be reset;
      // its record layer makes a cut body fail to decrypt anyway)
      this.socket.resetAndDestroy();
    } else {
      this.socket?.destroy();
    }
    if (error === undefined) {
      this.resolve(etag!);
    } else {
      this.reject(error);
    }
  }
}
