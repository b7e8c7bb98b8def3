// CORS as a browser does it: preflights (OPTIONS with Origin and Access-Control-Request-*) of the
// three endpoints and the part PUT, then the requests themselves with Origin; and the bucket's
// CORS rule on RGW, set by services:up's tool (tools/services/ensure-bucket.ts), for presigned
// part PUTs from the same origins. A whole upload goes through, as a page on an allowed origin
// would make it: one part straight to RGW, one through the service.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MIB } from '@koodrive/limits';
import { ensureBucket, removeBucket } from '../support/s3.ts';
import {
  type TestApp,
  type TestUser,
  closeTestRedis,
  newUser,
  sha256Hex,
  startApp,
  testBytes,
} from '../support/harness.ts';

// .out/test/e2e → repository root
const ALLOWED = 'https://app.koodrive.test';
const ALSO_ALLOWED = 'http://localhost:5173';
const OTHER = 'https://evil.example.test';
// a bucket of this spec's own, so its CORS rule changes nobody else's
const BUCKET = `${process.env.S3_BUCKET!}-cors`;
const API = '/koodrive/ose/v1/files';

const REQUESTED_HEADERS = 'authorization,content-type,language,x-hw-share-folder-id,x-traceid';

async function preflight(url: string, origin: string, method: string, headers = REQUESTED_HEADERS): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

// What a browser checks of a preflight's answer before it sends the request (Fetch, "CORS check").
function browserWouldSend(response: Response, origin: string, method: string, headers: string): boolean {
  const listed = (name: string) =>
    (response.headers.get(name) ?? '')
      .split(',')
      .map((value) => value.trim().toLowerCase())
      .filter((value) => value !== '');
  const methods = listed('access-control-allow-methods');
  const allowedHeaders = listed('access-control-allow-headers');
  return (
    response.status >= 200 &&
    response.status < 300 &&
    response.headers.get('access-control-allow-origin') === origin &&
    (methods.includes(method.toLowerCase()) || ['get', 'head', 'post'].includes(method.toLowerCase())) &&
    headers
      .split(',')
      .filter((header) => header !== '')
      .every((header) => allowedHeaders.includes(header) || allowedHeaders.includes('*'))
  );
}

