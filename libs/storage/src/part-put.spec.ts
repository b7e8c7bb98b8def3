// The part PUT of the lean data path against real sockets: a server that reads each request as a test scripts it (all
// of it, some of it, or none) and answers whatever the test says, well-formed or not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { partBodyOf } from './part-body.js';
import { putPart } from './part-put.js';
import { StoreStatusError } from './store-answer.js';

// One request as the server saw it: its head, the body bytes it read, and whether the client
// closed the connection.
interface Seen {
  readonly socket: net.Socket;
  head: string;
  body: Buffer[];
  bodyBytes: number;
  closed: Promise<void>;
}

// What the server does once a request head is in (and again as each body chunk comes).
type Script = (socket: net.Socket, seen: Seen) => void;

interface Scripted {
  readonly url: URL;
  readonly seen: Seen[];
  // each connection's end, in the order they came
  readonly connections: Promise<void>[];
  script: Script;
  close(): Promise<void>;
}

async function scriptedServer(secure?: { key: Buffer; cert: Buffer }): Promise<Scripted> {
  const seen: Seen[] = [];
  const connections: Promise<void>[] = [];
  const sockets = new Set<net.Socket>();
  const scripted = { seen, connections, script: (() => undefined) as Script };
  const onConnection = (socket: net.Socket): void => {
    let pending = Buffer.alloc(0);
    let request: Seen | undefined;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    connections.push(closed);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (request !== undefined) {
        request.body.push(chunk);
        request.bodyBytes += chunk.length;
        scripted.script(socket, request);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      const end = pending.indexOf('\r\n\r\n');
      if (end !== -1) {
        const body = pending.subarray(end + 4);
        request = {
          socket,
          head: pending.subarray(0, end).toString('latin1'),
          body: [body],
          bodyBytes: body.length,
          closed,
        };
        seen.push(request);
        scripted.script(socket, request);
      }
    });
  };
  const server = secure === undefined ? net.createServer(onConnection) : tls.createServer(secure, onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const host = secure === undefined ? '127.0.0.1' : 'localhost';
  return Object.assign(scripted, {
    url: new URL(
      `${secure === undefined ? 'http' : 'https'}://${host}:${port}/bucket/some/key?partNumber=1&uploadId=u1&X-Amz-Signature=secret`,
    ),
    // a socket a script paused never sees its client go: closed here
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        sockets.forEach((socket) => socket.destroy());
      }),
  });
}

const OPTIONS = { connectTimeoutMs: 2_000, idleTimeoutMs: 5_000 };
const ETAG = '"9b2cf535f27731c974343645a3985328"';

// A body of `size` bytes in chunks of `chunk`, counting what has been taken from it.
function counted(bytes: Buffer, chunk = 64 * 1024): { body: Readable; taken: () => number } {
  let taken = 0;
  function* pieces(): Generator<Buffer> {
    for (let at = 0; at < bytes.length; at += chunk) {
      const piece = bytes.subarray(at, at + chunk);
      taken += piece.length;
      yield piece;
    }
  }
  return { body: Readable.from(pieces(), { objectMode: false }), taken: () => taken };
}

// Answers 200 with an ETag once the announced body is all in.
const acceptAll: Script = (socket, seen) => {
  const length = Number(/content-length: (\d+)/i.exec(seen.head)![1]);
  if (seen.bodyBytes === length) {
    socket.end(`HTTP/1.1 200 OK\r\nETag: ${ETAG}\r\nContent-Length: 0\r\n\r\n`);
  }
};

const errorAnswer = (status: number, code: string): string => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`;
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`;
};

const sha256 = (buffers: Buffer[]): string => createHash('sha256').update(Buffer.concat(buffers)).digest('hex');

// a stream as the part body of `size` bytes
const put = (url: URL, body: Readable, size: number, options: Parameters<typeof putPart>[3]): Promise<string> =>
  putPart(url, partBodyOf(body, size), size, options);

