import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type TestApp,
  type TestUser,
  call,
  closeTestRedis,
  newUser,
  sha256Hex,
  startApp,
  testBytes,
  testRedis,
  upload,
} from '../support/harness.ts';
import { sessionKey } from '@koodrive/protocol';
import { MIB } from '@koodrive/limits';

describe('API contract over HTTP', () => {
  let t: TestApp;
  let user: TestUser;

  before(async () => {
    t = await startApp();
    user = await newUser();
  });

  after(async () => {
    await t.close();
    await closeTestRedis();
  });

  describe('tokens', () => {
    it('answers 401 / 13000901 with WWW-Authenticate for a missing, malformed or unknown token', async () => {
      for (const authorization of [undefined, 'Basic abc', 'Bearer', 'Bearer ', `Bearer ${randomUUID()}`]) {
        const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
        const answer = await call(t.baseUrl, 'complete', { fileId: 'Fiabc' }, { headers });
        assert.equal(answer.status, 401, String(authorization));
        assert.equal(answer.body.code, 13000901);
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      }
    });

    it('answers 13000901 once the session has expired', async () => {
      const expiring = await newUser();
      await testRedis().del(sessionKey(expiring.token));
      const answer = await call(t.baseUrl, 'complete', { fileId: 'Fiabc' }, { token: expiring.token });
      assert.equal(answer.body.code, 13000901);
    });

    it('accepts Bearer+<token> and restarts the 20 minutes on each call', async () => {
      const sliding = await newUser();
      await testRedis().expire(sessionKey(sliding.token), 30);
      const answer = await call(
        t.baseUrl,
        'complete',
        { fileId: 'FiUnknown' },
        { headers: { authorization: `Bearer+${sliding.token}` } },
      );
      assert.equal(answer.body.code, 13000401);
      const ttl = await testRedis().ttl(sessionKey(sliding.token));
      assert.ok(ttl > 1190, `ttl ${ttl}`);
    });

    it('answers 400 / 13000410 without the file.upload scope, as KooDrive does', async () => {
      const reader = await newUser(['file.read']);
      const answer = await call(t.baseUrl, 'create', { fileName: 'a.txt', length: 1 }, { token: reader.token });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, 13000410);
    });
  });

  describe('request shape', () => {
    it('answers 13000101 for malformed JSON, a wrong content type, a non-object body and a body over 64 KiB', async () => {
      const cases: { rawBody: string; headers?: Record<string, string> }[] = [
        { rawBody: '{"fileId":' },
        { rawBody: 'fileId=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        { rawBody: '[1,2]' },
        { rawBody: '"text"' },
        { rawBody: JSON.stringify({ fileId: 'Fiabc', pad: 'x'.repeat(70 * 1024) }) },
      ];
      for (const { rawBody, headers } of cases) {
        const answer = await call(t.baseUrl, 'complete', undefined, { token: user.token, rawBody, headers });
        assert.equal(answer.status, 400, rawBody.slice(0, 30));
        assert.equal(answer.body.code, 13000101, rawBody.slice(0, 30));
        assert.equal(answer.body.msg, 'Request error.');
        assert.ok(answer.headers.get('x-traceid'));
      }
    });

    it('answers 13000102 naming the parameter at fault', async () => {
      const cases: [string, unknown, RegExp][] = [
        ['create', { fileName: 'a/b', length: 1 }, /fileName/],
        ['create', { fileName: '..', length: 1 }, /fileName/],
        ['create', { fileName: 'x'.repeat(251), length: 1 }, /fileName/],
        ['create', { fileName: 'a', length: '5' }, /length/],
        ['create', { fileName: 'a', length: 214748364801 }, /length/],
        ['create', { fileName: 'a', length: 1, sha256: 'xyz' }, /sha256/],
        ['create', { fileName: 'a', length: 1, uploadType: 0 }, /uploadType/],
        ['create', { fileName: 'a', length: 1, autoRename: 1 }, /autoRename/],
        ['create', { fileName: 'a', length: 1, createdTime: '2026-02-30T10:00:00Z' }, /createdTime/],
        ['create', { fileName: 'a', length: 1, description: 'nul\u0000' }, /description/],
        ['complete', { fileId: 'bad id\n' }, /fileId/],
        ['complete', { fileId: 'x'.repeat(10_000) }, /fileId/],
        ['complete', {}, /fileId/],
        ['multipart/uploadUrl', { fileId: 'Fiabc', multiParts: [] }, /multiParts/],
        [
          'multipart/uploadUrl',
          { fileId: 'Fiabc', multiParts: [{ partNumber: 0, partSize: 1 }] },
          /multiParts\[0\]\.partNumber/,
        ],
        [
          'multipart/uploadUrl',
          { fileId: 'Fiabc', multiParts: [{ partNumber: 1, partSize: 6 * 1024 ** 3 }] },
          /partSize/,
        ],
      ];
      for (const [path, body, field] of cases) {
        const answer = await call(t.baseUrl, path, body, { token: user.token });
        assert.equal(answer.status, 400, JSON.stringify(body).slice(0, 60));
        assert.equal(answer.body.code, 13000102, JSON.stringify(body).slice(0, 60));
        assert.match(answer.body.msg, /^Verify parameters failed\. /);
        assert.match(answer.body.msg, field);
      }
    });

    it('checks parts against the file: sizes, offsets, overlaps and hashCtx', async () => {
      const created = await call(
        t.baseUrl,
        'create',
        { fileName: `p-${randomUUID()}`, length: 12 * MIB },
        { token: user.token },
      );
      const fileId = created.body.fileId as string;
      const bad: [unknown[], RegExp][] = [
        [[{ partNumber: 1, partSize: MIB, partOffset: 0 }], /at least 5242880/],
        [[{ partNumber: 2, partSize: 8 * MIB, partOffset: 5 * MIB }], /runs past/],
        [[{ partNumber: 1, partSize: 0, partOffset: 0 }], /only for an empty file/],
        [
          [
            { partNumber: 1, partSize: 5 * MIB, partOffset: 0 },
            { partNumber: 1, partSize: 5 * MIB, partOffset: 0 },
          ],
          /twice/,
        ],
        [
          [
            { partNumber: 1, partSize: 6 * MIB, partOffset: 0 },
            { partNumber: 2, partSize: 5 * MIB, partOffset: 5 * MIB },
          ],
          /overlaps/,
        ],
        [[{ partNumber: 2, partSize: 5 * MIB, partOffset: 5 * MIB, hashCtx: 'not base64!' }], /hashCtx/],
      ];
      for (const [multiParts, detail] of bad) {
        const answer = await call(t.baseUrl, 'multipart/uploadUrl', { fileId, multiParts }, { token: user.token });
        assert.equal(answer.body.code, 13000102, JSON.stringify(multiParts));
        assert.match(answer.body.msg, detail);
      }
      const ok = await call(
        t.baseUrl,
        'multipart/uploadUrl',
        {
          fileId,
          multiParts: [
            { partNumber: 3, partSize: 2 * MIB, partOffset: 10 * MIB },
            { partNumber: 1, partSize: 5 * MIB },
          ],
        },
        { token: user.token },
      );
      assert.equal(ok.body.code, 0);
      const parts = ok.body.multiParts as {
        partNumber: number;
        uploadUrl: string;
        expiresAt: string;
        partId: string;
      }[];
      assert.deepEqual(
        parts.map((p) => p.partNumber),
        [3, 1],
      );
      for (const part of parts) {
        assert.match(part.uploadUrl, /X-Amz-Signature=/);
        assert.doesNotMatch(part.uploadUrl, /x-amz-checksum|x-amz-sdk-checksum/i);
        assert.match(part.uploadUrl, /X-Amz-Expires=3600/);
        assert.ok(Math.abs(Date.parse(part.expiresAt) - Date.now() - 3600_000) < 60_000);
        assert.ok(part.partId.length > 0);
      }
    });

    it('echoes a valid X-Traceid and replaces an invalid one, on success and on error', async () => {
      const valid = 'abcDEF_123-' + 'x'.repeat(47);
      const ok = await call(
        t.baseUrl,
        'complete',
        { fileId: 'FiNope' },
        { token: user.token, headers: { 'x-traceid': valid } },
      );
      assert.equal(ok.headers.get('x-traceid'), valid);
      for (const invalid of ['has space', 'x'.repeat(65), 'ünïcode']) {
        const answer = await call(
          t.baseUrl,
          'complete',
          { fileId: 'FiNope' },
          { headers: { 'x-traceid': encodeURI(invalid) === invalid ? invalid : encodeURI(invalid) } },
        );
        const echoed = answer.headers.get('x-traceid');
        assert.ok(echoed !== null && echoed !== invalid && /^[A-Za-z0-9_-]{1,64}$/.test(echoed));
      }
    });

    it('localizes msg by the language header, code stays the same', async () => {
      for (const language of ['zh-CN', 'zh_cn', 'ZH-cn']) {
        const answer = await call(
          t.baseUrl,
          'complete',
          { fileId: 'FiNope' },
          { token: user.token, headers: { language } },
        );
        assert.equal(answer.body.code, 13000401);
        assert.equal(answer.body.msg, '上传任务不存在。');
      }
      const fallback = await call(
        t.baseUrl,
        'complete',
        { fileId: 'FiNope' },
        { token: user.token, headers: { language: 'fr-FR' } },
      );
      assert.equal(fallback.body.msg, 'Upload task not found.');
    });
  });

  describe('create', () => {
    it('answers the task with an opaque fileId and the multipart uploadId', async () => {
      const name = `c-${randomUUID()}.txt`;
      const answer = await call(
        t.baseUrl,
        'create',
        { fileName: name, length: 10, parentFolder: ['dirA', 'ignored'] },
        { token: user.token },
      );
      assert.equal(answer.status, 200);
      assert.equal(answer.body.code, 0);
      assert.equal(answer.body.msg, 'success.');
      assert.match(answer.body.fileId as string, /^Fi[A-Za-z0-9]{31}$/);
      assert.ok((answer.body.uploadId as string).length > 0);
      assert.equal(answer.body.fileName, name);
      assert.deepEqual(answer.body.parentFolder, ['dirA']);
      assert.equal(answer.body.containerId, user.containerId);
      assert.equal(answer.body.rapidUpload, false);
    });

    it('renames with a timestamp on a clash (autoRename 2) and rejects with 13000405 (autoRename 3)', async () => {
      const name = `dup-${randomUUID()}.txt`;
      const first = await call(t.baseUrl, 'create', { fileName: name, length: 1 }, { token: user.token });
      assert.equal(first.body.fileName, name);
      const renamed = await call(
        t.baseUrl,
        'create',
        { fileName: name, length: 1, autoRename: 2 },
        { token: user.token },
      );
      assert.equal(renamed.body.code, 0);
      assert.match(renamed.body.fileName as string, new RegExp(`^${name.replace('.txt', '')}_\\d{14}\\.txt$`));
      const rejected = await call(
        t.baseUrl,
        'create',
        { fileName: name, length: 1, autoRename: 3 },
        { token: user.token },
      );
      assert.equal(rejected.status, 400);
      assert.equal(rejected.body.code, 13000405);
      const elsewhere = await call(
        t.baseUrl,
        'create',
        { fileName: name, length: 1, autoRename: 3, parentFolder: ['other'] },
        { token: user.token },
      );
      assert.equal(elsewhere.body.code, 0);
    });

    it('gives concurrent creates of one name (autoRename 3) exactly one success', async () => {
      const name = `race-${randomUUID()}`;
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          call(t.baseUrl, 'create', { fileName: name, length: 1, autoRename: 3 }, { token: user.token }),
        ),
      );
      assert.deepEqual(answers.map((a) => a.body.code).sort(), [0, 13000405, 13000405, 13000405, 13000405, 13000405]);
    });

    it('flash-uploads content the container already holds, and reuses a same-name same-digest file (autoRename 4)', async () => {
      const data = testBytes(5 * MIB + 3, 11);
      const digest = sha256Hex(data);
      const name = `flash-${randomUUID()}.bin`;
      const { fileId } = await upload(t.baseUrl, user, data, { sha256: digest, fileName: name });
      assert.equal((await call(t.baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);

      const flash = await call(
        t.baseUrl,
        'create',
        { fileName: `copy-${name}`, length: data.length, sha256: digest },
        { token: user.token },
      );
      assert.equal(flash.body.code, 0);
      assert.equal(flash.body.rapidUpload, true);
      const flashDone = await call(t.baseUrl, 'complete', { fileId: flash.body.fileId }, { token: user.token });
      assert.equal(flashDone.body.code, 0);
      assert.equal(flashDone.body.sha256, digest);

      const reuse = await call(
        t.baseUrl,
        'create',
        { fileName: name, length: data.length, sha256: digest, autoRename: 4 },
        { token: user.token },
      );
      assert.equal(reuse.body.code, 0);
      assert.equal(reuse.body.exist, true);
      assert.equal(reuse.body.fileId, fileId);

      const stranger = await newUser();
      const noFlash = await call(
        t.baseUrl,
        'create',
        { fileName: name, length: data.length, sha256: digest },
        { token: stranger.token },
      );
      assert.equal(noFlash.body.rapidUpload, false);
    });
  });

  describe('state rules', () => {
    it('answers 13000403 when asking part URLs for a completed file', async () => {
      const data = testBytes(5 * MIB, 12);
      const { fileId } = await upload(t.baseUrl, user, data);
      assert.equal((await call(t.baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
      const answer = await call(
        t.baseUrl,
        'multipart/uploadUrl',
        { fileId, multiParts: [{ partNumber: 1, partSize: 5 * MIB }] },
        { token: user.token },
      );
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, 13000403);
    });
  });
});
