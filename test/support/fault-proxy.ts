// A fault-injecting TCP proxy for the tests, between the service and one of its dependencies.
// It forwards bytes both ways and can:
// - be stopped and restarted (`stop()`/`start()`): every connection is reset and the port refuses
//   connections while stopped, as when the dependency's process is down;
// - for HTTP upstreams (S3), read the request lines going through, count them, and apply a fault
//   to the requests a rule matches: reset the connection before the request is forwarded, after
//   the whole response came back from upstream but before the client sees it (the work was done,
//   the answer is lost), or part way through the response body (the connection is cut: see reset()); run a hook (`onAnswered`) at
//   that moment (the crash tests SIGKILL the service there); or hold the response until released.
// The service's HTTP client does not pipeline, so a request's response is what upstream sends
// after the request, up to its Content-Length (or the last chunk).
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
  | { readonly kind: 'hold'; readonly release: Promise<void>; readonly onHeld?: () => void };

interface Rule {
  readonly match: (request: SeenRequest) => boolean;
  readonly fault: Fault;
  remaining: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export class FaultProxy {
  readonly requests: SeenRequest[] = [];
  private readonly rules: Rule[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;
  // plain fields, not parameter properties: bench/load.ts runs this file with Node's type stripping
  private readonly target: { host: string; port: number };
  private readonly http: boolean;

  private constructor(target: { host: string; port: number }, http: boolean) {
    this.target = target;
    this.http = http;
  }

  // `target` is a URL (http://host:port, postgresql://…, redis://…); `http` turns on request parsing.
  static async start(target: string, options: { http?: boolean } = {}): Promise<FaultProxy> {
    const url = new URL(target);
    const proxy = new FaultProxy({ host: url.hostname, port: Number(url.port) }, options.http ?? false);
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

  clearFaults(): void {
    this.rules.length = 0;
  }

  count(match: (request: SeenRequest) => boolean): number {
    return this.requests.filter(match).length;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  // The dependency goes away: open connections are reset, new ones refused until start().
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) {
      reset(socket);
    }
    this.sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target);
    this.track(client);
    this.track(upstream);
    const kill = (): void => {
      reset(client);
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroySoon());
    if (!this.http) {
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    new HttpExchange(client, upstream, (request) => this.seen(request));
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

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

// One proxied HTTP/1.1 connection: splits the client's bytes into requests and, for a faulted
// request, the upstream's bytes into its response.
class HttpExchange {
  private pending = Buffer.alloc(0);
  // request body bytes still to pass before the next request head
  private bodyLeft = 0;
  // gave up parsing (a chunked request body): bytes just flow
  private opaque = false;
  private fault: Fault | undefined;
  private faultedMethod = '';
  private response = Buffer.alloc(0);
  private readonly client: Socket;
  private readonly upstream: Socket;
  private readonly onRequest: (request: SeenRequest) => Fault | undefined;

  constructor(client: Socket, upstream: Socket, onRequest: (request: SeenRequest) => Fault | undefined) {
    this.client = client;
    this.upstream = upstream;
    this.onRequest = onRequest;
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
  }

  private fromClient(chunk: Buffer): void {
    if (this.opaque) {
      this.upstream.write(chunk);
      return;
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length > 0) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, this.pending.length);
        this.upstream.write(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.bodyLeft -= take;
        continue;
      }
      const end = this.pending.indexOf(HEAD_END);
      if (end < 0) {
        return; // head not complete yet
      }
      const head = this.pending.subarray(0, end + HEAD_END.length);
      const text = head.toString('latin1');
      const [method = '', path = ''] = text.slice(0, text.indexOf('\r\n')).split(' ');
      const range = /\r\nrange:\s*([^\r]*)/i.exec(text)?.[1];
      this.fault = this.onRequest(range === undefined ? { method, path } : { method, path, range });
      this.faultedMethod = method;
      this.response = Buffer.alloc(0);
      if (this.fault?.kind === 'reset-before') {
        reset(this.client);
        this.upstream.destroy();
        return;
      }
      this.upstream.write(head);
      this.pending = this.pending.subarray(head.length);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(text)) {
        this.opaque = true;
        this.upstream.write(this.pending);
        return;
      }
      this.bodyLeft = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
    }
  }

  private fromUpstream(chunk: Buffer): void {
    const fault = this.fault;
    if (fault === undefined) {
      this.client.write(chunk);
      return;
    }
    this.response = Buffer.concat([this.response, chunk]);
    if (fault.kind === 'reset-mid-response') {
      const passed = this.response.length - chunk.length;
      if (this.response.length < fault.afterBytes) {
        this.client.write(chunk);
        if (responseComplete(this.response, this.faultedMethod === 'HEAD')) {
          this.fault = undefined; // a response shorter than afterBytes goes through whole
        }
        return;
      }
      this.client.write(chunk.subarray(0, fault.afterBytes - passed), () => reset(this.client));
      this.fault = undefined;
      this.upstream.pause();
      return;
    }
    if (!responseComplete(this.response, this.faultedMethod === 'HEAD')) {
      return;
    }
    const response = this.response;
    this.fault = undefined;
    if (fault.kind === 'reset-after-answer') {
      fault.onAnswered?.();
      reset(this.client);
      return;
    }
    if (fault.kind === 'hold') {
      fault.onHeld?.();
      void fault.release.then(() => this.client.write(response));
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

// The connection is cut: closed at once, with no response. (Not a TCP RST through
// resetAndDestroy(): on a socket whose peer had just died, that left a handle that never
// closed, and the test process spinning at exit. To the service both read as ECONNRESET.)
function reset(socket: Socket): void {
  socket.destroy();
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
