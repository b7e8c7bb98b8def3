// Hostile input over a raw socket (what fetch refuses to send): X-Traceid with control characters,
// NUL, 10 KB or non-ASCII bytes, oversized headers; fields the contract does not have (mass
// assignment, __proto__); injection-shaped ids. Each gets the contract's answer and changes nothing.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { before, describe, it } from 'node:test';
import { call, fileRow, newUser, testDb, type TestUser, useTestApp } from '../support/harness.ts';

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

// One request written byte for byte; the answer parsed just enough for assertions.
async function rawRequest(port: number, head: Buffer, body: string): Promise<RawResponse> {
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', (error) => (chunks.length > 0 ? resolve(Buffer.concat(chunks)) : reject(error)));
    // written, not ended: a half-closed request may be dropped unanswered
    socket.write(Buffer.concat([head, Buffer.from(body)]));
  });
  const text = bytes.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4) };
}

function completeWithTraceid(token: string, traceid: Buffer): Buffer {
  const body = JSON.stringify({ fileId: 'FiNope' });
  return Buffer.concat([
    Buffer.from(
      'POST /koodrive/ose/v1/files/complete HTTP/1.1\r\nHost: koodrive\r\n' +
        `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\nX-Traceid: `,
    ),
    traceid,
    Buffer.from('\r\n\r\n'),
  ]);
}

describe('hostile input', () => {
  const app = useTestApp();
  let user: TestUser;
  let port: number;

  before(async () => {
    user = await newUser();
    port = Number(new URL(app().baseUrl).port);
  });

  it('ignores an X-Traceid of 10 KB or of non-ASCII bytes, answering with a fresh one', async () => {
    for (const traceid of [Buffer.from('a'.repeat(10 * 1024)), Buffer.from('über-trace'), Buffer.from([0x61, 0xff])]) {
      const answer = await rawRequest(
        port,
        completeWithTraceid(user.token, traceid),
        JSON.stringify({ fileId: 'FiNope' }),
      );
      assert.equal(answer.status, 400);
      assert.deepEqual(JSON.parse(answer.body), { code: 13000401, msg: 'Upload task not found.' });
      assert.match(answer.headers['x-traceid']!, /^[0-9a-f]{32}$/);
    }
  });

  it('answers 13000101 with a fresh X-Traceid to headers the HTTP parser refuses (control characters, NUL, 100 KB)', async () => {
    for (const [traceid, status] of [
      [Buffer.from('abc\x01def'), 400],
      [Buffer.from('abc\x7f'), 400],
      [Buffer.from('a\x00b'), 400],
      [Buffer.from('b'.repeat(100_000)), 431],
    ] as const) {
      const answer = await rawRequest(
        port,
        completeWithTraceid(user.token, traceid),
        JSON.stringify({ fileId: 'FiNope' }),
      );
      assert.equal(answer.status, status);
      assert.deepEqual(JSON.parse(answer.body), { code: 13000101, msg: 'Request error.' });
      assert.match(answer.headers['x-traceid']!, /^[0-9a-f]{32}$/);
      assert.ok(!answer.body.includes('abc') && !answer.body.includes('bbbb'));
    }
  });

  it('refuses a body carrying __proto__ or constructor.prototype with 13000101, creating nothing', async () => {
    const fileName = `proto-${Date.now()}.bin`;
    for (const poison of ['"__proto__":{"polluted":true}', '"constructor":{"prototype":{"polluted":true}}']) {
      const answer = await call(app().baseUrl, 'create', undefined, {
        token: user.token,
        rawBody: `{"fileName":"${fileName}","length":10,${poison}}`,
      });
      assert.equal(answer.body.code, 13000101);
    }
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    assert.equal(await testDb().file.count({ where: { ownerId: user.userId, fileName } }), 0);
  });

  it('ignores fields the contract does not have: no mass assignment', async () => {
    const fileName = `mass-${Date.now()}.bin`;
    const answer = await call(app().baseUrl, 'create', undefined, {
      token: user.token,
      rawBody: JSON.stringify({
        fileName,
        length: 10,
        ownerId: 'someone-else',
        containerId: 'c-someone-else',
        status: 'COMPLETED',
        actualSha256: 'a'.repeat(64),
        claim: 99,
        storageKey: 'files/elsewhere',
        rapidUpload: true,
      }),
    });
    assert.equal(answer.body.code, 0);
    assert.equal(answer.body.rapidUpload, false);
    assert.equal(answer.body.containerId, user.containerId);
    const row = await fileRow(answer.body.fileId as string);
    assert.equal(row.ownerId, user.userId);
    assert.equal(row.containerId, user.containerId);
    assert.equal(row.status, 'UPLOADING');
    assert.equal(row.actualSha256, null);
    assert.equal(row.claim, 0);
    assert.ok(row.storageKey.includes(user.containerId));
  });

  it('answers injection-shaped, oversized or non-ASCII ids and digests with 13000102 or 13000401, never more', async () => {
    for (const fileId of ["Fi' OR '1'='1", 'Fi'.padEnd(10_000, 'x'), 'Fiüñí', 'Fi\u0000x', '../../etc/passwd', '']) {
      const answer = await call(app().baseUrl, 'complete', { fileId }, { token: user.token });
      assert.equal(answer.status, 400, JSON.stringify(fileId.slice(0, 20)));
      assert.ok([13000102, 13000401].includes(answer.body.code), `${answer.body.code}`);
    }
    for (const sha256 of ['g'.repeat(64), 'a'.repeat(63), `${'a'.repeat(63)}\n`, 42]) {
      const answer = await call(app().baseUrl, 'complete', { fileId: 'FiNope', sha256 }, { token: user.token });
      assert.equal(answer.body.code, 13000102, JSON.stringify(sha256));
    }
    // 10,001 parts fit the 4 MiB body: the part count itself is refused, naming the field
    const parts = Array.from({ length: 10_001 }, (_, i) => ({ partNumber: i + 1, partSize: 5 }));
    const many = await call(
      app().baseUrl,
      'multipart/uploadUrl',
      { fileId: 'FiNope', multiParts: parts },
      { token: user.token },
    );
    assert.equal(many.body.code, 13000102);
    assert.equal(many.body.msg, 'Verify parameters failed. multiParts: must hold at most 10000 parts');
    // and part number 10,001 alone, by its own rule
    const beyond = await call(
      app().baseUrl,
      'multipart/uploadUrl',
      { fileId: 'FiNope', multiParts: [{ partNumber: 10_001, partSize: 5 }] },
      { token: user.token },
    );
    assert.equal(beyond.body.msg, 'Verify parameters failed. multiParts[0].partNumber: must be 1 to 10000');
    const nested = await call(app().baseUrl, 'create', undefined, {
      token: user.token,
      rawBody: `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
    });
    assert.equal(nested.body.code, 13000101);
  });
});
