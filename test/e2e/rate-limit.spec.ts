// A flood from one user: 429 / 13000903 with Retry-After once over the limit; other users unaffected.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { MIB } from '@koodrive/limits';

process.env.RATE_LIMIT_REQUESTS = '5';
process.env.RATE_LIMIT_WINDOW_SECONDS = '30';

const harness = await import('../support/harness.ts');

describe('per-user rate limit', () => {
  const app = harness.useTestApp();

  it('answers 429 / 13000903 with Retry-After past the limit, and leaves other users alone', async () => {
    const flooder = await harness.newUser();
    const other = await harness.newUser();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token: flooder.token }),
      ),
    );
    const codes = answers.map((a) => a.body.code).sort();
    assert.deepEqual(codes, [13000401, 13000401, 13000401, 13000401, 13000401, 13000903, 13000903, 13000903]);
    const limited = answers.find((a) => a.body.code === 13000903)!;
    assert.equal(limited.status, 429);
    assert.equal(limited.body.msg, 'Too many requests.');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `retry-after ${retryAfter}`);
    assert.ok(limited.headers.get('x-traceid'));

    const calm = await harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token: other.token });
    assert.equal(calm.body.code, 13000401);
  });

  it('does not count requests without a valid token against anyone', async () => {
    const user = await harness.newUser();
    // bad tokens, and the user's own token misspelt: none of them is the user's, none counts
    for (const token of ['not-a-session', `${user.token}x`, '']) {
      const answer = await harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token });
      assert.equal(answer.body.code, 13000901);
    }
    assert.equal(await harness.testRedis().get(`koodrive:ratelimit:${user.userId}`), null, 'no window opened');
    // the user still has the whole limit (5) to spend
    for (let i = 0; i < 5; i++) {
      const answer = await harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token: user.token });
      assert.equal(answer.body.code, 13000401, `request ${i + 1}`);
    }
    const sixth = await harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token: user.token });
    assert.equal(sixth.body.code, 13000903);
  });

  // The review's finding (issue 23): the limit counted requests, not their size, so one user could
  // ask for hundreds of CPU-seconds a minute in 10,000-part requests. A create or uploadUrl that
  // lists parts weighs 1 + ceil(parts / 100) units of the same budget.
  it('weighs a create by the parts it lists: 1 + ceil(parts / 100) units', async () => {
    const user = await harness.newUser();
    const parts = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ partNumber: i + 1, partSize: 5 * MIB, partOffset: i * 5 * MIB }));
    const create = (n: number) =>
      harness.call(
        app().baseUrl,
        'create',
        {
          fileName: `w-${randomUUID()}.bin`,
          length: 200 * 5 * MIB,
          ...(n === 0 ? {} : { multiParts: parts(n) }),
        },
        { token: user.token },
      );
    const spent = async () => Number(await harness.testRedis().get(`koodrive:ratelimit:${user.userId}`));
    assert.equal((await create(0)).body.code, 0);
    assert.equal(await spent(), 1, 'no parts listed: 1 unit');
    assert.equal((await create(100)).body.code, 0);
    assert.equal(await spent(), 3, '100 parts: 2 units');
    const over = await create(101);
    assert.equal(over.body.code, 13000903, '101 parts: 3 more units, 6 of 5');
    assert.equal(await spent(), 6);
    assert.equal(
      (await harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token: user.token })).body.code,
      13000903,
    );
  });
  it('weighs a createRevision as a create: 1 + ceil(parts / 100) units, counted before the file is looked at', async () => {
    const user = await harness.newUser();
    const createRevision = (n: number) =>
      harness.apiCall(
        app().baseUrl,
        'revision/createRevision',
        {
          fileId: 'FiNope',
          containerId: user.containerId,
          length: 200 * 5 * MIB,
          ...(n === 0
            ? {}
            : {
                multiParts: Array.from({ length: n }, (_, i) => ({
                  partNumber: i + 1,
                  partSize: 5 * MIB,
                  partOffset: i * 5 * MIB,
                })),
              }),
        },
        { token: user.token },
      );
    const spent = async () => Number(await harness.testRedis().get(`koodrive:ratelimit:${user.userId}`));
    assert.equal((await createRevision(100)).body.code, 13000401);
    assert.equal(await spent(), 2, '100 parts: 2 units');
    assert.equal((await createRevision(101)).body.code, 13000401);
    assert.equal(await spent(), 5, '101 parts: 3 units');
    assert.equal((await createRevision(0)).body.code, 13000903, '1 more unit, 6 of 5');
  });
});
