// A part PUT's request body as a PartBody (@koodrive/storage). Once node's HTTP server has read the
// head, the body is read off the socket into a few buffers reused from PUT to PUT (SocketReads):
// node's parser would hand on every socket read as a fresh Buffer, and those allocations cost the
// garbage collector a quarter of the PUT's CPU. Never past Content-Length: the parser no longer
// knows where the connection is, so the answer must close it (PartUploadController answers every
// part PUT with `Connection: close`). Where the socket cannot be read so (TLS straight to the
// service), the body is read as the stream it is.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type PartBody, partBodyOf, SocketReads } from '@koodrive/storage';

export interface RequestBody extends PartBody {
  // every byte of the body came in
  readonly complete: boolean;
  // its client left (or its connection failed) before it had sent every byte
  readonly cut: boolean;
}

const SLAB_BYTES = 256 * 1024;
// slabs one body may lend at once: 1 MiB in flight, then reading waits for the store
const SLABS_PER_BODY = 4;
// slabs kept for the next bodies
const SPARE_SLABS = 32;
// a slab with less room than this left takes no more reads
const MIN_ROOM = 16 * 1024;
const spares: Buffer[] = [];

// how long a body answered early is drained before its connection is closed anyway
const DRAIN_MS = 2_000;

export function requestBody(request: IncomingMessage, size: number): RequestBody {
  const parser = (request.socket as Socket & { parser?: { unconsume?: () => void; _consumed?: boolean } }).parser;
  const plain = request.socket.constructor.name === 'Socket' && parser !== undefined && parser !== null;
  return plain && !request.complete && request.headers['transfer-encoding'] === undefined
    ? new SocketBody(request, size)
    : new StreamBody(request, size);
}

// The body read as a stream, node's chunks as they come (fresh buffers).
class StreamBody implements RequestBody {
  private readonly body: PartBody;

  constructor(
    private readonly request: IncomingMessage,
    size: number,
  ) {
    this.body = partBodyOf(request, size);
  }

  get complete(): boolean {
    return this.request.complete;
  }

  get cut(): boolean {
    return this.request.readableAborted;
  }

  flow(take: (chunk: Buffer, done: () => void) => void): Promise<void> {
    return this.body.flow(take);
  }

  stop(): void {
    this.body.stop();
  }
}

interface Slab {
  readonly buffer: Buffer;
  // where the next read lands
  filled: number;
  // chunks of it lent and not yet given back
  lent: number;
}

// A slab goes back for the next bodies once nothing of it is lent and no read can land in it.
function giveBack(slab: Slab): void {
  if (slab.lent === 0 && spares.length < SPARE_SLABS && !spares.includes(slab.buffer)) {
    spares.push(slab.buffer);
  }
}

// The body read off the socket into slabs: each read lands in the current slab's room, and is lent
// as it is; a slab is reused once full and every chunk of it is back.
class SocketBody implements RequestBody {
  private received = 0;
  private lost = false;
  // no more reads (the body is whole, cut, or no longer wanted)
  private finished = false;
  private readonly slabs: Slab[] = [];
  private current: Slab | undefined;
  private reads: SocketReads | null = null;
  private take: ((chunk: Buffer, done: () => void) => void) | undefined;
  private settle: ((error?: Error) => void) | undefined;

  constructor(
    private readonly request: IncomingMessage,
    private readonly size: number,
  ) {}

  get complete(): boolean {
    return this.received === this.size;
  }

  get cut(): boolean {
    return this.lost;
  }

  flow(take: (chunk: Buffer, done: () => void) => void): Promise<void> {
    const { request } = this;
    if (request.errored !== null || request.destroyed || request.socket.destroyed) {
      return Promise.reject(new Error(`the body was cut before the upload began (0 of ${this.size} bytes)`));
    }
    this.take = take;
    return new Promise<void>((resolve, reject) => {
      this.settle = (error) => {
        this.settle = undefined;
        request.socket.off('close', this.onClose).off('end', this.onClose);
        if (error === undefined) {
          resolve();
        } else {
          reject(error);
        }
      };
      // once node's parser is done with the socket read it is in (a handler that runs as the
      // head is parsed comes before the body bytes of the same read are handed on)
      process.nextTick(() => this.start());
    });
  }

