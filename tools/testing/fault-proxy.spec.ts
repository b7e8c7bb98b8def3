// The fault proxy itself, between local servers this spec starts (a TCP echo server, an HTTP
// server) and clients it drives: no external service needed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { Agent, type IncomingHttpHeaders, createServer as createHttpServer, request } from 'node:http';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { type TestContext, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultProxy, s3ErrorAnswer, s3Requests } from './fault-proxy.ts';

// long enough that a byte let through would have arrived on loopback
const QUIET_MS = 300;

// One end of a TCP connection: everything it received, and how it ended.
class Peer {
  error: NodeJS.ErrnoException | undefined;
  isClosed = false;
  readonly socket: Socket;
  private readonly chunks: Buffer[] = [];
  private length = 0;
  private readonly changed = new EventEmitter();

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.changed.emit('change');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error));
    socket.on('close', () => {
      this.isClosed = true;
      this.changed.emit('change');
    });
  }

  // joined once per read, not per chunk: megabytes pass through here
  get received(): Buffer {
    if (this.chunks.length > 1) {
      this.chunks.splice(0, this.chunks.length, Buffer.concat(this.chunks));
    }
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  // Resolves once `done` holds of what was received; rejects if the connection closes first.
  async until(done: (received: Buffer) => boolean): Promise<Buffer> {
    while (!done(this.received)) {
      if (this.isClosed) {
        throw new Error(`closed after ${this.length} bytes: ${this.received.toString('latin1')}`);
      }
      await once(this.changed, 'change');
    }
    return this.received;
  }

  async bytes(length: number): Promise<Buffer> {
    while (this.length < length) {
      if (this.isClosed) {
        throw new Error(`closed after ${this.length} of ${length} bytes`);
      }
      await once(this.changed, 'change');
    }
    return this.received.subarray(0, length);
  }

  // the error the connection ended on, if any
  async closed(): Promise<NodeJS.ErrnoException | undefined> {
    while (!this.isClosed) {
      await once(this.changed, 'change');
    }
    return this.error;
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function dial(t: TestContext, port: number): Promise<Peer> {
  const socket = connect(port, '127.0.0.1');
  const peer = new Peer(socket);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  return peer;
}

// A TCP server echoing what it gets; `peer(i)` is its side of the i-th connection.
async function tcpUpstream(
  t: TestContext,
): Promise<{ url: string; peers: Peer[]; peer: (i: number) => Promise<Peer> }> {
  const peers: Peer[] = [];
  const accepted = new EventEmitter();
  const server = createServer((socket) => {
    peers.push(new Peer(socket));
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    accepted.emit('peer');
  });
  const port = await listen(server);
  t.after(() => {
    peers.forEach((peer) => peer.socket.destroy());
    server.close();
  });
  const peer = async (i: number): Promise<Peer> => {
    while (peers.length <= i) {
      await once(accepted, 'peer');
    }
    return peers[i]!;
  };
  return { url: `tcp://127.0.0.1:${port}`, peers, peer };
}

interface Received {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

// An HTTP server: /size/N answers N patterned bytes, /echo the request's body, anything else
// "METHOD URL".
async function httpUpstream(t: TestContext): Promise<{ url: string; requests: Received[]; connections: () => number }> {
  const requests: Received[] = [];
  let connections = 0;
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', body: body.toString('latin1') });
      const size = /^\/size\/(\d+)$/.exec(req.url ?? '')?.[1];
      const answer =
        size !== undefined
          ? pattern(Number(size))
          : req.url === '/echo'
            ? body
            : Buffer.from(`${req.method} ${req.url}`);
      res.setHeader('Content-Length', answer.length);
      res.end(answer);
    });
  });
  server.on('connection', () => connections++);
  const port = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${port}`, requests, connections: () => connections };
}

function pattern(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => i % 251));
}

async function startProxy(t: TestContext, target: string, http = false): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(target, { http });
  t.after(() => proxy.stop());
  return proxy;
}

function portOf(proxy: FaultProxy): number {
  return Number(new URL(proxy.url('http://127.0.0.1:1')).port);
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  // sent on a kept-alive connection
  readonly reused: boolean;
}

interface Call {
  readonly method?: string;
  readonly path: string;
  readonly body?: Buffer | string;
  readonly headers?: Record<string, string>;
  // the body sent in two chunks, Transfer-Encoding: chunked
  readonly chunked?: boolean;
}

// An HTTP client on one kept-alive connection at a time.
function httpClient(t: TestContext, port: number): (call: Call) => Promise<Answer> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  return (call) =>
    new Promise<Answer>((resolve, reject) => {
      const options = { host: '127.0.0.1', port, agent, method: call.method ?? 'GET', path: call.path };
      const req = request({ ...options, headers: call.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket });
        });
      });
      req.on('error', reject);
      if (call.chunked === true) {
        req.write('chunk one;');
        req.end(call.body);
      } else {
        req.end(call.body);
      }
    });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// 'waiting' if `promise` has not settled within `ms`
async function within(promise: Promise<unknown>, ms: number): Promise<'settled' | 'waiting'> {
  return Promise.race([promise.then(() => 'settled' as const), sleep(ms, 'waiting' as const)]);
}

describe('FaultProxy on raw TCP', () => {
  it('forwards bytes both ways, a large stream intact', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    const peer = await dial(t, portOf(proxy));
    const data = randomBytes(4 * 1024 * 1024);
    peer.socket.write(data);
    assert.ok((await peer.bytes(data.length)).equals(data));
    assert.ok((await upstream.peer(0)).received.equals(data));
  });

  it('stop() resets open connections and refuses new ones; start() serves again on the same port', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    const port = portOf(proxy);
    const peer = await dial(t, port);
    await proxy.stop();
    await peer.closed();
    await assert.rejects(dial(t, port), { code: 'ECONNREFUSED' });
    await proxy.start();
    assert.equal(portOf(proxy), port);
    const again = await dial(t, port);
    again.socket.write('again');
    assert.equal((await again.bytes(5)).toString(), 'again');
  });

  it('freeze() holds every byte either way, on open and new connections; thaw() lets them on in order', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    const open = await dial(t, portOf(proxy));
    open.socket.write('a');
    await open.bytes(1);
    const openUpstream = await upstream.peer(0);
    proxy.freeze();
    open.socket.write('ping');
    openUpstream.socket.write('push');
    const late = await dial(t, portOf(proxy)); // accepted while frozen
    late.socket.write('late');
    await sleep(QUIET_MS);
    assert.equal(open.received.toString(), 'a');
    assert.equal(late.received.length, 0);
    assert.equal(upstream.peers.map((peer) => peer.received.toString()).join(''), 'a');
    proxy.thaw();
    assert.equal((await open.bytes(9)).toString(), 'apushping');
    assert.equal((await late.bytes(4)).toString(), 'late');
    assert.equal(openUpstream.received.toString(), 'aping');
  });

  it('cutConnections() resets both sides of every open connection and still accepts new ones', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    const peers = [await dial(t, portOf(proxy)), await dial(t, portOf(proxy))];
    for (const peer of peers) {
      peer.socket.write('x');
      await peer.bytes(1);
    }
    const upstreamPeers = [await upstream.peer(0), await upstream.peer(1)];
    proxy.cutConnections();
    for (const peer of [...peers, ...upstreamPeers]) {
      assert.equal((await peer.closed())?.code, 'ECONNRESET');
    }
    const next = await dial(t, portOf(proxy));
    next.socket.write('still here');
    assert.equal((await next.bytes(10)).toString(), 'still here');
  });

  it('cutAfterUpstreamBytes() cuts, once, the first connection to pass that many bytes from upstream', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    const [a, b] = [await dial(t, portOf(proxy)), await dial(t, portOf(proxy))];
    for (const peer of [a, b]) {
      peer.socket.write('>');
      await peer.bytes(1);
    }
    const [upA, upB] = [await upstream.peer(0), await upstream.peer(1)];
    let cuts = 0;
    proxy.cutAfterUpstreamBytes(100, () => cuts++);
    const data = pattern(400);
    upA.socket.write(data.subarray(0, 60));
    await a.bytes(61);
    upB.socket.write(data.subarray(0, 150));
    assert.equal((await b.closed())?.code, 'ECONNRESET');
    assert.deepEqual(b.received, Buffer.concat([Buffer.from('>'), data.subarray(0, 100)]));
    assert.equal((await upB.closed())?.code, 'ECONNRESET');
    assert.equal(cuts, 1);
    upA.socket.write(data.subarray(60));
    assert.deepEqual(await a.bytes(401), Buffer.concat([Buffer.from('>'), data]), 'the trap is spent');
    assert.equal(a.isClosed, false);
  });

  it('cutAfterUpstreamBytes() arms a connection opened after it', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    proxy.cutAfterUpstreamBytes(5);
    const peer = await dial(t, portOf(proxy));
    peer.socket.write('hello world');
    assert.equal((await peer.closed())?.code, 'ECONNRESET');
    assert.equal(peer.received.toString(), 'hello');
  });

  it('clearFaults() disarms cutAfterUpstreamBytes()', async (t) => {
    const upstream = await tcpUpstream(t);
    const proxy = await startProxy(t, upstream.url);
    proxy.cutAfterUpstreamBytes(1);
    proxy.clearFaults();
    const peer = await dial(t, portOf(proxy));
    peer.socket.write('whole');
    assert.equal((await peer.bytes(5)).toString(), 'whole');
  });
});

describe('FaultProxy on HTTP', () => {
  it('forwards requests and responses, and records each request with its Range', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    const completed = await send({ method: 'POST', path: '/b/f1/key?uploadId=u1', body: '<Complete/>' });
    assert.equal(completed.body.toString(), 'POST /b/f1/key?uploadId=u1');
    await send({ path: '/b/f1/key?uploadId=u1' });
    await send({ path: '/b/f2/key', headers: { Range: 'bytes=0-9' } });
    assert.ok((await send({ path: '/size/200000' })).body.equals(pattern(200000)));
    assert.deepEqual(proxy.requests, [
      { method: 'POST', path: '/b/f1/key?uploadId=u1' },
      { method: 'GET', path: '/b/f1/key?uploadId=u1' },
      { method: 'GET', path: '/b/f2/key', range: 'bytes=0-9' },
      { method: 'GET', path: '/size/200000' },
    ]);
    assert.equal(upstream.requests[0]?.body, '<Complete/>');
    assert.equal(proxy.count(s3Requests.complete('f1')), 1);
    assert.equal(proxy.count(s3Requests.listParts('f1')), 1);
    assert.equal(proxy.count(s3Requests.getObject('f2')), 1);
    assert.equal(proxy.count(s3Requests.getObject('f1')), 0);
  });

  it('reset-before: the connection is reset and the request never reaches upstream', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    proxy.inject((r) => r.path === '/lost', { kind: 'reset-before' });
    await assert.rejects(send({ path: '/lost' }), { code: 'ECONNRESET' });
    assert.equal(upstream.requests.length, 0);
    assert.equal((await send({ path: '/lost' })).status, 200, 'once only');
    assert.equal(
      proxy.count((r) => r.path === '/lost'),
      2,
    );
  });

  it('reset-after-answer: upstream answered, onAnswered ran, then the client was reset', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    const answeredAfter: number[] = [];
    const onAnswered = (): void => void answeredAfter.push(upstream.requests.length);
    proxy.inject((r) => r.method === 'POST', { kind: 'reset-after-answer', onAnswered });
    await assert.rejects(send({ method: 'POST', path: '/done', body: 'x' }), { code: 'ECONNRESET' });
    assert.deepEqual(answeredAfter, [1]);
    assert.equal(upstream.requests[0]?.url, '/done');
  });

  it('reset-mid-response: the client gets the first afterBytes bytes, then the connection ends', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    proxy.inject((r) => r.path === '/size/1000', { kind: 'reset-mid-response', afterBytes: 100 });
    const peer = await dial(t, portOf(proxy));
    peer.socket.write('GET /size/1000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await peer.closed();
    assert.equal(peer.received.length, 100);
    assert.match(peer.received.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
  });

  it('hold: the response waits for release, then passes whole', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    const [held, release] = [deferred(), deferred()];
    proxy.inject((r) => r.path === '/held', { kind: 'hold', release: release.promise, onHeld: held.resolve });
    const answer = send({ path: '/held' });
    await held.promise;
    assert.equal(upstream.requests.length, 1);
    assert.equal(await within(answer, 100), 'waiting');
    release.resolve();
    assert.equal((await answer).body.toString(), 'GET /held');
  });

  it('freeze(): requests sent while frozen, on open and new connections, are answered after thaw()', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const [send, sendFresh] = [httpClient(t, portOf(proxy)), httpClient(t, portOf(proxy))];
    await send({ path: '/warm' });
    proxy.freeze();
    const body = randomBytes(256 * 1024);
    const answers = [send({ method: 'PUT', path: '/echo', body }), sendFresh({ path: '/size/5000' })];
    assert.equal(await within(Promise.race(answers), QUIET_MS), 'waiting');
    assert.equal(upstream.requests.length, 1);
    proxy.thaw();
    const [echoed, sized] = await Promise.all(answers);
    assert.ok(echoed?.body.equals(body));
    assert.equal(echoed?.reused, true);
    assert.ok(sized?.body.equals(pattern(5000)));
  });

  it('answer: an S3 error from the proxy, upstream never asked, the kept-alive connection reused', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    proxy.inject((r) => r.method === 'PUT', s3ErrorAnswer(503, 'SlowDown', 'Please reduce your request rate.'));
    await send({ path: '/warm' });
    const slow = await send({ method: 'PUT', path: '/b/key', body: 'part bytes' });
    assert.equal(slow.status, 503);
    assert.equal(slow.headers['content-type'], 'application/xml');
    assert.equal(slow.headers['content-length'], String(slow.body.length));
    assert.match(slow.body.toString(), /<Error><Code>SlowDown<\/Code><Message>Please reduce your request rate\.</);
    assert.equal(slow.reused, true);
    const next = await send({ method: 'PUT', path: '/b/key', body: 'part bytes' });
    assert.deepEqual([next.status, next.reused], [200, true]);
    assert.deepEqual(
      upstream.requests.map((r) => `${r.method} ${r.url} ${r.body}`),
      ['GET /warm ', 'PUT /b/key part bytes'],
    );
    assert.equal(upstream.connections(), 1);
    assert.deepEqual(
      proxy.requests.map((r) => r.method),
      ['GET', 'PUT', 'PUT'],
    );
  });

  it('answer: a body arriving after the answer is dropped, the next request on the connection forwarded', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    proxy.inject((r) => r.path === '/refused', {
      kind: 'answer',
      status: 500,
      body: 'no',
      headers: { 'X-Fault': 'yes' },
    });
    const peer = await dial(t, portOf(proxy));
    peer.socket.write('PUT /refused HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123');
    const answer = 'HTTP/1.1 500 Internal Server Error\r\nX-Fault: yes\r\nContent-Length: 2\r\n\r\nno';
    assert.equal((await peer.bytes(answer.length)).toString('latin1'), answer);
    peer.socket.write('456789GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    await peer.until((received) => received.toString('latin1').endsWith('\r\n\r\nGET /after'));
    assert.deepEqual(
      upstream.requests.map((r) => r.url),
      ['/after'],
    );
  });

  it('answer: a HEAD gets the head only; Content-Length and Connection are the proxy own', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    const headers = { 'x-amz-request-id': 'r1', 'Content-Length': '999', Connection: 'close' };
    proxy.inject((r) => r.method === 'HEAD', { kind: 'answer', status: 404, body: 'missing', headers });
    const missing = await send({ method: 'HEAD', path: '/b/key' });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['x-amz-request-id'], 'r1');
    assert.equal(missing.headers['content-length'], '7');
    assert.equal(missing.body.length, 0);
    const next = await send({ path: '/after' });
    assert.deepEqual([next.status, next.reused], [200, true]);
    assert.equal(upstream.requests.length, 1);
  });

  it('answer: after a chunked request body the proxy closes the connection', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    const send = httpClient(t, portOf(proxy));
    proxy.inject((r) => r.method === 'PUT', s3ErrorAnswer(500, 'InternalError', 'We encountered an internal error.'));
    const failed = await send({ method: 'PUT', path: '/b/key', body: 'chunk two', chunked: true });
    assert.equal(failed.status, 500);
    assert.equal(failed.headers.connection, 'close');
    assert.match(failed.body.toString(), /<Code>InternalError<\/Code>/);
    const next = await send({ path: '/after' });
    assert.deepEqual([next.status, next.reused], [200, false]);
    assert.deepEqual(
      upstream.requests.map((r) => r.url),
      ['/after'],
    );
  });

  it('answer: with Expect: 100-continue the body may never come, so the proxy closes the connection', async (t) => {
    const upstream = await httpUpstream(t);
    const proxy = await startProxy(t, upstream.url, true);
    proxy.inject(() => true, s3ErrorAnswer(503, 'SlowDown', 'Please reduce your request rate.'));
    const peer = await dial(t, portOf(proxy));
    peer.socket.write('PUT /b/key HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await peer.closed();
    assert.match(peer.received.toString('latin1'), /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*Connection: close\r\n/);
    assert.equal(upstream.requests.length, 0);
  });
});
