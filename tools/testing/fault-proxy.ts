// A fault-injecting TCP proxy for the tests and the benches (tools/testing: both may import it),
// between the service and one of its dependencies.
// It forwards bytes both ways and can:
// - be stopped and restarted (`stop()`/`start()`): every connection is reset and the port refuses
//   connections while stopped, as when the dependency's process is down;
// - be frozen (`freeze()`/`thaw()`): connections are still accepted but no byte moves either way
//   until thawed, as when the dependency's process is SIGSTOPped or the network black-holes;
// - cut connections with a TCP RST on both sides: every one open now (`cutConnections()`), or the
//   first to pass a given number of bytes from upstream (`cutAfterUpstreamBytes()`), mid-answer;
// - for HTTP upstreams (S3), read the request lines going through, count them, and apply a fault
//   to the requests a rule matches: reset the connection before the request is forwarded, after
//   the whole response came back from upstream but before the client sees it (the work was done,
//   the answer is lost), or part way through the response body (the connection is cut: see
//   reset()); run a hook (`onAnswered`) at that moment (the crash tests SIGKILL the service
//   there); hold the response until released; or answer the request itself, never forwarding it
//   (`answer`, e.g. `s3ErrorAnswer(503, 'SlowDown', …)`).
// A raw TCP proxy can also show each connection's bytes to an observer (`observe`), as they pass:
// bench/wire-counters.ts counts PostgreSQL statements and Redis commands that way.
// The service's HTTP client does not pipeline, so a request's response is what upstream sends
// after the request, up to its Content-Length (or the last chunk).
// bench/load.ts runs this file with Node's type stripping: erasable syntax only, node built-ins only.
import { STATUS_CODES } from 'node:http';
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  // the Range header, when there is one
  readonly range?: string;
}

export type Fault =
  // the connection is reset; the request never reaches upstream
  | { readonly kind: 'reset-before' }
  // upstream gets the request and answers in full; the client's connection is reset instead
  | { readonly kind: 'reset-after-answer'; readonly onAnswered?: () => void }
  // the client gets the first `afterBytes` bytes of the response, then a reset
  | { readonly kind: 'reset-mid-response'; readonly afterBytes: number }
  // the full response is held back until `release` resolves, then passed on
  | { readonly kind: 'hold'; readonly release: Promise<void>; readonly onHeld?: () => void }
  // upstream never sees the request: the proxy answers 200 with a long body and sends one byte of
  // it every `everyMs`, never the whole (a store that is slow but never idle)
  | { readonly kind: 'trickle'; readonly everyMs: number }
  // upstream never sees the request: the proxy answers it with this status, body and headers
  // (Content-Length and Connection are the proxy's own); see HttpExchange.answer()
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly body?: string;
      readonly headers?: Readonly<Record<string, string>>;
    };

export type AnswerFault = Extract<Fault, { kind: 'answer' }>;

// Sees one connection's bytes as they are forwarded, each direction in order.
export interface WireObserver {
  fromClient(chunk: Buffer): void;
  fromUpstream(chunk: Buffer): void;
}

interface Rule {
  readonly match: (request: SeenRequest) => boolean;
  readonly fault: Fault;
  remaining: number;
}

