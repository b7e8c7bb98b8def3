// README and API claims about requests, shown on the real services and read back from the
// database row, RGW and Redis: 13000401 for a task past its expiry that the reaper has not
// reached; complete's sha256 taking precedence over create's; autoRename unset behaving as 2;
// create's metadata stored; an expired part URL (the service's own, and a presigned S3 one)
// refused, with uploadUrl handing out a fresh one; a malformed session record answered 401.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, ListPartsCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SESSION_TTL_SECONDS, sessionKey } from '@koodrive/protocol';
import {
  type TestUser,
  call,
  fileRow,
  newUser,
  putPart,
  sha256Hex,
  testBytes,
  testDb,
  testRedis,
  upload,
  useTestApp,
} from '../support/harness.ts';
import { testS3 } from '../support/s3.ts';

const PART_URL_SECRET = randomBytes(32).toString('hex');

const s3 = testS3();
const app = useTestApp({ PART_URL_SECRET, PART_UPLOAD_VIA: 's3', REAP_INTERVAL_SECONDS: '0' });

interface PartUrl {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number;
  readonly uploadUrl: string;
  readonly uploadVia: string;
  readonly expiresAt: string;
}

// The service's part URL signature, computed here from the scheme of apps/upload/src/parts/part-url.ts.
function partUrlSignature(fileId: string, partNumber: number, expires: number): string {
  return createHmac('sha256', PART_URL_SECRET).update(`PUT\n${fileId}\n${partNumber}\n${expires}`).digest('hex');
}

