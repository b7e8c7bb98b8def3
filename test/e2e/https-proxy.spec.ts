// HTTPS in front of the service, as in production (deploy/overlays/production): a real
// TLS-terminating nginx with the Ingress's settings, a certificate made by the test, the service
// trusting X-Forwarded-* from the proxy only (TRUST_PROXY). Through it the project's client
// (apps/client, `koodrive put`) uploads whole files: with its parts through the service on
// https:// part URLs (from X-Forwarded-*, and from PUBLIC_URL as production sets it), and straight
// to S3 (RGW behind the same TLS proxy) on presigned https:// URLs; and an upload over HTTP/2,
// which nginx offers on its TLS side.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as connectHttp2, constants, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MIB } from '@koodrive/limits';
import { call, closeTestRedis, newUser, sha256Hex, testBytes, type TestUser } from '../support/harness.ts';
import { deadPort } from '../support/dead-port.ts';
import { ServiceProcess } from '../support/service-process.ts';
import { PROXY_ADDRESS, TlsProxy } from '../support/tls-proxy.ts';

const CLIENT = fileURLToPath(new URL('../../apps/client/src/main.js', import.meta.url));
const PART_PATH = '/koodrive/ose/v1/files/multipart/parts/';
const SECRET = 'a-test-secret-of-at-least-32-chars!!';

// One request over an HTTP/2 session: status, headers and body.
async function h2(
  session: ClientHttp2Session,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<{ status: number; body: string }> {
  const { host, pathname, search } = new URL(url);
  const stream = session.request({
    ':method': method,
    ':authority': host,
    ':path': `${pathname}${search}`,
    ...headers,
  });
  stream.end(body);
  const [response] = (await once(stream, 'response')) as [Record<string, string | number>];
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += chunk as string;
  }
  return { status: Number(response[constants.HTTP2_HEADER_STATUS]), body: text };
}