// cutAfterUpstreamBytes(): one trap for every connection, spent by the first that springs it
interface CutTrap {
  readonly bytes: number;
  readonly onCut: (() => void) | undefined;
  armed: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export class FaultProxy {
  readonly requests: SeenRequest[] = [];
  private readonly rules: Rule[] = [];
  private readonly connections = new Set<Connection>();
  private server: Server | undefined;
  private port = 0;
  private frozen = false;
  private trap: CutTrap | undefined;
  // plain fields, not parameter properties: bench/load.ts runs this file with Node's type stripping
  private readonly target: { host: string; port: number };
  private readonly http: boolean;
  private readonly observe: (() => WireObserver) | undefined;

  private constructor(
    target: { host: string; port: number },
    http: boolean,
    observe: (() => WireObserver) | undefined,
  ) {
    this.target = target;
    this.http = http;
    this.observe = observe;
  }

  // `target` is a URL (http://host:port, postgresql://…, redis://…); `http` turns on request parsing;
  // `observe` (raw TCP only) makes an observer for each connection accepted.
  static async start(
    target: string,
    options: { http?: boolean; observe?: () => WireObserver } = {},
  ): Promise<FaultProxy> {
    const url = new URL(target);
    const proxy = new FaultProxy(
      { host: url.hostname, port: Number(url.port) },
      options.http ?? false,
      options.observe,
    );
    await proxy.start();
    return proxy;
  }

  // `target` with its host and port replaced by the proxy's
  url(target: string): string {
    const url = new URL(target);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString().replace(/\/$/, '');
  }

  // Applies `fault` to the next `times` requests `match` accepts.
  inject(match: (request: SeenRequest) => boolean, fault: Fault, times = 1): void {
    this.rules.push({ match, fault, remaining: times });
  }

  // Drops the rules and disarms cutAfterUpstreamBytes(); a freeze stays until thaw().
  clearFaults(): void {
    this.rules.length = 0;
    this.disarm();
  }

  count(match: (request: SeenRequest) => boolean): number {
    return this.requests.filter(match).length;
  }

  async start(): Promise<void> {
    const server = createServer({ noDelay: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  // The dependency goes away: open connections are reset, new ones refused until start().
  // A freeze outlives it.
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const connection of this.connections) {
      reset(connection.client);
      reset(connection.upstream);
    }
    this.connections.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  // Until thaw(), no byte moves either way on any connection, open now or accepted meanwhile
  // (those still reach upstream's listener). What arrives waits, in order, and flows on thaw().
  freeze(): void {
    this.frozen = true;
    for (const connection of this.connections) {
      connection.freeze();
    }
  }

  thaw(): void {
    this.frozen = false;
    for (const connection of this.connections) {
      connection.thaw();
    }
  }

  // A connection cut mid-query: every connection open now is reset (RST) on both sides, the
  // client's and upstream's; new connections are accepted as usual.
  cutConnections(): void {
    for (const connection of this.connections) {
      connection.cut();
    }
  }

  // One-shot, to cut a PostgreSQL or Redis connection mid-answer: the first connection (open now,
  // or opened before the trap is spent) to pass `bytes` more bytes from upstream to its client,
  // counted from this call or from its opening, has exactly those passed, then is reset (RST) on
  // both sides and `onCut` runs. No other connection is touched. With 0 the next upstream chunk
  // is dropped and its connection cut. A new call replaces an unspent trap; clearFaults() disarms.
  cutAfterUpstreamBytes(bytes: number, onCut?: () => void): void {
    this.disarm();
    const trap: CutTrap = { bytes, onCut, armed: true };
    this.trap = trap;
    for (const connection of this.connections) {
      connection.arm(trap);
    }
  }

  private disarm(): void {
    if (this.trap !== undefined) {
      this.trap.armed = false;
    }
    this.trap = undefined;
  }

  private accept(client: Socket): void {
    const upstream = connect({ ...this.target, noDelay: true });
    const connection = new Connection(client, upstream, this.frozen);
    this.connections.add(connection);
    client.on('close', () => this.connections.delete(connection));
    if (this.trap?.armed === true) {
      connection.arm(this.trap);
    }
    if (this.http) {
      new HttpExchange(connection, (request) => this.seen(request));
    } else {
      connection.pipe(this.observe?.());
    }
  }

  private seen(request: SeenRequest): Fault | undefined {
    this.requests.push(request);
    const rule = this.rules.find((r) => r.remaining > 0 && r.match(request));
    if (rule === undefined) {
      return undefined;
    }
    rule.remaining--;
    return rule.fault;
  }
}

interface Queued {
  readonly to: Socket;
  readonly chunk: Buffer;
  readonly done: (() => void) | undefined;
}

// One accepted connection and its upstream. Every byte forwarded goes through send(): kept there
// while frozen, else written with backpressure (a side is paused until the other drains).
class Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  private frozen = false;
  // about to be cut: nothing more is forwarded
  private halted = false;
  private readonly queued: Queued[] = [];
  private readonly stalled = new Set<Socket>();
  private trap: CutTrap | undefined;
  private passed = 0;

  constructor(client: Socket, upstream: Socket, frozen: boolean) {
    this.client = client;
    this.upstream = upstream;
    if (frozen) {
      this.freeze(); // before any 'data' listener, which would set the sockets flowing
    }
    const kill = (): void => {
      reset(client);
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroySoon());
  }

  // raw TCP: bytes flow as they come, shown to `observer` first
  pipe(observer?: WireObserver): void {
    this.client.on('data', (chunk: Buffer) => {
      observer?.fromClient(chunk);
      this.up(chunk);
    });
    this.upstream.on('data', (chunk: Buffer) => {
      observer?.fromUpstream(chunk);
      this.down(chunk);
    });
  }

  up(chunk: Buffer): void {
    this.send(this.upstream, chunk, undefined);
  }

  // Bytes from upstream to the client: what cutAfterUpstreamBytes() counts.
  down(chunk: Buffer, done?: () => void): void {
    const trap = this.trap;
    if (trap === undefined || !trap.armed) {
      this.send(this.client, chunk, done);
      return;
    }
    const left = trap.bytes - this.passed;
    if (chunk.length < left) {
      this.passed += chunk.length;
      this.send(this.client, chunk, done);
      return;
    }
    trap.armed = false;
    this.send(this.client, chunk.subarray(0, Math.max(left, 0)), () => {
      this.cut();
      trap.onCut?.();
    });
    this.halt();
  }

  // the proxy's own bytes to the client (an answer fault): not counted as upstream's
  answer(bytes: Buffer, done?: () => void): void {
    this.send(this.client, bytes, done);
  }

  arm(trap: CutTrap): void {
    this.trap = trap;
    this.passed = 0;
  }

  // Paused sockets read no further than their buffers, then leave the rest in the kernel's.
  freeze(): void {
    this.frozen = true;
    this.client.pause();
    this.upstream.pause();
  }

  thaw(): void {
    this.frozen = false;
    for (const { to, chunk, done } of this.queued.splice(0)) {
      this.write(to, chunk, done);
    }
    this.resume();
  }

  // Nothing more passes either way: the connection is about to be cut.
  halt(): void {
    this.halted = true;
    this.client.pause();
    this.upstream.pause();
  }

  cut(): void {
    rst(this.client);
    rst(this.upstream);
  }

  private send(to: Socket, chunk: Buffer, done: (() => void) | undefined): void {
    if (this.halted) {
      return;
    }
    if (this.frozen) {
      this.queued.push({ to, chunk, done });
      return;
    }
    this.write(to, chunk, done);
  }

  private write(to: Socket, chunk: Buffer, done: (() => void) | undefined): void {
    if (to.write(chunk, done) || to.destroyed) {
      return;
    }
    const from = to === this.client ? this.upstream : this.client;
    if (this.stalled.has(from)) {
      return;
    }
    this.stalled.add(from);
    from.pause();
    to.once('drain', () => {
      this.stalled.delete(from);
      this.resume();
    });
  }

  private resume(): void {
    if (this.frozen || this.halted) {
      return;
    }
    for (const socket of [this.client, this.upstream]) {
      if (!this.stalled.has(socket)) {
        socket.resume();
      }
    }
  }
}

// One proxied HTTP/1.1 connection: splits the client's bytes into requests and, for a faulted
// request, the upstream's bytes into its response.
class HttpExchange {
  private pending = Buffer.alloc(0);
  // request body bytes still to pass (or drop) before the next request head
  private bodyLeft = 0;
  // the body under way is that of a request the proxy answered itself: dropped
  private dropBody = false;
  // what becomes of the client's bytes: parsed into requests; or, parsing given up, forwarded as
  // they come (after a chunked request body) or dropped (after an answer closing the connection)
  private mode: 'parse' | 'forward' | 'drop' = 'parse';
  private fault: Fault | undefined;
  private faultedMethod = '';
  private response = Buffer.alloc(0);
  private readonly connection: Connection;
  private readonly onRequest: (request: SeenRequest) => Fault | undefined;

  constructor(connection: Connection, onRequest: (request: SeenRequest) => Fault | undefined) {
    this.connection = connection;
    this.onRequest = onRequest;
    connection.client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    connection.upstream.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
  }

  private fromClient(chunk: Buffer): void {
    if (this.mode !== 'parse') {
      if (this.mode === 'forward') {
        this.connection.up(chunk);
      }
      return;
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length > 0) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, this.pending.length);
        if (!this.dropBody) {
          this.connection.up(this.pending.subarray(0, take));
        }
        this.pending = this.pending.subarray(take);
        this.bodyLeft -= take;
        continue;
      }
      const end = this.pending.indexOf(HEAD_END);
      if (end < 0) {
        return; // head not complete yet
      }
      const head = this.pending.subarray(0, end + HEAD_END.length);
      this.pending = this.pending.subarray(head.length);
      if (!this.request(head)) {
        return;
      }
    }
  }

  // One request head; false when the client's bytes are no longer parsed.
  private request(head: Buffer): boolean {
    const text = head.toString('latin1');
    const [method = '', path = ''] = text.slice(0, text.indexOf('\r\n')).split(' ');
    const range = /\r\nrange:\s*([^\r]*)/i.exec(text)?.[1];
    const fault = this.onRequest(range === undefined ? { method, path } : { method, path, range });
    this.fault = fault;
    this.faultedMethod = method;
    this.response = Buffer.alloc(0);
    const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(text);
    this.bodyLeft = chunked ? 0 : Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
    if (fault?.kind === 'reset-before') {
      reset(this.connection.client);
      this.connection.upstream.destroy();
      return false;
    }
    if (fault?.kind === 'trickle') {
      this.trickle(fault.everyMs);
      return false;
    }
    if (fault?.kind === 'answer') {
      const heldBack = this.bodyLeft > 0 && /\r\nexpect:\s*100-continue/i.test(text);
      return this.answer(fault, method === 'HEAD', chunked || heldBack);
    }
    this.dropBody = false;
    this.connection.up(head);
    if (chunked) {
      this.mode = 'forward';
      this.connection.up(this.pending);
      this.pending = Buffer.alloc(0);
      return false;
    }
    return true;
  }

  // The proxy answers 200 with a body it never finishes, a byte at a time; whatever else the client
  // sends is dropped. The bytes stop once the client's connection is gone.
  private trickle(everyMs: number): void {
    this.fault = undefined;
    this.mode = 'drop';
    this.pending = Buffer.alloc(0);
    const client = this.connection.client;
    this.connection.answer(
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1048576\r\n\r\n<', 'latin1'),
    );
    const timer = setInterval(() => {
      if (client.destroyed) {
        clearInterval(timer);
      } else {
        this.connection.answer(Buffer.from(' '));
      }
    }, everyMs).unref();
  }

  // The proxy answers at once, from the head. A Content-Length body is then read and dropped, so
  // the connection stays usable for the next request. A chunked body, or one the client may hold
  // back (Expect: 100-continue), is not framed: the answer says Connection: close, the proxy ends
  // the connection after it and drops whatever else the client sends.
  private answer(fault: AnswerFault, toHead: boolean, close: boolean): boolean {
    this.fault = undefined;
    const client = this.connection.client;
    this.connection.answer(answerBytes(fault, toHead, close), close ? () => client.end() : undefined);
    if (close) {
      this.mode = 'drop';
      this.pending = Buffer.alloc(0);
      return false;
    }
    this.dropBody = true;
    return true;
  }

  private fromUpstream(chunk: Buffer): void {
    const fault = this.fault;
    if (fault === undefined) {
      this.connection.down(chunk);
      return;
    }
    this.response = Buffer.concat([this.response, chunk]);
    if (fault.kind === 'reset-mid-response') {
      const passed = this.response.length - chunk.length;
      if (this.response.length < fault.afterBytes) {
        this.connection.down(chunk);
        if (responseComplete(this.response, this.faultedMethod === 'HEAD')) {
          this.fault = undefined; // a response shorter than afterBytes goes through whole
        }
        return;
      }
      const client = this.connection.client;
      this.connection.down(chunk.subarray(0, fault.afterBytes - passed), () => reset(client));
      this.fault = undefined;
      this.connection.halt();
      return;
    }
    if (!responseComplete(this.response, this.faultedMethod === 'HEAD')) {
      return;
    }
    const response = this.response;
    this.fault = undefined;
    if (fault.kind === 'reset-after-answer') {
      fault.onAnswered?.();
      reset(this.connection.client);
      return;
    }
    if (fault.kind === 'hold') {
      fault.onHeld?.();
      void fault.release.then(() => this.connection.down(response));
    }
  }
}

