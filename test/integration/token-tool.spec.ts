import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sessionKey } from '@koodrive/protocol';
import { closeTestRedis, testRedis } from '../support/harness.ts';

const run = promisify(execFile);
// as npm run token runs it
const FROM_SOURCE = ['--import', './tools/register-sources.mjs'];

describe('npm run token', () => {
  after(() => closeTestRedis());

  it('writes a session under the SHA-256 of a fresh token, with a 1200 s TTL', async () => {
    const { stdout } = await run(process.execPath, [
      ...FROM_SOURCE,
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

  it('--app prints a credential pair and the APP_CREDENTIALS entry, and writes the user record asked for', async () => {
    const { stdout } = await run(process.execPath, [
      ...FROM_SOURCE,
      'tools/token.ts',
      '--app',
      'app-7',
      '--user',
      'op-2',
      '--container',
      'c-2',
    ]);
    const secret = /^AppSecret: ([A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];
    assert.ok(secret !== undefined, stdout);
    assert.match(stdout, /^AppId: app-7$/m);
    const entry = stdout.split('\n').find((line) => line.startsWith('"app-7": '));
    assert.deepEqual(JSON.parse(`{${entry!}}`), { 'app-7': { secret, scopes: ['file.upload'] } });
    assert.deepEqual(JSON.parse((await testRedis().get('koodrive:user:op-2'))!), { containerId: 'c-2' });
  });

  it('refuses to run without --user or --app', async () => {
    await assert.rejects(
      run(process.execPath, [...FROM_SOURCE, 'tools/token.ts']),
      (error: { code?: number }) => error.code === 2,
    );
  });
});
