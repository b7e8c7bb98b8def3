// A part PUT's body read off its socket, against a real node:http server and real clients.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { type RequestBody, requestBody } from './request-body.js';

interface Received {
  readonly body: RequestBody;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

// A server that hands each request to the test's handler.
async function server(handle: (received: Received) => void): Promise<{ server: Server; port: number }> {
  const made = createServer((request, response) => {
    const size = Number(request.headers['content-length'] ?? 0);
    handle({ body: requestBody(request, size), request, response });
  });
  await new Promise<void>((resolve) => made.listen(0, '127.0.0.1', resolve));
  return { server: made, port: (made.address() as net.AddressInfo).port };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

// Takes the body whole, each chunk copied and given back at once; answers its SHA-256.
function takeAll(body: RequestBody): Promise<{ digest: string; chunks: Buffer[] }> {
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  return body
    .flow((chunk, done) => {
      hash.update(chunk);
      chunks.push(chunk);
      done();
    })
    .then(() => ({ digest: hash.digest('hex'), chunks }));
}

// Sends raw bytes on a connection of its own; answers everything the server sent back.
function raw(port: number, ...writes: (Buffer | string)[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    // a server that closes with bytes of ours unread resets the connection: what came is the answer
    socket.on('error', () => resolve(answer));
    for (const bytes of writes) {
      socket.write(bytes);
    }
  });
}

describe(requestBody.name, () => {
  let received: Received[] = [];
  let port: number;
  let listening: Server;
  before(async () => {
    ({ server: listening, port } = await server((one) => received.push(one)));
  });
  after(() => new Promise<void>((resolve) => listening.close(() => resolve())));

  const next = async (): Promise<Received> => {
    while (received.length === 0) {
      await sleep(2);
    }
    return received.shift()!;
  };

  it('hands on the body as sent, from a few buffers used again by the next bodies, and never past it', async () => {
    received = [];
    const first = randomBytes(3 * 1024 * 1024 + 7);
    const head = (length: number): string => `PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;
    // a second request right behind the body on the same connection: not the body's
    const answering = raw(port, head(first.length), first, head(5), 'hello');
    const one = await next();
    const { digest, chunks } = await takeAll(one.body);
    assert.equal(digest, sha256(first));
    assert.ok(one.body.complete);
    assert.equal(one.body.cut, false);
    const buffers = new Set(chunks.map((chunk) => chunk.buffer));
    // the parser's own first chunks, then at most four slabs of 256 KiB
    assert.ok(buffers.size <= 4 + 3, `${buffers.size} buffers for ${chunks.length} chunks`);
    one.response.end('ok');
    const answer = await answering;
    // at most one answer (a reset may beat it to the client): the bytes after the body were not
    // taken for anything, and the connection closed
    assert.ok((answer.match(/HTTP\/1\.1/g)?.length ?? 0) <= 1, answer);
    await sleep(50);
    assert.equal(received.length, 0);

    const second = randomBytes(2 * 1024 * 1024);
    const answering2 = raw(port, head(second.length), second);
    const two = await next();
    const again = await takeAll(two.body);
    assert.equal(again.digest, sha256(second));
    const reused = again.chunks.filter((chunk) => buffers.has(chunk.buffer));
    assert.ok(reused.length > 0, 'the next body is read into the same buffers');
    two.response.end('ok');
    await answering2;
  });

  it('lends a few buffers at a time: reading waits while the taker holds them', async () => {
    received = [];
    const bytes = randomBytes(16 * 1024 * 1024);
    const client = raw(port, `PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: ${bytes.length}\r\n\r\n`, bytes);
    const { body, response } = await next();
    const held: { chunk: Buffer; done: () => void }[] = [];
    const hash = createHash('sha256');
    let heldBytes = 0;
    let mostHeld = 0;
    const flowing = body.flow((chunk, done) => {
      hash.update(chunk);
      held.push({ chunk, done });
      heldBytes += chunk.length;
      mostHeld = Math.max(mostHeld, heldBytes);
    });
    // nothing given back: the body stops at what it may lend
    let before = -1;
    while (heldBytes !== before) {
      before = heldBytes;
      await sleep(50);
    }
    assert.ok(heldBytes < bytes.length);
    // 1 MiB of slabs, plus what the parser had read before the body was taken over (up to its
    // 64 KiB buffer and one read more)
    assert.ok(mostHeld <= 1024 * 1024 + 128 * 1024, `held ${mostHeld} bytes`);
    const giveBack = (): void => {
      for (const lent of held.splice(0)) {
        heldBytes -= lent.chunk.length;
        lent.done();
      }
    };
    const releasing = setInterval(giveBack, 1);
    await flowing;
    clearInterval(releasing);
    giveBack();
    assert.equal(hash.digest('hex'), sha256(bytes));
    response.end('ok');
    await client;
  });

  it('fails when the client leaves part way, and says the body was cut', async () => {
    received = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
    socket.write(Buffer.alloc(300_000));
    const { body } = await next();
    let taken = 0;
    const flowing = body.flow((chunk, done) => {
      taken += chunk.length;
      done();
      if (taken === 300_000) {
        socket.destroy();
      }
    });
    await assert.rejects(flowing, /the body was cut after 300000 of 1000000 bytes/);
    assert.equal(body.cut, true);
    assert.equal(body.complete, false);
  });

  it('stops reading when told to: no more chunks come', async () => {
    received = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n`);
    const { body, response } = await next();
    let chunks = 0;
    const flowing = body.flow((_chunk, done) => {
      chunks += 1;
      done();
      body.stop();
    });
    socket.write(Buffer.alloc(4_000_000));
    await assert.rejects(flowing, /stopped/);
    await sleep(50);
    assert.equal(chunks, 1);
    assert.equal(body.complete, false);
    response.end();
    socket.destroy();
  });
});