  stop(): void {
    this.finish(new Error('stopped'));
  }

  private readonly onClose = (): void => {
    if (!this.complete) {
      this.lost = true;
      this.finish(new Error(`the body was cut after ${this.received} of ${this.size} bytes`));
    }
  };

  private finish(error?: Error): void {
    if (!this.finished) {
      this.finished = true;
      // a body not taken whole is drained, as node's server drains one it answered early
      if (error === undefined) {
        this.reads?.end();
      } else if (this.reads !== null) {
        this.reads.drain();
        // for a while: the socket left node's server with its parser, so neither the server's
        // close nor its timeouts reach it, and a client that goes on sending would keep it open
        // (and a process that ends with it open spins in its cleanup)
        const socket = this.request.socket;
        const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
        socket.once('close', () => clearTimeout(timer));
      }
      this.slabs.forEach(giveBack);
    }
    this.settle?.(error);
  }

  private start(): void {
    const { request } = this;
    if (this.finished) {
      return;
    }
    const socket = request.socket as Socket & { parser: { unconsume?: () => void; _consumed?: boolean } };
    // node's parser lets go of the socket (as its server does for an upgrade)
    if (socket.parser._consumed === true) {
      socket.parser.unconsume?.();
      socket.parser._consumed = false;
    }
    for (const listener of socket.listeners('pause')) {
      if (listener.name === 'onSocketPause') {
        socket.off('pause', listener as () => void);
      }
    }
    for (const listener of socket.listeners('resume')) {
      if (listener.name === 'onSocketResume') {
        socket.off('resume', listener as () => void);
      }
    }
    socket.once('close', this.onClose).once('end', this.onClose);
    // what the parser had read of the body already
    for (let chunk = request.read() as Buffer | null; chunk !== null; chunk = request.read() as Buffer | null) {
      this.hand(chunk, () => undefined);
    }
    if (this.complete) {
      this.whole();
      return;
    }
    this.reads = SocketReads.take(socket, { room: () => this.room(), landed: (bytes) => this.landed(bytes) });
    if (this.reads === null) {
      this.finish(new Error('the request body cannot be read off its socket'));
    }
  }

  private hand(chunk: Buffer, done: () => void): void {
    if (chunk.length > this.size - this.received) {
      this.finish(new Error(`the body is longer than ${this.size} bytes`));
      return;
    }
    this.received += chunk.length;
    this.take!(chunk, done);
  }

  // where the next read may land: the current slab's room, or a slab free again, never past the body
  private room(): Buffer | null {
    const left = this.size - this.received;
    if (left === 0 || this.finished) {
      return null;
    }
    if (this.current === undefined || this.current.buffer.length - this.current.filled < MIN_ROOM) {
      this.current = this.freeSlab();
      if (this.current === undefined) {
        return null;
      }
    }
    const { buffer, filled } = this.current;
    return buffer.subarray(filled, filled + Math.min(left, buffer.length - filled));
  }

  private freeSlab(): Slab | undefined {
    const free = this.slabs.find((slab) => slab.lent === 0 && slab !== this.current);
    if (free !== undefined) {
      free.filled = 0;
      return free;
    }
    if (this.slabs.length === SLABS_PER_BODY) {
      return undefined;
    }
    const slab = { buffer: spares.pop() ?? Buffer.allocUnsafe(SLAB_BYTES), filled: 0, lent: 0 };
    this.slabs.push(slab);
    return slab;
  }

  private landed(bytes: Buffer): void {
    const slab = this.current!;
    slab.filled += bytes.length;
    slab.lent += 1;
    this.hand(bytes, () => {
      slab.lent -= 1;
      if (this.finished) {
        giveBack(slab);
      } else if (slab.lent === 0) {
        this.reads?.resume();
      }
    });
    if (this.complete) {
      this.whole();
    }
  }

  // Every byte is in: reading stops, and the request is complete and has ended as far as the rest
  // of the server knows (its 'end' comes without reading on: the socket is not read again).
  private whole(): void {
    this.request.complete = true;
    this.request.push(null);
    this.request.read(0);
    this.finish();
  }
}
