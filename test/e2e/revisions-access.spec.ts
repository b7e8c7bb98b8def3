// New versions of a file under the rules create has (API.md, "New versions of a file": "as in
// create"): who may reach the file (its creator; a shared folder's file only with the same
// x-hw-share-folder-id), the quota a pending version holds until it completes, fails, expires or is
// superseded, and a flash upload of content held in another container only with a valid proofCode.
// On the real stack: the embedded one has no KooDrive quota records and no shared folders.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  call,
  newUser,
  sha256Hex,
  testBytes,
  testDb,
  testRedis,
  type TestUser,
  useTestApp,
} from '../support/harness.ts';
import { completedFile, type PartAnswer, putParts, revisionCall, uploadVersion } from '../support/revisions.ts';

const SHARED = 'sf-revisions';

// proofCode as API.md defines it, computed from the text of the contract, not with the service's code.
function proofCodeFor(authorization: string, bytes: Buffer): string {
  const seed = createHash('sha256').update(authorization, 'latin1').digest('hex');
  const h = createHash('sha256').update(seed, 'ascii').digest();
  const start = Number((h.readBigUInt64BE(24) & ((1n << 63n) - 1n)) % BigInt(bytes.length));
  return createHash('sha256')
    .update(bytes.subarray(start, Math.min(start + 8, bytes.length)))
    .digest('hex');
}

