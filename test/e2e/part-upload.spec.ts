// Parts uploaded through the service (uploadVia service) and parallel-mode files (hashCtx):
// the hash chain proves the digest with no byte read back; parts that went straight to S3 are
// hashed part by part from their hashCtx; a broken chain is 13000402 naming the part. Every
// digest is checked against node:crypto on the same bytes, and S3's requests are counted at a proxy.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { before, after, describe, it } from 'node:test';
import { FaultProxy, s3Requests } from '../../tools/testing/fault-proxy.ts';
import { MIB } from '@koodrive/limits';

const real = { s3: process.env.S3_ENDPOINT! };
const s3 = await FaultProxy.start(real.s3, { http: true });
const harness = await import('../support/harness.ts');
const { assertCompletedOnce } = await import('../support/promises.ts');

const PART = 5 * MIB;
const app = harness.useTestApp({ S3_ENDPOINT: s3.url(real.s3), S3_PUBLIC_ENDPOINT: real.s3 });

interface PartUrl {
  partNumber: number;
  partOffset: number;
  partSize: number;
  uploadUrl: string;
  uploadVia: string;
}

// A PUT over node:http (fetch would set its own Content-Length): the status and the body text.
function rawPut(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'PUT', headers: { 'content-length': String(body.length), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('parts through the service and the hash chain', () => {
  let user: Awaited<ReturnType<typeof harness.newUser>>;
  const complete = (fileId: string, sha256?: string) =>
    harness.call(app().baseUrl, 'complete', { fileId, sha256 }, { token: user.token });
  const partsOf = (fileId: string) =>
    harness.testDb().filePart.findMany({ where: { fileId }, orderBy: { partNumber: 'asc' } });

  before(async () => {
    user = await harness.newUser();
  });
  after(async () => {
    s3.clearFaults();
    await s3.stop();
  });

  it('completes a parallel upload sent through the service, parts in any order, without reading it back', async () => {
    const data = harness.testBytes(2 * PART + MIB + 17, 31);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      uploadVia: 'service',
      concurrent: true,
    });
    for (const part of parts as unknown as PartUrl[]) {
      assert.equal(part.uploadVia, 'service');
      assert.ok(part.uploadUrl.startsWith(`${app().baseUrl}/koodrive/ose/v1/files/multipart/parts/${fileId}/`));
    }
    const answer = await complete(fileId, harness.sha256Hex(data));
    assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
    assert.equal(answer.body.sha256, harness.sha256Hex(data));
    assert.equal(s3.count(s3Requests.getObject(fileId)), 0, 'no byte read back');
    const row = await harness.fileRow(fileId);
    assert.equal(row.chainSha256, harness.sha256Hex(data));
    // and the object really is the file
    await assertCompletedOnce(fileId, data);
  });

  it('gives the same digest as node:crypto for an upload through the service without a declared sha256', async () => {
    const data = harness.testBytes(PART + 64 * 3, 32);
    const { fileId } = await harness.upload(app().baseUrl, user, data, { parallel: true, uploadVia: 'service' });
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
    assert.equal(answer.body.sha256, harness.sha256Hex(data));
    assert.equal(s3.count(s3Requests.getObject(fileId)), 0);
  });

  it('hashes parts that went straight to S3 from their hashCtx, part by part', async () => {
    const data = harness.testBytes(3 * PART + 100, 33);
    const { fileId } = await harness.upload(app().baseUrl, user, data, { parallel: true, uploadVia: 's3' });
    const answer = await complete(fileId, harness.sha256Hex(data));
    assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
    assert.equal(answer.body.sha256, harness.sha256Hex(data));
    // one ranged GET per part, none for the whole object
    assert.equal(s3.count(s3Requests.getObject(fileId)), 4);
    assert.equal((await harness.fileRow(fileId)).chainSha256, null);
    await assertCompletedOnce(fileId, data);
  });

  it('refuses a chain with a wrong hashCtx before combining, naming the part, and accepts the part sent again', async () => {
    const data = harness.testBytes(2 * PART + 5, 34);
    const contexts = harness.hashCtxAt(data, PART);
    const created = await harness.call(
      app().baseUrl,
      'create',
      { fileName: `c-${Date.now()}.bin`, length: data.length },
      { token: user.token },
    );
    const fileId = created.body.fileId as string;
    // part 2 claims a state of the right offset but other words: part 1 does not end in it
    const wrong = JSON.parse(Buffer.from(contexts[1]!, 'base64').toString()) as { h: number[] };
    wrong.h[0] = (wrong.h[0]! + 1) >>> 0;
    const multiParts = [
      { partNumber: 1, partSize: PART, hashCtx: contexts[0] },
      { partNumber: 2, partSize: PART, hashCtx: Buffer.from(JSON.stringify(wrong)).toString('base64') },
      { partNumber: 3, partSize: 5, hashCtx: contexts[2] },
    ];
    const urls = await harness.call(
      app().baseUrl,
      'multipart/uploadUrl',
      { fileId, multiParts, uploadVia: 'service' },
      { token: user.token },
    );
    assert.equal(urls.body.code, 0, JSON.stringify(urls.body));
    for (const part of urls.body.multiParts as PartUrl[]) {
      await harness.putPart(part.uploadUrl, data.subarray(part.partOffset, part.partOffset + part.partSize));
    }
    const refused = await complete(fileId);
    assert.equal(refused.body.code, 13000402);
    assert.match(refused.body.msg, /part 2/);
    assert.equal(s3.count(s3Requests.complete(fileId)), 0, 'nothing combined');
    assert.equal((await harness.fileRow(fileId)).status, 'UPLOADING', 'the task stays open');

    // part 2 again, with its true hashCtx
    const again = await harness.call(
      app().baseUrl,
      'multipart/uploadUrl',
      { fileId, multiParts: [{ partNumber: 2, partSize: PART, hashCtx: contexts[1] }], uploadVia: 'service' },
      { token: user.token },
    );
    const [part2] = again.body.multiParts as PartUrl[];
    await harness.putPart(part2!.uploadUrl, data.subarray(PART, 2 * PART));
    const answer = await complete(fileId, harness.sha256Hex(data));
    assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
    assert.equal(s3.count(s3Requests.getObject(fileId)), 0);
    await assertCompletedOnce(fileId, data);
  });

  it('fails a file whose parts, read back, do not continue each other’s hashCtx', async () => {
    const data = harness.testBytes(2 * PART + 64, 35);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, { parallel: true, uploadVia: 's3' });
    // part 2 replaced straight in S3 with other bytes of the same size
    const part2 = (parts as unknown as PartUrl[]).find((p) => p.partNumber === 2)!;
    await harness.putPart(part2.uploadUrl, randomBytes(PART));
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 13000402);
    assert.match(answer.body.msg, /part 3/);
    assert.equal((await harness.fileRow(fileId)).status, 'FAILED');
  });

  it('reads back a part replaced straight in S3 after the service hashed it, and catches the wrong digest', async () => {
    const data = harness.testBytes(2 * PART, 36);
    const { fileId } = await harness.upload(app().baseUrl, user, data, { parallel: true, uploadVia: 'service' });
    // the same part, other bytes, sent to a presigned S3 URL: the recorded state no longer describes it
    const direct = await harness.call(
      app().baseUrl,
      'multipart/uploadUrl',
      { fileId, multiParts: [{ partNumber: 2, partSize: PART, partOffset: PART }], uploadVia: 's3' },
      { token: user.token },
    );
    await harness.putPart((direct.body.multiParts as PartUrl[])[0]!.uploadUrl, randomBytes(PART));
    const answer = await complete(fileId, harness.sha256Hex(data));
    assert.equal(answer.body.code, 13000402);
    assert.ok(s3.count(s3Requests.getObject(fileId)) > 0, 'read back');
    assert.equal((await harness.fileRow(fileId)).status, 'FAILED');
  });

  it('refuses a forged or tampered part URL and a body of the wrong size, storing nothing', async () => {
    const data = harness.testBytes(PART + 10, 37);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      uploadVia: 'service',
      skipParts: [1, 2],
    });
    const part1 = (parts as unknown as PartUrl[])[0]!;
    const bytes = data.subarray(0, PART);
    const url = new URL(part1.uploadUrl);

    const forged = new URL(url);
    forged.searchParams.set('signature', 'ab'.repeat(32));
    const forgedAnswer = await rawPut(forged.toString(), bytes);
    assert.equal(forgedAnswer.status, 400);
    assert.equal((JSON.parse(forgedAnswer.text) as { code: number }).code, 13000410);

    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    assert.equal((await rawPut(later.toString(), bytes)).status, 400);

    const otherPart = new URL(url.toString().replace(`/${fileId}/1?`, `/${fileId}/2?`));
    assert.equal((await rawPut(otherPart.toString(), data.subarray(PART))).status, 400);

    const short = await rawPut(part1.uploadUrl, bytes.subarray(0, PART - 1));
    assert.equal(short.status, 400);
    assert.equal((JSON.parse(short.text) as { code: number }).code, 13000102);

    const rows = await partsOf(fileId);
    assert.ok(
      rows.every((row) => row.uploadedEtag === null),
      'no part recorded',
    );
    const missing = await complete(fileId);
    assert.equal(missing.body.code, 13000402);
    assert.match(missing.body.msg, /missing parts: 1/);

    // the untouched URL still works, with any content type but JSON
    const ok = await rawPut(part1.uploadUrl, bytes, { 'content-type': 'application/octet-stream' });
    assert.equal(ok.status, 200, ok.text);
    const stored = JSON.parse(ok.text) as { code: number; etag: string; size: number };
    assert.equal(stored.code, 0);
    assert.equal(stored.size, PART);
    assert.match(stored.etag, /^"?[0-9a-f]{32}"?$/);
  });

  it('still answers a non-JSON body on the JSON endpoints with 13000101', async () => {
    const answer = await harness.call(app().baseUrl, 'create', undefined, {
      token: user.token,
      headers: { 'content-type': 'application/octet-stream' },
      rawBody: 'x'.repeat(100),
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.code, 13000101);
  });

  it('keeps nothing of a part whose client went away mid-body', async () => {
    const data = harness.testBytes(PART + 10, 38);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      uploadVia: 'service',
      skipParts: [1],
    });
    const part1 = (parts as unknown as PartUrl[])[0]!;
    await new Promise<void>((resolve) => {
      const req = httpRequest(part1.uploadUrl, { method: 'PUT', headers: { 'content-length': String(PART) } });
      req.on('error', () => resolve());
      req.write(data.subarray(0, MIB), () => setTimeout(() => req.destroy(), 200));
      req.on('close', () => resolve());
    });
    // the service has let the PUT go (its lease ended) and kept nothing of it
    const [part] = await harness.until('the PUT is settled', async () => {
      const rows = await partsOf(fileId);
      return rows[0]!.putSeq === 1 && rows[0]!.putLeaseUntil === null ? rows : undefined;
    });
    assert.equal(part!.uploadedEtag, null);
    assert.equal(part!.viaServiceOnly, false, 'bytes may have reached storage: the part is read back');
    const answer = await complete(fileId);
    assert.equal(answer.body.code, 13000402);
    assert.match(answer.body.msg, /missing parts: 1/);
  });
});