function responseComplete(response: Buffer, toHead: boolean): boolean {
  const end = response.indexOf(HEAD_END);
  if (end < 0) {
    return false;
  }
  if (toHead) {
    return true;
  }
  const head = response.subarray(0, end).toString('latin1');
  const body = response.length - end - HEAD_END.length;
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    return response.subarray(response.length - 5).toString('latin1') === '0\r\n\r\n';
  }
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  // no length on a response to HEAD or a 204/304: the head is all of it
  return length === undefined ? true : body >= Number(length);
}

// An answer fault's bytes: the body's length is stated even to a HEAD, which gets no body.
function answerBytes(fault: AnswerFault, toHead: boolean, close: boolean): Buffer {
  const body = Buffer.from(fault.body ?? '', 'utf8');
  const lines = [`HTTP/1.1 ${fault.status} ${STATUS_CODES[fault.status] ?? 'Unknown'}`];
  for (const [name, value] of Object.entries(fault.headers ?? {})) {
    if (!/^(content-length|transfer-encoding|connection)$/i.test(name)) {
      lines.push(`${name}: ${value}`);
    }
  }
  lines.push(`Content-Length: ${body.length}`);
  if (close) {
    lines.push('Connection: close');
  }
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return toHead ? head : Buffer.concat([head, body]);
}

