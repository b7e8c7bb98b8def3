// A part PUT through the service when storage fails it part way, and when the PUT loses its lease.
// The service writes each part to S3 itself (a presigned UploadPart over node:http,
// libs/storage/src/part-put.ts), so these are its answers to the store answering an error while
// the body is still coming (503 SlowDown, 500, NoSuchUpload), to a store that stops taking bytes,
// and what reaches the store after the PUT's lease is lost: nothing. Two proxies stand between
// the service and RGW: one that answers for it (faults) and one that counts the bytes.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ListPartsCommand } from '@aws-sdk/client-s3';
import { FaultProxy, s3ErrorAnswer, type SeenRequest } from '../../tools/testing/fault-proxy.ts';
import { MIB } from '@koodrive/limits';

const HEAD_END = Buffer.from('\r\n\r\n');

// The body bytes of part PUTs (UploadPart) the service sent toward RGW, counted as they pass.
const partBodyBytes = { total: 0 };
function countPartBodies(): { fromClient(chunk: Buffer): void; fromUpstream(): void } {
  let head = Buffer.alloc(0);
  let counting: boolean | undefined;
  return {
    fromClient(chunk: Buffer) {
      if (counting === undefined) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(HEAD_END);
        if (end === -1) {
          return;
        }
        const requestLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        counting = requestLine.startsWith('PUT ') && requestLine.includes('partNumber=');
        chunk = head.subarray(end + HEAD_END.length);
      }
      if (counting) {
        partBodyBytes.total += chunk.length;
      }
    },
    fromUpstream() {},
  };
}

const real = { s3: process.env.S3_ENDPOINT! };
const counter = await FaultProxy.start(real.s3, { observe: countPartBodies });
const faults = await FaultProxy.start(counter.url(real.s3), { http: true });
const harness = await import('../support/harness.ts');
const { assertCompletedOnce } = await import('../support/promises.ts');
const { testS3 } = await import('../support/s3.ts');

const PART = 5 * MIB;
const LEASE_SECONDS = 3;
const app = harness.useTestApp({
  S3_ENDPOINT: faults.url(counter.url(real.s3)),
  S3_PUBLIC_ENDPOINT: real.s3,
  STORAGE_IDLE_TIMEOUT_MS: '1500',
  PART_PUT_LEASE_SECONDS: String(LEASE_SECONDS),
});

interface PartUrl {
  partNumber: number;
  uploadUrl: string;
}

const isPartPut = (r: SeenRequest): boolean => r.method === 'PUT' && r.path.includes('partNumber=');

// A PUT over node:http: the status, the answer's JSON and its Retry-After.
function put(url: string, body: Buffer): Promise<{ status: number; code: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers: { 'content-length': String(body.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          code: (JSON.parse(text) as { code: number }).code,
          retryAfter: res.headers['retry-after'],
        }),
      );
    });
    // the service may answer (and close) before taking the whole body
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    req.end(body);
  });
}

