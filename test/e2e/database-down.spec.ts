// The database unreachable: HTTP 503 / 13000201 with Retry-After, never a 500 or a hang.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadPort } from '../support/dead-port.ts';

process.env.DATABASE_URL = `postgresql://postgres@127.0.0.1:${await deadPort()}/koodrive_test`;

const harness = await import('../support/harness.ts');

describe('database down', () => {
  const app = harness.useTestApp();

  it('answers 503 / 13000201 with Retry-After on every endpoint', async () => {
    const user = await harness.newUser();
    for (const [path, body] of [
      ['create', { fileName: 'db-down.bin', length: 10 }],
      ['multipart/uploadUrl', { fileId: 'FiSome', multiParts: [{ partNumber: 1, partSize: 10 }] }],
      ['complete', { fileId: 'FiSome' }],
    ] as const) {
      const answer = await harness.call(app().baseUrl, path, body, { token: user.token });
      assert.equal(answer.status, 503, path);
      assert.equal(answer.body.code, 13000201, path);
      assert.equal(answer.headers.get('retry-after'), '5', path);
    }
  });
});
