// The ranged GET of the lean data path against real sockets: a server that answers each request
// with whatever bytes a test scripts, well-formed or not, in pieces and with pauses. Every case
// runs twice: the range copied out of node's chunks, and received in place off the socket.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import http from 'node:http';
import https from 'node:https';
import { readRange } from './range-read.js';
import { StoreStatusError } from './store-answer.js';

type Answer = (socket: net.Socket, request: string) => Promise<void> | void;

interface Scripted {
  readonly url: URL;
  readonly requests: string[];
  answer: Answer;
  close(): Promise<void>;
}

async function scriptedServer(secure?: { key: Buffer; cert: Buffer }): Promise<Scripted> {
  const requests: string[] = [];
  const scripted = {
    requests,
    answer: (() => undefined) as Answer,
  };
  const onConnection = (socket: net.Socket): void => {
    let request = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      request += chunk.toString('latin1');
      if (request.includes('\r\n\r\n')) {
        requests.push(request);
        void Promise.resolve(scripted.answer(socket, request)).catch(() => socket.destroy());
      }
    });
  };
  const server = secure === undefined ? net.createServer(onConnection) : tls.createServer(secure, onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return Object.assign(scripted, {
    url: new URL(
      `${secure === undefined ? 'http' : 'https'}://${secure === undefined ? '127.0.0.1' : 'localhost'}:${port}/bucket/some/key?X-Amz-Signature=secret`,
    ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

const OBJECT = randomBytes(300_000);

// A 206 with the asked range of OBJECT, written in pieces with pauses; `mangle` edits the head.
function partialContent(mangle: (head: string) => string = (head) => head, pieces = 7): Answer {
  return async (socket, request) => {
    const [, first, last] = /Range: bytes=(\d+)-(\d+)/.exec(request)!.map(Number);
    const body = OBJECT.subarray(first, last! + 1);
    const head = mangle(
      `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n` +
        `Content-Range: bytes ${first}-${last}/${OBJECT.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(head);
    const step = Math.ceil(body.length / pieces);
    for (let at = 0; at < body.length; at += step) {
      await sleep(1);
      socket.write(body.subarray(at, at + step));
    }
  };
}

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

for (const inPlaceFrom of [Number.POSITIVE_INFINITY, 1]) {
  const readInto = (
    url: URL,
    start: number,
    into: Buffer,
    options: { onData?: (filled: number) => void; signal?: AbortSignal; idleTimeoutMs?: number } = {},
  ): Promise<void> =>
    readRange(url, start, into, {
      idleTimeoutMs: 30_000,
      ...options,
      agent: agents[url.protocol as 'http:' | 'https:'],
      inPlaceFrom,
    });

  describe(`${readRange.name}, ${inPlaceFrom === 1 ? 'in place' : 'copied'}`, () => {
    let server: Scripted;
    before(async () => {
      server = await scriptedServer();
    });
    after(() => server.close());

    it('sends one GET with Host and Range, and receives the range into the buffer, reporting progress', async () => {
      server.answer = partialContent();
      const into = Buffer.alloc(100_010, 0xee);
      const progress: number[] = [];
      await readInto(server.url, 12_345, into.subarray(5, -5), { onData: (filled) => progress.push(filled) });
      assert.ok(into.subarray(5, -5).equals(OBJECT.subarray(12_345, 112_345)));
      assert.ok(into.subarray(0, 5).every((byte) => byte === 0xee) && into.subarray(-5).every((byte) => byte === 0xee));
      assert.ok(progress.length > 1);
      assert.deepEqual(
        progress,
        progress.toSorted((a, b) => a - b),
      );
      assert.equal(progress.at(-1), 100_000);
      const request = server.requests.at(-1)!;
      assert.match(request, /^GET \/bucket\/some\/key\?X-Amz-Signature=secret HTTP\/1\.1\r\n/);
      assert.match(request, new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${server.url.port}\r\n`));
      assert.match(request, /\r\nRange: bytes=12345-112344\r\n/);
    });

    it('takes a 200 with the whole object when the range is the whole object, and nothing else', async () => {
      server.answer = (socket) => {
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${OBJECT.length}\r\n\r\n`), OBJECT]));
      };
      const whole = Buffer.alloc(OBJECT.length);
      await readInto(server.url, 0, whole);
      assert.ok(whole.equals(OBJECT));
      await assert.rejects(readInto(server.url, 1, Buffer.alloc(OBJECT.length - 1)), /HTTP 200 for a range/);
    });

    it('refuses an answer that does not carry exactly the range asked', async () => {
      const cases: [(head: string) => string, RegExp][] = [
        [(head) => head.replace(/Content-Range: bytes \d+/, 'Content-Range: bytes 1'), /Content-Range bytes 1-/],
        [
          (head) => head.replace(/Content-Length: \d+/, 'Content-Length: 99'),
          /Content-Length 99 for a range of 1000 bytes/,
        ],
        [
          (head) => head.replace(/Content-Length: \d+\r\n/, 'Transfer-Encoding: chunked\r\n'),
          /Transfer-Encoding chunked/,
        ],
        [(head) => head.replace('HTTP/1.1 206', 'HTTX/1.1 206'), /Parse Error/],
      ];
      for (const [mangle, message] of cases) {
        server.answer = partialContent(mangle);
        await assert.rejects(readInto(server.url, 5000, Buffer.alloc(1000)), message);
      }
    });

    it('waits past interim answers (100 Continue, 103 Early Hints) for the real one', async () => {
      const answer = partialContent();
      server.answer = async (socket, request) => {
        socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n');
        await sleep(2);
        await answer(socket, request);
      };
      const into = Buffer.alloc(3000);
      await readInto(server.url, 777, into);
      assert.ok(into.equals(OBJECT.subarray(777, 3777)));
    });

    it('refuses bytes past the range', async () => {
      server.answer = (socket) => {
        // in one write with the head: bytes past the announced length come with the range
        socket.write(
          `HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/20\r\n\r\n${'x'.repeat(15)}`,
        );
      };
      await assert.rejects(readInto(server.url, 0, Buffer.alloc(10)), /Parse Error/);
    });

    it("answers an error status with the store's error code, and the query never shows in a message", async () => {
      const xml = '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>';
      server.answer = async (socket) => {
        socket.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${xml.length}\r\n\r\n${xml.slice(0, 20)}`);
        await sleep(5);
        socket.write(xml.slice(20));
      };
      const error = await readInto(server.url, 0, Buffer.alloc(10)).then(
        () => assert.fail('resolved'),
        (error: unknown) => error,
      );
      assert.ok(error instanceof StoreStatusError);
      assert.equal(error.status, 404);
      assert.equal(error.code, 'NoSuchKey');
      // an error answer without a length: read until the server closes
      server.answer = (socket) => {
        socket.end('HTTP/1.1 503 Slow Down\r\nConnection: close\r\n\r\n<Error><Code>SlowDown</Code></Error>');
      };
      await assert.rejects(readInto(server.url, 0, Buffer.alloc(10)), { status: 503, code: 'SlowDown' });
      // a chunked error answer on a connection kept open: its last chunk ends it, not the idle timeout
      server.answer = (socket) => {
        socket.write(
          'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n' +
            '28\r\n<Error><Code>AccessDenied</Code></Error>\r\n0\r\n\r\n',
        );
      };
      await assert.rejects(readInto(server.url, 0, Buffer.alloc(10), { idleTimeoutMs: 5000 }), {
        status: 403,
        code: 'AccessDenied',
      });
      server.answer = partialContent((head) => head.replace(/Content-Range: bytes \d+/, 'Content-Range: bytes 1'));
      await assert.rejects(
        readInto(server.url, 0, Buffer.alloc(10)),
        (error: Error) => !error.message.includes('secret'),
      );
    });

    it('fails a connection cut short, having reported the bytes that did land', async () => {
      server.answer = async (socket) => {
        socket.write(`HTTP/1.1 206 Partial Content\r\nContent-Length: 1000\r\nContent-Range: bytes 0-999/1000\r\n\r\n`);
        socket.write(OBJECT.subarray(0, 600));
        await sleep(5);
        socket.destroy();
      };
      let landed = 0;
      const into = Buffer.alloc(1000);
      await assert.rejects(readInto(server.url, 0, into, { onData: (filled) => (landed = filled) }), {
        code: 'ECONNRESET',
        message: /connection closed after 600 of 1000 bytes/,
      });
      assert.equal(landed, 600);
      assert.ok(into.subarray(0, 600).equals(OBJECT.subarray(0, 600)));
    });

    it('gives up on a silent server, and stops when aborted', async () => {
      server.answer = () => undefined;
      await assert.rejects(readInto(server.url, 0, Buffer.alloc(10), { idleTimeoutMs: 50 }), { code: 'ETIMEDOUT' });
      const abort = new AbortController();
      const reading = readInto(server.url, 0, Buffer.alloc(10), { signal: abort.signal });
      await sleep(20);
      abort.abort();
      await assert.rejects(reading, { name: 'AbortError' });
      await assert.rejects(readInto(server.url, 0, Buffer.alloc(10), { signal: abort.signal }), {
        name: 'AbortError',
      });
    });

    it('reads over TLS the same way', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'range-read-'));
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
          secure.answer = partialContent();
          const into = Buffer.alloc(50_000);
          // not trusted yet: the certificate is refused
          await assert.rejects(readInto(secure.url, 1000, into), /self-signed certificate/);
          tls.setDefaultCACertificates([...defaults, readFileSync(cert, 'utf8')]);
          await readInto(secure.url, 1000, into);
          assert.ok(into.equals(OBJECT.subarray(1000, 51_000)));
          // refusals over TLS end the read without spinning on records TLS had already decrypted
          secure.answer = (socket) => {
            socket.write(`HTTP/1.1 206 Partial Content\r\nX-Filler: ${'f'.repeat(70 * 1024)}\r\n\r\n`);
          };
          await assert.rejects(readInto(secure.url, 0, into), { code: 'HPE_HEADER_OVERFLOW' });
          secure.answer = partialContent(
            (head) => head.replace(/Content-Range: bytes \d+/, 'Content-Range: bytes 1'),
            1,
          );
          await assert.rejects(readInto(secure.url, 0, into), /Content-Range bytes 1-/);
        } finally {
          await secure.close();
        }
      } finally {
        tls.setDefaultCACertificates(defaults);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
