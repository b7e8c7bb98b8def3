// The one hand-written piece of the lean data path: a connected TCP socket's reads land straight in
// buffers its user lends it, where node allocates a fresh Buffer per read (64 KiB) and its HTTP
// parser copies each body chunk into another. Those allocations are external memory: every ~64 MB of
// them costs a full garbage collection of the heap, which was a quarter of a part PUT's CPU. Used
// for the bodies of large ranged GETs (the read-back) and of part PUTs through the service, once
// node:http has read the head. `npm run bench -- --only transport` measures it against node:http
// and undici reading the same bytes.
//
// It switches the socket to node's `onread` mode (net.connect's documented option, reading into a
// given buffer) after the fact: the socket's own `kBuffer`/`kBufferCb`/`kBufferGen` slots and
// `handle.useUserBuffer`, which is how net.connect sets that mode up. `SocketReads.take` answers
// null when the socket has no such handle (a TLS socket, a socket already gone, another node), and
// the caller reads the ordinary way.
import type net from 'node:net';
import { constants } from 'node:os';

// Where reads land and what becomes of them: `room()` is the buffer the next read may fill (null:
// none free, reading pauses until resume()); `landed` gets the bytes of each read, in order.
export interface ReadTarget {
  room(): Buffer | null;
  landed(bytes: Buffer): void;
}

interface StreamHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
}

interface Slots {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

// a read parked while no room was free lands here, and is copied once room frees up
const PARKING_BYTES = 64 * 1024;

let slots: Slots | null | undefined;

// The socket's onread slots, found by name on a socket (every net.Socket has them).
function slotsOf(socket: net.Socket): Slots | null {
  if (slots === undefined) {
    const symbols = new Map(Object.getOwnPropertySymbols(socket).map((symbol) => [symbol.description, symbol]));
    const [buffer, callback, generator] = ['kBuffer', 'kBufferCb', 'kBufferGen'].map((name) => symbols.get(name));
    slots = buffer && callback && generator ? { buffer, callback, generator } : null;
  }
  return slots;
}

function handleOf(socket: net.Socket): StreamHandle | null {
  const handle = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle;
  const streamBase =
    handle !== null &&
    handle !== undefined &&
    typeof handle.useUserBuffer === 'function' &&
    typeof handle.readStart === 'function' &&
    typeof handle.readStop === 'function';
  return streamBase && socket.constructor.name === 'Socket' ? (handle as StreamHandle) : null;
}

export class SocketReads {
  private readonly parking = Buffer.allocUnsafe(PARKING_BYTES);
  // the buffer node reads into next (what room() gave, or parking)
  private current: Buffer;
  private parked: Buffer | null = null;
  private stopped = false;
  private draining = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly handle: StreamHandle,
    private readonly slots: Slots,
    private readonly target: ReadTarget,
  ) {
    this.current = target.room() ?? this.parking;
  }

  // Switches `socket` to reading into `target`'s room, and starts reading (unless no room is
  // free). Nothing may read the socket the ordinary way meanwhile (an HTTP parser is detached
  // first); bytes it already read are the caller's to hand on. Null when this socket cannot.
  static take(socket: net.Socket, target: ReadTarget): SocketReads | null {
    const handle = handleOf(socket);
    const found = slotsOf(socket);
    if (handle === null || found === null || socket.destroyed) {
      return null;
    }
    const reads = new SocketReads(socket, handle, found, target);
    const slot = socket as unknown as Record<symbol, unknown>;
    slot[found.buffer] = reads.current;
    slot[found.callback] = (count: number, into: Buffer) => reads.onRead(count, into);
    slot[found.generator] = () => reads.next();
    handle.useUserBuffer(reads.current);
    if (reads.current === reads.parking) {
      reads.stop();
    } else {
      reads.start();
    }
    return reads;
  }

  // Room has freed up: reading goes on (a read parked meanwhile is handed on first).
  resume(): void {
    if (this.stopped || this.handle.reading) {
      return;
    }
    if (this.parked !== null) {
      const parked = this.parked;
      this.parked = null;
      if (!this.deliverParked(parked)) {
        return;
      }
    }
    if (this.current === this.parking) {
      const room = this.target.room();
      if (room === null) {
        return;
      }
      // node still reads into parking: this read is copied, the next ones land in place
    }
    this.start();
  }

  // No more reads: the socket is left as it is (its owner closes it). Whatever reads it later
  // (node resuming it on its way to close) lands in parking, never in the target's buffers.
  end(): void {
    this.let(false);
  }

  // The rest is not wanted: what comes is read into parking and dropped until the socket closes
  // (as node's server drains a body it answered early, so that the close is not a reset that
  // loses the answer on its way).
  drain(): void {
    this.let(true);
  }

  private let(draining: boolean): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    this.draining = draining;
    if (!draining) {
      this.stop();
    }
    this.current = this.parking;
    (this.socket as unknown as Record<symbol, unknown>)[this.slots.buffer] = this.parking;
    if (!this.socket.destroyed) {
      this.handle.useUserBuffer(this.parking);
      if (draining && !this.handle.reading) {
        this.start();
      }
    }
  }

  private start(): void {
    this.handle.reading = true;
    const error = this.handle.readStart();
    // EALREADY: node had it reading without saying so (its `reading` flag lags libuv's)
    if (error !== 0 && error !== -constants.errno.EALREADY) {
      this.socket.destroy(Object.assign(new Error(`readStart failed (${error})`), { code: 'EIO' }));
    }
  }

  private stop(): void {
    if (this.handle.reading) {
      this.handle.reading = false;
      this.handle.readStop();
    }
  }

  // node: `count` bytes landed in `into` (the buffer next() gave last); false pauses reading
  private onRead(count: number, into: Buffer): boolean {
    if (this.stopped) {
      return this.draining;
    }
    if (into === this.parking) {
      return this.deliverParked(Buffer.from(this.parking.subarray(0, count)));
    }
    this.target.landed(into.subarray(0, count));
    return !this.stopped;
  }

  // hands on a parked read through the room there is; false (reading stays paused) while some
  // of it waits for more room
  private deliverParked(parked: Buffer): boolean {
    let at = 0;
    while (at < parked.length) {
      const room = this.target.room();
      if (room === null) {
        this.parked = parked.subarray(at);
        this.stop();
        return false;
      }
      const count = parked.copy(room, 0, at);
      at += count;
      this.target.landed(room.subarray(0, count));
      if (this.stopped) {
        return false;
      }
    }
    return true;
  }

  // node asks where the read after this one lands
  private next(): Buffer {
    const room = this.stopped ? null : this.target.room();
    this.current = room ?? this.parking;
    if (room === null) {
      // nothing free: reading pauses (node reads nothing more before resume())
      this.stop();
    }
    return this.current;
  }
}
