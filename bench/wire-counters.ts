// Counters of what a process asks its dependencies, read off the wire by a proxy between them
// (tools/testing/fault-proxy.ts with `observe`, or its HTTP request log for S3):
// - PostgreSQL (protocol 3): statements run, by the server's CommandComplete tag (SELECT, INSERT,
//   BEGIN, COMMIT...; a statement that failed counts as `error`), the client's Parse, Execute and
//   simple Query messages, and round trips (each Sync or simple Query waits for a ReadyForQuery);
// - Redis (RESP2, and RESP3's types): commands by name, replies, and round trips: a round trip
//   starts when a connection with no reply owed sends a command, and takes in every command sent
//   before the answers caught up (a pipeline, or commands written in one tick, are one). Commands
//   of concurrent requests on one connection overlap, so count round trips one request at a time;
// - S3: each HTTP request the proxy saw, by operation (from the method, the path and its query).
// Run by the bench with Node's type stripping: erasable syntax only.
import type { SeenRequest, WireObserver } from '../tools/testing/fault-proxy.ts';

export type Tally = Record<string, number>;

export interface PgCounts {
  // statements the server finished (CommandComplete) or refused (ErrorResponse)
  statements: number;
  // by CommandComplete tag's verb: SELECT, INSERT, UPDATE, DELETE, BEGIN, COMMIT, ...; error
  byVerb: Tally;
  parses: number;
  executes: number;
  queries: number;
  // Sync and simple Query messages: each waits for the server's ReadyForQuery
  roundTrips: number;
  connections: number;
  // bytes left unparsed (a protocol this counter does not follow, e.g. TLS): 0 when the counts hold
  unparsedBytes: number;
}

export interface RespCounts {
  commands: number;
  byCommand: Tally;
  replies: number;
  errorReplies: number;
  roundTrips: number;
  connections: number;
  unparsedBytes: number;
}

export const emptyPgCounts = (): PgCounts => ({
  statements: 0,
  byVerb: {},
  parses: 0,
  executes: 0,
  queries: 0,
  roundTrips: 0,
  connections: 0,
  unparsedBytes: 0,
});

export const emptyRespCounts = (): RespCounts => ({
  commands: 0,
  byCommand: {},
  replies: 0,
  errorReplies: 0,
  roundTrips: 0,
  connections: 0,
  unparsedBytes: 0,
});

function add(tally: Tally, name: string, count = 1): void {
  tally[name] = (tally[name] ?? 0) + count;
}

// Frames a byte stream into messages: `next(bytes)` answers a message's length in bytes when one
// is whole at the start of `bytes`, 0 when more bytes are needed.
class Framer {
  private pending: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer, next: (bytes: Buffer) => number, take: (message: Buffer) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    for (;;) {
      const length = at < this.pending.length ? next(this.pending.subarray(at)) : 0;
      if (length === 0) {
        break;
      }
      take(this.pending.subarray(at, at + length));
      at += length;
    }
    this.pending = at === 0 ? this.pending : Buffer.from(this.pending.subarray(at));
  }

  get buffered(): number {
    return this.pending.length;
  }
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

// One PostgreSQL connection, both directions, adding to `counts`.
export class PgWireObserver implements WireObserver {
  private readonly counts: PgCounts;
  private readonly client = new Framer();
  private readonly server = new Framer();
  // the client's next message is an untyped startup message (or SSL/GSS request)
  private clientStartup = true;
  // the server's next answer is the one byte that answers an SSL or GSS request
  private serverByte = false;
  private lost = false;

  constructor(counts: PgCounts) {
    this.counts = counts;
    counts.connections++;
  }

  fromClient(chunk: Buffer): void {
    if (this.lost) {
      this.counts.unparsedBytes += chunk.length;
      return;
    }
    this.client.feed(
      chunk,
      (bytes) => {
        const header = this.clientStartup ? 4 : 5;
        if (bytes.length < header) {
          return 0;
        }
        const length = this.clientStartup ? bytes.readUInt32BE(0) : 1 + bytes.readUInt32BE(1);
        return bytes.length < length ? 0 : length;
      },
      (message) => this.clientMessage(message),
    );
  }

  fromUpstream(chunk: Buffer): void {
    if (this.lost) {
      this.counts.unparsedBytes += chunk.length;
      return;
    }
    this.server.feed(
      chunk,
      (bytes) => {
        if (this.serverByte) {
          return 1;
        }
        return bytes.length < 5 || bytes.length < 1 + bytes.readUInt32BE(1) ? 0 : 1 + bytes.readUInt32BE(1);
      },
      (message) => this.serverMessage(message),
    );
  }

  private clientMessage(message: Buffer): void {
    if (this.clientStartup) {
      const code = message.readUInt32BE(4);
      // after an SSL or GSS request the client sends a startup message again
      this.serverByte = code === SSL_REQUEST || code === GSSENC_REQUEST;
      this.clientStartup = this.serverByte;
      return;
    }
    switch (String.fromCharCode(message[0]!)) {
      case 'P':
        this.counts.parses++;
        break;
      case 'E':
        this.counts.executes++;
        break;
      case 'Q':
        this.counts.queries++;
        this.counts.roundTrips++;
        break;
      case 'S':
        this.counts.roundTrips++;
        break;
      default:
        break;
    }
  }

