import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ApiCode } from './api-code.js';
import { ApiError } from './api-error.js';
import { type AnsweredCall, bearer, KooDriveApi, type KooDriveApiOptions } from './koodrive-api.js';

const FAST_RETRY = { attempts: 3, baseMs: 1, maxMs: 5 };

interface Received {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Scripted {
  readonly status: number;
  readonly body: Record<string, unknown> | string;
  readonly headers?: Record<string, string>;
}

// A KooDrive service that records each request and answers what the test scripted, in order
// (then success).
class FakeService {
  readonly received: Received[] = [];
  readonly script: Scripted[] = [];
  answer: Record<string, unknown> = {};
  server!: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({ url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString() });
        const next: Scripted = this.script.shift() ?? {
          status: 200,
          body: { code: 0, msg: 'success.', ...this.answer },
        };
        response.writeHead(next.status, {
          'content-type': 'application/json',
          'x-traceid': 'trace-1',
          ...next.headers,
        });
        response.end(typeof next.body === 'string' ? next.body : JSON.stringify(next.body));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

const UNAVAILABLE = { status: 503, body: { code: 13000201, msg: 'Internal calling error.' } };

describe(KooDriveApi.name, () => {
  let service: FakeService;
  const api = (options: Partial<KooDriveApiOptions> = {}): KooDriveApi =>
    new KooDriveApi({
      baseUrl: service.baseUrl,
      authenticate: bearer('tok'),
      traceId: 'kc-trace',
      retry: FAST_RETRY,
      ...options,
    });

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

  it('sends the token, the trace id and no shared folder or language unless asked', async () => {
    await api().complete('FiX', 'ab'.repeat(32));
    const [request] = service.received;
    assert.equal(request!.url, '/koodrive/ose/v1/files/complete');
    assert.equal(request!.headers.authorization, 'Bearer tok');
    assert.equal(request!.headers['x-traceid'], 'kc-trace');
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['x-hw-share-folder-id'], undefined);
    assert.equal(request!.headers.language, undefined);
    assert.deepEqual(JSON.parse(request!.body), { fileId: 'FiX', sha256: 'ab'.repeat(32) });
  });

  it('sends x-hw-share-folder-id, language and uploadVia on every call, asking for the token each time', async () => {
    service.answer = { fileId: 'FiX', multiParts: [] };
    let asked = 0;
    const shared = api({
      shareFolder: 'sf-1',
      language: 'zh-CN',
      uploadVia: 'service',
      authenticate: bearer(() => `tok-${++asked}`),
    });
    await shared.create({ fields: { fileName: 'a' }, length: 1, multiParts: [] });
    await shared.uploadUrl('FiX', [{ partNumber: 1, partSize: 1, partOffset: 0 }]);
    await shared.complete('FiX');
    assert.deepEqual(
      service.received.map((request) => [
        request.headers['x-hw-share-folder-id'],
        request.headers.language,
        request.headers.authorization,
      ]),
      [
        ['sf-1', 'zh-CN', 'Bearer tok-1'],
        ['sf-1', 'zh-CN', 'Bearer tok-2'],
        ['sf-1', 'zh-CN', 'Bearer tok-3'],
      ],
    );
    const bodies = service.received.map((request) => JSON.parse(request.body) as Record<string, unknown>);
    assert.deepEqual(
      bodies.map((body) => body.uploadVia),
      ['service', 'service', undefined],
    );
    assert.deepEqual(bodies[2], { fileId: 'FiX' }, 'no sha256 unless given');
  });

  it('asks for part URLs at create and reads them from its answer', async () => {
    const expiresAt = '2030-01-01T00:00:00.000Z';
    service.answer = {
      fileId: 'FiX',
      fileName: 'a (1).bin',
      rapidUpload: false,
      exist: false,
      multiParts: [
        {
          partNumber: 1,
          partSize: 5,
          partOffset: 0,
          partId: 'FiX-1',
          uploadUrl: 'http://s/1',
          expiresAt,
          uploadVia: 's3',
        },
      ],
    };
    const multiParts = [{ partNumber: 1, partSize: 5, partOffset: 0 }];
    const created = await api().create({
      fields: { fileName: 'a.bin', autoRename: 2 },
      length: 5,
      sha256: 'ab'.repeat(32),
      multiParts,
    });
    assert.equal(service.received[0]!.url, '/koodrive/ose/v1/files/create');
    assert.deepEqual(JSON.parse(service.received[0]!.body), {
      fileName: 'a.bin',
      autoRename: 2,
      length: 5,
      sha256: 'ab'.repeat(32),
      multiParts,
    });
    assert.deepEqual(created, {
      fileId: 'FiX',
      fileName: 'a (1).bin',
      rapidUpload: false,
      exist: false,
      multiParts: [
        {
          partNumber: 1,
          uploadUrl: 'http://s/1',
          expiresAt: Date.parse(expiresAt),
          uploadVia: 's3',
          partSize: 5,
          partOffset: 0,
        },
      ],
    });
    // an answer without URLs leaves them to uploadUrl
    service.answer = { fileId: 'FiY', rapidUpload: true, exist: false };
    const flash = await api().create({ fields: { fileName: 'a.bin' }, length: 5 });
    assert.deepEqual(flash, { fileId: 'FiY', fileName: undefined, rapidUpload: true, exist: false, multiParts: [] });
  });

  it('goes to the endpoints it is given (a new version of a file has its own)', async () => {
    service.answer = { fileId: 'FiX' };
    const revision = { create: 'revision/createRevision', complete: 'revision/completeRevision' };
    await api().create({ fields: { fileId: 'FiX', containerId: 'c-1' }, length: 5 }, revision);
    await api().complete('FiX', undefined, revision);
    assert.deepEqual(
      service.received.map((request) => request.url),
      ['/koodrive/ose/v1/revision/createRevision', '/koodrive/ose/v1/revision/completeRevision'],
    );
  });

  it("waits a 503's Retry-After, in seconds or as an HTTP date, and tells each attempt", async () => {
    const soon = new Date(Date.now() + 2000).toUTCString();
    service.script.push(
      { ...UNAVAILABLE, headers: { 'retry-after': soon } },
      { ...UNAVAILABLE, headers: { 'retry-after': '0' } },
    );
    const calls: AnsweredCall[] = [];
    const retries: string[] = [];
    const patient = api({
      retry: { attempts: 3, baseMs: 1, maxMs: 5_000 },
      onAnswer: (call) => calls.push(call),
      onRetry: (endpoint, retry, reason) => retries.push(`${endpoint} ${retry} ${reason}`),
    });
    const started = Date.now();
    await patient.complete('FiX');
    // the date was one to two seconds ahead (HTTP dates have whole seconds)
    assert.ok(Date.now() - started >= 900, `waited ${Date.now() - started} ms`);
    assert.deepEqual(
      calls.map(({ endpoint, attempt, status, code }) => [endpoint, attempt, status, code]),
      [
        ['complete', 1, 503, 13000201],
        ['complete', 2, 503, 13000201],
        ['complete', 3, 200, 0],
      ],
    );
    assert.deepEqual(retries, ['complete 1 13000201 (HTTP 503)', 'complete 2 13000201 (HTTP 503)']);
  });

  it('sends create again only when the service surely did not act on it', async () => {
    service.script.push(UNAVAILABLE);
    service.answer = { fileId: 'FiX' };
    await api().create({ fields: { fileName: 'a' }, length: 1 });
    assert.equal(service.received.length, 2, 'a 503 is retried');

    service.received.length = 0;
    service.script.push({ status: 500, body: { code: 13000201, msg: 'Internal calling error.' } });
    const error = await api()
      .create({ fields: { fileName: 'a' }, length: 1 })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, ApiCode.InternalError);
    assert.equal(error.status, 500);
    assert.equal(service.received.length, 1, 'a 500 may have left a task: not sent again');

    service.received.length = 0;
    service.script.push({ status: 500, body: { code: 13000201, msg: 'Internal calling error.' } });
    await api({ createRetries: 'any' }).create({ fields: { fileName: 'a' }, length: 1 });
    assert.equal(service.received.length, 2);
  });

  it("keeps the service's code, msg and trace id, and reads a proxy's page as an internal error", async () => {
    service.script.push({ status: 400, body: { code: 13000401, msg: 'Upload task not found.' } });
    const gone = await api()
      .uploadUrl('FiX', [])
      .catch((caught: unknown) => caught);
    assert.ok(gone instanceof ApiError);
    assert.equal(gone.message, 'uploadUrl answered 13000401 (HTTP 400): Upload task not found.');
    assert.equal(gone.traceId, 'trace-1');

    service.script.push(
      { status: 502, body: '<html>Bad Gateway</html>' },
      { status: 502, body: '<html>Bad Gateway</html>' },
      { status: 502, body: '<html>Bad Gateway</html>' },
    );
    const proxy = await api()
      .complete('FiX')
      .catch((caught: unknown) => caught);
    assert.ok(proxy instanceof ApiError);
    assert.equal(proxy.code, ApiCode.InternalError);
    assert.equal(proxy.apiMessage, 'HTTP 502: <html>Bad Gateway</html>');
    assert.equal(service.received.length, 4, 'complete retried up to its attempts');
  });
});
