import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sessionKey } from '../../libs/auth/src/session-key.ts';
import { closeTestRedis, testRedis } from '../support/harness.ts';

const run = promisify(execFile);

describe('npm run token', () => {
  after(() => closeTestRedis());

  it('writes a session under the SHA-256 of a fresh token, with a 1200 s TTL', async () => {
    const { stdout } = await run(process.execPath, [
      'tools/token.ts',
      '--user',
      'op-1',
      '--container',
      'c-9',
      '--scopes',
      'file.upload,file.read',
    ]);
    const token = stdout.trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const key = sessionKey(token);
    assert.deepEqual(JSON.parse((await testRedis().get(key))!), {
      userId: 'op-1',
      containerId: 'c-9',
      scopes: ['file.upload', 'file.read'],
    });
    const ttl = await testRedis().ttl(key);
    assert.ok(ttl > 1190 && ttl <= 1200, `ttl ${ttl}`);
    assert.equal(await testRedis().exists(`koodrive:session:${token}`), 0);
  });

  it('refuses to run without --user', async () => {
    await assert.rejects(run(process.execPath, ['tools/token.ts']), (error: { code?: number }) => error.code === 2);
  });
});
