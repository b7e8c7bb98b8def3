import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parseAppAuthorization, verifyAppSignature } from '@koodrive/protocol';
import { type Credentials, KooDriveApi } from './koodrive-api.js';

const FAST_RETRY = { attempts: 3, baseMs: 1, maxMs: 5 };
const APP = { kind: 'app', appId: 'app-1', secret: '0123456789abcdef0123', userId: 'u-1' } as const;

interface Received {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

// A KooDrive service that records each request and answers what the test scripted, in order
// (then success).
class FakeService {
  readonly received: Received[] = [];
  readonly script: { status: number; body: Record<string, unknown> }[] = [];
  answer: Record<string, unknown> = {};
  server!: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({ url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString() });
        const next = this.script.shift() ?? { status: 200, body: { code: 0, msg: 'success.', ...this.answer } };
        response.writeHead(next.status, { 'content-type': 'application/json', 'x-traceid': 'trace-1' });
        response.end(JSON.stringify(next.body));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

// Whether the service would take the request's app signature.
function verified(request: Received): boolean {
  const authorization = parseAppAuthorization(String(request.headers.authorization));
  assert.ok(authorization !== null, String(request.headers.authorization));
  assert.deepEqual(authorization.signedHeaders, ['content-type', 'host', 'x-date', 'x-user-id']);
  return verifyAppSignature({
    authorization,
    secret: APP.secret,
    method: 'POST',
    path: request.url,
    query: '',
    headers: request.headers,
    payloadSha256Hex: createHash('sha256').update(request.body).digest('hex'),
  }).ok;
}

describe(KooDriveApi.name, () => {
  let service: FakeService;
  const api = (credentials: Credentials, shareFolder: string | null = null): KooDriveApi =>
    new KooDriveApi({ baseUrl: service.baseUrl, credentials, shareFolder, traceId: 'kc-trace', retry: FAST_RETRY });

  before(async () => {
    service = new FakeService();
    await service.start();
  });
  after(() => {
    service.server.close();
  });
  beforeEach(() => {
    service.received.length = 0;
    service.script.length = 0;
    service.answer = {};
  });

  it('sends a session token, the trace id and no shared folder unless asked', async () => {
    await api({ kind: 'token', token: 'tok' }).complete('FiX', 'ab'.repeat(32));
    const [request] = service.received;
    assert.equal(request!.url, '/koodrive/ose/v1/files/complete');
    assert.equal(request!.headers.authorization, 'Bearer tok');
    assert.equal(request!.headers['x-traceid'], 'kc-trace');
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['x-hw-share-folder-id'], undefined);
    assert.equal(request!.headers['x-date'], undefined);
  });

  it('sends x-hw-share-folder-id on every call', async () => {
    service.answer = { fileId: 'FiX', multiParts: [] };
    const shared = api({ kind: 'token', token: 'tok' }, 'sf-1');
    await shared.create({ fileName: 'a', length: 1, sha256: 'ab'.repeat(32), autoRename: 2, multiParts: [] });
    await shared.uploadUrl('FiX', [{ partNumber: 1, partSize: 1, partOffset: 0 }]);
    await shared.complete('FiX', 'ab'.repeat(32));
    assert.deepEqual(
      service.received.map((request) => request.headers['x-hw-share-folder-id']),
      ['sf-1', 'sf-1', 'sf-1'],
    );
  });

  it('signs every call as the app, afresh for each retry', async () => {
    service.script.push({ status: 503, body: { code: 13000201, msg: 'Internal calling error.' } });
    service.answer = { multiParts: [] };
    const appApi = api(APP, 'sf-1');
    await appApi.uploadUrl('FiX', [{ partNumber: 2, partSize: 5, partOffset: 64, hashCtx: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    await appApi.complete('FiX', 'ab'.repeat(32));
    assert.equal(service.received.length, 3);
    for (const request of service.received) {
      assert.equal(request.headers['x-user-id'], 'u-1');
      assert.match(String(request.headers['x-date']), /^\d{8}T\d{6}Z$/);
      assert.ok(verified(request), request.url);
    }
    // the retry repeats the body but not the signature, which the service would refuse as a replay
    const [first, retry] = service.received;
    assert.equal(retry!.body, first!.body);
    assert.notEqual(retry!.headers.authorization, first!.headers.authorization);
  });

  it('asks for part URLs at create and reads them from its answer', async () => {
    const expiresAt = '2030-01-01T00:00:00.000Z';
    service.answer = {
      fileId: 'FiX',
      fileName: 'a.bin',
      rapidUpload: false,
      exist: false,
      multiParts: [{ partNumber: 1, partSize: 5, partOffset: 0, partId: 'FiX-1', uploadUrl: 'http://s/1', expiresAt }],
    };
    const request = {
      fileName: 'a.bin',
      length: 5,
      sha256: 'ab'.repeat(32),
      autoRename: 2,
      multiParts: [{ partNumber: 1, partSize: 5, partOffset: 0 }],
    };
    const created = await api({ kind: 'token', token: 'tok' }).create(request);
    assert.deepEqual(JSON.parse(service.received[0]!.body), request);
    assert.deepEqual(created, {
      fileId: 'FiX',
      fileName: 'a.bin',
      rapidUpload: false,
      exist: false,
      multiParts: [{ partNumber: 1, uploadUrl: 'http://s/1', expiresAt: Date.parse(expiresAt) }],
    });
    // an answer without URLs leaves them to uploadUrl
    service.answer = { fileId: 'FiY', rapidUpload: true, exist: false };
    const flash = await api({ kind: 'token', token: 'tok' }).create(request);
    assert.deepEqual(flash, { fileId: 'FiY', fileName: 'a.bin', rapidUpload: true, exist: false, multiParts: [] });
  });
});