describe('part PUTs through the service, storage failing them part way', () => {
  let user: Awaited<ReturnType<typeof harness.newUser>>;
  const partsOf = (fileId: string) =>
    harness.testDb().filePart.findMany({ where: { fileId }, orderBy: { partNumber: 'asc' } });
  const complete = (fileId: string) => harness.call(app().baseUrl, 'complete', { fileId }, { token: user.token });
  const storedParts = async (fileId: string): Promise<number[]> => {
    const row = await harness.fileRow(fileId);
    const listed = await testS3().send(
      new ListPartsCommand({ Bucket: process.env.S3_BUCKET!, Key: row.storageKey, UploadId: row.uploadId! }),
    );
    return (listed.Parts ?? []).map((part) => part.PartNumber!);
  };

  before(async () => {
    user = await harness.newUser();
  });
  after(async () => {
    faults.clearFaults();
    faults.thaw();
    await faults.stop();
    await counter.stop();
  });

  it('answers 503 / 13000201 with Retry-After when the store answers 503 SlowDown or 500 mid-body; the part goes again', async () => {
    const data = harness.testBytes(PART + 10, 61);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      uploadVia: 'service',
      skipParts: [1],
    });
    const part1 = (parts as unknown as PartUrl[])[0]!;
    for (const [status, code, message] of [
      [503, 'SlowDown', 'Please reduce your request rate.'],
      [500, 'InternalError', 'We encountered an internal error. Please try again.'],
    ] as const) {
      const sent = faults.count(isPartPut);
      // the proxy answers from the request's head, while the service is still sending the body
      faults.inject(isPartPut, s3ErrorAnswer(status, code, message));
      const answer = await put(part1.uploadUrl, data.subarray(0, PART));
      assert.equal(answer.status, 503, `store ${status} ${code}: ${JSON.stringify(answer)}`);
      assert.equal(answer.code, 13000201);
      assert.equal(answer.retryAfter, '5');
      assert.equal(faults.count(isPartPut), sent + 1, 'not retried: the body is a stream');
      const [row] = await partsOf(fileId);
      assert.equal(row!.uploadedEtag, null, 'nothing recorded');
      assert.equal(row!.putLeaseUntil, null, 'the lease is given up');
    }
    assert.deepEqual(await storedParts(fileId), [2], 'nothing of part 1 stored (part 2 went before)');
    const again = await put(part1.uploadUrl, data.subarray(0, PART));
    assert.equal(again.status, 200);
    const done = await complete(fileId);
    assert.equal(done.body.code, 0, JSON.stringify(done.body));
    await assertCompletedOnce(fileId, data);
  });

  it('answers 13000403 (no longer open for upload) when the store says the multipart upload is gone', async () => {
    const data = harness.testBytes(PART + 10, 62);
    const { parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      uploadVia: 'service',
      skipParts: [1],
    });
    faults.inject(isPartPut, s3ErrorAnswer(404, 'NoSuchUpload', 'The specified upload does not exist.'));
    const answer = await put((parts as unknown as PartUrl[])[0]!.uploadUrl, data.subarray(0, PART));
    assert.equal(answer.status, 400, JSON.stringify(answer));
    assert.equal(answer.code, 13000403);
  });

  it('answers 503 when the store stops taking bytes (frozen), and takes the part once it is back', async () => {
    const data = harness.testBytes(4 * PART, 63);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      partSize: 4 * PART,
      uploadVia: 'service',
      skipParts: [1],
    });
    const part1 = (parts as unknown as PartUrl[])[0]!;
    faults.freeze();
    try {
      const answer = await put(part1.uploadUrl, data);
      assert.equal(answer.status, 503, JSON.stringify(answer));
      assert.equal(answer.code, 13000201);
    } finally {
      faults.thaw();
    }
    assert.equal((await put(part1.uploadUrl, data)).status, 200);
    const done = await complete(fileId);
    assert.equal(done.body.code, 0, JSON.stringify(done.body));
    await assertCompletedOnce(fileId, data);
  });

  it('stops sending the moment its lease is lost: no byte sent after reaches the store, nothing is stored', async () => {
    const data = harness.testBytes(PART + 10, 64);
    const { fileId, parts } = await harness.upload(app().baseUrl, user, data, {
      parallel: true,
      uploadVia: 'service',
      skipParts: [1],
    });
    const part1 = (parts as unknown as PartUrl[])[0]!;
    const before = partBodyBytes.total;
    const req = httpRequest(part1.uploadUrl, { method: 'PUT', headers: { 'content-length': String(PART) } });
    const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
    req.on('error', () => undefined);
    const answered = new Promise<{ status: number; text: string }>((resolve) =>
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      }),
    );
    req.write(data.subarray(0, MIB));
    // the first MiB has gone on to the store
    await harness.until('the first MiB reached the store', () =>
      Promise.resolve(partBodyBytes.total - before >= MIB ? true : undefined),
    );
    // another PUT takes the part over: this one's next renewal is refused
    await harness.testDb().filePart.updateMany({
      where: { fileId, partNumber: 1 },
      data: { putSeq: { increment: 1 } },
    });
    const answer = await answered;
    assert.equal((JSON.parse(answer.text) as { code: number }).code, 13000403, answer.text);
    assert.match(answer.text, /lost its lease/);
    // the rest of the body, sent after the answer, goes nowhere
    req.end(data.subarray(MIB, PART));
    await closed;
    assert.equal(partBodyBytes.total - before, MIB, 'the store got the first MiB and not a byte more');
    assert.deepEqual(await storedParts(fileId), [2], 'nothing of part 1 stored (part 2 went before)');
    const [row] = await partsOf(fileId);
    assert.equal(row!.uploadedEtag, null);
  });
});