describe('new versions of a file: access, quota, flash upload', () => {
  const app = useTestApp();
  const createRevision = (user: TestUser, body: object, headers: Record<string, string> = {}) =>
    revisionCall(app().baseUrl, 'createRevision', body, { token: user.token, headers });
  const completeRevision = (user: TestUser, fileId: string, headers: Record<string, string> = {}) =>
    revisionCall(app().baseUrl, 'completeRevision', { fileId }, { token: user.token, headers });

  it("answers another user's createRevision, completeRevision and uploadUrl of a file in the owner's own space 13000401", async () => {
    const owner = await newUser();
    const other = await newUser();
    const file = await completedFile(app().baseUrl, owner, testBytes(300, 126));
    const data = testBytes(40, 127);
    await uploadVersion(app().baseUrl, owner, file, data);
    assert.equal((await createRevision(other, { ...file, length: 10 })).body.code, 13000401);
    assert.equal(
      (await createRevision(other, { ...file, containerId: other.containerId, length: 10 })).body.code,
      13000401,
    );
    assert.equal((await completeRevision(other, file.fileId)).body.code, 13000401);
    const urls = await call(
      app().baseUrl,
      'multipart/uploadUrl',
      { fileId: file.fileId, multiParts: [{ partNumber: 1, partSize: 40 }] },
      { token: other.token },
    );
    assert.equal(urls.body.code, 13000401);
    // the owner's pending version is untouched by it
    assert.equal((await completeRevision(owner, file.fileId)).body.code, 0);
  });

  it("versions a shared folder's file only for its creator, acting in that folder, against the folder's container", async () => {
    const sharedContainer = `c-shared-${randomUUID()}`;
    const grants = { sharedFolders: [{ folderId: SHARED, containerId: sharedContainer, scopes: ['file.upload'] }] };
    const creator = await newUser(undefined, undefined, grants);
    const other = await newUser(undefined, undefined, grants);
    const inFolder = { 'x-hw-share-folder-id': SHARED };
    const file = await completedFile(app().baseUrl, creator, testBytes(100, 120), inFolder);
    assert.equal(file.containerId, sharedContainer);
    const data = testBytes(5 * 1024 * 1024 + 3, 121);
    const body = { ...file, length: data.length };

    // not from the creator's own space, nor by another user granted the same folder
    assert.equal((await createRevision(creator, body)).body.code, 13000401);
    assert.equal((await createRevision(other, body, inFolder)).body.code, 13000401);
    const version = await uploadVersion(app().baseUrl, creator, file, data, {
      headers: inFolder,
      urlsFromUploadUrl: true,
    });
    assert.equal(version.created.containerId, sharedContainer);
    const [row] = await testDbRows<{ container_id: string; share_folder_id: string }>(
      'SELECT container_id, share_folder_id FROM files WHERE revision_of = $1',
      [file.fileId],
    );
    assert.deepEqual(row, { container_id: sharedContainer, share_folder_id: SHARED });
    assert.equal((await completeRevision(creator, file.fileId)).body.code, 13000401);
    assert.equal((await completeRevision(other, file.fileId, inFolder)).body.code, 13000401);
    const completed = await completeRevision(creator, file.fileId, inFolder);
    assert.equal(completed.body.code, 0, JSON.stringify(completed.body));
    assert.equal(completed.body.sha256, sha256Hex(data));
  });

  // A user with a completed file (of bytes from `seed`) and a quota record of `limit` bytes, none
  // used, and a create of a new file of `length` bytes for it.
  const withQuota = async (limit: number, seed: number) => {
    const user = await newUser();
    const file = await completedFile(app().baseUrl, user, testBytes(10, seed));
    await testRedis().set(`koodrive:quota:${user.containerId}`, JSON.stringify({ used: 0, limit }));
    const newFile = (length: number) =>
      call(app().baseUrl, 'create', { fileName: `q-${randomUUID()}.bin`, length }, { token: user.token });
    return { user, file, newFile };
  };

  it('holds a pending version against the quota until it completes; a superseded one releases its hold at once', async () => {
    const { user, file, newFile } = await withQuota(150, 122);
    const data = testBytes(100, 123);
    const version = { ...file, length: 100, sha256: sha256Hex(data), uploadMode: 'put' };

    const first = await createRevision(user, version);
    assert.equal(first.body.code, 0, JSON.stringify(first.body));
    // 0 used + 100 held + 51 > 150
    assert.equal((await newFile(51)).body.code, 13000311);
    // the older version's 100 bytes are released by the statement that supersedes it: 0 + 100 <= 150
    const second = await createRevision(user, version);
    assert.equal(second.body.code, 0, JSON.stringify(second.body));
    assert.equal((await newFile(51)).body.code, 13000311, 'the newer version holds its 100');
    await putParts(data, second.body.multiParts as PartAnswer[]);
    assert.equal((await completeRevision(user, file.fileId)).body.code, 0);
    // completed: the hold is gone (KooDrive's accounting counts the bytes as used from the event)
    const after = await newFile(150);
    assert.equal(after.body.code, 0, JSON.stringify(after.body));
    // and a version past the quota opens nothing
    assert.equal((await createRevision(user, { ...file, length: 1 })).body.code, 13000311);
  });

  it("releases a version's hold when it fails (a digest that does not match) and when it expires, before the reaper", async () => {
    const { user, file, newFile } = await withQuota(150, 128);
    const data = testBytes(100, 129);

    // a version whose bytes are not the digest it names: completeRevision fails it
    const failing = await createRevision(user, {
      ...file,
      length: 100,
      sha256: sha256Hex(testBytes(100, 130)),
      uploadMode: 'put',
    });
    assert.equal(failing.body.code, 0, JSON.stringify(failing.body));
    assert.equal((await newFile(51)).body.code, 13000311, 'held while pending');
    await putParts(data, failing.body.multiParts as PartAnswer[]);
    assert.equal((await completeRevision(user, file.fileId)).body.code, 13000402);
    const [failed] = await testDbRows<{ status: string }>(
      'SELECT status FROM files WHERE revision_of = $1 ORDER BY created_at DESC LIMIT 1',
      [file.fileId],
    );
    assert.equal(failed?.status, 'FAILED');
    const whileFailed = await newFile(150);
    assert.equal(whileFailed.body.code, 0, `released once failed: ${JSON.stringify(whileFailed.body)}`);
    await testDb().file.update({
      where: { id: whileFailed.body.fileId as string },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });

    // a version past its expiry, the reaper not yet by: its hold is gone
    const expiring = await createRevision(user, { ...file, length: 100, sha256: sha256Hex(data), uploadMode: 'put' });
    assert.equal(expiring.body.code, 0, JSON.stringify(expiring.body));
    assert.equal((await newFile(51)).body.code, 13000311, 'held while pending');
    const pending = await testDb().$executeRawUnsafe(
      `UPDATE files SET expires_at = now() - interval '1 second' WHERE revision_of = $1 AND status = 'UPLOADING'`,
      file.fileId,
    );
    assert.equal(pending, 1, 'one pending version');
    const [expired] = await testDbRows<{ status: string }>(
      'SELECT status FROM files WHERE revision_of = $1 ORDER BY created_at DESC LIMIT 1',
      [file.fileId],
    );
    assert.equal(expired?.status, 'UPLOADING', 'not reaped yet');
    assert.equal((await newFile(150)).body.code, 0, 'released once expired');
  });

  it('takes a flash upload of content another container holds only with a valid proofCode', async () => {
    const holder = await newUser();
    const held = testBytes(6 * 1024 * 1024, 124);
    await completedFile(app().baseUrl, holder, held);
    const user = await newUser();
    const file = await completedFile(app().baseUrl, user, testBytes(10, 125));
    const body = { ...file, length: held.length, sha256: sha256Hex(held) };

    const unproven = await createRevision(user, { ...body, proofCode: 'ab'.repeat(32) });
    assert.equal(unproven.body.code, 0);
    assert.equal(unproven.body.rapidUpload, false, 'a wrong proof gets an ordinary upload');
    const proven = await createRevision(user, { ...body, proofCode: proofCodeFor(`Bearer ${user.token}`, held) });
    assert.equal(proven.body.code, 0, JSON.stringify(proven.body));
    assert.equal(proven.body.rapidUpload, true);
    const current = await completeRevision(user, file.fileId);
    assert.equal(current.body.revisionId, proven.body.revisionId);
    assert.equal(current.body.sha256, sha256Hex(held));
    // the flash version superseded the ordinary one the wrong proof had opened
    const rows = await testDbRows<{ status: string }>(
      'SELECT status FROM files WHERE revision_of = $1 ORDER BY created_at',
      [file.fileId],
    );
    assert.deepEqual(
      rows.map((row) => row.status),
      ['EXPIRED', 'COMPLETED'],
    );
  });
});

function testDbRows<R>(text: string, values: unknown[]): Promise<R[]> {
  return testDb().$queryRawUnsafe<R[]>(text, ...values);
}