describe(putPart.name, () => {
  let server: Scripted;
  before(async () => {
    server = await scriptedServer();
  });
  after(() => server.close());

  it('sends the head (Host, Content-Length, Connection: close) and the body as it is, and answers the ETag', async () => {
    server.script = acceptAll;
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    const etag = await put(server.url, counted(bytes, 50_000).body, bytes.length, OPTIONS);
    assert.equal(etag, ETAG);
    const seen = server.seen.at(-1)!;
    const [requestLine, ...headers] = seen.head.split('\r\n');
    assert.equal(requestLine, `PUT ${server.url.pathname}${server.url.search} HTTP/1.1`);
    assert.deepEqual(headers.sort(), [
      'Connection: close',
      `Content-Length: ${bytes.length}`,
      `Host: ${server.url.host}`,
    ]);
    assert.equal(sha256(seen.body), sha256([bytes]));
  });

  it('takes no more of the body than the store takes (the body waits while the socket is full)', async () => {
    const bytes = randomBytes(64 * 1024 * 1024);
    const source = counted(bytes);
    server.script = (socket) => socket.pause();
    const putting = put(server.url, source.body, bytes.length, OPTIONS);
    // what the socket's buffers hold, and no more, is taken from the body while the store reads nothing
    let before = -1;
    while (source.taken() !== before) {
      before = source.taken();
      await sleep(50);
    }
    assert.ok(source.taken() < bytes.length, `taken ${source.taken()} of ${bytes.length} with the store not reading`);
    server.script = acceptAll;
    const seen = server.seen.at(-1)!;
    seen.socket.resume();
    assert.equal(await putting, ETAG);
    assert.equal(sha256(seen.body), sha256([bytes]));
  });

  it("stops sending when the store answers an error part way, and answers the store's code", async () => {
    const bytes = randomBytes(16 * 1024 * 1024);
    const source = counted(bytes);
    let answered = 0;
    server.script = (socket) => {
      if (answered++ === 0) {
        socket.write(errorAnswer(404, 'NoSuchUpload'));
      }
    };
    await assert.rejects(put(server.url, source.body, bytes.length, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof StoreStatusError);
      assert.equal(error.status, 404);
      assert.equal(error.code, 'NoSuchUpload');
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
    const seen = server.seen.at(-1)!;
    await seen.closed;
    assert.ok(seen.bodyBytes < bytes.length, `the store got ${seen.bodyBytes} of ${bytes.length} bytes`);
    assert.ok(source.taken() < bytes.length, 'the rest of the body is left unread');
    assert.ok(source.body.isPaused());
  });

  it('answers the status of a store that answers and closes the connection under the body', async () => {
    const bytes = randomBytes(16 * 1024 * 1024);
    server.script = (socket) => socket.end(errorAnswer(503, 'SlowDown'));
    await assert.rejects(put(server.url, counted(bytes).body, bytes.length, OPTIONS), {
      name: 'StoreStatusError',
      status: 503,
      code: 'SlowDown',
    });
  });

  it('fails a 200 without an ETag, or one before the whole body was sent', async () => {
    server.script = (socket, seen) => {
      if (seen.bodyBytes === 10) {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      }
    };
    await assert.rejects(put(server.url, Readable.from([Buffer.alloc(10)]), 10, OPTIONS), /without an ETag/);
    server.script = (socket) => socket.end(`HTTP/1.1 200 OK\r\nETag: ${ETAG}\r\nContent-Length: 0\r\n\r\n`);
    const early = randomBytes(8 * 1024 * 1024);
    await assert.rejects(put(server.url, counted(early).body, early.length, OPTIONS), /HTTP 200 after \d+ of/);
  });

  it('cuts the connection, the part incomplete, when the body is shorter or longer than announced or fails', async () => {
    server.script = acceptAll;
    // none of the connections from here on carried the whole body (some may not have got as far as a head)
    const noneWhole = async (from: number): Promise<void> => {
      await Promise.all(server.connections.slice(from));
      assert.ok(server.seen.slice(from).every((seen) => seen.bodyBytes < 2000));
    };
    let from = server.connections.length;
    await assert.rejects(
      put(server.url, Readable.from([Buffer.alloc(1000)]), 2000, OPTIONS),
      /the body ended after 1000 of 2000 bytes/,
    );
    await noneWhole(from);
    from = server.connections.length;
    await assert.rejects(
      put(server.url, Readable.from([Buffer.alloc(1000), Buffer.alloc(1001)]), 2000, OPTIONS),
      /longer than 2000 bytes/,
    );
    await noneWhole(from);
    from = server.connections.length;
    const failing = new Readable({ read() {} });
    const putting = put(server.url, failing, 2000, OPTIONS);
    failing.push(Buffer.alloc(500));
    failing.destroy(new Error('the client went away'));
    await assert.rejects(putting, /the client went away/);
    await noneWhole(from);
    // a body gone before the PUT began (its client left meanwhile) fails at once, no connection made
    from = server.connections.length;
    const gone = new Readable({ read() {} });
    gone.destroy();
    await assert.rejects(put(server.url, gone, 2000, OPTIONS), /the body was cut before the upload began/);
    const failed = new Readable({ read() {} });
    failed.on('error', () => undefined).destroy(new Error('reset'));
    await assert.rejects(put(server.url, failed, 2000, OPTIONS), /the body was cut before the upload began/);
    assert.equal(server.connections.length, from);
  });

  it('destroys the connection at once when aborted: nothing more reaches the store', async () => {
    server.script = () => undefined;
    const abort = new AbortController();
    const source = new Readable({ read() {} });
    const putting = put(server.url, source, 10_000, { ...OPTIONS, signal: abort.signal });
    source.push(Buffer.alloc(4000));
    while (server.seen.at(-1)?.bodyBytes !== 4000) {
      await sleep(5);
    }
    abort.abort();
    source.push(Buffer.alloc(6000));
    await assert.rejects(putting, { name: 'AbortError' });
    await server.seen.at(-1)!.closed;
    assert.equal(server.seen.at(-1)!.bodyBytes, 4000);
    await assert.rejects(put(server.url, Readable.from([]), 0, { ...OPTIONS, signal: abort.signal }), {
      name: 'AbortError',
    });
  });

  it('gives up on a store that takes no byte, or does not answer once it has them all (ETIMEDOUT)', async () => {
    server.script = (socket) => socket.pause();
    const bytes = randomBytes(64 * 1024 * 1024);
    await assert.rejects(put(server.url, counted(bytes).body, bytes.length, { ...OPTIONS, idleTimeoutMs: 200 }), {
      code: 'ETIMEDOUT',
      message: /the store took no byte for 200 ms/,
    });
    server.script = () => undefined;
    await assert.rejects(put(server.url, Readable.from([Buffer.alloc(100)]), 100, { ...OPTIONS, idleTimeoutMs: 200 }), {
      code: 'ETIMEDOUT',
      message: /no answer 200 ms after the body/,
    });
    // an error answer whose body never comes, the request's body still on its way
    let answered = 0;
    server.script = (socket) => {
      if (answered++ === 0) {
        socket.write('HTTP/1.1 503 Slow Down\r\nContent-Length: 500\r\n\r\n<Error>');
      }
    };
    const slow = new Readable({ read() {} });
    slow.push(Buffer.alloc(100));
    await assert.rejects(put(server.url, slow, 1000, { ...OPTIONS, idleTimeoutMs: 200 }), { code: 'ETIMEDOUT' });
  });

  it("waits on a slow body without timing out: its pace is its owner's to bound", async () => {
    server.script = acceptAll;
    const source = new Readable({ read() {} });
    const putting = put(server.url, source, 20, { ...OPTIONS, idleTimeoutMs: 100 });
    source.push(Buffer.alloc(10));
    await sleep(300);
    source.push(Buffer.alloc(10));
    source.push(null);
    assert.equal(await putting, ETAG);
  });

  it('fails a connection refused, and one closed before an answer', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(put(new URL(`http://127.0.0.1:${port}/b/k`), Readable.from([]), 0, OPTIONS), {
      code: 'ECONNREFUSED',
    });
    server.script = (socket, seen) => {
      if (seen.bodyBytes === 100) {
        socket.end();
      }
    };
    await assert.rejects(put(server.url, Readable.from([Buffer.alloc(100)]), 100, OPTIONS), {
      code: 'ECONNRESET',
      message: /connection closed after 100 of 100 bytes, before an answer/,
    });
  });

  it('puts over TLS the same way', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'part-put-'));
    const defaults = tls.getCACertificates('default');
    try {
      const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost',
          '-days',
          '1',
          '-keyout',
          key,
          '-out',
          cert,
        ],
        { stdio: 'ignore' },
      );
      const secure = await scriptedServer({ key: readFileSync(key), cert: readFileSync(cert) });
      try {
        secure.script = acceptAll;
        const bytes = randomBytes(2 * 1024 * 1024 + 3);
        // not trusted yet: the certificate is refused
        await assert.rejects(put(secure.url, counted(bytes).body, bytes.length, OPTIONS), /self-signed certificate/);
        tls.setDefaultCACertificates([...defaults, readFileSync(cert, 'utf8')]);
        assert.equal(await put(secure.url, counted(bytes).body, bytes.length, OPTIONS), ETAG);
        assert.equal(sha256(secure.seen.at(-1)!.body), sha256([bytes]));
        let answered = 0;
        secure.script = (socket) => {
          if (answered++ === 0) {
            socket.write(errorAnswer(500, 'InternalError'));
          }
        };
        await assert.rejects(put(secure.url, counted(bytes).body, bytes.length, OPTIONS), {
          status: 500,
          code: 'InternalError',
        });
      } finally {
        await secure.close();
      }
    } finally {
      tls.setDefaultCACertificates(defaults);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
