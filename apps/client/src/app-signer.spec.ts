import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseAppAuthorization, verifyAppSignature } from '@koodrive/protocol';
import { KooDriveApi } from '@koodrive/upload-client';
import { AppSigner, authenticatorFor } from './app-signer.js';

const CREDENTIALS = { appId: 'app-1', secret: '0123456789abcdef0123', userId: 'u-1' };
const url = new URL('http://127.0.0.1:3000/koodrive/ose/v1/files/complete');

describe(AppSigner.name, () => {
  it('signs different requests of one second at once', async () => {
    const at = Date.parse('2026-03-01T12:00:00.250Z');
    const signer = new AppSigner(CREDENTIALS, () => at);
    const a = await signer.sign({ url, contentType: 'application/json', body: '{"fileId":"FiA"}' });
    const b = await signer.sign({ url, contentType: 'application/json', body: '{"fileId":"FiB"}' });
    assert.equal(a['x-date'], '20260301T120000Z');
    assert.equal(b['x-date'], '20260301T120000Z');
    assert.equal(a['x-user-id'], 'u-1');
    assert.match(
      a.authorization!,
      /^HMAC-SHA256 AppId=app-1,SignedHeaders=content-type;host;x-date;x-user-id,Signature=/,
    );
    assert.notEqual(a.authorization, b.authorization);
  });

  it('holds a repeated request until the next second, so its signature is new', async () => {
    const signer = new AppSigner(CREDENTIALS);
    const request = { url, contentType: 'application/json', body: '{"fileId":"FiA"}' };
    const first = await signer.sign(request);
    const again = await signer.sign(request);
    assert.notEqual(again.authorization, first.authorization);
    assert.ok(again['x-date']! > first['x-date']!, `${again['x-date']} after ${first['x-date']}`);
  });
});

describe(authenticatorFor.name, () => {
  // a service that records each request, answering 503 to the first and success after
  const received: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString() });
      const unavailable = received.length === 1;
      response.writeHead(unavailable ? 503 : 200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify(unavailable ? { code: 13000201, msg: 'no' } : { code: 0, msg: 'success.', multiParts: [] }),
      );
    });
  });
  before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
  after(() => server.close());

  it('signs every call as the app, afresh for each retry, the shared folder header with it', async () => {
    const api = new KooDriveApi({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      authenticate: authenticatorFor({ kind: 'app', ...CREDENTIALS }),
      shareFolder: 'sf-1',
      traceId: 'kc-trace',
      retry: { attempts: 3, baseMs: 1, maxMs: 5 },
    });
    await api.uploadUrl('FiX', [{ partNumber: 2, partSize: 5, partOffset: 64, hashCtx: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    await api.complete('FiX', 'ab'.repeat(32));
    assert.equal(received.length, 3);
    for (const request of received) {
      assert.equal(request.headers['x-user-id'], 'u-1');
      assert.match(String(request.headers['x-date']), /^\d{8}T\d{6}Z$/);
      const authorization = parseAppAuthorization(String(request.headers.authorization));
      assert.ok(authorization !== null, String(request.headers.authorization));
      assert.deepEqual(authorization.signedHeaders, [
        'content-type',
        'host',
        'x-date',
        'x-hw-share-folder-id',
        'x-user-id',
      ]);
      const verdict = verifyAppSignature({
        authorization,
        secret: CREDENTIALS.secret,
        method: 'POST',
        path: request.url,
        query: '',
        headers: request.headers,
        payloadSha256Hex: createHash('sha256').update(request.body).digest('hex'),
      });
      assert.ok(verdict.ok, request.url);
    }
    // the retry repeats the body but not the signature, which the service would refuse as a replay
    const [first, retry] = received;
    assert.equal(retry!.body, first!.body);
    assert.notEqual(retry!.headers.authorization, first!.headers.authorization);
  });
});
