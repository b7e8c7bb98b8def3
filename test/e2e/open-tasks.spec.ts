// Open upload tasks per user (API.md, "Rate limit"; issue 23, finding 5): a user holds at most
// MAX_OPEN_UPLOADS_PER_USER open tasks (each with a multipart upload in storage, 7 days by default);
// the next create is 429/13000903 with Retry-After, however many are sent at once. A task stops
// counting once it completes, fails or expires.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  apiCall,
  call,
  newUser,
  sha256Hex,
  testBytes,
  testDb,
  type TestUser,
  upload,
  useTestApp,
} from '../support/harness.ts';

const MAX_OPEN = 3;

describe('open upload tasks per user', () => {
  const app = useTestApp({ MAX_OPEN_UPLOADS_PER_USER: String(MAX_OPEN), RATE_LIMIT_REQUESTS: '0' });
  const create = (user: TestUser, extra: object = {}) =>
    call(app().baseUrl, 'create', { fileName: `o-${randomUUID()}.bin`, length: 10, ...extra }, { token: user.token });

  it('answers 429/13000903 with Retry-After past MAX_OPEN_UPLOADS_PER_USER, and again once one closes', async () => {
    const user = await newUser();
    const data = testBytes(10, 81);
    const first = await upload(app().baseUrl, user, data);
    for (let i = 1; i < MAX_OPEN; i++) {
      assert.equal((await create(user)).body.code, 0, `task ${i + 1}`);
    }
    const over = await create(user);
    assert.equal(over.status, 429);
    assert.equal(over.body.code, 13000903);
    assert.equal(over.headers.get('retry-after'), '60');
    assert.equal(await testDb().file.count({ where: { ownerId: user.userId } }), MAX_OPEN, 'nothing made past the cap');
    assert.equal((await create(await newUser())).body.code, 0, 'another user is not held back');

    assert.equal((await call(app().baseUrl, 'complete', { fileId: first.fileId }, { token: user.token })).body.code, 0);
    assert.equal((await create(user)).body.code, 0, 'a completed task no longer counts');
    const open = await testDb().file.findFirstOrThrow({ where: { ownerId: user.userId, status: 'UPLOADING' } });
    await testDb().file.update({ where: { id: open.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    assert.equal((await create(user)).body.code, 0, 'nor does an expired one');
    assert.equal((await create(user)).body.code, 13000903);
  });

  it('admits exactly MAX_OPEN_UPLOADS_PER_USER of many concurrent creates', async () => {
    const user = await newUser();
    const answers = await Promise.all(Array.from({ length: 10 }, () => create(user)));
    const codes = answers.map((answer) => answer.body.code);
    assert.equal(codes.filter((code) => code === 0).length, MAX_OPEN, JSON.stringify(codes));
    assert.equal(codes.filter((code) => code === 13000903).length, 10 - MAX_OPEN, JSON.stringify(codes));
    assert.equal(await testDb().file.count({ where: { ownerId: user.userId } }), MAX_OPEN);
  });

  it('still answers a flash upload of content the container holds: it opens no task', async () => {
    const user = await newUser();
    const data = testBytes(10, 82);
    const { fileId } = await upload(app().baseUrl, user, data);
    assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
    for (let i = 0; i < MAX_OPEN; i++) {
      assert.equal((await create(user)).body.code, 0);
    }
    const flash = await create(user, { sha256: sha256Hex(data) });
    assert.equal(flash.body.code, 0, JSON.stringify(flash.body));
    assert.equal(flash.body.rapidUpload, true);
  });
  it('counts a pending version as an open task; a createRevision that supersedes one takes its place', async () => {
    const user = await newUser();
    const data = testBytes(10, 83);
    const { fileId } = await upload(app().baseUrl, user, data);
    assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
    const createRevision = () =>
      apiCall(
        app().baseUrl,
        'revision/createRevision',
        { fileId, containerId: user.containerId, length: 10 },
        { token: user.token },
      );
    for (let i = 1; i < MAX_OPEN; i++) {
      assert.equal((await create(user)).body.code, 0, `task ${i}`);
    }
    assert.equal((await createRevision()).body.code, 0, 'the version: task 3');
    assert.equal((await create(user)).body.code, 13000903, 'the version counts');
    // the older version's place is freed by the statement that supersedes it
    assert.equal((await createRevision()).body.code, 0, "a newer version, in the older one's place");
    assert.equal((await createRevision()).body.code, 0);
    assert.equal((await create(user)).body.code, 13000903);
  });
});