// The connection is cut: closed at once, with no response. (Not a TCP RST through
// resetAndDestroy(): on a socket whose peer had just died, that left a handle that never
// closed, and the test process spinning at exit. To the service both read as ECONNRESET.)
function reset(socket: Socket): void {
  socket.destroy();
}

// A TCP RST (SO_LINGER 0). Node cannot reset a socket whose shutdown has begun (end() called,
// as destroySoon() and a peer's FIN do): resetAndDestroy() then fails and leaves the handle open
// for good (see reset()). Those, and sockets not yet connected, are closed instead.
function rst(socket: Socket): void {
  if (socket.destroyed) {
    return;
  }
  if (socket.connecting || socket.writableEnded) {
    socket.destroy();
    return;
  }
  socket.resetAndDestroy();
}

// An S3 error answer as RGW words it: s3ErrorAnswer(503, 'SlowDown', 'Please reduce your request
// rate.'), s3ErrorAnswer(500, 'InternalError', 'We encountered an internal error. Please try again.').
export function s3ErrorAnswer(status: number, code: string, message: string): AnswerFault {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<Error><Code>${xmlText(code)}</Code><Message>${xmlText(message)}</Message>` +
    '<RequestId>fault-proxy</RequestId></Error>';
  return {
    kind: 'answer',
    status,
    body,
    headers: { 'Content-Type': 'application/xml', 'x-amz-request-id': 'fault-proxy' },
  };
}

function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Matchers for the S3 requests a service sends through the proxy (path-style addressing).
// `about` narrows them to paths holding it: a fileId is part of its object's key.
export const s3Requests = {
  complete:
    (about = '') =>
    (r: SeenRequest): boolean =>
      r.method === 'POST' && r.path.includes(about) && r.path.includes('uploadId='),
  listParts:
    (about = '') =>
    (r: SeenRequest): boolean =>
      r.method === 'GET' && r.path.includes(about) && r.path.includes('uploadId='),
  getObject:
    (about = '') =>
    (r: SeenRequest): boolean =>
      r.method === 'GET' && r.path.includes(about) && !r.path.includes('uploadId='),
};
