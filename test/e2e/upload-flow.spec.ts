import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import { testS3 } from '../support/s3.ts';
import {
  type TestApp,
  type TestUser,
  call,
  closeTestRedis,
  newUser,
  putPart,
  sha256Hex,
  startApp,
  testBytes,
  fileRow,
  upload,
} from '../support/harness.ts';
import { MIB } from '@koodrive/limits';

const s3 = testS3();

async function objectSize(key: string): Promise<number | null> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: process.env.S3_BUCKET, Key: key }));
    return head.ContentLength ?? null;
  } catch {
    return null;
  }
}

function storageKey(user: TestUser, fileId: string): string {
  return `${process.env.S3_KEY_PREFIX!}${encodeURIComponent(user.containerId)}/${fileId}`;
}

describe('upload flow over HTTP', () => {
  let t: TestApp;
  let user: TestUser;

  before(async () => {
    t = await startApp();
    user = await newUser();
  });

  after(async () => {
    await t.close();
    await closeTestRedis();
    s3.destroy();
  });

  it('uploads parts through presigned URLs and completes with the verified digest', async () => {
    const data = testBytes(11 * MIB + 123);
    const digest = sha256Hex(data);
    const { fileId } = await upload(t.baseUrl, user, data, { sha256: digest });
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(done.status, 200);
    assert.deepEqual(done.body, { code: 0, msg: 'success.', fileId, sha256: digest, length: data.length });
    assert.equal(await objectSize(storageKey(user, fileId)), data.length);
  });

  it('answers a repeated complete with the recorded result, and 13000402 for another digest', async () => {
    const data = testBytes(6 * MIB, 2);
    const { fileId } = await upload(t.baseUrl, user, data);
    const first = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(first.body.code, 0);
    assert.equal(first.body.sha256, sha256Hex(data));
    const again = await call(
      t.baseUrl,
      'complete',
      { fileId, sha256: sha256Hex(data).toUpperCase() },
      { token: user.token },
    );
    assert.deepEqual(again.body, first.body);
    const other = await call(t.baseUrl, 'complete', { fileId, sha256: 'a'.repeat(64) }, { token: user.token });
    assert.equal(other.status, 400);
    assert.equal(other.body.code, 13000402);
    assert.match(other.body.msg, /^File integrity verification failed\./);
  });

  it('fails a wrong digest for good: 13000402, object deleted, no second chance', async () => {
    const data = testBytes(5 * MIB + 7, 3);
    const { fileId } = await upload(t.baseUrl, user, data, { sha256: 'b'.repeat(64) });
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(done.body.code, 13000402);
    assert.match(done.body.msg, /^File integrity verification failed\./);
    assert.equal(await objectSize(storageKey(user, fileId)), null);
    const retry = await call(t.baseUrl, 'complete', { fileId, sha256: sha256Hex(data) }, { token: user.token });
    assert.equal(retry.body.code, 13000402);
    assert.match(retry.body.msg, /^File integrity verification failed\./);
  });

  it('names a missing part, keeps the task open, and completes once the part is uploaded', async () => {
    const data = testBytes(15 * MIB + 1, 4);
    const { fileId, parts } = await upload(t.baseUrl, user, data, { skipParts: [2] });
    const incomplete = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(incomplete.body.code, 13000402);
    assert.equal(incomplete.body.msg, 'File upload incomplete. missing parts: 2');
    await putPart(parts[1]!.uploadUrl, data.subarray(5 * MIB, 10 * MIB));
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(done.body.code, 0);
    assert.equal(done.body.sha256, sha256Hex(data));
  });

  it('names parts whose sizes do not add up to the length', async () => {
    const data = testBytes(6 * MIB, 5);
    const { fileId, parts } = await upload(t.baseUrl, user, data, { skipParts: [2] });
    await putPart(parts[1]!.uploadUrl, testBytes(10, 6));
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(done.body.code, 13000402);
    assert.match(done.body.msg, /hold 5242890 bytes, the file's length is 6291456/);
  });

  it('completes an empty file from one empty part', async () => {
    const { fileId } = await upload(t.baseUrl, user, Buffer.alloc(0), { sha256: sha256Hex(Buffer.alloc(0)) });
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.deepEqual(done.body, { code: 0, msg: 'success.', fileId, sha256: sha256Hex(Buffer.alloc(0)), length: 0 });
    assert.equal(await objectSize(storageKey(user, fileId)), 0);
  });

  it('does the work of concurrent completes once and gives every caller the same answer', async () => {
    const data = testBytes(8 * MIB, 7);
    const { fileId } = await upload(t.baseUrl, user, data);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => call(t.baseUrl, 'complete', { fileId }, { token: user.token })),
    );
    for (const answer of answers) {
      assert.deepEqual(answer.body, { code: 0, msg: 'success.', fileId, sha256: sha256Hex(data), length: data.length });
    }
    const row = await fileRow(fileId);
    // one claim: the work was done once
    assert.equal(row.claim, 1);
    assert.equal(row.status, 'COMPLETED');
  });

  it("treats another user's fileId exactly as an unknown one (13000401)", async () => {
    const data = testBytes(5 * MIB, 8);
    const { fileId } = await upload(t.baseUrl, user, data);
    const intruder = await newUser();
    const steal = await call(t.baseUrl, 'complete', { fileId }, { token: intruder.token });
    const unknown = await call(t.baseUrl, 'complete', { fileId: 'FiDoesNotExist' }, { token: intruder.token });
    assert.equal(steal.body.code, 13000401);
    assert.deepEqual(steal.body, unknown.body);
    assert.equal(steal.status, unknown.status);
    const urls = await call(
      t.baseUrl,
      'multipart/uploadUrl',
      { fileId, multiParts: [{ partNumber: 1, partSize: 5 * MIB }] },
      { token: intruder.token },
    );
    assert.equal(urls.body.code, 13000401);
    const own = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(own.body.code, 0);
  });

  it('answers 13000401 when the storage purged the parts, and never success afterwards', async () => {
    const data = testBytes(5 * MIB, 13);
    const { fileId } = await upload(t.baseUrl, user, data);
    const key = storageKey(user, fileId);
    const uploadId = await uploadIdOf(fileId);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: process.env.S3_BUCKET, Key: key, UploadId: uploadId }));
    for (let i = 0; i < 2; i++) {
      const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
      assert.equal(done.body.code, 13000401);
    }
  });

  it('recognises its own object when an earlier attempt combined the parts but did not record it', async () => {
    const data = testBytes(5 * MIB + 99, 14);
    const { fileId } = await upload(t.baseUrl, user, data);
    const key = storageKey(user, fileId);
    const uploadId = await uploadIdOf(fileId);
    const listed = await s3.send(new ListPartsCommand({ Bucket: process.env.S3_BUCKET, Key: key, UploadId: uploadId }));
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: process.env.S3_BUCKET,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: listed.Parts!.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })) },
      }),
    );
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.deepEqual(done.body, { code: 0, msg: 'success.', fileId, sha256: sha256Hex(data), length: data.length });
  });
});

async function uploadIdOf(fileId: string): Promise<string> {
  return (await fileRow(fileId)).uploadId!;
}