describe('HTTPS through a TLS-terminating nginx, with the project’s client', () => {
  let viaService: ServiceProcess;
  let viaS3: ServiceProcess;
  // as deploy/overlays/production configures it: PUBLIC_URL https:// on the proxy's name, and
  // TRUST_PROXY
  let production: ServiceProcess;
  let publicUrl: string;
  let proxy: TlsProxy;
  let user: TestUser;
  let dir: string;
  // the proxy in front of RGW
  let rgw: TlsProxy;
  // https:// of viaService, of viaS3, and of RGW
  let urls: { service: string; s3Api: string; s3: string };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'koodrive-https-'));
    // the S3 route's port must be known before the service that presigns for it starts
    rgw = await TlsProxy.start([{ upstream: process.env.S3_ENDPOINT!, forwarded: false }]);
    const s3Public = rgw.urls[0]!;
    viaService = await ServiceProcess.start({
      PART_UPLOAD_VIA: 'service',
      TRUST_PROXY: PROXY_ADDRESS,
      PART_URL_SECRET: SECRET,
    });
    viaS3 = await ServiceProcess.start({
      PART_UPLOAD_VIA: 's3',
      TRUST_PROXY: PROXY_ADDRESS,
      PART_URL_SECRET: SECRET,
      S3_PUBLIC_ENDPOINT: s3Public,
    });
    const publicPort = await deadPort();
    publicUrl = `https://localhost:${publicPort}`;
    production = await ServiceProcess.start({
      PART_UPLOAD_VIA: 'service',
      TRUST_PROXY: PROXY_ADDRESS,
      PART_URL_SECRET: SECRET,
      PUBLIC_URL: publicUrl,
    });
    proxy = await TlsProxy.start([
      { upstream: viaService.baseUrl, forwarded: true },
      { upstream: viaS3.baseUrl, forwarded: true },
      { upstream: production.baseUrl, forwarded: true, port: publicPort },
    ]);
    urls = { service: proxy.urls[0]!, s3Api: proxy.urls[1]!, s3: s3Public };
    user = await newUser();
  });

  after(async () => {
    await proxy?.stop();
    await rgw?.stop();
    await viaService?.stop();
    await viaS3?.stop();
    await production?.stop();
    await closeTestRedis();
    await rm(dir, { recursive: true, force: true });
  });

  // `koodrive put` against `url`, trusting the test's CAs; returns its result lines.
  async function put(url: string, data: Buffer, name: string): Promise<Record<string, string>> {
    const file = path.join(dir, name);
    await writeFile(file, data);
    const bundle = path.join(dir, 'cas.pem');
    await writeFile(bundle, Buffer.concat(await Promise.all([rgw.caFile, proxy.caFile].map((ca) => readFile(ca)))));
    const child = spawn(process.execPath, [CLIENT, 'put', file, '--part-size', '5MiB', '--parallel', '2'], {
      env: { ...process.env, KOODRIVE_URL: url, KOODRIVE_TOKEN: user.token, NODE_EXTRA_CA_CERTS: bundle },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    assert.equal(exitCode, 0, output);
    return Object.fromEntries(
      output
        .split('\n')
        .map((line) => /^(\w+): (.*)$/.exec(line))
        .filter((match) => match !== null)
        .map((match) => [match[1]!, match[2]!]),
    );
  }

  it('the client uploads a file whose parts go through the service on https:// part URLs', async () => {
    const data = testBytes(2 * 5 * MIB + 77, 61);
    const result = await put(urls.service, data, 'via-service.bin');
    assert.equal(result.code, '0');
    assert.equal(result.sha256, sha256Hex(data));
    // three part PUTs came in over TLS on the API's port, each with its part's bytes
    const port = new URL(urls.service).port;
    const puts = (await proxy.accessLog()).filter(
      (line) => line.startsWith(`${port} `) && line.includes(` PUT ${PART_PATH}`),
    );
    assert.equal(puts.length, 3, puts.join('\n'));
    assert.ok(puts.every((line) => / 200 \d+$/.test(line)));
  });

  it('with PUBLIC_URL as in production, the client’s parts go to PUBLIC_URL’s https:// URLs, whatever the request said', async () => {
    const data = testBytes(5 * MIB + 21, 64);
    const result = await put(publicUrl, data, 'production.bin');
    assert.equal(result.code, '0');
    assert.equal(result.sha256, sha256Hex(data));
    const port = new URL(publicUrl).port;
    const puts = (await proxy.accessLog()).filter(
      (line) => line.startsWith(`${port} `) && line.includes(` PUT ${PART_PATH}`),
    );
    assert.equal(puts.length, 2, puts.join('\n'));
    // asked straight (no proxy, a Host of its own), the service still hands out PUBLIC_URL's
    const created = await call(
      production.baseUrl,
      'create',
      { fileName: `p-${Date.now()}.bin`, length: 5 * MIB },
      { token: user.token },
    );
    const answer = await call(
      production.baseUrl,
      'multipart/uploadUrl',
      { fileId: created.body.fileId, multiParts: [{ partNumber: 1, partSize: 5 * MIB, partOffset: 0 }] },
      { token: user.token },
    );
    const [part] = answer.body.multiParts as { uploadUrl: string }[];
    assert.ok(part!.uploadUrl.startsWith(`${publicUrl}${PART_PATH}`), part!.uploadUrl);
  });

  it('the client uploads a file whose parts go straight to S3 on presigned https:// URLs', async () => {
    const data = testBytes(5 * MIB + 3, 62);
    const before = (await rgw.accessLog()).length;
    const result = await put(urls.s3Api, data, 'via-s3.bin');
    assert.equal(result.code, '0');
    assert.equal(result.sha256, sha256Hex(data));
    const puts = (await rgw.accessLog()).slice(before).filter((line) => line.includes(' PUT '));
    assert.equal(puts.length, 2, puts.join('\n'));
    assert.ok(puts.every((line) => / 200 \d+$/.test(line)));
  });

  it('speaks HTTP/2 on the TLS side: a whole upload over h2, parts on the https:// URLs the forwarded headers make', async () => {
    const session = connectHttp2(urls.service, { ca: [proxy.ca], servername: 'localhost' });
    try {
      await once(session, 'connect');
      assert.equal(session.alpnProtocol, 'h2');
      const auth = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
      const api = (endpoint: string, body: unknown) =>
        h2(session, 'POST', `${urls.service}/koodrive/ose/v1/files/${endpoint}`, auth, JSON.stringify(body));
      const data = testBytes(5 * MIB + 11, 63);
      const created = JSON.parse(
        (await api('create', { fileName: `h2-${Date.now()}.bin`, length: data.length })).body,
      ) as {
        code: number;
        fileId: string;
      };
      assert.equal(created.code, 0);
      const answer = JSON.parse(
        (
          await api('multipart/uploadUrl', {
            fileId: created.fileId,
            multiParts: [
              { partNumber: 1, partSize: 5 * MIB, partOffset: 0 },
              { partNumber: 2, partSize: data.length - 5 * MIB, partOffset: 5 * MIB },
            ],
          })
        ).body,
      ) as {
        code: number;
        multiParts: { partNumber: number; partOffset: number; partSize: number; uploadUrl: string }[];
      };
      assert.equal(answer.code, 0);
      for (const part of answer.multiParts) {
        // the scheme and host the client reached the proxy at, from X-Forwarded-Proto/-Host
        assert.ok(part.uploadUrl.startsWith(`${urls.service}${PART_PATH}`), part.uploadUrl);
        const stored = await h2(
          session,
          'PUT',
          part.uploadUrl,
          // as any HTTP/2 client sends a body of known length (the service wants the part's size)
          { 'content-length': String(part.partSize) },
          data.subarray(part.partOffset, part.partOffset + part.partSize),
        );
        assert.equal(stored.status, 200, stored.body);
      }
      const completed = JSON.parse((await api('complete', { fileId: created.fileId })).body) as {
        code: number;
        sha256: string;
      };
      assert.equal(completed.code, 0);
      assert.equal(completed.sha256, sha256Hex(data));
      const port = new URL(urls.service).port;
      const overH2 = (await proxy.accessLog()).filter((line) => line.startsWith(`${port} HTTP/2.0 `));
      assert.ok(overH2.filter((line) => line.includes(` PUT ${PART_PATH}`)).length >= 2, overH2.join('\n'));
    } finally {
      session.close();
    }
  });

  it('believes X-Forwarded-* from the proxy only: forged ones sent straight to the service are ignored', async () => {
    const created = await call(
      viaService.baseUrl,
      'create',
      { fileName: `forged-${Date.now()}.bin`, length: 5 * MIB },
      { token: user.token },
    );
    assert.equal(created.body.code, 0);
    const answer = await call(
      viaService.baseUrl,
      'multipart/uploadUrl',
      { fileId: created.body.fileId, multiParts: [{ partNumber: 1, partSize: 5 * MIB, partOffset: 0 }] },
      {
        token: user.token,
        headers: {
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.example.com',
          'x-forwarded-for': '192.0.2.1',
        },
      },
    );
    const [part] = answer.body.multiParts as { uploadUrl: string }[];
    assert.ok(part!.uploadUrl.startsWith(`${viaService.baseUrl}${PART_PATH}`), part!.uploadUrl);
  });
});