describe('README claims: expiry, digests, names, metadata, part URLs, session records', () => {
  let user: TestUser;
  const api = (path: string, body: unknown) => call(app().baseUrl, path, body, { token: user.token });

  async function partUrls(fileId: string, size: number, uploadVia: 's3' | 'service'): Promise<PartUrl> {
    const answer = await api('multipart/uploadUrl', {
      fileId,
      multiParts: [{ partNumber: 1, partSize: size, partOffset: 0 }],
      uploadVia,
    });
    assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
    const [part] = answer.body.multiParts as PartUrl[];
    assert.equal(part!.uploadVia, uploadVia);
    return part!;
  }

  before(async () => {
    user = await newUser();
  });
  after(() => s3.destroy());

  it('answers 13000401 for a task past expires_at that the reaper has not reached (REAP off)', async () => {
    const data = testBytes(1000, 501);
    const { fileId } = await upload(app().baseUrl, user, data);
    await testDb().file.update({ where: { id: fileId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const done = await api('complete', { fileId });
    assert.equal(done.status, 400);
    assert.equal(done.body.code, 13000401);
    const urls = await api('multipart/uploadUrl', { fileId, multiParts: [{ partNumber: 1, partSize: 1000 }] });
    assert.equal(urls.body.code, 13000401);
    const row = await fileRow(fileId);
    assert.equal(row.status, 'UPLOADING', 'not reaped');
    assert.equal(row.claim, 0, 'no completion was claimed');
    assert.notEqual(row.uploadId, null);
  });

  it("checks complete's sha256 over create's: a wrong declared digest is overridden, and a wrong requested one fails", async () => {
    const data = testBytes(5000, 502);
    const right = sha256Hex(data);
    const wrong = sha256Hex(Buffer.from('something else'));
    const declaredWrong = await upload(app().baseUrl, user, data, { sha256: wrong });
    const overridden = await api('complete', { fileId: declaredWrong.fileId, sha256: right });
    assert.equal(overridden.body.code, 0, JSON.stringify(overridden.body));
    assert.equal(overridden.body.sha256, right);
    const completed = await fileRow(declaredWrong.fileId);
    assert.equal(completed.status, 'COMPLETED');
    assert.equal(completed.declaredSha256, wrong);
    assert.equal(completed.expectedSha256, right);
    assert.equal(completed.actualSha256, right);

    // other bytes: with this digest the container's completed file would make it a flash upload
    const other = testBytes(5000, 506);
    const declaredRight = await upload(app().baseUrl, user, other, { sha256: sha256Hex(other) });
    const refused = await api('complete', { fileId: declaredRight.fileId, sha256: wrong });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 13000402);
    assert.match(refused.body.msg, /^File integrity verification failed\./);
    const failed = await fileRow(declaredRight.fileId);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.declaredSha256, sha256Hex(other));
    assert.equal(failed.expectedSha256, wrong);
    assert.equal(failed.actualSha256, null);
    await assert.rejects(
      s3.send(new HeadObjectCommand({ Bucket: process.env.S3_BUCKET!, Key: failed.storageKey })),
      (error: Error) => error.name === 'NotFound',
      'the object of a failed file is deleted',
    );
  });

  it('renames a clashing name with a timestamp when autoRename is not given (the default 2)', async () => {
    const name = `clash-${randomUUID()}.txt`;
    const first = await api('create', { fileName: name, length: 1 });
    assert.equal(first.body.fileName, name);
    const second = await api('create', { fileName: name, length: 1 });
    assert.equal(second.status, 200);
    assert.equal(second.body.code, 0);
    const renamed = second.body.fileName as string;
    assert.match(renamed, new RegExp(`^${name.replace('.txt', '')}_\\d{14}\\.txt$`));
    assert.equal((await fileRow(second.body.fileId as string)).fileName, renamed);
    assert.equal((await fileRow(first.body.fileId as string)).fileName, name);
  });

  it("stores create's metadata: fileType as a string, mimeType, description, createdTime, preHash, parentFolder", async () => {
    const head = testBytes(1024, 503);
    const cases = [
      { fileType: 45, createdTime: '2023-08-18 05:43:49', stored: { fileType: '45', at: '2023-08-18T05:43:49.000Z' } },
      {
        fileType: 'document',
        createdTime: '2023-08-18T05:43:49.123Z',
        stored: { fileType: 'document', at: '2023-08-18T05:43:49.123Z' },
      },
    ];
    for (const { fileType, createdTime, stored } of cases) {
      const created = await api('create', {
        fileName: `meta-${randomUUID()}.docx`,
        length: 4096,
        fileType,
        mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        description: 'quarterly report, 第三季度',
        createdTime,
        preHash: sha256Hex(head),
        parentFolder: ['folder-a', 'ignored'],
      });
      assert.equal(created.body.code, 0, JSON.stringify(created.body));
      assert.deepEqual(created.body.parentFolder, ['folder-a']);
      const row = await fileRow(created.body.fileId as string);
      assert.equal(row.fileType, stored.fileType);
      assert.equal(row.mimeType, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
      assert.equal(row.description, 'quarterly report, 第三季度');
      assert.equal(row.clientCreatedAt?.toISOString(), stored.at);
      assert.equal(row.preHash, sha256Hex(head));
      assert.equal(row.parentFolder, 'folder-a');
    }
  });

  it("refuses the service's own part URL once expired (13000410), and uploadUrl gives a fresh one", async () => {
    const data = testBytes(2000, 504);
    const created = await api('create', { fileName: `svc-${randomUUID()}.bin`, length: data.length });
    const fileId = created.body.fileId as string;
    const issued = await partUrls(fileId, data.length, 'service');
    // the scheme as computed here signs exactly what the service signed
    const url = new URL(issued.uploadUrl);
    const issuedExpires = Number(url.searchParams.get('expires'));
    assert.equal(url.searchParams.get('signature'), partUrlSignature(fileId, 1, issuedExpires));
    // the same URL as it was handed out earlier, expired a minute ago (PART_URL_TTL_SECONDS is at least 60)
    const expires = Math.floor(Date.now() / 1000) - 60;
    url.searchParams.set('expires', String(expires));
    url.searchParams.set('signature', partUrlSignature(fileId, 1, expires));
    const refused = await fetch(url, { method: 'PUT', body: data });
    assert.equal(refused.status, 400);
    const body = (await refused.json()) as { code: number; msg: string };
    assert.equal(body.code, 13000410);
    assert.match(body.msg, /expired; ask uploadUrl for a new one/);
    assert.equal((await fileRow(fileId)).status, 'UPLOADING');
    const fresh = await partUrls(fileId, data.length, 'service');
    assert.ok(Date.parse(fresh.expiresAt) > Date.now());
    await putPart(fresh.uploadUrl, data);
    const done = await api('complete', { fileId });
    assert.equal(done.body.code, 0);
    assert.equal((await fileRow(fileId)).actualSha256, sha256Hex(data));
  });

  it('has RGW refuse a presigned part URL whose X-Amz-Expires elapsed, and uploadUrl gives a fresh one', async () => {
    const data = testBytes(3000, 505);
    const created = await api('create', { fileName: `s3-${randomUUID()}.bin`, length: data.length });
    const fileId = created.body.fileId as string;
    const issued = await partUrls(fileId, data.length, 's3');
    const row = await fileRow(fileId);
    const bucket = process.env.S3_BUCKET!;
    // the URL the service would have handed out two minutes ago, valid for 60 s (the service's
    // presigner makes the SDK's URLs byte for byte: libs/storage/src/s3-presigner.spec.ts)
    const signer = new S3Client({
      endpoint: process.env.S3_ENDPOINT,
      region: process.env.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const stale = new URL(
      await getSignedUrl(
        signer,
        new UploadPartCommand({ Bucket: bucket, Key: row.storageKey, UploadId: row.uploadId!, PartNumber: 1 }),
        { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) },
      ),
    );
    const current = new URL(issued.uploadUrl);
    assert.equal(stale.origin + stale.pathname, current.origin + current.pathname);
    assert.deepEqual([...stale.searchParams.keys()].sort(), [...current.searchParams.keys()].sort());
    for (const name of ['partNumber', 'uploadId', 'x-id']) {
      assert.equal(stale.searchParams.get(name), current.searchParams.get(name), name);
    }
    const refused = await fetch(stale, { method: 'PUT', body: data });
    signer.destroy();
    assert.equal(refused.status, 403);
    // expired, not forged: a bad signature is SignatureDoesNotMatch
    assert.match(await refused.text(), /<Code>AccessDenied<\/Code>/);
    const listed = await s3.send(
      new ListPartsCommand({ Bucket: bucket, Key: row.storageKey, UploadId: row.uploadId! }),
    );
    assert.equal(listed.Parts?.length ?? 0, 0, 'nothing stored');
    const fresh = await partUrls(fileId, data.length, 's3');
    assert.ok(Date.parse(fresh.expiresAt) > Date.now());
    await putPart(fresh.uploadUrl, data);
    const done = await api('complete', { fileId });
    assert.equal(done.body.code, 0);
    assert.equal((await fileRow(fileId)).actualSha256, sha256Hex(data));
  });

  it('answers 401 / 13000901, not 500, for a malformed session record', async () => {
    const records = [
      'not json',
      '{"userId":',
      'null',
      '[]',
      '"u-1"',
      JSON.stringify({ userId: 'u-1' }),
      JSON.stringify({ userId: 'u-1', containerId: 'c-1' }),
      JSON.stringify({ userId: 'u-1', containerId: 'c-1', scopes: 'file.upload' }),
      JSON.stringify({ userId: '', containerId: 'c-1', scopes: ['file.upload'] }),
      JSON.stringify({ userId: 42, containerId: 'c-1', scopes: ['file.upload'] }),
    ];
    for (const record of records) {
      const token = randomBytes(24).toString('hex');
      await testRedis().set(sessionKey(token), record, 'EX', SESSION_TTL_SECONDS);
      for (const [path, body] of [
        ['create', { fileName: 'x.bin', length: 1 }],
        ['complete', { fileId: 'FiUnknown' }],
      ] as const) {
        const answer = await call(app().baseUrl, path, body, { token });
        assert.equal(answer.status, 401, `${record} on ${path}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, 13000901, record);
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      }
    }
  });

  // A record of another Redis type (GETEX answers WRONGTYPE) is a malformed record too: no session.
  it('answers 401 / 13000901 for a session key holding another Redis type', async () => {
    const token = randomBytes(24).toString('hex');
    await testRedis().hset(sessionKey(token), 'userId', 'u-1');
    await testRedis().expire(sessionKey(token), SESSION_TTL_SECONDS);
    const answer = await call(app().baseUrl, 'create', { fileName: 'x.bin', length: 1 }, { token });
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.code, 13000901);
  });
});