  private serverMessage(message: Buffer): void {
    if (this.serverByte) {
      this.serverByte = false;
      if (message[0] === 0x53) {
        this.lost = true; // 'S': TLS from here on
      }
      return;
    }
    const type = String.fromCharCode(message[0]!);
    if (type === 'C') {
      const tag = message.toString('latin1', 5, message.indexOf(0, 5));
      this.counts.statements++;
      add(this.counts.byVerb, tag.split(' ')[0]!);
    } else if (type === 'E') {
      this.counts.statements++;
      add(this.counts.byVerb, 'error');
    }
  }
}

const CRLF = 0x0d;

// The end of the line starting at `at` (the index after its \r\n), or -1 when it is not all here.
function lineEnd(bytes: Buffer, at: number): number {
  const cr = bytes.indexOf(CRLF, at);
  return cr < 0 || cr + 1 >= bytes.length ? -1 : cr + 2;
}

// The end of the RESP value starting at `at`, or -1 when it is not all here.
export function respValueEnd(bytes: Buffer, at: number): number {
  const end = lineEnd(bytes, at);
  if (end < 0) {
    return -1;
  }
  const type = String.fromCharCode(bytes[at]!);
  const size = Number(bytes.toString('latin1', at + 1, end - 2));
  switch (type) {
    case '$': // bulk string
    case '!': // RESP3 bulk error
    case '=': // RESP3 verbatim string
      return size < 0 ? end : end + size + 2 <= bytes.length ? end + size + 2 : -1;
    case '*': // array
    case '~': // RESP3 set
    case '>': // RESP3 push
    case '%': // RESP3 map: pairs
    case '|': {
      // RESP3 attribute: pairs, then the value they describe
      let next = end;
      const elements = type === '%' || type === '|' ? 2 * size : Math.max(size, 0);
      for (let i = 0; i < elements && next >= 0; i++) {
        next = respValueEnd(bytes, next);
      }
      return type === '|' && next >= 0 ? respValueEnd(bytes, next) : next;
    }
    default: // + - : , # _ ( : one line
      return end;
  }
}

// A command's name: the first bulk string of its array, or the first word of an inline command.
function commandName(message: Buffer): string {
  if (message[0] !== 0x2a) {
    return message
      .toString('latin1', 0, message.length - 2)
      .trim()
      .split(/\s+/)[0]!
      .toUpperCase();
  }
  const header = lineEnd(message, 0);
  const first = lineEnd(message, header);
  const size = Number(message.toString('latin1', header + 1, first - 2));
  return message.toString('latin1', first, first + size).toUpperCase();
}

// One Redis connection, both directions, adding to `counts`.
export class RespWireObserver implements WireObserver {
  private readonly counts: RespCounts;
  private readonly client = new Framer();
  private readonly server = new Framer();
  // replies owed for the commands sent so far
  private owed = 0;

  constructor(counts: RespCounts) {
    this.counts = counts;
    counts.connections++;
  }

  fromClient(chunk: Buffer): void {
    this.client.feed(
      chunk,
      (bytes) => {
        const end = bytes[0] === 0x2a ? respValueEnd(bytes, 0) : lineEnd(bytes, 0);
        return end < 0 ? 0 : end;
      },
      (message) => {
        if (message.length <= 2) {
          return; // an empty inline line
        }
        if (this.owed === 0) {
          this.counts.roundTrips++;
        }
        this.owed++;
        this.counts.commands++;
        add(this.counts.byCommand, commandName(message));
      },
    );
  }

  fromUpstream(chunk: Buffer): void {
    this.server.feed(
      chunk,
      (bytes) => Math.max(respValueEnd(bytes, 0), 0),
      (message) => {
        if (message[0] === 0x3e) {
          return; // '>': a RESP3 push, no reply to a command
        }
        this.counts.replies++;
        this.owed = Math.max(0, this.owed - 1);
        if (message[0] === 0x2d || message[0] === 0x21) {
          this.counts.errorReplies++;
        }
      },
    );
  }
}

// The S3 operation of a request to a path-style `bucket` (/bucket/key?query), as the SDK names
// them: CreateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload, HeadObject,
// GetObject (with " (range)" when it has a Range header)...
export function s3Operation(request: SeenRequest, bucket: string): string {
  const url = new URL(request.path, 'http://s3');
  const query = url.searchParams;
  const onObject = url.pathname.length > bucket.length + 2;
  const operation = query.get('x-id');
  const ranged = request.range === undefined ? '' : ' (range)';
  if (operation !== null) {
    return operation === 'GetObject' ? operation + ranged : operation;
  }
  const method = request.method;
  if (query.has('uploadId')) {
    const byMethod: Tally = { PUT: 0, GET: 1, POST: 2, DELETE: 3 };
    const names = ['UploadPart', 'ListParts', 'CompleteMultipartUpload', 'AbortMultipartUpload'];
    return names[byMethod[method] ?? -1] ?? `${method} ?uploadId`;
  }
  if (query.has('uploads')) {
    return method === 'POST' ? 'CreateMultipartUpload' : 'ListMultipartUploads';
  }
  if (!onObject) {
    if (method === 'GET') {
      return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    }
    return method === 'POST' && query.has('delete') ? 'DeleteObjects' : `${method}Bucket`;
  }
  const objectOps: Record<string, string> = {
    GET: 'GetObject' + ranged,
    HEAD: 'HeadObject',
    PUT: 'PutObject',
    DELETE: 'DeleteObject',
  };
  return objectOps[method] ?? `${method}Object`;
}

export function s3Tally(requests: readonly SeenRequest[], bucket: string): Tally {
  const tally: Tally = {};
  for (const request of requests) {
    add(tally, s3Operation(request, bucket));
  }
  return tally;
}

export const total = (tally: Tally): number => Object.values(tally).reduce((sum, n) => sum + n, 0);