describe('CORS for web clients', () => {
  let t: TestApp;
  let user: TestUser;

  before(async () => {
    // the tool services:up runs: creates the bucket and sets its CORS rule for CORS_ORIGINS
    await ensureBucket(BUCKET, `${ALLOWED},${ALSO_ALLOWED}`);
    t = await startApp({ CORS_ORIGINS: `${ALLOWED},${ALSO_ALLOWED}`, S3_BUCKET: BUCKET });
    user = await newUser();
  });

  after(async () => {
    await t.close();
    await closeTestRedis();
    await removeBucket(BUCKET);
  });

  const routes = [
    { path: `${API}/create`, method: 'POST' },
    { path: `${API}/multipart/uploadUrl`, method: 'POST' },
    { path: `${API}/complete`, method: 'POST' },
    { path: `${API}/multipart/parts/FiAnyFileId/1?expires=1&signature=x`, method: 'PUT' },
  ];

  it('answers the preflights of the three endpoints and the part PUT for each allowed origin', async () => {
    for (const { path: route, method } of routes) {
      for (const origin of [ALLOWED, ALSO_ALLOWED]) {
        const answer = await preflight(`${t.baseUrl}${route}`, origin, method);
        assert.equal(answer.status, 204, `${method} ${route}`);
        assert.ok(browserWouldSend(answer, origin, method, REQUESTED_HEADERS), `${method} ${route} from ${origin}`);
        assert.equal(answer.headers.get('access-control-allow-methods'), method);
        assert.match(answer.headers.get('vary') ?? '', /Origin/);
        assert.ok(Number(answer.headers.get('access-control-max-age')) > 0);
        assert.equal(await answer.text(), '');
      }
    }
  });

  it('gives no CORS header to another origin, another method or a request without Origin', async () => {
    for (const { path: route, method } of routes) {
      const other = await preflight(`${t.baseUrl}${route}`, OTHER, method);
      assert.equal(other.headers.get('access-control-allow-origin'), null, `${route} from ${OTHER}`);
      assert.equal(browserWouldSend(other, OTHER, method, REQUESTED_HEADERS), false);
      // a page of the allowed origin under another scheme or port is another origin
      const sibling = await preflight(`${t.baseUrl}${route}`, 'http://app.koodrive.test', method);
      assert.equal(sibling.headers.get('access-control-allow-origin'), null);
      const wrongMethod = await preflight(`${t.baseUrl}${route}`, ALLOWED, 'DELETE');
      assert.equal(wrongMethod.headers.get('access-control-allow-origin'), null);
    }
    const plain = await fetch(`${t.baseUrl}${API}/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ fileName: 'no-origin.bin', length: 1 }),
    });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
    // and a preflight of a route that is not one of them is not answered
    const health = await preflight(`${t.baseUrl}/healthz`, ALLOWED, 'GET');
    assert.equal(health.headers.get('access-control-allow-origin'), null);
  });

  it('lets a page on an allowed origin read the answers, errors included, and their X-Traceid', async () => {
    const refused = await fetch(`${t.baseUrl}${API}/create`, {
      method: 'POST',
      headers: { origin: ALLOWED, 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
      body: '{}',
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(refused.headers.get('access-control-expose-headers') ?? '', /X-Traceid/);
    assert.ok(refused.headers.get('x-traceid'));
    assert.equal(((await refused.json()) as { code: number }).code, 13000901);
    const other = await fetch(`${t.baseUrl}${API}/complete`, {
      method: 'POST',
      headers: { origin: OTHER, 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ fileId: 'FiNope' }),
    });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    await other.body?.cancel();
  });

  it('uploads a file from an allowed origin: a part straight to RGW (bucket CORS), a part through the service', async () => {
    const data = testBytes(5 * MIB + 4321, 17);
    const browser = (extra: Record<string, string> = {}) => ({
      origin: ALLOWED,
      'content-type': 'application/json',
      authorization: `Bearer ${user.token}`,
      'x-traceid': 'cors-e2e-trace',
      language: 'en-US',
      ...extra,
    });
    const api = async (endpoint: string, body: unknown): Promise<Record<string, unknown>> => {
      const pre = await preflight(
        `${t.baseUrl}${API}/${endpoint}`,
        ALLOWED,
        'POST',
        'authorization,content-type,language,x-traceid',
      );
      assert.ok(browserWouldSend(pre, ALLOWED, 'POST', 'authorization,content-type,language,x-traceid'), endpoint);
      const response = await fetch(`${t.baseUrl}${API}/${endpoint}`, {
        method: 'POST',
        headers: browser(),
        body: JSON.stringify(body),
      });
      assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED, endpoint);
      assert.equal(response.headers.get('x-traceid'), 'cors-e2e-trace');
      const json = (await response.json()) as Record<string, unknown>;
      assert.equal(json.code, 0, `${endpoint}: ${JSON.stringify(json)}`);
      return json;
    };

    const created = await api('create', {
      fileName: `cors-${Date.now()}.bin`,
      length: data.length,
      sha256: sha256Hex(data),
    });
    const fileId = created.fileId as string;
    const [s3Part] = (
      await api('multipart/uploadUrl', {
        fileId,
        uploadVia: 's3',
        multiParts: [{ partNumber: 1, partSize: 5 * MIB, partOffset: 0 }],
      })
    ).multiParts as { uploadUrl: string }[];
    const [servicePart] = (
      await api('multipart/uploadUrl', {
        fileId,
        uploadVia: 'service',
        multiParts: [{ partNumber: 2, partSize: 4321, partOffset: 5 * MIB }],
      })
    ).multiParts as { uploadUrl: string }[];
    assert.ok(s3Part!.uploadUrl.startsWith(`${process.env.S3_ENDPOINT!}/${BUCKET}/`), s3Part!.uploadUrl);
    assert.ok(servicePart!.uploadUrl.startsWith(t.baseUrl), servicePart!.uploadUrl);

    for (const [part, bytes] of [
      [s3Part!, data.subarray(0, 5 * MIB)],
      [servicePart!, data.subarray(5 * MIB)],
    ] as const) {
      // RGW refuses the preflight of an origin its rule does not list
      const denied = await preflight(part.uploadUrl, OTHER, 'PUT', 'content-type');
      assert.equal(browserWouldSend(denied, OTHER, 'PUT', 'content-type'), false, part.uploadUrl);
      await denied.body?.cancel();
      const pre = await preflight(part.uploadUrl, ALLOWED, 'PUT', 'content-type');
      assert.ok(browserWouldSend(pre, ALLOWED, 'PUT', 'content-type'), part.uploadUrl);
      await pre.body?.cancel();
      const put = await fetch(part.uploadUrl, {
        method: 'PUT',
        headers: { origin: ALLOWED, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      assert.equal(put.status, 200, `${part.uploadUrl}: ${await put.clone().text()}`);
      assert.equal(put.headers.get('access-control-allow-origin'), ALLOWED);
      assert.match(put.headers.get('access-control-expose-headers') ?? '', /ETag/i);
      assert.ok(put.headers.get('etag'));
      await put.body?.cancel();
    }
    const done = await api('complete', { fileId });
    assert.equal(done.sha256, sha256Hex(data));
    assert.equal(done.length, data.length);
  });
});
