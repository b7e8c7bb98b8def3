// Shared folders (API.md, "Scopes and shared folders"): x-hw-share-folder-id puts a file in a
// folder the session grants file.upload in, and only its creator reaches it, with the same header.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { sessionKey } from '@koodrive/protocol';
import {
  call,
  fileRow,
  newUser,
  putPart,
  sha256Hex,
  testBytes,
  testDb,
  testRedis,
  useTestApp,
} from '../support/harness.ts';

const SHARED = 'sf-upload';
const READ_ONLY = 'sf-read';

describe('shared folders', () => {
  const app = useTestApp();
  const sharedContainer = `c-shared-${randomUUID()}`;
  const grants = {
    sharedFolders: [
      { folderId: SHARED, containerId: sharedContainer, scopes: ['file.upload', 'file.read'] },
      { folderId: READ_ONLY, containerId: sharedContainer, scopes: ['file.read'] },
    ],
  };
  const inFolder = (folder: string) => ({ 'x-hw-share-folder-id': folder });

  it("creates the file in the folder's container and folder, and records the folder", async () => {
    const user = await newUser(undefined, undefined, grants);
    const created = await call(
      app().baseUrl,
      'create',
      { fileName: `s-${randomUUID()}.txt`, length: 3 },
      { token: user.token, headers: inFolder(SHARED) },
    );
    assert.equal(created.body.code, 0, JSON.stringify(created.body));
    assert.equal(created.body.containerId, sharedContainer);
    assert.deepEqual(created.body.parentFolder, [SHARED]);
    const row = await fileRow(created.body.fileId as string);
    assert.equal(row.containerId, sharedContainer);
    assert.equal(row.shareFolderId, SHARED);
    assert.equal(row.parentFolder, SHARED);
  });

  it('answers 13000410 for a folder not granted, or granted without file.upload, and 13000102 for a bad id', async () => {
    const user = await newUser(undefined, undefined, grants);
    for (const folder of [READ_ONLY, 'sf-nobody']) {
      const answer = await call(
        app().baseUrl,
        'create',
        { fileName: 'x.txt', length: 1 },
        { token: user.token, headers: inFolder(folder) },
      );
      assert.equal(answer.status, 400, folder);
      assert.equal(answer.body.code, 13000410, folder);
    }
    const bad = await call(
      app().baseUrl,
      'create',
      { fileName: 'x.txt', length: 1 },
      { token: user.token, headers: inFolder('a b') },
    );
    assert.equal(bad.body.code, 13000102);
  });

  it('lets only the creator, with the same header, ask URLs for and complete a file made in the folder', async () => {
    const creator = await newUser(undefined, undefined, grants);
    const colleague = await newUser(undefined, undefined, grants);
    const data = testBytes(1000, 71);
    const created = await call(
      app().baseUrl,
      'create',
      { fileName: `s-${randomUUID()}.bin`, length: data.length },
      { token: creator.token, headers: inFolder(SHARED) },
    );
    const fileId = created.body.fileId as string;
    const parts = { fileId, multiParts: [{ partNumber: 1, partSize: data.length, partOffset: 0 }] };
    const notFound = [
      await call(app().baseUrl, 'multipart/uploadUrl', parts, { token: creator.token }),
      await call(app().baseUrl, 'multipart/uploadUrl', parts, { token: colleague.token, headers: inFolder(SHARED) }),
      await call(app().baseUrl, 'complete', { fileId }, { token: creator.token }),
      await call(app().baseUrl, 'complete', { fileId }, { token: colleague.token, headers: inFolder(SHARED) }),
    ];
    for (const answer of notFound) {
      assert.equal(answer.body.code, 13000401, JSON.stringify(answer.body));
    }
    const urls = await call(app().baseUrl, 'multipart/uploadUrl', parts, {
      token: creator.token,
      headers: inFolder(SHARED),
    });
    assert.equal(urls.body.code, 0);
    await putPart((urls.body.multiParts as { uploadUrl: string }[])[0]!.uploadUrl, data);
    const completed = await call(
      app().baseUrl,
      'complete',
      { fileId },
      { token: creator.token, headers: inFolder(SHARED) },
    );
    assert.equal(completed.body.code, 0, JSON.stringify(completed.body));
    assert.equal(completed.body.sha256, sha256Hex(data));
  });

  it("keeps a file of the user's own space out of reach under a shared folder's header", async () => {
    const user = await newUser(undefined, undefined, grants);
    const created = await call(
      app().baseUrl,
      'create',
      { fileName: `o-${randomUUID()}.txt`, length: 3 },
      { token: user.token },
    );
    const answer = await call(
      app().baseUrl,
      'complete',
      { fileId: created.body.fileId },
      { token: user.token, headers: inFolder(SHARED) },
    );
    assert.equal(answer.body.code, 13000401);
  });

  // The review's finding (issue 23): a parentFolder of the owner's own was taken as given, so a user
  // granted one folder created files anywhere in the owner's container and learned the names there.
  it("keeps parentFolder inside the shared folder: root or the folder's id, any other folder 13000410 telling nothing", async () => {
    const ownerRecord = { sharedFolders: [] };
    const owner = await newUser(undefined, undefined, ownerRecord);
    // the owner's own session acts in its container: the shared folder's
    const ownerSession = { ...owner, containerId: sharedContainer };
    await testRedis().set(
      sessionKey(owner.token),
      JSON.stringify({ userId: owner.userId, containerId: sharedContainer, scopes: ['file.upload'] }),
      'EX',
      1200,
    );
    const secretName = `secret-${randomUUID()}.txt`;
    const made = await call(
      app().baseUrl,
      'create',
      { fileName: secretName, length: 3, parentFolder: ['private-1'] },
      { token: ownerSession.token },
    );
    assert.equal(made.body.code, 0, JSON.stringify(made.body));
    const grantee = await newUser(undefined, undefined, grants);
    for (const autoRename of [2, 3, 4]) {
      const answer = await call(
        app().baseUrl,
        'create',
        { fileName: secretName, length: 3, parentFolder: ['private-1'], autoRename },
        { token: grantee.token, headers: inFolder(SHARED) },
      );
      assert.equal(answer.status, 400, `autoRename ${autoRename}`);
      assert.equal(answer.body.code, 13000410, `autoRename ${autoRename}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.fileName, undefined);
    }
    assert.equal(
      await testDb().file.count({ where: { ownerId: grantee.userId } }),
      0,
      'nothing created outside the folder',
    );
    for (const parentFolder of [undefined, ['root'], [SHARED]]) {
      const inside = await call(
        app().baseUrl,
        'create',
        { fileName: secretName, length: 3, ...(parentFolder === undefined ? {} : { parentFolder }) },
        { token: grantee.token, headers: inFolder(SHARED) },
      );
      assert.equal(inside.body.code, 0, JSON.stringify(inside.body));
      assert.deepEqual(inside.body.parentFolder, [SHARED]);
      assert.equal((await fileRow(inside.body.fileId as string)).parentFolder, SHARED);
    }
  });
});
