// Storage unreachable: HTTP 503 / 13000201 with Retry-After, and nothing recorded.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadPort } from '../support/dead-port.ts';

const liveDatabaseUrl = process.env.DATABASE_URL!;
process.env.S3_ENDPOINT = `http://127.0.0.1:${await deadPort()}`;

const harness = await import('../support/harness.ts');

describe('storage down', () => {
  const app = harness.useTestApp();

  it('answers 503 / 13000201 with Retry-After when storage is unreachable, and creates no file', async () => {
    const user = await harness.newUser();
    const answer = await harness.call(
      app().baseUrl,
      'create',
      { fileName: 'down.bin', length: 10 },
      { token: user.token },
    );
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 13000201);
    assert.equal(answer.body.msg, 'Internal calling error.');
    assert.equal(answer.headers.get('retry-after'), '5');
    const [{ loadConfig }, { PrismaService }] = await Promise.all([
      import('@koodrive/config'),
      import('@koodrive/database'),
    ]);
    const prisma = new PrismaService(loadConfig(process.env), { url: liveDatabaseUrl, poolSize: 2 });
    try {
      assert.equal(await prisma.file.count({ where: { ownerId: user.userId } }), 0);
    } finally {
      await prisma.close();
    }
  });

  it('says which dependency is down on /readyz', async () => {
    const response = await fetch(`${app().baseUrl}/readyz`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), {
      status: 'unavailable',
      checks: { database: 'ok', redis: 'ok', storage: 'unavailable' },
    });
  });
});
