// A part's bytes PUT to a presigned UploadPart URL over node:http, as they come: each chunk goes
// to the socket as it is taken from the body and is handed back once the socket has it (the body
// may be reading into buffers it reuses). One connection per PUT: a part is megabytes, a handshake
// nothing beside it, and a PUT that fails resets its connection so the store keeps nothing. Not
// retried: the body is read once, as the SDK does with a streaming body.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { PartBody } from './part-body.js';
import { connectionError, redactedTarget, statusError } from './store-answer.js';

export interface PartPutOptions {
  // aborting resets the connection at once: nothing more of the body is sent
  readonly signal?: AbortSignal;
  // connecting (TLS handshake included) may take this long (ETIMEDOUT)
  readonly connectTimeoutMs: number;
  // a store that takes no byte for this long while bytes wait, or says nothing for this long once
  // it has them all, is given up (ETIMEDOUT); a body that is slow to come is its owner's to time
  readonly idleTimeoutMs: number;
}

// PUTs `size` bytes of `body` to `url`; answers the ETag of a 200. Rejects on any other answer
// (StoreStatusError), a body that fails or is not `size` bytes, a connection lost, a timeout or an
// abort, the connection then reset before the whole body went.
export function putPart(url: URL, body: PartBody, size: number, options: PartPutOptions): Promise<string> {
  if (options.signal?.aborted === true) {
    return Promise.reject(options.signal.reason as Error);
  }
  return new Promise<string>((resolve, reject) => new PartPut(url, body, size, options, resolve, reject).send());
}

class PartPut {
  private request: http.ClientRequest | undefined;
  private socket: Socket | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private sent = 0;
  // chunks written that the socket has not taken yet
  private writing = 0;
  private bodyEnded = false;
  private answered = false;
  private settled = false;
  private readonly onAbort = (): void => this.finish(this.options.signal!.reason as Error);

  constructor(
    private readonly url: URL,
    private readonly body: PartBody,
    private readonly size: number,
    private readonly options: PartPutOptions,
    private readonly resolve: (etag: string) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  send(): void {
    const transport = this.url.protocol === 'https:' ? https : http;
    const request = transport.request(this.url, {
      method: 'PUT',
      agent: false,
      headers: { 'Content-Length': String(this.size) },
    });
    this.request = request;
    request.on('socket', (socket) => this.onSocket(socket));
    request.on('response', (response) => this.onResponse(response));
    request.on('error', (error: Error & { code?: string }) => {
      if (!this.answered && error.code === 'ECONNRESET') {
        this.lost();
      } else if (!this.answered) {
        this.finish(error);
      }
    });
    this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.body
      .flow((chunk, done) => this.write(chunk, done))
      .then(
        () => this.bodyDone(),
        // once the store has answered, its answer is what this PUT comes to (the body stopped)
        (error: unknown) => (this.answered ? undefined : this.finish(error as Error)),
      );
  }

  private onSocket(socket: Socket): void {
    this.socket = socket;
    // the body's last bytes go at once, not after the ACK of the ones before
    socket.setNoDelay(true);
    if (socket.connecting) {
      this.connectTimer = setTimeout(
        () => this.timedOut(`could not connect in ${this.options.connectTimeoutMs} ms`),
        this.options.connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(this.connectTimer));
    }
    socket.on('timeout', () =>
      this.timedOut(
        this.bodyEnded
          ? `no answer ${this.options.idleTimeoutMs} ms after the body`
          : `the store took no byte for ${this.options.idleTimeoutMs} ms`,
      ),
    );
    this.awaitStore();
  }

  private write(chunk: Buffer, done: () => void): void {
    if (this.settled) {
      done();
      return;
    }
    if (chunk.length > this.size - this.sent) {
      done();
      this.fail(`the body is longer than ${this.size} bytes`);
      return;
    }
    this.sent += chunk.length;
    this.writing += 1;
    this.awaitStore();
    this.request!.write(chunk, () => {
      this.writing -= 1;
      this.awaitStore();
      done();
    });
  }

  private bodyDone(): void {
    if (this.settled) {
      return;
    }
    if (this.sent !== this.size) {
      this.fail(`the body ended after ${this.sent} of ${this.size} bytes`);
      return;
    }
    this.bodyEnded = true;
    this.awaitStore();
    this.request!.end();
  }

  // The store's silence counts toward the idle timeout only while this PUT waits on it: bytes it
  // has not taken, or its answer, or the rest of an answer begun (any byte moving either way
  // restarts the count).
  private awaitStore(): void {
    const waiting = this.writing > 0 || this.bodyEnded || this.answered;
    this.socket?.setTimeout(waiting ? this.options.idleTimeoutMs : 0);
  }

  private onResponse(response: http.IncomingMessage): void {
    this.answered = true;
    const status = response.statusCode ?? 0;
    if (status >= 300) {
      // nothing more goes to a store that has answered
      this.body.stop();
      this.awaitStore();
      void statusError(response, `PUT ${redactedTarget(this.url)}`).then((error) => this.finish(error));
      return;
    }
    response.resume();
    const etag = response.headers.etag;
    if (this.sent < this.size || !this.bodyEnded) {
      this.fail(`HTTP ${status} after ${this.sent} of ${this.size} bytes`);
    } else if (status !== 200 || etag === undefined || etag === '') {
      this.fail(`HTTP ${status}${etag === undefined || etag === '' ? ' without an ETag' : ''}`);
    } else {
      this.finish(undefined, etag);
    }
  }

  private timedOut(what: string): void {
    this.finish(connectionError(`PUT ${redactedTarget(this.url)}: ${what}`, 'ETIMEDOUT'));
  }

  private lost(): void {
    const what = `connection closed after ${this.sent} of ${this.size} bytes, before an answer`;
    this.finish(connectionError(`PUT ${redactedTarget(this.url)}: ${what}`, 'ECONNRESET'));
  }

  private fail(problem: string): void {
    this.finish(new Error(`PUT ${redactedTarget(this.url)}: ${problem}`));
  }

  private finish(error: Error | undefined, etag?: string): void {
    if (this.settled) {
      return;
    }
    this.settled = true;
    clearTimeout(this.connectTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (error !== undefined) {
      this.body.stop();
      // a reset, not a close: what the kernel still holds of the body is dropped, not sent ahead of
      // a FIN the store could take for the body's end (a TLS socket cannot be reset; its record
      // layer makes a cut body fail to decrypt anyway)
      if (this.socket !== undefined && this.socket.constructor.name === 'Socket' && !this.socket.destroyed) {
        // but not once the socket's end is under way (node's client ends it after a store's answer
        // with Connection: close): libuv refuses to reset a handle that is shutting down, and node
        // then leaves it open, its descriptor leaked (and a process that ends spins in its cleanup)
        if (this.socket.writableEnded) {
          this.socket.destroy();
        } else {
          this.socket.resetAndDestroy();
        }
      }
      this.request?.destroy();
      this.reject(error);
    } else {
      this.socket?.setTimeout(0);
      this.resolve(etag!);
    }
  }
}
